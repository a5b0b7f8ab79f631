//! Traces of blocks the real sequencer built and stored: `rollup_getTrace` over HTTP, then
//! EXECUTE (the stateless verifier) on them. Honest traces of random batches verify; every
//! tampering is caught; no witness node is spare.

use crate::support::{DEV_CHAIN_ID, dev_signer, eip1559, init_code, launch, provider, sign, wait_receipt};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip4844, TxEip7702, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip7702::Authorization;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, keccak256};
use alloy_provider::{Provider, RootProvider};
use alloy_signer::SignerSync;
use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config as ProptestConfig, TestRunner},
};
use sequencer::rpc::TraceResponse;
use trace_builder::{ChainConfig, InvalidTrace, Trace, TraceRules, Verifier, execute};

const GWEI: u128 = 1_000_000_000;
/// Dev accounts 0..8 send the random transactions.
const SENDERS: u8 = 8;

/// `SSTORE(calldata[0..32], calldata[32..64])`.
const STORE: &[u8] = &[0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x00];
/// `SSTORE(0, BLOCKHASH(calldata[0..32]))`.
const BLOCK_HASH: &[u8] = &[0x60, 0x00, 0x35, 0x40, 0x60, 0x00, 0x55, 0x00];
/// `REVERT(0, 0)`.
const REVERT: &[u8] = &[0x60, 0x00, 0x60, 0x00, 0xfd];
/// `SELFDESTRUCT(CALLER)`.
const DESTROY: &[u8] = &[0x33, 0xff];

/// The contracts the random transactions call, deployed once by dev account 9.
#[derive(Clone, Copy, Debug)]
struct Contracts {
    store: Address,
    block_hash: Address,
    revert: Address,
    destroy: Address,
}

/// One random transaction.
#[derive(Clone, Debug)]
enum Op {
    /// ETH to a dev account (`to < 4`) or to a new account.
    Transfer { from: u8, to: u8, value: u64 },
    /// A storage write; a zero value deletes the slot.
    Store { from: u8, slot: u8, value: u8 },
    /// Stores the hash of the block `back` blocks before the head.
    ReadBlockHash { from: u8, back: u8 },
    /// A call that reverts.
    Revert { from: u8 },
    /// Deploys a new contract.
    Deploy { from: u8 },
    /// Creates a contract whose init code self-destructs (the account never persists).
    CreateAndDestroy { from: u8 },
    /// SELFDESTRUCT of an old contract (moves its balance only, EIP-6780).
    DestroyOld { from: u8 },
    /// EIP-7702: the sender delegates its code to the store contract.
    Delegate { from: u8 },
    /// A storage write into the sender's own account (through its delegation, when it has one).
    CallSelf { from: u8, slot: u8, value: u8 },
}

impl Op {
    /// Index of the dev account that sends it.
    fn sender(&self) -> u8 {
        match self {
            Self::Transfer { from, .. }
            | Self::Store { from, .. }
            | Self::ReadBlockHash { from, .. }
            | Self::Revert { from }
            | Self::Deploy { from }
            | Self::CreateAndDestroy { from }
            | Self::DestroyOld { from }
            | Self::Delegate { from }
            | Self::CallSelf { from, .. } => *from,
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    let from = 0..SENDERS;
    prop_oneof![
        (from.clone(), 0u8..8, 1u64..1_000_000).prop_map(|(from, to, value)| Op::Transfer {
            from,
            to,
            value
        }),
        (from.clone(), 0u8..4, 0u8..3).prop_map(|(from, slot, value)| Op::Store { from, slot, value }),
        (from.clone(), 0u8..6).prop_map(|(from, back)| Op::ReadBlockHash { from, back }),
        from.clone().prop_map(|from| Op::Revert { from }),
        from.clone().prop_map(|from| Op::Deploy { from }),
        from.clone().prop_map(|from| Op::CreateAndDestroy { from }),
        from.clone().prop_map(|from| Op::DestroyOld { from }),
        from.clone().prop_map(|from| Op::Delegate { from }),
        (from, 0u8..4, 0u8..3).prop_map(|(from, slot, value)| Op::CallSelf { from, slot, value }),
    ]
}

fn call(nonce: u64, to: TxKind, gas_limit: u64, value: U256, input: Bytes) -> TxEip1559 {
    eip1559(nonce, to, gas_limit, value, input)
}

fn words(a: u64, b: u64) -> Bytes {
    [U256::from(a).to_be_bytes::<32>(), U256::from(b).to_be_bytes::<32>()].concat().into()
}

/// The signed transaction of `op`, from its sender at `nonce`.
fn transaction(op: &Op, nonce: u64, head: u64, contracts: &Contracts, salt: u64) -> Bytes {
    let signer = dev_signer(u32::from(op.sender()));
    let tx = match *op {
        Op::Transfer { to, value, .. } => {
            let to = if to < 4 {
                dev_signer(u32::from(to)).address()
            } else {
                Address::from_word(keccak256(salt.to_be_bytes()))
            };
            call(nonce, TxKind::Call(to), 21_000, U256::from(value), Bytes::new())
        }
        Op::Store { slot, value, .. } => {
            call(nonce, TxKind::Call(contracts.store), 60_000, U256::ZERO, words(slot.into(), value.into()))
        }
        Op::ReadBlockHash { back, .. } => {
            let number = head.saturating_sub(u64::from(back));
            call(nonce, TxKind::Call(contracts.block_hash), 60_000, U256::ZERO, words(number, 0))
        }
        Op::Revert { .. } => call(nonce, TxKind::Call(contracts.revert), 50_000, U256::ZERO, Bytes::new()),
        Op::Deploy { .. } => call(nonce, TxKind::Create, 200_000, U256::ZERO, init_code(STORE)),
        Op::CreateAndDestroy { .. } => {
            call(nonce, TxKind::Create, 100_000, U256::from(7u64), Bytes::from_static(DESTROY))
        }
        Op::DestroyOld { .. } => {
            call(nonce, TxKind::Call(contracts.destroy), 60_000, U256::from(3u64), Bytes::new())
        }
        Op::Delegate { .. } => {
            // The transaction bumps the sender's nonce before authorizations are applied.
            let authorization = Authorization {
                chain_id: U256::from(DEV_CHAIN_ID),
                address: contracts.store,
                nonce: nonce + 1,
            };
            let signature = signer.sign_hash_sync(&authorization.signature_hash()).unwrap();
            return sign(
                &signer,
                TxEip7702 {
                    chain_id: DEV_CHAIN_ID,
                    nonce,
                    gas_limit: 100_000,
                    max_fee_per_gas: 10 * GWEI,
                    max_priority_fee_per_gas: GWEI,
                    to: signer.address(),
                    value: U256::ZERO,
                    access_list: Default::default(),
                    authorization_list: vec![authorization.into_signed(signature)],
                    input: Bytes::new(),
                },
            );
        }
        Op::CallSelf { slot, value, .. } => {
            call(nonce, TxKind::Call(signer.address()), 80_000, U256::ZERO, words(slot.into(), value.into()))
        }
    };
    sign(&signer, tx)
}

async fn deploy_contracts(provider: &RootProvider) -> Contracts {
    let deployer = dev_signer(9);
    let mut nonce = provider.get_transaction_count(deployer.address()).await.unwrap();
    let mut addresses = Vec::new();
    for runtime in [STORE, BLOCK_HASH, REVERT, DESTROY] {
        let raw = sign(&deployer, call(nonce, TxKind::Create, 200_000, U256::ZERO, init_code(runtime)));
        let hash = *provider.send_raw_transaction(&raw).await.unwrap().tx_hash();
        let receipt = wait_receipt(provider, hash).await;
        assert!(receipt.status());
        addresses.push(receipt.contract_address.unwrap());
        nonce += 1;
    }
    // Some balance for SELFDESTRUCT to move.
    let raw =
        sign(&deployer, call(nonce, TxKind::Call(addresses[3]), 60_000, U256::from(1_000u64), Bytes::new()));
    let hash = *provider.send_raw_transaction(&raw).await.unwrap().tx_hash();
    wait_receipt(provider, hash).await;
    Contracts { store: addresses[0], block_hash: addresses[1], revert: addresses[2], destroy: addresses[3] }
}

/// Sends `ops` in two waves (so that they spread over several blocks), waits for all of them
/// and returns the range of blocks that holds them, starting at the block after `start`.
///
/// The pool allows a delegated account (EIP-7702) one transaction in flight, and refuses an
/// authorization of an account with transactions in flight, as geth does: for those, the
/// batch waits for the sender's earlier transactions first. `delegated` remembers the senders
/// that delegated, across batches.
async fn run_batch(
    provider: &RootProvider,
    ops: &[Op],
    contracts: &Contracts,
    salt: &mut u64,
    delegated: &mut std::collections::HashSet<usize>,
) -> (u64, u64) {
    let start = provider.get_block_number().await.unwrap();
    let mut nonces = Vec::new();
    for index in 0..SENDERS {
        nonces.push(provider.get_transaction_count(dev_signer(u32::from(index)).address()).await.unwrap());
    }
    let mut hashes = Vec::new();
    let mut in_flight: std::collections::HashMap<usize, Vec<B256>> = Default::default();
    for (position, op) in ops.iter().enumerate() {
        if position == ops.len() / 2 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let from = usize::from(op.sender());
        let delegates = matches!(op, Op::Delegate { .. });
        if delegates || delegated.contains(&from) {
            for hash in in_flight.remove(&from).unwrap_or_default() {
                wait_receipt(provider, hash).await;
            }
        }
        if delegates {
            delegated.insert(from);
        }
        *salt += 1;
        let head = provider.get_block_number().await.unwrap();
        let raw = transaction(op, nonces[from], head, contracts, *salt);
        // A self-sponsored authorization bumps the nonce a second time.
        nonces[from] += if matches!(op, Op::Delegate { .. }) { 2 } else { 1 };
        let hash = *provider.send_raw_transaction(&raw).await.unwrap().tx_hash();
        in_flight.entry(from).or_default().push(hash);
        hashes.push(hash);
    }
    let mut end = start + 1;
    for hash in hashes {
        end = end.max(wait_receipt(provider, hash).await.block_number.unwrap());
    }
    (start + 1, end)
}

async fn get_trace(provider: &RootProvider, from: u64, to: u64) -> TraceResponse {
    provider.raw_request("rollup_getTrace".into(), (U64::from(from), U64::from(to))).await.unwrap()
}

/// EXECUTE on the dev chain: the hash of the batch's last block, or why the trace is invalid.
fn verify(pre: B256, post: B256, trace: &[u8], gas_used: u64) -> Result<B256, InvalidTrace> {
    execute(&ChainConfig::l2(DEV_CHAIN_ID), pre, post, trace, gas_used)
}

/// Whether EXECUTE on the dev chain accepts the trace.
fn verifies(pre: B256, post: B256, trace: &[u8], gas_used: u64) -> bool {
    verify(pre, post, trace, gas_used).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_of_random_batches_verify_and_tampering_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    random_batches(&node, 8).await;
    node.stop().await;
}

/// The same on PostgreSQL: what each block recorded is stored and read back there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_from_postgres_verify() {
    let server = crate::postgres::PgServer::start();
    let url = server.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), Some(url)).await;
    random_batches(&node, 3).await;
    node.stop().await;
}

/// Sends `cases` random batches through `node` and checks their traces, then a trace of the
/// whole chain against every kind of tampering.
async fn random_batches(node: &sequencer::node::Node, cases: usize) {
    let provider = provider(node);
    let contracts = deploy_contracts(&provider).await;

    // The deployments themselves: a batch from block 1.
    let head = provider.get_block_number().await.unwrap();
    let deployments = get_trace(&provider, 1, head).await;
    assert!(verifies(
        deployments.pre_state_root,
        deployments.post_state_root,
        &deployments.trace,
        deployments.gas_used.to()
    ));

    let mut runner = TestRunner::new(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(8079),
        ..ProptestConfig::default()
    });
    let strategy = proptest::collection::vec(op(), 4..24);
    let mut salt = 0;
    let mut traced = Vec::new();
    let mut delegated = std::collections::HashSet::new();
    for _ in 0..cases {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        let (from, to) = run_batch(&provider, &ops, &contracts, &mut salt, &mut delegated).await;
        let response = get_trace(&provider, from, to).await;
        let parent = provider.get_block_by_number((from - 1).into()).await.unwrap().unwrap();
        let last = provider.get_block_by_number(to.into()).await.unwrap().unwrap();
        assert_eq!(response.pre_state_root, parent.header.state_root);
        assert_eq!(response.post_state_root, last.header.state_root);
        let trace = Trace::decode(&response.trace).unwrap();
        assert_eq!(trace.encode(), response.trace.to_vec(), "the trace has one encoding");
        let head_hash = verify(
            response.pre_state_root,
            response.post_state_root,
            &response.trace,
            response.gas_used.to(),
        )
        .unwrap_or_else(|error| {
            panic!("honest trace of blocks {from}..={to} ({ops:?}) does not verify: {error}")
        });
        assert_eq!(head_hash, last.header.hash, "EXECUTE returns the hash of block {to}");
        traced.push(response);
    }

    // A trace over everything so far: one batch of many blocks.
    let head = provider.get_block_number().await.unwrap();
    let all = get_trace(&provider, 1, head).await;
    let head_block = provider.get_block_by_number(head.into()).await.unwrap().unwrap();
    assert_eq!(
        verify(all.pre_state_root, all.post_state_root, &all.trace, all.gas_used.to()),
        Ok(head_block.header.hash),
        "EXECUTE on the whole chain returns the head's hash"
    );
    // The trace survives the DA codec byte for byte.
    let (blobs, _) =
        trace_builder::blob::trace_to_blobs(&all.trace, trace_builder::blob::Codec::DEFAULT).unwrap();
    assert_eq!(trace_builder::blob::blobs_to_trace(&blobs).unwrap(), all.trace.to_vec());

    for response in &traced {
        every_witness_node_is_needed(response);
    }
    tampering_is_caught(&all);

    // Bad ranges are refused with a clear error.
    for (from, to) in [(0, 1), (5, 4), (head + 10_000, head + 10_000)] {
        let error = provider
            .raw_request::<_, TraceResponse>("rollup_getTrace".into(), (U64::from(from), U64::from(to)))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("invalid block range"), "{error}");
    }
}

/// Removing any one witness node makes the honest trace fail.
fn every_witness_node_is_needed(response: &TraceResponse) {
    let trace = Trace::decode(&response.trace).unwrap();
    assert!(!trace.witness.nodes.is_empty());
    for index in 0..trace.witness.nodes.len() {
        let mut pruned = trace.clone();
        pruned.witness.nodes.remove(index);
        assert!(
            !verifies(
                response.pre_state_root,
                response.post_state_root,
                &pruned.encode(),
                response.gas_used.to()
            ),
            "witness node {index} of {} is spare",
            trace.witness.nodes.len()
        );
    }
}

/// Each kind of tampering makes EXECUTE return false.
fn tampering_is_caught(response: &TraceResponse) {
    let (pre, post, gas) = (response.pre_state_root, response.post_state_root, response.gas_used.to::<u64>());
    let honest = Trace::decode(&response.trace).unwrap();
    let rejects = |what: &str, trace: &[u8], pre: B256, post: B256, gas: u64| {
        assert!(!verifies(pre, post, trace, gas), "tampering not caught: {what}");
    };
    let with = |what: &str, change: &dyn Fn(&mut Trace)| {
        let mut trace = honest.clone();
        change(&mut trace);
        assert_ne!(trace, honest, "{what} changed nothing");
        rejects(what, &trace.encode(), pre, post, gas);
    };

    rejects("wrong pre-state root", &response.trace, B256::repeat_byte(1), post, gas);
    rejects("wrong post-state root", &response.trace, pre, B256::repeat_byte(1), gas);
    rejects("gas one less", &response.trace, pre, post, gas - 1);
    rejects("gas one more", &response.trace, pre, post, gas + 1);
    let mut junk = response.trace.to_vec();
    junk.push(0);
    rejects("trailing junk", &junk, pre, post, gas);

    // Blocks with transactions, and one with transactions from two senders.
    let busy: Vec<usize> =
        (0..honest.blocks.len()).filter(|&i| !honest.blocks[i].transactions.is_empty()).collect();
    let first = busy[0];
    for position in [0, 10, 40, 80] {
        with(&format!("byte {position} of a transaction flipped"), &|trace| {
            let tx = trace.blocks[first].transactions[0].to_vec();
            let mut tx = tx;
            let at = position.min(tx.len() - 1);
            tx[at] ^= 0x01;
            trace.blocks[first].transactions[0] = tx.into();
        });
    }
    with("transaction dropped", &|trace| {
        trace.blocks[first].transactions.remove(0);
    });
    with("transaction added (replayed)", &|trace| {
        let tx = trace.blocks[first].transactions[0].clone();
        trace.blocks[first].transactions.push(tx);
    });
    with("transaction added (fresh)", &|trace| {
        let signer = dev_signer(9);
        let tx = call(1_000, TxKind::Call(Address::repeat_byte(9)), 21_000, U256::from(1u64), Bytes::new());
        trace.blocks[first].transactions.push(sign(&signer, tx));
    });
    // Reordered: in a block that is not the batch's last, even commuting transactions change
    // the block's hash, which the next block's EIP-2935 call writes into the state.
    let reorderable = busy
        .iter()
        .copied()
        .find(|&i| i + 1 < honest.blocks.len() && honest.blocks[i].transactions.len() >= 2)
        .expect("a block with two transactions before the last block");
    with("transactions reordered", &|trace| {
        trace.blocks[reorderable].transactions.swap(0, 1);
    });
    with("witness node removed", &|trace| {
        trace.witness.nodes.pop();
    });
    with("witness node altered", &|trace| {
        let node = trace.witness.nodes[0].to_vec();
        let mut node = node;
        let last = node.len() - 1;
        node[last] ^= 0x01;
        trace.witness.nodes[0] = node.into();
    });
    assert!(!honest.witness.codes.is_empty(), "the batch calls contracts deployed before it");
    with("contract code swapped", &|trace| {
        trace.witness.codes[0] = Bytes::from_static(REVERT);
    });
    with("block timestamp changed", &|trace| trace.blocks[first].timestamp += 1);
    with("coinbase changed", &|trace| trace.blocks[first].coinbase = Address::repeat_byte(0xcb));
    with("L1 anchor changed", &|trace| trace.blocks[first].l1_anchor = B256::repeat_byte(0xa1));
    with("extra data of an inner block changed", &|trace| {
        trace.blocks[reorderable].extra_data = Bytes::from_static(b"forged")
    });
    with("gas limit of an inner block changed", &|trace| trace.blocks[reorderable].gas_limit -= 1);
    with("another chain id", &|trace| trace.chain_id = DEV_CHAIN_ID + 1);
    // A blob transaction is refused for what it is, before anything runs.
    let signer = dev_signer(9);
    let mut blob = TxEip4844 {
        chain_id: DEV_CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(9),
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: vec![B256::with_last_byte(1)],
        max_fee_per_blob_gas: GWEI,
        input: Bytes::new(),
    };
    let signature = signer.sign_transaction_sync(&mut blob).unwrap();
    let blob = TxEnvelope::from(blob.into_signed(signature)).encoded_2718();
    let mut trace = honest.clone();
    trace.blocks[first].transactions.insert(0, blob.into());
    let error = Verifier::new(ChainConfig::l2(DEV_CHAIN_ID), TraceRules::L2)
        .verify(pre, post, &trace.encode(), gas)
        .unwrap_err();
    assert!(error.to_string().contains("blob transactions are not allowed"), "{error}");
}
