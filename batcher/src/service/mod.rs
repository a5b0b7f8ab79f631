//! The batcher daemon: every sealed L2 block reaches the bridge on L1, exactly once.
//!
//! Each round it reads what the bridge has (its head, or in optimistic mode its newest claim),
//! resumes the batch it was sending if there is one, and otherwise asks the batching policy
//! ([`policy`]) whether the blocks after the bridge's tip make a batch yet. A batch is a row
//! ([`state`]) from the moment it is built; its transaction goes through the transaction
//! manager ([`crate::txmgr`]), whose events move the row (signed, sent, included, reorged)
//! before the manager acts on them, so that a restart re-watches or re-sends the same nonce
//! instead of posting the batch twice. A confirmed transaction's logs say whether the bridge
//! settled the batch (native), took the claim (optimistic), or rejected it. In optimistic mode
//! it also settles claims whose window is over.
//!
//! The bridge's tip is the only truth about what is posted: when it goes back (an L1
//! reorganisation took a batch's transaction out of the chain after its confirmations), the
//! batches past it are posted again from there, and no block is ever skipped. Before a batch is
//! posted, and while blocks wait, their L1 anchors are kept readable by the bridge
//! ([`anchors`]); once a blob batch is confirmed, its blobs are read back and checked
//! ([`blob_check`]). docs/batcher.md describes the loop, its states and its configuration.

pub mod anchors;
pub mod blob_check;
pub mod config;
mod metrics;
pub mod policy;
pub mod state;
pub mod synthetic_l2;

use crate::{
    SidecarForm,
    bridge::{BridgeRevert, NativeRollupBridge, SettlementMode},
    l2::{L2Client, L2Error},
    proposal::{DataPath, Proposal, ProposalError, ProposalSettings},
    txmgr::{PriorSend, TxCandidate, TxEvent, TxManager, TxManagerConfig, TxManagerError},
};
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use anchors::{AnchorError, Anchors};
use blob_check::BlobCheck;
use metrics::BatcherMetrics;
use policy::{BatchPolicy, CloseReason, Decision, OpenBatch, PolicyError, anchor_numbers};
use state::{BatchRow, BatchState, BatcherState, StateError};
use std::{future::Future, sync::Arc, time::Duration};
use trace_builder::{blob::BLOB_PAYLOAD, precompile::ExecuteGas};
use url::Url;

/// What the batcher runs with.
#[derive(Clone, Debug)]
pub struct BatcherConfig {
    /// The L2 node's JSON-RPC.
    pub l2_rpc: Url,
    /// The L1's JSON-RPC.
    pub l1_rpc: Url,
    /// The bridge's address.
    pub bridge: Address,
    /// The batching policy (its mode is read from the bridge).
    pub policy: BatchPolicy,
    /// How often it looks for new blocks.
    pub poll_interval: Duration,
    /// Whether the L1 runs Osaka (EIP-7594 cell proofs in sidecars) or an earlier fork, where
    /// the L1 does not say so itself through `eth_config`.
    pub l1_osaka: bool,
    /// The transaction manager's settings.
    pub txmgr: TxManagerConfig,
    /// Anchors of blocks past the bridge's tip are recorded in the bridge once they are this
    /// many L1 blocks old ([`anchors`]; EIP-2935 serves 8,191).
    pub anchor_record_age_blocks: u64,
    /// The Beacon API blob batches are read back from ([`blob_check`]); `None`: the L1's
    /// JSON-RPC URL, where the dev L1 and Anvil serve it.
    pub beacon_url: Option<Url>,
}

/// Why the batcher stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// The state database failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The L1 could not be read (retried; returned only at start).
    #[error("the L1: {0}")]
    L1(String),
    /// The L2 could not be read.
    #[error(transparent)]
    L2(#[from] L2Error),
    /// The policy could not decide.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A proposal could not be built.
    #[error(transparent)]
    Proposal(#[from] ProposalError),
    /// The transaction manager failed.
    #[error(transparent)]
    Tx(#[from] TxManagerError),
    /// The batch's anchors could not be kept readable by the bridge.
    #[error(transparent)]
    Anchor(#[from] AnchorError),
}

/// The bridge's tip: what it has of the L2, settled or claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeTip {
    /// The newest L2 block it has.
    pub number: u64,
    /// That block's hash.
    pub block_hash: B256,
}

/// The batcher.
pub struct Batcher {
    config: BatcherConfig,
    l2: L2Client,
    l1: RootProvider,
    txmgr: TxManager,
    state: BatcherState,
    settings: ProposalSettings,
    anchors: Anchors,
    blobs: BlobCheck,
    metrics: BatcherMetrics,
    /// What the policy keeps between rounds; taken out for a round, put back after it.
    open: parking_lot::Mutex<OpenBatch>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").field("bridge", &self.config.bridge).finish_non_exhaustive()
    }
}

impl Batcher {
    /// A batcher proposing with `signer`, its rows in `state`. Reads the bridge's mode and the
    /// L1's chain id and fork. Its metrics (and its transaction manager's) register with the
    /// recorder installed now.
    pub async fn new(
        config: BatcherConfig,
        signer: PrivateKeySigner,
        state: BatcherState,
    ) -> Result<Self, BatcherError> {
        Self::recording(config, signer, state, None).await
    }

    /// [`Batcher::new`] with its metrics, and its transaction manager's, counted by `recorder`
    /// (`None`: the process's recorder): a batcher run beside a node counts in the node's
    /// registry.
    pub async fn recording(
        mut config: BatcherConfig,
        signer: PrivateKeySigner,
        state: BatcherState,
        recorder: Option<Arc<dyn ::metrics::Recorder + Send + Sync>>,
    ) -> Result<Self, BatcherError> {
        config.txmgr.validate()?;
        let l1 = ProviderBuilder::default().connect_http(config.l1_rpc.clone());
        let bridge = NativeRollupBridge::new(config.bridge, &l1);
        let mode = bridge.mode().call().await.map_err(|e| BatcherError::L1(e.to_string()))?;
        let mode = SettlementMode::from_contract(mode)
            .ok_or_else(|| BatcherError::L1(format!("the bridge answers an unknown mode {mode}")))?;
        config.policy.mode = mode;
        let chain_id = l1.get_chain_id().await.map_err(|e| BatcherError::L1(e.to_string()))?;
        let register = || {
            let txmgr = TxManager::new(l1.clone(), signer, chain_id, config.txmgr.clone());
            (txmgr, BatcherMetrics::new())
        };
        let (txmgr, metrics) = match &recorder {
            Some(recorder) => ::metrics::with_local_recorder(recorder.as_ref(), register),
            None => register(),
        };
        let txmgr = txmgr?;
        let osaka = osaka_active(&l1).await.unwrap_or(config.l1_osaka);
        let settings = ProposalSettings {
            l1_chain_id: txmgr.chain_id(),
            bridge: config.bridge,
            mode,
            sidecar_form: SidecarForm::for_l1(osaka),
            execute_gas: config.policy.execute_gas,
        };
        let l2 = L2Client::connect_http(config.l2_rpc.clone());
        let anchors = Anchors::new(
            l1.clone(),
            config.bridge,
            txmgr.clone(),
            config.anchor_record_age_blocks,
            metrics.clone(),
        );
        let beacon = config.beacon_url.clone().unwrap_or_else(|| config.l1_rpc.clone());
        let blobs = BlobCheck::new(beacon, l1.clone(), config.txmgr.network_timeout(), metrics.clone());
        let open = parking_lot::Mutex::new(OpenBatch::default());
        Ok(Self { config, l2, l1, txmgr, state, settings, anchors, blobs, metrics, open })
    }

    /// The address it proposes from.
    pub fn address(&self) -> Address {
        self.txmgr.address()
    }

    /// Runs rounds until `shutdown` completes. Errors of the L1 or the L2 are counted
    /// (`batcher_round_errors_total`) and the round is tried again every poll interval, with a
    /// warning when a run of failures starts or its error changes, and a line when rounds
    /// succeed again; only the state database stops it.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), BatcherError> {
        tokio::pin!(shutdown);
        let mut failing: Option<(u64, String)> = None;
        loop {
            let round = tokio::select! {
                () = &mut shutdown => return Ok(()),
                round = self.round() => round,
            };
            let idle = match round {
                Ok(worked) => {
                    if let Some((rounds, _)) = failing.take() {
                        tracing::info!(target: "batcher", failed_rounds = rounds, "batcher rounds succeed again");
                    }
                    !worked
                }
                Err(BatcherError::State(error)) => return Err(BatcherError::State(error)),
                Err(error) => {
                    self.metrics.round_errors.increment(1);
                    let text = error.to_string();
                    match &mut failing {
                        Some((rounds, last)) if *last == text => {
                            *rounds += 1;
                            tracing::debug!(target: "batcher", %error, "batcher round failed again");
                        }
                        _ => {
                            tracing::warn!(target: "batcher", %error, "batcher round failed; trying again every poll");
                            let rounds = failing.as_ref().map_or(0, |(rounds, _)| *rounds);
                            failing = Some((rounds + 1, text));
                        }
                    }
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }

    /// One round: resume or build a batch and see it through; settle expired claims; keep the
    /// waiting blocks' anchors readable. Whether it did anything.
    pub async fn round(&self) -> Result<bool, BatcherError> {
        let tip = self.tip().await?;
        self.metrics.bridge_tip.set(tip.number as f64);
        if let Ok(balance) = self.l1.get_balance(self.address()).await {
            self.metrics.balance.set(f64::from(balance));
        }
        if self.settings.mode == SettlementMode::Optimistic && self.settle_claims().await? {
            return Ok(true);
        }
        self.reconcile(tip).await?;
        if let Some(row) = self.state.newest(self.config.bridge).await?
            && !row.state.is_final()
        {
            return self.resume(row, tip).await.map(|()| true);
        }
        let head = self.l2.head().await?;
        self.metrics.l2_head.set(head as f64);
        self.metrics.unsubmitted_blocks.set(head.saturating_sub(tip.number) as f64);
        if head <= tip.number {
            return Ok(false);
        }
        let fees = self.txmgr.fee_quote().await?;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut open = std::mem::take(&mut *self.open.lock());
        let decision = self.config.policy.decide(&self.l2, &mut open, tip.number + 1, head, &fees, now).await;
        self.metrics.record_policy_work(open.take_work());
        *self.open.lock() = open;
        let (trace, proposal, reason) = match decision? {
            Decision::Wait { anchors } => return Ok(self.anchors.keep(&anchors).await?.sent()),
            Decision::Close { trace, proposal, reason } => (trace, proposal, reason),
        };
        self.anchors.keep(&anchor_numbers(&trace)).await?;
        let first = tip.number + 1;
        let last = trace.bindings.last_number.to::<u64>();
        let path = if proposal.blobs.is_empty() { "calldata" } else { "blobs" };
        let row = self
            .state
            .insert(
                self.config.bridge,
                first,
                last,
                trace.bindings.last_block_hash,
                path,
                proposal.blobs.len() as u64,
                trace.trace.len() as u64,
            )
            .await?;
        tracing::info!(
            target: "batcher", batch = row.id, first, last, blobs = proposal.blobs.len(), bytes = trace.trace.len(),
            path, reason = reason.label(), "built a batch"
        );
        self.record_built(&proposal, trace.trace.len(), reason);
        self.send(row, &proposal, None).await?;
        Ok(true)
    }

    /// What the bridge has: its head, or its newest pending claim (optimistic mode).
    pub async fn tip(&self) -> Result<BridgeTip, BatcherError> {
        let bridge = NativeRollupBridge::new(self.config.bridge, &self.l1);
        let l1 = |error: alloy_contract::Error| BatcherError::L1(error.to_string());
        if self.settings.mode == SettlementMode::Optimistic {
            let first = bridge.firstPendingClaim().call().await.map_err(l1)?;
            let next = bridge.nextClaim().call().await.map_err(l1)?;
            if next > first {
                let claim = bridge.claims(next - U256::from(1u64)).call().await.map_err(l1)?;
                return Ok(BridgeTip { number: claim.lastNumber, block_hash: claim.lastBlockHash });
            }
        }
        let head = bridge.head().call().await.map_err(l1)?;
        Ok(BridgeTip { number: head.number.to(), block_hash: head.blockHash })
    }

    /// Goes over the batches recorded as settled that the bridge's `tip` no longer covers. Those
    /// whose L1 transaction left the chain (a reorganisation deeper than the confirmations)
    /// are posted again: the newest is marked reorged and resumed at its nonce, older ones are
    /// dropped (superseded: the batches built from the bridge's tip carry their blocks). Those
    /// whose transaction stands were taken back by the bridge (a challenge removed the claim):
    /// dropped, their blocks posted again likewise.
    async fn reconcile(&self, tip: BridgeTip) -> Result<(), BatcherError> {
        let rows = self.state.settled_beyond(self.config.bridge, tip.number).await?;
        let Some(newest) = rows.last().map(|row| row.id) else { return Ok(()) };
        let newest_overall = self.state.newest(self.config.bridge).await?.map(|row| row.id);
        for row in rows {
            let on_chain = match row.l1_transaction {
                Some(hash) => self.on_chain(hash).await?,
                None => false,
            };
            let state = if on_chain {
                tracing::warn!(
                    target: "batcher", batch = row.id, tip = tip.number, last = row.last_block,
                    "the bridge no longer has the batch though its transaction stands: its blocks are posted again"
                );
                BatchState::Superseded
            } else {
                self.metrics.reorged.increment(1);
                tracing::warn!(
                    target: "batcher", batch = row.id, tip = tip.number, last = row.last_block,
                    tx = ?row.l1_transaction, "the batch's L1 transaction left the chain: posting its blocks again"
                );
                if row.id == newest && newest_overall == Some(newest) {
                    BatchState::Reorged
                } else {
                    BatchState::Superseded
                }
            };
            self.state.update(row.id, state, None, None).await?;
        }
        Ok(())
    }

    /// Whether transaction `hash` is in a block of the L1's chain.
    async fn on_chain(&self, hash: B256) -> Result<bool, BatcherError> {
        let l1 = |error: alloy_transport::TransportError| BatcherError::L1(error.to_string());
        let Some(receipt) = self.l1.get_transaction_receipt(hash).await.map_err(l1)? else {
            return Ok(false);
        };
        let (Some(number), Some(block_hash)) = (receipt.block_number, receipt.block_hash) else {
            return Ok(false);
        };
        let block = self.l1.get_block_by_number(number.into()).await.map_err(l1)?;
        Ok(block.is_some_and(|block| block.header.hash == block_hash))
    }

    /// Resumes the unfinished batch `row` against the bridge's `tip`.
    async fn resume(&self, row: BatchRow, tip: BridgeTip) -> Result<(), BatcherError> {
        if row.last_block <= tip.number {
            // The bridge has it: its transaction landed while nobody watched.
            tracing::info!(target: "batcher", batch = row.id, "the bridge already has the batch");
            self.state.update(row.id, BatchState::Settled, None, None).await?;
            return Ok(());
        }
        if row.first_block != tip.number + 1 {
            tracing::warn!(target: "batcher", batch = row.id, tip = tip.number, "the batch no longer extends the bridge's tip: dropped");
            self.state.update(row.id, BatchState::Superseded, None, None).await?;
            return Ok(());
        }
        tracing::info!(target: "batcher", batch = row.id, state = row.state.as_str(), "resuming a batch");
        let trace = self.l2.trace(row.first_block, row.last_block).await?;
        self.anchors.keep(&anchor_numbers(&trace)).await?;
        let path = if row.data_path == "calldata" { DataPath::Calldata } else { DataPath::Blobs };
        let proposal = Proposal::new(&trace, path)?;
        let prior = row.prior_send.clone();
        self.send(row, &proposal, prior).await
    }

    /// Sends `proposal` for batch `row` through the transaction manager, recording each step.
    async fn send(
        &self,
        row: BatchRow,
        proposal: &Proposal,
        prior: Option<PriorSend>,
    ) -> Result<(), BatcherError> {
        let candidate = proposal.candidate(&self.settings)?;
        let blob_hashes: Vec<B256> = candidate
            .sidecar
            .as_ref()
            .map(|sidecar| sidecar.versioned_hashes().collect())
            .unwrap_or_default();
        let receipt = self.send_recorded(row.id, candidate, prior).await?;
        let settled = receipt.decoded_log::<NativeRollupBridge::BatchSettled>().is_some()
            || receipt.decoded_log::<NativeRollupBridge::ClaimProposed>().is_some();
        let included = Some((receipt.transaction_hash, receipt.block_number.unwrap_or_default()));
        if settled {
            self.state.update(row.id, BatchState::Settled, None, included).await?;
            self.metrics.settled.increment(1);
            self.metrics.settled_block.set(row.last_block as f64);
            tracing::info!(target: "batcher", batch = row.id, last = row.last_block, tx = %receipt.transaction_hash, "batch settled");
            if let (false, Some(block)) = (blob_hashes.is_empty(), receipt.block_number) {
                self.blobs.check(block, receipt.transaction_hash, &blob_hashes).await;
            }
        } else if receipt.decoded_log::<NativeRollupBridge::BatchRejected>().is_some() {
            self.state.update(row.id, BatchState::Rejected, None, included).await?;
            self.metrics.rejected.increment(1);
            tracing::error!(target: "batcher", batch = row.id, tx = %receipt.transaction_hash, "the bridge rejected the batch: EXECUTE judged it false");
        } else {
            // Reverted: the bridge refused it (another proposer moved the head, say).
            self.state.update(row.id, BatchState::Superseded, None, included).await?;
            self.metrics.refused.increment(1);
            let reason = self.refusal(proposal, receipt.block_number.unwrap_or_default()).await;
            tracing::warn!(
                target: "batcher", batch = row.id, tx = %receipt.transaction_hash, reason = reason.as_deref().unwrap_or("unknown"),
                "the bridge refused the batch; reading its tip again"
            );
        }
        Ok(())
    }

    /// Why the bridge refused `proposal` in L1 block `block`, as far as a call of it at that
    /// block tells (for the log).
    async fn refusal(&self, proposal: &Proposal, block: u64) -> Option<String> {
        let request = alloy_rpc_types_eth::TransactionRequest::default()
            .from(self.address())
            .to(self.config.bridge)
            .input(proposal.input(self.settings.mode).into());
        let answer = self.l1.call(request).block(block.into()).await;
        let error = answer.err()?;
        let revert =
            error.as_error_resp().and_then(|payload| payload.as_decoded_interface_error::<BridgeRevert>());
        Some(revert.map_or_else(|| error.to_string(), |revert| format!("{revert:?}")))
    }

    /// The timestamp of the L1's newest block.
    async fn l1_timestamp(&self) -> Result<u64, BatcherError> {
        let block = self
            .l1
            .get_block_by_number(Default::default())
            .await
            .map_err(|e| BatcherError::L1(e.to_string()))?;
        Ok(block.map(|block| block.header.timestamp).unwrap_or_default())
    }

    /// Sends `candidate`, moving batch `id`'s row with each event before the manager acts.
    async fn send_recorded(
        &self,
        id: i64,
        candidate: TxCandidate,
        prior: Option<PriorSend>,
    ) -> Result<TransactionReceipt, BatcherError> {
        let state = self.state.clone();
        let handle = tokio::runtime::Handle::current();
        let recorded = parking_lot::Mutex::new(prior.clone());
        let failure = parking_lot::Mutex::new(None);
        let observer = |event: &TxEvent| {
            let mut prior = recorded.lock();
            PriorSend::record(&mut prior, event);
            let update = match event {
                TxEvent::Signed { .. } | TxEvent::Bumped { .. } => Some((BatchState::Signed, None)),
                TxEvent::Sent { .. } => Some((BatchState::Sent, None)),
                TxEvent::Included { hash, block_number, .. } => {
                    Some((BatchState::Included, Some((*hash, *block_number))))
                }
                TxEvent::Reorged { hash, block_number, .. } => {
                    self.metrics.reorged.increment(1);
                    tracing::warn!(
                        target: "batcher", batch = id, tx = %hash, l1_block = block_number,
                        "the L1 block that held the batch's transaction left the chain: sending it again"
                    );
                    Some((BatchState::Reorged, None))
                }
                TxEvent::Waiting { reason } => {
                    tracing::warn!(target: "batcher", batch = id, reason = reason.label(), "the batch's transaction waits");
                    None
                }
                TxEvent::Confirmed { .. } | TxEvent::Failed { .. } => None,
            };
            if let Some((batch_state, included)) = update {
                let stored = tokio::task::block_in_place(|| {
                    handle.block_on(state.update(id, batch_state, prior.as_ref(), included))
                });
                if let Err(error) = stored {
                    *failure.lock() = Some(error);
                }
            }
        };
        let receipt = self.txmgr.send(candidate, prior, &observer).await;
        if let Some(error) = failure.lock().take() {
            return Err(error.into());
        }
        Ok(receipt?)
    }

    /// Settles the claims whose window is over (optimistic mode); whether it sent anything.
    async fn settle_claims(&self) -> Result<bool, BatcherError> {
        let bridge = NativeRollupBridge::new(self.config.bridge, &self.l1);
        let l1 = |error: alloy_contract::Error| BatcherError::L1(error.to_string());
        let first = bridge.firstPendingClaim().call().await.map_err(l1)?;
        if first >= bridge.nextClaim().call().await.map_err(l1)? {
            return Ok(false);
        }
        let deadline = bridge.claims(first).call().await.map_err(l1)?.deadline;
        if self.l1_timestamp().await? < deadline {
            return Ok(false);
        }
        let input = NativeRollupBridge::settleClaimsCall { limit: U256::from(256u64) }.abi_encode();
        let candidate = TxCandidate::call(self.config.bridge, input.into(), 3_000_000);
        let receipt = self.txmgr.send(candidate, None, &crate::txmgr::NoObserver).await?;
        tracing::info!(target: "batcher", tx = %receipt.transaction_hash, "settled the claims past their window");
        Ok(true)
    }

    /// Records a built batch's size figures.
    fn record_built(&self, proposal: &Proposal, trace_bytes: usize, reason: CloseReason) {
        self.metrics.built(reason);
        self.metrics.trace_bytes.record(trace_bytes as f64);
        self.metrics.blobs.record(proposal.blobs.len() as f64);
        if !proposal.blobs.is_empty() {
            self.metrics
                .blob_fill
                .record(proposal.payload_bytes as f64 / (proposal.blobs.len() * BLOB_PAYLOAD) as f64);
            self.metrics.compression_ratio.record(trace_bytes as f64 / proposal.payload_bytes.max(1) as f64);
        }
    }
}

/// Whether the L1 runs Osaka rules now, from its `eth_config` (EIP-7910): Osaka brings the
/// P256VERIFY precompile. `None` when the L1 does not answer `eth_config`.
async fn osaka_active(l1: &RootProvider) -> Option<bool> {
    let config: serde_json::Value = l1.raw_request("eth_config".into(), ()).await.ok()?;
    let precompiles = config.get("current")?.get("precompiles")?.as_object()?;
    Some(precompiles.contains_key("P256VERIFY"))
}

/// Defaults of a dev rollup's batcher: 6 blobs at 95% fill, batches at most 4 s old, EXECUTE's
/// charge under 15 M gas, one confirmation.
pub fn dev_policy() -> BatchPolicy {
    BatchPolicy {
        max_blobs: 6,
        target_fill: 0.95,
        max_age: Duration::from_secs(4),
        gas_budget: 15_000_000,
        data: policy::DataPolicy::Auto,
        execute_gas: ExecuteGas::default(),
        mode: SettlementMode::Native,
    }
}
