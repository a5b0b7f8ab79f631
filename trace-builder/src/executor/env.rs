//! The environment revm runs a block's transactions in, from the chain's rules and the block's
//! header. The block executor runs every block, real or simulated, in it; the sequencer's calls
//! (`eth_call`, `eth_estimateGas`, `eth_createAccessList`) run in the environment of the block
//! they name, so that a call sees what a transaction of that block saw.

use crate::{
    chain::ChainConfig,
    precompile::{BlobSource, ExecutePrecompile, ExecuteSettings},
    precompile_overrides::{OverriddenPrecompiles, PrecompileOverrides},
};
use alloy_consensus::Header;
use alloy_primitives::U256;
use revm::{
    Context, Database, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, Evm},
    context_interface::block::BlobExcessGasAndPrice,
    handler::{EthFrame, MainnetContext, instructions::EthInstructions},
    interpreter::interpreter::EthInterpreter,
    precompile::{PrecompileSpecId, Precompiles},
    primitives::hardfork::SpecId,
};
use std::sync::Arc;

/// revm's mainnet EVM under a chain's rules, over the state `DB`, with the inspector `I` and the
/// fork's precompiles as overrides leave them (none for a real block).
pub type ChainEvm<DB, I> = Evm<
    MainnetContext<DB>,
    I,
    EthInstructions<EthInterpreter, MainnetContext<DB>>,
    OverriddenPrecompiles,
    EthFrame<EthInterpreter>,
>;

/// The revm environment of one block: the chain's rules (`cfg`) and the block's context
/// (`block`). [`EvmEnv::new`] gives them as a real block runs; a simulation relaxes `cfg`'s checks
/// or moves `block`'s fields on top.
#[derive(Clone, Debug)]
pub struct EvmEnv {
    /// The chain's rules: its fork, its chain id (checked on every transaction that names one)
    /// and, from Cancun, its blob limits.
    pub cfg: CfgEnv,
    /// The block's context: number, time, beneficiary, gas limit, base fee, PREVRANDAO and, from
    /// Cancun, excess blob gas and blob gas price.
    pub block: BlockEnv,
    /// EXECUTE, on a chain that has it (the dev L1).
    pub execute: Option<ExecuteSettings>,
}

impl EvmEnv {
    /// The environment of the block `header` describes, under `chain`'s rules. Of the header
    /// only the fields the EVM sees are read: number, timestamp, beneficiary, gas limit, mix hash
    /// (PREVRANDAO), base fee (zero when absent) and, from Cancun, excess blob gas (zero when
    /// absent), whose blob gas price follows `chain`'s blob schedule. A block still being built
    /// passes a header with those fields set.
    pub fn new(chain: &ChainConfig, header: &Header) -> Self {
        let cancun = chain.spec.is_enabled_in(SpecId::CANCUN);
        let block = BlockEnv {
            number: U256::from(header.number),
            beneficiary: header.beneficiary,
            timestamp: U256::from(header.timestamp),
            gas_limit: header.gas_limit,
            basefee: header.base_fee_per_gas.unwrap_or_default(),
            difficulty: U256::ZERO,
            prevrandao: Some(header.mix_hash),
            // Built field by field: revm's constructor computes the blob price with arithmetic
            // that overflows on a large excess.
            blob_excess_gas_and_price: cancun.then(|| {
                let excess_blob_gas = header.excess_blob_gas.unwrap_or_default();
                BlobExcessGasAndPrice { excess_blob_gas, blob_gasprice: chain.blob_base_fee(excess_blob_gas) }
            }),
            slot_num: 0,
        };
        let mut cfg = CfgEnv::new_with_spec(chain.spec);
        cfg.chain_id = chain.chain_id;
        cfg.tx_chain_id_check = true;
        if cancun {
            // revm checks the per-transaction blob count only when told the maximum.
            cfg.max_blobs_per_tx = Some(chain.blob_params.max_blobs_per_tx);
            cfg.blob_base_fee_update_fraction = u64::try_from(chain.blob_params.update_fraction).ok();
        }
        Self { cfg, block, execute: chain.execute }
    }

    /// The precompiles of the environment's fork, before any override.
    pub fn precompiles(&self) -> &'static Precompiles {
        Precompiles::new(PrecompileSpecId::from_spec_id(self.cfg.spec))
    }

    /// revm's mainnet EVM in this environment over `db`, with `inspector` (run only by the
    /// `inspect` methods) and the fork's precompiles as `overrides` leave them, plus EXECUTE on a
    /// chain that has it (its blob mode answers false: no blobs to read).
    pub fn into_evm<DB: Database, I>(
        self,
        db: DB,
        inspector: I,
        overrides: PrecompileOverrides,
    ) -> ChainEvm<DB, I> {
        self.into_evm_with_blobs(db, inspector, overrides, None)
    }

    /// [`EvmEnv::into_evm`], EXECUTE's blob mode reading blobs from `blobs`.
    pub fn into_evm_with_blobs<DB: Database, I>(
        self,
        db: DB,
        inspector: I,
        overrides: PrecompileOverrides,
        blobs: Option<Arc<dyn BlobSource>>,
    ) -> ChainEvm<DB, I> {
        let mut precompiles = OverriddenPrecompiles::new(self.cfg.spec, overrides);
        if let Some(settings) = self.execute {
            let execute = ExecutePrecompile::new(settings);
            precompiles = precompiles.with_execute(match blobs {
                Some(blobs) => execute.with_blobs(blobs),
                None => execute,
            });
        }
        Context::mainnet()
            .with_block(self.block)
            .with_cfg(self.cfg)
            .with_db(db)
            .build_mainnet_with_inspector(inspector)
            .with_precompiles(precompiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_fields_follow_the_fork() {
        let header = Header { excess_blob_gas: Some(u64::MAX), ..Header::default() };
        let osaka = EvmEnv::new(&ChainConfig::l2(7), &header);
        assert_eq!(osaka.cfg.chain_id, 7);
        // A large excess prices blobs without overflowing.
        let blob = osaka.block.blob_excess_gas_and_price.unwrap();
        assert_eq!(blob.excess_blob_gas, u64::MAX);
        assert!(blob.blob_gasprice > 0);
        assert!(osaka.cfg.max_blobs_per_tx.is_some());

        let shanghai = EvmEnv::new(&ChainConfig::l1(7, SpecId::SHANGHAI), &header);
        assert_eq!(shanghai.block.blob_excess_gas_and_price, None);
        assert_eq!(shanghai.cfg.max_blobs_per_tx, None);
    }
}
