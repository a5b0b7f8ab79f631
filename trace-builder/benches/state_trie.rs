//! The sequencer's hot path on a large state: a 1,000-transfer block applied to a
//! 1,000,000-account state trie, its root, its new nodes, its witness, and the stateless replay.
//!
//! `cargo bench -p trace-builder --bench state_trie` prints one table (single thread).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_primitives::{Address, Bytes, KECCAK256_EMPTY, U256, map::B256Map};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};
use trace_builder::{AccountChange, AccountState, EMPTY_ROOT_HASH, RecordingStore, StateChanges, StateTrie};

const ACCOUNTS: u64 = 1_000_000;
const TRANSFERS: u64 = 1_000;
const BLOCKS: u64 = 10;

/// splitmix64: a deterministic stream, so that every run measures the same blocks.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn address(index: u64) -> Address {
    let mut bytes = [0; 20];
    bytes[12..].copy_from_slice(&index.to_be_bytes());
    Address::from(bytes)
}

fn account(nonce: u64, balance: u64) -> AccountState {
    AccountState { nonce, balance: U256::from(balance), code_hash: KECCAK256_EMPTY }
}

/// A block of transfers from existing accounts, half of them to new accounts.
fn block(rng: &mut Rng, next_new: &mut u64) -> StateChanges {
    let mut accounts = BTreeMap::new();
    for _ in 0..TRANSFERS {
        let from = rng.next() % ACCOUNTS;
        let to = if rng.next().is_multiple_of(2) {
            *next_new += 1;
            *next_new
        } else {
            rng.next() % ACCOUNTS
        };
        let change = |info| AccountChange { info: Some(info), ..AccountChange::default() };
        accounts.insert(address(from), change(account(rng.next() % 1000, rng.next())));
        accounts.insert(address(to), change(account(0, rng.next())));
    }
    StateChanges { accounts, codes: BTreeMap::new() }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn main() {
    let mut rng = Rng(7);
    let started = Instant::now();
    let genesis = StateChanges {
        accounts: (0..ACCOUNTS)
            .map(|index| {
                let info = account(rng.next() % 1000, rng.next());
                (address(index), AccountChange { info: Some(info), ..AccountChange::default() })
            })
            .collect(),
        codes: BTreeMap::new(),
    };
    let mut state = StateTrie::new(B256Map::<Bytes>::default(), EMPTY_ROOT_HASH);
    state.apply(&genesis).unwrap();
    let (mut root, nodes) = state.commit();
    drop(state);
    let mut store: B256Map<Bytes> = nodes.into_iter().collect();
    println!(
        "genesis: {ACCOUNTS} accounts, {} nodes, built and committed in {:.0} ms",
        store.len(),
        ms(started.elapsed())
    );

    println!(
        "{:>5} {:>8} {:>9} {:>9} {:>10} {:>9} {:>10} {:>12} {:>10}",
        "block",
        "accounts",
        "apply ms",
        "root ms",
        "commit ms",
        "total ms",
        "new nodes",
        "witness nodes",
        "replay ms"
    );
    let mut totals = Vec::new();
    let mut next_new = ACCOUNTS;
    for number in 1..=BLOCKS {
        let changes = block(&mut rng, &mut next_new);

        // The sequencer: a fresh trie over the database, recording the witness.
        let recording = RecordingStore::new(&store);
        let mut state = StateTrie::new(&recording, root);
        let started = Instant::now();
        state.update(&changes).unwrap();
        let applied = started.elapsed();
        let new_root = state.root_hash();
        let rooted = started.elapsed();
        let (committed, nodes) = state.commit();
        let total = started.elapsed();
        assert_eq!(committed, new_root);
        let new_nodes = nodes.len();
        let witness = recording.take();

        // The verifier: the same block over the witness alone.
        let started = Instant::now();
        let mut stateless = StateTrie::new(&witness, root);
        let replayed = stateless.apply(&changes).unwrap();
        let replay = started.elapsed();
        assert_eq!(replayed, new_root);

        println!(
            "{number:>5} {:>8} {:>9.1} {:>9.1} {:>10.1} {:>9.1} {:>10} {:>12} {:>10.1}",
            changes.accounts.len(),
            ms(applied),
            ms(rooted - applied),
            ms(total - rooted),
            ms(total),
            new_nodes,
            witness.len(),
            ms(replay),
        );
        totals.push(ms(total));
        drop(state);
        store.extend(nodes);
        root = new_root;
    }
    totals.sort_by(f64::total_cmp);
    println!(
        "apply + root + commit of a {TRANSFERS}-transfer block: median {:.1} ms, max {:.1} ms",
        totals[totals.len() / 2],
        totals[totals.len() - 1]
    );
}
