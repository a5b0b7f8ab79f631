//! The bridge follower: an L2 node whose `[l1]` section names the bridge that settles it
//! (`l1.bridge_address`) reads that bridge on the L1 every poll interval and publishes what it
//! settled, which the RPC answers for the `safe` and `finalized` block tags and `rollup_status`
//! (docs/anchoring.md, "Settlement").
//!
//! - `safe` is the bridge's head at the L1's newest block; in optimistic mode the newest pending
//!   claim's last block if there is one (a claim stands until a challenge removes it).
//! - `finalized` is the bridge's head at the L1's `finalized` block: settled by L1 blocks no
//!   reorganisation replaces, and in optimistic mode past the challenge window, since only a
//!   claim whose window is over moves the head.
//!
//! Neither is ever past the L2's own head (they are capped when read). `finalized` never goes
//! back. `safe` goes back only when the L1 says so at a block at least as new as the one read
//! before (a reorganisation that dropped a settlement, a challenge that removed claims); an L1
//! node that answers an older head (behind a load balancer) changes nothing. Like the L1
//! follower, this one never stops the L2 for an L1 that is down: it keeps what it published and
//! asks again every interval. A bridge that is not at its address, or settles another chain or
//! in the other mode than `l1.settlement`, stops the node.

use crate::{
    builder::ChainHead,
    config::{L1Section, SettlementMode},
    error::L1Error,
    l1_follower::L1Endpoint,
    metrics::SettlementMetrics,
    store::{BlockReader, Store},
};
use alloy_consensus::Transaction as _;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_eth::{Filter, Log};
use alloy_sol_types::{SolEvent, SolInterface};
use batcher::bridge::NativeRollupBridge::{
    self, BatchSettled, ClaimProposed, NativeRollupBridgeCalls, NativeRollupBridgeInstance,
};
use std::time::Duration;
use tokio::sync::watch;

/// How many L1 blocks one `eth_getLogs` spans when the follower looks for the bridge's newest
/// batch (public endpoints refuse much wider ranges).
const LOG_WINDOW: u64 = 1_000;

/// How many L1 blocks behind the newest one read before each round reads the bridge's events
/// again, so that a batch a reorganisation took away, or moved to another block, within that
/// depth is seen (two epochs of a proof-of-stake L1, after which its blocks are final).
const REORG_DEPTH: u64 = 64;

/// The bridge's settled head: its `head()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeHead {
    /// The L2 block number.
    pub number: u64,
    /// The L2 block's hash.
    pub block_hash: B256,
    /// The L2 block's state root.
    pub state_root: B256,
}

/// Where the newest batch handed to the bridge stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchState {
    /// The head is at or past its last block.
    Settled,
    /// Optimistic mode: a pending claim, standing until its window is over or a challenge
    /// removes it.
    Claimed,
    /// Optimistic mode: a challenge removed the claim.
    Removed,
}

/// The newest batch handed to the bridge: the newest `BatchSettled` (native mode) or
/// `ClaimProposed` (optimistic mode) event, past the genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastBatch {
    /// The L2 block it builds on, as the L1 transaction names it (`None` when the transaction
    /// did not call the bridge directly, so its batch could not be read).
    pub parent_block_hash: Option<B256>,
    /// Its last L2 block.
    pub last_number: u64,
    /// Who sent it.
    pub proposer: Address,
    /// The L1 transaction that carried it.
    pub l1_transaction: B256,
    /// The L1 block that transaction is in.
    pub l1_block: u64,
    /// The versioned hashes of the transaction's blobs (empty: the trace was in calldata).
    pub blobs: Vec<B256>,
    /// Where it stands.
    pub state: BatchState,
}

/// What the follower read of the bridge in its last round that reached the L1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeView {
    /// The L1 block read: the newest the L1 had.
    pub l1_block: u64,
    /// The bridge's head at that block.
    pub head: BridgeHead,
    /// The L2's safe block as the bridge has it (not capped at the L2's head).
    pub safe: u64,
    /// The L2's finalized block as the bridge has it (not capped at the L2's head).
    pub finalized: u64,
    /// The key that proposes: the bridge's `sequencer()`, or when anyone bonded may propose,
    /// the newest batch's proposer; `None` before any batch.
    pub batcher: Option<Address>,
    /// The batcher's balance on the L1, in wei.
    pub batcher_balance: Option<U256>,
    /// The newest batch; `None` before any.
    pub last_batch: Option<LastBatch>,
}

/// How far settlement trails the L2's head, as the follower measured it in its last round: what
/// `/health` reports and the settlement metrics export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettlementLag {
    /// The L2's safe block, never past the head.
    pub safe: u64,
    /// The L2's finalized block, never past the head.
    pub finalized: u64,
    /// L2 blocks past the safe block: sealed, not settled.
    pub blocks: u64,
    /// The timestamp (seconds since the Unix epoch) of the oldest block past the safe one;
    /// `None` when every block is safe, or when that block could not be read.
    pub oldest_unsettled: Option<u64>,
}

/// The L2 as its bridge settled it, as the RPC reads it. Cheap to clone; reading never waits.
#[derive(Clone, Debug)]
pub struct SettledL2(watch::Receiver<Option<BridgeView>>);

impl SettledL2 {
    /// `safe` and `finalized` of an L2 whose head is `head`: what the bridge settled, never
    /// past the head; the genesis until the bridge was first read.
    pub fn safe_and_finalized(&self, head: u64) -> (u64, u64) {
        self.0.borrow().as_ref().map_or((0, 0), |view| (view.safe.min(head), view.finalized.min(head)))
    }

    /// What the follower last read of the bridge; `None` until it reached it.
    pub fn view(&self) -> Option<BridgeView> {
        self.0.borrow().clone()
    }
}

/// A batch event of the bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BatchEvent {
    /// The claim's id (optimistic mode).
    claim_id: Option<U256>,
    last_number: u64,
    proposer: Address,
    l1_transaction: B256,
    l1_block: u64,
    log_index: u64,
}

/// What one of the bridge's logs says of its batches.
enum Found {
    /// The genesis settlement, emitted at deployment: nothing is older.
    Deployment { l1_block: u64 },
    /// A batch.
    Batch(BatchEvent),
    /// Another settlement (optimistic mode: claims settling).
    Other,
}

/// The newest batch and what its L1 transaction says of it.
#[derive(Clone, Debug)]
struct KnownBatch {
    event: BatchEvent,
    parent_block_hash: Option<B256>,
    blobs: Vec<B256>,
}

/// The bridge's pending claims at a block (optimistic mode).
#[derive(Clone, Copy, Debug)]
struct PendingClaims {
    first: U256,
    next: U256,
    /// The newest pending claim's last L2 block.
    newest_last_number: Option<u64>,
}

/// Follows one bridge on one L1: reads it every poll interval and publishes what it settled.
#[derive(Debug)]
pub struct BridgeFollower {
    l1: L1Endpoint,
    bridge: NativeRollupBridgeInstance<RootProvider>,
    /// `l1.bridge_deployed_at`, or the block of the deployment's event once seen.
    deployed_at: u64,
    /// `l1.settlement`.
    mode: SettlementMode,
    /// This chain's id: the bridge must settle it.
    chain_id: u64,
    poll_interval: Duration,
    /// The bridge's code, chain id and mode were checked (they are immutable).
    checked: bool,
    /// The bridge's `sequencer()` when it is not zero.
    sequencer: Option<Address>,
    /// The newest L1 block a round read.
    read_at: Option<u64>,
    /// The L1's finalized block last read, and the bridge's head number there.
    finalized: Option<(u64, u64)>,
    /// The newest L1 block whose events were read.
    scanned_to: Option<u64>,
    last_batch: Option<KnownBatch>,
    view: watch::Sender<Option<BridgeView>>,
    /// Whether the last round reached the L1 (`None` before the first).
    reachable: Option<bool>,
    metrics: SettlementMetrics,
    /// The oldest unsettled L2 block's number and timestamp, for the lag in seconds.
    oldest_unsafe: Option<(u64, u64)>,
    /// What the last round measured; `None` before the first.
    lag: watch::Sender<Option<SettlementLag>>,
}

impl BridgeFollower {
    /// A follower of the bridge at `l1.bridge_address` on the L1 at `url`, for chain
    /// `chain_id`, which has tried one round. An L1 that cannot be reached is no error (the
    /// follower tries again when it runs; meanwhile `safe` and `finalized` are the genesis); a
    /// bridge that is not there, or not this chain's in `l1.settlement`'s mode, is. Its series
    /// are `metrics`.
    pub async fn connect(
        url: url::Url,
        section: &L1Section,
        bridge: Address,
        chain_id: u64,
        metrics: SettlementMetrics,
    ) -> Result<Self, L1Error> {
        let l1 = L1Endpoint::new(url);
        let mut follower = Self {
            bridge: NativeRollupBridge::new(bridge, l1.provider.clone()),
            l1,
            deployed_at: section.bridge_deployed_at,
            mode: section.settlement,
            chain_id,
            poll_interval: section.poll_interval(),
            checked: false,
            sequencer: None,
            read_at: None,
            finalized: None,
            scanned_to: None,
            last_batch: None,
            view: watch::channel(None).0,
            reachable: None,
            metrics,
            oldest_unsafe: None,
            lag: watch::channel(None).0,
        };
        let outcome = follower.poll().await;
        follower.record(outcome)?;
        Ok(follower)
    }

    /// What the RPC reads: the L2 as the bridge settled it.
    pub fn settled(&self) -> SettledL2 {
        SettledL2(self.view.subscribe())
    }

    /// How far settlement trails the head, measured every round once the follower runs.
    pub fn lag(&self) -> watch::Receiver<Option<SettlementLag>> {
        self.lag.subscribe()
    }

    /// Reads the bridge every poll interval for as long as the task runs, and keeps the
    /// settlement metrics of the L2 whose head `heads` publishes (its blocks read from
    /// `store`). Returns only with a failure that must stop the node.
    pub async fn run(mut self, mut heads: watch::Receiver<ChainHead>, store: Store) -> Result<(), L1Error> {
        let mut interval = tokio::time::interval(self.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick is immediate: the metrics start with what `connect` read.
            interval.tick().await;
            let outcome = self.poll().await;
            self.record(outcome)?;
            let head = heads.borrow_and_update().number;
            self.measure(head, &store).await;
        }
    }

    /// One round at the L1's newest block: the bridge's head, its pending claims (optimistic
    /// mode), its head at the L1's finalized block, its newest batch and the batcher's balance.
    /// Nothing is read when the L1 has no newer block than the last round's.
    async fn poll(&mut self) -> Result<(), L1Error> {
        let l1 = self.l1.clone();
        let latest = l1.request("eth_blockNumber", l1.provider.get_block_number()).await?;
        if latest < self.deployed_at {
            tracing::debug!(
                target: "bridge_follower",
                latest,
                deployed_at = self.deployed_at,
                "the L1 is behind the bridge's deployment"
            );
            return Ok(());
        }
        // The same block again, or an older one (a node behind a load balancer): nothing to
        // learn, and nothing to go back for.
        if self.read_at.is_some_and(|read| read >= latest) {
            return Ok(());
        }
        let at = BlockId::number(latest);
        if !self.checked {
            self.check(at, latest).await?;
        }
        let head = self.head_at(at).await?;
        let pending = match self.mode {
            SettlementMode::Native => None,
            SettlementMode::Optimistic => Some(self.pending_claims(at).await?),
        };
        self.scan(latest).await?;
        let finalized = self.finalized().await?;
        let last_batch = self.last_batch.as_ref().map(|known| LastBatch {
            parent_block_hash: known.parent_block_hash,
            last_number: known.event.last_number,
            proposer: known.event.proposer,
            l1_transaction: known.event.l1_transaction,
            l1_block: known.event.l1_block,
            blobs: known.blobs.clone(),
            state: batch_state(&known.event, head.number, pending.as_ref()),
        });
        let batcher = self.sequencer.or(last_batch.as_ref().map(|batch| batch.proposer));
        let batcher_balance = match batcher {
            Some(batcher) => {
                Some(l1.request("eth_getBalance", l1.provider.get_balance(batcher).block_id(at)).await?)
            }
            None => None,
        };
        let safe =
            pending.and_then(|pending| pending.newest_last_number).unwrap_or(head.number).max(finalized);
        let previous = self.view.borrow().as_ref().map(|view| (view.safe, view.finalized));
        if let Some((previous_safe, _)) = previous
            && safe < previous_safe
        {
            tracing::warn!(
                target: "bridge_follower",
                previous = previous_safe,
                safe,
                l1_block = latest,
                "the safe block went back: an L1 reorganisation dropped a settlement, or a challenge removed claims"
            );
        }
        if previous != Some((safe, finalized)) {
            tracing::debug!(target: "bridge_follower", safe, finalized, l1_block = latest, "settled");
        }
        self.metrics.bridge_head_number.set(head.number as f64);
        self.view.send_replace(Some(BridgeView {
            l1_block: latest,
            head,
            safe,
            finalized,
            batcher,
            batcher_balance,
            last_batch,
        }));
        self.read_at = Some(latest);
        Ok(())
    }

    /// Checks that the bridge is there, settles this chain, and in `l1.settlement`'s mode;
    /// reads its sequencer.
    async fn check(&mut self, at: BlockId, block: u64) -> Result<(), L1Error> {
        let (l1, bridge) = (&self.l1, &self.bridge);
        let address = *bridge.address();
        let code = l1.request("eth_getCode", l1.provider.get_code_at(address).block_id(at)).await?;
        if code.is_empty() {
            return Err(L1Error::NoBridge { url: l1.origin.clone(), address, block });
        }
        let actual = l1.request("eth_call chainId()", bridge.chainId().block(at).call()).await?;
        if actual != self.chain_id {
            return Err(L1Error::BridgeChainId { address, expected: self.chain_id, actual });
        }
        let mode = l1.request("eth_call mode()", bridge.mode().block(at).call()).await?;
        if SettlementMode::from_contract(mode) != Some(self.mode) {
            let actual = SettlementMode::from_contract(mode)
                .map_or_else(|| format!("unknown ({mode})"), |m| m.to_string());
            return Err(L1Error::BridgeMode { address, configured: self.mode, actual });
        }
        let sequencer = l1.request("eth_call sequencer()", bridge.sequencer().block(at).call()).await?;
        self.sequencer = (!sequencer.is_zero()).then_some(sequencer);
        self.checked = true;
        tracing::info!(
            target: "bridge_follower",
            bridge = %address,
            mode = %self.mode,
            sequencer = ?self.sequencer,
            "following the bridge: safe and finalized are the blocks it settled"
        );
        Ok(())
    }

    /// The bridge's head at L1 block `at`.
    async fn head_at(&self, at: BlockId) -> Result<BridgeHead, L1Error> {
        let head = self.l1.request("eth_call head()", self.bridge.head().block(at).call()).await?;
        Ok(BridgeHead {
            number: head.number.saturating_to(),
            block_hash: head.blockHash,
            state_root: head.stateRoot,
        })
    }

    /// The bridge's pending claims at L1 block `at`.
    async fn pending_claims(&self, at: BlockId) -> Result<PendingClaims, L1Error> {
        let (l1, bridge) = (&self.l1, &self.bridge);
        let first =
            l1.request("eth_call firstPendingClaim()", bridge.firstPendingClaim().block(at).call()).await?;
        let next = l1.request("eth_call nextClaim()", bridge.nextClaim().block(at).call()).await?;
        let newest_last_number = if next > first {
            let claim =
                l1.request("eth_call claims()", bridge.claims(next - U256::ONE).block(at).call()).await?;
            Some(claim.lastNumber)
        } else {
            None
        };
        Ok(PendingClaims { first, next, newest_last_number })
    }

    /// The bridge's head number at the L1's finalized block; never less than before.
    async fn finalized(&mut self) -> Result<u64, L1Error> {
        let l1 = self.l1.clone();
        let before = self.finalized.map_or(0, |(_, number)| number);
        let block = l1
            .request("eth_getBlockByNumber", l1.provider.get_block_by_number(BlockNumberOrTag::Finalized))
            .await?;
        // An L1 that finalized nothing yet, or nothing newer.
        let Some(l1_block) = block.map(|block| block.header.number) else { return Ok(before) };
        if self.finalized.is_some_and(|(read, _)| read >= l1_block) {
            return Ok(before);
        }
        let number = if l1_block < self.deployed_at {
            0
        } else {
            let at = BlockId::number(l1_block);
            match self.head_at(at).await {
                Ok(head) => head.number,
                // Before the deployment (`l1.bridge_deployed_at` unset), nothing was settled.
                Err(error) => {
                    let code = l1
                        .request("eth_getCode", l1.provider.get_code_at(*self.bridge.address()).block_id(at));
                    if !code.await?.is_empty() {
                        return Err(error);
                    }
                    0
                }
            }
        };
        let number = number.max(before);
        self.finalized = Some((l1_block, number));
        Ok(number)
    }

    /// Reads the bridge's events up to L1 block `latest` and keeps its newest batch: from
    /// [`REORG_DEPTH`] blocks behind the last block read (from the deployment at first). A
    /// batch kept from before that no longer appears was taken away by a reorganisation: the
    /// newest before it is looked for.
    async fn scan(&mut self, latest: u64) -> Result<(), L1Error> {
        let from = match self.scanned_to {
            Some(scanned) => scanned.saturating_sub(REORG_DEPTH).max(self.deployed_at),
            None => self.deployed_at,
        };
        let found = match self.newest_batch(from, latest).await? {
            Some(event) => Some(event),
            None if self.last_batch.as_ref().is_some_and(|known| known.event.l1_block >= from) => {
                if from > self.deployed_at {
                    self.newest_batch(self.deployed_at, from - 1).await?
                } else {
                    None
                }
            }
            None => self.last_batch.as_ref().map(|known| known.event),
        };
        if found != self.last_batch.as_ref().map(|known| known.event) {
            self.last_batch = match found {
                Some(event) => Some(self.known_batch(event).await?),
                None => None,
            };
        }
        self.scanned_to = Some(latest);
        Ok(())
    }

    /// The newest batch event in L1 blocks `from..=to`, read a window at a time from `to`
    /// back, stopping at the deployment.
    async fn newest_batch(&mut self, from: u64, to: u64) -> Result<Option<BatchEvent>, L1Error> {
        let l1 = self.l1.clone();
        let signatures = vec![BatchSettled::SIGNATURE_HASH, ClaimProposed::SIGNATURE_HASH];
        let mut high = to;
        while high >= from {
            let low = high.saturating_sub(LOG_WINDOW - 1).max(from);
            let filter = Filter::new()
                .address(*self.bridge.address())
                .event_signature(signatures.clone())
                .from_block(low)
                .to_block(high);
            let logs = l1.request("eth_getLogs", l1.provider.get_logs(&filter)).await?;
            let (mut newest, mut deployment) = (None::<BatchEvent>, false);
            for log in &logs {
                match self.found(log) {
                    Found::Deployment { l1_block } => {
                        self.deployed_at = self.deployed_at.max(l1_block);
                        deployment = true;
                    }
                    Found::Batch(event) => {
                        if newest
                            .is_none_or(|n| (event.l1_block, event.log_index) > (n.l1_block, n.log_index))
                        {
                            newest = Some(event);
                        }
                    }
                    Found::Other => {}
                }
            }
            if newest.is_some() || deployment || low == 0 {
                return Ok(newest);
            }
            high = low - 1;
        }
        Ok(None)
    }

    /// What `log` says of the bridge's batches in this mode.
    fn found(&self, log: &Log) -> Found {
        let (Some(l1_transaction), Some(l1_block), Some(log_index)) =
            (log.transaction_hash, log.block_number, log.log_index)
        else {
            return Found::Other;
        };
        let batch = |claim_id, last_number, proposer| {
            Found::Batch(BatchEvent { claim_id, last_number, proposer, l1_transaction, l1_block, log_index })
        };
        if let Ok(settled) = log.log_decode::<BatchSettled>() {
            let settled = settled.inner.data;
            return match (settled.index.is_zero(), self.mode) {
                (true, _) => Found::Deployment { l1_block },
                (false, SettlementMode::Native) => batch(None, settled.number, settled.proposer),
                (false, SettlementMode::Optimistic) => Found::Other,
            };
        }
        match log.log_decode::<ClaimProposed>() {
            Ok(claim) if self.mode == SettlementMode::Optimistic => {
                let claim = claim.inner.data;
                batch(Some(claim.claimId), claim.lastNumber, claim.proposer)
            }
            _ => Found::Other,
        }
    }

    /// `event` with what its L1 transaction says: the batch's parent and the blobs.
    async fn known_batch(&self, event: BatchEvent) -> Result<KnownBatch, L1Error> {
        let l1 = &self.l1;
        let tx = l1
            .request("eth_getTransactionByHash", l1.provider.get_transaction_by_hash(event.l1_transaction))
            .await?;
        let Some(tx) = tx else {
            return Ok(KnownBatch { event, parent_block_hash: None, blobs: Vec::new() });
        };
        let blobs = tx.blob_versioned_hashes().map(<[B256]>::to_vec).unwrap_or_default();
        let call = (tx.to() == Some(*self.bridge.address()))
            .then(|| NativeRollupBridgeCalls::abi_decode(tx.input()).ok())
            .flatten();
        let parent_block_hash = match call {
            Some(NativeRollupBridgeCalls::submitBatch(call)) => Some(call.batch.parentBlockHash),
            Some(NativeRollupBridgeCalls::propose(call)) => Some(call.batch.parentBlockHash),
            _ => None,
        };
        Ok(KnownBatch { event, parent_block_hash, blobs })
    }

    /// Measures how far settlement trails an L2 whose head is `head`: sets the settlement
    /// metrics and publishes the lag.
    async fn measure(&mut self, head: u64, store: &Store) {
        let (safe, finalized) = self.settled().safe_and_finalized(head);
        self.metrics.safe_number.set(safe as f64);
        self.metrics.finalized_number.set(finalized as f64);
        self.metrics.lag_blocks.set(head.saturating_sub(safe) as f64);
        let oldest_unsettled = if safe >= head {
            None
        } else {
            let oldest = safe + 1;
            if self.oldest_unsafe.is_none_or(|(number, _)| number != oldest) {
                match store.header_by_number(oldest).await {
                    Ok(Some(header)) => self.oldest_unsafe = Some((oldest, header.timestamp)),
                    // Not yet readable (just sealed): the lag in seconds waits a round.
                    Ok(None) => self.oldest_unsafe = None,
                    Err(error) => {
                        tracing::debug!(
                            target: "bridge_follower",
                            %error,
                            block = oldest,
                            "cannot read the oldest unsettled block"
                        );
                        self.oldest_unsafe = None;
                    }
                }
            }
            self.oldest_unsafe.map(|(_, timestamp)| timestamp)
        };
        self.lag.send_replace(Some(SettlementLag {
            safe,
            finalized,
            blocks: head.saturating_sub(safe),
            oldest_unsettled,
        }));
    }

    /// Takes a round's outcome: one message per change of the link; passes on a failure that
    /// must stop the node.
    fn record(&mut self, outcome: Result<(), L1Error>) -> Result<(), L1Error> {
        match outcome {
            Ok(()) => {
                self.reachable = Some(true);
                Ok(())
            }
            Err(error) if error.is_retryable() => {
                if self.reachable.replace(false) != Some(false) {
                    tracing::warn!(
                        target: "bridge_follower",
                        %error,
                        "cannot read the bridge: safe and finalized stay where they are until it answers"
                    );
                } else {
                    tracing::debug!(target: "bridge_follower", %error, "bridge still unreadable");
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(target: "bridge_follower", %error, "cannot follow the bridge");
                Err(error)
            }
        }
    }
}

/// Where batch `event` stands when the bridge's head is `head` and its pending claims are
/// `pending` (optimistic mode).
fn batch_state(event: &BatchEvent, head: u64, pending: Option<&PendingClaims>) -> BatchState {
    match (event.claim_id, pending) {
        _ if head >= event.last_number => BatchState::Settled,
        (Some(id), Some(pending)) if pending.first <= id && id < pending.next => BatchState::Claimed,
        (Some(_), _) => BatchState::Removed,
        // A settled batch whose blocks are past the head: a reorganisation took it away since
        // its event was read.
        (None, _) => BatchState::Removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(claim_id: Option<u64>, last_number: u64) -> BatchEvent {
        BatchEvent {
            claim_id: claim_id.map(U256::from),
            last_number,
            proposer: Address::repeat_byte(1),
            l1_transaction: B256::repeat_byte(2),
            l1_block: 10,
            log_index: 0,
        }
    }

    #[test]
    fn a_claim_stands_until_settled_or_removed() {
        let pending =
            PendingClaims { first: U256::from(2), next: U256::from(4), newest_last_number: Some(9) };
        assert_eq!(batch_state(&event(Some(3), 9), 5, Some(&pending)), BatchState::Claimed);
        assert_eq!(batch_state(&event(Some(3), 9), 9, Some(&pending)), BatchState::Settled);
        assert_eq!(batch_state(&event(Some(4), 12), 5, Some(&pending)), BatchState::Removed);
        assert_eq!(batch_state(&event(None, 7), 7, None), BatchState::Settled);
    }

    #[tokio::test]
    async fn nothing_is_settled_before_the_bridge_is_read() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let url =
            url::Url::parse(&format!("http://127.0.0.1:{}", port.expect("a free port"))).expect("a URL");
        let follower = BridgeFollower::connect(
            url,
            &L1Section::default(),
            Address::repeat_byte(0xb1),
            1337,
            SettlementMetrics::default(),
        )
        .await
        .expect("an L1 that is down is no error");
        assert_eq!(follower.reachable, Some(false));
        let settled = follower.settled();
        assert_eq!(settled.view(), None);
        assert_eq!(settled.safe_and_finalized(12), (0, 0));
    }
}
