//! The batcher's metrics, `batcher_*` (the transaction manager's are `batcher_txmgr_*`):
//! handles taken once when the batcher is built (from the recorder installed then), base units,
//! labels from fixed sets.

use super::{
    blob_check::BlobCheckResult,
    policy::{CloseReason, PolicyWork},
};
use metrics::{
    Counter, Gauge, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};

/// The batcher's metrics.
#[derive(Clone, Debug)]
pub(crate) struct BatcherMetrics {
    /// Rounds that failed (the L1 or the L2 unreachable, a send refused) and were tried again.
    pub(crate) round_errors: Counter,
    /// The bridge's tip: its head, or its newest pending claim.
    pub(crate) bridge_tip: Gauge,
    /// The proposer's L1 balance, in wei.
    pub(crate) balance: Gauge,
    /// The L2's newest sealed block.
    pub(crate) l2_head: Gauge,
    /// Sealed L2 blocks past the bridge's tip.
    pub(crate) unsubmitted_blocks: Gauge,
    /// Batches built, by why they closed.
    built: Vec<(CloseReason, Counter)>,
    /// Batches the bridge took: settled (native) or claimed (optimistic).
    pub(crate) settled: Counter,
    /// The last block of the newest batch the bridge took.
    pub(crate) settled_block: Gauge,
    /// Batches EXECUTE judged false.
    pub(crate) rejected: Counter,
    /// Batches whose transaction reverted (the bridge refused them before judging).
    pub(crate) refused: Counter,
    /// Batches whose L1 transaction a reorganisation took out of the chain.
    pub(crate) reorged: Counter,
    /// A batch's trace, in bytes.
    pub(crate) trace_bytes: Histogram,
    /// A batch's blobs.
    pub(crate) blobs: Histogram,
    /// A blob batch's payload over its blobs' capacity.
    pub(crate) blob_fill: Histogram,
    /// A blob batch's trace over its compressed payload.
    pub(crate) compression_ratio: Histogram,
    /// Traces the batching policy compressed to measure them.
    policy_compressions: Counter,
    /// Trace bytes the batching policy compressed.
    policy_compressed_bytes: Counter,
    /// Seconds the batching policy spent compressing, per round that compressed.
    policy_compress_seconds: Histogram,
    /// The age, in L1 blocks, of the oldest anchor of the blocks past the bridge's tip.
    pub(crate) oldest_anchor_age: Gauge,
    /// L1 block hashes recorded in the bridge (`recordL1BlockHashes`).
    pub(crate) anchors_recorded: Counter,
    /// L1 block hashes proven to the bridge by header chains (`proveL1BlockHash`).
    pub(crate) anchors_proven: Counter,
    /// L1 headers sent in those proofs.
    pub(crate) proof_headers: Counter,
    /// Checks of a blob batch's blobs, by result.
    blob_checks: Vec<(BlobCheckResult, Counter)>,
}

impl BatcherMetrics {
    /// Registers the metrics with the current recorder.
    pub(crate) fn new() -> Self {
        describe();
        Self {
            round_errors: counter!("batcher_round_errors_total"),
            bridge_tip: gauge!("batcher_bridge_tip_number"),
            balance: gauge!("batcher_balance_wei"),
            l2_head: gauge!("batcher_l2_head_number"),
            unsubmitted_blocks: gauge!("batcher_unsubmitted_blocks"),
            built: CloseReason::ALL
                .into_iter()
                .map(|reason| (reason, counter!("batcher_batches_built_total", "reason" => reason.label())))
                .collect(),
            settled: counter!("batcher_batches_settled_total"),
            settled_block: gauge!("batcher_settled_block"),
            rejected: counter!("batcher_batches_rejected_total"),
            refused: counter!("batcher_batches_refused_total"),
            reorged: counter!("batcher_reorged_batches_total"),
            trace_bytes: histogram!("batcher_batch_trace_bytes"),
            blobs: histogram!("batcher_batch_blobs"),
            blob_fill: histogram!("batcher_blob_fill"),
            compression_ratio: histogram!("batcher_compression_ratio"),
            policy_compressions: counter!("batcher_policy_compressions_total"),
            policy_compressed_bytes: counter!("batcher_policy_compressed_bytes_total"),
            policy_compress_seconds: histogram!("batcher_policy_compress_seconds"),
            oldest_anchor_age: gauge!("batcher_oldest_anchor_age_blocks"),
            anchors_recorded: counter!("batcher_anchor_hashes_recorded_total"),
            anchors_proven: counter!("batcher_anchor_hashes_proven_total"),
            proof_headers: counter!("batcher_anchor_proof_headers_total"),
            blob_checks: BlobCheckResult::ALL
                .into_iter()
                .map(|result| (result, counter!("batcher_blob_checks_total", "result" => result.label())))
                .collect(),
        }
    }

    /// Counts a batch built that closed for `reason`.
    pub(crate) fn built(&self, reason: CloseReason) {
        if let Some((_, counter)) = self.built.iter().find(|(known, _)| *known == reason) {
            counter.increment(1);
        }
    }

    /// Counts the batching policy's work of a round.
    pub(crate) fn record_policy_work(&self, work: PolicyWork) {
        if work.compressions > 0 {
            self.policy_compressions.increment(work.compressions);
            self.policy_compressed_bytes.increment(work.compressed_bytes);
            self.policy_compress_seconds.record(work.compress_seconds);
        }
    }

    /// Counts one blob check with `result`.
    pub(crate) fn blob_check(&self, result: BlobCheckResult) {
        if let Some((_, counter)) = self.blob_checks.iter().find(|(known, _)| *known == result) {
            counter.increment(1);
        }
    }
}

fn describe() {
    describe_counter!("batcher_round_errors_total", "Batcher rounds that failed and were tried again");
    describe_gauge!("batcher_bridge_tip_number", "The bridge's head, or its newest pending claim");
    describe_gauge!("batcher_balance_wei", "The proposer's L1 balance");
    describe_gauge!("batcher_l2_head_number", "The L2's newest sealed block");
    describe_gauge!("batcher_unsubmitted_blocks", "Sealed L2 blocks past the bridge's tip");
    describe_counter!("batcher_batches_built_total", "Batches built, by why they closed");
    describe_counter!("batcher_batches_settled_total", "Batches the bridge settled or took as claims");
    describe_gauge!("batcher_settled_block", "The last block of the newest batch the bridge took");
    describe_counter!("batcher_batches_rejected_total", "Batches EXECUTE judged false");
    describe_counter!("batcher_batches_refused_total", "Batches whose transaction the bridge reverted");
    describe_counter!("batcher_reorged_batches_total", "Batches whose L1 transaction left the chain");
    describe_histogram!("batcher_batch_trace_bytes", "A batch's trace length, in bytes");
    describe_histogram!("batcher_batch_blobs", "Blobs a batch carries");
    describe_histogram!("batcher_blob_fill", "A blob batch's payload over its blobs' capacity");
    describe_histogram!("batcher_compression_ratio", "A blob batch's trace over its compressed payload");
    describe_counter!(
        "batcher_policy_compressions_total",
        "Traces the batching policy compressed to measure them"
    );
    describe_counter!("batcher_policy_compressed_bytes_total", "Trace bytes the batching policy compressed");
    describe_histogram!(
        "batcher_policy_compress_seconds",
        "Seconds the batching policy spent compressing, per round that compressed"
    );
    describe_gauge!(
        "batcher_oldest_anchor_age_blocks",
        "L1 blocks since the oldest anchor of the blocks past the bridge's tip"
    );
    describe_counter!("batcher_anchor_hashes_recorded_total", "L1 block hashes recorded in the bridge");
    describe_counter!(
        "batcher_anchor_hashes_proven_total",
        "L1 block hashes proven to the bridge by headers"
    );
    describe_counter!("batcher_anchor_proof_headers_total", "L1 headers sent to prove block hashes");
    describe_counter!("batcher_blob_checks_total", "Checks of a blob batch's blobs read back, by result");
}
