//! One send, from its candidate to a confirmed receipt: sign, broadcast, watch, bump, resync
//! the nonce, follow reorgs.

use super::{
    PriorSend, Rejection, RejectionClass, Shared, SignedTx, TxCandidate, TxEvent, TxManagerError, TxObserver,
    WaitReason,
    fees::{self, Bump},
    metrics::GaugeHold,
};
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionReceipt;
use std::time::Instant;
use tracing::{debug, info, warn};

/// Polls that must see the send's nonce used, with no receipt of any of its transactions,
/// before the manager takes the nonce as lost to another transaction: one more poll than
/// strictly needed, so that a receipt a node serves a moment after its nonce is not missed.
const POLLS_BEFORE_NONCE_LOST: u32 = 2;

/// What a send does next.
#[derive(Debug)]
enum Step {
    /// Sign the candidate at a new nonce (the send's first, or the next after its nonce was
    /// lost).
    Sign,
    /// Broadcast the current transaction.
    Publish,
    /// Look at the chain: receipts, the head, the included block; bump when due.
    Watch {
        /// Without waiting a poll interval first.
        immediately: bool,
    },
    /// The send is confirmed.
    Done(Box<TransactionReceipt>),
}

/// A wait under way, and the gauge it raises.
struct Waiting {
    label: &'static str,
    _gauge: Option<GaugeHold>,
}

/// One send under way.
pub(super) struct Submission<'a> {
    shared: &'a Shared,
    observer: &'a dyn TxObserver,
    candidate: TxCandidate,
    /// The transaction at the send's nonce that is broadcast, and bumped.
    current: Option<SignedTx>,
    /// Every hash signed at the current nonce: any of them may be in a block.
    known: Vec<B256>,
    /// The hashes the L1 took (reported `Sent`).
    sent: Vec<B256>,
    /// When the current transaction was last broadcast, or the send last chose to wait:
    /// `None` while it is to be broadcast now.
    since: Option<Instant>,
    /// The receipt of the included transaction, while its block is on the chain.
    included: Option<TransactionReceipt>,
    /// A reorg took the transaction out of its block: the next broadcast is reported `Sent`.
    reorged: bool,
    /// Consecutive polls that saw the nonce used without a receipt of ours.
    unexplained: u32,
    /// Consecutive polls that saw a free nonce below the send's, which no other send holds.
    gapped: u32,
    waiting: Option<Waiting>,
    started: Instant,
    _in_flight: GaugeHold,
}

impl<'a> Submission<'a> {
    /// A send of `candidate` reporting to `observer`.
    pub(super) fn new(shared: &'a Shared, candidate: TxCandidate, observer: &'a dyn TxObserver) -> Self {
        shared.nonces.begin();
        Self {
            shared,
            observer,
            candidate,
            current: None,
            known: Vec::new(),
            sent: Vec::new(),
            since: None,
            included: None,
            reorged: false,
            unexplained: 0,
            gapped: 0,
            waiting: None,
            started: Instant::now(),
            _in_flight: GaugeHold::new(&shared.metrics.in_flight),
        }
    }

    /// Runs the send to its confirmation, resuming `prior` if given.
    pub(super) async fn run(
        mut self,
        prior: Option<PriorSend>,
    ) -> Result<TransactionReceipt, TxManagerError> {
        let mut step = match prior {
            Some(prior) => match self.resume(prior) {
                Ok(step) => step,
                Err(error) => return Err(self.fail(error)),
            },
            None => Step::Sign,
        };
        loop {
            let result = match &step {
                Step::Sign => self.sign_new().await,
                Step::Publish => self.publish().await,
                Step::Watch { immediately } => {
                    if !immediately {
                        tokio::time::sleep(self.shared.config.receipt_poll_interval()).await;
                    }
                    self.watch().await
                }
                Step::Done(receipt) => return Ok(receipt.as_ref().clone()),
            };
            match result {
                Ok(Step::Done(receipt)) => return Ok(*receipt),
                Ok(next) => {
                    // The L1 answers again: a later outage is reported anew.
                    if self.waiting.as_ref().is_some_and(|waiting| waiting.label == "l1") {
                        self.waiting = None;
                    }
                    step = next;
                }
                // The step is tried again: what failed was the L1 (down, slow, odd answer).
                Err(error) if error.is_retryable() => {
                    self.shared.metrics.error(error.label());
                    debug!(target: "txmgr", nonce = self.nonce(), %error, "L1 request failed");
                    self.wait(WaitReason::L1 { error });
                    tokio::time::sleep(self.shared.config.retry_delay()).await;
                }
                Err(error) => return Err(self.fail(error)),
            }
        }
    }

    /// Takes up a send stored before a restart: its nonce kept, its last transaction signed
    /// again (to the same hash, for the same candidate), a receipt looked for first.
    fn resume(&mut self, prior: PriorSend) -> Result<Step, TxManagerError> {
        self.shared.nonces.reserve(prior.nonce);
        let signed =
            self.candidate.sign(&self.shared.signer, self.shared.chain_id, prior.nonce, prior.fees)?;
        self.known = prior.hashes;
        info!(target: "txmgr", nonce = prior.nonce, hashes = self.known.len(), "resuming a send");
        if !self.known.contains(&signed.hash) {
            // Another candidate than the one stored, or fees the store missed: a new hash.
            self.known.push(signed.hash);
            self.emit(TxEvent::Signed { hash: signed.hash, nonce: signed.nonce, fees: signed.fees });
        }
        self.current = Some(signed);
        Ok(Step::Watch { immediately: true })
    }

    /// The current nonce (for logs; `u64::MAX` before the first signature).
    fn nonce(&self) -> u64 {
        self.current.as_ref().map_or(u64::MAX, |current| current.nonce)
    }

    fn emit(&self, event: TxEvent) {
        self.observer.observe(&event);
    }

    /// Signs the candidate at a new nonce with the L1's current offer, cut to the caps.
    async fn sign_new(&mut self) -> Result<Step, TxManagerError> {
        let blobs = self.candidate.has_blobs();
        // The quote first: a nonce is taken only once nothing else can fail but signing.
        let quote = self.shared.l1.fee_quote(blobs).await?;
        let offer = quote.offer(u128::from(self.shared.config.min_tip_wei), blobs);
        let (fees, cut) = fees::capped(offer, &self.shared.config);
        let nonce = self.shared.next_nonce().await?;
        let signed = self.candidate.sign(&self.shared.signer, self.shared.chain_id, nonce, fees)?;
        info!(
            target: "txmgr",
            nonce,
            hash = %signed.hash,
            max_fee_per_gas = fees.max_fee_per_gas,
            max_priority_fee_per_gas = fees.max_priority_fee_per_gas,
            max_fee_per_blob_gas = fees.max_fee_per_blob_gas,
            blobs,
            "signed"
        );
        self.known = vec![signed.hash];
        self.sent.clear();
        self.since = None;
        self.unexplained = 0;
        self.gapped = 0;
        self.waiting = None;
        self.emit(TxEvent::Signed { hash: signed.hash, nonce, fees: signed.fees });
        let unpayable = fees.max_fee_per_gas < quote.base_fee
            || (blobs && fees.max_fee_per_blob_gas < quote.blob_base_fee);
        self.current = Some(signed);
        if cut && unpayable {
            self.wait(self.fee_cap(offer));
        }
        Ok(Step::Publish)
    }

    /// Broadcasts the current transaction.
    async fn publish(&mut self) -> Result<Step, TxManagerError> {
        let Some(current) = self.current.clone() else { return Ok(Step::Sign) };
        match self.shared.l1.send_raw(&current.raw).await? {
            Ok(()) => {
                self.accepted(current.hash).await;
                Ok(Step::Watch { immediately: false })
            }
            Err(rejection) => self.refused(current, rejection).await,
        }
    }

    /// Acts on the L1's refusal of `current`.
    async fn refused(&mut self, current: SignedTx, rejection: Rejection) -> Result<Step, TxManagerError> {
        let class = rejection.class;
        if class != RejectionClass::AlreadyKnown {
            self.shared.metrics.error(class.label());
            debug!(target: "txmgr", nonce = current.nonce, hash = %current.hash, %rejection, "refused");
        }
        let shared = self.shared;
        let config = &shared.config;
        Ok(match class {
            RejectionClass::AlreadyKnown => {
                self.accepted(current.hash).await;
                Step::Watch { immediately: false }
            }
            // Ours may be the transaction in the block: the watch looks for its receipt.
            RejectionClass::NonceTooLow => Step::Watch { immediately: true },
            RejectionClass::NonceTooHigh => {
                warn!(target: "txmgr", nonce = current.nonce, "nonce too high: reading the nonce again");
                self.shared.nonces.reset();
                Step::Sign
            }
            RejectionClass::Underpriced | RejectionClass::ReplacementUnderpriced => {
                self.bump_or_wait().await?
            }
            RejectionClass::InsufficientFunds => {
                let balance = match shared.l1.balance(shared.signer.address()).await {
                    Ok(balance) => {
                        shared.metrics.set_balance(balance);
                        balance
                    }
                    Err(_) => Default::default(),
                };
                let cost = self.candidate.max_cost(&current.fees);
                self.wait(WaitReason::InsufficientFunds { balance, cost });
                tokio::time::sleep(config.retry_delay()).await;
                Step::Publish
            }
            RejectionClass::AddressReserved => {
                self.wait(WaitReason::AddressReserved);
                tokio::time::sleep(config.receipt_poll_interval()).await;
                Step::Publish
            }
            RejectionClass::Unknown => {
                self.wait(WaitReason::Refused { rejection });
                tokio::time::sleep(config.retry_delay()).await;
                Step::Publish
            }
            RejectionClass::ExceedsBlockGasLimit
            | RejectionClass::IntrinsicGasTooLow
            | RejectionClass::Invalid => {
                return Err(TxManagerError::Rejected { hash: current.hash, nonce: current.nonce, rejection });
            }
        })
    }

    /// The L1 took `hash` (or had it): reported `Sent` the first time, and again after a
    /// reorg; the sender's balance read.
    async fn accepted(&mut self, hash: B256) {
        self.since = Some(Instant::now());
        let new = !self.sent.contains(&hash);
        if !new && !self.reorged {
            return;
        }
        if new {
            self.sent.push(hash);
            self.shared.metrics.sent.increment(1);
        }
        self.reorged = false;
        self.waiting = None;
        info!(target: "txmgr", nonce = self.nonce(), %hash, "sent");
        self.emit(TxEvent::Sent { hash });
        match self.shared.l1.balance(self.shared.signer.address()).await {
            Ok(balance) => self.shared.metrics.set_balance(balance),
            Err(error) => debug!(target: "txmgr", %error, "balance not read"),
        }
    }

    /// Replaces the current transaction with one at bumped fees, or, when the bump would pass
    /// a cap, waits (broadcasting the current one again, which a node may have dropped).
    async fn bump_or_wait(&mut self) -> Result<Step, TxManagerError> {
        let Some(current) = self.current.clone() else { return Ok(Step::Sign) };
        let blobs = self.candidate.has_blobs();
        let quote = self.shared.l1.fee_quote(blobs).await?;
        match fees::bump(current.fees, &quote, &self.shared.config, blobs) {
            Bump::Raised(fees) => {
                let signed =
                    self.candidate.sign(&self.shared.signer, self.shared.chain_id, current.nonce, fees)?;
                info!(
                    target: "txmgr",
                    nonce = current.nonce,
                    hash = %signed.hash,
                    replaces = %current.hash,
                    max_fee_per_gas = fees.max_fee_per_gas,
                    max_priority_fee_per_gas = fees.max_priority_fee_per_gas,
                    max_fee_per_blob_gas = fees.max_fee_per_blob_gas,
                    "bumped"
                );
                self.shared.metrics.bumps.increment(1);
                if !self.known.contains(&signed.hash) {
                    self.known.push(signed.hash);
                }
                self.waiting = None;
                self.since = None;
                self.emit(TxEvent::Bumped { hash: signed.hash, nonce: signed.nonce, fees: signed.fees });
                self.current = Some(signed);
                Ok(Step::Publish)
            }
            Bump::AtCap { needed } => {
                self.wait(self.fee_cap(needed));
                let answer = self.shared.l1.send_raw(&current.raw).await;
                if matches!(&answer, Ok(Ok(())))
                    || matches!(&answer, Ok(Err(rejection)) if rejection.class == RejectionClass::AlreadyKnown)
                {
                    self.accepted(current.hash).await;
                }
                self.since = Some(Instant::now());
                Ok(Step::Watch { immediately: false })
            }
        }
    }

    /// The wait for fees `needed` that pass a cap.
    fn fee_cap(&self, needed: crate::BlobFees) -> WaitReason {
        WaitReason::FeeCap {
            needed,
            max_fee_per_gas_cap: u128::from(self.shared.config.max_fee_per_gas_cap_wei),
            max_fee_per_blob_gas_cap: u128::from(self.shared.config.max_fee_per_blob_gas_cap_wei),
        }
    }

    /// Looks at the chain: confirms or follows the included transaction, finds a receipt
    /// once the nonce is used, or bumps when the resubmission timeout has passed.
    async fn watch(&mut self) -> Result<Step, TxManagerError> {
        if let Some(receipt) = self.included.clone() {
            return self.watch_included(receipt).await;
        }
        let Some(nonce) = self.current.as_ref().map(|current| current.nonce) else { return Ok(Step::Sign) };
        let used = self.shared.l1.latest_nonce(self.shared.signer.address()).await?;
        if used > nonce {
            if let Some(receipt) = self.find_receipt().await? {
                self.include(receipt);
                return Ok(Step::Watch { immediately: true });
            }
            self.unexplained += 1;
            if self.unexplained < POLLS_BEFORE_NONCE_LOST {
                return Ok(Step::Watch { immediately: false });
            }
            warn!(target: "txmgr", nonce, "the nonce went to a transaction of another sender's making: signing at a new one");
            self.shared.metrics.error(RejectionClass::NonceTooLow.label());
            self.shared.nonces.reset();
            return Ok(Step::Sign);
        }
        self.unexplained = 0;
        if used < nonce && self.since.is_some() && self.below_is_free(nonce).await? {
            self.gapped += 1;
            if self.gapped >= POLLS_BEFORE_NONCE_LOST {
                warn!(target: "txmgr", nonce, free = used, "a nonce below the send's is free (a reorganisation took a transaction out of the chain): signing at the L1's nonce");
                self.shared.metrics.error(RejectionClass::NonceTooHigh.label());
                self.shared.nonces.reset();
                return Ok(Step::Sign);
            }
        } else {
            self.gapped = 0;
        }
        match self.since {
            None => Ok(Step::Publish),
            Some(since) if since.elapsed() >= self.shared.config.resubmission_timeout() => {
                self.bump_or_wait().await
            }
            Some(_) => Ok(Step::Watch { immediately: false }),
        }
    }

    /// Whether the nonces below `nonce` that are not in blocks are free: no other send of this
    /// manager is under way to fill them, and the L1's pool holds no transaction of ours that
    /// would (its pending nonce does not pass `nonce`). A node that queues a transaction behind
    /// such a gap (geth, Anvil) would hold it for ever; one that refuses it says `nonce too
    /// high` instead.
    async fn below_is_free(&self, nonce: u64) -> Result<bool, TxManagerError> {
        if !self.shared.nonces.alone() {
            return Ok(false);
        }
        Ok(self.shared.l1.pending_nonce(self.shared.signer.address()).await? <= nonce)
    }

    /// Follows the included transaction: back to sent if its block left the chain, confirmed
    /// once the block has the configured confirmations on top.
    async fn watch_included(&mut self, receipt: TransactionReceipt) -> Result<Step, TxManagerError> {
        let (Some(number), Some(block_hash)) = (receipt.block_number, receipt.block_hash) else {
            self.included = None;
            return Ok(Step::Watch { immediately: true });
        };
        if self.shared.l1.block_hash(number).await? != Some(block_hash) {
            warn!(
                target: "txmgr",
                nonce = self.nonce(),
                hash = %receipt.transaction_hash,
                block_number = number,
                %block_hash,
                "reorged out: sending again"
            );
            self.shared.metrics.reorgs.increment(1);
            self.included = None;
            self.reorged = true;
            self.since = None;
            self.emit(TxEvent::Reorged { hash: receipt.transaction_hash, block_number: number, block_hash });
            // The new chain may hold it already; otherwise it is sent again.
            return Ok(Step::Watch { immediately: true });
        }
        let head = self.shared.l1.head().await?;
        if head < number.saturating_add(self.shared.config.confirmations) {
            return Ok(Step::Watch { immediately: false });
        }
        let execution = u128::from(receipt.gas_used).saturating_mul(receipt.effective_gas_price);
        let blob = u128::from(receipt.blob_gas_used.unwrap_or(0))
            .saturating_mul(receipt.blob_gas_price.unwrap_or(0));
        self.shared.metrics.paid(execution, blob);
        self.shared.metrics.confirmed_after(self.started.elapsed());
        info!(
            target: "txmgr",
            nonce = self.nonce(),
            hash = %receipt.transaction_hash,
            block_number = number,
            status = receipt.status(),
            fee_wei = execution.saturating_add(blob),
            "confirmed"
        );
        self.emit(TxEvent::Confirmed { receipt: Box::new(receipt.clone()) });
        Ok(Step::Done(Box::new(receipt)))
    }

    /// The receipt of one of the send's transactions in a block of the chain, if any (the
    /// newest first: the likeliest to be mined).
    async fn find_receipt(&self) -> Result<Option<TransactionReceipt>, TxManagerError> {
        for hash in self.known.iter().rev() {
            let Some(receipt) = self.shared.l1.receipt(*hash).await? else { continue };
            let (Some(number), Some(block_hash)) = (receipt.block_number, receipt.block_hash) else {
                continue;
            };
            // A node may still serve the receipt of a block that left the chain.
            if self.shared.l1.block_hash(number).await? == Some(block_hash) {
                return Ok(Some(receipt));
            }
        }
        Ok(None)
    }

    /// Records the inclusion of `receipt`'s transaction.
    fn include(&mut self, receipt: TransactionReceipt) {
        let block_number = receipt.block_number.unwrap_or_default();
        let block_hash = receipt.block_hash.unwrap_or_default();
        info!(target: "txmgr", nonce = self.nonce(), hash = %receipt.transaction_hash, block_number, "included");
        self.waiting = None;
        self.unexplained = 0;
        self.emit(TxEvent::Included { hash: receipt.transaction_hash, block_number, block_hash });
        self.included = Some(receipt);
    }

    /// Reports a wait, once per reason, and raises its gauge while it lasts.
    fn wait(&mut self, reason: WaitReason) {
        let label = reason.label();
        if self.waiting.as_ref().is_some_and(|waiting| waiting.label == label) {
            return;
        }
        let gauge = match &reason {
            WaitReason::FeeCap { .. } => Some(GaugeHold::new(&self.shared.metrics.waiting_fee_cap)),
            WaitReason::InsufficientFunds { .. } => Some(GaugeHold::new(&self.shared.metrics.waiting_funds)),
            WaitReason::AddressReserved | WaitReason::Refused { .. } | WaitReason::L1 { .. } => None,
        };
        match &reason {
            WaitReason::FeeCap { needed, max_fee_per_gas_cap, max_fee_per_blob_gas_cap } => warn!(
                target: "txmgr",
                nonce = self.nonce(),
                needed_max_fee_per_gas = needed.max_fee_per_gas,
                needed_max_fee_per_blob_gas = needed.max_fee_per_blob_gas,
                max_fee_per_gas_cap,
                max_fee_per_blob_gas_cap,
                "a bump would pass the fee cap: waiting for inclusion or lower fees"
            ),
            WaitReason::InsufficientFunds { balance, cost } => warn!(
                target: "txmgr",
                nonce = self.nonce(),
                %balance,
                %cost,
                "insufficient funds: waiting for the sender to be funded"
            ),
            WaitReason::AddressReserved => warn!(
                target: "txmgr",
                nonce = self.nonce(),
                "the sender has pooled transactions of the other kind: waiting for them"
            ),
            WaitReason::Refused { rejection } => {
                warn!(target: "txmgr", nonce = self.nonce(), %rejection, "refused for a reason not known: retrying")
            }
            WaitReason::L1 { error } => {
                warn!(target: "txmgr", nonce = self.nonce(), %error, "L1 trouble: retrying")
            }
        }
        self.waiting = Some(Waiting { label, _gauge: gauge });
        self.emit(TxEvent::Waiting { reason });
    }

    /// Reports the send's failure and answers its error.
    fn fail(&mut self, error: TxManagerError) -> TxManagerError {
        // A refusal was counted when it came.
        if !matches!(error, TxManagerError::Rejected { .. }) {
            self.shared.metrics.error(error.label());
        }
        warn!(target: "txmgr", nonce = self.nonce(), %error, "send failed");
        self.waiting = None;
        self.emit(TxEvent::Failed { error: error.clone() });
        error
    }
}

impl Drop for Submission<'_> {
    fn drop(&mut self) {
        // A nonce taken but never sent (a failed or dropped send) would leave a gap that holds
        // every later transaction: the next send reads the L1's pending nonce again.
        if self.sent.is_empty() && self.included.is_none() {
            self.shared.nonces.reset();
        }
        self.shared.nonces.end();
    }
}
