//! Integration tests of trace-builder: one binary, one module per component.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, unreachable_pub)]

mod blockchain;
// The ethereum/tests harness is a module of the `trace-builder` command, not of the library:
// the tests compile the same file.
#[path = "../../src/bin/trace-builder/blockchain_test.rs"]
mod blockchain_test;
mod cli;
mod execute;
mod fuzz;
mod support;
mod trie;
