//! `eth_config` (EIP-7910): the rules the chain runs under, as a client compares them across
//! nodes, and `eth_coinbase`: where the sequencer's blocks pay their fees.
//!
//! The chain runs one fork from genesis for its whole life, so the current configuration is
//! active from time 0 and none is scheduled next.
//!
//! The blob schedule (EIP-7840) is the fork's on a chain that takes blob transactions (the dev
//! L1). The L2 refuses them: its schedule says so with a target and a maximum of zero blobs per
//! block, and keeps the fork's update fraction, which prices its blob gas as its headers and
//! `BLOBBASEFEE` do (no excess: the minimum, 1 wei). On the dev L1, EXECUTE is listed among the
//! precompiles.

use super::{error::RpcError, eth::EthRpc};
use crate::store::BlockReader;
use alloy_eip2124::ForkHash;
use alloy_eips::{
    eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS,
    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
};
use alloy_primitives::{Address, FixedBytes, U64};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use revm::{
    precompile::{PrecompileSpecId, Precompiles},
    primitives::hardfork::SpecId,
};
use serde::Serialize;
use std::collections::BTreeMap;
use trace_builder::ChainConfig;

/// The chain's configuration and fee recipient.
#[rpc(server, namespace = "eth")]
pub trait EthForkConfigApi {
    /// The fork the chain runs under now, and the next and last scheduled (none).
    #[method(name = "config")]
    async fn config(&self) -> Result<ForkConfigs, RpcError>;

    /// The address the sequencer's blocks pay their fees to: the newest block's beneficiary.
    #[method(name = "coinbase")]
    async fn coinbase(&self) -> Result<Address, RpcError>;
}

/// The `eth_config` answer.
#[derive(Clone, Debug, Serialize)]
pub struct ForkConfigs {
    current: ForkConfig,
    next: Option<ForkConfig>,
    last: Option<ForkConfig>,
}

/// One fork's configuration, named as EIP-7910 names it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ForkConfig {
    activation_time: u64,
    blob_schedule: BlobSchedule,
    chain_id: U64,
    fork_id: FixedBytes<4>,
    precompiles: BTreeMap<&'static str, Address>,
    system_contracts: BTreeMap<&'static str, Address>,
}

/// The fork's blob parameters (EIP-7840).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BlobSchedule {
    base_fee_update_fraction: u128,
    max: u64,
    target: u64,
}

/// EIP-7910's name of each precompile, by address; a fork lists those it has.
const PRECOMPILE_NAMES: [(u16, &str); 18] = [
    (0x01, "ECREC"),
    (0x02, "SHA256"),
    (0x03, "RIPEMD160"),
    (0x04, "ID"),
    (0x05, "MODEXP"),
    (0x06, "BN254_ADD"),
    (0x07, "BN254_MUL"),
    (0x08, "BN254_PAIRING"),
    (0x09, "BLAKE2F"),
    (0x0a, "KZG_POINT_EVALUATION"),
    (0x0b, "BLS12_G1ADD"),
    (0x0c, "BLS12_G1MSM"),
    (0x0d, "BLS12_G2ADD"),
    (0x0e, "BLS12_G2MSM"),
    (0x0f, "BLS12_PAIRING_CHECK"),
    (0x10, "BLS12_MAP_FP_TO_G1"),
    (0x11, "BLS12_MAP_FP2_TO_G2"),
    (0x100, "P256VERIFY"),
];

/// EXECUTE's name among the precompiles (EIP-8079 names none).
const EXECUTE_NAME: &str = "EXECUTE";

impl ForkConfig {
    /// The configuration of `chain`, whose genesis block hashes to `genesis`.
    fn of(chain: &ChainConfig, genesis: alloy_primitives::B256) -> Self {
        let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(chain.spec));
        let mut precompiles: BTreeMap<_, _> = PRECOMPILE_NAMES
            .iter()
            .map(|&(address, name)| (name, Address::left_padding_from(&address.to_be_bytes())))
            .filter(|(_, address)| precompiles.contains(address))
            .collect();
        if let Some(execute) = &chain.execute {
            precompiles.insert(EXECUTE_NAME, execute.address);
        }
        // The system contracts the block executor calls under this fork. Deposits are an L1
        // matter: the chain has no deposit contract.
        let mut system_contracts = BTreeMap::new();
        if chain.spec.is_enabled_in(SpecId::CANCUN) {
            system_contracts.insert("BEACON_ROOTS_ADDRESS", BEACON_ROOTS_ADDRESS);
        }
        if chain.spec.is_enabled_in(SpecId::PRAGUE) {
            system_contracts.insert("HISTORY_STORAGE_ADDRESS", HISTORY_STORAGE_ADDRESS);
            system_contracts
                .insert("WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS", WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS);
            system_contracts
                .insert("CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS", CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS);
        }
        let (target, max) = if chain.blob_transactions {
            (chain.blob_params.target_blob_count, chain.blob_params.max_blob_count)
        } else {
            (0, 0)
        };
        Self {
            activation_time: 0,
            blob_schedule: BlobSchedule {
                base_fee_update_fraction: chain.blob_params.update_fraction,
                max,
                target,
            },
            chain_id: U64::from(chain.chain_id),
            // EIP-6122's fork hash: the CRC32 of the genesis hash, then of each fork activated
            // after genesis (none here).
            fork_id: FixedBytes(ForkHash::from(genesis).0),
            precompiles,
            system_contracts,
        }
    }
}

#[async_trait]
impl EthForkConfigApiServer for EthRpc {
    async fn config(&self) -> Result<ForkConfigs, RpcError> {
        let genesis = self.store.block_hash(0).await?.ok_or(RpcError::MissingGenesis)?;
        let current = ForkConfig::of(&self.chain, genesis);
        Ok(ForkConfigs { current, next: None, last: None })
    }

    async fn coinbase(&self) -> Result<Address, RpcError> {
        Ok(self.head.borrow().header.beneficiary)
    }
}
