//! The native rollup daemon: configuration, genesis, chain store, mempool, block producer,
//! L1 and bridge followers, JSON-RPC, metrics and health. The `sequencer` binary is a thin
//! `main` over [`node::Node`].
#![warn(missing_docs)]

pub mod batch_trace;
pub mod bridge_follower;
pub mod builder;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod dev_rollup;
pub mod error;
pub mod genesis;
pub mod health;
pub mod l1_follower;
pub mod latest_state;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod relayer;
pub mod rpc;
pub mod store;
