//! EXECUTE end to end: the verifier on honest and tampered traces, and the precompile inside a
//! real revm EVM, called by a transaction.

use crate::support::{CHAIN_ID, honest_batch};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::AccountInfo,
};
use std::sync::Arc;
use trace_builder::{
    Bindings, ChainConfig, InvalidTrace, L1Anchor, OverriddenPrecompiles, Trace,
    blob::{self, Codec},
    execute,
    precompile::{
        BlobSource, DEFAULT_EXECUTE_ADDRESS, ExecuteGas, ExecutePrecompile, ExecuteSettings, blob_envelope,
        encode_bound_call, encode_call,
    },
};

#[test]
fn honest_batch_verifies() {
    let batch = honest_batch();
    let chain = ChainConfig::l2(CHAIN_ID);
    assert_eq!(
        execute(&chain, batch.pre_state_root, batch.post_state_root, &batch.bytes(), batch.gas_used),
        Ok(batch.head_hash),
        "an honest batch verifies, with the hash of the last block the builder sealed"
    );
    assert!(matches!(
        execute(&chain, batch.pre_state_root, batch.post_state_root, &batch.bytes(), batch.gas_used + 1),
        Err(InvalidTrace::GasUsed { .. })
    ));
    assert!(matches!(
        execute(
            &ChainConfig::l2(CHAIN_ID + 1),
            batch.pre_state_root,
            batch.post_state_root,
            &batch.bytes(),
            batch.gas_used
        ),
        Err(InvalidTrace::ChainId { .. })
    ));
}

/// The last block's PREVRANDAO reaches no state (docs/trace-format.md §4, "What the claims
/// bind"): a trace that changes it proves the same roots and gas. The head hash EXECUTE returns
/// is what tells the two batches apart, so a bridge that keeps it binds the L2 headers too.
#[test]
fn the_head_hash_binds_what_the_state_roots_do_not() {
    let batch = honest_batch();
    let chain = ChainConfig::l2(CHAIN_ID);
    let mut other = batch.trace.clone();
    let last = other.blocks.last_mut().unwrap();
    last.prev_randao = B256::repeat_byte(0xee);
    let head = execute(&chain, batch.pre_state_root, batch.post_state_root, &other.encode(), batch.gas_used)
        .expect("the roots and gas do not see the last block's PREVRANDAO");
    assert_ne!(head, batch.head_hash);
}

/// Calls EXECUTE at `DEFAULT_EXECUTE_ADDRESS` from a transaction on an L1 EVM with `gas_limit`.
fn call_on_l1(input: Bytes, gas_limit: u64) -> ExecutionResult {
    call_with_gas(input, gas_limit, ExecuteGas::default())
}

fn call_with_gas(input: Bytes, gas_limit: u64, gas: ExecuteGas) -> ExecutionResult {
    let execute = ExecutePrecompile::new(ExecuteSettings { gas, ..ExecuteSettings::default() });
    call_with(execute, input, gas_limit, Vec::new())
}

/// Calls `execute` from a transaction with `gas_limit` carrying the blob hashes `blob_hashes`
/// (a type-3 transaction when there are any).
fn call_with(
    execute: ExecutePrecompile,
    input: Bytes,
    gas_limit: u64,
    blob_hashes: Vec<B256>,
) -> ExecutionResult {
    let caller = Address::repeat_byte(0xca);
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(
        caller,
        AccountInfo { balance: U256::from(10u64).pow(U256::from(20)), ..Default::default() },
    );
    let precompiles = OverriddenPrecompiles::new(SpecId::OSAKA, Default::default()).with_execute(execute);
    let mut evm = Context::mainnet().with_db(db).build_mainnet().with_precompiles(precompiles);
    let tx = TxEnv {
        caller,
        kind: TxKind::Call(DEFAULT_EXECUTE_ADDRESS),
        data: input,
        gas_limit,
        gas_price: 0,
        chain_id: Some(1),
        tx_type: if blob_hashes.is_empty() { 0 } else { 3 },
        max_fee_per_blob_gas: if blob_hashes.is_empty() { 0 } else { 1 },
        blob_hashes,
        ..Default::default()
    };
    evm.transact(tx).unwrap().result
}

fn output_bool(result: &ExecutionResult) -> bool {
    let ExecutionResult::Success { output, .. } = result else { panic!("the call failed: {result:?}") };
    let data = output.data();
    assert_eq!(data.len(), 32);
    assert!(data[..31].iter().all(|byte| *byte == 0) && data[31] <= 1);
    data[31] == 1
}

#[test]
fn the_precompile_answers_inside_a_real_evm() {
    let batch = honest_batch();
    let bytes = batch.bytes();
    let honest = encode_call(batch.pre_state_root, batch.post_state_root, &bytes, U256::from(batch.gas_used));
    assert!(output_bool(&call_on_l1(honest.clone(), 16_000_000)));

    let wrong_post =
        encode_call(batch.pre_state_root, B256::repeat_byte(9), &bytes, U256::from(batch.gas_used));
    assert!(!output_bool(&call_on_l1(wrong_post, 16_000_000)));
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    let tampered =
        encode_call(batch.pre_state_root, batch.post_state_root, &flipped, U256::from(batch.gas_used));
    assert!(!output_bool(&call_on_l1(tampered, 16_000_000)));

    // Below the metered cost (plus the transaction's intrinsic gas) the call runs out of gas. A
    // heavy base keeps the metering above the calldata floor of EIP-7623 here.
    let gas = ExecuteGas { base: 1_000_000, ..ExecuteGas::default() };
    let cost = gas.cost(bytes.len(), U256::from(batch.gas_used));
    let ExecutionResult::Success { gas: spent, .. } = call_with_gas(honest.clone(), 16_000_000, gas) else {
        panic!("the honest call failed")
    };
    let intrinsic = spent.total_gas_spent() - cost;
    assert!(matches!(call_with_gas(honest.clone(), intrinsic + cost - 1, gas), ExecutionResult::Halt { .. }));
    assert!(output_bool(&call_with_gas(honest, intrinsic + cost, gas)));

    // A malformed call fails instead of answering.
    assert!(matches!(call_on_l1(Bytes::from_static(&[1, 2, 3, 4]), 1_000_000), ExecutionResult::Halt { .. }));
}

/// The bindings of the honest batch, its anchors at made-up L1 block numbers.
fn honest_bindings(batch: &crate::support::Batch) -> Bindings {
    let verified = trace_builder::Verifier::new(ChainConfig::l2(CHAIN_ID), trace_builder::TraceRules::L2)
        .verify(batch.pre_state_root, batch.post_state_root, &batch.bytes(), batch.gas_used)
        .unwrap();
    Bindings::of(&batch.trace, &verified, |_| 7)
}

#[test]
fn the_bound_form_checks_every_binding() {
    let batch = honest_batch();
    let bytes = batch.bytes();
    let honest = honest_bindings(&batch);
    assert_eq!(honest.parent_block_hash, batch.trace.ancestors[0].hash_slow());
    assert_eq!(honest.last_block_hash, batch.head_hash);
    let call = |bindings: &Bindings| {
        let input =
            encode_bound_call(batch.pre_state_root, batch.post_state_root, batch.gas_used, bindings, &bytes);
        output_bool(&call_on_l1(input, 16_000_000))
    };
    assert!(call(&honest), "honest bindings verify");
    let tampered: [fn(&mut Bindings); 7] = [
        |b| b.chain_id += 1,
        |b| b.parent_block_hash = B256::repeat_byte(1),
        |b| b.last_block_hash = B256::repeat_byte(2),
        |b| b.last_number += 1,
        |b| b.last_timestamp += 1,
        |b| b.anchors.push(L1Anchor { number: 8, hash: B256::repeat_byte(3) }),
        |b| b.anchors[0].hash = B256::repeat_byte(4),
    ];
    for (index, tamper) in tampered.iter().enumerate() {
        let mut bindings = honest.clone();
        tamper(&mut bindings);
        assert!(!call(&bindings), "tampered binding {index} answered true");
    }
    // The anchor's L1 number is the bridge's to check, not EXECUTE's.
    let mut renumbered = honest.clone();
    renumbered.anchors[0].number = 1_000;
    assert!(call(&renumbered));
}

/// The node's blobs, by versioned hash.
#[derive(Debug, Default)]
struct HeldBlobs(Vec<(B256, Bytes)>);

impl BlobSource for HeldBlobs {
    fn blob(&self, versioned_hash: &B256) -> Option<Bytes> {
        self.0.iter().find(|(hash, _)| hash == versioned_hash).map(|(_, blob)| blob.clone())
    }
}

/// A stand-in versioned hash for blob `index` (EXECUTE looks blobs up by hash; the KZG
/// commitment behind it is the L1 mempool's to check).
fn versioned_hash(index: u8) -> B256 {
    let mut hash = B256::repeat_byte(index);
    hash[0] = 1;
    hash
}

#[test]
fn blob_mode_reads_only_the_calling_transactions_blobs() {
    let batch = honest_batch();
    let (blobs, _) = blob::trace_to_blobs(&batch.bytes(), Codec::DEFAULT).unwrap();
    let hashes: Vec<B256> = (0..blobs.len()).map(|index| versioned_hash(index as u8 + 1)).collect();
    let held = HeldBlobs(hashes.iter().copied().zip(blobs.into_iter().map(Bytes::from)).collect());
    let execute = ExecutePrecompile::new(ExecuteSettings::default()).with_blobs(Arc::new(held));
    let bindings = honest_bindings(&batch);
    let input = |envelope: &[B256]| {
        encode_bound_call(
            batch.pre_state_root,
            batch.post_state_root,
            batch.gas_used,
            &bindings,
            &blob_envelope(envelope),
        )
    };
    assert!(output_bool(&call_with(execute.clone(), input(&hashes), 16_000_000, hashes.clone())));
    // The same blobs named by a transaction that does not carry them.
    let other = vec![versioned_hash(0x77)];
    assert!(!output_bool(&call_with(execute.clone(), input(&hashes), 16_000_000, other)));
    // Blobs the node does not hold.
    let unknown = vec![versioned_hash(0x55)];
    assert!(!output_bool(&call_with(execute.clone(), input(&unknown), 16_000_000, unknown.clone())));
    // Without a blob source, blob mode answers false.
    let blind = ExecutePrecompile::new(ExecuteSettings::default());
    assert!(!output_bool(&call_with(blind, input(&hashes), 16_000_000, hashes.clone())));
    // A malformed envelope is data that is neither a trace nor an envelope: false.
    let mut envelope = blob_envelope(&hashes).to_vec();
    envelope.push(0);
    let input =
        encode_bound_call(batch.pre_state_root, batch.post_state_root, batch.gas_used, &bindings, &envelope);
    assert!(!output_bool(&call_with(execute, input, 16_000_000, hashes)));
}

#[test]
fn blob_mode_meters_blobs_before_reading_them() {
    let batch = honest_batch();
    let trace = batch.bytes();
    let (blobs, _) = blob::trace_to_blobs(&trace, Codec::DEFAULT).unwrap();
    let hashes: Vec<B256> = (0..blobs.len()).map(|index| versioned_hash(index as u8 + 1)).collect();
    let held = HeldBlobs(hashes.iter().copied().zip(blobs.into_iter().map(Bytes::from)).collect());
    let execute = ExecutePrecompile::new(ExecuteSettings::default()).with_blobs(Arc::new(held));
    let gas = ExecuteGas::default();
    let input = encode_bound_call(
        batch.pre_state_root,
        batch.post_state_root,
        batch.gas_used,
        &honest_bindings(&batch),
        &blob_envelope(&hashes),
    );
    let cost = gas.cost(trace.len(), U256::from(batch.gas_used)) + gas.blobs_cost(hashes.len());
    use trace_builder::precompile::ExecuteOutcome;
    assert_eq!(execute.run(&input, cost, &hashes), ExecuteOutcome::Answered { gas: cost, invalid: None });
    assert_eq!(execute.run(&input, cost - 1, &hashes), ExecuteOutcome::OutOfGas);
    let decoded = Trace::decode(&trace).unwrap();
    assert_eq!(decoded, batch.trace);
}
