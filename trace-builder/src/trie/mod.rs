//! The one Merkle-Patricia trie of the project (docs/architecture.md, "Decisions and their reasons").
//!
//! A hexary Merkle-Patricia trie (Ethereum Yellow Paper, appendix D) that loads its nodes lazily
//! from a [`NodeStore`] by hash. The same code serves the sequencer (the store is the database:
//! state roots, `eth_getProof`, historical state) and the stateless verifier (the store is the
//! witness: a missing node is an error, never a default). Wrapping the store in a
//! [`RecordingStore`] collects every node an operation read: the state-access proof.

mod nibbles;
mod node;
mod parallel;
mod proof;
mod recording;
mod store;

use alloy_primitives::{B256, Bytes};
pub use recording::RecordingStore;
pub use store::{CommittedNode, Location, NodeStore, StoreError, StoredNode, encode_locations};

use alloy_primitives::{b256, map::B256Map};
use nibbles::{common_prefix_len, concat};
use node::{Committer, Node, NodeData, NodeRef};

/// Root hash of the empty trie: keccak256 of the RLP of the empty string.
pub const EMPTY_ROOT_HASH: B256 = b256!("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// Errors of trie operations.
///
/// An operation that fails leaves the trie's contents as they were (it may have loaded nodes,
/// which changes nothing): in particular a delete loads the sibling it must merge before it
/// changes anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// A value stored in the trie does not decode as what the key holds (an account, a storage
    /// value).
    #[error("malformed trie value at key {key}: {reason}")]
    MalformedValue {
        /// The key (as given to the trie, i.e. hashed for the state and storage tries).
        key: Bytes,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A Merkle-Patricia trie over a [`NodeStore`].
///
/// Nodes are loaded from the store on first use, checked against their hash, and kept in memory
/// for the trie's lifetime; changes stay in memory until [`Trie::commit`] hands out the new
/// nodes. Hashing visits only nodes changed since they were last hashed, spread over the
/// machine's cores when a big change reaches many subtries of a branch root. The trie is `Send`
/// when its store is.
#[derive(Debug)]
pub struct Trie<S> {
    store: S,
    root: NodeRef,
    /// Encoding buffer reused across hashing, so that hashing allocates nothing.
    scratch: Vec<u8>,
}

impl<S: NodeStore> Trie<S> {
    /// The trie with root hash `root` ([`EMPTY_ROOT_HASH`] for an empty trie), whose nodes are
    /// in `store`. Reads nothing until an operation needs it.
    pub fn new(store: S, root: B256) -> Self {
        let root = if root == EMPTY_ROOT_HASH { NodeRef::Empty } else { NodeRef::Hash(root, None) };
        Self { store, root, scratch: Vec::new() }
    }

    /// An empty trie over `store`.
    pub fn empty(store: S) -> Self {
        Self::new(store, EMPTY_ROOT_HASH)
    }

    /// The store the trie reads from.
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// The value under `key`, `None` when absent. Reads (and with a [`RecordingStore`],
    /// records) the nodes on the path to `key`.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        get_at(&self.store, &mut self.root, &nibbles::from_key(key))
    }

    /// Sets `key` to `value`; an empty `value` removes `key` (the trie holds no empty values).
    pub fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), TrieError> {
        if value.is_empty() {
            return self.remove(key);
        }
        insert_at(&self.store, &mut self.root, &nibbles::from_key(key), value.into_boxed_slice()).map(drop)
    }

    /// Removes `key` (nothing happens when absent). When a branch is left with a single child
    /// it merges with it, which loads that child: a sibling of `key`'s path is then read.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        remove_at(&self.store, &mut self.root, &nibbles::from_key(key)).map(drop)
    }

    /// The root hash, hashing only the nodes changed since the last hash (each once).
    pub fn root_hash(&mut self) -> B256 {
        parallel::hash_root_children(&mut self.root, None);
        self.root.reference(&mut self.scratch, None, true).map_or(EMPTY_ROOT_HASH, |root| root.hash())
    }

    /// The root hash and the nodes to store so that a trie reopened at that root over a store
    /// holding them (and the nodes this trie was opened over) reads the same contents: every
    /// node created since the last commit whose RLP is at least 32 bytes, plus the root node
    /// (stored under its hash whatever its length; not for an empty trie, whose root needs no
    /// node). Nodes are `(keccak256(rlp), rlp)`. Children come before their parents.
    pub fn commit(&mut self) -> (B256, Vec<(B256, Bytes)>) {
        let (root, nodes) = self.commit_located(Location::MIN);
        (root, nodes.into_iter().map(|node| (node.hash, node.rlp)).collect())
    }

    /// [`Trie::commit`] for a store that keeps nodes at locations: the new nodes get the
    /// locations from `next` on, in the order they are returned, and each one lists the
    /// locations of its children, so that a trie later reads them by location instead of by
    /// hash. The trie keeps the locations for the nodes it holds.
    pub fn commit_located(&mut self, next: Location) -> (B256, Vec<CommittedNode>) {
        let mut committer = Committer { nodes: Vec::new(), next };
        parallel::hash_root_children(&mut self.root, Some(&mut committer));
        let root = self
            .root
            .reference(&mut self.scratch, Some(&mut committer), true)
            .map_or(EMPTY_ROOT_HASH, |root| root.hash());
        (root, committer.nodes)
    }
}

/// The root of the trie with keys `rlp(0)`, `rlp(1)`, … holding `items` in order: the
/// transactions, receipts and withdrawals roots of a block header. Empty items are absent keys
/// (a trie holds no empty values); transactions, receipts and withdrawals are never empty.
pub fn ordered_trie_root<T: AsRef<[u8]>>(items: &[T]) -> B256 {
    let mut trie = Trie::empty(B256Map::<Bytes>::default());
    for (index, item) in items.iter().enumerate() {
        // An in-memory trie opened empty never references a node by hash, so it never reads
        // its store and inserting cannot fail.
        #[allow(clippy::expect_used)]
        trie.insert(&alloy_rlp::encode(index), item.as_ref().to_vec())
            .expect("an in-memory trie reads no node");
    }
    trie.root_hash()
}

fn get_at<S: NodeStore>(store: &S, slot: &mut NodeRef, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
    let Some(data) = slot.resolve(store)? else {
        return Ok(None);
    };
    match &mut data.node {
        Node::Leaf { path: leaf, value } => Ok((**leaf == *path).then(|| value.to_vec())),
        Node::Extension { path: shared, child } => match path.strip_prefix(&**shared) {
            Some(rest) => get_at(store, child, rest),
            None => Ok(None),
        },
        Node::Branch { children, value } => match path.split_first() {
            None => Ok(value.as_deref().map(<[u8]>::to_vec)),
            Some((&nibble, rest)) => get_at(store, &mut children[usize::from(nibble)], rest),
        },
    }
}

/// Puts `value` at `path` in a branch being built: as the branch's value when `path` is empty,
/// else as a leaf in the slot of its first nibble.
fn place(children: &mut [NodeRef; 16], branch_value: &mut Option<Box<[u8]>>, path: &[u8], value: Box<[u8]>) {
    match path.split_first() {
        None => *branch_value = Some(value),
        Some((&nibble, rest)) => {
            children[usize::from(nibble)] = NodeRef::new(Node::Leaf { path: rest.into(), value });
        }
    }
}

/// `branch`, below an extension of `prefix` when `prefix` is not empty.
fn under_prefix(prefix: &[u8], branch: Node) -> NodeRef {
    let branch = NodeRef::new(branch);
    if prefix.is_empty() {
        branch
    } else {
        NodeRef::new(Node::Extension { path: prefix.into(), child: branch })
    }
}

/// Inserts `value` (not empty) at `path` below `slot`; returns whether anything changed.
fn insert_at<S: NodeStore>(
    store: &S,
    slot: &mut NodeRef,
    path: &[u8],
    value: Box<[u8]>,
) -> Result<bool, TrieError> {
    let Some(data) = slot.resolve(store)? else {
        *slot = NodeRef::new(Node::Leaf { path: path.into(), value });
        return Ok(true);
    };
    let replacement = match &mut data.node {
        Node::Leaf { path: leaf, value: old } => {
            if **leaf == *path {
                if *old == value {
                    return Ok(false);
                }
                *old = value;
                data.touch();
                return Ok(true);
            }
            let common = common_prefix_len(leaf, path);
            let mut children: Box<[NodeRef; 16]> = Box::default();
            let mut branch_value = None;
            place(&mut children, &mut branch_value, &leaf[common..], std::mem::take(old));
            place(&mut children, &mut branch_value, &path[common..], value);
            under_prefix(&path[..common], Node::Branch { children, value: branch_value })
        }
        Node::Extension { path: shared, child } => {
            let common = common_prefix_len(shared, path);
            if common == shared.len() {
                let changed = insert_at(store, child, &path[common..], value)?;
                if changed {
                    data.touch();
                }
                return Ok(changed);
            }
            // The new key leaves the shared path at `common`: fork there.
            let mut children: Box<[NodeRef; 16]> = Box::default();
            let mut branch_value = None;
            let below = std::mem::take(child);
            let rest = &shared[common + 1..];
            children[usize::from(shared[common])] = if rest.is_empty() {
                below
            } else {
                NodeRef::new(Node::Extension { path: rest.into(), child: below })
            };
            place(&mut children, &mut branch_value, &path[common..], value);
            under_prefix(&path[..common], Node::Branch { children, value: branch_value })
        }
        Node::Branch { children, value: branch_value } => {
            let changed = match path.split_first() {
                None if branch_value.as_ref() == Some(&value) => false,
                None => {
                    *branch_value = Some(value);
                    true
                }
                Some((&nibble, rest)) => insert_at(store, &mut children[usize::from(nibble)], rest, value)?,
            };
            if changed {
                data.touch();
            }
            return Ok(changed);
        }
    };
    *slot = replacement;
    Ok(true)
}

/// Removes `path` below `slot`; returns whether anything changed. Fails before changing
/// anything: the only node a delete may need besides those on the path (the sibling a branch
/// merges with) is loaded first.
fn remove_at<S: NodeStore>(store: &S, slot: &mut NodeRef, path: &[u8]) -> Result<bool, TrieError> {
    let Some(data) = slot.resolve(store)? else {
        return Ok(false);
    };
    match &mut data.node {
        Node::Leaf { path: leaf, .. } => {
            if **leaf != *path {
                return Ok(false);
            }
            *slot = NodeRef::Empty;
            Ok(true)
        }
        Node::Extension { path: shared, child } => {
            let Some(rest) = path.strip_prefix(&**shared) else {
                return Ok(false);
            };
            if !remove_at(store, child, rest)? {
                return Ok(false);
            }
            // The branch below may have become a leaf or an extension: absorb it.
            if let NodeRef::Node(below) = child
                && matches!(below.node, Node::Branch { .. })
            {
                data.touch();
                return Ok(true);
            }
            let replacement = match std::mem::take(child) {
                NodeRef::Node(below) => prefixed(shared, *below),
                // Only a malformed trie has an extension to a single leaf or to nothing.
                NodeRef::Empty | NodeRef::Hash(..) => NodeRef::Empty,
            };
            *slot = replacement;
            Ok(true)
        }
        Node::Branch { children, value } => {
            match path.split_first() {
                None => {
                    if value.is_none() {
                        return Ok(false);
                    }
                    load_last_child(store, children, None)?;
                    *value = None;
                }
                Some((&nibble, rest)) => {
                    let index = usize::from(nibble);
                    // Only a leaf at exactly `rest` vanishes; if that leaves a single child,
                    // load it now, before anything changes.
                    if value.is_none() {
                        let vanishes = children[index].resolve(store)?.is_some_and(
                            |child| matches!(&child.node, Node::Leaf { path, .. } if **path == *rest),
                        );
                        if vanishes {
                            load_last_child(store, children, Some(index))?;
                        }
                    }
                    if !remove_at(store, &mut children[index], rest)? {
                        return Ok(false);
                    }
                }
            }
            let mut remaining = children.iter().enumerate().filter(|(_, child)| !child.is_empty());
            let (first, second) = (remaining.next().map(|(index, _)| index), remaining.next());
            let replacement = match (first, second, value.take()) {
                (None, _, Some(value)) => NodeRef::new(Node::Leaf { path: Box::default(), value }),
                (None, _, None) => NodeRef::Empty,
                (Some(index), None, None) => {
                    let child = &mut children[index];
                    child.resolve(store)?;
                    // `index` < 16, so it is a nibble.
                    let nibble = [index as u8];
                    match std::mem::take(child) {
                        NodeRef::Node(below) => prefixed(&nibble, *below),
                        NodeRef::Empty | NodeRef::Hash(..) => NodeRef::Empty,
                    }
                }
                (Some(_), _, value_left) => {
                    *value = value_left;
                    data.touch();
                    return Ok(true);
                }
            };
            *slot = replacement;
            Ok(true)
        }
    }
}

/// `below` with `prefix` in front of its path: a leaf or an extension absorbs it, a branch goes
/// under a new extension.
fn prefixed(prefix: &[u8], below: NodeData) -> NodeRef {
    let NodeData { node, reference, persisted, location } = below;
    NodeRef::new(match node {
        Node::Leaf { path, value } => Node::Leaf { path: concat(prefix, &path), value },
        Node::Extension { path, child } => Node::Extension { path: concat(prefix, &path), child },
        node @ Node::Branch { .. } => Node::Extension {
            path: prefix.into(),
            child: NodeRef::Node(Box::new(NodeData { node, reference, persisted, location })),
        },
    })
}

/// Loads the only child of `children` other than `except`, if there is exactly one: the node a
/// branch will merge with once `except` (or its value) is gone.
fn load_last_child<S: NodeStore>(
    store: &S,
    children: &mut [NodeRef; 16],
    except: Option<usize>,
) -> Result<(), TrieError> {
    let mut others = children
        .iter_mut()
        .enumerate()
        .filter(|(index, child)| Some(*index) != except && !child.is_empty())
        .map(|(_, child)| child);
    if let (Some(last), None) = (others.next(), others.next()) {
        last.resolve(store)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_change_tracking() {
        let mut trie = Trie::empty(B256Map::<Bytes>::default());
        trie.insert(b"dog", b"puppy".to_vec()).unwrap();
        trie.insert(b"do", b"verb".to_vec()).unwrap();
        trie.insert(b"doge", vec![0x42; 40]).unwrap();
        assert_eq!(trie.get(b"do").unwrap(), Some(b"verb".to_vec()));
        assert_eq!(trie.get(b"d").unwrap(), None);
        assert_eq!(trie.get(b"dogs").unwrap(), None);

        let (root, nodes) = trie.commit();
        assert!(!nodes.is_empty());
        // Writing what is already there changes nothing: same root, nothing new to store.
        trie.insert(b"dog", b"puppy".to_vec()).unwrap();
        trie.remove(b"cat").unwrap();
        assert_eq!(trie.commit(), (root, Vec::new()));

        trie.remove(b"doge").unwrap();
        trie.remove(b"dog").unwrap();
        trie.remove(b"do").unwrap();
        assert_eq!(trie.root_hash(), EMPTY_ROOT_HASH);
    }

    #[test]
    fn recording_store_records_what_was_read() {
        let mut trie = Trie::empty(B256Map::<Bytes>::default());
        // Sixteen keys with distinct first nibbles: a root branch over sixteen leaves.
        for i in 0u8..16 {
            trie.insert(&[i << 4; 32], vec![i; 40]).unwrap();
        }
        let (root, nodes) = trie.commit();
        let store: B256Map<Bytes> = nodes.into_iter().collect();
        let recording = RecordingStore::new(&store);
        let mut reader = Trie::new(&recording, root);
        assert!(recording.recorded().is_empty(), "opening reads nothing");
        assert_eq!(reader.get(&[3 << 4; 32]).unwrap(), Some(vec![3; 40]));
        // The root branch and the leaf of the key.
        assert_eq!(recording.take().len(), 2);
        assert_eq!(reader.get(&[3 << 4; 32]).unwrap(), Some(vec![3; 40]));
        assert!(recording.recorded().is_empty(), "a loaded node is not read again");
    }
}
