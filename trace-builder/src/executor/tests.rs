//! Behaviour of the executor a user would notice, on small hand-made blocks.

use super::*;
use crate::{
    error::InputError,
    memory_state::MemoryState,
    state::{AccountChange, AccountState},
};
use alloy_consensus::{
    EMPTY_ROOT_HASH, SignableTransaction, TxEip1559, TxEip4844, TxEip7702, transaction::SignerRecoverable,
};
use alloy_eips::{
    eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS,
    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, eip7685::EMPTY_REQUESTS_HASH, eip7702::Authorization,
};
use alloy_primitives::{KECCAK256_EMPTY, TxKind, U256, address, b256, bytes, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use revm::context::result::InvalidTransaction;
use std::collections::BTreeMap;

const CHAIN_ID: u64 = 1337;
const GWEI: u128 = 1_000_000_000;
const ETHER: u128 = 1_000_000_000_000_000_000;
const BASE_FEE: u64 = 1_000_000_000;
const COINBASE: Address = address!("0x00000000000000000000000000000000000c0ffe");
const HEIR: Address = address!("0x0000000000000000000000000000000000001111");

fn key(n: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::with_last_byte(n)).unwrap()
}

/// The L2 genesis of these tests: the four system contracts and a funded sender.
fn state() -> MemoryState {
    let mut state = MemoryState::with_system_contracts();
    state.insert_account(key(1).address(), 0, U256::from(10 * ETHER), Bytes::new(), BTreeMap::new());
    state
}

fn parent() -> Header {
    Header {
        number: 0,
        timestamp: 1_000,
        gas_limit: 30_000_000,
        // At target: the block's base fee stays BASE_FEE.
        gas_used: 15_000_000,
        base_fee_per_gas: Some(BASE_FEE),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Header::default()
    }
}

fn inputs() -> BlockInputs {
    BlockInputs {
        number: 1,
        timestamp: 1_012,
        beneficiary: COINBASE,
        gas_limit: 30_000_000,
        prev_randao: B256::repeat_byte(7),
        extra_data: bytes!("0x42"),
        parent_beacon_block_root: B256::repeat_byte(0xbe),
        withdrawals: Vec::new(),
    }
}

fn chain() -> ChainConfig {
    ChainConfig::l2(CHAIN_ID)
}

fn executor(state: &mut MemoryState) -> BlockExecutor<&mut MemoryState> {
    BlockExecutor::new(state, &chain(), &parent(), &inputs()).unwrap()
}

fn sign<T>(signer: &PrivateKeySigner, tx: T) -> Recovered<TxEnvelope>
where
    T: SignableTransaction<alloy_primitives::Signature>,
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).try_into_recovered().unwrap()
}

fn call(nonce: u64, to: Address, gas_limit: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(to),
        ..TxEip1559::default()
    }
}

fn deploy(state: &mut MemoryState, address: Address, code: Bytes) {
    state.insert_account(address, 1, U256::ZERO, code, BTreeMap::new());
}

fn info(executed: &ExecutedBlock, address: Address) -> AccountState {
    executed.changes.accounts[&address].info.clone().unwrap()
}

#[test]
fn reverted_transaction_keeps_nonce_and_fee() {
    let mut state = state();
    let reverter = address!("0x00000000000000000000000000000000000000aa");
    // PUSH1 0 PUSH1 0 REVERT
    deploy(&mut state, reverter, bytes!("0x60006000fd"));
    let sender = key(1).address();

    let mut executor = executor(&mut state);
    let outcome = executor.execute_transaction(&sign(&key(1), call(0, reverter, 100_000))).unwrap();
    assert!(!outcome.success);
    assert!(!outcome.receipt.status());
    assert_eq!(outcome.gas_used, 21_006);
    assert_eq!(outcome.receipt.cumulative_gas_used(), 21_006);
    assert_eq!(outcome.effective_gas_price, 2 * GWEI);
    let executed = executor.finish().unwrap();

    let paid = U256::from(21_006 * 2 * GWEI);
    assert_eq!(
        info(&executed, sender),
        AccountState { nonce: 1, balance: U256::from(10 * ETHER) - paid, code_hash: KECCAK256_EMPTY }
    );
    // The priority fee goes to the beneficiary; the base fee is burnt.
    assert_eq!(info(&executed, COINBASE).balance, U256::from(21_006 * GWEI));
    // The reverted call changed nothing of the contract.
    assert!(!executed.changes.accounts.contains_key(&reverter));
    assert_eq!(executed.gas_used, 21_006);
}

#[test]
fn invalid_transaction_leaves_state_untouched() {
    let mut state = state();
    let sender = key(1).address();
    let to = address!("0x00000000000000000000000000000000000000bb");
    let mut executor = executor(&mut state);

    let too_high = sign(&key(1), call(5, to, 21_000));
    match executor.execute_transaction(&too_high) {
        Err(TransactionError::Invalid {
            hash,
            reason: InvalidTransaction::NonceTooHigh { tx: 5, state: 0 },
        }) => assert_eq!(hash, *too_high.tx_hash()),
        other => panic!("nonce too high gave {other:?}"),
    }
    let mut cheap = call(0, to, 21_000);
    cheap.max_fee_per_gas = u128::from(BASE_FEE) - 1;
    cheap.max_priority_fee_per_gas = 0;
    assert!(matches!(
        executor.execute_transaction(&sign(&key(1), cheap)),
        Err(TransactionError::Invalid { reason: InvalidTransaction::GasPriceLessThanBasefee, .. })
    ));
    let mut wrong_chain = call(0, to, 21_000);
    wrong_chain.chain_id = CHAIN_ID + 1;
    assert!(matches!(
        executor.execute_transaction(&sign(&key(1), wrong_chain)),
        Err(TransactionError::Invalid { reason: InvalidTransaction::InvalidChainId, .. })
    ));
    let mut rich = call(0, to, 21_000);
    rich.value = U256::from(100 * ETHER);
    assert!(matches!(
        executor.execute_transaction(&sign(&key(1), rich)),
        Err(TransactionError::Invalid { reason: InvalidTransaction::LackOfFundForMaxFee { .. }, .. })
    ));
    let greedy = sign(&key(1), call(0, to, 30_000_001));
    let error = executor.execute_transaction(&greedy).unwrap_err();
    assert!(error.is_block_full(), "{error}");
    assert_eq!(executor.gas_used(), 0);
    let executed = executor.finish().unwrap();

    assert!(executed.receipts.is_empty());
    assert_eq!(executed.gas_used, 0);
    for untouched in [sender, to, COINBASE] {
        assert!(!executed.changes.accounts.contains_key(&untouched), "{untouched} changed");
    }
    // Only the system calls wrote.
    let changed: Vec<_> = executed.changes.accounts.keys().copied().collect();
    assert_eq!(changed, [HISTORY_STORAGE_ADDRESS, BEACON_ROOTS_ADDRESS]);
    // What the rejected transactions read is not the block's to prove.
    assert!(!executed.access.accounts.contains(&sender));
}

#[test]
fn rejected_transaction_does_not_disturb_the_next_one() {
    let mut state = state();
    let to = address!("0x00000000000000000000000000000000000000bb");
    let mut executor = executor(&mut state);
    assert!(executor.execute_transaction(&sign(&key(1), call(1, to, 21_000))).is_err());
    let outcome = executor.execute_transaction(&sign(&key(1), call(0, to, 21_000))).unwrap();
    assert!(outcome.success);
    assert_eq!(outcome.receipt.cumulative_gas_used(), 21_000);
    let executed = executor.finish().unwrap();
    assert_eq!(executed.receipts.len(), 1);
    assert_eq!(info(&executed, key(1).address()).nonce, 1);
    // The sender was first read by the rejected transaction, then served from the cache: the
    // included one still records it.
    assert!(executed.access.accounts.contains(&key(1).address()));
}

#[test]
fn selfdestruct_in_the_creating_transaction_deletes_the_account() {
    let mut state = state();
    let sender = key(1).address();
    let created = sender.create(0);
    // The address already holds ether: the account exists before the block.
    state.insert_account(created, 0, U256::from(ETHER), Bytes::new(), BTreeMap::new());
    // Init code: PUSH20 HEIR SELFDESTRUCT
    let mut init = vec![0x73];
    init.extend_from_slice(HEIR.as_slice());
    init.push(0xff);
    let create = TxEip1559 { to: TxKind::Create, input: init.into(), ..call(0, Address::ZERO, 200_000) };

    let mut executor = executor(&mut state);
    let outcome = executor.execute_transaction(&sign(&key(1), create)).unwrap();
    assert!(outcome.success);
    assert_eq!(outcome.contract_address, Some(created));
    let executed = executor.finish().unwrap();

    assert_eq!(
        executed.changes.accounts[&created],
        AccountChange { info: None, storage_wiped: true, storage: BTreeMap::new() }
    );
    assert_eq!(info(&executed, HEIR).balance, U256::from(ETHER));
}

#[test]
fn selfdestruct_of_an_older_contract_only_moves_its_balance() {
    let mut state = state();
    let contract = address!("0x00000000000000000000000000000000000000cc");
    let mut code = vec![0x73];
    code.extend_from_slice(HEIR.as_slice());
    code.push(0xff);
    let code = Bytes::from(code);
    state.insert_account(
        contract,
        1,
        U256::from(ETHER),
        code.clone(),
        BTreeMap::from([(U256::from(1), U256::from(1))]),
    );
    let mut executor = executor(&mut state);
    assert!(executor.execute_transaction(&sign(&key(1), call(0, contract, 100_000))).unwrap().success);
    let executed = executor.finish().unwrap();
    // EIP-6780: code, nonce and storage stay.
    assert_eq!(
        executed.changes.accounts[&contract],
        AccountChange {
            info: Some(AccountState { nonce: 1, balance: U256::ZERO, code_hash: keccak256(&code) }),
            storage_wiped: false,
            storage: BTreeMap::new(),
        }
    );
    assert_eq!(info(&executed, HEIR).balance, U256::from(ETHER));
}

#[test]
fn eip7702_delegation_is_recorded_in_the_code() {
    let mut state = state();
    let authority = key(2);
    let delegate = address!("0x00000000000000000000000000000000000000dd");
    let authorization = Authorization { chain_id: U256::from(CHAIN_ID), address: delegate, nonce: 0 };
    let signature = authority.sign_hash_sync(&authorization.signature_hash()).unwrap();
    let tx = TxEip7702 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 100_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: authority.address(),
        authorization_list: vec![authorization.into_signed(signature)],
        ..TxEip7702::default()
    };

    let mut executor = executor(&mut state);
    assert!(executor.execute_transaction(&sign(&key(1), tx)).unwrap().success);
    let executed = executor.finish().unwrap();

    let designation: Bytes = [&[0xef, 0x01, 0x00][..], delegate.as_slice()].concat().into();
    let code_hash = keccak256(&designation);
    assert_eq!(
        info(&executed, authority.address()),
        AccountState { nonce: 1, balance: U256::ZERO, code_hash }
    );
    assert_eq!(executed.changes.codes.get(&code_hash), Some(&designation));
}

#[test]
fn access_records_a_slot_only_read_and_an_account_only_balance_checked() {
    let mut state = state();
    let reader = address!("0x00000000000000000000000000000000000000ee");
    let probed = address!("0x00000000000000000000000000000000000000ff");
    // PUSH1 5 SLOAD POP PUSH20 probed BALANCE POP STOP
    let mut code = vec![0x60, 0x05, 0x54, 0x50, 0x73];
    code.extend_from_slice(probed.as_slice());
    code.extend_from_slice(&[0x31, 0x50, 0x00]);
    let code = Bytes::from(code);
    state.insert_account(
        reader,
        1,
        U256::ZERO,
        code.clone(),
        BTreeMap::from([(U256::from(5), U256::from(42))]),
    );
    state.insert_account(probed, 0, U256::from(7), Bytes::new(), BTreeMap::new());

    let mut executor = executor(&mut state);
    assert!(executor.execute_transaction(&sign(&key(1), call(0, reader, 100_000))).unwrap().success);
    let executed = executor.finish().unwrap();

    assert!(executed.access.accounts.contains(&probed));
    assert!(executed.access.storage[&reader].contains(&U256::from(5)));
    assert!(executed.access.codes.contains(&keccak256(&code)));
    // Read, not written.
    assert!(!executed.changes.accounts.contains_key(&probed));
    assert!(!executed.changes.accounts.contains_key(&reader));
}

#[test]
fn later_transactions_see_earlier_writes() {
    let mut state = state();
    let counter = address!("0x0000000000000000000000000000000000000c01");
    // PUSH1 0 SLOAD PUSH1 1 ADD PUSH1 0 SSTORE STOP
    deploy(&mut state, counter, bytes!("0x60005460010160005500"));
    let mut executor = executor(&mut state);
    for nonce in 0..3 {
        assert!(executor.execute_transaction(&sign(&key(1), call(nonce, counter, 100_000))).unwrap().success);
    }
    let executed = executor.finish().unwrap();
    assert_eq!(executed.changes.accounts[&counter].storage, BTreeMap::from([(U256::ZERO, U256::from(3))]));
    assert_eq!(info(&executed, key(1).address()).nonce, 3);
    assert_eq!(executed.access.storage[&counter], [U256::ZERO].into_iter().collect());
}

#[test]
fn system_calls_store_the_parent_hash_and_the_beacon_root() {
    let mut state = state();
    let executed = executor(&mut state).finish().unwrap();
    let inputs = inputs();
    let ring = 8191;
    let beacon = &executed.changes.accounts[&BEACON_ROOTS_ADDRESS].storage;
    assert_eq!(beacon.get(&U256::from(inputs.timestamp % ring)), Some(&U256::from(inputs.timestamp)));
    assert_eq!(
        beacon.get(&U256::from(inputs.timestamp % ring + ring)),
        Some(&U256::from_be_bytes(inputs.parent_beacon_block_root.0))
    );
    let history = &executed.changes.accounts[&HISTORY_STORAGE_ADDRESS].storage;
    assert_eq!(history.get(&U256::ZERO), Some(&U256::from_be_bytes(parent().hash_slow().0)));
    assert!(executed.requests.is_empty() || executed.requests.requests_hash() == EMPTY_REQUESTS_HASH);
}

#[test]
fn missing_request_contract_invalidates_the_block() {
    let mut state = MemoryState::default();
    let error = executor(&mut state).finish().unwrap_err();
    assert_eq!(
        error,
        ExecutionError::MissingSystemContract { number: 1, address: WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS }
    );
}

#[test]
fn withdrawals_are_credited_after_the_transactions() {
    let mut state = state();
    let recipient = address!("0x0000000000000000000000000000000000000a11");
    let withdrawal = Withdrawal { index: 0, validator_index: 9, address: recipient, amount: 5 };
    let inputs = BlockInputs { withdrawals: vec![withdrawal], ..inputs() };
    let executed = BlockExecutor::new(&mut state, &chain(), &parent(), &inputs).unwrap().finish().unwrap();
    assert_eq!(info(&executed, recipient).balance, U256::from(5 * GWEI));
}

#[test]
fn header_inputs_follow_the_l1_rules() {
    let mut state = state();
    let mut check = |inputs: BlockInputs| match BlockExecutor::new(&mut state, &chain(), &parent(), &inputs) {
        Err(ExecutionError::InvalidInputs { reason, .. }) => reason,
        other => panic!("{inputs:?} gave {other:?}"),
    };
    assert!(matches!(
        check(BlockInputs { number: 2, ..inputs() }),
        InputError::Number { parent: 0, number: 2 }
    ));
    assert!(matches!(check(BlockInputs { timestamp: 1_000, ..inputs() }), InputError::Timestamp { .. }));
    let bound = 30_000_000 / 1024;
    assert!(matches!(
        check(BlockInputs { gas_limit: 30_000_000 + bound, ..inputs() }),
        InputError::GasLimit { .. }
    ));
    assert!(matches!(
        check(BlockInputs { extra_data: Bytes::from(vec![0; 33]), ..inputs() }),
        InputError::ExtraData(33)
    ));
    assert!(
        BlockExecutor::new(
            &mut state,
            &chain(),
            &parent(),
            &BlockInputs { gas_limit: 30_000_000 + bound - 1, ..inputs() },
        )
        .is_ok()
    );
    assert!(matches!(
        BlockExecutor::new(&mut state, &ChainConfig::l1(1, SpecId::AMSTERDAM), &parent(), &inputs()),
        Err(ExecutionError::UnsupportedSpec { .. })
    ));
}

fn blob_tx(nonce: u64, blobs: usize) -> TxEip4844 {
    TxEip4844 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: address!("0x00000000000000000000000000000000000000b1"),
        blob_versioned_hashes: vec![
            b256!(
                "0x0100000000000000000000000000000000000000000000000000000000000001"
            );
            blobs
        ],
        max_fee_per_blob_gas: 10,
        ..TxEip4844::default()
    }
}

#[test]
fn blob_limits_per_transaction_and_per_block() {
    let mut state = state();
    let mut executor = executor(&mut state);
    // Osaka: at most 6 blobs per transaction (EIP-7594), 9 per block.
    assert!(matches!(
        executor.execute_transaction(&sign(&key(1), blob_tx(0, 7))),
        Err(TransactionError::Invalid { reason: InvalidTransaction::TooManyBlobs { .. }, .. })
    ));
    let outcome = executor.execute_transaction(&sign(&key(1), blob_tx(0, 6))).unwrap();
    assert_eq!(outcome.blob_gas_used, 6 * 131_072);
    assert_eq!(outcome.blob_gas_price, Some(1));
    let error = executor.execute_transaction(&sign(&key(1), blob_tx(1, 4))).unwrap_err();
    assert!(matches!(error, TransactionError::BlobGasExhausted { .. }), "{error}");
    assert!(error.is_block_full());
    let executed = executor.finish().unwrap();
    assert_eq!(executed.blob_gas_used, 6 * 131_072);
}

#[test]
fn sealed_l2_header_carries_every_fork_field() {
    let mut state = state();
    let executed = executor(&mut state).finish().unwrap();
    let header =
        seal_header(&chain(), &parent(), &inputs(), &executed, EMPTY_ROOT_HASH, B256::repeat_byte(1));
    assert_eq!(header.parent_hash, parent().hash_slow());
    assert_eq!(header.base_fee_per_gas, Some(BASE_FEE));
    assert_eq!(header.withdrawals_root, Some(EMPTY_ROOT_HASH));
    assert_eq!(header.receipts_root, EMPTY_ROOT_HASH);
    assert_eq!(header.blob_gas_used, Some(0));
    assert_eq!(header.excess_blob_gas, Some(0));
    assert_eq!(header.parent_beacon_block_root, Some(inputs().parent_beacon_block_root));
    assert_eq!(header.requests_hash, Some(EMPTY_REQUESTS_HASH));
    assert_eq!(header.mix_hash, inputs().prev_randao);
    // Round trip through RLP: what other libraries hash is what we hash.
    let decoded: Header = alloy_rlp::decode_exact(alloy_rlp::encode(&header)).unwrap();
    assert_eq!(decoded.hash_slow(), header.hash_slow());
}

mod random_blocks {
    //! Random blocks of transfers, storage writes and deletions, creations and self-destructs
    //! (some transactions invalid): the block's changes must take the state trie to the root
    //! of the state rebuilt from scratch, and re-executing over only the recorded reads must
    //! give the same block.

    use super::*;
    use crate::{memory_state::RecordedState, state_trie::StateTrie};
    use proptest::prelude::*;

    const COUNTER: Address = address!("0x0000000000000000000000000000000000000c01");
    const CLEARER: Address = address!("0x0000000000000000000000000000000000000c02");
    const EMPTY: Address = address!("0x0000000000000000000000000000000000000e00");

    #[derive(Clone, Debug)]
    enum Op {
        Transfer { from: u8, to: u8, value: u64 },
        Count { from: u8 },
        Clear { from: u8 },
        CreateAndDestroy { from: u8 },
        CreateWithStorage { from: u8 },
        BadNonce { from: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1..5u8, 0..8u8, 0..1_000u64).prop_map(|(from, to, value)| Op::Transfer { from, to, value }),
            (1..5u8).prop_map(|from| Op::Count { from }),
            (1..5u8).prop_map(|from| Op::Clear { from }),
            (1..5u8).prop_map(|from| Op::CreateAndDestroy { from }),
            (1..5u8).prop_map(|from| Op::CreateWithStorage { from }),
            (1..5u8).prop_map(|from| Op::BadNonce { from }),
        ]
    }

    fn recipient(to: u8) -> Address {
        match to {
            1..5 => key(to).address(),
            5 => EMPTY,
            6 => COUNTER,
            _ => Address::with_last_byte(0x80 | to),
        }
    }

    fn genesis() -> MemoryState {
        let mut state = state();
        for n in 2..5 {
            state.insert_account(key(n).address(), 0, U256::from(10 * ETHER), Bytes::new(), BTreeMap::new());
        }
        // PUSH1 0 SLOAD PUSH1 1 ADD PUSH1 0 SSTORE STOP
        deploy(&mut state, COUNTER, bytes!("0x60005460010160005500"));
        // PUSH1 0 PUSH1 0 SSTORE STOP, over a set slot.
        state.insert_account(
            CLEARER,
            1,
            U256::ZERO,
            bytes!("0x600060005500"),
            BTreeMap::from([(U256::ZERO, U256::from(5)), (U256::from(1), U256::from(6))]),
        );
        state.insert_account(EMPTY, 0, U256::ZERO, Bytes::new(), BTreeMap::new());
        state
    }

    fn transaction(op: &Op, nonces: &[u64; 5]) -> Recovered<TxEnvelope> {
        let from = match op {
            Op::Transfer { from, .. }
            | Op::Count { from }
            | Op::Clear { from }
            | Op::CreateAndDestroy { from }
            | Op::CreateWithStorage { from }
            | Op::BadNonce { from } => *from,
        };
        let nonce = nonces[usize::from(from)];
        let mut tx = call(nonce, Address::ZERO, 200_000);
        match op {
            Op::Transfer { to, value, .. } => {
                tx.to = TxKind::Call(recipient(*to));
                tx.value = U256::from(*value);
            }
            Op::Count { .. } => tx.to = TxKind::Call(COUNTER),
            Op::Clear { .. } => tx.to = TxKind::Call(CLEARER),
            Op::CreateAndDestroy { .. } => {
                let mut init = vec![0x73];
                init.extend_from_slice(HEIR.as_slice());
                init.push(0xff);
                tx.to = TxKind::Create;
                tx.input = init.into();
                tx.value = U256::from(3);
            }
            Op::CreateWithStorage { .. } => {
                // SSTORE(1, 7), then return the one-byte code 0x00.
                tx.to = TxKind::Create;
                tx.input = bytes!("0x600760015560006000536001600060f3");
            }
            Op::BadNonce { .. } => tx.nonce = nonce + 1,
        }
        sign(&key(from), tx)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn changes_and_access_are_consistent(ops in proptest::collection::vec(op(), 0..14)) {
            let mut state = genesis();
            let (root, nodes) = state.trie();
            let mut nonces = [0u64; 5];
            let mut transactions = Vec::new();
            let mut executor = executor(&mut state);
            for op in &ops {
                let tx = transaction(op, &nonces);
                if executor.execute_transaction(&tx).is_ok() {
                    let from = (1..5u8).find(|n| key(*n).address() == tx.signer()).unwrap();
                    nonces[usize::from(from)] += 1;
                    transactions.push(tx);
                }
            }
            let executed = executor.finish().unwrap();

            // The recorded reads are enough to execute the block again.
            let recorded = RecordedState { state: &state, access: &executed.access };
            let mut again = BlockExecutor::new(recorded, &chain(), &parent(), &inputs()).unwrap();
            for tx in &transactions {
                again.execute_transaction(tx).unwrap();
            }
            prop_assert_eq!(&again.finish().unwrap(), &executed);

            // The changes take the trie where a rebuild of the changed state is.
            let mut trie = StateTrie::new(&nodes, root);
            let incremental = trie.apply(&executed.changes).unwrap();
            state.apply(&executed.changes);
            prop_assert_eq!(incremental, state.trie().0);
        }
    }
}

#[test]
fn traced_transfers_sit_among_the_logs_in_execution_order() {
    let mut state = state();
    let (forwarder, payee, reverter) = (
        address!("0x00000000000000000000000000000000000000f0"),
        address!("0x00000000000000000000000000000000000000d0"),
        address!("0x00000000000000000000000000000000000000aa"),
    );
    // LOG0(0, 0); CALL(gas, payee, 1); CALL(gas, reverter, 2); STOP
    let call_with = |to: Address, value: u8| {
        let mut code = vec![0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0x60, value, 0x73];
        code.extend_from_slice(to.as_slice());
        code.extend_from_slice(&[0x5a, 0xf1, 0x50]);
        code
    };
    let code =
        [vec![0x60, 0, 0x60, 0, 0xa0], call_with(payee, 1), call_with(reverter, 2), vec![0x00]].concat();
    deploy(&mut state, forwarder, code.into());
    deploy(&mut state, reverter, bytes!("0x60006000fd"));
    let sender = key(1).address();
    let transfer = |from: Address, to: Address, value: u64| {
        let topics = vec![
            b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"),
            from.into_word(),
            to.into_word(),
        ];
        alloy_primitives::Log::new_unchecked(
            TRANSFER_LOG_ADDRESS,
            topics,
            U256::from(value).to_be_bytes_vec().into(),
        )
    };
    let own_log = alloy_primitives::Log::new_unchecked(forwarder, Vec::new(), Bytes::new());

    let mut executor = executor(&mut state);
    let tx = TxEip1559 { value: U256::from(10), ..call(0, forwarder, 200_000) };
    let (outcome, logs) = executor.execute_transaction_tracing_transfers(&sign(&key(1), tx)).unwrap();
    assert!(outcome.success);
    // The reverted call's transfer of 2 is gone with it; the receipt has only the real log.
    assert_eq!(logs, vec![transfer(sender, forwarder, 10), own_log.clone(), transfer(forwarder, payee, 1)]);
    assert_eq!(outcome.receipt.logs(), std::slice::from_ref(&own_log));

    // A creation with value: the transfer names the new contract, before what its init code logs.
    // Init code: LOG0(0, 0); STOP
    let create = TxEip1559 {
        to: TxKind::Create,
        value: U256::from(5),
        input: bytes!("0x60006000a000"),
        ..call(1, Address::ZERO, 200_000)
    };
    let (outcome, logs) = executor.execute_transaction_tracing_transfers(&sign(&key(1), create)).unwrap();
    let created = outcome.contract_address.unwrap();
    let created_log = alloy_primitives::Log::new_unchecked(created, Vec::new(), Bytes::new());
    assert_eq!(logs, vec![transfer(sender, created, 5), created_log]);
    // Untraced, the same executor collects nothing.
    let plain = TxEip1559 { value: U256::from(3), ..call(2, forwarder, 200_000) };
    executor.execute_transaction(&sign(&key(1), plain)).unwrap();
    assert_eq!(
        executor.execute_transaction_tracing_transfers(&sign(&key(1), call(3, payee, 50_000))).unwrap().1,
        vec![]
    );
}
