//! The trie and the state trie against ethereum/tests vectors, against alloy-trie (an independent
//! implementation), and against a direct transcription of the Yellow Paper's definition; plus the
//! witness property: the nodes a batch read are enough, and each of them is needed.

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256, map::B256Map};
use alloy_rlp::{EMPTY_STRING_CODE, Header};
use alloy_trie::{HashBuilder, Nibbles, proof::verify_proof};
use proptest::prelude::*;
use std::{collections::BTreeMap, sync::Arc};
use trace_builder::{
    AccountChange, AccountState, EMPTY_ROOT_HASH, NodeStore, RecordingStore, StateChanges, StateTrie, Trie,
    TrieAccount, TrieError, ordered_trie_root, state_root_of,
    trie::{CommittedNode, Location, StoreError, StoredNode},
};

type Store = B256Map<Bytes>;

// ---------------------------------------------------------------------------------------------
// Independent roots

/// Root of `map` (keys of equal length) by alloy-trie's `HashBuilder`.
fn alloy_root(map: &BTreeMap<Vec<u8>, Vec<u8>>) -> B256 {
    let mut builder = HashBuilder::default();
    for (key, value) in map {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

/// Root of `map` (keys of any length, one may prefix another) straight from the Yellow Paper's
/// definition (appendix D): `TRIE(I) = KEC(RLP(c(I, 0)))`.
fn yellow_paper_root(map: &BTreeMap<Vec<u8>, Vec<u8>>) -> B256 {
    if map.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    let items: Vec<(Vec<u8>, &[u8])> = map
        .iter()
        .map(|(key, value)| (key.iter().flat_map(|b| [b >> 4, b & 0xf]).collect(), &value[..]))
        .collect();
    keccak256(yp_c(&items, 0))
}

fn yp_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::Encodable::encode(&bytes, &mut out);
    out
}

fn yp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload: Vec<u8> = items.concat();
    let mut out = Vec::new();
    Header { list: true, payload_length: payload.len() }.encode(&mut out);
    out.extend(payload);
    out
}

fn yp_hex_prefix(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 };
    let mut out = Vec::new();
    let rest = if nibbles.len() % 2 == 1 {
        out.push((flag + 1) << 4 | nibbles[0]);
        &nibbles[1..]
    } else {
        out.push(flag << 4);
        nibbles
    };
    out.extend(rest.chunks(2).map(|pair| pair[0] << 4 | pair[1]));
    out
}

/// `n(I, i)`: how a parent refers to the structure of `items` at depth `i`.
fn yp_n(items: &[(Vec<u8>, &[u8])], depth: usize) -> Vec<u8> {
    if items.is_empty() {
        return vec![EMPTY_STRING_CODE];
    }
    let c = yp_c(items, depth);
    if c.len() < 32 { c } else { yp_string(keccak256(&c).as_slice()) }
}

/// `c(I, i)`: the RLP of the node holding `items` (sorted, distinct) at depth `i`.
fn yp_c(items: &[(Vec<u8>, &[u8])], depth: usize) -> Vec<u8> {
    if let [(key, value)] = items {
        return yp_list(&[yp_string(&yp_hex_prefix(&key[depth..], true)), yp_string(value)]);
    }
    let shared = (depth..)
        .take_while(|&at| {
            let nibble = items[0].0.get(at);
            nibble.is_some() && items.iter().all(|(key, _)| key.get(at) == nibble)
        })
        .count();
    if shared > 0 {
        let path = &items[0].0[depth..depth + shared];
        return yp_list(&[yp_string(&yp_hex_prefix(path, false)), yp_n(items, depth + shared)]);
    }
    let mut node: Vec<Vec<u8>> = (0..16u8)
        .map(|nibble| {
            let below: Vec<_> =
                items.iter().filter(|(key, _)| key.get(depth) == Some(&nibble)).cloned().collect();
            yp_n(&below, depth + 1)
        })
        .collect();
    let value = items.iter().find(|(key, _)| key.len() == depth).map_or(&[][..], |(_, v)| v);
    node.push(yp_string(value));
    yp_list(&node)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn store_of(nodes: Vec<(B256, Bytes)>) -> Store {
    nodes.into_iter().collect()
}

/// Commits `trie` into a copy of its store and reopens it there.
fn reopen(trie: &mut Trie<Store>) -> Trie<Store> {
    let (root, nodes) = trie.commit();
    let mut store = trie.store().clone();
    store.extend(nodes);
    Trie::new(store, root)
}

fn verify(root: B256, key: &[u8], value: Option<&Vec<u8>>, proof: &[Bytes]) {
    verify_proof(root, Nibbles::unpack(key), value.cloned(), proof)
        .unwrap_or_else(|error| panic!("proof of {key:02x?} ({value:02x?}): {error}"));
}

// ---------------------------------------------------------------------------------------------
// ethereum/tests

#[test]
fn ethereum_trie_tests() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ethereum-tests/trietest.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read trietest.json"))
            .expect("parse trietest.json");
    let bytes = |value: &serde_json::Value| -> Vec<u8> {
        let text = value.as_str().expect("string");
        match text.strip_prefix("0x") {
            Some(hex) => hex::decode(hex).expect("hex"),
            None => text.as_bytes().to_vec(),
        }
    };
    let cases = fixture.as_object().expect("object of cases");
    assert_eq!(cases.len(), 5);
    for (name, case) in cases {
        let mut trie = Trie::empty(Store::default());
        let mut model = BTreeMap::new();
        for pair in case["in"].as_array().expect("in") {
            let key = bytes(&pair[0]);
            if pair[1].is_null() {
                trie.remove(&key).unwrap();
                model.remove(&key);
            } else {
                let value = bytes(&pair[1]);
                trie.insert(&key, value.clone()).unwrap();
                model.insert(key, value);
            }
        }
        let expected: B256 = case["root"].as_str().expect("root").parse().expect("root hash");
        assert_eq!(trie.root_hash(), expected, "{name}");
        assert_eq!(yellow_paper_root(&model), expected, "{name}: reference implementation");
        let mut reopened = reopen(&mut trie);
        assert_eq!(reopened.root_hash(), expected, "{name}: reopened");
        for (key, value) in &model {
            assert_eq!(reopened.get(key).unwrap().as_ref(), Some(value), "{name}: {key:02x?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic cases

#[test]
fn empty_trie() {
    let mut trie = Trie::empty(Store::default());
    assert_eq!(trie.root_hash(), EMPTY_ROOT_HASH);
    assert_eq!(trie.get(b"a").unwrap(), None);
    assert_eq!(trie.proof(b"a").unwrap(), Vec::<Bytes>::new());
    trie.remove(b"a").unwrap();
    let (root, nodes) = trie.commit();
    assert_eq!((root, nodes.len()), (EMPTY_ROOT_HASH, 0));
    trie.insert(b"a", b"1".to_vec()).unwrap();
    trie.insert(b"a", Vec::new()).unwrap();
    assert_eq!(trie.root_hash(), EMPTY_ROOT_HASH, "an empty value removes");
}

#[test]
fn small_root_is_stored_under_its_hash() {
    let mut trie = Trie::empty(Store::default());
    trie.insert(b"k", b"v".to_vec()).unwrap();
    let (root, nodes) = trie.commit();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].1.len() < 32);
    assert_eq!(nodes[0].0, root);
    let mut reopened = Trie::new(store_of(nodes), root);
    assert_eq!(reopened.get(b"k").unwrap(), Some(b"v".to_vec()));
    // Nothing changed: nothing to store.
    assert_eq!(reopened.commit(), (root, Vec::new()));
}

/// Three keys under one branch; `c` stored by hash. Deleting `b` leaves `c` alone: the branch
/// merges with it, which needs `c`'s node.
fn collapse_fixture() -> (B256, Store, [Vec<u8>; 3], B256) {
    let keys = [vec![0x10; 32], vec![0x20; 32], vec![0x30; 32]];
    let mut trie = Trie::empty(Store::default());
    trie.insert(&keys[0], vec![1; 40]).unwrap();
    trie.insert(&keys[1], vec![2; 40]).unwrap();
    trie.insert(&keys[2], vec![3; 40]).unwrap();
    let (root, nodes) = trie.commit();
    let store = store_of(nodes);
    // The leaf of keys[2] below the root branch: path of 63 nibbles.
    let leaf_hash =
        store.iter().find(|(_, rlp)| rlp.windows(40).any(|w| w == [3; 40])).map(|(hash, _)| *hash).unwrap();
    (root, store, keys, leaf_hash)
}

#[test]
fn delete_after_reopen_collapses_branch_and_records_sibling() {
    let (root, store, keys, sibling) = collapse_fixture();
    let recording = RecordingStore::new(&store);
    let mut trie = Trie::new(&recording, root);
    trie.remove(&keys[0]).unwrap();
    trie.remove(&keys[1]).unwrap();
    let mut expected = BTreeMap::new();
    expected.insert(keys[2].clone(), vec![3; 40]);
    assert_eq!(trie.root_hash(), alloy_root(&expected));
    assert!(recording.recorded().contains_key(&sibling), "the merged sibling is in the witness");
    assert_eq!(recording.recorded().len(), 4, "root branch and its three leaves");
}

#[test]
fn failed_delete_changes_nothing() {
    let (root, mut store, keys, sibling) = collapse_fixture();
    store.remove(&sibling);
    let mut trie = Trie::new(&store, root);
    trie.remove(&keys[0]).unwrap();
    let before = trie.root_hash();
    let error = trie.remove(&keys[1]).unwrap_err();
    assert!(matches!(error, TrieError::MissingNode(hash) if hash == sibling), "{error}");
    assert_eq!(trie.root_hash(), before);
    assert_eq!(trie.get(&keys[1]).unwrap(), Some(vec![2; 40]));
}

#[test]
fn wrong_node_under_a_hash_is_rejected() {
    let (root, store, keys, sibling) = collapse_fixture();
    let mut lying = store.clone();
    let other = store[&sibling].clone();
    lying.insert(root, other);
    let error = Trie::new(&lying, root).get(&keys[0]).unwrap_err();
    assert!(matches!(error, TrieError::MalformedNode { hash, .. } if hash == root), "{error}");
}

#[test]
fn ordered_root_matches_alloy() {
    for len in [0, 1, 2, 15, 16, 17, 127, 128, 129, 300] {
        let items: Vec<Vec<u8>> =
            (0..len).map(|i| (0..(i % 70) + 1).map(|j| (i * 31 + j) as u8).collect()).collect();
        assert_eq!(
            ordered_trie_root(&items),
            alloy_trie::root::ordered_trie_root_encoded(&items),
            "{len} items"
        );
    }
}

#[test]
fn tries_are_send() {
    fn send<T: Send>() {}
    send::<Trie<Store>>();
    send::<Trie<Arc<RecordingStore<Store>>>>();
    send::<StateTrie<Arc<RecordingStore<Store>>>>();
}

// ---------------------------------------------------------------------------------------------
// Random operations

#[derive(Clone, Debug)]
enum Op {
    Insert(usize, Vec<u8>),
    Remove(usize),
    Get(usize),
    /// Commit, then reopen over the committed nodes only.
    Reopen,
}

/// 32-byte keys: random, or nearly all zero (long shared prefixes, deep tries, leaves with short
/// paths that embed), or equal but for the last byte.
fn key32() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 32),
        (0..32usize, any::<u8>(), 0..32usize, 0..4u8).prop_map(|(i, a, j, b)| {
            let mut key = vec![0; 32];
            key[i] = a;
            key[j] = b;
            key
        }),
        any::<u8>().prop_map(|last| {
            let mut key = vec![0xab; 32];
            key[31] = last;
            key
        }),
    ]
}

/// Short values (embedded nodes, single bytes below 0x80) and long ones.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..3),
        prop::collection::vec(any::<u8>(), 1..40),
        prop::collection::vec(any::<u8>(), 32..100),
    ]
}

fn ops(keys: usize, len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            5 => (0..keys, value()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => (0..keys).prop_map(Op::Remove),
            1 => (0..keys).prop_map(Op::Get),
            1 => Just(Op::Reopen),
        ],
        len,
    )
}

fn keys_and_ops(len: std::ops::Range<usize>) -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<Op>)> {
    prop::collection::btree_set(key32(), 1..24).prop_flat_map(move |keys| {
        let keys: Vec<_> = keys.into_iter().collect();
        let count = keys.len();
        (Just(keys), ops(count, len.clone()))
    })
}

/// Keys of 0 to 3 bytes: many keys are prefixes of others, so branches hold values.
fn short_keys_and_ops() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<Op>)> {
    prop::collection::btree_set(prop::collection::vec(0..3u8, 0..4), 1..20).prop_flat_map(|keys| {
        let keys: Vec<_> = keys.into_iter().collect();
        let count = keys.len();
        (Just(keys), ops(count, 0..60))
    })
}

/// Runs `ops` on `trie` and a model, checking every root with `root_of` and every read.
fn run_against_model(
    trie: &mut Trie<Store>,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    keys: &[Vec<u8>],
    ops: &[Op],
    root_of: fn(&BTreeMap<Vec<u8>, Vec<u8>>) -> B256,
) -> Result<(), TestCaseError> {
    for op in ops {
        match op {
            Op::Insert(k, value) => {
                trie.insert(&keys[*k], value.clone()).unwrap();
                model.insert(keys[*k].clone(), value.clone());
            }
            Op::Remove(k) => {
                trie.remove(&keys[*k]).unwrap();
                model.remove(&keys[*k]);
            }
            Op::Get(k) => {
                prop_assert_eq!(trie.get(&keys[*k]).unwrap(), model.get(&keys[*k]).cloned())
            }
            Op::Reopen => *trie = reopen(trie),
        }
        prop_assert_eq!(trie.root_hash(), root_of(model), "after {:?}", op);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random inserts, updates, deletes and reopenings: every root equals alloy-trie's, every
    /// read the model's, every proof verifies with alloy-trie's verifier, and deleting every key
    /// gives the empty root.
    #[test]
    fn random_operations_match_alloy((keys, ops) in keys_and_ops(0..80)) {
        let mut trie = Trie::empty(Store::default());
        let mut model = BTreeMap::new();
        run_against_model(&mut trie, &mut model, &keys, &ops, alloy_root)?;

        let root = trie.root_hash();
        for key in &keys {
            verify(root, key, model.get(key), &trie.proof(key).unwrap());
        }
        let mut reopened = reopen(&mut trie);
        for key in &keys {
            prop_assert_eq!(reopened.get(key).unwrap(), model.get(key).cloned());
            verify(root, key, model.get(key), &reopened.proof(key).unwrap());
        }
        for key in &keys {
            reopened.remove(key).unwrap();
            model.remove(key);
            prop_assert_eq!(reopened.root_hash(), alloy_root(&model));
        }
        prop_assert_eq!(reopened.root_hash(), EMPTY_ROOT_HASH);
    }

    /// Keys that prefix each other (branch values), against the Yellow Paper's definition.
    #[test]
    fn prefix_keys_match_yellow_paper((keys, ops) in short_keys_and_ops()) {
        let mut trie = Trie::empty(Store::default());
        let mut model = BTreeMap::new();
        run_against_model(&mut trie, &mut model, &keys, &ops, yellow_paper_root)?;
        let mut reopened = reopen(&mut trie);
        for key in &keys {
            prop_assert_eq!(reopened.get(key).unwrap(), model.get(key).cloned());
        }
    }

    /// The witness property: over a committed pre-state, the nodes a batch of operations read
    /// let a trie holding only them replay the batch to the same root and reads, and without any
    /// one of them the replay fails on exactly that node.
    #[test]
    fn recorded_nodes_are_a_complete_and_minimal_witness(
        (keys, pre) in keys_and_ops(0..40),
        batch in ops(24, 1..30),
    ) {
        let mut trie = Trie::empty(Store::default());
        let mut model = BTreeMap::new();
        run_against_model(&mut trie, &mut model, &keys, &pre, alloy_root)?;
        let (pre_root, nodes) = trie.commit();
        let mut store = trie.store().clone();
        store.extend(nodes);
        // Batch ops index the same key pool; keep them in range.
        let batch: Vec<Op> = batch
            .into_iter()
            .filter(|op| !matches!(op, Op::Reopen))
            .map(|op| match op {
                Op::Insert(k, v) => Op::Insert(k % keys.len(), v),
                Op::Remove(k) => Op::Remove(k % keys.len()),
                Op::Get(k) => Op::Get(k % keys.len()),
                Op::Reopen => Op::Reopen,
            })
            .collect();

        let recording = RecordingStore::new(&store);
        let expected = replay(&recording, pre_root, &keys, &batch).unwrap();
        let witness = recording.take();
        prop_assert!(witness.keys().all(|hash| store.contains_key(hash)));

        prop_assert_eq!(&replay(&witness, pre_root, &keys, &batch).unwrap(), &expected);
        for hash in witness.keys() {
            let mut incomplete = witness.clone();
            incomplete.remove(hash);
            match replay(&incomplete, pre_root, &keys, &batch) {
                Err(TrieError::MissingNode(missing)) => prop_assert_eq!(missing, *hash),
                other => prop_assert!(false, "without {} the replay gave {:?}", hash, other),
            }
        }
    }

    /// Arbitrary bytes as a root node never make the trie panic; what does not decode is
    /// reported as malformed.
    #[test]
    fn random_root_node_never_panics(rlp in prop::collection::vec(any::<u8>(), 0..200), key in key32()) {
        let root = keccak256(&rlp);
        let store: Store = [(root, Bytes::from(rlp))].into_iter().collect();
        exercise(&store, root, &key)?;
    }

    /// A real node with one byte changed, as root under its new hash or anywhere under its old
    /// hash: errors or correct answers, never a panic, never a wrong value.
    #[test]
    fn tampered_nodes_are_rejected(
        (keys, pre) in keys_and_ops(1..40),
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let mut trie = Trie::empty(Store::default());
        let mut model = BTreeMap::new();
        run_against_model(&mut trie, &mut model, &keys, &pre, alloy_root)?;
        let (root, nodes) = trie.commit();
        prop_assume!(!nodes.is_empty());
        let (hash, rlp) = nodes[pick.index(nodes.len())].clone();
        let mut tampered = rlp.to_vec();
        let at = at.index(tampered.len());
        tampered[at] ^= flip;

        let mut store = trie.store().clone();
        store.extend(nodes);
        store.insert(hash, tampered.clone().into());
        let mut malformed = 0;
        for key in &keys {
            match Trie::new(&store, root).get(key) {
                Ok(value) => prop_assert_eq!(value.as_ref(), model.get(key)),
                Err(TrieError::MalformedNode { hash: at, .. }) => {
                    prop_assert_eq!(at, hash);
                    malformed += 1;
                }
                Err(other) => prop_assert!(false, "{}", other),
            }
        }
        // Every node is on the path of some key, so some read must hit the tampered one.
        prop_assert!(malformed > 0);

        let new_root = keccak256(&tampered);
        store.insert(new_root, tampered.into());
        for key in &keys {
            exercise(&store, new_root, key)?;
        }
    }
}

/// The final root of a replay and every value it read.
type Replay = (B256, Vec<Option<Vec<u8>>>);

/// Applies `batch` to the trie at `root` over `store`: the final root and every read.
fn replay<S: NodeStore>(store: S, root: B256, keys: &[Vec<u8>], batch: &[Op]) -> Result<Replay, TrieError> {
    let mut trie = Trie::new(store, root);
    let mut reads = Vec::new();
    for op in batch {
        match op {
            Op::Insert(k, value) => trie.insert(&keys[*k], value.clone())?,
            Op::Remove(k) => trie.remove(&keys[*k])?,
            Op::Get(k) => reads.push(trie.get(&keys[*k])?),
            Op::Reopen => {}
        }
    }
    Ok((trie.root_hash(), reads))
}

/// Every operation on the trie at `root`: each may fail, as malformed or missing, none panics.
fn exercise(store: &Store, root: B256, key: &[u8]) -> Result<(), TestCaseError> {
    let acceptable = |result: Result<(), TrieError>| match result {
        Ok(()) | Err(TrieError::MalformedNode { .. } | TrieError::MissingNode(_)) => Ok(()),
        Err(other) => Err(TestCaseError::fail(other.to_string())),
    };
    acceptable(Trie::new(store, root).get(key).map(drop))?;
    acceptable(Trie::new(store, root).proof(key).map(drop))?;
    let mut trie = Trie::new(store, root);
    acceptable(trie.insert(key, vec![7; 40]))?;
    trie.root_hash();
    let mut trie = Trie::new(store, root);
    acceptable(trie.remove(key))?;
    trie.commit();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// State trie

type Accounts = BTreeMap<Address, (AccountState, BTreeMap<U256, U256>)>;

/// The state root of `accounts` by alloy-trie alone.
fn alloy_state_root(accounts: &Accounts) -> B256 {
    let leaves: BTreeMap<Vec<u8>, Vec<u8>> = accounts
        .iter()
        .map(|(address, (info, storage))| {
            let slots: BTreeMap<Vec<u8>, Vec<u8>> = storage
                .iter()
                .filter(|(_, value)| !value.is_zero())
                .map(|(slot, value)| (keccak256(B256::from(*slot)).to_vec(), alloy_rlp::encode(value)))
                .collect();
            let account =
                alloy_trie::TrieAccount::new(info.nonce, info.balance, alloy_root(&slots), info.code_hash);
            (keccak256(address).to_vec(), alloy_rlp::encode(account))
        })
        .collect();
    alloy_root(&leaves)
}

fn address() -> impl Strategy<Value = Address> {
    // A small pool, so that changes hit existing accounts.
    (0..40u8).prop_map(Address::with_last_byte)
}

fn slot() -> impl Strategy<Value = U256> {
    prop_oneof![(0..12u64).prop_map(U256::from), any::<[u8; 32]>().prop_map(U256::from_be_bytes)]
}

fn slot_value() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::ZERO),
        (1..300u64).prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
    ]
}

fn account_state() -> impl Strategy<Value = AccountState> {
    (any::<u64>(), any::<u128>(), prop::option::of(any::<[u8; 32]>())).prop_map(|(nonce, balance, code)| {
        AccountState {
            nonce,
            balance: U256::from(balance),
            code_hash: code.map_or(KECCAK256_EMPTY, keccak256),
        }
    })
}

fn accounts() -> impl Strategy<Value = Accounts> {
    prop::collection::btree_map(
        address(),
        (account_state(), prop::collection::btree_map(slot(), slot_value(), 0..8)),
        0..20,
    )
}

fn changes() -> impl Strategy<Value = StateChanges> {
    prop::collection::btree_map(
        address(),
        (
            prop::option::weighted(0.8, account_state()),
            prop::bool::weighted(0.2),
            prop::collection::btree_map(slot(), slot_value(), 0..6),
        )
            .prop_map(|(info, storage_wiped, storage)| AccountChange {
                info,
                storage_wiped,
                storage,
            }),
        0..15,
    )
    .prop_map(|accounts| StateChanges { accounts, codes: BTreeMap::new() })
}

fn genesis(accounts: &Accounts) -> (B256, Store) {
    state_root_of(accounts.iter().map(|(address, (info, storage))| (*address, info.clone(), storage.clone())))
}

/// `changes` applied to the model, by their documented meaning.
fn apply_to_model(accounts: &mut Accounts, changes: &StateChanges) {
    for (address, change) in &changes.accounts {
        let Some(info) = &change.info else {
            accounts.remove(address);
            continue;
        };
        let mut storage = match accounts.remove(address) {
            Some((_, storage)) if !change.storage_wiped => storage,
            _ => BTreeMap::new(),
        };
        storage.extend(&change.storage);
        storage.retain(|_, value| !value.is_zero());
        accounts.insert(*address, (info.clone(), storage));
    }
}

fn verify_account_proof(root: B256, proof: &trace_builder::AccountProof) {
    let expected = proof.account.map(alloy_rlp::encode);
    verify(root, keccak256(proof.address).as_slice(), expected.as_ref(), &proof.account_proof);
    let storage_root = proof.account.map_or(EMPTY_ROOT_HASH, |account| account.storage_root);
    for slot in &proof.storage {
        let expected = (!slot.value.is_zero()).then(|| alloy_rlp::encode(slot.value));
        let key = keccak256(B256::from(slot.key));
        verify(storage_root, key.as_slice(), expected.as_ref(), &slot.proof);
    }
}

/// A store like the sequencer's database: nodes by location, and by hash only the roots. A
/// trie that asked for any other node by hash alone would find nothing.
#[derive(Default)]
struct LocatedStore {
    nodes: BTreeMap<Location, (B256, StoredNode)>,
    roots: B256Map<Location>,
    next: Option<Location>,
}

impl LocatedStore {
    fn next(&self) -> Location {
        self.next.unwrap_or(Location::MIN)
    }

    fn extend(&mut self, committed: Vec<CommittedNode>) {
        for node in committed {
            assert_eq!(Some(node.location), Some(self.next()), "locations are handed out in order");
            self.next = Some(node.location.saturating_add(1));
            if node.root {
                self.roots.insert(node.hash, node.location);
            }
            let stored = StoredNode {
                rlp: node.rlp,
                location: Some(node.location),
                child_locations: node.child_locations,
            };
            self.nodes.insert(node.location, (node.hash, stored));
        }
    }
}

/// A [`LocatedStore`] that tries read while the test adds to it.
#[derive(Clone, Default)]
struct SharedStore(std::rc::Rc<std::cell::RefCell<LocatedStore>>);

impl NodeStore for SharedStore {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self.stored_node(hash, None)?.map(|node| node.rlp))
    }

    fn stored_node(&self, hash: &B256, location: Option<Location>) -> Result<Option<StoredNode>, StoreError> {
        let store = self.0.borrow();
        let Some(location) = location.or_else(|| store.roots.get(hash).copied()) else { return Ok(None) };
        Ok(store.nodes.get(&location).filter(|(stored, _)| stored == hash).map(|(_, node)| node.clone()))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Over a store that finds nodes by location, and by hash only trie roots, states committed
    /// one after another read back in full: every node but a root is found where its parent
    /// (or its commit) said it is, including the unchanged siblings of changed nodes, whether
    /// the trie that committed them is reused or reopened at the root.
    #[test]
    fn committed_states_read_back_by_location(
        accounts in accounts(),
        batches in prop::collection::vec(changes(), 1..4),
    ) {
        let store = SharedStore::default();
        let mut model = accounts.clone();
        let genesis_changes = StateChanges {
            accounts: accounts
                .iter()
                .map(|(address, (info, storage))| {
                    let change =
                        AccountChange { info: Some(info.clone()), storage_wiped: true, storage: storage.clone() };
                    (*address, change)
                })
                .collect(),
            codes: BTreeMap::new(),
        };
        let mut writer = StateTrie::new(store.clone(), EMPTY_ROOT_HASH);
        let mut root = EMPTY_ROOT_HASH;
        for (index, batch) in std::iter::once(&genesis_changes).chain(&batches).enumerate() {
            // Alternately go on with the same trie (which keeps its nodes' locations) and with
            // one reopened at the root (which learns them from the store).
            if index % 2 == 1 {
                writer = StateTrie::new(store.clone(), root);
            }
            writer.apply(batch).unwrap();
            let next = store.0.borrow().next();
            let (new_root, nodes) = writer.commit_located(next);
            apply_to_model(&mut model, batch);
            prop_assert_eq!(new_root, alloy_state_root(&model));
            store.0.borrow_mut().extend(nodes);
            root = new_root;
            let mut reader = StateTrie::new(store.clone(), root);
            for (address, (info, storage)) in &model {
                let account = reader.account(*address).unwrap().unwrap();
                prop_assert_eq!((account.nonce, account.balance), (info.nonce, info.balance));
                for (slot, value) in storage {
                    prop_assert_eq!(reader.storage(*address, *slot).unwrap(), *value);
                }
            }
        }
    }

    /// A genesis state's root equals alloy-trie's, and every account and slot reads back.
    #[test]
    fn state_root_matches_alloy(accounts in accounts()) {
        let (root, store) = genesis(&accounts);
        prop_assert_eq!(root, alloy_state_root(&accounts));
        let mut state = StateTrie::new(&store, root);
        for (address, (info, storage)) in &accounts {
            let account = state.account(*address).unwrap().unwrap();
            prop_assert_eq!(
                (account.nonce, account.balance, account.code_hash),
                (info.nonce, info.balance, info.code_hash)
            );
            for (slot, value) in storage {
                prop_assert_eq!(state.storage(*address, *slot).unwrap(), *value);
            }
        }
    }

    /// Changes applied to a committed state give the root of the changed state computed from
    /// scratch (by this crate and by alloy-trie); the nodes the application read are a witness
    /// that replays it; the committed result reopens; proofs verify with alloy-trie.
    #[test]
    fn applied_changes_match_recomputed_root(
        accounts in accounts(),
        first in changes(),
        second in changes(),
        probes in prop::collection::vec((address(), prop::collection::vec(slot(), 0..3)), 1..6),
    ) {
        let (pre_root, mut store) = genesis(&accounts);
        let mut model = accounts.clone();

        let recording = Arc::new(RecordingStore::new(store.clone()));
        let mut state = StateTrie::new(recording.clone(), pre_root);
        let root = state.apply(&first).unwrap();
        apply_to_model(&mut model, &first);
        prop_assert_eq!(root, genesis(&model).0);
        prop_assert_eq!(root, alloy_state_root(&model));

        let witness = recording.take();
        let mut stateless = StateTrie::new(&witness, pre_root);
        prop_assert_eq!(stateless.apply(&first).unwrap(), root);

        let (committed, nodes) = state.commit();
        prop_assert_eq!(committed, root);
        store.extend(nodes);
        let mut state = StateTrie::new(&store, root);
        let root = state.apply(&second).unwrap();
        apply_to_model(&mut model, &second);
        prop_assert_eq!(root, alloy_state_root(&model));

        for (address, slots) in &probes {
            let proof = state.proof(*address, slots).unwrap();
            let (info, storage) = match model.get(address) {
                Some((info, storage)) => (Some(info), Some(storage)),
                None => (None, None),
            };
            prop_assert_eq!(proof.account.is_some(), info.is_some());
            if let (Some(account), Some(info)) = (proof.account, info) {
                prop_assert_eq!((account.nonce, account.balance), (info.nonce, info.balance));
            }
            for slot in &proof.storage {
                let value = storage.and_then(|s| s.get(&slot.key)).copied().unwrap_or_default();
                prop_assert_eq!(slot.value, value);
            }
            verify_account_proof(root, &proof);
        }
    }
}

#[test]
fn trie_account_rlp_matches_alloy() {
    let ours = TrieAccount {
        nonce: 7,
        balance: U256::from(1_000_000_007u64),
        storage_root: B256::repeat_byte(1),
        code_hash: B256::repeat_byte(2),
    };
    let theirs = alloy_trie::TrieAccount::new(
        7,
        U256::from(1_000_000_007u64),
        B256::repeat_byte(1),
        B256::repeat_byte(2),
    );
    assert_eq!(alloy_rlp::encode(ours), alloy_rlp::encode(theirs));
    assert_eq!(alloy_rlp::decode_exact::<TrieAccount>(alloy_rlp::encode(theirs)).unwrap(), ours);
}

#[test]
fn malformed_account_value_is_an_error() {
    let address = Address::with_last_byte(1);
    let mut trie = Trie::empty(Store::default());
    trie.insert(keccak256(address).as_slice(), vec![0xc1, 0x80, 0x80]).unwrap();
    let (root, nodes) = trie.commit();
    let store = store_of(nodes);
    let error = StateTrie::new(&store, root).account(address).unwrap_err();
    assert!(matches!(error, TrieError::MalformedValue { .. }), "{error}");
}
