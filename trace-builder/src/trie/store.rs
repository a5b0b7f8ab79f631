//! Where the trie reads its nodes from: the database in the sequencer, the witness in the verifier.

use alloy_primitives::{B256, Bytes, map::B256Map};
use std::sync::Arc;

/// A content-addressed source of trie nodes: `keccak256(rlp(node))` → `rlp(node)`.
///
/// Only nodes whose RLP is at least 32 bytes are stored by hash; shorter nodes are embedded in
/// their parent and never looked up.
pub trait NodeStore {
    /// The node whose RLP hashes to `hash`, or `None` when the store does not have it. The trie
    /// turns a `None` into [`TrieError::MissingNode`](super::TrieError::MissingNode): in the
    /// verifier a missing node is an invalid witness, never a default.
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError>;

    /// Whether every node this store hands out is known to hash to the key it was asked for,
    /// because the store keyed each node by its hash itself, so that the trie need not hash it
    /// again. A store that holds what others supplied (a database, a map) says `false`.
    fn content_addressed(&self) -> bool {
        false
    }
}

/// A failure of the store itself (I/O, a closed database), as opposed to a node it does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node store: {0}")]
pub struct StoreError(pub String);

impl NodeStore for B256Map<Bytes> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self.get(hash).cloned())
    }
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        (**self).node(hash)
    }

    fn content_addressed(&self) -> bool {
        (**self).content_addressed()
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Arc<T> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        (**self).node(hash)
    }

    fn content_addressed(&self) -> bool {
        (**self).content_addressed()
    }
}
