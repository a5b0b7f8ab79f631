//! When a batch closes and how its trace travels: the batching policy.
//!
//! A batch is one consecutive range of whole L2 blocks starting right after what the bridge has.
//! It closes when its blobs are filled: its payload fills its blobs to the target fill and the
//! next block would need one blob more (or pass a limit), or it has the most blobs allowed at the
//! target fill. When the blocks waiting pass the blob limit or EXECUTE's gas budget, it closes at
//! once, at the prefix that fits whose blobs are fullest. Otherwise it waits for more blocks,
//! until its oldest block reaches the maximum age or it covers the most blocks one trace may. Its
//! trace goes in blobs or in calldata, whichever the L1's current prices make cheaper (calldata
//! only while the trace stays under 120 KiB, below a geth-like pool's 128 KiB transaction size).
//!
//! Compressing a trace at the codec's level is the policy's cost, so it does not compress the
//! waiting blocks every round: it keeps what it learned ([`OpenBatch`]) and predicts a prefix's
//! payload and trace length from the blocks' sizes (their headers say), calibrated on the
//! prefixes it compressed. It compresses a prefix only where a prediction, with its margin, is
//! too close to call: the next block may cross a blob boundary while the fill may reach the
//! target, the blocks may pass a limit, or the batch closes. A batch it closes is always one it
//! compressed, exactly as it is posted: predictions decide when to look, never what is posted.

use crate::{
    bridge::SettlementMode,
    l2::L2Error,
    proposal::{BRIDGE_GAS_ALLOWANCE, DataPath, MAX_BLOBS_PER_TX, Proposal, ProposalError},
    rollup_api::TraceResponse,
    txmgr::FeeQuote,
};
use alloy_primitives::U256;
use futures_util::{StreamExt, TryStreamExt, stream};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};
use trace_builder::{
    blob::{BLOB_PAYLOAD, BlobError, Codec, encode_frame},
    precompile::ExecuteGas,
};

/// The most blocks one trace covers (the L2's `rollup_getTrace` limit).
pub const MAX_BLOCKS_PER_BATCH: u64 = 1_024;

/// The largest transaction a geth-like L1 pool takes, less room for the call's other fields.
const MAX_CALLDATA_TX_BYTES: usize = 120 * 1024;

/// Blob gas per blob (EIP-4844).
const BLOB_GAS: u128 = 131_072;

/// How far a prediction may miss, as a share of what it extrapolates beyond the nearest prefix
/// compressed (plus [`PREDICTION_SLACK`]): a threshold this close is looked at exactly.
const PREDICTION_MARGIN: f64 = 0.05;

/// Bytes a prediction may miss by whatever it extrapolates.
const PREDICTION_SLACK: f64 = 2_048.0;

/// Predicted probes of a search for the largest prefix that fits before it bisects.
const GUIDED_PROBES: usize = 3;

/// Compressed prefixes whose trace and payload are kept, to close without compressing again.
const KEPT_PREFIXES: usize = 2;

/// Block headers read at once.
const CONCURRENT_READS: usize = 16;

/// Which data path batches take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataPolicy {
    /// Whichever the L1's prices make cheaper.
    #[default]
    Auto,
    /// Always blobs.
    Blobs,
    /// Always calldata (batches then stay under the L1's transaction size).
    Calldata,
}

/// The batching policy's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchPolicy {
    /// The most blobs a batch fills (at most 6, one transaction's).
    pub max_blobs: usize,
    /// A batch closes once its blobs are this full (payload / capacity) and the next block would
    /// need another blob, or once it has `max_blobs` this full.
    pub target_fill: f64,
    /// A batch closes once its oldest block is this old.
    pub max_age: Duration,
    /// EXECUTE's charge plus the bridge's allowance stays under this (EIP-7825 caps a
    /// transaction at 2^24 gas).
    pub gas_budget: u64,
    /// Which data path batches take.
    pub data: DataPolicy,
    /// EXECUTE's gas schedule on the L1.
    pub execute_gas: ExecuteGas,
    /// The bridge's mode: optimistic claims run no EXECUTE when posted, but a challenge must
    /// still fit the budget, so the budget holds in both.
    pub mode: SettlementMode,
}

/// Why a batch closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Its blobs are filled to the target and the next block would need another blob or pass
    /// a limit, or it has the most blobs at the target fill.
    Filled,
    /// The blocks waiting pass the blob limit or the gas budget, and no prefix that fits has
    /// its blobs filled to the target: the prefix that fits with the fullest blobs.
    Full,
    /// It covers the most blocks one trace may.
    BlockLimit,
    /// Its oldest block reached the maximum age.
    MaxAge,
}

impl CloseReason {
    /// Every reason, for metric labels.
    pub const ALL: [Self; 4] = [Self::Filled, Self::Full, Self::BlockLimit, Self::MaxAge];

    /// Its name in logs and metric labels.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Filled => "filled",
            Self::Full => "full",
            Self::BlockLimit => "block_limit",
            Self::MaxAge => "max_age",
        }
    }
}

/// What the policy decided for the blocks after the bridge's tip.
#[derive(Debug)]
pub enum Decision {
    /// Nothing to close yet.
    Wait {
        /// The L1 numbers of the distinct anchors of the oldest waiting blocks (those of the
        /// longest prefix the policy compressed lately; the oldest anchors age first), oldest
        /// first: they must stay readable by the bridge until posted.
        anchors: Vec<u64>,
    },
    /// Close a batch of the blocks from `from` to its trace's last block.
    Close {
        /// Its trace.
        trace: Box<TraceResponse>,
        /// The proposal, on its data path.
        proposal: Box<Proposal>,
        /// Why it closed.
        reason: CloseReason,
    },
}

/// Why the policy could not decide.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The L2 could not be read.
    #[error(transparent)]
    L2(#[from] L2Error),
    /// The trace could not be encoded.
    #[error(transparent)]
    Proposal(#[from] ProposalError),
    /// One block alone passes the limits: it can never settle.
    #[error("L2 block {0} alone passes the batch limits (blobs or EXECUTE's gas budget)")]
    BlockTooLarge(u64),
}

/// The L1 numbers of `trace`'s distinct anchors, in block order.
pub fn anchor_numbers(trace: &TraceResponse) -> Vec<u64> {
    trace.bindings.anchors.iter().map(|anchor| anchor.number.to::<u64>()).collect()
}

/// What the policy reads of a sealed L2 block's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSummary {
    /// Its timestamp, in seconds.
    pub timestamp: u64,
    /// The L2 gas it used.
    pub gas_used: u64,
    /// Its encoded size (header and transactions), which its share of a trace follows; `None`
    /// when the L2 does not say (predictions then fail, and prefixes are compressed instead).
    pub size: Option<u64>,
}

/// What the policy reads of the L2: block headers and batch traces. The L2's JSON-RPC
/// ([`crate::l2::L2Client`]) is one.
pub trait BlockSource {
    /// Block `number`'s header figures.
    fn summary(&self, number: u64) -> impl Future<Output = Result<BlockSummary, L2Error>> + Send;

    /// The trace of blocks `from..=to`.
    fn trace(&self, from: u64, to: u64) -> impl Future<Output = Result<TraceResponse, L2Error>> + Send;
}

/// The policy's work since the last [`OpenBatch::take_work`]: what it costs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PolicyWork {
    /// Traces fetched and compressed at the codec's level.
    pub compressions: u64,
    /// Trace bytes compressed.
    pub compressed_bytes: u64,
    /// Seconds spent compressing.
    pub compress_seconds: f64,
}

/// What the policy keeps of the blocks after the bridge's tip from one round to the next: their
/// header figures, the prefixes it compressed, and how payload and trace grow with a block's
/// size. A batcher keeps one and hands it to every [`BatchPolicy::decide`]; it starts over when
/// the first block moves.
#[derive(Debug, Default)]
pub struct OpenBatch {
    /// The batch's first block.
    from: u64,
    /// Header figures of blocks `from..`, in order.
    blocks: Vec<BlockSummary>,
    /// The prefixes `from..=to` compressed, by `to`.
    measured: BTreeMap<u64, Measured>,
    /// The latest compressed prefixes' traces and frames, by `to`.
    kept: Vec<Arc<Kept>>,
    /// The lowest block not yet asked whether the batch may close after it (a fill point):
    /// the answer for a block before the last seen does not change.
    next_candidate: u64,
    /// Payload and trace bytes a block byte adds, learned from compressed prefixes (kept across
    /// batches: a load changes slowly).
    rates: Option<Rates>,
    /// Work since it was last taken.
    work: PolicyWork,
}

/// A prefix compressed.
#[derive(Clone, Copy, Debug)]
struct Measured {
    trace_len: usize,
    gas_used: u64,
    /// The compressed frame's length (zero when batches take calldata only; `usize::MAX` when
    /// the trace is larger than a frame may carry).
    payload: usize,
}

/// A compressed prefix's trace and frame.
#[derive(Debug)]
struct Kept {
    to: u64,
    trace: TraceResponse,
    frame: Vec<u8>,
}

/// Payload and trace bytes per byte of block.
#[derive(Clone, Copy, Debug)]
struct Rates {
    payload: f64,
    trace: f64,
}

/// A prefix's figures: exact where compressed, else the ranges the exact values are expected in.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    payload: (f64, f64),
    trace: (f64, f64),
    gas_used: u64,
}

impl Estimate {
    fn exact(measured: &Measured) -> Self {
        let (payload, trace) = (measured.payload as f64, measured.trace_len as f64);
        Self { payload: (payload, payload), trace: (trace, trace), gas_used: measured.gas_used }
    }

    /// The fewest and the most blobs its payload may take.
    fn blobs(&self) -> (usize, usize) {
        (blobs_for(self.payload.0), blobs_for(self.payload.1))
    }

    /// Its most likely fill.
    fn fill(&self) -> f64 {
        let payload = if self.payload.1.is_finite() { (self.payload.0 + self.payload.1) / 2.0 } else { 0.0 };
        payload / (blobs_for(payload) * BLOB_PAYLOAD) as f64
    }
}

/// Blobs a payload of `bytes` takes (`usize::MAX` for no finite payload).
fn blobs_for(bytes: f64) -> usize {
    if !bytes.is_finite() || bytes >= (usize::MAX / 2) as f64 {
        return usize::MAX;
    }
    ((bytes / BLOB_PAYLOAD as f64).ceil() as usize).max(1)
}

/// An answer about a prefix from its estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Yes,
    No,
    /// The estimate's range holds both answers: only compressing it tells.
    Unknown,
}

impl OpenBatch {
    /// The work done since the last call, which starts counting again.
    pub fn take_work(&mut self) -> PolicyWork {
        std::mem::take(&mut self.work)
    }

    /// Makes `from` the batch's first block, keeping the header figures of the blocks from there.
    fn start_at(&mut self, from: u64) {
        if from == self.from {
            return;
        }
        match usize::try_from(from.saturating_sub(self.from)) {
            Ok(skip) if from > self.from && skip <= self.blocks.len() => {
                self.blocks.drain(..skip);
            }
            _ => self.blocks.clear(),
        }
        self.from = from;
        self.measured.clear();
        self.kept.clear();
        self.next_candidate = from;
    }

    /// Reads the header figures of the blocks after the last it has, up to `to`.
    async fn extend(&mut self, l2: &impl BlockSource, to: u64) -> Result<(), L2Error> {
        let next = self.from + self.blocks.len() as u64;
        let mut chunks = (next..=to).step_by(MAX_BLOCKS_PER_BATCH as usize / 16).peekable();
        while let Some(start) = chunks.next() {
            let end = chunks.peek().map_or(to, |next| next - 1);
            let read: Vec<BlockSummary> = stream::iter(start..=end)
                .map(|number| l2.summary(number))
                .buffered(CONCURRENT_READS)
                .try_collect()
                .await?;
            self.blocks.extend(read);
        }
        Ok(())
    }

    /// The last block whose figures it has.
    fn seen(&self) -> Option<u64> {
        (self.blocks.len() as u64).checked_sub(1).map(|last| self.from + last)
    }

    /// Block `number`'s figures.
    fn block(&self, number: u64) -> Option<&BlockSummary> {
        self.blocks.get(usize::try_from(number.checked_sub(self.from)?).ok()?)
    }

    /// The size of blocks `after + 1..=to` (`None` when the L2 does not say).
    fn size_between(&self, after: u64, to: u64) -> Option<f64> {
        let sizes = (after + 1..=to).map(|number| self.block(number).and_then(|block| block.size));
        sizes.sum::<Option<u64>>().map(|size| size as f64)
    }

    /// The gas used by blocks `from..=to`.
    fn gas_used(&self, to: u64) -> u64 {
        (self.from..=to).filter_map(|number| self.block(number)).map(|block| block.gas_used).sum()
    }

    /// Prefix `from..=to`'s figures: exact if compressed, else predicted from the nearest
    /// compressed prefixes and the rates, with the margin a prediction may miss by.
    fn estimate(&self, to: u64) -> Estimate {
        if let Some(measured) = self.measured.get(&to) {
            return Estimate::exact(measured);
        }
        let rates = self.rates.or_else(|| self.average_rates());
        let slack = |bytes: f64| bytes * PREDICTION_MARGIN + PREDICTION_SLACK;
        let (mut payload, mut trace) = ((0.0, f64::INFINITY), (0.0, f64::INFINITY));
        if let Some((&at, below)) = self.measured.range(..to).next_back() {
            let (base_payload, base_trace) = (below.payload as f64, below.trace_len as f64);
            payload.0 = base_payload;
            trace.0 = base_trace;
            if let (Some(rates), Some(size)) = (rates, self.size_between(at, to)) {
                let (more_payload, more_trace) = (size * rates.payload, size * rates.trace);
                payload = (
                    (base_payload + more_payload - slack(more_payload)).max(base_payload),
                    base_payload + more_payload + slack(more_payload),
                );
                trace = (
                    (base_trace + more_trace - slack(more_trace)).max(base_trace),
                    base_trace + more_trace + slack(more_trace),
                );
            }
        }
        if let Some((&at, above)) = self.measured.range(to + 1..).next() {
            // A longer prefix has a longer trace, and as long a payload but for compression's
            // noise.
            let (base_payload, base_trace) = (above.payload as f64, above.trace_len as f64);
            let (mut high_payload, mut high_trace) =
                ((0.0, base_payload + PREDICTION_SLACK), (0.0, base_trace));
            if let (Some(rates), Some(size)) = (rates, self.size_between(to, at)) {
                let (less_payload, less_trace) = (size * rates.payload, size * rates.trace);
                high_payload.0 = (base_payload - less_payload - slack(less_payload)).max(0.0);
                high_payload.1 = high_payload.1.min(base_payload - less_payload + slack(less_payload));
                high_trace.0 = (base_trace - less_trace - slack(less_trace)).max(0.0);
                high_trace.1 = high_trace.1.min(base_trace - less_trace + slack(less_trace));
            }
            payload = intersect(payload, high_payload);
            trace = intersect(trace, high_trace);
        }
        Estimate { payload, trace, gas_used: self.gas_used(to) }
    }

    /// Rates from the batch's longest compressed prefix when none were learned: its payload and
    /// trace per block byte, witness and all (more than a block adds at the margin, so that
    /// predictions err towards looking early).
    fn average_rates(&self) -> Option<Rates> {
        let (&to, measured) = self.finite().next_back()?;
        let size = self.size_between(self.from.checked_sub(1)?, to).filter(|size| *size > 0.0)?;
        Some(Rates { payload: measured.payload as f64 / size, trace: measured.trace_len as f64 / size })
    }

    /// The compressed prefixes a frame carries, shortest first.
    fn finite(&self) -> impl DoubleEndedIterator<Item = (&u64, &Measured)> {
        self.measured.iter().filter(|(_, measured)| measured.payload != usize::MAX)
    }

    /// Learns the rates from the shortest and the longest compressed prefixes of the batch.
    fn learn(&mut self) {
        let (Some((&first, low)), Some((&last, high))) = (self.finite().next(), self.finite().next_back())
        else {
            return;
        };
        let Some(size) = self.size_between(first, last).filter(|size| *size >= 1_024.0) else { return };
        self.rates = Some(Rates {
            payload: (high.payload as f64 - low.payload as f64).max(0.0) / size,
            trace: (high.trace_len as f64 - low.trace_len as f64).max(0.0) / size,
        });
    }
}

/// The overlap of two ranges, or the span of both when they do not overlap (predictions that
/// disagree).
fn intersect(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (low, high) = (a.0.max(b.0), a.1.min(b.1));
    if low <= high { (low, high) } else { (a.0.min(b.0), a.1.max(b.1)) }
}

impl BatchPolicy {
    /// Decides on the blocks `from..=head` of `l2`, at the L1's `fees`; `now` is the wall clock
    /// in seconds. `open` is what the policy kept from the rounds before.
    pub async fn decide(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        from: u64,
        head: u64,
        fees: &FeeQuote,
        now: u64,
    ) -> Result<Decision, PolicyError> {
        if head < from {
            return Ok(Decision::Wait { anchors: Vec::new() });
        }
        open.start_at(from);
        open.extend(l2, head.min(from + MAX_BLOCKS_PER_BATCH - 1)).await?;
        let Some(seen) = open.seen() else { return Ok(Decision::Wait { anchors: Vec::new() }) };
        let oldest = open.block(from).map_or(now, |block| block.timestamp);
        let aged = now.saturating_sub(oldest) >= self.max_age.as_secs();
        let at_limit = seen - from + 1 == MAX_BLOCKS_PER_BATCH;
        if open.measured.is_empty() {
            self.measure(l2, open, seen).await?;
        }
        let mut fits = self.fits(&open.estimate(seen));
        if fits != Answer::Yes && !open.measured.contains_key(&seen) {
            // Only a compressed prefix says a batch is full: rates learned from other blocks
            // (empty ones, say) may predict far more than there is.
            self.measure(l2, open, seen).await?;
            fits = self.fits(&open.estimate(seen));
        }
        if fits == Answer::No {
            // More blocks wait than one batch takes: it closes now, at a prefix that fits.
            let (to, reason) = self.best_below(l2, open, seen).await?;
            return self.close(l2, open, to, fees, reason).await;
        }
        if let Some(to) = self.fill_point(l2, open, seen, seen).await? {
            return self.close(l2, open, to, fees, CloseReason::Filled).await;
        }
        if at_limit || aged {
            let reason = if at_limit { CloseReason::BlockLimit } else { CloseReason::MaxAge };
            return self.close(l2, open, seen, fees, reason).await;
        }
        let anchors = open.kept.last().map(|kept| anchor_numbers(&kept.trace)).unwrap_or_default();
        Ok(Decision::Wait { anchors })
    }

    /// Where a batch closes when block `beyond` (and those after it) would pass its limits: at
    /// the longest fill point that fits, else at the prefix that fits with the fullest blobs.
    async fn best_below(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        beyond: u64,
    ) -> Result<(u64, CloseReason), PolicyError> {
        let fitting = self.largest_fitting(l2, open, beyond).await?;
        Ok(match self.fill_point(l2, open, fitting, fitting + 1).await? {
            Some(to) => (to, CloseReason::Filled),
            None => (self.fullest(l2, open, fitting).await?, CloseReason::Full),
        })
    }

    /// The largest prefix `from..=to` with `to < beyond` that fits, compressed, as is the one
    /// after it; `beyond` was compressed and does not fit. Predictions guide the probes, never
    /// the answer.
    async fn largest_fitting(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        beyond: u64,
    ) -> Result<u64, PolicyError> {
        let from = open.from;
        let mut too_large = beyond;
        let mut fitting: Option<u64> = None;
        let mut probes = 0;
        loop {
            // What was compressed bounds the search.
            for (&to, measured) in open.measured.range(fitting.map_or(from, |to| to + 1)..too_large) {
                match self.fits(&Estimate::exact(measured)) {
                    Answer::No => {
                        too_large = to;
                        break;
                    }
                    _ => fitting = Some(to),
                }
            }
            let low = fitting.map_or(from, |to| to + 1);
            if low >= too_large {
                return fitting.ok_or(PolicyError::BlockTooLarge(from));
            }
            // The longest prefix the predictions do not rule out (else the next one, to confirm
            // that it does not fit).
            let guess = (low..too_large).rev().find(|to| self.fits(&open.estimate(*to)) != Answer::No);
            let probe =
                if probes < GUIDED_PROBES { guess.unwrap_or(low) } else { low + (too_large - low) / 2 };
            probes += 1;
            self.measure(l2, open, probe).await?;
        }
    }

    /// The longest fill point `to` with `open.next_candidate ≤ to ≤ upto`: a prefix that fits,
    /// whose blobs are filled to the target, and after which block `to + 1` (up to `seen`, the
    /// last block known) needs another blob or does not fit; or, at `to == seen`, one with the
    /// most blobs filled to the target. Compresses the candidates the predictions cannot decide.
    async fn fill_point(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        upto: u64,
        seen: u64,
    ) -> Result<Option<u64>, PolicyError> {
        if self.data == DataPolicy::Calldata {
            return Ok(None);
        }
        for to in (open.next_candidate..=upto).rev() {
            if self.is_fill_point(l2, open, to, seen).await? {
                return Ok(Some(to));
            }
        }
        // The candidates before `seen` keep their answers; `seen` is asked again once the next
        // block is known.
        open.next_candidate = open.next_candidate.max(upto.min(seen.saturating_sub(1)) + 1);
        Ok(None)
    }

    /// Whether `from..=to` is a fill point ([`BatchPolicy::fill_point`]), compressing it and the
    /// next prefix if the predictions cannot tell.
    async fn is_fill_point(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        to: u64,
        seen: u64,
    ) -> Result<bool, PolicyError> {
        let max_blobs = self.max_blobs.min(MAX_BLOBS_PER_TX);
        loop {
            let this = open.estimate(to);
            let (fewest, most) = this.blobs();
            let closes = match (to < seen).then(|| open.estimate(to + 1)) {
                // The next block needs another blob, or does not fit.
                Some(next) => {
                    let next_fits = self.fits(&next);
                    if blobs_for(next.payload.0) > most || next_fits == Answer::No {
                        Answer::Yes
                    } else if blobs_for(next.payload.1) <= fewest && next_fits == Answer::Yes {
                        Answer::No
                    } else {
                        Answer::Unknown
                    }
                }
                // The last block known: a fill point only with the most blobs.
                None if fewest >= max_blobs => Answer::Yes,
                None if most < max_blobs => Answer::No,
                None => Answer::Unknown,
            };
            let answers = [self.filled(&this), self.fits(&this), closes];
            if answers.contains(&Answer::No) {
                return Ok(false);
            }
            if answers.iter().all(|answer| *answer == Answer::Yes) {
                return Ok(true);
            }
            // Too close to call: compress this prefix, then the next.
            let unmeasured =
                [to, to + 1].into_iter().filter(|to| *to <= seen).find(|to| !open.measured.contains_key(to));
            let Some(unmeasured) = unmeasured else { return Ok(false) };
            self.measure(l2, open, unmeasured).await?;
        }
    }

    /// Of the prefixes up to `fitting` (the longest that fits, compressed) with at most one blob
    /// fewer, the one with the fullest blobs, compressed; the longest of equals.
    async fn fullest(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        fitting: u64,
    ) -> Result<u64, PolicyError> {
        if self.data == DataPolicy::Calldata {
            return Ok(fitting);
        }
        let longest = open.estimate(fitting);
        let fewest_blobs = longest.blobs().0.saturating_sub(1).max(1);
        let mut best = (fitting, longest.fill());
        for to in (open.from..fitting).rev() {
            let estimate = open.estimate(to);
            if estimate.blobs().1 < fewest_blobs {
                break;
            }
            // Better by more than a prediction's noise.
            if estimate.fill() > best.1 + PREDICTION_MARGIN / 4.0 {
                best = (to, estimate.fill());
            }
        }
        if best.0 == fitting {
            return Ok(fitting);
        }
        self.measure(l2, open, best.0).await?;
        let candidate = open.estimate(best.0);
        let better = candidate.fill() > longest.fill() && self.fits(&candidate) == Answer::Yes;
        Ok(if better { best.0 } else { fitting })
    }

    /// Closes the batch `from..=to`, compressed now if it was not. Should it not fit (a
    /// prediction missed), it closes at the best prefix below it instead.
    async fn close(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        mut to: u64,
        fees: &FeeQuote,
        mut reason: CloseReason,
    ) -> Result<Decision, PolicyError> {
        loop {
            let kept = match open.kept.iter().find(|kept| kept.to == to) {
                Some(kept) => kept.clone(),
                None => self.measure(l2, open, to).await?,
            };
            let fits = open.measured.get(&to).map(|measured| self.fits(&Estimate::exact(measured)));
            if fits == Some(Answer::Yes) {
                let proposal = self.proposal(&kept, fees)?;
                let trace = Box::new(kept.trace.clone());
                return Ok(Decision::Close { trace, proposal: Box::new(proposal), reason });
            }
            (to, reason) = self.best_below(l2, open, to).await?;
        }
    }

    /// Fetches and compresses the trace of `from..=to` (on a blocking thread) and learns from it.
    async fn measure(
        &self,
        l2: &impl BlockSource,
        open: &mut OpenBatch,
        to: u64,
    ) -> Result<Arc<Kept>, PolicyError> {
        let from = open.from;
        let trace = l2.trace(from, to).await?;
        let (frame, payload) = if self.data == DataPolicy::Calldata {
            (Vec::new(), 0)
        } else {
            let started = Instant::now();
            let bytes = trace.trace.clone();
            let frame = tokio::task::spawn_blocking(move || encode_frame(&bytes, Codec::DEFAULT))
                .await
                .map_err(|error| ProposalError::Blobs(BlobError::Compress(error.to_string())))?;
            open.work.compressions += 1;
            open.work.compressed_bytes += trace.trace.len() as u64;
            open.work.compress_seconds += started.elapsed().as_secs_f64();
            match frame {
                Ok(frame) => {
                    let payload = frame.len();
                    (frame, payload)
                }
                // Larger than a frame carries: it fits no batch.
                Err(BlobError::TooLarge(_)) => (Vec::new(), usize::MAX),
                Err(error) => return Err(ProposalError::Blobs(error).into()),
            }
        };
        let measured =
            Measured { trace_len: trace.trace.len(), gas_used: trace.gas_used.to::<u64>(), payload };
        open.measured.insert(to, measured);
        open.learn();
        let kept = Arc::new(Kept { to, trace, frame });
        open.kept.retain(|other| other.to != to);
        open.kept.push(kept.clone());
        open.kept.sort_by_key(|kept| kept.to);
        if open.kept.len() > KEPT_PREFIXES {
            // A prefix that does not fit never closes: it goes first. Else the shortest goes:
            // the longest are the likeliest to close.
            let too_large = open.kept.iter().position(|kept| {
                open.measured
                    .get(&kept.to)
                    .is_some_and(|measured| self.fits(&Estimate::exact(measured)) == Answer::No)
            });
            open.kept.remove(too_large.unwrap_or(0));
        }
        Ok(kept)
    }

    /// Whether a prefix with `estimate`'s figures fits a batch.
    fn fits(&self, estimate: &Estimate) -> Answer {
        let at_least = self.fits_exactly(estimate.payload.0, estimate.trace.0, estimate.gas_used);
        let at_most = self.fits_exactly(estimate.payload.1, estimate.trace.1, estimate.gas_used);
        match (at_least, at_most) {
            (_, true) => Answer::Yes,
            (false, _) => Answer::No,
            (true, false) => Answer::Unknown,
        }
    }

    /// Whether a prefix of `payload` compressed bytes and `trace` trace bytes fits a batch.
    fn fits_exactly(&self, payload: f64, trace: f64, gas_used: u64) -> bool {
        if !trace.is_finite() || !payload.is_finite() {
            return false;
        }
        let trace = trace.ceil() as usize;
        match self.data {
            DataPolicy::Calldata => self.calldata_fits(trace, gas_used),
            DataPolicy::Auto | DataPolicy::Blobs => {
                let blobs = blobs_for(payload);
                let charge = self.execute_gas.cost(trace, U256::from(gas_used)) + BRIDGE_GAS_ALLOWANCE;
                blobs <= self.max_blobs.min(MAX_BLOBS_PER_TX)
                    && charge + self.execute_gas.blobs_cost(blobs) <= self.gas_budget
            }
        }
    }

    /// Whether a trace of `trace` bytes proving `gas_used` fits one calldata submission: the
    /// transaction's size limit, and EXECUTE's charge, the bridge's work and the calldata's gas
    /// within the budget.
    fn calldata_fits(&self, trace: usize, gas_used: u64) -> bool {
        let charge = self.execute_gas.cost(trace, U256::from(gas_used)) + BRIDGE_GAS_ALLOWANCE;
        trace <= MAX_CALLDATA_TX_BYTES && charge + 40 * trace as u64 <= self.gas_budget
    }

    /// Whether a prefix with `estimate`'s payload fills its blobs to the target.
    fn filled(&self, estimate: &Estimate) -> Answer {
        let filled = |payload: f64| payload >= self.target_fill * (blobs_for(payload) * BLOB_PAYLOAD) as f64;
        let (low, high) = estimate.payload;
        if low == high {
            return if filled(low) { Answer::Yes } else { Answer::No };
        }
        // Within one blob count the fill grows with the payload; across a blob boundary it
        // goes from full to barely filled.
        if !high.is_finite() || blobs_for(low) != blobs_for(high) {
            return Answer::Unknown;
        }
        match (filled(low), filled(high)) {
            (true, _) => Answer::Yes,
            (false, true) => Answer::Unknown,
            (false, false) => Answer::No,
        }
    }

    /// The proposal of a compressed prefix, on the cheaper path.
    fn proposal(&self, kept: &Kept, fees: &FeeQuote) -> Result<Proposal, PolicyError> {
        let trace = &kept.trace;
        let calldata_fits = self.calldata_fits(trace.trace.len(), trace.gas_used.to::<u64>());
        let path = match self.data {
            DataPolicy::Blobs => DataPath::Blobs,
            DataPolicy::Calldata => DataPath::Calldata,
            DataPolicy::Auto if !calldata_fits => DataPath::Blobs,
            DataPolicy::Auto => {
                // Calldata at EIP-7623's floor (40 gas a non-zero byte) against blob gas.
                let blobs = kept.frame.len().div_ceil(BLOB_PAYLOAD);
                let calldata = 40 * trace.trace.len() as u128 * fees.base_fee.max(1);
                let blob = blobs as u128 * BLOB_GAS * fees.blob_base_fee.max(1);
                if calldata < blob { DataPath::Calldata } else { DataPath::Blobs }
            }
        };
        Ok(match path {
            DataPath::Blobs => Proposal::from_frame(trace, &kept.frame)?,
            DataPath::Calldata => Proposal::new(trace, DataPath::Calldata)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::service::{
        dev_policy,
        synthetic_l2::{SyntheticL2, noise},
    };
    use trace_builder::blob::{decode_blobs, payload_to_trace};

    /// Transfers in a block at the L2's gas limit (30 M / 21,000).
    const FULL_BLOCK: usize = 1_428;

    fn fees() -> FeeQuote {
        FeeQuote { base_fee: 1, tip: 1, blob_base_fee: 1 }
    }

    fn policy() -> BatchPolicy {
        BatchPolicy { max_age: Duration::from_secs(30), data: DataPolicy::Blobs, ..dev_policy() }
    }

    /// The exact figures of `from..=to`: payload bytes, blobs, and whether it fits.
    async fn exact(policy: &BatchPolicy, l2: &SyntheticL2, from: u64, to: u64) -> (usize, usize, bool) {
        let trace = l2.trace(from, to).await.unwrap();
        let payload = encode_frame(&trace.trace, Codec::DEFAULT).unwrap().len();
        let fits = policy.fits_exactly(payload as f64, trace.trace.len() as f64, trace.gas_used.to());
        (payload, payload.div_ceil(BLOB_PAYLOAD), fits)
    }

    /// Checks a closed batch of `from..`: its blobs carry exactly its trace, and it fits.
    async fn check_closed(policy: &BatchPolicy, l2: &SyntheticL2, from: u64, decision: &Decision) -> u64 {
        let Decision::Close { trace, proposal, .. } = decision else { panic!("no batch closed") };
        let to = trace.bindings.last_number.to::<u64>();
        let expected = l2.trace(from, to).await.unwrap();
        assert_eq!(trace.trace, expected.trace, "the batch's trace is not its blocks'");
        if proposal.blobs.is_empty() {
            assert_eq!(proposal.inline, expected.trace, "the calldata is not the batch's trace");
            return to;
        }
        let payload = decode_blobs(&proposal.blobs).unwrap();
        assert_eq!(
            payload_to_trace(&payload).unwrap(),
            expected.trace.to_vec(),
            "the blobs carry another trace"
        );
        assert_eq!(proposal.payload_bytes, payload.len());
        assert!(proposal.blobs.len() <= policy.max_blobs);
        let (_, blobs, fits) = exact(policy, l2, from, to).await;
        assert!(fits, "batch {from}-{to} passes the limits");
        assert_eq!(blobs, proposal.blobs.len());
        to
    }

    /// Blocks of `sizes` transfers sealed one a second, the policy asked twice a second, each
    /// batch posted as soon as it closes; the batches (first, last, blobs, fill, reason) and the
    /// policy's work. Every batch is checked against its exact encoding.
    async fn run(
        policy: &BatchPolicy,
        sizes: &[usize],
        sizeless: bool,
    ) -> (Vec<(u64, u64, usize, f64, CloseReason)>, PolicyWork) {
        let mut l2 = SyntheticL2 { blocks: Vec::new(), sizeless };
        let mut open = OpenBatch::default();
        let mut work = PolicyWork::default();
        let mut batches = Vec::new();
        let mut from = 1;
        for second in 0..sizes.len() as u64 + 120 {
            if let Some(size) = sizes.get(second as usize) {
                l2.blocks.push(*size);
            } else {
                l2.blocks.push(0);
            }
            if from > sizes.len() as u64 {
                break;
            }
            for _ in 0..2 {
                let decision =
                    policy.decide(&l2, &mut open, from, l2.head(), &fees(), second + 1).await.unwrap();
                let taken = open.take_work();
                work.compressions += taken.compressions;
                work.compressed_bytes += taken.compressed_bytes;
                if let Decision::Close { proposal, reason, .. } = &decision {
                    let to = check_closed(policy, &l2, from, &decision).await;
                    let fill = proposal.payload_bytes as f64 / (proposal.blobs.len() * BLOB_PAYLOAD) as f64;
                    batches.push((from, to, proposal.blobs.len(), fill, *reason));
                    from = to + 1;
                }
            }
        }
        (batches, work)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_load_batches_close_where_their_blobs_are_full() {
        let policy = policy();
        let (batches, work) = run(&policy, &[FULL_BLOCK; 12], false).await;
        let l2 = SyntheticL2 { blocks: vec![FULL_BLOCK; 12], sizeless: false };
        // The gas budget allows six such blocks and they need fewer than 6 blobs; the batch
        // closes where its blobs are filled to the target and the next block needs another.
        let (first, last, blobs, fill, reason) = batches[0];
        assert_eq!(reason, CloseReason::Filled, "{batches:?}");
        assert!(fill >= policy.target_fill, "{batches:?}");
        let (_, next_blobs, next_fits) = exact(&policy, &l2, first, last + 1).await;
        assert!(next_blobs > blobs || !next_fits, "one more block fit in the same blobs: {batches:?}");
        // Far fewer compressions than rounds (two a block).
        assert!(work.compressions <= 12, "{work:?} for {batches:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rates_learned_from_empty_blocks_do_not_close_a_batch_early() {
        // A fresh policy whose first prefix compressed is empty blocks: its payload per block
        // byte (their headers and the witness) predicts far more than a full block takes.
        let policy = policy();
        let mut sizes = vec![0, 0, 0, 400];
        sizes.extend([FULL_BLOCK; 10]);
        let (batches, _) = run(&policy, &sizes, false).await;
        let (last, closed) = batches.split_last().unwrap();
        assert!(closed.iter().all(|batch| batch.4 == CloseReason::Filled), "{batches:?}");
        assert_eq!(last.4, CloseReason::MaxAge, "{batches:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_without_new_blocks_compresses_nothing() {
        let policy = policy();
        let l2 = SyntheticL2 { blocks: vec![FULL_BLOCK, FULL_BLOCK, 10], sizeless: false };
        let mut open = OpenBatch::default();
        let decision = policy.decide(&l2, &mut open, 1, 3, &fees(), 3).await.unwrap();
        assert!(matches!(decision, Decision::Wait { .. }));
        assert!(open.take_work().compressions >= 1);
        for now in 4..10 {
            let decision = policy.decide(&l2, &mut open, 1, 3, &fees(), now).await.unwrap();
            assert!(matches!(decision, Decision::Wait { .. }));
            assert_eq!(open.take_work(), PolicyWork::default());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backlog_closes_at_once_within_the_limits() {
        let policy = policy();
        let l2 = SyntheticL2 { blocks: vec![FULL_BLOCK; 20], sizeless: false };
        let mut open = OpenBatch::default();
        let decision = policy.decide(&l2, &mut open, 1, 20, &fees(), 21).await.unwrap();
        // The search compressed each prefix it probed once, the one it closes at included.
        assert_eq!(open.take_work().compressions, open.measured.len() as u64, "a prefix compressed twice");
        let to = check_closed(&policy, &l2, 1, &decision).await;
        let (_, blobs, _) = exact(&policy, &l2, 1, to).await;
        let (_, next_blobs, next_fits) = exact(&policy, &l2, 1, to + 1).await;
        assert!(next_blobs > blobs || !next_fits);
        // The next batch starts from what the policy kept of the blocks after it.
        let decision = policy.decide(&l2, &mut open, to + 1, 20, &fees(), 21).await.unwrap();
        check_closed(&policy, &l2, to + 1, &decision).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_blocks_wait_for_the_maximum_age_and_then_close_together() {
        let policy = policy();
        let (batches, work) = run(&policy, &[3; 40], false).await;
        assert!(batches.iter().all(|batch| batch.4 == CloseReason::MaxAge), "{batches:?}");
        assert_eq!(batches[0].0, 1);
        assert!(batches[0].1 >= 30, "{batches:?}");
        // About one compression as a batch opens and one as it closes.
        assert!(work.compressions <= 2 * batches.len() as u64 + 2, "{work:?} for {batches:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn varied_blocks_always_close_within_the_limits() {
        // Blocks from empty to full, in an order no prediction expects.
        let sizes: Vec<usize> =
            noise(11, 40).map(|byte| [0, 40, 400, 900, 1_428][byte as usize % 5]).collect();
        for policy in [
            policy(),
            BatchPolicy { max_blobs: 2, ..policy() },
            BatchPolicy { gas_budget: 6_000_000, ..policy() },
        ] {
            let (batches, _) = run(&policy, &sizes, false).await;
            let covered: u64 = batches.iter().map(|(first, last, ..)| last - first + 1).sum();
            assert!(covered >= sizes.len() as u64, "{batches:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_l2_that_does_not_say_block_sizes_still_gets_exact_batches() {
        let policy = policy();
        let (batches, _) = run(&policy, &[FULL_BLOCK; 8], true).await;
        assert!(batches[0].2 <= policy.max_blobs && batches[0].3 >= policy.target_fill, "{batches:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_block_larger_than_a_batch_is_an_error() {
        let policy = BatchPolicy { gas_budget: 1_000_000, ..policy() };
        let l2 = SyntheticL2 { blocks: vec![FULL_BLOCK], sizeless: false };
        let error = policy.decide(&l2, &mut OpenBatch::default(), 1, 1, &fees(), 1).await.unwrap_err();
        assert!(matches!(error, PolicyError::BlockTooLarge(1)), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_calldata_policy_compresses_nothing() {
        let policy = BatchPolicy { data: DataPolicy::Calldata, ..policy() };
        let (batches, work) = run(&policy, &[200; 10], false).await;
        assert_eq!(work.compressions, 0);
        assert!(batches.iter().all(|batch| batch.2 == 0));
        let covered: u64 = batches.iter().map(|(first, last, ..)| last - first + 1).sum();
        assert!(covered >= 10, "{batches:?}");
    }
}
