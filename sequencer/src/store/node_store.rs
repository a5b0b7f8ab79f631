//! Trie nodes from the database, behind a bounded in-memory cache.

use super::Store;
use alloy_primitives::{Address, B256, Bytes, map::B256Map};
use parking_lot::Mutex;
use std::{sync::Arc, thread::JoinHandle};
use trace_builder::{
    StateTrie,
    trie::{CommittedNode, Location, NodeStore, StoreError as TrieStoreError, StoredNode},
};

/// The sequencer's [`NodeStore`]: a two-generation cache in front of the `trie_nodes` table.
///
/// Lookups try the young generation, then the old one (promoting the node), then the database:
/// at the node's location when the trie knows it, else by hash (trie roots).
/// When the young generation outgrows half the budget the old one is dropped and the young one
/// takes its place: recently used nodes (the top of the trie, hot accounts) stay resident at a
/// cost of O(1) per access. Nodes written by the sequencer enter the cache as they are committed.
///
/// The trie is synchronous; database reads run with `Handle::block_on`, so this store must only
/// be used off the async runtime's worker threads (the block builder runs on a blocking thread),
/// unless it is [`DbNodeStore::in_memory`], which never reads the database.
#[derive(Clone, Debug)]
pub struct DbNodeStore {
    store: Store,
    runtime: tokio::runtime::Handle,
    cache: Arc<Mutex<Generations>>,
    in_memory: bool,
    /// `sequencer_trie_node_cache_bytes`.
    cache_bytes: metrics::Gauge,
}

#[derive(Debug, Default)]
struct Generations {
    young: B256Map<StoredNode>,
    old: B256Map<StoredNode>,
    young_bytes: usize,
    old_bytes: usize,
    budget_bytes: usize,
}

/// Bytes a cached node costs besides its RLP and child locations (key, map slot, headers).
const ENTRY_OVERHEAD: usize = 128;

/// Threads that read trie paths at once to warm the cache: a few of the producer's connections.
pub(super) const WARMING_THREADS: usize = 4;

/// Fewest accounts worth starting threads for.
const MIN_WARMED_ACCOUNTS: usize = 32;

impl Generations {
    fn get(&mut self, hash: &B256) -> Option<StoredNode> {
        if let Some(node) = self.young.get(hash) {
            return Some(node.clone());
        }
        let node = self.old.remove(hash)?;
        self.old_bytes = self.old_bytes.saturating_sub(entry_bytes(&node));
        self.insert(*hash, node.clone());
        Some(node)
    }

    fn insert(&mut self, hash: B256, node: StoredNode) {
        let size = entry_bytes(&node);
        if self.young.insert(hash, node).is_none() {
            self.young_bytes += size;
        }
        if self.young_bytes > self.budget_bytes / 2 {
            self.old = std::mem::take(&mut self.young);
            self.old_bytes = std::mem::take(&mut self.young_bytes);
        }
    }
}

fn entry_bytes(node: &StoredNode) -> usize {
    node.rlp.len() + node.child_locations.len() + ENTRY_OVERHEAD
}

impl DbNodeStore {
    /// A node store over `store` whose cache holds about `cache_bytes` of nodes.
    pub fn new(store: Store, runtime: tokio::runtime::Handle, cache_bytes: usize) -> Self {
        let cache = Generations { budget_bytes: cache_bytes, ..Default::default() };
        let cache_bytes = metrics::gauge!("sequencer_trie_node_cache_bytes");
        Self { store, runtime, cache: Arc::new(Mutex::new(cache)), in_memory: false, cache_bytes }
    }

    /// The same store and cache, serving only what the cache holds: a node it lacks is an
    /// error instead of a database read, so the store may be used on the async runtime's
    /// threads.
    pub fn in_memory(&self) -> Self {
        Self { in_memory: true, ..self.clone() }
    }

    /// The same cache, reading missing nodes through `store` (the producer's connections).
    pub fn with_store(&self, store: Store) -> Self {
        Self { store, ..self.clone() }
    }

    /// The same store and cache, reading the database for nodes the cache lacks.
    pub fn reading_database(&self) -> Self {
        Self { in_memory: false, ..self.clone() }
    }

    /// Puts freshly committed nodes into the cache.
    pub fn cache_nodes(&self, nodes: &[CommittedNode]) {
        let mut cache = self.cache.lock();
        for node in nodes {
            let stored = StoredNode {
                rlp: node.rlp.clone(),
                location: Some(node.location),
                child_locations: node.child_locations.clone(),
            };
            cache.insert(node.hash, stored);
        }
        self.cache_bytes.set((cache.young_bytes + cache.old_bytes) as f64);
    }

    /// Starts reading the account-trie paths of `addresses` at `root` on a few threads, so that
    /// their nodes are cached by the time the builder updates the trie: after a restart, or
    /// for accounts untouched since, every node on a path is a database round trip, and the
    /// trie alone would make them one after another. `None` when there are too few to bother.
    /// Read errors are left for the builder's own reads to report.
    pub fn warm_account_paths(&self, root: B256, addresses: Vec<Address>) -> Option<JoinHandle<()>> {
        if addresses.len() < MIN_WARMED_ACCOUNTS {
            return None;
        }
        let store = self.reading_database();
        let spawned = std::thread::Builder::new().name("trie-warming".into()).spawn(move || {
            let share = addresses.len().div_ceil(WARMING_THREADS);
            std::thread::scope(|scope| {
                for part in addresses.chunks(share) {
                    let trie_store = store.clone();
                    scope.spawn(move || {
                        let mut trie = StateTrie::new(trie_store, root);
                        for address in part {
                            if trie.account(*address).is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        });
        spawned.ok()
    }
}

impl NodeStore for DbNodeStore {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieStoreError> {
        Ok(self.stored_node(hash, None)?.map(|node| node.rlp))
    }

    fn stored_node(
        &self,
        hash: &B256,
        location: Option<Location>,
    ) -> Result<Option<StoredNode>, TrieStoreError> {
        if let Some(node) = self.cache.lock().get(hash) {
            return Ok(Some(node));
        }
        if self.in_memory {
            return Err(TrieStoreError(format!("trie node {hash} is not in memory")));
        }
        let node = self
            .runtime
            .block_on(self.store.trie_node(*hash, location))
            .map_err(|e| TrieStoreError(e.to_string()))?;
        if let Some(node) = &node {
            self.cache.lock().insert(*hash, node.clone());
        }
        Ok(node)
    }

    /// The `trie_nodes` table holds only nodes this sequencer hashed itself and stored under
    /// that hash (in the same transaction as their block), so the trie need not hash them again
    /// on every load.
    fn content_addressed(&self) -> bool {
        true
    }
}
