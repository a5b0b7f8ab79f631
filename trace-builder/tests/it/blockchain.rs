//! ethereum/tests and execution-spec-tests BlockchainTests through the executor, the state trie
//! and header sealing.

use crate::blockchain_test::{self, BlockchainTest, BlockchainTestError, BlockchainTestFile, Rejection};
use alloy_primitives::{B256, U64, U256};

/// ethereum/tests fixtures.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ethereum-tests/");
/// execution-spec-tests release fixtures.
pub const EEST_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/execution-spec-tests/");

fn load_from(dir: &str, file: &str) -> BlockchainTestFile {
    let path = format!("{dir}{file}");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    blockchain_test::parse(&json).unwrap()
}

fn load(file: &str) -> BlockchainTestFile {
    load_from(FIXTURES, file)
}

/// Runs every test of a fixture file; returns how many ran.
fn run_from(dir: &str, file: &str) -> usize {
    let tests = load_from(dir, file);
    assert!(!tests.is_empty(), "{file} holds no test");
    for (name, test) in &tests {
        if let Err(error) = blockchain_test::run(test) {
            panic!("{file} / {name}: {error}");
        }
    }
    tests.len()
}

fn run_file(file: &str) {
    run_from(FIXTURES, file);
}

fn run_eest(file: &str) {
    run_from(EEST_FIXTURES, file);
}

/// The test of an execution-spec-tests file whose name contains `part`.
fn eest_test(file: &str, part: &str) -> (String, BlockchainTest) {
    load_from(EEST_FIXTURES, file)
        .into_iter()
        .find(|(name, _)| name.contains(part))
        .unwrap_or_else(|| panic!("{file} has no test named like {part}"))
}

/// Every JSON file of `dir` but the trie vectors, sorted.
fn fixture_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json") && name != "trietest.json")
        .collect();
    files.sort();
    files
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

// EIP-4844 blob transactions (type 3), Cancun, from ethereum/tests.

#[test]
fn valid_blob_tx_combinations() {
    run_file("valid_blob_tx_combinations.json");
}

#[test]
fn invalid_block_blob_count() {
    run_file("invalid_block_blob_count.json");
}

#[test]
fn invalid_blob_gas_used_in_header() {
    run_file("invalid_blob_gas_used_in_header.json");
}

#[test]
fn type_3_without_blobs_with_a_creation_with_too_many_blobs_or_a_bad_hash_version() {
    for file in [
        "emptyBlobhashList.json",
        "createBlobhashTx.json",
        "blobhashListBounds7.json",
        "wrongBlobhashVersion.json",
    ] {
        run_file(file);
    }
}

#[test]
fn chains_go_on_from_the_last_valid_block() {
    run_file("RefundOverflow.json");
    run_file("badBlocks.json");
}

// EIP-4844, EIP-7691, EIP-7594 and EIP-7918 on Cancun, Prague and Osaka, from an
// execution-spec-tests release.

#[test]
fn eest_invalid_tx_max_fee_per_blob_gas() {
    run_eest("test_invalid_tx_max_fee_per_blob_gas.json");
}

#[test]
fn eest_invalid_tx_blob_count() {
    run_eest("test_invalid_tx_blob_count.json");
}

#[test]
fn eest_invalid_blob_tx_contract_creation() {
    run_eest("test_invalid_blob_tx_contract_creation.json");
}

#[test]
fn eest_invalid_excess_blob_gas_above_target_change() {
    run_eest("test_invalid_excess_blob_gas_above_target_change.json");
}

#[test]
fn eest_correct_increasing_blob_gas_costs() {
    run_eest("test_correct_increasing_blob_gas_costs.json");
}

#[test]
fn eest_max_blobs_per_tx_osaka() {
    run_eest("test_invalid_max_blobs_per_tx.json");
    run_eest("test_valid_max_blobs_per_tx.json");
}

#[test]
fn eest_reserve_price_boundary_osaka() {
    run_eest("test_reserve_price_boundary.json");
}

/// Every BlockchainTests file of both fixture directories (all JSON files but the trie
/// vectors), so that a fixture added there runs without a new test.
#[test]
fn every_fixture_file_passes() {
    let files = fixture_files(FIXTURES);
    assert!(files.len() >= 14, "expected the fourteen ethereum/tests files, found {files:?}");
    let eest = fixture_files(EEST_FIXTURES);
    assert!(eest.len() >= 8, "expected the eight execution-spec-tests files, found {eest:?}");
    let mut networks = std::collections::BTreeSet::new();
    for file in &eest {
        networks.extend(load_from(EEST_FIXTURES, file).into_values().map(|test| test.network));
    }
    assert_eq!(networks.into_iter().collect::<Vec<_>>(), ["Cancun", "Osaka", "Prague"]);
    let tests: usize = files.iter().map(|file| run_from(FIXTURES, file)).sum::<usize>()
        + eest.iter().map(|file| run_from(EEST_FIXTURES, file)).sum::<usize>();
    assert!(tests >= 200, "{tests} tests");
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

#[test]
fn blob_fee_cap_block_marked_valid_fails() {
    // The fixture's block is invalid for its blob fee cap (zero): without `expectException` it
    // must fail, and for that reason.
    let (name, mut test) =
        eest_test("test_invalid_tx_max_fee_per_blob_gas.json", "fork_Prague-invalid_max_fee");
    assert_eq!(test.blocks.len(), 1, "{name}");
    test.blocks[0].expect_exception = None;
    match blockchain_test::run(&test) {
        Err(BlockchainTestError::Block { index: 0, reason, .. }) => {
            assert!(reason.contains("max fee per blob gas"), "{name}: {reason}");
        }
        other => panic!("{name}: gave {other:?}"),
    }
}

#[test]
fn rejection_for_another_reason_is_reported() {
    let (name, mut test) =
        eest_test("test_invalid_tx_max_fee_per_blob_gas.json", "fork_Osaka-invalid_max_fee");
    test.blocks[0].expect_exception = Some("BlockException.INCORRECT_EXCESS_BLOB_GAS".into());
    assert!(
        matches!(
            blockchain_test::run(&test),
            Err(BlockchainTestError::WrongException { index: 0, ref reason, .. }) if reason.contains("blob gas")
        ),
        "{name}: a blob fee rejection passed for an excess blob gas one"
    );
    // One of several alternatives is enough; a name the harness does not know accepts any
    // rejection.
    test.blocks[0].expect_exception = Some(
        "BlockException.INCORRECT_EXCESS_BLOB_GAS|TransactionException.INSUFFICIENT_MAX_FEE_PER_BLOB_GAS"
            .into(),
    );
    blockchain_test::run(&test).unwrap();
    test.blocks[0].expect_exception = Some("TransactionException.SOMETHING_NEW".into());
    blockchain_test::run(&test).unwrap();
}

#[test]
fn too_many_blobs_block_marked_valid_fails() {
    let (name, mut test) = load("invalid_block_blob_count.json")
        .into_iter()
        .find(|(name, _)| name.contains("(1, 1, 1, 1, 1, 1, 1)"))
        .unwrap();
    test.blocks[0].expect_exception = None;
    match blockchain_test::run(&test) {
        Err(BlockchainTestError::Block { index: 0, reason, .. }) => {
            assert!(reason.contains("blob gas left in the block"), "{name}: {reason}");
        }
        other => panic!("{name}: gave {other:?}"),
    }
}

#[test]
fn exception_names_are_told_apart() {
    use blockchain_test::exception_matches;
    let excess = Rejection::Header("excess blob gas");
    let used = Rejection::Header("blob gas used");
    assert!(exception_matches("BlockException.INCORRECT_EXCESS_BLOB_GAS", &excess));
    assert!(!exception_matches("BlockException.INCORRECT_EXCESS_BLOB_GAS", &used));
    assert!(exception_matches(
        "BlockException.BLOB_GAS_USED_ABOVE_LIMIT|BlockException.INCORRECT_BLOB_GAS_USED",
        &used
    ));
    assert!(!exception_matches("TransactionException.TYPE_3_TX_ZERO_BLOBS", &Rejection::Decode));
    assert!(exception_matches("TransactionException.TYPE_3_TX_CONTRACT_CREATION", &Rejection::Decode));
    assert!(exception_matches("BlockException.NOT_IN_THE_TABLE", &Rejection::Other));
}

#[test]
fn blob_schedule_must_be_the_executors() {
    let (name, mut test) = eest_test("test_valid_max_blobs_per_tx.json", "blob_count_6");
    blockchain_test::run(&test).unwrap();
    let config = test.config.as_mut().unwrap();
    config.blob_schedule.get_mut("Osaka").unwrap().max = U64::from(12);
    assert!(
        matches!(blockchain_test::run(&test), Err(BlockchainTestError::BlobSchedule(_))),
        "{name}: another blob schedule passed"
    );
}

#[test]
fn tampered_post_state_hash_fails() {
    let (name, mut test) = eest_test("test_valid_max_blobs_per_tx.json", "blob_count_1");
    test.post_state = None;
    test.post_state_hash = Some(B256::repeat_byte(7));
    assert!(
        matches!(blockchain_test::run(&test), Err(BlockchainTestError::PostStateHash { .. })),
        "{name}: a wrong post state root passed"
    );
}
