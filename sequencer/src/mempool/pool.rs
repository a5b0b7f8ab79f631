//! The pool's book-keeping (reth's `TxPool`, `crates/transaction-pool/src/pool/txpool.rs`):
//! per sender, its transactions by nonce, split into pending (the run the sender's nonce and
//! balance make executable) and queued, the eviction sets, the counts and bytes the limits
//! apply to. It is only ever touched under [`Mempool`](super::Mempool)'s lock, and reads
//! nothing: every state it needs is handed to it.

use super::{
    PoolConfig, PoolContent, PoolError, PoolHead, SenderState,
    ordering::{Lane, PooledTransaction, PriceKey, Snapshot, price_key},
    validation::{AuthorizationContext, check_authorizations, cost, is_enough_bump, validate_stateless},
};
use alloy_consensus::{Transaction, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, U256};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, hash_map::Entry},
    time::{Duration, Instant},
};
use trace_builder::chain::ChainConfig;

/// The fee raise a blob transaction's replacement needs, on every fee field (geth's blob pool).
pub(super) const BLOB_PRICE_BUMP_PERCENT: u64 = 100;

/// Bookkeeping bytes charged per pooled transaction on top of its encoding: the decoded
/// transaction, its entries in the pool's maps and sets.
pub(super) const ENTRY_OVERHEAD_BYTES: usize = 512;

/// A pooled transaction with what the pool derived from it at admission.
#[derive(Debug)]
pub(super) struct PooledTx {
    pub(super) tx: PooledTransaction,
    hash: B256,
    /// Bytes charged against the pool's limit.
    size: usize,
    /// `gas_limit * max_fee_per_gas + value`.
    cost: U256,
    /// Authorities of its EIP-7702 authorizations that recover.
    authorities: Vec<Address>,
    pub(super) pending: bool,
}

/// One sender's pooled transactions.
#[derive(Debug)]
pub(super) struct SenderTxs {
    state: SenderState,
    pub(super) txs: BTreeMap<u64, PooledTx>,
    pending: usize,
    /// Last time the sender submitted a transaction: queued ones expire a lifetime after it.
    heartbeat: Instant,
    /// Keys of this sender's last pending and last queued transactions in the eviction sets.
    pending_tail: Option<PriceKey>,
    queued_tail: Option<PriceKey>,
}

/// The pool's state, behind [`Mempool`](super::Mempool)'s lock.
#[derive(Debug)]
pub(super) struct Pool {
    pub(super) config: PoolConfig,
    pub(super) chain: ChainConfig,
    pub(super) head: PoolHead,
    pub(super) senders: HashMap<Address, SenderTxs>,
    pub(super) by_hash: HashMap<B256, (Address, u64)>,
    /// The pooled blob transactions carrying each blob, by versioned hash (usually one; a blob
    /// posted again, or by two senders, stays found until the last of them goes).
    pub(super) by_blob: HashMap<B256, Vec<B256>>,
    /// Pooled transactions carrying an authorization signed by each authority.
    authorizations: HashMap<Address, usize>,
    /// Each sender's last pending transaction: the ones eviction may take without opening a gap.
    pending_tails: BTreeSet<PriceKey>,
    /// Each sender's last queued transaction.
    queued_tails: BTreeSet<PriceKey>,
    pub(super) pending: usize,
    pub(super) queued: usize,
    pub(super) bytes: usize,
    /// Hashes that left the pool without being handed back by
    /// [`Mempool::take_removed`](super::Mempool::take_removed) yet.
    pub(super) removed: Vec<B256>,
    /// The states the newest block gave the accounts it changed. The pool moves to a block
    /// when the builder seals it, the RPC once it is committed: until then the RPC reads the
    /// state before it, and a sender whose transactions the block included (and the pool
    /// forgot) would look to the RPC as if they were still to come.
    sealed_states: HashMap<Address, SenderState>,
}

impl Pool {
    /// An empty pool for `chain` with the limits of `config`, at `head`.
    pub(super) fn new(config: PoolConfig, chain: &ChainConfig, head: PoolHead) -> Self {
        Self {
            config,
            chain: chain.clone(),
            head,
            senders: HashMap::new(),
            by_hash: HashMap::new(),
            by_blob: HashMap::new(),
            authorizations: HashMap::new(),
            pending_tails: BTreeSet::new(),
            queued_tails: BTreeSet::new(),
            pending: 0,
            queued: 0,
            bytes: 0,
            removed: Vec::new(),
            sealed_states: HashMap::new(),
        }
    }

    /// [`validate_stateless`] under this pool's configuration and head.
    pub(super) fn validate_stateless(&self, tx: &TxEnvelope) -> Result<(), PoolError> {
        validate_stateless(&self.config, &self.chain, self.head.gas_limit, tx)
    }

    /// The next nonce of `sender` after its pending transactions, from `account_nonce` on.
    pub(super) fn next_nonce(&self, sender: Address, account_nonce: u64) -> u64 {
        let mut next = account_nonce;
        if let Some(sender) = self.senders.get(&sender) {
            while sender.txs.get(&next).is_some_and(|tx| tx.pending) {
                next += 1;
            }
        }
        next
    }

    /// Admits `tx` (its stateless checks passed) of a sender whose state the caller read as
    /// `state`; see [`Mempool::add`](super::Mempool::add).
    pub(super) fn add(
        &mut self,
        tx: Recovered<TxEnvelope>,
        state: SenderState,
        authorities: Vec<Address>,
        encoded_size: usize,
        now: Instant,
        ready_only: bool,
    ) -> Result<B256, PoolError> {
        let hash = *tx.inner().tx_hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let sender = tx.signer();
        let nonce = tx.inner().nonce();
        // The caller's read and the last re-validation race; the higher nonce is the newer.
        let state = match self.senders.get(&sender) {
            Some(known) if known.state.nonce > state.nonce => known.state,
            _ => state,
        };
        // The caller may have read the state before the newest sealed block, which is at least
        // as new.
        let state = match self.sealed_states.get(&sender) {
            Some(sealed) if sealed.nonce >= state.nonce => *sealed,
            _ => state,
        };
        if nonce < state.nonce {
            return Err(PoolError::NonceTooLow { expected: state.nonce, got: nonce });
        }
        if ready_only {
            let expected = self.next_nonce(sender, state.nonce);
            if nonce > expected {
                return Err(PoolError::NonceGap { expected, got: nonce });
            }
        }
        let tx_cost = cost(tx.inner());
        let existing = self.senders.get(&sender);
        let replaced = existing.and_then(|s| s.txs.get(&nonce));
        if let Some(cap) = tx.inner().max_fee_per_blob_gas()
            && cap < self.head.blob_base_fee
        {
            return Err(PoolError::BlobFeeCapTooLow { cap, blob_base_fee: self.head.blob_base_fee });
        }
        // geth: a sender's pooled transactions are all blob or all non-blob, a replacement
        // included.
        let is_blob = tx.inner().is_eip4844();
        if existing.is_some_and(|s| s.txs.values().any(|pooled| pooled.tx.inner().is_eip4844() != is_blob)) {
            return Err(PoolError::AlreadyReserved);
        }
        if let Some(old) = replaced {
            // A blob transaction is replaced only at double its fees, blob fee included
            // (geth's blob pool), any other at the configured bump.
            let bump = if is_blob { BLOB_PRICE_BUMP_PERCENT } else { self.config.price_bump_percent };
            if !is_enough_bump(old.tx.inner(), tx.inner(), bump) {
                return Err(PoolError::ReplacementUnderpriced);
            }
        }
        // A sender at its limit keeps its lowest nonces: a transaction below its highest
        // queued one takes that one's place (a batch admitted out of order, or a gap filled
        // late, must not lock the sender out until the queued lifetime ends).
        let replacing = replaced.is_some();
        let pooled = existing.map_or(0, |s| s.txs.len());
        let displaced = if !replacing && pooled >= self.config.max_per_sender {
            match existing.and_then(|s| s.txs.last_key_value()) {
                Some((highest, last)) if !last.pending && *highest > nonce => Some(*highest),
                _ => return Err(PoolError::AccountLimitExceeded { pooled, max: self.config.max_per_sender }),
            }
        } else {
            None
        };
        // Funds: this transaction on top of the sender's pending ones (geth's overdraft check).
        let spent = existing.map_or(U256::ZERO, |s| {
            s.txs
                .values()
                .filter(|t| t.pending && t.tx.inner().nonce() != nonce)
                .map(|t| t.cost)
                .fold(U256::ZERO, U256::saturating_add)
        });
        if state.balance < spent.saturating_add(tx_cost) {
            return Err(PoolError::InsufficientFunds {
                balance: state.balance,
                queued: spent,
                cost: tx_cost,
            });
        }
        let context = AuthorizationContext {
            delegated: state.has_code || self.authorizations.get(&sender).is_some_and(|n| *n > 0),
            pending: existing.map_or(0, |s| s.pending),
            replaces_pending: replaced.is_some_and(|tx| tx.pending),
        };
        check_authorizations(context, nonce, &state, &authorities, |authority| {
            self.senders.get(authority).map_or(0, |s| s.txs.len())
        })?;

        // The displaced and the replaced transactions are kept aside until the new one has
        // survived the limits.
        let displaced = displaced.and_then(|highest| self.take_tx(sender, highest));
        let old = if replacing { self.take_tx(sender, nonce) } else { None };
        let size = encoded_size + ENTRY_OVERHEAD_BYTES;
        let new = PooledTx { tx: tx.into(), hash, size, cost: tx_cost, authorities, pending: false };
        self.insert_tx(sender, state, now, new);
        let mark = self.removed.len();
        self.enforce_limits(Some(sender));
        if self.by_hash.contains_key(&hash) {
            self.removed.extend([old, displaced].into_iter().flatten().map(|gone| gone.hash));
            return Ok(hash);
        }
        // It was the cheapest: refused, so never acknowledged, and nothing for the store to
        // forget; the transactions it was to replace or displace stay.
        if let Some(position) = self.removed.iter().skip(mark).position(|removed| *removed == hash) {
            self.removed.remove(mark + position);
        }
        if old.is_some() || displaced.is_some() {
            for kept in [old, displaced].into_iter().flatten() {
                self.insert_tx(sender, state, now, kept);
            }
            self.enforce_limits(None);
        }
        Err(PoolError::PoolFull)
    }

    /// Pools `tx` of `sender` (counted as queued until [`Pool::reclassify`], which this runs).
    fn insert_tx(&mut self, sender: Address, state: SenderState, now: Instant, mut tx: PooledTx) {
        for authority in &tx.authorities {
            *self.authorizations.entry(*authority).or_default() += 1;
        }
        let entry = match self.senders.entry(sender) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(SenderTxs {
                state,
                txs: BTreeMap::new(),
                pending: 0,
                heartbeat: now,
                pending_tail: None,
                queued_tail: None,
            }),
        };
        entry.state = state;
        entry.heartbeat = now;
        tx.pending = false;
        self.queued += 1;
        self.bytes += tx.size;
        self.by_hash.insert(tx.hash, (sender, tx.tx.inner().nonce()));
        for blob in tx.tx.inner().blob_versioned_hashes().unwrap_or_default() {
            let carriers = self.by_blob.entry(*blob).or_default();
            if !carriers.contains(&tx.hash) {
                carriers.push(tx.hash);
            }
        }
        entry.txs.insert(tx.tx.inner().nonce(), tx);
        self.reclassify(sender);
    }

    /// Takes one transaction out of the pool's maps and counts, and reports it removed (for
    /// the store). [`Pool::reclassify`] must follow, to refresh the eviction sets.
    pub(super) fn drop_tx(&mut self, sender: Address, nonce: u64) {
        if let Some(tx) = self.take_tx(sender, nonce) {
            self.removed.push(tx.hash);
        }
    }

    /// Takes one transaction out of the pool's maps and counts (not out of the eviction sets).
    fn take_tx(&mut self, sender: Address, nonce: u64) -> Option<PooledTx> {
        let txs = self.senders.get_mut(&sender)?;
        let tx = txs.txs.remove(&nonce)?;
        if tx.pending {
            txs.pending -= 1;
            self.pending -= 1;
        } else {
            self.queued -= 1;
        }
        self.bytes -= tx.size;
        self.by_hash.remove(&tx.hash);
        for blob in tx.tx.inner().blob_versioned_hashes().unwrap_or_default() {
            if let Entry::Occupied(mut carriers) = self.by_blob.entry(*blob) {
                carriers.get_mut().retain(|carrier| *carrier != tx.hash);
                if carriers.get().is_empty() {
                    carriers.remove();
                }
            }
        }
        for authority in &tx.authorities {
            if let Entry::Occupied(mut count) = self.authorizations.entry(*authority) {
                *count.get_mut() -= 1;
                if *count.get() == 0 {
                    count.remove();
                }
            }
        }
        Some(tx)
    }

    /// Recomputes which of `sender`'s transactions are pending: the run of consecutive nonces
    /// from its account nonce that its balance covers, cumulatively. Drops the ones below the
    /// account nonce, and refreshes the sender's entries in the eviction sets.
    pub(super) fn reclassify(&mut self, sender: Address) {
        let stale: Vec<u64> = match self.senders.get(&sender) {
            Some(txs) => txs.txs.range(..txs.state.nonce).map(|(nonce, _)| *nonce).collect(),
            None => return,
        };
        for nonce in stale {
            self.drop_tx(sender, nonce);
        }
        let base_fee = self.head.base_fee;
        let Some(txs) = self.senders.get_mut(&sender) else { return };
        if let Some(key) = txs.pending_tail.take() {
            self.pending_tails.remove(&key);
        }
        if let Some(key) = txs.queued_tail.take() {
            self.queued_tails.remove(&key);
        }
        let mut next = txs.state.nonce;
        let mut spent = U256::ZERO;
        let mut pending = 0;
        let mut last_pending = None;
        for (nonce, tx) in &mut txs.txs {
            let total = spent.saturating_add(tx.cost);
            tx.pending = *nonce == next && total <= txs.state.balance;
            if tx.pending {
                spent = total;
                next += 1;
                pending += 1;
                last_pending = Some(price_key(sender, &tx.tx, base_fee));
            }
        }
        self.pending = self.pending - txs.pending + pending;
        self.queued = self.queued + txs.pending - pending;
        txs.pending = pending;
        if let Some(key) = last_pending {
            self.pending_tails.insert(key);
            txs.pending_tail = Some(key);
        }
        if let Some(last) = txs.txs.values().next_back()
            && !last.pending
        {
            let key = price_key(sender, &last.tx, base_fee);
            self.queued_tails.insert(key);
            txs.queued_tail = Some(key);
        }
        if txs.txs.is_empty() {
            self.senders.remove(&sender);
        }
    }

    /// Evicts the cheapest transactions that can go without opening a gap (a sender's last
    /// pending or last queued one) until every limit holds. `newcomer` is the sender whose
    /// admission filled the pool: it loses every tie on price, so that a newcomer must pay
    /// more than the cheapest pooled transaction to push it out (geth's rule), whatever the
    /// addresses.
    pub(super) fn enforce_limits(&mut self, newcomer: Option<Address>) {
        loop {
            let cheapest = |tails: &BTreeSet<PriceKey>| {
                let first = *tails.first()?;
                let newcomers = tails
                    .iter()
                    .take_while(|key| (key.tip, key.fee_cap) == (first.tip, first.fee_cap))
                    .find(|key| Some(key.sender) == newcomer);
                Some(newcomers.copied().unwrap_or(first))
            };
            let victim = if self.pending > self.config.max_pending {
                cheapest(&self.pending_tails).map(|key| (key.sender, true))
            } else if self.queued > self.config.max_queued {
                cheapest(&self.queued_tails).map(|key| (key.sender, false))
            } else if self.bytes > self.config.max_bytes {
                cheapest(&self.queued_tails)
                    .map(|key| (key.sender, false))
                    .or_else(|| cheapest(&self.pending_tails).map(|key| (key.sender, true)))
            } else {
                return;
            };
            let Some((sender, pending)) = victim else { return };
            let nonce = self.senders.get(&sender).and_then(|txs| {
                if pending {
                    txs.txs.iter().rev().find(|(_, tx)| tx.pending).map(|(nonce, _)| *nonce)
                } else {
                    txs.txs.keys().next_back().copied()
                }
            });
            match nonce {
                Some(nonce) => {
                    tracing::debug!(target: "mempool", %sender, nonce, "evicted transaction");
                    self.drop_tx(sender, nonce);
                    self.reclassify(sender);
                }
                // Unreachable while the sets follow the senders; never loop on it.
                None => return,
            }
        }
    }
    /// Moves the pool to a new head: see [`Mempool::revalidate`](super::Mempool::revalidate).
    pub(super) fn on_block(
        &mut self,
        head: PoolHead,
        sealed: HashMap<Address, SenderState>,
        states: &HashMap<Address, SenderState>,
        now: Instant,
    ) {
        self.head = head;
        self.sealed_states = sealed;
        let lifetime = self.config.queued_lifetime();
        let senders: Vec<Address> = self.senders.keys().copied().collect();
        for sender in senders {
            let Some(txs) = self.senders.get_mut(&sender) else { continue };
            if let Some(new_state) = states.get(&sender) {
                txs.state = *new_state;
            }
            let new_state = txs.state;
            let expired = idle_for(now, txs.heartbeat) > lifetime;
            let unpayable: Vec<u64> = txs
                .txs
                .iter()
                .filter(|(_, tx)| tx.cost > new_state.balance || tx.tx.inner().gas_limit() > head.gas_limit)
                .map(|(nonce, _)| *nonce)
                .collect();
            for nonce in unpayable {
                self.drop_tx(sender, nonce);
            }
            self.reclassify(sender);
            if expired && let Some(txs) = self.senders.get(&sender) {
                let queued: Vec<u64> =
                    txs.txs.iter().filter(|(_, tx)| !tx.pending).map(|(n, _)| *n).collect();
                for nonce in queued {
                    self.drop_tx(sender, nonce);
                }
                self.reclassify(sender);
            }
        }
        self.enforce_limits(None);
    }

    /// Removes the transaction `hash`, if pooled; the sender's later ones wait in queued.
    pub(super) fn remove(&mut self, hash: &B256) -> bool {
        let Some((sender, nonce)) = self.by_hash.get(hash).copied() else { return false };
        self.drop_tx(sender, nonce);
        self.reclassify(sender);
        true
    }

    /// Each sender's run of pending transactions that pay `base_fee`, in nonce order, shared
    /// rather than copied: the snapshot [`BestTransactions`](super::BestTransactions) merges.
    pub(super) fn snapshot(&self, base_fee: u64) -> Snapshot {
        let mut snapshot = Snapshot { txs: Vec::with_capacity(self.pending), lanes: Vec::new() };
        for (sender, txs) in &self.senders {
            let start = snapshot.txs.len();
            snapshot.txs.extend(
                txs.txs
                    .values()
                    .take_while(|tx| tx.pending && tx.tx.inner().effective_tip_per_gas(base_fee).is_some())
                    .map(|tx| tx.tx.clone()),
            );
            let end = snapshot.txs.len();
            if end > start {
                snapshot.lanes.push(Lane { sender: *sender, next: start, end });
            }
        }
        snapshot
    }

    /// The transactions of `senders` (all when `None`), copied, by pending and queued.
    pub(super) fn content(&self, sender: Option<Address>) -> PoolContent {
        let mut content = PoolContent::default();
        let senders: Box<dyn Iterator<Item = (&Address, &SenderTxs)>> = match sender {
            Some(sender) => Box::new(self.senders.get_key_value(&sender).into_iter()),
            None => Box::new(self.senders.iter()),
        };
        for (sender, txs) in senders {
            for (nonce, tx) in &txs.txs {
                let side = if tx.pending { &mut content.pending } else { &mut content.queued };
                side.entry(*sender).or_default().insert(*nonce, Recovered::clone(&tx.tx));
            }
        }
        content
    }
}

/// How long a sender last seen at `heartbeat` has been idle at `now`.
fn idle_for(now: Instant, heartbeat: Instant) -> Duration {
    now.saturating_duration_since(heartbeat)
}
