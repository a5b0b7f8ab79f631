//! The answers of the L2's `rollup_` JSON-RPC namespace that the batcher reads: the sequencer
//! serves them, the batcher (in process or not) deserializes them.

use alloy_primitives::{B256, Bytes, U64};
use serde::{Deserialize, Serialize};
use trace_builder::Bindings;

/// A batch's trace with the claims EXECUTE checks it against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceResponse {
    /// State root before the first block.
    pub pre_state_root: B256,
    /// State root after the last block.
    pub post_state_root: B256,
    /// Gas used by the batch.
    pub gas_used: U64,
    /// The trace's bytes (docs/trace-format.md).
    pub trace: Bytes,
    /// What a bridge pins of the batch, checked by EXECUTE's bound form.
    pub bindings: TraceBindings,
    /// The whole call data of EXECUTE's bound form in calldata mode (selector, claims,
    /// bindings, trace): one `eth_call` of it to an L1's EXECUTE checks the batch.
    pub execute_input: Bytes,
}

/// The bindings of a batch (docs/trace-format.md, "Bindings").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceBindings {
    /// The L2's chain id.
    pub chain_id: U64,
    /// Hash of the batch's parent block.
    pub parent_block_hash: B256,
    /// Hash of the batch's last block.
    pub last_block_hash: B256,
    /// Number of the batch's last block.
    pub last_number: U64,
    /// Timestamp of the batch's last block.
    pub last_timestamp: U64,
    /// The distinct L1 anchors of the batch's blocks, in order.
    pub anchors: Vec<TraceAnchor>,
}

/// An L1 anchor of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceAnchor {
    /// Its L1 block number (0 for the zero anchor of blocks sealed without an L1).
    pub number: U64,
    /// Its L1 block hash.
    pub hash: B256,
}

impl From<&Bindings> for TraceBindings {
    fn from(bindings: &Bindings) -> Self {
        Self {
            chain_id: U64::from(bindings.chain_id),
            parent_block_hash: bindings.parent_block_hash,
            last_block_hash: bindings.last_block_hash,
            last_number: U64::from(bindings.last_number),
            last_timestamp: U64::from(bindings.last_timestamp),
            anchors: bindings
                .anchors
                .iter()
                .map(|anchor| TraceAnchor { number: U64::from(anchor.number), hash: anchor.hash })
                .collect(),
        }
    }
}
