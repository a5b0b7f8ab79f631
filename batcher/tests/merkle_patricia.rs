//! `MerklePatricia.sol` against the project's own trie (`trace_builder::Trie`), differentially:
//! the committed `MerklePatriciaHarness` runtime code runs in an in-process revm on proofs the
//! Rust trie makes. On random tries (a fixed seed, so a failure reproduces) every present key
//! reads its value, every absent key reads empty, and every tampered proof is refused (or, only
//! where the tampering provably changes nothing, reads the true answer; never a wrong one).
//! Account and storage proofs of random states and the state root of random headers read as
//! the Rust side wrote them. The gas of a realistic `get` is printed, not asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_consensus::Header;
use alloy_primitives::{Address, B64, B256, Bloom, Bytes, U256, address, keccak256, map::B256Map};
use alloy_rlp::Header as RlpHeader;
use alloy_sol_types::{SolCall, SolInterface};
use proptest::{
    prelude::{Rng, RngExt},
    test_runner::{RngAlgorithm, TestRng},
};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::TxEnv,
    context_interface::result::ExecutionResult,
    database::{CacheDB, EmptyDB},
    handler::{MainnetContext, MainnetEvm},
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
};
use std::collections::{BTreeMap, BTreeSet};
use trace_builder::{AccountState, EMPTY_ROOT_HASH, StateTrie, Trie, state_root_of};

alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    #[allow(missing_docs)]
    MerklePatriciaHarness,
    "contracts/artifacts/MerklePatriciaHarness.json"
);

use MerklePatriciaHarness::{
    MerklePatriciaHarnessErrors as Refusal, getCall, headerStateRootCall, storageRootCall, storageValueCall,
};

const HARNESS: Address = address!("0x00000000000000000000000000000000000a11ce");
const CALLER: Address = address!("0x00000000000000000000000000000000000ca11e");
const GAS_LIMIT: u64 = 16_000_000;

type Store = B256Map<Bytes>;

/// The harness in an in-process EVM.
struct Evm(MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>);

/// What a call answered: its return value, or the custom error it reverted with.
type Answer<T> = Result<T, Refusal>;

impl Evm {
    fn new() -> Self {
        let mut db = CacheDB::<EmptyDB>::default();
        let code = Bytecode::new_legacy(MerklePatriciaHarness::DEPLOYED_BYTECODE.clone());
        db.insert_account_info(HARNESS, AccountInfo::default().with_code(code));
        let evm = Context::mainnet()
            .with_db(db)
            .modify_cfg_chained(|cfg| {
                // Cancun, the contracts' EVM version: no EIP-7623 calldata floor, so that the gas
                // spent is the intrinsic gas and the execution's.
                cfg.spec = SpecId::CANCUN;
                cfg.disable_nonce_check = true;
            })
            .build_mainnet();
        Self(evm)
    }

    /// Runs `call` and returns its answer and the gas the transaction spent. A halt (out of
    /// gas, an invalid opcode) or a revert that is not one of the library's custom errors (a
    /// Solidity panic, an empty revert) fails the test.
    fn call<C: SolCall>(&mut self, call: &C) -> (Answer<C::Return>, u64) {
        let tx = TxEnv::builder()
            .caller(CALLER)
            .call(HARNESS)
            .data(call.abi_encode().into())
            .gas_limit(GAS_LIMIT)
            .build_fill();
        match self.0.transact(tx).expect("a valid transaction").result {
            ExecutionResult::Success { output, gas, .. } => {
                (Ok(C::abi_decode_returns(output.data()).expect("the return decodes")), gas.total_gas_spent())
            }
            ExecutionResult::Revert { output, gas, .. } => {
                let refusal = Refusal::abi_decode(&output)
                    .unwrap_or_else(|_| panic!("{} reverted without a custom error: {output}", C::SIGNATURE));
                (Err(refusal), gas.total_gas_spent())
            }
            ExecutionResult::Halt { reason, .. } => panic!("{} halted: {reason:?}", C::SIGNATURE),
        }
    }

    fn get(&mut self, root: B256, key: &[u8], proof: &[Bytes]) -> Answer<Bytes> {
        self.call(&getCall { root, key: Bytes::copy_from_slice(key), proof: proof.to_vec() }).0
    }
}

/// The intrinsic gas of a call with `data` (EIP-2028 calldata pricing).
fn intrinsic_gas(data: &[u8]) -> u64 {
    21_000 + data.iter().map(|&byte| if byte == 0 { 4 } else { 16 }).sum::<u64>()
}

fn rng(seed: u8) -> TestRng {
    TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32])
}

fn random_bytes(rng: &mut TestRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// A value: often a single byte (so that short leaves embed in their parent), else 1..100 bytes.
fn random_value(rng: &mut TestRng) -> Vec<u8> {
    let len = if rng.random_bool(0.3) { 1 } else { rng.random_range(1..=100) };
    random_bytes(rng, len)
}

/// A raw key of 1..40 bytes, often sharing a prefix with `existing` (one extends another, or
/// they differ only at the end) or drawn from a four-byte alphabet, so that branches with
/// values, extensions of both parities and embedded nodes all occur.
fn random_raw_key(rng: &mut TestRng, existing: &[Vec<u8>]) -> Vec<u8> {
    let mut key = match rng.random_range(0..4) {
        0 if !existing.is_empty() => {
            let mut key = existing[rng.random_range(0..existing.len())].clone();
            let extra = rng.random_range(1..=4);
            key.extend(random_bytes(rng, extra));
            key
        }
        1 if !existing.is_empty() => {
            let base = &existing[rng.random_range(0..existing.len())];
            let mut key = base[..rng.random_range(0..base.len())].to_vec();
            let extra = rng.random_range(1..=3);
            key.extend(random_bytes(rng, extra));
            key
        }
        2 => {
            let len = rng.random_range(1..=40);
            (0..len).map(|_| [0x00, 0x01, 0x10, 0x11][rng.random_range(0..4)]).collect()
        }
        _ => {
            let len = if rng.random_bool(0.5) { rng.random_range(1..=3) } else { rng.random_range(1..=40) };
            random_bytes(rng, len)
        }
    };
    key.truncate(40);
    key
}

/// Node kinds seen in the proofs checked, to show that the random tries reach them all.
#[derive(Debug, Default)]
struct Coverage {
    branches: usize,
    branch_values: usize,
    extensions_even: usize,
    extensions_odd: usize,
    leaves_even: usize,
    leaves_odd: usize,
    embedded: usize,
    embedded_branches: usize,
    short_roots: usize,
    proofs: usize,
}

/// The raw items of the RLP list `rlp`.
fn list_items(rlp: &[u8]) -> Vec<&[u8]> {
    let mut buf = rlp;
    let header = RlpHeader::decode(&mut buf).expect("a node decodes");
    assert!(header.list);
    let mut items = Vec::new();
    while !buf.is_empty() {
        let start = buf;
        let item = RlpHeader::decode(&mut buf).expect("an item decodes");
        buf = &buf[item.payload_length..];
        items.push(&start[..start.len() - buf.len()]);
    }
    items
}

impl Coverage {
    fn add_proof(&mut self, proof: &[Bytes]) {
        self.proofs += 1;
        if proof.len() == 1 {
            // A root node shorter than 32 bytes: hashed as the root all the same.
            self.short_roots += usize::from(proof[0].len() < 32);
        }
        for node in proof {
            self.add_node(node, false);
        }
    }

    fn add_node(&mut self, node: &[u8], embedded: bool) {
        let items = list_items(node);
        if items.len() == 17 {
            self.branches += 1;
            self.embedded_branches += usize::from(embedded);
            self.branch_values += usize::from(items[16] != [0x80]);
            for child in &items[..16] {
                if child[0] >= 0xc0 {
                    self.embedded += 1;
                    self.add_node(child, true);
                }
            }
            return;
        }
        let mut path = items[0];
        let path = alloy_rlp::Header::decode_bytes(&mut path, false).expect("a path");
        match path[0] >> 4 {
            0 => self.extensions_even += 1,
            1 => self.extensions_odd += 1,
            2 => self.leaves_even += 1,
            _ => self.leaves_odd += 1,
        }
        if path[0] >> 4 < 2 && items[1][0] >= 0xc0 {
            self.embedded += 1;
            self.add_node(items[1], true);
        }
    }
}

/// Every way of tampering with a proof, each checked against `expected` (the true answer for
/// `key`): the library must refuse it with the error that names the first wrong step.
fn check_tampered(
    evm: &mut Evm,
    rng: &mut TestRng,
    root: B256,
    key: &[u8],
    proof: &[Bytes],
    foreign: &[Bytes],
) {
    let context = |what: &str| format!("{what}: key {key:?}, root {root}, proof {proof:?}");
    let n = proof.len();

    // A byte of a node flipped.
    if n > 0 {
        let index = rng.random_range(0..n);
        let mut tampered = proof.to_vec();
        let mut node = tampered[index].to_vec();
        let at = rng.random_range(0..node.len());
        node[at] ^= rng.random_range(1..=255u8);
        tampered[index] = node.into();
        assert_eq!(
            evm.get(root, key, &tampered),
            Err(Refusal::WrongNodeHash(MerklePatriciaHarness::WrongNodeHash { index: U256::from(index) })),
            "{}",
            context("flipped byte")
        );
    }
    // Truncated: the path needs the node after the last one kept.
    if n > 0 {
        let keep = rng.random_range(0..n);
        assert_eq!(
            evm.get(root, key, &proof[..keep]),
            Err(Refusal::MissingNode(MerklePatriciaHarness::MissingNode { index: U256::from(keep) })),
            "{}",
            context("truncated")
        );
    }
    // A node dropped: the next one does not hash to the reference (or, the last, is missing).
    if n > 0 {
        let index = rng.random_range(0..n);
        let mut tampered = proof.to_vec();
        tampered.remove(index);
        let expected = if index + 1 == n {
            Refusal::MissingNode(MerklePatriciaHarness::MissingNode { index: U256::from(index) })
        } else {
            Refusal::WrongNodeHash(MerklePatriciaHarness::WrongNodeHash { index: U256::from(index) })
        };
        assert_eq!(evm.get(root, key, &tampered), Err(expected), "{}", context("dropped node"));
    }
    // A node appended (one of this proof's, another trie's, or garbage).
    if n > 0 {
        let mut tampered = proof.to_vec();
        let extra = match rng.random_range(0..3) {
            0 => proof[rng.random_range(0..n)].clone(),
            1 if !foreign.is_empty() => foreign[rng.random_range(0..foreign.len())].clone(),
            _ => {
                let len = rng.random_range(0..64);
                random_bytes(rng, len).into()
            }
        };
        tampered.push(extra);
        assert_eq!(
            evm.get(root, key, &tampered),
            Err(Refusal::ExtraNodes(MerklePatriciaHarness::ExtraNodes { used: U256::from(n) })),
            "{}",
            context("appended node")
        );
    }
    // Two nodes swapped (the nodes of one path all differ: none contains its own hash).
    if n > 1 {
        let a = rng.random_range(0..n - 1);
        let b = rng.random_range(a + 1..n);
        let mut tampered = proof.to_vec();
        tampered.swap(a, b);
        assert_eq!(
            evm.get(root, key, &tampered),
            Err(Refusal::WrongNodeHash(MerklePatriciaHarness::WrongNodeHash { index: U256::from(a) })),
            "{}",
            context("swapped nodes")
        );
    }
    // A node replaced with another trie's.
    if n > 0 && !foreign.is_empty() {
        let index = rng.random_range(0..n);
        let other = &foreign[rng.random_range(0..foreign.len())];
        if *other != proof[index] {
            let mut tampered = proof.to_vec();
            tampered[index] = other.clone();
            assert_eq!(
                evm.get(root, key, &tampered),
                Err(Refusal::WrongNodeHash(MerklePatriciaHarness::WrongNodeHash {
                    index: U256::from(index)
                })),
                "{}",
                context("foreign node")
            );
        }
    }
    // The proof against a different root.
    let other_root = B256::from_slice(&random_bytes(rng, 32));
    let expected = if n == 0 {
        Refusal::MissingNode(MerklePatriciaHarness::MissingNode { index: U256::ZERO })
    } else {
        Refusal::WrongNodeHash(MerklePatriciaHarness::WrongNodeHash { index: U256::ZERO })
    };
    assert_eq!(evm.get(other_root, key, proof), Err(expected), "{}", context("other root"));
}

/// The proof of one key used for another: refused, or (where the two paths agree as far as
/// the proof goes) the other key's true answer.
fn check_borrowed(evm: &mut Evm, root: B256, key: &[u8], truth: &[u8], proof_of_other: &[Bytes]) {
    if let Ok(value) = evm.get(root, key, proof_of_other) {
        assert_eq!(
            value,
            Bytes::copy_from_slice(truth),
            "a borrowed proof answered wrongly for key {key:?} ({proof_of_other:?})"
        );
    }
}

/// Checks every present key, absent keys near and far from them, and tampered and borrowed
/// proofs, on `trie` holding exactly `entries`.
fn check_trie(
    evm: &mut Evm,
    rng: &mut TestRng,
    trie: &mut Trie<Store>,
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    foreign: &mut Vec<Bytes>,
    coverage: &mut Coverage,
) {
    let root = trie.root_hash();
    if entries.is_empty() {
        assert_eq!(root, EMPTY_ROOT_HASH);
    }
    let mut proofs = Vec::new();
    for (key, value) in entries {
        let proof = trie.proof(key).unwrap();
        coverage.add_proof(&proof);
        assert_eq!(evm.get(root, key, &proof), Ok(Bytes::copy_from_slice(value)), "present key {key:?}");
        proofs.push((key.clone(), proof));
    }

    // Near present keys (a prefix, an extension, the last byte changed), and far from them.
    let mut absent = BTreeSet::from([Vec::new()]);
    for key in entries.keys() {
        let mut near = key.clone();
        match rng.random_range(0..3) {
            0 => near.truncate(rng.random_range(0..key.len())),
            1 => {
                let extra = rng.random_range(1..=3);
                near.extend(random_bytes(rng, extra));
            }
            _ => *near.last_mut().unwrap() ^= 1 << rng.random_range(0..8),
        }
        absent.insert(near);
    }
    for _ in 0..20 {
        let len = rng.random_range(1..=40);
        absent.insert(random_bytes(rng, len));
        absent.insert(keccak256(random_bytes(rng, 8)).to_vec());
    }
    absent.retain(|key| !entries.contains_key(key));
    for key in &absent {
        let proof = trie.proof(key).unwrap();
        coverage.add_proof(&proof);
        assert_eq!(evm.get(root, key, &proof), Ok(Bytes::new()), "absent key {key:?}");
    }

    let absent: Vec<_> = absent.into_iter().collect();
    for _ in 0..6 {
        let key = if !proofs.is_empty() && rng.random_bool(0.5) {
            proofs[rng.random_range(0..proofs.len())].0.clone()
        } else {
            absent[rng.random_range(0..absent.len())].clone()
        };
        let proof = trie.proof(&key).unwrap();
        check_tampered(evm, rng, root, &key, &proof, foreign);
        if !proofs.is_empty() {
            let (other, other_proof) = &proofs[rng.random_range(0..proofs.len())];
            if *other != key {
                let truth = entries.get(&key).cloned().unwrap_or_default();
                check_borrowed(evm, root, &key, &truth, other_proof);
            }
        }
    }
    if let Some((_, proof)) = proofs.last() {
        foreign.extend(proof.iter().cloned());
        foreign.sort();
        foreign.dedup();
        let excess = foreign.len().saturating_sub(200);
        foreign.drain(..excess);
    }
}

#[test]
fn get_matches_the_trie_on_random_tries() {
    let mut evm = Evm::new();
    let mut rng = rng(1);
    let mut coverage = Coverage::default();
    let mut foreign = Vec::new();
    for round in 0..160 {
        let hashed = round % 4 == 3;
        let count = if round % 5 == 0 { rng.random_range(0..8) } else { rng.random_range(0..=300) };
        let mut trie = Trie::empty(Store::default());
        let mut entries = BTreeMap::new();
        let mut keys = Vec::new();
        for _ in 0..count {
            let key = if hashed {
                keccak256(random_bytes(&mut rng, 8)).to_vec()
            } else {
                random_raw_key(&mut rng, &keys)
            };
            let value = random_value(&mut rng);
            trie.insert(&key, value.clone()).unwrap();
            entries.insert(key.clone(), value);
            keys.push(key);
        }
        check_trie(&mut evm, &mut rng, &mut trie, &entries, &mut foreign, &mut coverage);

        // Removals merge branches into extensions and leaves; commit and reopen the trie half of
        // the time, so that proofs come from nodes read back from the store.
        let removed: Vec<_> = entries.keys().filter(|_| rng.random_bool(0.4)).cloned().collect();
        for key in &removed {
            trie.remove(key).unwrap();
            entries.remove(key);
        }
        if rng.random_bool(0.5) {
            let (root, nodes) = trie.commit();
            trie = Trie::new(nodes.into_iter().collect(), root);
        }
        check_trie(&mut evm, &mut rng, &mut trie, &entries, &mut foreign, &mut coverage);
    }
    eprintln!("node kinds in the proofs checked: {coverage:?}");
    assert!(coverage.branch_values > 0, "{coverage:?}");
    assert!(coverage.extensions_even > 0 && coverage.extensions_odd > 0, "{coverage:?}");
    assert!(coverage.leaves_even > 0 && coverage.leaves_odd > 0, "{coverage:?}");
    assert!(coverage.embedded > 0 && coverage.embedded_branches > 0, "{coverage:?}");
    assert!(coverage.short_roots > 0, "{coverage:?}");
}

#[test]
fn the_empty_trie() {
    let mut evm = Evm::new();
    let mut trie = Trie::empty(Store::default());
    assert_eq!(trie.root_hash(), EMPTY_ROOT_HASH);
    for key in [&b""[..], &b"\x01"[..], &[0xab; 32][..]] {
        assert_eq!(trie.proof(key).unwrap(), Vec::<Bytes>::new());
        assert_eq!(evm.get(EMPTY_ROOT_HASH, key, &[]), Ok(Bytes::new()));
        // The empty string hashes to the empty root, but it is not a node: no proof but none.
        assert_eq!(
            evm.get(EMPTY_ROOT_HASH, key, &[Bytes::from_static(&[0x80])]),
            Err(Refusal::InvalidNode(MerklePatriciaHarness::InvalidNode { index: U256::ZERO }))
        );
        assert_eq!(
            evm.get(B256::repeat_byte(1), key, &[]),
            Err(Refusal::MissingNode(MerklePatriciaHarness::MissingNode { index: U256::ZERO }))
        );
    }
}

/// Each way a proof ends, on a small trie: keys 0x12, 0x13 and 0x1234 make an extension of the
/// nibble 1 to a branch whose slot 2 holds a branch with a value (0x12's) and whose slot 3 holds a
/// leaf with an empty path. With 1-byte values every node below the root is embedded in it; with
/// 40-byte values each has its own hash.
#[test]
fn every_way_a_path_ends() {
    let mut evm = Evm::new();
    for value_len in [1, 40] {
        let value = |byte: u8| vec![byte; value_len];
        let mut trie = Trie::empty(Store::default());
        for (key, byte) in [(&[0x12][..], 1), (&[0x13], 2), (&[0x12, 0x34], 3)] {
            trie.insert(key, value(byte)).unwrap();
        }
        let root = trie.root_hash();
        let cases: [(&[u8], &str, Option<u8>); 10] = [
            (&[0x12], "the value of a branch", Some(1)),
            (&[0x13], "a leaf with an empty path", Some(2)),
            (&[0x12, 0x34], "a leaf below a branch with a value", Some(3)),
            (&[], "a key shorter than the extension", None),
            (&[0x24], "an extension that diverges", None),
            (&[0x14], "an empty child of a branch", None),
            (&[0x12, 0x44], "an empty child of a branch with a value", None),
            (&[0x13, 0x00], "a leaf shorter than the key", None),
            (&[0x12, 0x35], "a leaf that diverges", None),
            (&[0x12, 0x34, 0x56], "a key longer than the leaf", None),
        ];
        for (key, what, expected) in cases {
            let proof = trie.proof(key).unwrap();
            assert_eq!(trie.get(key).unwrap(), expected.map(value), "{what}");
            let expected = Bytes::from(expected.map(value).unwrap_or_default());
            assert_eq!(evm.get(root, key, &proof), Ok(expected), "{what}, {value_len}-byte values");
        }
    }
}

/// A tampered root node, rehashed so that the library decodes it: it must never halt or panic,
/// and when the Rust trie reads a value from it, the library reads the same one or refuses.
#[test]
fn rehashed_tampered_nodes_never_mislead() {
    let mut evm = Evm::new();
    let mut rng = rng(2);
    let (mut agreed, mut refused, mut lenient) = (0, 0, 0);
    for round in 0..120 {
        let mut trie = Trie::empty(Store::default());
        let mut keys = Vec::new();
        let count = rng.random_range(1..=40);
        for _ in 0..count {
            let key = if round % 2 == 0 {
                random_raw_key(&mut rng, &keys)
            } else {
                keccak256(random_bytes(&mut rng, 4)).to_vec()
            };
            trie.insert(&key, random_value(&mut rng)).unwrap();
            keys.push(key);
        }
        let (_, nodes) = trie.commit();
        let mut store: Store = nodes.into_iter().collect();
        for _ in 0..20 {
            let key = if rng.random_bool(0.7) {
                keys[rng.random_range(0..keys.len())].clone()
            } else {
                let len = rng.random_range(0..=40);
                random_bytes(&mut rng, len)
            };
            let proof = trie.proof(&key).unwrap();
            let mut node = proof[0].to_vec();
            match rng.random_range(0..4) {
                0 => {
                    let at = rng.random_range(0..node.len());
                    node[at] ^= rng.random_range(1..=255u8);
                }
                1 => {
                    node.remove(rng.random_range(0..node.len()));
                }
                2 => node.insert(rng.random_range(0..=node.len()), rng.random()),
                _ => {
                    let len = rng.random_range(0..=node.len().min(8));
                    let at = rng.random_range(0..=node.len() - len);
                    let garbage = random_bytes(&mut rng, len);
                    node[at..at + len].copy_from_slice(&garbage);
                }
            }
            let root = keccak256(&node);
            store.insert(root, node.clone().into());
            let mut tampered = proof.clone();
            tampered[0] = node.into();
            let reference = Trie::new(&store, root).get(&key);
            match (evm.get(root, &key, &tampered), reference) {
                (Ok(value), Ok(truth)) => {
                    assert_eq!(value, truth.unwrap_or_default(), "key {key:?}, proof {tampered:?}");
                    agreed += 1;
                }
                (Err(_), _) => refused += 1,
                // The Rust decoder also refuses non-canonical RLP, which cannot hash to a real
                // reference; the library does not spend gas on that.
                (Ok(_), Err(_)) => lenient += 1,
            }
        }
    }
    eprintln!(
        "rehashed tampered roots: {agreed} read as the trie reads them, {refused} refused, {lenient} read where the trie refuses"
    );
}

#[test]
fn account_and_storage_proofs_of_random_states() {
    let mut evm = Evm::new();
    let mut rng = rng(3);
    for _ in 0..30 {
        let mut accounts = Vec::new();
        for _ in 0..rng.random_range(1..=40) {
            let address = Address::from_slice(&random_bytes(&mut rng, 20));
            let info = AccountState {
                nonce: rng.random(),
                balance: {
                    let len = rng.random_range(0..=32);
                    U256::from_be_slice(&random_bytes(&mut rng, len))
                },
                code_hash: B256::from_slice(&random_bytes(&mut rng, 32)),
            };
            let mut storage = BTreeMap::new();
            for _ in 0..rng.random_range(0..=30) {
                let slot = if rng.random_bool(0.5) {
                    U256::from(rng.random_range(0..16u64))
                } else {
                    U256::from_be_slice(&random_bytes(&mut rng, 32))
                };
                let len = rng.random_range(1..=32);
                let value = U256::from_be_slice(&random_bytes(&mut rng, len));
                storage.insert(slot, value);
            }
            accounts.push((address, info, storage));
        }
        let (root, nodes) = state_root_of(accounts.clone());
        let mut state = StateTrie::new(&nodes, root);
        let absent = (0..5).map(|_| Address::from_slice(&random_bytes(&mut rng, 20)));
        let addresses: Vec<_> = accounts.iter().map(|(address, ..)| *address).chain(absent).collect();
        for address in addresses {
            let stored = accounts.iter().find(|(a, ..)| *a == address);
            let mut slots: Vec<U256> =
                stored.map(|(.., storage)| storage.keys().copied().collect()).unwrap_or_default();
            slots.extend((0..3).map(|_| U256::from_be_slice(&random_bytes(&mut rng, 32))));
            slots.push(U256::from(rng.random_range(0..16u64)));
            let proof = state.proof(address, &slots).unwrap();
            assert_eq!(proof.account.is_some(), stored.is_some());
            let storage_root = proof.account.map_or(EMPTY_ROOT_HASH, |account| account.storage_root);
            let call = storageRootCall {
                stateRoot: root,
                account: address,
                accountProof: proof.account_proof.clone(),
            };
            assert_eq!(evm.call(&call).0, Ok(storage_root), "account {address}");
            for storage in &proof.storage {
                let expected = stored.and_then(|(.., s)| s.get(&storage.key)).copied().unwrap_or_default();
                assert_eq!(storage.value, expected);
                let call = storageValueCall {
                    storageRoot_: storage_root,
                    slot: B256::from(storage.key.to_be_bytes::<32>()),
                    storageProof: storage.proof.clone(),
                };
                assert_eq!(evm.call(&call).0, Ok(storage.value), "account {address} slot {}", storage.key);
            }
            // A flipped byte anywhere in an account proof is refused.
            if !proof.account_proof.is_empty() {
                let mut tampered = proof.account_proof.clone();
                let index = rng.random_range(0..tampered.len());
                let mut node = tampered[index].to_vec();
                let at = rng.random_range(0..node.len());
                node[at] ^= 0x01;
                tampered[index] = node.into();
                let call = storageRootCall { stateRoot: root, account: address, accountProof: tampered };
                assert!(evm.call(&call).0.is_err(), "tampered account proof of {address}");
            }
        }
    }
}

fn random_header(rng: &mut TestRng) -> Header {
    let b256 = |rng: &mut TestRng| B256::from_slice(&random_bytes(rng, 32));
    let mut header = Header {
        parent_hash: b256(rng),
        ommers_hash: b256(rng),
        beneficiary: Address::from_slice(&random_bytes(rng, 20)),
        state_root: b256(rng),
        transactions_root: b256(rng),
        receipts_root: b256(rng),
        logs_bloom: Bloom::from_slice(&random_bytes(rng, 256)),
        difficulty: U256::from(rng.random_range(0..1u64 << 40)),
        number: rng.random(),
        gas_limit: rng.random(),
        gas_used: rng.random(),
        timestamp: rng.random(),
        extra_data: {
            let len = rng.random_range(0..=32);
            random_bytes(rng, len).into()
        },
        mix_hash: b256(rng),
        nonce: B64::from_slice(&random_bytes(rng, 8)),
        ..Header::default()
    };
    // The fields added since London, each present only when those before it are.
    let later = rng.random_range(0..=6);
    if later > 0 {
        header.base_fee_per_gas = Some(rng.random());
    }
    if later > 1 {
        header.withdrawals_root = Some(b256(rng));
    }
    if later > 2 {
        header.blob_gas_used = Some(rng.random());
    }
    if later > 3 {
        header.excess_blob_gas = Some(rng.random());
    }
    if later > 4 {
        header.parent_beacon_block_root = Some(b256(rng));
    }
    if later > 5 {
        header.requests_hash = Some(b256(rng));
    }
    header
}

#[test]
fn header_state_root() {
    let mut evm = Evm::new();
    let mut rng = rng(4);
    let read = |evm: &mut Evm, header: Vec<u8>| evm.call(&headerStateRootCall { header: header.into() }).0;
    for _ in 0..100 {
        let header = random_header(&mut rng);
        let encoded = alloy_rlp::encode(&header);
        assert_eq!(read(&mut evm, encoded.clone()), Ok(header.state_root), "{header:?}");

        // Cut short (the list runs past the end: not even RLP), or with a byte after the list:
        // not one header list.
        let cut = encoded[..encoded.len() - 1].to_vec();
        assert_eq!(read(&mut evm, cut), Err(Refusal::InvalidRlp(MerklePatriciaHarness::InvalidRlp {})));
        let mut longer = encoded.clone();
        longer.push(0);
        assert_eq!(
            read(&mut evm, longer),
            Err(Refusal::InvalidHeader(MerklePatriciaHarness::InvalidHeader {}))
        );
        // The header's RLP as a string, not a list.
        assert_eq!(
            read(&mut evm, alloy_rlp::encode(&encoded[..])),
            Err(Refusal::InvalidHeader(MerklePatriciaHarness::InvalidHeader {}))
        );
    }
    // Not lists, or lists that do not start as a header does.
    let three_hashes = alloy_rlp::encode(vec![B256::repeat_byte(1); 3]);
    let short_fields = alloy_rlp::encode(vec![Bytes::from_static(&[1; 31]); 5]);
    for bytes in [vec![], vec![0x05], vec![0x80], vec![0xc0], three_hashes, short_fields] {
        assert!(read(&mut evm, bytes.clone()).is_err(), "{bytes:?}");
    }
}

/// The gas of `get` on a proof from a 10,000-key trie with hashed keys, printed.
#[test]
fn gas_of_a_realistic_proof() {
    let mut evm = Evm::new();
    let mut rng = rng(5);
    let mut trie = Trie::empty(Store::default());
    let mut keys = Vec::new();
    for index in 0..10_000u64 {
        let key = keccak256(index.to_be_bytes());
        // An account's RLP is about 70 to 110 bytes.
        let len = rng.random_range(70..=110);
        trie.insert(key.as_slice(), random_bytes(&mut rng, len)).unwrap();
        keys.push(key);
    }
    let root = trie.root_hash();
    let (mut nodes, mut proof_bytes, mut total, mut calldata, mut samples) = (0, 0, 0, 0, 0u64);
    let mut worst = 0;
    for key in keys.iter().step_by(100) {
        let proof = trie.proof(key.as_slice()).unwrap();
        let call = getCall { root, key: key.to_vec().into(), proof: proof.clone() };
        let (answer, gas) = evm.call(&call);
        assert!(answer.is_ok());
        let intrinsic = intrinsic_gas(&call.abi_encode());
        worst = worst.max(gas - intrinsic);
        nodes += proof.len();
        proof_bytes += proof.iter().map(|node| node.len()).sum::<usize>();
        total += gas;
        calldata += intrinsic;
        samples += 1;
    }
    let samples_usize = usize::try_from(samples).unwrap();
    eprintln!(
        "MerklePatricia.get, 10,000-key trie, hashed keys, {samples} proofs: {:.1} nodes and {} bytes a proof; \
         transaction gas {} on average, of which intrinsic (21,000 and calldata) {}, execution {} (at most {worst})",
        nodes as f64 / samples as f64,
        proof_bytes / samples_usize,
        total / samples,
        calldata / samples,
        (total - calldata) / samples,
    );
}
