//! Trie nodes on disk: appended in chunks at their locations, trie roots also by hash.
//!
//! The builder gives the nodes of each commit consecutive locations (children before parents).
//! They are written as chunks of up to [`CHUNK_NODES`] consecutive nodes, one row each keyed by
//! the chunk's first location: a block's thousands of nodes become a few hundred appended rows.
//! A node is read from the chunk whose first location is the greatest not above its own.
//!
//! A chunk is the concatenation of its nodes, each as `hash (32 bytes) | RLP length (u32 LE) |
//! RLP | child-locations length (u16 LE) | child locations` (see
//! [`encode_locations`](trace_builder::trie::encode_locations)). A row with a count of 0 holds
//! one node stored before locations existed, as its bare RLP (its children's locations are
//! unknown, so they are found by hash).

use super::{
    Backend, Store,
    sql::{self, Value, insert_rows},
};
use crate::error::StoreError;
use alloy_primitives::{B256, Bytes, keccak256};
use sqlx::Row;
use trace_builder::trie::{CommittedNode, Location, StoredNode};

/// Most nodes in one chunk: few rows to write, little to read for one node.
const CHUNK_NODES: usize = 32;

/// Appends a block's new trie nodes, and makes its trie roots findable by hash (a trie is
/// opened by its root's hash alone).
pub(super) async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    nodes: &[CommittedNode],
) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    let mut rest = nodes;
    while let Some(first) = rest.first() {
        // A chunk holds consecutive locations only.
        let len = rest
            .iter()
            .take(CHUNK_NODES)
            .enumerate()
            .take_while(|(index, node)| node.location.get() == first.location.get() + *index as u64)
            .count();
        let (chunk, after) = rest.split_at(len);
        rows.push(vec![
            Value::Int(first.location.get() as i64),
            Value::Int(len as i64),
            Value::Blob(encode_chunk(chunk)),
        ]);
        rest = after;
    }
    insert_rows(tx, backend, sql::INSERT_TRIE_NODES, rows).await?;
    let roots = nodes
        .iter()
        .filter(|node| node.root)
        .map(|node| vec![Value::Blob(node.hash.to_vec()), Value::Int(node.location.get() as i64)])
        .collect();
    insert_rows(tx, backend, sql::INSERT_TRIE_ROOTS, roots).await
}

fn encode_chunk(nodes: &[CommittedNode]) -> Vec<u8> {
    let size = nodes.iter().map(|node| 38 + node.rlp.len() + node.child_locations.len()).sum();
    let mut out = Vec::with_capacity(size);
    for node in nodes {
        out.extend_from_slice(node.hash.as_slice());
        out.extend_from_slice(&(node.rlp.len() as u32).to_le_bytes());
        out.extend_from_slice(&node.rlp);
        out.extend_from_slice(&(node.child_locations.len() as u16).to_le_bytes());
        out.extend_from_slice(&node.child_locations);
    }
    out
}

/// The `index`th node of a chunk: its hash, RLP and child locations. `None` when the chunk
/// is shorter or malformed.
fn chunk_entry(chunk: &[u8], index: usize) -> Option<(B256, &[u8], &[u8])> {
    let mut rest = chunk;
    for at in 0.. {
        let (hash, after) = rest.split_at_checked(32)?;
        let (len, after) = after.split_at_checked(4)?;
        let (rlp, after) = after.split_at_checked(u32::from_le_bytes(len.try_into().ok()?) as usize)?;
        let (len, after) = after.split_at_checked(2)?;
        let (children, after) =
            after.split_at_checked(usize::from(u16::from_le_bytes(len.try_into().ok()?)))?;
        if at == index {
            return Some((B256::from_slice(hash), rlp, children));
        }
        rest = after;
    }
    None
}

impl Store {
    /// The trie node with hash `hash`: read at `location` when given (the node there must have
    /// that hash), else found by hash among the nodes the store can find that way (trie roots,
    /// and nodes from before locations were kept).
    pub async fn trie_node(
        &self,
        hash: B256,
        location: Option<Location>,
    ) -> Result<Option<StoredNode>, StoreError> {
        let location = match location {
            Some(location) => location,
            None => {
                let row = sqlx::query(sql::TRIE_NODE_LOCATION)
                    .bind(hash.to_vec())
                    .fetch_optional(&self.readers)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let location = row.try_get::<i64, _>(0)? as u64;
                Location::new(location)
                    .ok_or_else(|| StoreError::Corrupt(format!("trie node {hash} at location 0")))?
            }
        };
        let row = sqlx::query(sql::TRIE_NODE_CHUNK)
            .bind(location.get() as i64)
            .fetch_optional(&self.readers)
            .await?;
        let missing =
            || StoreError::Corrupt(format!("no trie node at location {location} (expected {hash})"));
        let row = row.ok_or_else(missing)?;
        let first = row.try_get::<i64, _>(0)? as u64;
        let count = row.try_get::<i64, _>(1)?;
        let chunk: Vec<u8> = row.try_get(2)?;
        let index = usize::try_from(location.get() - first).map_err(|_| missing())?;
        let (stored_hash, rlp, children) = if count == 0 {
            // A node from before locations: its bare RLP, hashed here as nothing else names it.
            if index != 0 {
                return Err(missing());
            }
            (keccak256(&chunk), &chunk[..], &[][..])
        } else {
            chunk_entry(&chunk, index).ok_or_else(missing)?
        };
        if stored_hash != hash {
            return Err(StoreError::Corrupt(format!("trie node at location {location} is not {hash}")));
        }
        Ok(Some(StoredNode {
            rlp: Bytes::copy_from_slice(rlp),
            location: Some(location),
            child_locations: Bytes::copy_from_slice(children),
        }))
    }

    /// The location the next new trie node gets: after every node stored.
    pub async fn next_trie_location(&self) -> Result<Location, StoreError> {
        let row = sqlx::query(sql::NEXT_TRIE_LOCATION).fetch_optional(&self.writer).await?;
        let next = row.map(|row| row.try_get::<i64, _>(0)).transpose()?.unwrap_or_default();
        Ok(Location::new(next as u64).unwrap_or(Location::MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_builder::trie::encode_locations;

    fn node(location: u64, rlp: &[u8], children: &[u64]) -> CommittedNode {
        CommittedNode {
            hash: alloy_primitives::keccak256(rlp),
            rlp: Bytes::copy_from_slice(rlp),
            location: Location::new(location).unwrap_or(Location::MIN),
            child_locations: encode_locations(children.iter().map(|&c| Location::new(c))),
            root: false,
        }
    }

    #[test]
    fn chunk_entries_read_back_and_bad_chunks_are_refused() {
        let nodes =
            [node(7, &[0xc0; 40], &[1, 0, 3]), node(8, &[0xc1; 600], &[]), node(9, &[0xc2; 33], &[8])];
        let chunk = encode_chunk(&nodes);
        for (index, node) in nodes.iter().enumerate() {
            let (hash, rlp, children) = chunk_entry(&chunk, index).unwrap_or_default();
            assert_eq!((hash, rlp, children), (node.hash, &node.rlp[..], &node.child_locations[..]));
        }
        assert_eq!(chunk_entry(&chunk, 3), None);
        assert_eq!(chunk_entry(&chunk[..chunk.len() - 1], 2), None);
        assert_eq!(chunk_entry(&[0xff; 40], 0), None);
    }
}
