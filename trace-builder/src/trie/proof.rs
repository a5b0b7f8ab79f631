//! Merkle proofs of keys, as `eth_getProof` returns them.

use super::{
    NodeStore, Trie, TrieError, nibbles,
    node::{Node, NodeRef},
};
use alloy_primitives::Bytes;

impl<S: NodeStore> Trie<S> {
    /// The proof of `key`, present or absent: the RLP of every node on the path from the root
    /// towards `key` that is stored by hash (the root always; nodes embedded in their parent are
    /// inside the parent's RLP), root first. Against [`Trie::root_hash`] it proves the value of
    /// `key`, or its absence. Empty for an empty trie. Reads the nodes on the path.
    pub fn proof(&mut self, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
        let mut proof = Vec::new();
        proof_at(&self.store, &mut self.root, &nibbles::from_key(key), &mut self.scratch, &mut proof, true)?;
        Ok(proof)
    }
}

fn proof_at<S: NodeStore>(
    store: &S,
    slot: &mut NodeRef,
    path: &[u8],
    scratch: &mut Vec<u8>,
    proof: &mut Vec<Bytes>,
    is_root: bool,
) -> Result<(), TrieError> {
    let Some(data) = slot.resolve(store)? else {
        return Ok(());
    };
    data.encode(scratch, None);
    if is_root || scratch.len() >= 32 {
        proof.push(Bytes::copy_from_slice(scratch));
    }
    match &mut data.node {
        Node::Leaf { .. } => Ok(()),
        Node::Extension { path: shared, child } => match path.strip_prefix(&**shared) {
            Some(rest) => proof_at(store, child, rest, scratch, proof, false),
            None => Ok(()),
        },
        Node::Branch { children, .. } => match path.split_first() {
            None => Ok(()),
            Some((&nibble, rest)) => {
                proof_at(store, &mut children[usize::from(nibble)], rest, scratch, proof, false)
            }
        },
    }
}
