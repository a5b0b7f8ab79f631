//! Transactions waiting for a block, as a public endpoint must hold them: per sender, pending
//! (executable now) and queued (behind a nonce gap or beyond what the sender can pay), bounded in
//! count and bytes, ordered for the builder by effective tip under the next base fee.
//!
//! The rules follow geth's legacy pool (`core/txpool/legacypool`): replacement needs a 10% bump
//! of both fee fields; a full pool evicts its cheapest transaction or refuses the newcomer; queued
//! transactions of a sender who sends nothing for a lifetime are dropped; after each block every
//! sender is re-validated against the new state; EIP-7702 delegated accounts (and accounts with
//! a pooled authorization) get one in-flight transaction. Error messages are geth's, which wallets
//! match on.
//!
//! Sender recovery happens before the pool (the RPC hands it [`Recovered`] transactions), so the
//! builder's path never recovers a signature. Every pooled or dropped transaction is reported
//! through [`Mempool::take_removed`] so that the store's copy (crash safety) follows the pool.
//!
//! # Layout
//!
//! After reth's `crates/transaction-pool`: [`Mempool`] (this file) is the shared handle, a lock
//! around the book-keeping in `pool.rs`; `validation.rs` holds the admission rules that do not
//! depend on the pool's contents; `ordering.rs` the prices and [`BestTransactions`], the lazy
//! best-first iterator the builder takes a block from; `maintain.rs` what the pool does on a
//! sealed block; `config.rs` and `error.rs` the [`PoolConfig`] and the [`PoolError`].
//!
//! # Maintenance
//!
//! The pool moves to a block when the block producer seals it, synchronously, before the
//! producer builds the next one: the next block must not be built from a pool that still holds
//! what the previous one included. The producer hands the pool the chain event (a
//! [`CanonicalUpdate`]: the new head, the states the block gave the accounts it changed, every
//! pooled sender's state after it) and the pool applies its rules ([`Mempool::on_block_sealed`]).
//! The states are read by [`maintain::read_canonical_update`] from the producer's state, before
//! the pool's lock is taken: the lock is never held across a read of the store, since the RPC's
//! admissions wait on it on the runtime's workers, which the store's reads need. (reth runs its
//! maintenance as a task on the canonical-state stream; here that would let a block be built
//! from a stale pool, so the event is delivered in line instead.)

use crate::metrics::Registry;
use alloy_consensus::{Transaction, TxEnvelope, constants::KECCAK_EMPTY, transaction::Recovered};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, U256};
use metrics::{Counter, Gauge, counter, gauge};
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Instant,
};
use trace_builder::{AccountState, chain::ChainConfig};

pub mod blobs;
mod config;
mod error;
pub mod maintain;
mod ordering;
mod pool;
mod validation;

#[cfg(test)]
mod tests;

pub use config::PoolConfig;
pub use error::PoolError;
pub use maintain::CanonicalUpdate;
pub use ordering::{BestTransactions, PooledTransaction};
use pool::Pool;

/// What the pool needs of the chain head: the next block's base fee and blob base fee, and the
/// gas limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolHead {
    /// Base fee of the next block: orders transactions and prices eviction.
    pub base_fee: u64,
    /// Block gas limit: no transaction may ask for more.
    pub gas_limit: u64,
    /// Blob base fee of the next block: a blob transaction's blob fee cap must reach it.
    pub blob_base_fee: u128,
}

impl PoolHead {
    /// The pool's view of the block after `header` on `chain`.
    pub fn after(chain: &ChainConfig, header: &alloy_consensus::Header) -> Self {
        Self {
            base_fee: chain.next_base_fee(header),
            gas_limit: header.gas_limit,
            blob_base_fee: chain.blob_base_fee(chain.next_excess_blob_gas(header)),
        }
    }
}

/// A sender's account in the latest state, as far as the pool is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderState {
    /// The account nonce: the next nonce the chain accepts.
    pub nonce: u64,
    /// The balance.
    pub balance: U256,
    /// Whether the account has code: for an EOA, an EIP-7702 delegation.
    pub has_code: bool,
}

impl SenderState {
    /// The state of an account as the store or the builder's state reads it (`None`: absent).
    pub fn from_account(account: Option<&AccountState>) -> Self {
        account.map_or_else(Self::default, |account| Self {
            nonce: account.nonce,
            balance: account.balance,
            has_code: account.code_hash != KECCAK_EMPTY && account.code_hash != B256::ZERO,
        })
    }
}

/// The time the pool measures queued lifetimes with; tests inject their own.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Pending and queued transaction counts and pooled bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolSize {
    /// Executable transactions.
    pub pending: usize,
    /// Transactions waiting for a nonce gap to fill or for funds.
    pub queued: usize,
    /// Bytes accounted against [`PoolConfig::max_bytes`].
    pub bytes: usize,
}

/// A snapshot of the pool's transactions, by sender and nonce.
#[derive(Clone, Debug, Default)]
pub struct PoolContent {
    /// Executable transactions.
    pub pending: BTreeMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>,
    /// Transactions behind a nonce gap or beyond the sender's funds.
    pub queued: BTreeMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>,
}

/// Metrics of the pool (bounded labels: the refusal reason is one of [`PoolError::reason`]'s).
#[derive(Clone, Debug)]
struct PoolMetrics {
    pending: Gauge,
    queued: Gauge,
    bytes: Gauge,
    admitted: Counter,
    /// The registry the pool was built in: a refusal reason's series starts with its first
    /// refusal.
    registry: Option<Registry>,
    /// Refusals by reason since the last summary in the log.
    refusals: Arc<parking_lot::Mutex<RefusalSummary>>,
}

/// Refusals counted for the log's summary: one info line a minute at most, by reason, so that
/// a flood of bad transactions does not flood the log.
#[derive(Debug)]
struct RefusalSummary {
    since: std::time::Instant,
    by_reason: BTreeMap<&'static str, u64>,
}

impl RefusalSummary {
    /// How long refusals are gathered before they are logged.
    const PERIOD: std::time::Duration = std::time::Duration::from_secs(60);
}

impl Default for PoolMetrics {
    fn default() -> Self {
        Self {
            pending: gauge!("sequencer_mempool_pending"),
            queued: gauge!("sequencer_mempool_queued"),
            bytes: gauge!("sequencer_mempool_bytes"),
            admitted: counter!("sequencer_mempool_admitted_total"),
            registry: Registry::current(),
            refusals: Arc::new(parking_lot::Mutex::new(RefusalSummary {
                since: std::time::Instant::now(),
                by_reason: BTreeMap::new(),
            })),
        }
    }
}

impl PoolMetrics {
    /// Counts a transaction refused for `reason`.
    fn refused(&self, reason: &'static str) {
        let counter = || counter!("sequencer_mempool_refused_total", "reason" => reason);
        match &self.registry {
            Some(registry) => registry.scope(counter),
            None => counter(),
        }
        .increment(1);
        let mut summary = self.refusals.lock();
        *summary.by_reason.entry(reason).or_default() += 1;
        if summary.since.elapsed() >= RefusalSummary::PERIOD {
            let by_reason: Vec<String> =
                summary.by_reason.iter().map(|(reason, count)| format!("{reason} {count}")).collect();
            let total: u64 = summary.by_reason.values().sum();
            tracing::info!(
                target: "mempool",
                refused = total,
                by_reason = %by_reason.join(", "),
                seconds = summary.since.elapsed().as_secs(),
                "refused transactions"
            );
            summary.by_reason.clear();
            summary.since = std::time::Instant::now();
        }
    }

    fn record(&self, pool: &Pool) {
        self.pending.set(pool.pending as f64);
        self.queued.set(pool.queued as f64);
        self.bytes.set(pool.bytes as f64);
    }
}

/// The pool. Shared between the RPC (adds) and the builder (takes, re-validates).
#[derive(Debug)]
pub struct Mempool {
    inner: Mutex<Pool>,
    clock: Arc<dyn Clock>,
    metrics: PoolMetrics,
}

impl Mempool {
    /// An empty pool for `chain` with the limits of `config`, at `head`.
    pub fn new(config: PoolConfig, chain: &ChainConfig, head: PoolHead) -> Self {
        Self::with_clock(config, chain, head, Arc::new(SystemClock))
    }

    /// An empty pool measuring time with `clock`.
    pub fn with_clock(
        config: PoolConfig,
        chain: &ChainConfig,
        head: PoolHead,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { inner: Mutex::new(Pool::new(config, chain, head)), clock, metrics: PoolMetrics::default() }
    }

    /// The checks that need neither the sender nor the state: type, chain id, size, gas limit
    /// against the block's and the intrinsic cost, fee fields, minimum tip. The RPC runs them
    /// before recovering the sender, so that junk costs no signature recovery.
    pub fn validate_stateless(&self, tx: &TxEnvelope) -> Result<(), PoolError> {
        let pool = self.inner.lock();
        pool.validate_stateless(tx)
    }

    /// Admits a recovered transaction whose sender's latest state is `state`; returns its hash.
    ///
    /// On success the transaction is pooled (pending or queued); other transactions may have
    /// been evicted to make room, and are reported by [`Mempool::take_removed`].
    pub fn add(&self, tx: Recovered<TxEnvelope>, state: SenderState) -> Result<B256, PoolError> {
        self.admit(tx, state, false)
    }

    /// As [`Mempool::add`], for a transaction executable next only: one whose nonce is past
    /// the sender's next (after its pending ones) is refused with [`PoolError::NonceGap`],
    /// decided under the pool's lock against the newest state it knows (EIP-7966).
    pub fn add_ready(&self, tx: Recovered<TxEnvelope>, state: SenderState) -> Result<B256, PoolError> {
        self.admit(tx, state, true)
    }

    fn admit(
        &self,
        tx: Recovered<TxEnvelope>,
        state: SenderState,
        ready_only: bool,
    ) -> Result<B256, PoolError> {
        let authorities: Vec<Address> = tx
            .inner()
            .authorization_list()
            .map(|list| list.iter().filter_map(|auth| auth.recover_authority().ok()).collect())
            .unwrap_or_default();
        let size = tx.inner().encode_2718_len();
        let now = self.clock.now();
        let mut pool = self.inner.lock();
        let result = pool
            .validate_stateless(tx.inner())
            .and_then(|()| pool.add(tx, state, authorities, size, now, ready_only));
        match &result {
            Ok(_) => {
                self.metrics.admitted.increment(1);
                self.metrics.record(&pool);
            }
            Err(error) => self.metrics.refused(error.reason()),
        }
        result
    }

    /// The transactions for the next block under `base_fee`, best first, as a lazy iterator
    /// (see [`BestTransactions`] for the order). The pool's lock is held only to take a
    /// snapshot of each sender's executable run, a reference count per transaction; the merge
    /// happens as the caller pulls, without the lock.
    pub fn best_transactions(&self, base_fee: u64) -> BestTransactions {
        let snapshot = self.inner.lock().snapshot(base_fee);
        BestTransactions::new(base_fee, snapshot)
    }

    /// [`Mempool::best_transactions`], collected and copied: for tests and tools.
    pub fn best(&self, base_fee: u64) -> Vec<Recovered<TxEnvelope>> {
        self.best_transactions(base_fee).map(|tx| Recovered::clone(&tx)).collect()
    }

    /// Re-validates every pooled transaction after a block: with the new `head`, and each
    /// sender's state from `states`. Drops what the chain passed (included or replaced on
    /// chain), what asks for more gas than a block holds, what costs more than the sender has;
    /// moves to queued what follows a gap or exceeds the sender's funds; drops queued
    /// transactions of senders idle for the queued lifetime; then evicts down to the limits.
    /// `sealed` are the states the block gave the accounts it changed: admissions of their
    /// senders use them while the RPC still reads the state before the block.
    ///
    /// The caller reads `states` before, without the pool's lock: the lock is never held across
    /// a read of the store, since the RPC's admissions wait on it. A sender admitted after the
    /// caller listed the senders ([`Mempool::senders`]) keeps the state it was admitted with,
    /// which is at least as new.
    pub fn revalidate(
        &self,
        head: PoolHead,
        sealed: impl IntoIterator<Item = (Address, SenderState)>,
        states: &HashMap<Address, SenderState>,
    ) {
        let sealed = sealed.into_iter().collect();
        let now = self.clock.now();
        let mut pool = self.inner.lock();
        pool.on_block(head, sealed, states, now);
        self.metrics.record(&pool);
    }

    /// Moves the pool to the block `update` describes ([`Mempool::revalidate`] with its head
    /// and states) and returns the hashes of every transaction that left the pool since the
    /// last [`Mempool::take_removed`] (included, replaced, evicted, dropped), for the store to
    /// forget once the block is durable. Called by the block producer after it seals a block
    /// and before it builds the next, with states read by
    /// [`maintain::read_canonical_update`] without the pool's lock.
    pub fn on_block_sealed(&self, update: CanonicalUpdate) -> Vec<B256> {
        let CanonicalUpdate { head, changed, senders } = update;
        let now = self.clock.now();
        let mut pool = self.inner.lock();
        pool.on_block(head, changed, &senders, now);
        self.metrics.record(&pool);
        std::mem::take(&mut pool.removed)
    }

    /// Removes one transaction (the builder found it invalid); the sender's later ones wait in
    /// queued for the gap to fill.
    pub fn remove(&self, hash: &B256) {
        let mut pool = self.inner.lock();
        if pool.remove(hash) {
            self.metrics.record(&pool);
        }
    }

    /// Hashes of the transactions that left the pool (included, replaced, evicted, dropped)
    /// since the last call, for the store to forget.
    pub fn take_removed(&self) -> Vec<B256> {
        std::mem::take(&mut self.inner.lock().removed)
    }

    /// Every sender with pooled transactions.
    pub fn senders(&self) -> Vec<Address> {
        self.inner.lock().senders.keys().copied().collect()
    }

    /// The next nonce of `sender` after its pending transactions, for `eth_getTransactionCount`
    /// at `pending`; `account_nonce` is its nonce in the latest state.
    pub fn pending_nonce(&self, sender: Address, account_nonce: u64) -> u64 {
        self.inner.lock().next_nonce(sender, account_nonce)
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Recovered<TxEnvelope>> {
        let pool = self.inner.lock();
        let (sender, nonce) = pool.by_hash.get(hash)?;
        pool.senders.get(sender)?.txs.get(nonce).map(|tx| Recovered::clone(&tx.tx))
    }

    /// The blob with `versioned_hash` of a pooled blob transaction. Only the blob is copied,
    /// under the lock: not the transaction and its whole sidecar.
    pub fn blob(&self, versioned_hash: &B256) -> Option<alloy_primitives::Bytes> {
        let pool = self.inner.lock();
        let hash = pool.by_blob.get(versioned_hash)?.first()?;
        let (sender, nonce) = pool.by_hash.get(hash)?;
        let tx = pool.senders.get(sender)?.txs.get(nonce)?.tx.inner();
        let index = tx.blob_versioned_hashes()?.iter().position(|hash| hash == versioned_hash)?;
        let blob = match blobs::sidecar(tx)? {
            alloy_eips::eip7594::BlobTransactionSidecarVariant::Eip4844(sidecar) => sidecar.blobs.get(index),
            alloy_eips::eip7594::BlobTransactionSidecarVariant::Eip7594(sidecar) => sidecar.blobs.get(index),
        }?;
        Some(alloy_primitives::Bytes::copy_from_slice(blob.as_slice()))
    }

    /// Whether `hash` is pooled and executable now.
    pub fn is_pending(&self, hash: &B256) -> Option<bool> {
        let pool = self.inner.lock();
        let (sender, nonce) = pool.by_hash.get(hash)?;
        pool.senders.get(sender)?.txs.get(nonce).map(|tx| tx.pending)
    }

    /// Every pooled transaction, pending and queued, by sender and nonce: for `txpool_content`
    /// and `txpool_inspect`.
    pub fn content(&self) -> PoolContent {
        self.inner.lock().content(None)
    }

    /// `sender`'s pooled transactions, pending and queued: for `txpool_contentFrom`, without
    /// copying everyone else's.
    pub fn content_from(&self, sender: Address) -> PoolContent {
        self.inner.lock().content(Some(sender))
    }

    /// Pending and queued counts and pooled bytes.
    pub fn size(&self) -> PoolSize {
        let pool = self.inner.lock();
        PoolSize { pending: pool.pending, queued: pool.queued, bytes: pool.bytes }
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.inner.lock().by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
