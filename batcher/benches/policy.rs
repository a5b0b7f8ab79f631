//! The batching policy's CPU: what it compresses to decide when batches close, on a synthetic L2
//! sealing a block a second and asked twice a second (the dev rollup's poll), each batch taking
//! 2 s to post during which nothing is asked. Against the procedure it replaced, which
//! compressed the whole range of waiting blocks (zstd level 19) every time it was asked, and
//! closed a batch only at the blob limit, the gas budget or the maximum age.
//!
//! Transfers are 110 bytes, 65 of them (the signature) random, as in the settlement benchmark's
//! load (docs/benchmarks.md): blocks of 1,428 (the L2's gas limit) under load, of 50 when
//! light. The maximum age is 30 s.
//!
//! `cargo bench -p batcher --bench policy` prints a Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_primitives::U256;
use batcher::{
    proposal::BRIDGE_GAS_ALLOWANCE,
    service::{
        dev_policy,
        policy::{BatchPolicy, DataPolicy, Decision, OpenBatch},
        synthetic_l2::SyntheticL2,
    },
    txmgr::FeeQuote,
};
use std::time::{Duration, Instant};
use trace_builder::blob::{BLOB_PAYLOAD, Codec, encode_frame};

/// Polls while a batch is posted (2 s).
const POSTING_POLLS: u64 = 4;

/// What a run cost and what it posted.
#[derive(Default)]
struct Outcome {
    compressions: u64,
    compressed_bytes: u64,
    seconds: f64,
    batches: u64,
    payload: usize,
    blobs: usize,
}

/// The procedure the policy replaced: compress the waiting blocks every time, bisect when they
/// pass the limits; close at 6 blobs filled to the target, at the limits, or at the maximum age.
fn previous(
    policy: &BatchPolicy,
    l2: &SyntheticL2,
    from: u64,
    now: u64,
    outcome: &mut Outcome,
) -> Option<(u64, usize)> {
    let mut fit = |to: u64| {
        let trace = l2.trace_of(from, to);
        let started = Instant::now();
        let frame = encode_frame(&trace.trace, Codec::DEFAULT).unwrap();
        outcome.seconds += started.elapsed().as_secs_f64();
        outcome.compressions += 1;
        outcome.compressed_bytes += trace.trace.len() as u64;
        let blobs = frame.len().div_ceil(BLOB_PAYLOAD);
        let charge = policy.execute_gas.cost(trace.trace.len(), U256::from(l2.gas(from, to)))
            + policy.execute_gas.blobs_cost(blobs)
            + BRIDGE_GAS_ALLOWANCE;
        (blobs <= policy.max_blobs && charge <= policy.gas_budget).then_some(frame.len())
    };
    let head = l2.head();
    if head < from {
        return None;
    }
    if let Some(payload) = fit(head) {
        let full = payload.div_ceil(BLOB_PAYLOAD) >= policy.max_blobs
            && payload as f64 >= policy.target_fill * (policy.max_blobs * BLOB_PAYLOAD) as f64;
        let aged = now.saturating_sub(from) >= policy.max_age.as_secs();
        return (full || aged).then_some((head, payload));
    }
    let (mut fits, mut too_large, mut best) = (from - 1, head, None);
    while too_large - fits > 1 {
        let middle = fits + (too_large - fits) / 2;
        match fit(middle) {
            Some(payload) => (fits, best) = (middle, Some((middle, payload))),
            None => too_large = middle,
        }
    }
    best
}

/// Runs `blocks` (then empty blocks until all are posted) through the new policy or the
/// previous procedure.
async fn run(blocks: &[usize], new: bool) -> Outcome {
    let policy = BatchPolicy { max_age: Duration::from_secs(30), data: DataPolicy::Blobs, ..dev_policy() };
    let fees = FeeQuote { base_fee: 1, tip: 1, blob_base_fee: 1 };
    let mut all = blocks.to_vec();
    all.extend([0; 120]);
    let mut l2 = SyntheticL2::default();
    let mut open = OpenBatch::default();
    let mut outcome = Outcome::default();
    let (mut from, mut busy_until) = (1, 0);
    for poll in 0..2 * all.len() as u64 {
        if poll % 2 == 0 {
            l2.blocks.push(all[poll as usize / 2]);
        }
        let now = l2.head();
        if poll < busy_until || from > blocks.len() as u64 {
            continue;
        }
        let closed = if new {
            match policy.decide(&l2, &mut open, from, l2.head(), &fees, now).await.unwrap() {
                Decision::Close { trace, proposal, .. } => {
                    Some((trace.bindings.last_number.to::<u64>(), proposal.payload_bytes))
                }
                Decision::Wait { .. } => None,
            }
        } else {
            previous(&policy, &l2, from, now, &mut outcome)
        };
        if let Some((to, payload)) = closed {
            outcome.batches += 1;
            outcome.payload += payload;
            outcome.blobs += payload.div_ceil(BLOB_PAYLOAD);
            from = to + 1;
            busy_until = poll + 1 + POSTING_POLLS;
        }
    }
    if new {
        let work = open.take_work();
        (outcome.compressions, outcome.compressed_bytes, outcome.seconds) =
            (work.compressions, work.compressed_bytes, work.compress_seconds);
    }
    outcome
}

#[tokio::main]
async fn main() {
    println!(
        "| load | policy | compressions | MB compressed | CPU seconds compressing | batches | blobs | blob fill |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (load, blocks) in
        [("30 blocks of 1,428 transfers", vec![1_428; 30]), ("60 blocks of 50 transfers", vec![50; 60])]
    {
        for new in [false, true] {
            let outcome = run(&blocks, new).await;
            println!(
                "| {load} | {} | {} | {:.1} | {:.2} | {} | {} | {:.1}% |",
                if new { "predicting" } else { "compressing every round" },
                outcome.compressions,
                outcome.compressed_bytes as f64 / 1e6,
                outcome.seconds,
                outcome.batches,
                outcome.blobs,
                100.0 * outcome.payload as f64 / (outcome.blobs * BLOB_PAYLOAD).max(1) as f64,
            );
        }
    }
}
