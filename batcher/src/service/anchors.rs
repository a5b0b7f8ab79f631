//! The L1 anchors of the blocks the bridge does not have yet, kept readable by the bridge.
//!
//! The bridge reads an anchor's hash by its number: `blockhash` for the last 256 L1 blocks,
//! EIP-2935's history for the last 8,191, its own record after that (docs/bridge.md). Blocks
//! that wait long for a batch (a long `max_batch_age_ms`, an L2 whose L1 follower lost the L1
//! and keeps an old anchor, a batcher that was down) could name anchors it no longer reads, and
//! their batch would be refused (`UnknownAnchor`) for ever. So, through the transaction manager:
//!
//! - an anchor the bridge still reads and that is at least `anchor_record_age_blocks` old is
//!   recorded (`recordL1BlockHashes`), long before it leaves the window;
//! - an anchor it no longer reads (or is about to lose) is proven by a chain of L1 headers from
//!   the oldest block it reads (`proveL1BlockHash`), [`HEADERS_PER_PROOF`] headers a
//!   transaction, each ending at a multiple of [`HEADERS_PER_PROOF`] or at an anchor: a proof
//!   cut short (a restart, an L1 outage) goes on from the lowest of those the bridge reads.

use super::metrics::BatcherMetrics;
use crate::{
    bridge::NativeRollupBridge,
    txmgr::{NoObserver, TxCandidate, TxManager, TxManagerError},
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::{Provider, RootProvider};
use alloy_sol_types::SolCall;

/// How far back EIP-2935 serves block hashes.
pub const EIP2935_WINDOW: u64 = 8_191;

/// The default age, in L1 blocks, at which anchors are recorded: half of EIP-2935's window.
pub const DEFAULT_RECORD_AGE_BLOCKS: u64 = 4_096;

/// The most a record age may be: past it, anchors are proven rather than recorded.
pub const MAX_RECORD_AGE_BLOCKS: u64 = EIP2935_WINDOW - EIP2935_MARGIN;

/// How far back `blockhash` serves block hashes (an L1 without EIP-2935).
const BLOCKHASH_WINDOW: u64 = 256;

/// L1 headers in one `proveL1BlockHash` transaction (about 60 KB of calldata).
pub const HEADERS_PER_PROOF: u64 = 100;

/// L1 block numbers in one `recordL1BlockHashes` transaction.
const HASHES_PER_RECORD: usize = 100;

/// Anchors younger than this are served by `blockhash` on any L1: not looked at unless the
/// record age is lower.
const LOOK_AGE: u64 = 128;

/// Blocks a proof's first transaction has to land in before the block it starts from leaves
/// EIP-2935's window; anchors that close to the window's end are proven, not recorded.
const EIP2935_MARGIN: u64 = 128;

/// The same margin within `blockhash`'s window.
const BLOCKHASH_MARGIN: u64 = 32;

/// Why the anchors could not be kept readable.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The L1 could not be read.
    #[error("reading the L1 for anchors: {0}")]
    L1(String),
    /// The transaction manager failed.
    #[error(transparent)]
    Tx(#[from] TxManagerError),
    /// A recording or proving transaction reverted.
    #[error("the bridge reverted {call} in L1 transaction {tx}")]
    Reverted {
        /// The call.
        call: &'static str,
        /// The transaction.
        tx: B256,
    },
    /// The L1 does not serve a block a proof needs.
    #[error("the L1 serves no block {0}")]
    MissingBlock(u64),
    /// A header read from the L1 does not encode to its block's hash (a field this client does
    /// not know): the bridge would refuse the proof.
    #[error("L1 block {number}'s header does not encode to its hash {hash}")]
    HeaderEncoding {
        /// The block.
        number: u64,
        /// Its hash.
        hash: B256,
    },
    /// The bridge reads no recent L1 block hash to start a proof of `anchor` from.
    #[error("the bridge reads no L1 block hash from which to prove anchor {0}")]
    NoProofStart(u64),
}

/// What a look at some anchors did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnchorWork {
    /// Hashes recorded.
    pub recorded: u64,
    /// Hashes proven by headers.
    pub proven: u64,
}

impl AnchorWork {
    /// Whether it sent anything.
    pub fn sent(&self) -> bool {
        self.recorded + self.proven > 0
    }
}

/// Keeps the anchors of unsettled blocks readable by one bridge.
#[derive(Clone, Debug)]
pub(crate) struct Anchors {
    l1: RootProvider,
    bridge: Address,
    txmgr: TxManager,
    /// Anchors at least this many L1 blocks old are recorded.
    record_age: u64,
    metrics: BatcherMetrics,
}

impl Anchors {
    /// The anchors of `bridge` on the L1 behind `l1`, recorded from `record_age` blocks old,
    /// through `txmgr`.
    pub(crate) fn new(
        l1: RootProvider,
        bridge: Address,
        txmgr: TxManager,
        record_age: u64,
        metrics: BatcherMetrics,
    ) -> Self {
        Self { l1, bridge, txmgr, record_age, metrics }
    }

    /// Makes every anchor in `numbers` (L1 numbers of blocks past the bridge's tip; the zero
    /// anchor of unanchored blocks is ignored) one the bridge will read when a batch names it:
    /// records those old enough, proves those it no longer reads. Sends nothing while every
    /// anchor is young.
    pub(crate) async fn keep(&self, numbers: &[u64]) -> Result<AnchorWork, AnchorError> {
        let mut numbers: Vec<u64> = numbers.iter().copied().filter(|number| *number != 0).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let Some(&oldest) = numbers.first() else { return Ok(AnchorWork::default()) };
        let head = self.l1.get_block_number().await.map_err(|e| AnchorError::L1(e.to_string()))?;
        self.metrics.oldest_anchor_age.set(head.saturating_sub(oldest) as f64);
        let (mut record, mut prove) = (Vec::new(), Vec::new());
        for number in numbers {
            let age = head.saturating_sub(number);
            if age < LOOK_AGE.min(self.record_age) {
                continue;
            }
            if self.recorded(number).await? {
                continue;
            }
            if !self.readable(number).await? || age > EIP2935_WINDOW - EIP2935_MARGIN {
                prove.push(number);
            } else if age >= self.record_age {
                record.push(number);
            }
        }
        let mut work = AnchorWork::default();
        if !prove.is_empty() {
            work.proven = self.prove(head, &prove).await?;
        }
        if !record.is_empty() {
            work.recorded = self.record(&record).await?;
        }
        Ok(work)
    }

    /// Whether the bridge reads L1 block `number`'s hash now.
    async fn readable(&self, number: u64) -> Result<bool, AnchorError> {
        let bridge = NativeRollupBridge::new(self.bridge, &self.l1);
        let hash = bridge.l1BlockHash(number).call().await.map_err(|e| AnchorError::L1(e.to_string()))?;
        Ok(hash != B256::ZERO)
    }

    /// Whether the bridge has recorded L1 block `number`'s hash.
    async fn recorded(&self, number: u64) -> Result<bool, AnchorError> {
        let bridge = NativeRollupBridge::new(self.bridge, &self.l1);
        let hash = bridge
            .recordedL1BlockHashes(U256::from(number))
            .call()
            .await
            .map_err(|e| AnchorError::L1(e.to_string()))?;
        Ok(hash != B256::ZERO)
    }

    /// Records the hashes of `numbers`, which the bridge reads now; how many.
    async fn record(&self, numbers: &[u64]) -> Result<u64, AnchorError> {
        for chunk in numbers.chunks(HASHES_PER_RECORD) {
            let input: Bytes =
                NativeRollupBridge::recordL1BlockHashesCall { numbers: chunk.to_vec() }.abi_encode().into();
            let gas_limit = 21_000 + 40 * input.len() as u64 + 50_000 + 35_000 * chunk.len() as u64;
            let receipt =
                self.txmgr.send(TxCandidate::call(self.bridge, input, gas_limit), None, &NoObserver).await?;
            if !receipt.status() {
                return Err(AnchorError::Reverted {
                    call: "recordL1BlockHashes",
                    tx: receipt.transaction_hash,
                });
            }
            self.metrics.anchors_recorded.increment(chunk.len() as u64);
            tracing::info!(
                target: "batcher", anchors = ?chunk, tx = %receipt.transaction_hash,
                "recorded anchors' L1 block hashes in the bridge before they age out"
            );
        }
        Ok(numbers.len() as u64)
    }

    /// Proves the hashes of `targets` (ascending), which the bridge no longer reads or soon
    /// will not, by header chains down from a block it reads; how many.
    async fn prove(&self, head: u64, targets: &[u64]) -> Result<u64, AnchorError> {
        let Some(&oldest) = targets.first() else { return Ok(0) };
        let mut known = self.proof_start(head).await?.ok_or(AnchorError::NoProofStart(oldest))?;
        tracing::info!(
            target: "batcher", anchors = ?targets, from = known,
            "proving anchors the bridge no longer reads, by L1 headers"
        );
        // Newest first: each proven anchor is where the proof of the next one starts.
        for &target in targets.iter().rev() {
            if target >= known {
                return Err(AnchorError::NoProofStart(target));
            }
            known = self.lowest_checkpoint(target, known).await?;
            while known > target {
                let next = target.max((known - 1) / HEADERS_PER_PROOF * HEADERS_PER_PROOF);
                self.prove_chunk(known, next).await?;
                known = next;
            }
            self.metrics.anchors_proven.increment(1);
            tracing::info!(target: "batcher", anchor = target, "proved an anchor's L1 block hash to the bridge");
        }
        Ok(targets.len() as u64)
    }

    /// The oldest L1 block the bridge reads that stays readable while a proof's first
    /// transaction lands: within EIP-2935's window, or `blockhash`'s on an L1 without it.
    async fn proof_start(&self, head: u64) -> Result<Option<u64>, AnchorError> {
        for (window, margin) in [(EIP2935_WINDOW, EIP2935_MARGIN), (BLOCKHASH_WINDOW, BLOCKHASH_MARGIN)] {
            if let Some(start) = head.checked_sub(window - margin)
                && start > 0
                && self.readable(start).await?
            {
                return Ok(Some(start));
            }
        }
        Ok(None)
    }

    /// The lowest multiple of [`HEADERS_PER_PROOF`] between `target` and `known` whose hash
    /// the bridge has recorded (a proof cut short), or `known`. Only a recorded hash will
    /// still be read when the next transaction lands.
    async fn lowest_checkpoint(&self, target: u64, known: u64) -> Result<u64, AnchorError> {
        let mut checkpoint = (target / HEADERS_PER_PROOF + 1) * HEADERS_PER_PROOF;
        while checkpoint < known {
            if self.recorded(checkpoint).await? {
                return Ok(checkpoint);
            }
            checkpoint += HEADERS_PER_PROOF;
        }
        Ok(known)
    }

    /// Records block `to`'s hash with the headers of blocks `from` down to `to + 1`, where the
    /// bridge reads block `from`'s hash.
    async fn prove_chunk(&self, from: u64, to: u64) -> Result<(), AnchorError> {
        let mut headers = Vec::with_capacity((from - to) as usize);
        for number in (to + 1..=from).rev() {
            headers.push(self.header(number).await?);
        }
        let count = headers.len() as u64;
        let input: Bytes =
            NativeRollupBridge::proveL1BlockHashCall { number: from, headers }.abi_encode().into();
        let gas_limit = 21_000 + 40 * input.len() as u64 + 100_000 + 5_000 * count;
        let receipt =
            self.txmgr.send(TxCandidate::call(self.bridge, input, gas_limit), None, &NoObserver).await?;
        if !receipt.status() {
            return Err(AnchorError::Reverted { call: "proveL1BlockHash", tx: receipt.transaction_hash });
        }
        self.metrics.proof_headers.increment(count);
        tracing::debug!(target: "batcher", from, to, tx = %receipt.transaction_hash, "proved an L1 block hash");
        Ok(())
    }

    /// L1 block `number`'s RLP header, checked against its hash.
    async fn header(&self, number: u64) -> Result<Bytes, AnchorError> {
        let block = self
            .l1
            .get_block_by_number(number.into())
            .await
            .map_err(|e| AnchorError::L1(e.to_string()))?
            .ok_or(AnchorError::MissingBlock(number))?;
        let encoded = alloy_rlp::encode(&block.header.inner);
        if keccak256(&encoded) != block.header.hash {
            return Err(AnchorError::HeaderEncoding { number, hash: block.header.hash });
        }
        Ok(encoded.into())
    }
}
