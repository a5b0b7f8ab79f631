//! The batcher's metrics, `batcher_*` (its transaction manager's are `batcher_txmgr_*`): handles
//! taken once when the batcher is built, from the recorder it is built with, so that every series
//! is exported from the start (an alert on the increase of a counter sees its first step).

use crate::proposal::Proposal;
use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use trace_builder::blob::BLOB_PAYLOAD;

/// The batcher's metrics.
#[derive(Clone, Debug)]
pub(crate) struct BatcherMetrics {
    /// Rounds that failed on the L1 or the L2 (tried again).
    pub(crate) round_errors: Counter,
    /// The bridge's tip: its head, or its newest claim.
    pub(crate) bridge_tip_number: Gauge,
    /// The proposer's balance on the L1, read every round, in wei.
    pub(crate) balance: Gauge,
    /// The L2's head.
    pub(crate) l2_head_number: Gauge,
    /// L2 blocks past the bridge's tip.
    pub(crate) unsubmitted_blocks: Gauge,
    /// Batches built.
    built: Counter,
    /// Batches the bridge settled (optimistic mode: whose claim it took).
    pub(crate) settled: Counter,
    /// The last L2 block of the newest batch settled.
    pub(crate) settled_block: Gauge,
    /// Batches the bridge rejected: EXECUTE judged them false.
    pub(crate) rejected: Counter,
    /// Batches whose transaction reverted: the bridge refused them (its tip had moved).
    pub(crate) refused: Counter,
    /// Batches whose included transaction a reorganisation took away.
    pub(crate) reorged: Counter,
    /// Bytes of each batch's trace.
    trace_bytes: Histogram,
    /// Blobs per batch (0: calldata).
    blobs: Histogram,
    /// How full a batch's blobs are, from 0 to 1.
    blob_fill: Histogram,
    /// Trace bytes per blob payload byte.
    compression_ratio: Histogram,
}

impl BatcherMetrics {
    /// Registers the metrics with the current recorder.
    pub(crate) fn new() -> Self {
        describe();
        Self {
            round_errors: counter!("batcher_round_errors_total"),
            bridge_tip_number: gauge!("batcher_bridge_tip_number"),
            balance: gauge!("batcher_balance_wei"),
            l2_head_number: gauge!("batcher_l2_head_number"),
            unsubmitted_blocks: gauge!("batcher_unsubmitted_blocks"),
            built: counter!("batcher_batches_built_total"),
            settled: counter!("batcher_batches_settled_total"),
            settled_block: gauge!("batcher_settled_block"),
            rejected: counter!("batcher_batches_rejected_total"),
            refused: counter!("batcher_batches_refused_total"),
            reorged: counter!("batcher_reorged_batches_total"),
            trace_bytes: histogram!("batcher_batch_trace_bytes"),
            blobs: histogram!("batcher_batch_blobs"),
            blob_fill: histogram!("batcher_blob_fill"),
            compression_ratio: histogram!("batcher_compression_ratio"),
        }
    }

    /// Records a built batch's size figures; a batch in calldata has no fill or ratio.
    pub(crate) fn built(&self, proposal: &Proposal, trace_bytes: usize) {
        self.built.increment(1);
        self.trace_bytes.record(trace_bytes as f64);
        self.blobs.record(proposal.blobs.len() as f64);
        if !proposal.blobs.is_empty() {
            self.blob_fill
                .record(proposal.payload_bytes as f64 / (proposal.blobs.len() * BLOB_PAYLOAD) as f64);
            self.compression_ratio.record(trace_bytes as f64 / proposal.payload_bytes.max(1) as f64);
        }
    }
}

fn describe() {
    describe_counter!("batcher_round_errors_total", "Rounds that failed on the L1 or the L2 (tried again)");
    describe_gauge!("batcher_bridge_tip_number", "The bridge's tip: its settled head, or its newest claim");
    describe_gauge!("batcher_balance_wei", "The proposer's balance on the L1, read every round");
    describe_gauge!("batcher_l2_head_number", "The L2's head, as the batcher last read it");
    describe_gauge!("batcher_unsubmitted_blocks", "L2 blocks past the bridge's tip");
    describe_counter!("batcher_batches_built_total", "Batches built");
    describe_counter!(
        "batcher_batches_settled_total",
        "Batches the bridge settled (optimistic mode: claimed)"
    );
    describe_gauge!("batcher_settled_block", "The last L2 block of the newest batch settled");
    describe_counter!(
        "batcher_batches_rejected_total",
        "Batches the bridge rejected: EXECUTE judged them false"
    );
    describe_counter!("batcher_batches_refused_total", "Batches whose transaction the bridge reverted");
    describe_counter!(
        "batcher_reorged_batches_total",
        "Batches whose included transaction a reorganisation took away"
    );
    describe_histogram!("batcher_batch_trace_bytes", Unit::Bytes, "Bytes of a batch's trace");
    describe_histogram!("batcher_batch_blobs", "Blobs per batch (0: in calldata)");
    describe_histogram!("batcher_blob_fill", "How full a batch's blobs are, from 0 to 1");
    describe_histogram!("batcher_compression_ratio", "Trace bytes per blob payload byte");
}
