//! Integration tests of trace-builder: one binary, one module per component.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, unreachable_pub)]

mod blockchain;
mod cli;
mod execute;
mod fuzz;
mod support;
mod trie;
