//! The rules a chain runs under: its fork, chain id and fee-market parameters, and the header
//! fields they derive from the parent (base fee, excess blob gas), and what sets an L1 apart
//! from the L2 (blob transactions, EXECUTE). The sequencer's builder and the verifier take the
//! same [`ChainConfig`], so they apply the same formulas; the node in its L1 role runs the same
//! code with another instance.

use crate::precompile::ExecuteSettings;
use alloy_consensus::Header;
use alloy_eips::{
    eip1559::{BaseFeeParams, INITIAL_BASE_FEE},
    eip4844::DATA_GAS_PER_BLOB,
    eip7840::BlobParams,
};
use revm::primitives::hardfork::SpecId;

/// EIP-7934 (Osaka): the largest RLP-encoded block, 10 MiB less a 2 MiB safety margin.
pub const MAX_RLP_BLOCK_SIZE: usize = 10 * 1024 * 1024 - 2 * 1024 * 1024;

/// Chain id, fork and fee-market parameters of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainConfig {
    /// EIP-155 chain id; transactions that name another chain are invalid.
    pub chain_id: u64,
    /// The fork whose rules every block runs under (one fork for the chain's whole life).
    pub spec: SpecId,
    /// EIP-1559 parameters (Ethereum: elasticity 2, max change denominator 8).
    pub base_fee_params: BaseFeeParams,
    /// EIP-4844 / EIP-7840 blob parameters of the fork: target and maximum blobs per block,
    /// blob base fee update fraction, maximum blobs per transaction (EIP-7594), and the EIP-7918
    /// blob base cost.
    pub blob_params: BlobParams,
    /// Whether the chain takes blob (type-3) transactions: an L1 does, the native rollup's L2
    /// does not (docs/architecture.md, "Decisions and their reasons").
    pub blob_transactions: bool,
    /// EXECUTE, where the chain verifies native rollups (the project's dev L1); `None` on the
    /// L2 and on stock Ethereum.
    pub execute: Option<ExecuteSettings>,
}

impl ChainConfig {
    /// The native rollup's L2: Ethereum's own rules at Osaka, the newest fork revm 42
    /// implements completely (Amsterdam is still in development there).
    pub fn l2(chain_id: u64) -> Self {
        Self { blob_transactions: false, ..Self::l1(chain_id, SpecId::OSAKA) }
    }

    /// The dev L1 a native rollup settles on: Ethereum's rules at `spec` with EXECUTE at
    /// `execute`'s address.
    pub fn dev_l1(chain_id: u64, spec: SpecId, execute: ExecuteSettings) -> Self {
        Self { execute: Some(execute), ..Self::l1(chain_id, spec) }
    }

    /// Ethereum's rules at `spec` with mainnet fee parameters and the fork's blob schedule
    /// (Cancun, Prague or Osaka; before Cancun the blob parameters are unused).
    pub fn l1(chain_id: u64, spec: SpecId) -> Self {
        let blob_params = if spec.is_enabled_in(SpecId::OSAKA) {
            BlobParams::osaka()
        } else if spec.is_enabled_in(SpecId::PRAGUE) {
            BlobParams::prague()
        } else {
            BlobParams::cancun()
        };
        Self {
            chain_id,
            spec,
            base_fee_params: BaseFeeParams::ethereum(),
            blob_params,
            blob_transactions: true,
            execute: None,
        }
    }

    /// Whether the executor implements `spec`: Paris (the Merge) to Osaka. Earlier forks need
    /// block rewards and difficulty; Amsterdam is incomplete in revm 42 (EIP-8037 gas
    /// accounting, block access lists, slot numbers).
    pub fn check_supported(&self) -> Result<(), SpecId> {
        if self.spec.is_enabled_in(SpecId::MERGE) && !self.spec.is_enabled_in(SpecId::AMSTERDAM) {
            Ok(())
        } else {
            Err(self.spec)
        }
    }

    /// The base fee of the block after `parent`, by the EIP-1559 formula. A parent without a
    /// base fee (before London) gives the first London block's `INITIAL_BASE_FEE`.
    ///
    /// Never panics: the arithmetic is done in 128 bits and an increase past `u64::MAX`
    /// saturates (such a base fee cannot be paid, so no block could use it anyway).
    pub fn next_base_fee(&self, parent: &Header) -> u64 {
        let Some(parent_base_fee) = parent.base_fee_per_gas else {
            return INITIAL_BASE_FEE;
        };
        let elasticity = self.base_fee_params.elasticity_multiplier;
        let denominator = self.base_fee_params.max_change_denominator;
        let target = u128::from(parent.gas_limit).checked_div(elasticity).unwrap_or_default();
        let used = u128::from(parent.gas_used);
        let base_fee = u128::from(parent_base_fee);
        let divisor = target.saturating_mul(denominator);
        if divisor == 0 || used == target {
            return parent_base_fee;
        }
        let next = if used > target {
            let delta = (base_fee.saturating_mul(used - target) / divisor).max(1);
            base_fee.saturating_add(delta)
        } else {
            let delta = base_fee.saturating_mul(target - used) / divisor;
            base_fee.saturating_sub(delta)
        };
        u64::try_from(next).unwrap_or(u64::MAX)
    }

    /// The excess blob gas of the block after `parent` (EIP-4844, with the EIP-7918 reserve
    /// price from Osaka, whose blob parameters carry a non-zero blob base cost). A parent
    /// without blob fields (before Cancun) counts as zero excess and zero use.
    ///
    /// Never panics: the arithmetic is done in 128 bits and saturates at `u64::MAX`.
    pub fn next_excess_blob_gas(&self, parent: &Header) -> u64 {
        let excess = u128::from(parent.excess_blob_gas.unwrap_or_default());
        let used = u128::from(parent.blob_gas_used.unwrap_or_default());
        let target = u128::from(self.blob_params.target_blob_gas_per_block());
        if excess + used < target {
            return 0;
        }
        let base_fee = u128::from(parent.base_fee_per_gas.unwrap_or_default());
        let blob_base_fee = self.blob_base_fee(parent.excess_blob_gas.unwrap_or_default());
        // EIP-7918: while execution gas prices the blob above its blob fee, the excess only
        // grows (by the share of blob gas above target), so the blob fee catches up.
        let reserve_binds =
            u128::from(self.blob_params.blob_base_cost).checked_mul(base_fee).is_none_or(|reserve| {
                u128::from(DATA_GAS_PER_BLOB)
                    .checked_mul(blob_base_fee)
                    .is_some_and(|blob_price| reserve > blob_price)
            });
        let next = if reserve_binds {
            let max = u128::from(self.blob_params.max_blob_count);
            let above_target = max.saturating_sub(u128::from(self.blob_params.target_blob_count));
            excess + used.saturating_mul(above_target).checked_div(max).unwrap_or_default()
        } else {
            excess + used - target
        };
        u64::try_from(next).unwrap_or(u64::MAX)
    }

    /// The blob base fee (wei per blob gas) of a block with `excess_blob_gas`. Computed with
    /// alloy's overflow-checked `fake_exponential` (it saturates at `u128::MAX`); revm's own
    /// helper overflows on large excess values.
    pub fn blob_base_fee(&self, excess_blob_gas: u64) -> u128 {
        if self.blob_params.update_fraction == 0 {
            return self.blob_params.min_blob_fee;
        }
        self.blob_params.calc_blob_fee(excess_blob_gas)
    }

    /// The most blob gas one block may use.
    pub fn max_blob_gas_per_block(&self) -> u64 {
        self.blob_params.max_blob_gas_per_block()
    }

    /// The largest RLP-encoded block the fork allows: [`MAX_RLP_BLOCK_SIZE`] from Osaka
    /// (EIP-7934), `None` before.
    pub fn max_rlp_block_size(&self) -> Option<usize> {
        self.spec.is_enabled_in(SpecId::OSAKA).then_some(MAX_RLP_BLOCK_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eips::eip1559::calc_next_block_base_fee;

    fn parent(gas_limit: u64, gas_used: u64, base_fee: u64) -> Header {
        Header { gas_limit, gas_used, base_fee_per_gas: Some(base_fee), ..Header::default() }
    }

    #[test]
    fn base_fee_stays_at_target() {
        let chain = ChainConfig::l2(1);
        assert_eq!(chain.next_base_fee(&parent(30_000_000, 15_000_000, 1_000_000_000)), 1_000_000_000);
    }

    #[test]
    fn base_fee_rises_above_target() {
        let chain = ChainConfig::l2(1);
        // A full block raises the base fee by 1/8.
        assert_eq!(chain.next_base_fee(&parent(30_000_000, 30_000_000, 1_000_000_000)), 1_125_000_000);
        // Just above target, the increase is at least 1 wei.
        assert_eq!(chain.next_base_fee(&parent(30_000_000, 15_000_001, 7)), 8);
    }

    #[test]
    fn base_fee_falls_below_target() {
        let chain = ChainConfig::l2(1);
        // An empty block lowers the base fee by 1/8.
        assert_eq!(chain.next_base_fee(&parent(30_000_000, 0, 1_000_000_000)), 875_000_000);
        // Small base fees can stop falling: 7 * 1/8 rounds to zero.
        assert_eq!(chain.next_base_fee(&parent(30_000_000, 0, 7)), 7);
    }

    #[test]
    fn base_fee_agrees_with_alloy() {
        let chain = ChainConfig::l2(1);
        for (limit, used, fee) in [
            (30_000_000, 0, 1),
            (30_000_000, 29_999_999, 123_456_789),
            (36_000_000, 1_234_567, 10_000_000_000),
            (60_000_000, 45_000_000, 42),
            (5_000, 5_000, 1_000),
        ] {
            assert_eq!(
                chain.next_base_fee(&parent(limit, used, fee)),
                calc_next_block_base_fee(used, limit, fee, BaseFeeParams::ethereum()),
                "limit {limit} used {used} fee {fee}"
            );
        }
    }

    #[test]
    fn base_fee_never_panics() {
        let chain = ChainConfig::l2(1);
        assert_eq!(chain.next_base_fee(&parent(u64::MAX, u64::MAX, u64::MAX)), u64::MAX);
        assert_eq!(chain.next_base_fee(&parent(0, u64::MAX, u64::MAX)), u64::MAX);
        assert_eq!(chain.next_base_fee(&Header::default()), INITIAL_BASE_FEE);
    }

    #[test]
    fn excess_blob_gas_agrees_with_alloy() {
        for chain in
            [ChainConfig::l1(1, SpecId::CANCUN), ChainConfig::l1(1, SpecId::PRAGUE), ChainConfig::l2(1)]
        {
            for (excess, used, base_fee) in [
                (0, 0, 7),
                (0, 6 * DATA_GAS_PER_BLOB, 7),
                (10_000_000, 9 * DATA_GAS_PER_BLOB, 7),
                (10_000_000, DATA_GAS_PER_BLOB, 50_000_000_000),
                (100_000_000, 6 * DATA_GAS_PER_BLOB, 1_000),
            ] {
                let header = Header {
                    excess_blob_gas: Some(excess),
                    blob_gas_used: Some(used),
                    base_fee_per_gas: Some(base_fee),
                    ..Header::default()
                };
                assert_eq!(
                    chain.next_excess_blob_gas(&header),
                    chain.blob_params.next_block_excess_blob_gas_osaka(excess, used, base_fee),
                    "{:?} excess {excess} used {used} base fee {base_fee}",
                    chain.spec
                );
            }
        }
    }

    #[test]
    fn excess_blob_gas_never_panics() {
        let chain = ChainConfig::l2(1);
        let header = Header {
            excess_blob_gas: Some(u64::MAX),
            blob_gas_used: Some(u64::MAX),
            base_fee_per_gas: Some(u64::MAX),
            ..Header::default()
        };
        assert_eq!(chain.next_excess_blob_gas(&header), u64::MAX);
        assert_eq!(chain.next_excess_blob_gas(&Header::default()), 0);
        assert!(chain.blob_base_fee(u64::MAX) > 0);
    }

    #[test]
    fn supported_forks() {
        assert!(ChainConfig::l2(1).check_supported().is_ok());
        assert!(ChainConfig::l1(1, SpecId::MERGE).check_supported().is_ok());
        assert!(ChainConfig::l1(1, SpecId::LONDON).check_supported().is_err());
        assert!(ChainConfig::l1(1, SpecId::AMSTERDAM).check_supported().is_err());
    }
}
