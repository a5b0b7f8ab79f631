//! The pool's limits and prices: the `[mempool]` section of the configuration.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Limits and prices of the pool: the `[mempool]` section of the configuration. Defaults are
/// geth's (`legacypool.DefaultConfig`) where geth has one.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Most executable (pending) transactions in the pool (geth: 4096 + 1024 global slots).
    pub max_pending: usize,
    /// Most non-executable (queued) transactions in the pool (geth: 1024).
    pub max_queued: usize,
    /// Most transactions (pending and queued) of one sender (reth: 16; geth guarantees 16 and
    /// takes more while the whole pool has room). A sender at the limit keeps its lowest
    /// nonces: a lower one displaces its highest queued transaction.
    pub max_per_sender: usize,
    /// Most bytes the pooled transactions may take: their encoded size plus a fixed
    /// per-transaction overhead for the pool's own bookkeeping.
    pub max_bytes: usize,
    /// Largest encoded transaction accepted (geth: 128 KiB).
    pub max_tx_bytes: usize,
    /// Smallest priority fee (tip) per gas accepted, in wei. Zero accepts any: every transaction
    /// still pays the base fee, which bounds spam.
    pub min_tip_wei: u64,
    /// Percentage by which a replacement must raise both the max fee and the max priority fee
    /// (geth: 10).
    pub price_bump_percent: u64,
    /// How long the queued transactions of a sender who submits nothing new stay, in
    /// milliseconds (geth: 3 hours).
    pub queued_lifetime_ms: u64,
    /// Whether transactions signed without a chain id (before EIP-155, replayable on every
    /// chain) are accepted. geth refuses them unless `--rpc.allow-unprotected-txs`; a chain
    /// needs them once, to deploy the deterministic CREATE2 factory.
    pub allow_unprotected_txs: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_pending: 5_120,
            max_queued: 1_024,
            max_per_sender: 16,
            max_bytes: 64 * 1024 * 1024,
            max_tx_bytes: 128 * 1024,
            min_tip_wei: 0,
            price_bump_percent: 10,
            queued_lifetime_ms: 3 * 60 * 60 * 1_000,
            allow_unprotected_txs: false,
        }
    }
}

impl PoolConfig {
    /// How long queued transactions of an idle sender stay.
    pub fn queued_lifetime(&self) -> Duration {
        Duration::from_millis(self.queued_lifetime_ms)
    }
}
