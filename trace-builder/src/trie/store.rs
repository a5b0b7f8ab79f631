//! Where the trie reads its nodes from: the database in the sequencer, the witness in the verifier.

use alloy_primitives::{B256, Bytes, map::B256Map};
use std::{num::NonZeroU64, sync::Arc};

/// Where a store keeps a node: a key it fetches the node by more cheaply than by hash (the
/// sequencer's database assigns them in the order it writes nodes, so a block's new nodes are
/// appended together instead of scattered by their hashes). Stores that keep nodes only by
/// hash hand out none and ignore them.
pub type Location = NonZeroU64;

/// A node as a store hands it out, with where the store keeps it and its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredNode {
    /// The node's RLP.
    pub rlp: Bytes,
    /// Where the store keeps the node, when it says.
    pub location: Option<Location>,
    /// The locations of the node's children referenced by hash, in the order they appear in
    /// the RLP, as [`encode_locations`] writes them; empty (or zero for one child) when unknown.
    pub child_locations: Bytes,
}

/// A node created by [`Trie::commit_located`](super::Trie::commit_located), with the location
/// it was given and the locations of its children, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedNode {
    /// keccak256 of the RLP.
    pub hash: B256,
    /// The node's RLP.
    pub rlp: Bytes,
    /// The location assigned to the node.
    pub location: Location,
    /// The locations of its children referenced by hash, as [`encode_locations`] writes them.
    pub child_locations: Bytes,
    /// The node is the root of its trie: tries are opened by their root's hash alone, so a
    /// store must be able to find it by hash.
    pub root: bool,
}

/// Packs child locations: eight little-endian bytes each, zero for an unknown one.
pub fn encode_locations(locations: impl IntoIterator<Item = Option<Location>>) -> Bytes {
    locations.into_iter().flat_map(|location| location.map_or(0, Location::get).to_le_bytes()).collect()
}

/// The `index`th location packed by [`encode_locations`], `None` when unknown or absent.
pub(crate) fn location_at(packed: &[u8], index: usize) -> Option<Location> {
    let bytes = packed.get(index * 8..index * 8 + 8)?;
    Location::new(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// A content-addressed source of trie nodes: `keccak256(rlp(node))` → `rlp(node)`.
///
/// Only nodes whose RLP is at least 32 bytes are stored by hash; shorter nodes are embedded in
/// their parent and never looked up.
pub trait NodeStore {
    /// The node whose RLP hashes to `hash`, or `None` when the store does not have it. The trie
    /// turns a `None` into [`TrieError::MissingNode`](super::TrieError::MissingNode): in the
    /// verifier a missing node is an invalid witness, never a default.
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError>;

    /// The node stored under `hash`, fetched at `location` when the trie knows where the store
    /// keeps it (from a parent fetched the same way, or from a commit), with the locations of
    /// its children. Stores that keep nodes only by hash need not override this.
    fn stored_node(&self, hash: &B256, location: Option<Location>) -> Result<Option<StoredNode>, StoreError> {
        let _ = location;
        Ok(self.node(hash)?.map(|rlp| StoredNode { rlp, ..StoredNode::default() }))
    }

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

    fn stored_node(&self, hash: &B256, location: Option<Location>) -> Result<Option<StoredNode>, StoreError> {
        (**self).stored_node(hash, location)
    }

    fn content_addressed(&self) -> bool {
        (**self).content_addressed()
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Arc<T> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        (**self).node(hash)
    }

    fn stored_node(&self, hash: &B256, location: Option<Location>) -> Result<Option<StoredNode>, StoreError> {
        (**self).stored_node(hash, location)
    }

    fn content_addressed(&self) -> bool {
        (**self).content_addressed()
    }
}
