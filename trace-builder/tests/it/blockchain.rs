//! ethereum/tests BlockchainTests through the executor, the state trie and header sealing.

use crate::blockchain_test::{self, BlockchainTestError, BlockchainTestFile};
use alloy_primitives::U256;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ethereum-tests/");

fn load(file: &str) -> BlockchainTestFile {
    let path = format!("{FIXTURES}{file}");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    blockchain_test::parse(&json).unwrap()
}

fn run_file(file: &str) {
    let tests = load(file);
    assert!(!tests.is_empty(), "{file} holds no test");
    for (name, test) in &tests {
        if let Err(error) = blockchain_test::run(test) {
            panic!("{file} / {name}: {error}");
        }
    }
}

#[test]
fn simple_tx() {
    run_file("SimpleTx.json");
}

#[test]
fn create_contract_sstore_during_init() {
    run_file("CREATE_ContractSSTOREDuringInit.json");
}

#[test]
fn basefee_example() {
    run_file("basefeeExample.json");
}

#[test]
fn simple_suicide() {
    run_file("simpleSuicide.json");
}

#[test]
fn block_with_all_transaction_types() {
    run_file("blockWithAllTransactionTypes.json");
}

/// Every BlockchainTests file of the fixtures directory (all JSON files but the trie vectors),
/// so that a fixture added there runs without a new test.
#[test]
fn every_fixture_file_passes() {
    let mut files: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json") && name != "trietest.json")
        .collect();
    files.sort();
    assert!(files.len() >= 5, "expected the five BlockchainTests files, found {files:?}");
    for file in &files {
        run_file(file);
    }
}

#[test]
fn tampered_post_state_balance_fails() {
    let (name, mut test) = load("SimpleTx.json").into_iter().next().unwrap();
    let post = test.post_state.as_mut().unwrap();
    let (address, account) = post.iter_mut().next().unwrap();
    let address = *address;
    account.balance += U256::from(1);
    match blockchain_test::run(&test) {
        Err(BlockchainTestError::PostState { address: reported, field, .. }) => {
            assert_eq!(reported, address, "{name}");
            assert_eq!(field, "balance", "{name}");
        }
        other => panic!("{name}: tampered balance gave {other:?}"),
    }
}

#[test]
fn tampered_post_state_storage_fails() {
    let (name, mut test) = load("CREATE_ContractSSTOREDuringInit.json").into_iter().next().unwrap();
    let post = test.post_state.as_mut().unwrap();
    let (_, account) = post.iter_mut().find(|(_, account)| !account.storage.is_empty()).unwrap();
    for value in account.storage.values_mut() {
        *value += U256::from(1);
    }
    assert!(
        matches!(
            blockchain_test::run(&test),
            Err(BlockchainTestError::PostState { ref field, .. }) if field.starts_with("storage")
        ),
        "{name}: tampered storage passed"
    );
}

#[test]
fn missing_post_state_account_fails() {
    let (name, mut test) = load("simpleSuicide.json").into_iter().next().unwrap();
    let post = test.post_state.as_mut().unwrap();
    let first = *post.keys().next().unwrap();
    post.remove(&first);
    assert!(
        matches!(
            blockchain_test::run(&test),
            Err(BlockchainTestError::PostState { ref field, .. }) if field == "existence"
        ),
        "{name}: an unlisted account passed"
    );
}

#[test]
fn tampered_last_block_hash_fails() {
    let (name, mut test) = load("basefeeExample.json").into_iter().next().unwrap();
    test.lastblockhash.0[0] ^= 1;
    assert!(
        matches!(blockchain_test::run(&test), Err(BlockchainTestError::LastBlockHash { .. })),
        "{name}: a wrong head passed"
    );
}

#[test]
fn block_marked_invalid_must_fail() {
    let (name, mut test) = load("SimpleTx.json").into_iter().next().unwrap();
    test.blocks[0].expect_exception = Some("TEST_ONLY".into());
    assert!(
        matches!(blockchain_test::run(&test), Err(BlockchainTestError::ExpectedFailure { index: 0, .. })),
        "{name}: a valid block marked invalid passed"
    );
}

#[test]
fn tampered_block_state_root_fails() {
    // One flipped bit in the header's state root: execution is unchanged, the state root
    // check must catch it.
    let (name, mut test) = load("SimpleTx.json").into_iter().next().unwrap();
    let rlp = test.blocks[0].rlp.to_vec();
    let block: alloy_consensus::Block<alloy_consensus::TxEnvelope> = alloy_rlp::decode_exact(&rlp).unwrap();
    let at = rlp.windows(32).position(|w| w == block.header.state_root.as_slice()).unwrap();
    let mut tampered = rlp;
    tampered[at] ^= 1;
    test.blocks[0].rlp = tampered.into();
    match blockchain_test::run(&test) {
        Err(BlockchainTestError::Block { index: 0, reason, .. }) => {
            assert!(reason.contains("state root"), "{name}: {reason}");
        }
        other => panic!("{name}: tampered state root gave {other:?}"),
    }
}

#[test]
fn recorded_state_answers_only_recorded_reads() {
    use alloy_primitives::{Address, B256, Bytes};
    use revm::Database;
    use trace_builder::{
        StateAccess,
        error::MemoryStateError,
        memory_state::{MemoryState, RecordedState},
    };

    let mut state = MemoryState::default();
    let address = Address::repeat_byte(1);
    let slot = U256::from(3);
    state.insert_account(
        address,
        1,
        U256::from(5),
        Bytes::from_static(&[0x00]),
        [(slot, U256::from(9))].into(),
    );
    state.insert_block_hash(0, B256::repeat_byte(2));
    let code_hash = state.account(&address).unwrap().code_hash;

    let nothing = StateAccess::default();
    let mut blind = RecordedState { state: &state, access: &nothing };
    assert!(matches!(blind.basic(address), Err(MemoryStateError::NotRecorded(_))));
    assert!(matches!(blind.storage(address, slot), Err(MemoryStateError::NotRecorded(_))));
    assert!(matches!(blind.code_by_hash(code_hash), Err(MemoryStateError::NotRecorded(_))));
    assert!(matches!(blind.block_hash(0), Err(MemoryStateError::NotRecorded(_))));

    let mut all = StateAccess::default();
    all.accounts.insert(address);
    all.storage.entry(address).or_default().insert(slot);
    all.codes.insert(code_hash);
    all.block_hashes.insert(0);
    let mut seeing = RecordedState { state: &state, access: &all };
    assert_eq!(seeing.basic(address).unwrap().unwrap().nonce, 1);
    assert_eq!(seeing.storage(address, slot).unwrap(), U256::from(9));
    assert_eq!(seeing.code_by_hash(code_hash).unwrap().len(), 1);
    assert_eq!(seeing.block_hash(0).unwrap(), B256::repeat_byte(2));
}
