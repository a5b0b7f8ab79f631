//! When a batch closes and how its trace travels: the batching policy.
//!
//! A batch is one consecutive range of L2 blocks starting right after what the bridge has. It
//! closes when its trace fills the configured blobs (at the target fill), when adding blocks
//! would pass the blob limit or EXECUTE's gas budget (then it is as large as they allow), when
//! its oldest block reaches the maximum age, or at the most blocks one trace covers. Its trace
//! goes in blobs or in calldata, whichever the L1's current prices make cheaper (calldata only
//! while the trace stays under 120 KiB, below a geth-like pool's 128 KiB transaction size).

use crate::{
    bridge::SettlementMode,
    l2::{L2Client, L2Error},
    proposal::{BRIDGE_GAS_ALLOWANCE, DataPath, MAX_BLOBS_PER_TX, Proposal, ProposalError},
    rollup_api::TraceResponse,
    txmgr::FeeQuote,
};
use alloy_primitives::U256;
use std::time::Duration;
use trace_builder::{blob::BLOB_PAYLOAD, precompile::ExecuteGas};

/// The most blocks one trace covers (the L2's `rollup_getTrace` limit).
pub const MAX_BLOCKS_PER_BATCH: u64 = 1_024;

/// The largest transaction a geth-like L1 pool takes, less room for the call's other fields.
const MAX_CALLDATA_TX_BYTES: usize = 120 * 1024;

/// Blob gas per blob (EIP-4844).
const BLOB_GAS: u128 = 131_072;

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
    /// A batch closes once its blobs are this full (payload / capacity).
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

/// What the policy decided for the blocks after the bridge's tip.
#[derive(Debug)]
pub enum Decision {
    /// Nothing to close yet.
    Wait {
        /// The L1 numbers of the distinct anchors of the blocks waiting (of as many as one
        /// trace covers), oldest first: they must stay readable by the bridge until posted.
        anchors: Vec<u64>,
    },
    /// Close a batch of the blocks from `from` to its trace's last block.
    Close {
        /// Its trace.
        trace: Box<TraceResponse>,
        /// The proposal, on its data path.
        proposal: Box<Proposal>,
        /// Why it closed.
        reason: &'static str,
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

impl BatchPolicy {
    /// Decides on the blocks `from..=head` of `l2`, at the L1's `fees`; `now` is the wall clock
    /// in seconds.
    pub async fn decide(
        &self,
        l2: &L2Client,
        from: u64,
        head: u64,
        fees: &FeeQuote,
        now: u64,
    ) -> Result<Decision, PolicyError> {
        if head < from {
            return Ok(Decision::Wait { anchors: Vec::new() });
        }
        let (oldest, _) = l2.block(from).await?;
        let aged = now.saturating_sub(oldest) >= self.max_age.as_secs();
        let to = head.min(from + MAX_BLOCKS_PER_BATCH - 1);
        let at_limit = to - from + 1 == MAX_BLOCKS_PER_BATCH;
        let (mut trace, mut proposal) = self.fit(l2, from, to, fees).await?;
        let mut shrunk = false;
        if proposal.is_none() {
            // Too large: the largest prefix that fits, by bisection.
            let (mut fits, mut too_large) = (from - 1, to);
            let mut best = None;
            while too_large - fits > 1 {
                let middle = fits + (too_large - fits) / 2;
                let (candidate_trace, candidate) = self.fit(l2, from, middle, fees).await?;
                match candidate {
                    Some(candidate) => {
                        fits = middle;
                        best = Some((candidate_trace, candidate));
                    }
                    None => too_large = middle,
                }
            }
            let Some((best_trace, best_proposal)) = best else {
                return Err(PolicyError::BlockTooLarge(from));
            };
            (trace, proposal, shrunk) = (best_trace, Some(best_proposal), true);
        }
        let Some(proposal) = proposal else { return Err(PolicyError::BlockTooLarge(from)) };
        let full = proposal.blobs.len() >= self.max_blobs
            && proposal.payload_bytes as f64 >= self.target_fill * (self.max_blobs * BLOB_PAYLOAD) as f64;
        let reason = if shrunk {
            "full"
        } else if full {
            "filled"
        } else if at_limit {
            "block limit"
        } else if aged {
            "max age"
        } else {
            return Ok(Decision::Wait { anchors: anchor_numbers(&trace) });
        };
        Ok(Decision::Close { trace: Box::new(trace), proposal: Box::new(proposal), reason })
    }

    /// The trace of `from..=to` and its proposal on the cheaper path, or `None` when it passes
    /// the limits.
    async fn fit(
        &self,
        l2: &L2Client,
        from: u64,
        to: u64,
        fees: &FeeQuote,
    ) -> Result<(TraceResponse, Option<Proposal>), PolicyError> {
        let trace = l2.trace(from, to).await?;
        let charge = self.execute_gas.cost(trace.trace.len(), U256::from(trace.gas_used.to::<u64>()));
        let blobs = match Proposal::new(&trace, DataPath::Blobs) {
            Ok(proposal) => Some(proposal),
            Err(ProposalError::TooManyBlobs(_)) => None,
            Err(error) => return Err(error.into()),
        };
        let blobs = blobs.filter(|proposal| proposal.blobs.len() <= self.max_blobs.min(MAX_BLOBS_PER_TX));
        let Some(blobs) = blobs else { return Ok((trace, None)) };
        let blob_charge = charge + self.execute_gas.blobs_cost(blobs.blobs.len());
        if blob_charge + BRIDGE_GAS_ALLOWANCE > self.gas_budget {
            return Ok((trace, None));
        }
        let calldata_fits = trace.trace.len() <= MAX_CALLDATA_TX_BYTES
            && charge + BRIDGE_GAS_ALLOWANCE + 40 * trace.trace.len() as u64 <= self.gas_budget;
        let path = match self.data {
            DataPolicy::Blobs => DataPath::Blobs,
            DataPolicy::Calldata if calldata_fits => DataPath::Calldata,
            DataPolicy::Calldata => return Ok((trace, None)),
            DataPolicy::Auto if !calldata_fits => DataPath::Blobs,
            DataPolicy::Auto => {
                // Calldata at EIP-7623's floor (40 gas a non-zero byte) against blob gas.
                let calldata = 40 * trace.trace.len() as u128 * fees.base_fee.max(1);
                let blob = blobs.blobs.len() as u128 * BLOB_GAS * fees.blob_base_fee.max(1);
                if calldata < blob { DataPath::Calldata } else { DataPath::Blobs }
            }
        };
        let proposal = match path {
            DataPath::Blobs => blobs,
            DataPath::Calldata => Proposal::new(&trace, DataPath::Calldata)?,
        };
        Ok((trace, Some(proposal)))
    }
}
