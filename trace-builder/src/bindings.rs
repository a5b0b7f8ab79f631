//! What a bridge pins of a batch without reading its trace: the bindings EXECUTE's bound form
//! checks beside the state roots (docs/trace-format.md, "Bindings").
//!
//! A bridge that receives a batch in blobs cannot read the trace, so it cannot see which L2
//! chain, which parent block or which L1 blocks the batch builds on. It passes what it knows
//! instead — its chain id, its settled head's block hash, the L1 anchors it read from
//! `blockhash` — and EXECUTE is true only if the trace agrees with every one of them, and with
//! the last block's hash, number and timestamp the bridge will record as its new head.

use crate::{
    trace::Trace,
    verifier::{InvalidTrace, VerifiedBatch},
};
use alloy_primitives::B256;

/// An L1 block the batch's blocks name as their anchor (EIP-4788 parent beacon block root).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1Anchor {
    /// Its number on L1: the bridge checks it against `blockhash`; EXECUTE carries it through.
    pub number: u64,
    /// Its hash: EXECUTE checks it against the anchors of the trace's blocks.
    pub hash: B256,
}

/// The bindings of one batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bindings {
    /// The L2's chain id: the trace's `chain_id`.
    pub chain_id: u64,
    /// The hash of the batch's parent L2 block, `ancestors[0]`: the bridge's settled head.
    pub parent_block_hash: B256,
    /// The hash of the batch's last L2 block as the verifier seals it.
    pub last_block_hash: B256,
    /// The number of the batch's last L2 block: the bridge's new head number.
    pub last_number: u64,
    /// The timestamp of the batch's last L2 block.
    pub last_timestamp: u64,
    /// Each distinct L1 anchor of the batch's blocks, in block order (consecutive blocks with
    /// the same anchor name it once).
    pub anchors: Vec<L1Anchor>,
}

/// Which binding a trace disagrees with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingMismatch {
    /// The trace is for another chain.
    #[error("chain id")]
    ChainId,
    /// `ancestors[0]` does not hash to the bound parent block hash.
    #[error("parent block hash")]
    ParentBlockHash,
    /// The last sealed block's hash differs.
    #[error("last block hash")]
    LastBlockHash,
    /// The last block's number differs.
    #[error("last block number")]
    LastNumber,
    /// The last block's timestamp differs.
    #[error("last block timestamp")]
    LastTimestamp,
    /// The blocks' anchors are not the bound ones, in order.
    #[error("L1 anchors")]
    Anchors,
}

impl Bindings {
    /// The bindings of `trace`, which verified as `batch`; `anchor_number` gives the L1 block
    /// number of an anchor hash (the sequencer knows it; a trace does not carry it).
    pub fn of(trace: &Trace, batch: &VerifiedBatch, anchor_number: impl Fn(B256) -> u64) -> Self {
        Self {
            chain_id: trace.chain_id,
            parent_block_hash: trace.ancestors.first().map(|parent| parent.hash_slow()).unwrap_or_default(),
            last_block_hash: batch.head_hash,
            last_number: batch.headers.last().map(|header| header.number).unwrap_or_default(),
            last_timestamp: trace.blocks.last().map(|block| block.timestamp).unwrap_or_default(),
            anchors: anchor_hashes(trace)
                .into_iter()
                .map(|hash| L1Anchor { number: anchor_number(hash), hash })
                .collect(),
        }
    }

    /// Whether `trace`, verified as `batch`, agrees with every binding.
    pub fn check(&self, trace: &Trace, batch: &VerifiedBatch) -> Result<(), InvalidTrace> {
        let mismatch = |what| Err(InvalidTrace::Binding(what));
        if trace.chain_id != self.chain_id {
            return mismatch(BindingMismatch::ChainId);
        }
        if trace.ancestors.first().map(|parent| parent.hash_slow()) != Some(self.parent_block_hash) {
            return mismatch(BindingMismatch::ParentBlockHash);
        }
        if batch.head_hash != self.last_block_hash {
            return mismatch(BindingMismatch::LastBlockHash);
        }
        if batch.headers.last().map(|header| header.number) != Some(self.last_number) {
            return mismatch(BindingMismatch::LastNumber);
        }
        if trace.blocks.last().map(|block| block.timestamp) != Some(self.last_timestamp) {
            return mismatch(BindingMismatch::LastTimestamp);
        }
        if !anchor_hashes(trace).into_iter().eq(self.anchors.iter().map(|anchor| anchor.hash)) {
            return mismatch(BindingMismatch::Anchors);
        }
        Ok(())
    }
}

/// The distinct anchors of the trace's blocks, in order.
pub fn anchor_hashes(trace: &Trace) -> Vec<B256> {
    let mut anchors: Vec<B256> = Vec::new();
    for block in &trace.blocks {
        if anchors.last() != Some(&block.l1_anchor) {
            anchors.push(block.l1_anchor);
        }
    }
    anchors
}
