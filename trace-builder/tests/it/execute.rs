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
use trace_builder::{
    ChainConfig, InvalidTrace, execute,
    precompile::{
        DEFAULT_EXECUTE_ADDRESS, ExecuteGas, ExecutePrecompile, PrecompilesWithExecute, encode_call,
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
    let caller = Address::repeat_byte(0xca);
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(
        caller,
        AccountInfo { balance: U256::from(10u64).pow(U256::from(20)), ..Default::default() },
    );
    let execute = ExecutePrecompile::new(ChainConfig::l2(CHAIN_ID)).with_gas(gas);
    let precompiles = PrecompilesWithExecute::new(SpecId::OSAKA, execute);
    let mut evm = Context::mainnet().with_db(db).build_mainnet().with_precompiles(precompiles);
    let tx = TxEnv {
        caller,
        kind: TxKind::Call(DEFAULT_EXECUTE_ADDRESS),
        data: input,
        gas_limit,
        gas_price: 0,
        chain_id: Some(1),
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
