//! The one Merkle-Patricia trie of the project (see DESIGN.md, "One executor, one trie").

mod store;

pub use store::{NodeStore, StoreError};

/// Errors of trie operations.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TrieError {
    /// A node the operation needs is not in the store (in the verifier: the witness is incomplete).
    #[error("missing trie node {0}")]
    MissingNode(alloy_primitives::B256),
    /// A node from the store does not decode as a trie node.
    #[error("malformed trie node {hash}: {reason}")]
    MalformedNode {
        /// Hash under which the node was found.
        hash: alloy_primitives::B256,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
