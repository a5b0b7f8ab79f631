//! The transaction manager's settings: fee caps, bumps, and how often it looks at the L1.

use super::TxManagerError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The least bump of a replacement's fees that geth, reth and this project's node take (their
/// default `price_bump` of 10%).
pub const MIN_PRICE_BUMP_PERCENT: u64 = 10;

/// The least bump of a blob transaction's replacement, on its execution fees and its blob fee
/// alike: geth's blob pool takes nothing less than double.
pub const MIN_BLOB_PRICE_BUMP_PERCENT: u64 = 100;

const GWEI: u64 = 1_000_000_000;

/// The transaction manager's settings (a `[txmgr]` section of the batcher's configuration).
/// Every default is in [`Default`] and nowhere else; [`TxManagerConfig::validate`] names the
/// key that is out of range.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TxManagerConfig {
    /// The most a transaction offers per gas (its max fee per gas), in wei: a bump past it does
    /// not happen, the manager waits for inclusion or for fees to drop.
    pub max_fee_per_gas_cap_wei: u64,
    /// The most a blob transaction offers per blob gas, in wei, likewise.
    pub max_fee_per_blob_gas_cap_wei: u64,
    /// The least priority fee (tip) per gas offered, in wei, whatever the L1 suggests.
    pub min_tip_wei: u64,
    /// How much a replacement raises both fees of a non-blob transaction, in percent (at least
    /// 10, what nodes take).
    pub price_bump_percent: u64,
    /// How much a replacement raises all three fees of a blob transaction (execution and blob
    /// gas), in percent (at least 100, what geth's blob pool takes).
    pub blob_price_bump_percent: u64,
    /// How long a sent transaction may stay out of a block before its fees are bumped and it is
    /// sent again, in milliseconds.
    pub resubmission_timeout_ms: u64,
    /// How often the manager looks for receipts, the L1 head and reorgs, in milliseconds.
    pub receipt_poll_interval_ms: u64,
    /// How many blocks must be on top of a transaction's block before the send is confirmed
    /// (0: confirmed once included). A reorg of the block before then sends it again.
    pub confirmations: u64,
    /// How long one L1 request may take, in milliseconds.
    pub network_timeout_ms: u64,
    /// How long the manager waits before sending again after the L1 could not be reached, or
    /// refused the transaction for a reason time may fix (insufficient funds, an unknown
    /// refusal), in milliseconds.
    pub retry_delay_ms: u64,
}

impl Default for TxManagerConfig {
    fn default() -> Self {
        Self {
            max_fee_per_gas_cap_wei: 500 * GWEI,
            max_fee_per_blob_gas_cap_wei: 500 * GWEI,
            min_tip_wei: GWEI,
            price_bump_percent: MIN_PRICE_BUMP_PERCENT,
            blob_price_bump_percent: MIN_BLOB_PRICE_BUMP_PERCENT,
            resubmission_timeout_ms: 48_000,
            receipt_poll_interval_ms: 2_000,
            confirmations: 10,
            network_timeout_ms: 10_000,
            retry_delay_ms: 10_000,
        }
    }
}

impl TxManagerConfig {
    /// Checks every key once, at start.
    pub fn validate(&self) -> Result<(), TxManagerError> {
        let invalid = |key, reason: String| Err(TxManagerError::Config { key, reason });
        if self.price_bump_percent < MIN_PRICE_BUMP_PERCENT {
            return invalid(
                "price_bump_percent",
                format!("must be at least {MIN_PRICE_BUMP_PERCENT}: nodes refuse smaller replacements"),
            );
        }
        if self.blob_price_bump_percent < MIN_BLOB_PRICE_BUMP_PERCENT {
            return invalid(
                "blob_price_bump_percent",
                format!(
                    "must be at least {MIN_BLOB_PRICE_BUMP_PERCENT}: geth's blob pool refuses smaller replacements"
                ),
            );
        }
        if self.max_fee_per_gas_cap_wei == 0 {
            return invalid("max_fee_per_gas_cap_wei", "must be at least 1".to_owned());
        }
        if self.max_fee_per_blob_gas_cap_wei == 0 {
            return invalid("max_fee_per_blob_gas_cap_wei", "must be at least 1".to_owned());
        }
        if self.min_tip_wei > self.max_fee_per_gas_cap_wei {
            return invalid(
                "min_tip_wei",
                format!("must not exceed max_fee_per_gas_cap_wei ({})", self.max_fee_per_gas_cap_wei),
            );
        }
        for (key, value) in [
            ("resubmission_timeout_ms", self.resubmission_timeout_ms),
            ("receipt_poll_interval_ms", self.receipt_poll_interval_ms),
            ("network_timeout_ms", self.network_timeout_ms),
            ("retry_delay_ms", self.retry_delay_ms),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1".to_owned());
            }
        }
        Ok(())
    }

    /// [`Self::resubmission_timeout_ms`] as a duration.
    pub fn resubmission_timeout(&self) -> Duration {
        Duration::from_millis(self.resubmission_timeout_ms)
    }

    /// [`Self::receipt_poll_interval_ms`] as a duration.
    pub fn receipt_poll_interval(&self) -> Duration {
        Duration::from_millis(self.receipt_poll_interval_ms)
    }

    /// [`Self::network_timeout_ms`] as a duration.
    pub fn network_timeout(&self) -> Duration {
        Duration::from_millis(self.network_timeout_ms)
    }

    /// [`Self::retry_delay_ms`] as a duration.
    pub fn retry_delay(&self) -> Duration {
        Duration::from_millis(self.retry_delay_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_each_bad_key_is_named() {
        TxManagerConfig::default().validate().unwrap_or_else(|error| unreachable!("{error}"));
        type Spoil = fn(&mut TxManagerConfig);
        let cases: [(&str, Spoil); 6] = [
            ("price_bump_percent", |c| c.price_bump_percent = 9),
            ("blob_price_bump_percent", |c| c.blob_price_bump_percent = 50),
            ("max_fee_per_gas_cap_wei", |c| c.max_fee_per_gas_cap_wei = 0),
            ("min_tip_wei", |c| c.min_tip_wei = c.max_fee_per_gas_cap_wei + 1),
            ("receipt_poll_interval_ms", |c| c.receipt_poll_interval_ms = 0),
            ("retry_delay_ms", |c| c.retry_delay_ms = 0),
        ];
        for (key, spoil) in cases {
            let mut config = TxManagerConfig::default();
            spoil(&mut config);
            match config.validate() {
                Err(TxManagerError::Config { key: named, .. }) => assert_eq!(named, key),
                other => unreachable!("{key}: {other:?}"),
            }
        }
    }
}
