//! ethereum/tests BlockchainTests through the project's block executor under L1 rules.

use std::path::PathBuf;
use trace_builder::blockchain_test::{parse_file, run};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/ethereum-tests"))
}

/// Every BlockchainTests file in the fixtures (every JSON file but the trie vectors).
fn blockchain_test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures directory ../shared/fixtures/ethereum-tests")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .filter(|path| path.file_name().is_some_and(|n| n != "trietest.json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_blockchain_test_passes() {
    let files = blockchain_test_files();
    assert!(files.len() >= 5, "expected the five BlockchainTests files, found {files:?}");
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let tests = parse_file(&std::fs::read_to_string(file).unwrap()).unwrap();
        for (name, test) in &tests {
            count += 1;
            if let Err(reason) = run(test) {
                failures.push(format!("{}: {name}: {reason}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} failed:\n{}", failures.len(), failures.join("\n"));
    assert!(count >= 5);
}

#[test]
fn a_wrong_expectation_fails() {
    let file = fixtures().join("basefeeExample.json");
    let mut tests = parse_file(&std::fs::read_to_string(file).unwrap()).unwrap();
    let test = tests.values_mut().next().unwrap();
    let account = test.post_state.as_mut().unwrap().values_mut().next().unwrap();
    account.balance += alloy_primitives::U256::from(1);
    assert!(run(test).unwrap_err().contains("post state"));

    let mut tests = parse_file(&std::fs::read_to_string(fixtures().join("SimpleTx.json")).unwrap()).unwrap();
    let test = tests.values_mut().next().unwrap();
    // Flip a byte inside the block RLP's state root: the sealed header no longer matches.
    let mut rlp = test.blocks[0].rlp.to_vec();
    rlp[100] ^= 1;
    test.blocks[0].rlp = rlp.into();
    assert!(run(test).is_err());
}
