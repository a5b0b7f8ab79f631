//! Traces of sealed blocks: what the batcher posts and `rollup_getTrace` serves.
//!
//! Every sealed block is stored with what its execution read from the pre-state and what it
//! changed ([`BlockReader::block_state`]). A trace of blocks `from..=to` is assembled from those
//! records without re-executing anything: the [`WitnessBuilder`] replays the recorded reads and
//! writes on the state trie at the parent's state root (read through the database) and records
//! the nodes it loads; codes and ancestor headers come from the store.

use crate::{
    error::StoreError,
    store::{BlockReader, ChainReader, DbNodeStore},
};
use alloy_consensus::Header;
use alloy_primitives::B256;
use trace_builder::{
    Bindings, L1Anchor,
    bindings::anchor_hashes,
    trace::{Trace, TraceBlock, Witness, WitnessBuilder},
};

/// A trace with the claims EXECUTE checks it against.
#[derive(Clone, Debug)]
pub struct BatchTrace {
    /// State root before the first block (the parent's).
    pub pre_state_root: B256,
    /// State root after the last block.
    pub post_state_root: B256,
    /// Gas used by all blocks of the batch.
    pub gas_used: u64,
    /// The trace.
    pub trace: Trace,
    /// What a bridge pins of the batch (EXECUTE's bound form), with the L1 block number of each
    /// anchor as recorded when its first block was committed (0 for the zero anchor of
    /// unanchored blocks).
    pub bindings: Bindings,
}

/// Why a trace could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The range is empty, starts at genesis, or reaches past the head.
    #[error("invalid block range {from}..={to}: {reason}")]
    Range {
        /// First block asked for.
        from: u64,
        /// Last block asked for.
        to: u64,
        /// What is wrong.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data does not fit together (a missing record, node or code, a replay that does
    /// not reach the block's state root).
    #[error("cannot build the trace of block {number}: {reason}")]
    Inconsistent {
        /// The block.
        number: u64,
        /// What is missing or wrong.
        reason: String,
    },
}

/// Builds the trace of blocks `from..=to` of chain `chain_id` from the sealed blocks and codes
/// `store` reads, and the trie nodes `nodes` reads.
pub async fn build(
    store: &impl ChainReader,
    nodes: &DbNodeStore,
    chain_id: u64,
    from: u64,
    to: u64,
) -> Result<BatchTrace, TraceError> {
    let range = |reason: &str| TraceError::Range { from, to, reason: reason.into() };
    if from == 0 {
        return Err(range("the genesis block has no trace; start at block 1"));
    }
    if from > to {
        return Err(range("fromBlock is after toBlock"));
    }
    let parent = store.header_by_number(from - 1).await?.ok_or_else(|| range("reaches past the head"))?;
    let mut blocks = Vec::new();
    let mut records = Vec::new();
    let mut headers = Vec::new();
    for number in from..=to {
        let header = store.header_by_number(number).await?.ok_or_else(|| range("reaches past the head"))?;
        let (access, changes) = store
            .block_state(number)
            .await?
            .ok_or_else(|| TraceError::Inconsistent { number, reason: "no recorded state access".into() })?;
        let transactions = store.block_transactions(number).await?;
        blocks.push(TraceBlock {
            timestamp: header.timestamp,
            coinbase: header.beneficiary,
            gas_limit: header.gas_limit,
            prev_randao: header.mix_hash,
            extra_data: header.extra_data.clone(),
            l1_anchor: header.parent_beacon_block_root.unwrap_or_default(),
            deposits: Vec::new(),
            transactions: transactions.into_iter().map(|tx| tx.record.raw).collect(),
            withdrawals: Vec::new(),
        });
        records.push((access, changes));
        headers.push(header);
    }

    // The trie reads the database synchronously: replay off the async workers.
    let pre_state_root = parent.state_root;
    let nodes = nodes.clone();
    let checked = headers.iter().map(|header| (header.number, header.state_root)).collect::<Vec<_>>();
    let needs = tokio::task::spawn_blocking(move || {
        let mut witness = WitnessBuilder::new(nodes, pre_state_root);
        for ((access, changes), (number, state_root)) in records.iter().zip(checked) {
            let root = witness
                .add_block(access, changes)
                .map_err(|error| TraceError::Inconsistent { number, reason: error.to_string() })?;
            if root != state_root {
                return Err(TraceError::Inconsistent {
                    number,
                    reason: format!(
                        "replaying its changes gives state root {root}, its header has {state_root}"
                    ),
                });
            }
        }
        Ok(witness.finish())
    })
    .await
    .map_err(|error| TraceError::Inconsistent { number: from, reason: error.to_string() })??;

    let mut codes = Vec::with_capacity(needs.codes.len());
    for hash in &needs.codes {
        let code = store.code(*hash).await?.ok_or_else(|| TraceError::Inconsistent {
            number: from,
            reason: format!("code {hash} is not in the store"),
        })?;
        codes.push(code);
    }
    let mut ancestors = vec![parent];
    for number in (needs.oldest_ancestor(from - 1)..from - 1).rev() {
        ancestors.push(header(store, number).await?);
    }
    let trace = Trace { chain_id, ancestors, blocks, witness: Witness { nodes: needs.nodes, codes } };
    let last = headers.last().ok_or_else(|| range("empty"))?;
    let mut anchors = Vec::new();
    for hash in anchor_hashes(&trace) {
        anchors.push(L1Anchor { number: anchor_number(store, &headers, hash).await?, hash });
    }
    let bindings = Bindings {
        chain_id,
        parent_block_hash: trace.ancestors.first().map(Header::hash_slow).unwrap_or_default(),
        last_block_hash: last.hash_slow(),
        last_number: last.number,
        last_timestamp: last.timestamp,
        anchors,
    };
    Ok(BatchTrace {
        pre_state_root,
        post_state_root: needs.post_state_root,
        gas_used: headers.iter().map(|header| header.gas_used).sum(),
        trace,
        bindings,
    })
}

/// The L1 block number of the anchor `hash` of some of `headers`, as recorded when the first
/// block naming it was committed; 0 for the zero anchor of unanchored blocks.
async fn anchor_number(store: &impl BlockReader, headers: &[Header], hash: B256) -> Result<u64, TraceError> {
    if hash.is_zero() {
        return Ok(0);
    }
    match store.l1_anchor(hash).await? {
        Some(anchor) => Ok(anchor.number),
        None => Err(TraceError::Inconsistent {
            number: headers
                .iter()
                .find(|header| header.parent_beacon_block_root == Some(hash))
                .map_or(0, |header| header.number),
            reason: format!("its L1 anchor {hash} has no recorded L1 block number"),
        }),
    }
}

/// The header of a block that must exist.
async fn header(store: &impl BlockReader, number: u64) -> Result<Header, TraceError> {
    store
        .header_by_number(number)
        .await?
        .ok_or_else(|| TraceError::Inconsistent { number, reason: "no header".into() })
}
