//! Sealing: the header of an executed block with every field of its fork, so that any
//! Ethereum library can verify it and its hash, `keccak256(rlp(header))`.

use super::{BlockInputs, ExecutedBlock};
use crate::{chain::ChainConfig, trie::ordered_trie_root};
use alloy_consensus::{Header, constants::EMPTY_OMMER_ROOT_HASH};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B64, B256, Bloom, U256};
use revm::primitives::hardfork::SpecId;

/// The header of `executed`, run with `inputs` on top of `parent` under `chain`.
///
/// The caller supplies the two roots it holds the data for: `transactions_root` (the ordered
/// trie of the included transactions' EIP-2718 encodings, see
/// [`ordered_trie_root`](crate::trie::ordered_trie_root)) and `state_root` (the state trie after
/// applying `executed.changes`). Everything else comes from the parent, the inputs and the
/// execution: receipts root and logs bloom from the receipts, withdrawals root of the inputs'
/// withdrawals (Shanghai on),
/// blob gas used and excess blob gas (Cancun on), parent beacon block root (Cancun on),
/// requests hash (Prague on); post-merge constants for difficulty, nonce and ommers.
/// The block hash is `header.hash_slow()`.
pub fn seal_header(
    chain: &ChainConfig,
    parent: &Header,
    inputs: &BlockInputs,
    executed: &ExecutedBlock,
    transactions_root: B256,
    state_root: B256,
) -> Header {
    let receipts: Vec<Vec<u8>> = executed.receipts.iter().map(Encodable2718::encoded_2718).collect();
    let logs_bloom = executed.receipts.iter().fold(Bloom::ZERO, |mut bloom, receipt| {
        bloom.accrue_bloom(receipt.logs_bloom());
        bloom
    });
    let shanghai = chain.spec.is_enabled_in(SpecId::SHANGHAI);
    let cancun = chain.spec.is_enabled_in(SpecId::CANCUN);
    let prague = chain.spec.is_enabled_in(SpecId::PRAGUE);
    let withdrawals_root = shanghai.then(|| {
        let withdrawals: Vec<Vec<u8>> = inputs.withdrawals.iter().map(alloy_rlp::encode).collect();
        ordered_trie_root(&withdrawals)
    });
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
        withdrawals_root,
        blob_gas_used: cancun.then_some(executed.blob_gas_used),
        excess_blob_gas: cancun.then_some(executed.excess_blob_gas),
        parent_beacon_block_root: cancun.then_some(inputs.parent_beacon_block_root),
        requests_hash: prague.then(|| executed.requests.requests_hash()),
        block_access_list_hash: None,
        slot_number: None,
    }
}
