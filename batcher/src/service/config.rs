//! `batcher run --config FILE`: the standalone batcher's configuration file (docs/batcher.md
//! describes every key).
//!
//! ```toml
//! [batcher]
//! l2_rpc = "http://127.0.0.1:8545"
//! l1_rpc = "http://127.0.0.1:8546"
//! bridge_address = "0x..."
//! key_file = "/run/secrets/proposer.key"   # hex private key; never on the command line
//! database_url = "sqlite://batcher.sqlite"  # or postgres://...
//! metrics_addr = "127.0.0.1:9102"
//! poll_interval_ms = 1000
//! l1_osaka = true
//! max_blobs = 6
//! target_fill = 0.95
//! max_batch_age_ms = 60000
//! gas_budget = 15000000
//! data = "auto"                             # auto, blobs or calldata
//! anchor_record_age_blocks = 4096           # record anchors this old in the bridge
//! beacon_url = "http://127.0.0.1:8546"      # where blobs are read back (default: l1_rpc)
//!
//! [txmgr]                                   # docs/txmgr.md
//! confirmations = 10
//! ```

use super::{
    BatcherConfig,
    anchors::{DEFAULT_RECORD_AGE_BLOCKS, MAX_RECORD_AGE_BLOCKS},
    policy::{BatchPolicy, DataPolicy},
};
use crate::{bridge::SettlementMode, txmgr::TxManagerConfig};
use alloy_primitives::Address;
use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use trace_builder::precompile::ExecuteGas;
use url::Url;

/// The file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatcherFile {
    /// `[batcher]`.
    pub batcher: BatcherSection,
    /// `[txmgr]`.
    #[serde(default)]
    pub txmgr: TxManagerConfig,
}

/// `[batcher]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatcherSection {
    /// The L2 node's JSON-RPC.
    pub l2_rpc: Url,
    /// The L1's JSON-RPC.
    pub l1_rpc: Url,
    /// The bridge's address.
    pub bridge_address: Address,
    /// A file holding the proposer's private key (hex).
    pub key_file: PathBuf,
    /// The state database: `sqlite://PATH` or `postgres://...`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Where `/metrics` is served (none if absent).
    #[serde(default)]
    pub metrics_addr: Option<SocketAddr>,
    /// How often it looks for new blocks.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Whether the L1 runs Osaka (cell proofs).
    #[serde(default = "default_true")]
    pub l1_osaka: bool,
    /// The most blobs a batch fills.
    #[serde(default = "default_max_blobs")]
    pub max_blobs: usize,
    /// The fill at which a batch closes.
    #[serde(default = "default_target_fill")]
    pub target_fill: f64,
    /// The age at which a batch closes.
    #[serde(default = "default_max_batch_age_ms")]
    pub max_batch_age_ms: u64,
    /// EXECUTE's charge (plus the bridge's allowance) stays under this.
    #[serde(default = "default_gas_budget")]
    pub gas_budget: u64,
    /// The data path.
    #[serde(default)]
    pub data: DataPolicy,
    /// Anchors of blocks past the bridge's tip are recorded in the bridge once they are this
    /// many L1 blocks old (at most 8,063; on an L1 without EIP-2935, under 256).
    #[serde(default = "default_anchor_record_age_blocks")]
    pub anchor_record_age_blocks: u64,
    /// The Beacon API blob batches are read back from (default: `l1_rpc`, where the dev L1
    /// and Anvil serve it).
    #[serde(default)]
    pub beacon_url: Option<Url>,
}

fn default_database_url() -> String {
    "sqlite://batcher.sqlite".to_owned()
}
fn default_poll_interval_ms() -> u64 {
    1_000
}
fn default_true() -> bool {
    true
}
fn default_max_blobs() -> usize {
    6
}
fn default_target_fill() -> f64 {
    0.95
}
fn default_max_batch_age_ms() -> u64 {
    60_000
}
fn default_gas_budget() -> u64 {
    15_000_000
}
fn default_anchor_record_age_blocks() -> u64 {
    DEFAULT_RECORD_AGE_BLOCKS
}

/// A key with a value the batcher cannot run with.
#[derive(Debug, thiserror::Error)]
#[error("invalid batcher config key `{key}`: {reason}")]
pub struct InvalidKey {
    /// The dotted key.
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl BatcherFile {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The batcher's configuration, checked.
    pub fn config(&self) -> Result<BatcherConfig, InvalidKey> {
        let section = &self.batcher;
        let invalid = |key, reason: &str| Err(InvalidKey { key, reason: reason.to_owned() });
        if !(1..=6).contains(&section.max_blobs) {
            return invalid("batcher.max_blobs", "must be 1 to 6 (one transaction's blobs)");
        }
        if !(0.0..=1.0).contains(&section.target_fill) {
            return invalid("batcher.target_fill", "must be between 0 and 1");
        }
        if section.gas_budget > 1 << 24 {
            return invalid("batcher.gas_budget", "must be at most 2^24 (EIP-7825's cap on a transaction)");
        }
        if section.poll_interval_ms == 0 {
            return invalid("batcher.poll_interval_ms", "must be at least 1");
        }
        if !(1..=MAX_RECORD_AGE_BLOCKS).contains(&section.anchor_record_age_blocks) {
            return Err(InvalidKey {
                key: "batcher.anchor_record_age_blocks",
                reason: format!("must be 1 to {MAX_RECORD_AGE_BLOCKS} (EIP-2935's window less a margin)"),
            });
        }
        self.txmgr.validate().map_err(|error| InvalidKey { key: "txmgr", reason: error.to_string() })?;
        Ok(BatcherConfig {
            l2_rpc: section.l2_rpc.clone(),
            l1_rpc: section.l1_rpc.clone(),
            bridge: section.bridge_address,
            policy: BatchPolicy {
                max_blobs: section.max_blobs,
                target_fill: section.target_fill,
                max_age: Duration::from_millis(section.max_batch_age_ms),
                gas_budget: section.gas_budget,
                data: section.data,
                execute_gas: ExecuteGas::default(),
                mode: SettlementMode::Native,
            },
            poll_interval: Duration::from_millis(section.poll_interval_ms),
            l1_osaka: section.l1_osaka,
            txmgr: self.txmgr.clone(),
            anchor_record_age_blocks: section.anchor_record_age_blocks,
            beacon_url: section.beacon_url.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_takes_the_defaults_and_bad_keys_are_named() {
        let text = r#"
            [batcher]
            l2_rpc = "http://127.0.0.1:8545"
            l1_rpc = "http://127.0.0.1:8546"
            bridge_address = "0x0000000000000000000000000000000000000b0b"
            key_file = "key"
        "#;
        let config = BatcherFile::parse(text).unwrap().config().unwrap();
        assert_eq!(config.policy.max_blobs, 6);
        assert_eq!(config.policy.max_age, Duration::from_secs(60));
        assert_eq!(config.anchor_record_age_blocks, 4_096);
        assert_eq!(config.beacon_url, None);
        let wrong = text.replace("key_file = \"key\"", "key_file = \"key\"\nmax_blobs = 7");
        let error = BatcherFile::parse(&wrong).unwrap().config().unwrap_err();
        assert_eq!(error.key, "batcher.max_blobs");
        let wrong = text.replace("key_file = \"key\"", "key_file = \"key\"\nanchor_record_age_blocks = 8191");
        let error = BatcherFile::parse(&wrong).unwrap().config().unwrap_err();
        assert_eq!(error.key, "batcher.anchor_record_age_blocks");
        let unknown = text.replace("key_file = \"key\"", "key_file = \"key\"\nmax_blob = 7");
        assert!(BatcherFile::parse(&unknown).unwrap_err().to_string().contains("max_blob"));
    }
}
