//! The store wrapper that collects the state-access proof.

use super::{Location, NodeStore, StoreError, StoredNode};
use alloy_primitives::{B256, Bytes, map::B256Map};
use parking_lot::Mutex;

/// A [`NodeStore`] that records every node it hands out (hash → RLP).
///
/// Open a fresh [`Trie`](super::Trie) over it at the pre-state root, run a batch's operations,
/// and [`RecordingStore::recorded`] is exactly the set of pre-state nodes those operations read,
/// including the siblings deletes merge with: the witness. A trie over only those nodes, opened
/// at the same root, can replay the same operations. Nodes the batch created are in memory and
/// never fetched, so they are never recorded. A trie keeps what it loaded, so a trie reused
/// across batches records each node only in the batch that first read it.
#[derive(Debug, Default)]
pub struct RecordingStore<S> {
    inner: S,
    recorded: Mutex<B256Map<Bytes>>,
}

impl<S> RecordingStore<S> {
    /// Wraps `inner`, with nothing recorded yet.
    pub fn new(inner: S) -> Self {
        Self { inner, recorded: Mutex::default() }
    }

    /// A copy of the nodes handed out so far.
    pub fn recorded(&self) -> B256Map<Bytes> {
        self.recorded.lock().clone()
    }

    /// The nodes handed out so far, leaving the record empty.
    pub fn take(&self) -> B256Map<Bytes> {
        std::mem::take(&mut *self.recorded.lock())
    }

    /// The wrapped store.
    pub const fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped store and the record.
    pub fn into_parts(self) -> (S, B256Map<Bytes>) {
        (self.inner, self.recorded.into_inner())
    }
}

impl<S: NodeStore> NodeStore for RecordingStore<S> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self.stored_node(hash, None)?.map(|node| node.rlp))
    }

    fn stored_node(&self, hash: &B256, location: Option<Location>) -> Result<Option<StoredNode>, StoreError> {
        let node = self.inner.stored_node(hash, location)?;
        if let Some(node) = &node {
            self.recorded.lock().insert(*hash, node.rlp.clone());
        }
        Ok(node)
    }

    fn content_addressed(&self) -> bool {
        self.inner.content_addressed()
    }
}
