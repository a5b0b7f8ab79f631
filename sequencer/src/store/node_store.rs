//! Trie nodes from the database, behind a bounded in-memory cache.

use super::Store;
use alloy_primitives::{B256, Bytes, map::B256Map};
use parking_lot::Mutex;
use std::sync::Arc;
use trace_builder::trie::{NodeStore, StoreError as TrieStoreError};

/// The sequencer's [`NodeStore`]: a two-generation cache in front of the `trie_nodes` table.
///
/// Lookups try the young generation, then the old one (promoting the node), then the database.
/// When the young generation outgrows half the budget the old one is dropped and the young one
/// takes its place: recently used nodes (the top of the trie, hot accounts) stay resident at a
/// cost of O(1) per access. Nodes written by the sequencer enter the cache as they are committed.
///
/// The trie is synchronous; database reads run with `Handle::block_on`, so this store must only
/// be used off the async runtime's worker threads (the block builder runs on a blocking thread).
#[derive(Clone, Debug)]
pub struct DbNodeStore {
    store: Store,
    runtime: tokio::runtime::Handle,
    cache: Arc<Mutex<Generations>>,
}

#[derive(Debug, Default)]
struct Generations {
    young: B256Map<Bytes>,
    old: B256Map<Bytes>,
    young_bytes: usize,
    budget_bytes: usize,
}

/// Bytes a cached node costs besides its RLP (key, map slot, `Bytes` header).
const ENTRY_OVERHEAD: usize = 80;

impl Generations {
    fn get(&mut self, hash: &B256) -> Option<Bytes> {
        if let Some(node) = self.young.get(hash) {
            return Some(node.clone());
        }
        let node = self.old.remove(hash)?;
        self.insert(*hash, node.clone());
        Some(node)
    }

    fn insert(&mut self, hash: B256, node: Bytes) {
        let size = node.len() + ENTRY_OVERHEAD;
        if self.young.insert(hash, node).is_none() {
            self.young_bytes += size;
        }
        if self.young_bytes > self.budget_bytes / 2 {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
    }
}

impl DbNodeStore {
    /// A node store over `store` whose cache holds about `cache_bytes` of nodes.
    pub fn new(store: Store, runtime: tokio::runtime::Handle, cache_bytes: usize) -> Self {
        let cache = Generations { budget_bytes: cache_bytes, ..Default::default() };
        Self { store, runtime, cache: Arc::new(Mutex::new(cache)) }
    }

    /// Puts freshly committed nodes into the cache.
    pub fn cache_nodes(&self, nodes: &[(B256, Bytes)]) {
        let mut cache = self.cache.lock();
        for (hash, node) in nodes {
            cache.insert(*hash, node.clone());
        }
    }
}

impl NodeStore for DbNodeStore {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieStoreError> {
        if let Some(node) = self.cache.lock().get(hash) {
            return Ok(Some(node));
        }
        let node =
            self.runtime.block_on(self.store.trie_node(*hash)).map_err(|e| TrieStoreError(e.to_string()))?;
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
