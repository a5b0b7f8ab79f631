//! Trie nodes in memory, their RLP encoding and their decoding from untrusted bytes.
//!
//! A node is held either by reference only ([`NodeRef::Hash`], not loaded yet) or loaded
//! ([`NodeRef::Node`]), together with the cached reference its parent uses for it (its hash, or
//! its RLP when that is shorter than 32 bytes) and whether it is already in the store. A change
//! clears both on the path from the root to the changed node, so hashing and committing visit
//! exactly the changed nodes.

use super::{
    NodeStore, TrieError,
    nibbles::{hex_prefix_decode, hex_prefix_encode, hex_prefix_len},
    store::{CommittedNode, Location, encode_locations, location_at},
};
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{EMPTY_STRING_CODE, Header};

/// How a parent refers to a child: by hash, or by the child's RLP itself when that is shorter
/// than 32 bytes (the child is then embedded and never stored on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    /// keccak256 of the child's RLP, which is at least 32 bytes long.
    Hash(B256),
    /// The child's RLP, `rlp[..len]`, shorter than 32 bytes.
    Inline {
        /// Length of the RLP.
        len: u8,
        /// The RLP, zero-padded.
        rlp: [u8; 31],
    },
}

impl Reference {
    /// The reference of a node whose RLP is `rlp`.
    pub(crate) fn of(rlp: &[u8]) -> Self {
        match u8::try_from(rlp.len()) {
            Ok(len) if len < 32 => {
                let mut inline = [0; 31];
                inline[..rlp.len()].copy_from_slice(rlp);
                Self::Inline { len, rlp: inline }
            }
            _ => Self::Hash(keccak256(rlp)),
        }
    }

    /// keccak256 of the node's RLP, whatever its length: the hash of a root node.
    pub(crate) fn hash(&self) -> B256 {
        match self {
            Self::Hash(hash) => *hash,
            Self::Inline { len, rlp } => keccak256(&rlp[..usize::from(*len)]),
        }
    }

    /// Length of the reference inside the parent's RLP.
    fn encoded_len(&self) -> usize {
        match self {
            Self::Hash(_) => 33,
            Self::Inline { len, .. } => usize::from(*len),
        }
    }

    /// Appends the reference as it appears inside the parent's RLP.
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Hash(hash) => {
                out.push(EMPTY_STRING_CODE + 32);
                out.extend_from_slice(hash.as_slice());
            }
            Self::Inline { len, rlp } => out.extend_from_slice(&rlp[..usize::from(*len)]),
        }
    }
}

/// A slot that holds a node: nothing, a node not loaded yet, or a loaded node.
#[derive(Debug, Default)]
pub(crate) enum NodeRef {
    /// No node (an empty trie, or an empty branch slot).
    #[default]
    Empty,
    /// A node stored under this hash (at this location, when known), not loaded yet.
    Hash(B256, Option<Location>),
    /// A node in memory.
    Node(Box<NodeData>),
}

/// A node in memory with what is known about its encoding.
#[derive(Debug)]
pub(crate) struct NodeData {
    /// The node.
    pub(crate) node: Node,
    /// The cached reference of the node, `None` when the node changed since it was computed.
    pub(crate) reference: Option<Reference>,
    /// The node is in the store already (it was loaded from it, embedded in a loaded node, or
    /// returned by a commit); then so are all its descendants.
    pub(crate) persisted: bool,
    /// Where the store keeps the node, when known (from its parent or its commit).
    pub(crate) location: Option<Location>,
}

/// What a commit collects: the nodes to store, and the location the next one gets.
#[derive(Debug)]
pub(crate) struct Committer {
    pub(crate) nodes: Vec<CommittedNode>,
    pub(crate) next: Location,
}

/// The three kinds of non-empty node (Yellow Paper, appendix D). Paths are nibbles.
#[derive(Debug)]
pub(crate) enum Node {
    /// The end of a key: the rest of its path and its value (never empty).
    Leaf {
        /// Remaining path of the key.
        path: Box<[u8]>,
        /// The value.
        value: Box<[u8]>,
    },
    /// A path shared by all keys below, leading to a branch.
    Extension {
        /// The shared path, never empty.
        path: Box<[u8]>,
        /// The branch below.
        child: NodeRef,
    },
    /// A fork on the next nibble, with the value of a key that ends here.
    Branch {
        /// One slot per nibble.
        children: Box<[NodeRef; 16]>,
        /// The value of the key ending at this node, if any.
        value: Option<Box<[u8]>>,
    },
}

impl Node {
    /// The slots of the node's children (none for a leaf).
    pub(crate) fn children(&self) -> impl Iterator<Item = &NodeRef> {
        let children: &[NodeRef] = match self {
            Self::Leaf { .. } => &[],
            Self::Extension { child, .. } => std::slice::from_ref(child),
            Self::Branch { children, .. } => &children[..],
        };
        children.iter()
    }
}

impl NodeRef {
    /// A new node, not hashed and not in the store yet.
    pub(crate) fn new(node: Node) -> Self {
        Self::Node(Box::new(NodeData { node, reference: None, persisted: false, location: None }))
    }

    /// Loads the node if it is only referenced by hash, and returns it (`None` when empty).
    pub(crate) fn resolve<S: NodeStore>(&mut self, store: &S) -> Result<Option<&mut NodeData>, TrieError> {
        if let Self::Hash(hash, location) = *self {
            *self = Self::Node(Box::new(load(store, hash, location)?));
        }
        match self {
            Self::Node(data) => Ok(Some(data)),
            Self::Empty | Self::Hash(..) => Ok(None),
        }
    }

    /// Whether the slot holds no node.
    pub(crate) const fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// The reference of the node (`None` when empty), hashing what changed since it was last
    /// computed. With `commit`, also pushes every node not in the store yet whose RLP is at
    /// least 32 bytes (or that is the root, `is_root`), gives it the next location, and marks
    /// it stored.
    pub(crate) fn reference(
        &mut self,
        scratch: &mut Vec<u8>,
        commit: Option<&mut Committer>,
        is_root: bool,
    ) -> Option<Reference> {
        match self {
            Self::Empty => None,
            Self::Hash(hash, _) => Some(Reference::Hash(*hash)),
            Self::Node(data) => Some(data.reference(scratch, commit, is_root)),
        }
    }
}

impl NodeData {
    /// Marks the node changed: its reference must be recomputed and it must be stored again.
    pub(crate) const fn touch(&mut self) {
        self.reference = None;
        self.persisted = false;
        self.location = None;
    }

    fn reference(
        &mut self,
        scratch: &mut Vec<u8>,
        mut commit: Option<&mut Committer>,
        is_root: bool,
    ) -> Reference {
        if let Some(reference) = self.reference
            && (commit.is_none() || self.persisted)
        {
            return reference;
        }
        self.encode(scratch, commit.as_deref_mut());
        let reference = match self.reference {
            // Committing a node hashed earlier: its RLP is needed again, its hash is not.
            Some(Reference::Hash(hash)) => Reference::Hash(hash),
            _ => Reference::of(scratch),
        };
        if let Some(committer) = commit {
            if is_root || scratch.len() >= 32 {
                let location = committer.next;
                committer.next = location.saturating_add(1);
                committer.nodes.push(CommittedNode {
                    hash: reference.hash(),
                    rlp: Bytes::copy_from_slice(scratch),
                    location,
                    child_locations: self.child_locations(),
                    root: is_root,
                });
                self.location = Some(location);
            }
            self.persisted = true;
        }
        self.reference = Some(reference);
        reference
    }

    /// Writes the node's RLP into `scratch` (replacing its contents), computing the references
    /// of its children first (and committing them with `commit`).
    pub(crate) fn encode(&mut self, scratch: &mut Vec<u8>, mut commit: Option<&mut Committer>) {
        match &mut self.node {
            Node::Leaf { path, value } => {
                scratch.clear();
                let payload = path_len(path) + string_len(value);
                list_header(payload, scratch);
                encode_path(path, true, scratch);
                encode_string(value, scratch);
            }
            Node::Extension { path, child } => {
                let child = child.reference(scratch, commit, false);
                scratch.clear();
                let payload = path_len(path) + child.map_or(1, |child| child.encoded_len());
                list_header(payload, scratch);
                encode_path(path, false, scratch);
                encode_child(child.as_ref(), scratch);
            }
            Node::Branch { children, value } => {
                let mut references = [None; 16];
                for (reference, child) in references.iter_mut().zip(children.iter_mut()) {
                    *reference = child.reference(scratch, commit.as_deref_mut(), false);
                }
                scratch.clear();
                let payload = references
                    .iter()
                    .map(|child| child.map_or(1, |child| child.encoded_len()))
                    .sum::<usize>()
                    + value.as_deref().map_or(1, string_len);
                list_header(payload, scratch);
                for child in &references {
                    encode_child(child.as_ref(), scratch);
                }
                encode_string(value.as_deref().unwrap_or_default(), scratch);
            }
        }
    }

    /// The children the node's RLP references by hash, in RLP order (embedded children hold
    /// no hash reference: a node shorter than 32 bytes cannot).
    fn hash_children(&mut self) -> impl Iterator<Item = &mut NodeRef> {
        let children: &mut [NodeRef] = match &mut self.node {
            Node::Leaf { .. } => &mut [],
            Node::Extension { child, .. } => std::slice::from_mut(child),
            Node::Branch { children, .. } => &mut children[..],
        };
        children.iter_mut().filter(|child| match child {
            NodeRef::Empty => false,
            NodeRef::Hash(..) => true,
            NodeRef::Node(data) => matches!(data.reference, Some(Reference::Hash(_))),
        })
    }

    /// The locations of the children referenced by hash, packed for the store. Called once
    /// the children are committed, so that each one's location is current.
    fn child_locations(&mut self) -> Bytes {
        let packed = encode_locations(self.hash_children().map(|child| match child {
            NodeRef::Hash(_, location) => *location,
            NodeRef::Node(data) => data.location,
            NodeRef::Empty => None,
        }));
        // None known (a store without locations): nothing to keep.
        if packed.iter().all(|byte| *byte == 0) { Bytes::new() } else { packed }
    }
}

/// Fetches the node stored under `hash`, checks that it hashes to `hash` (the store may be an
/// untrusted witness) and decodes it, with the locations the store gave for its children.
fn load<S: NodeStore>(store: &S, hash: B256, location: Option<Location>) -> Result<NodeData, TrieError> {
    let stored = store.stored_node(&hash, location)?.ok_or(TrieError::MissingNode(hash))?;
    let rlp = &stored.rlp;
    if !store.content_addressed() && keccak256(rlp) != hash {
        return Err(TrieError::MalformedNode { hash, reason: "does not hash to its key".into() });
    }
    let node = decode(rlp).map_err(|reason| TrieError::MalformedNode { hash, reason: reason.into() })?;
    // The node hashes to `hash`: no need to hash it again for its reference.
    let reference = if rlp.len() >= 32 { Reference::Hash(hash) } else { Reference::of(rlp) };
    let mut data = NodeData { node, reference: Some(reference), persisted: true, location: stored.location };
    if !stored.child_locations.is_empty() {
        for (index, child) in data.hash_children().enumerate() {
            if let NodeRef::Hash(_, location) = child {
                *location = location_at(&stored.child_locations, index);
            }
        }
    }
    Ok(data)
}

/// Length of the RLP string encoding of `bytes`.
fn string_len(bytes: &[u8]) -> usize {
    match bytes {
        [byte] if *byte < EMPTY_STRING_CODE => 1,
        _ => Header { list: false, payload_length: bytes.len() }.length_with_payload(),
    }
}

/// Appends the RLP string encoding of `bytes`.
fn encode_string(bytes: &[u8], out: &mut Vec<u8>) {
    match bytes {
        [byte] if *byte < EMPTY_STRING_CODE => out.push(*byte),
        _ => {
            Header { list: false, payload_length: bytes.len() }.encode(out);
            out.extend_from_slice(bytes);
        }
    }
}

fn list_header(payload_length: usize, out: &mut Vec<u8>) {
    Header { list: true, payload_length }.encode(out);
}

/// Length of the RLP string holding the hex-prefix encoding of `path`.
fn path_len(path: &[u8]) -> usize {
    let len = hex_prefix_len(path.len());
    // A one-byte hex prefix is below 0x40, so it is its own RLP encoding.
    if len == 1 { 1 } else { Header { list: false, payload_length: len }.length_with_payload() }
}

fn encode_path(path: &[u8], leaf: bool, out: &mut Vec<u8>) {
    let len = hex_prefix_len(path.len());
    if len > 1 {
        Header { list: false, payload_length: len }.encode(out);
    }
    hex_prefix_encode(path, leaf, out);
}

fn encode_child(child: Option<&Reference>, out: &mut Vec<u8>) {
    match child {
        Some(child) => child.encode(out),
        None => out.push(EMPTY_STRING_CODE),
    }
}

/// One item of a node's RLP list.
#[derive(Clone, Copy, Default)]
struct Item<'a> {
    /// The item is a list (an embedded node).
    list: bool,
    /// The item's payload.
    payload: &'a [u8],
    /// The item's whole encoding, header included.
    raw: &'a [u8],
}

/// Decodes a node from its RLP. Accepts only what this trie itself would encode (leaves with a
/// non-empty value, extensions with a non-empty path, branches with at least two entries,
/// embedded nodes shorter than 32 bytes), so that a decoded node re-encodes to the same bytes.
/// Never panics, whatever `rlp` is.
pub(crate) fn decode(rlp: &[u8]) -> Result<Node, &'static str> {
    let mut buf = rlp;
    let header = Header::decode(&mut buf).map_err(|_| "invalid RLP header")?;
    if !header.list {
        return Err("not an RLP list");
    }
    if buf.len() != header.payload_length {
        return Err("bytes after the node's RLP");
    }
    let mut items = [Item::default(); 17];
    let mut count = 0;
    while !buf.is_empty() {
        let start = buf;
        let header = Header::decode(&mut buf).map_err(|_| "invalid RLP item")?;
        let (payload, rest) = buf.split_at_checked(header.payload_length).ok_or("truncated RLP item")?;
        buf = rest;
        let raw = start.get(..start.len() - buf.len()).ok_or("invalid RLP item")?;
        let item = items.get_mut(count).ok_or("more than 17 items")?;
        *item = Item { list: header.list, payload, raw };
        count += 1;
    }
    match &items[..count] {
        [path, second] => {
            if path.list {
                return Err("path is a list");
            }
            let (path, leaf) = hex_prefix_decode(path.payload).ok_or("invalid hex-prefix path")?;
            if leaf {
                if second.list || second.payload.is_empty() {
                    return Err("leaf value is not a non-empty string");
                }
                Ok(Node::Leaf { path, value: second.payload.into() })
            } else {
                if path.is_empty() {
                    return Err("extension with an empty path");
                }
                let child = decode_child(second)?;
                match &child {
                    NodeRef::Empty => return Err("extension without a child"),
                    NodeRef::Node(data) if !matches!(data.node, Node::Branch { .. }) => {
                        return Err("extension to a node that is not a branch");
                    }
                    NodeRef::Node(_) | NodeRef::Hash(..) => {}
                }
                Ok(Node::Extension { path, child })
            }
        }
        [children @ .., value] if children.len() == 16 => {
            if value.list {
                return Err("branch value is a list");
            }
            let mut slots: Box<[NodeRef; 16]> = Box::default();
            for (slot, child) in slots.iter_mut().zip(children) {
                *slot = decode_child(child)?;
            }
            let value = (!value.payload.is_empty()).then(|| Box::<[u8]>::from(value.payload));
            let entries = slots.iter().filter(|slot| !slot.is_empty()).count() + usize::from(value.is_some());
            if entries < 2 {
                return Err("branch with fewer than two entries");
            }
            Ok(Node::Branch { children: slots, value })
        }
        _ => Err("neither 2 nor 17 items"),
    }
}

fn decode_child(item: &Item<'_>) -> Result<NodeRef, &'static str> {
    if item.list {
        if item.raw.len() >= 32 {
            return Err("embedded node of 32 bytes or more");
        }
        // Embedded nodes are strictly shorter than their parent, so this recursion is shallow.
        let node = decode(item.raw)?;
        return Ok(NodeRef::Node(Box::new(NodeData {
            node,
            reference: Some(Reference::of(item.raw)),
            persisted: true,
            location: None,
        })));
    }
    match item.payload.len() {
        0 => Ok(NodeRef::Empty),
        32 => Ok(NodeRef::Hash(B256::from_slice(item.payload), None)),
        _ => Err("child is neither a hash, empty, nor an embedded node"),
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn encode(node: Node) -> Vec<u8> {
        let mut data = NodeData { node, reference: None, persisted: false, location: None };
        let mut scratch = Vec::new();
        data.encode(&mut scratch, None);
        scratch
    }

    #[test]
    fn leaf_round_trip() {
        let rlp = encode(Node::Leaf { path: vec![1, 2, 3].into(), value: b"dog".to_vec().into() });
        // [0x3123, "dog"]
        assert_eq!(rlp, [0xc7, 0x82, 0x31, 0x23, 0x83, b'd', b'o', b'g']);
        assert!(
            matches!(decode(&rlp), Ok(Node::Leaf { path, value }) if *path == [1, 2, 3] && *value == *b"dog")
        );
    }

    #[test]
    fn branch_round_trip_with_embedded_child() {
        let mut children: Box<[NodeRef; 16]> = Box::default();
        children[3] = NodeRef::new(Node::Leaf { path: vec![].into(), value: vec![0x01].into() });
        children[7] = NodeRef::Hash(B256::repeat_byte(0xab), None);
        let rlp = encode(Node::Branch { children, value: Some(vec![0x7f].into()) });
        let Ok(Node::Branch { children, value }) = decode(&rlp) else {
            panic!("branch does not decode");
        };
        assert_eq!(value.as_deref(), Some(&[0x7f][..]));
        assert!(matches!(children[7], NodeRef::Hash(hash, _) if hash == B256::repeat_byte(0xab)));
        assert!(
            matches!(&children[3], NodeRef::Node(data) if matches!(&data.node, Node::Leaf { value, .. } if **value == [0x01]))
        );
        let mut again = NodeData {
            node: Node::Branch { children, value },
            reference: None,
            persisted: false,
            location: None,
        };
        let mut scratch = Vec::new();
        again.encode(&mut scratch, None);
        assert_eq!(scratch, rlp);
    }

    #[test]
    fn rejects_malformed() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x80],
            &[0xc0],
            &[0xc1, 0x80],
            &[0xc2, 0x20, 0x80],             // leaf with empty value
            &[0xc2, 0x00, 0x80],             // extension with empty path and no child
            &[0xc3, 0x20, 0x81, 0x05],       // non-canonical single byte
            &[0xc4, 0x20, 0x83, b'a', b'b'], // truncated
            &[0xc3, 0x20, 0x01, 0x00],       // trailing item makes 3 items
            &[0xc2, 0x40, 0x01],             // bad hex-prefix flag
            &[0xc3, 0x11, 0x81, 0xff],       // extension to a 1-byte "hash"
        ];
        for rlp in cases {
            assert!(decode(rlp).is_err(), "accepted {rlp:02x?}");
        }
    }
}
