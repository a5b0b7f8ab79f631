//! The rules a chain runs under: fork, chain id, fee-market parameters. The sequencer's builder
//! and the verifier take the same [`ChainConfig`], so they apply the same formulas.

use alloy_consensus::Header;
use alloy_eips::{eip1559::BaseFeeParams, eip7840::BlobParams};
use revm::primitives::hardfork::SpecId;

/// Chain id and fork rules of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The fork whose rules every block runs under.
    pub spec: SpecId,
    /// EIP-1559 parameters (L1: elasticity 2, max change denominator 8).
    pub base_fee: BaseFeeParams,
    /// EIP-4844/7840 blob parameters of the fork.
    pub blob: BlobParams,
}

impl ChainConfig {
    /// The native rollup's L2: Ethereum's own rules at Osaka, the newest fork revm completes.
    pub fn l2(chain_id: u64) -> Self {
        Self::l1(chain_id, SpecId::OSAKA)
    }

    /// Ethereum's rules at `spec`, with mainnet fee parameters.
    pub fn l1(chain_id: u64, spec: SpecId) -> Self {
        let blob = if spec.is_enabled_in(SpecId::OSAKA) {
            BlobParams::osaka()
        } else if spec.is_enabled_in(SpecId::PRAGUE) {
            BlobParams::prague()
        } else {
            BlobParams::cancun()
        };
        Self { chain_id, spec, base_fee: BaseFeeParams::ethereum(), blob }
    }

    /// The base fee of the block after `parent`, by the EIP-1559 formula.
    pub fn next_base_fee(&self, parent: &Header) -> u64 {
        parent.next_block_base_fee(self.base_fee).unwrap_or_default()
    }

    /// The excess blob gas of the block after `parent` (EIP-4844, with EIP-7918 from Osaka).
    pub fn next_excess_blob_gas(&self, parent: &Header) -> u64 {
        let parent_excess = parent.excess_blob_gas.unwrap_or_default();
        let parent_used = parent.blob_gas_used.unwrap_or_default();
        let parent_base_fee = parent.base_fee_per_gas.unwrap_or_default();
        if self.spec.is_enabled_in(SpecId::OSAKA) {
            self.blob.next_block_excess_blob_gas_osaka(parent_excess, parent_used, parent_base_fee)
        } else {
            (parent_excess + parent_used).saturating_sub(self.blob.target_blob_gas_per_block())
        }
    }

    /// The most blob gas one block may use.
    pub fn max_blob_gas_per_block(&self) -> u64 {
        self.blob.max_blob_gas_per_block()
    }
}
