//! Honest traces for the tests: a small L2 state, a batch of two blocks executed by the block
//! executor, its witness collected by the WitnessBuilder.

use alloy_consensus::{
    Header, SignableTransaction, TxEip1559, TxEnvelope, constants::EMPTY_WITHDRAWALS,
    transaction::SignerRecoverable,
};
use alloy_eips::{eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::collections::BTreeMap;
use trace_builder::{
    BlockExecutor, BlockInputs, ChainConfig, StateTrie, Trace, TraceBlock, Witness, WitnessBuilder,
    memory_state::MemoryState, seal_header, trie::ordered_trie_root,
};

pub const CHAIN_ID: u64 = 1337;

/// A trace with the claims it proves.
#[derive(Clone, Debug)]
pub struct Batch {
    pub pre_state_root: B256,
    pub post_state_root: B256,
    pub gas_used: u64,
    /// The hash of the last block, as the builder sealed it.
    pub head_hash: B256,
    pub trace: Trace,
}

impl Batch {
    pub fn bytes(&self) -> Vec<u8> {
        self.trace.encode()
    }
}

pub fn signer(n: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::with_last_byte(n)).unwrap()
}

/// Two blocks: transfers from three senders, a storage-writing contract call, a deployment.
pub fn honest_batch() -> Batch {
    let chain = ChainConfig::l2(CHAIN_ID);
    let mut state = MemoryState::with_system_contracts();
    for n in 1..=3 {
        state.insert_account(
            signer(n).address(),
            0,
            U256::from(10u64).pow(U256::from(20)),
            Bytes::new(),
            BTreeMap::new(),
        );
    }
    // SSTORE(calldata[0..32], calldata[32..64])
    let store = Address::repeat_byte(0x57);
    let store_code = Bytes::from_static(&[0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x00]);
    state.insert_account(store, 1, U256::ZERO, store_code, [(U256::from(1), U256::from(5))].into());
    let (pre_state_root, nodes) = state.trie();
    let mut nodes = nodes;

    let mut parent = Header {
        number: 7,
        timestamp: 1_000,
        gas_limit: 30_000_000,
        gas_used: 15_000_000,
        base_fee_per_gas: Some(1_000_000_000),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        withdrawals_root: Some(EMPTY_WITHDRAWALS),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        state_root: pre_state_root,
        ..Header::default()
    };
    let ancestors = vec![parent.clone()];
    let mut witness = WitnessBuilder::new(nodes.clone(), pre_state_root);
    let mut blocks = Vec::new();
    let mut gas_used = 0;
    let mut nonces = [0u64; 4];
    for round in 0..2u64 {
        let inputs = BlockInputs {
            number: parent.number + 1,
            timestamp: parent.timestamp + 12,
            beneficiary: Address::repeat_byte(0xcb),
            gas_limit: parent.gas_limit,
            prev_randao: B256::repeat_byte(round as u8 + 1),
            extra_data: Bytes::from_static(b"test"),
            parent_beacon_block_root: B256::repeat_byte(0xa0 + round as u8),
            withdrawals: Vec::new(),
        };
        let mut executor = BlockExecutor::new(&mut state, &chain, &parent, &inputs).unwrap();
        let mut transactions = Vec::new();
        for n in 1..=3u8 {
            let (to, input) = match (n, round) {
                (3, 0) => (
                    TxKind::Call(store),
                    [U256::from(1).to_be_bytes::<32>(), U256::ZERO.to_be_bytes::<32>()].concat(),
                ),
                (3, 1) => (TxKind::Create, vec![0x60, 0x00, 0x60, 0x00, 0xf3]),
                _ => (TxKind::Call(Address::with_last_byte(n + 16 * round as u8)), Vec::new()),
            };
            let tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce: nonces[n as usize],
                gas_limit: 100_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to,
                value: U256::from(1_000u64 * u64::from(n)),
                access_list: Default::default(),
                input: input.into(),
            };
            nonces[n as usize] += 1;
            let signature = signer(n).sign_hash_sync(&tx.signature_hash()).unwrap();
            let tx = TxEnvelope::from(tx.into_signed(signature)).try_into_recovered().unwrap();
            executor.execute_transaction(&tx).unwrap();
            transactions.push(Bytes::from(tx.inner().encoded_2718()));
        }
        let executed = executor.finish().unwrap();
        let root = witness.add_block(&executed.access, &executed.changes).unwrap();
        let mut trie = StateTrie::new(&nodes, parent.state_root);
        assert_eq!(trie.apply(&executed.changes).unwrap(), root);
        nodes.extend(trie.commit().1);
        state.apply(&executed.changes);
        gas_used += executed.gas_used;
        let header = seal_header(&chain, &parent, &inputs, &executed, ordered_trie_root(&transactions), root);
        state.insert_block_hash(header.number, header.hash_slow());
        blocks.push(TraceBlock::new(&inputs, transactions));
        parent = header;
    }
    let needs = witness.finish();
    let codes = needs.codes.iter().map(|hash| state.code(hash).unwrap()).collect();
    Batch {
        pre_state_root,
        post_state_root: parent.state_root,
        gas_used,
        head_hash: parent.hash_slow(),
        trace: Trace {
            chain_id: CHAIN_ID,
            ancestors,
            blocks,
            witness: Witness { nodes: needs.nodes, codes },
        },
    }
}
