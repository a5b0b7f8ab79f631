//! Integration tests of the sequencer: real node, real HTTP and WebSocket, real SQLite and
//! PostgreSQL (a throwaway server started by the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, unreachable_pub)]

mod anchoring;
mod anvil;
mod batcher_daemon;
mod bridge;
mod calls;
mod chain;
mod connections;
mod dev_l1;
mod following_bridge;
mod mempool;
mod messaging;
mod operations;
mod postgres;
mod producer;
mod restart;
mod rollup;
mod rpc;
mod settlement;
mod simulate;
mod spec;
mod support;
mod trace;
mod txmgr;
mod wallet;
