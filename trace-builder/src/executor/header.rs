//! Sealing: the header of an executed block, with every fork field, so that any Ethereum
//! library can verify `keccak256(rlp(header))`.

use super::{BlockInputs, ExecutedBlock};
use crate::{chain::ChainConfig, trie::ordered_trie_root};
use alloy_consensus::{Header, constants::EMPTY_OMMER_ROOT_HASH};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B64, B256, Bloom, U256};
use revm::primitives::hardfork::SpecId;

/// The header of `executed` on top of `parent`. `transactions_root` and `state_root` come from
/// the caller, who holds the transactions and the trie.
pub fn seal_header(
    chain: &ChainConfig,
    parent: &Header,
    inputs: &BlockInputs,
    executed: &ExecutedBlock,
    transactions_root: B256,
    state_root: B256,
) -> Header {
    let receipts: Vec<Vec<u8>> = executed.receipts.iter().map(|r| r.encoded_2718()).collect();
    let mut logs_bloom = Bloom::ZERO;
    for receipt in &executed.receipts {
        logs_bloom.accrue_bloom(receipt.logs_bloom());
    }
    let withdrawals: Vec<Vec<u8>> = executed.withdrawals.iter().map(alloy_rlp::encode).collect();
    let prague = chain.spec.is_enabled_in(SpecId::PRAGUE);
    Header {
        parent_hash: parent.hash_slow(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: inputs.beneficiary,
        state_root,
        transactions_root,
        receipts_root: ordered_trie_root(&receipts),
        logs_bloom,
        difficulty: U256::ZERO,
        number: inputs.number,
        gas_limit: inputs.gas_limit,
        gas_used: executed.gas_used,
        timestamp: inputs.timestamp,
        extra_data: inputs.extra_data.clone(),
        mix_hash: inputs.prev_randao,
        nonce: B64::ZERO,
        base_fee_per_gas: Some(executed.base_fee),
        withdrawals_root: Some(ordered_trie_root(&withdrawals)),
        blob_gas_used: Some(executed.blob_gas_used),
        excess_blob_gas: Some(executed.excess_blob_gas),
        parent_beacon_block_root: Some(inputs.parent_beacon_block_root),
        requests_hash: prague.then(|| executed.requests.requests_hash()),
        block_access_list_hash: None,
        slot_number: None,
    }
}
