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

use alloy_consensus::{Transaction, TxEnvelope, constants::KECCAK_EMPTY, transaction::Recovered};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, U256};
use metrics::{Counter, Gauge, counter, gauge};
use parking_lot::Mutex;
use revm::{
    context_interface::cfg::GasParams,
    primitives::{eip7825::TX_GAS_LIMIT_CAP, hardfork::SpecId},
};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, hash_map::Entry},
    sync::Arc,
    time::{Duration, Instant},
};
use trace_builder::{AccountState, chain::ChainConfig};

#[cfg(test)]
mod tests;

/// Limits and prices of the pool: the `[mempool]` section of the configuration. Defaults are
/// geth's (`legacypool.DefaultConfig`) where geth has one.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Most executable (pending) transactions in the pool (geth: 4096 + 1024 global slots).
    pub max_pending: usize,
    /// Most non-executable (queued) transactions in the pool (geth: 1024).
    pub max_queued: usize,
    /// Most transactions (pending and queued) of one sender (reth: 16; geth guarantees 16 and
    /// takes more while the whole pool has room). A sender at the limit keeps its lowest
    /// nonces: a lower one displaces its highest queued transaction.
    pub max_per_sender: usize,
    /// Most bytes the pooled transactions may take: their encoded size plus a fixed
    /// per-transaction overhead for the pool's own bookkeeping.
    pub max_bytes: usize,
    /// Largest encoded transaction accepted (geth: 128 KiB).
    pub max_tx_bytes: usize,
    /// Smallest priority fee (tip) per gas accepted, in wei. Zero accepts any: every transaction
    /// still pays the base fee, which bounds spam.
    pub min_tip_wei: u64,
    /// Percentage by which a replacement must raise both the max fee and the max priority fee
    /// (geth: 10).
    pub price_bump_percent: u64,
    /// How long the queued transactions of a sender who submits nothing new stay, in
    /// milliseconds (geth: 3 hours).
    pub queued_lifetime_ms: u64,
    /// Whether transactions signed without a chain id (before EIP-155, replayable on every
    /// chain) are accepted. geth refuses them unless `--rpc.allow-unprotected-txs`; a chain
    /// needs them once, to deploy the deterministic CREATE2 factory.
    pub allow_unprotected_txs: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_pending: 5_120,
            max_queued: 1_024,
            max_per_sender: 16,
            max_bytes: 64 * 1024 * 1024,
            max_tx_bytes: 128 * 1024,
            min_tip_wei: 0,
            price_bump_percent: 10,
            queued_lifetime_ms: 3 * 60 * 60 * 1_000,
            allow_unprotected_txs: false,
        }
    }
}

impl PoolConfig {
    /// How long queued transactions of an idle sender stay.
    pub fn queued_lifetime(&self) -> Duration {
        Duration::from_millis(self.queued_lifetime_ms)
    }
}

/// Why the pool refused a transaction. Each message starts with the text geth returns, which
/// wallets and libraries match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The same transaction is already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// A transaction with this nonce is pooled and the new one does not raise both fee fields
    /// by the configured bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The nonce is below the sender's account nonce.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// The account's nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The nonce is the largest possible (EIP-2681).
    #[error("nonce has max value")]
    NonceMax,
    /// The priority fee is below the pool's minimum.
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {min}")]
    Underpriced {
        /// The transaction's max priority fee per gas (gas price for legacy types).
        tip: u128,
        /// The configured minimum.
        min: u128,
    },
    /// The pool is full of transactions that pay more than this one.
    #[error(
        "transaction underpriced: txpool is full and the transaction pays no more than the cheapest pooled one"
    )]
    PoolFull,
    /// The sender cannot pay for this transaction on top of its pending ones.
    #[error(
        "insufficient funds for gas * price + value: balance {balance}, queued cost {queued}, tx cost {cost}"
    )]
    InsufficientFunds {
        /// The sender's balance.
        balance: U256,
        /// Cost of the sender's pending transactions it comes after.
        queued: U256,
        /// `gas_limit * max_fee_per_gas + value` of this transaction.
        cost: U256,
    },
    /// The gas limit is above the block gas limit.
    #[error("exceeds block gas limit: gas {gas}, block gas limit {limit}")]
    ExceedsBlockGasLimit {
        /// The transaction's gas limit.
        gas: u64,
        /// The block gas limit.
        limit: u64,
    },
    /// The gas limit does not cover the intrinsic cost.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// Its intrinsic gas.
        needed: u64,
    },
    /// The gas limit covers the intrinsic cost but not the EIP-7623 calldata floor.
    #[error("insufficient gas for floor data gas cost: gas {gas}, minimum needed {needed}")]
    FloorDataGas {
        /// The transaction's gas limit.
        gas: u64,
        /// Its calldata floor.
        needed: u64,
    },
    /// The gas limit is above the EIP-7825 cap on one transaction's gas.
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// The transaction's gas limit.
        gas: u64,
        /// The cap.
        cap: u64,
    },
    /// Signed without a chain id, and the pool takes only replay-protected transactions.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// The encoded transaction is larger than the pool accepts.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData {
        /// Encoded size in bytes.
        size: usize,
        /// The configured maximum.
        limit: usize,
    },
    /// The transaction is signed for another chain.
    #[error("invalid chain id: expected {expected}, got {got}")]
    InvalidChainId {
        /// This chain's id.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Blob transactions have no place on the L2.
    #[error("transaction type not supported: blob transactions are not accepted on L2")]
    TxTypeNotSupported,
    /// The max priority fee is above the max fee.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// A contract creation with init code above the EIP-3860 limit.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitCodeTooLarge {
        /// Init code size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An EIP-7702 transaction without authorizations.
    #[error("set code tx must have at least one authorization tuple")]
    EmptyAuthorizationList,
    /// The sender already has as many pooled transactions as one sender may.
    #[error("account limit exceeded: {pooled} pooled transactions, at most {max} per sender")]
    AccountLimitExceeded {
        /// The sender's pooled transactions.
        pooled: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A delegated account (or one with a pooled authorization) sent a nonce that is not its
    /// next one.
    #[error("gapped-nonce tx from delegated accounts")]
    GappedNonceFromDelegated,
    /// A delegated account (or one with a pooled authorization) already has a transaction in
    /// flight.
    #[error("in-flight transaction limit reached for delegated accounts")]
    InflightTxLimitReached,
    /// Admitted only if executable next (EIP-7966), and the nonce is past the sender's next.
    #[error("nonce gap: the sender's next nonce is {expected}, the transaction's {got}")]
    NonceGap {
        /// The sender's next nonce after its pending transactions.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// An authorization names an account that already has more than one pooled transaction.
    #[error("authority already reserved: {authority} has pooled transactions")]
    AuthorityReserved {
        /// The authority.
        authority: Address,
    },
}

impl PoolError {
    /// A short stable name of the refusal, for metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::AlreadyKnown => "already_known",
            Self::ReplacementUnderpriced => "replacement_underpriced",
            Self::NonceTooLow { .. } => "nonce_too_low",
            Self::NonceMax => "nonce_max",
            Self::Underpriced { .. } => "underpriced",
            Self::PoolFull => "pool_full",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::ExceedsBlockGasLimit { .. } => "exceeds_block_gas_limit",
            Self::IntrinsicGasTooLow { .. } => "intrinsic_gas_too_low",
            Self::FloorDataGas { .. } => "floor_data_gas",
            Self::GasLimitTooHigh { .. } => "gas_limit_too_high",
            Self::Unprotected => "unprotected",
            Self::OversizedData { .. } => "oversized_data",
            Self::InvalidChainId { .. } => "invalid_chain_id",
            Self::TxTypeNotSupported => "tx_type_not_supported",
            Self::TipAboveFeeCap => "tip_above_fee_cap",
            Self::InitCodeTooLarge { .. } => "init_code_too_large",
            Self::EmptyAuthorizationList => "empty_authorization_list",
            Self::AccountLimitExceeded { .. } => "account_limit_exceeded",
            Self::GappedNonceFromDelegated => "gapped_nonce_from_delegated",
            Self::InflightTxLimitReached => "inflight_limit_reached",
            Self::AuthorityReserved { .. } => "authority_reserved",
            Self::NonceGap { .. } => "nonce_gap",
        }
    }
}

/// What the pool needs of the chain head: the next block's base fee and the gas limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolHead {
    /// Base fee of the next block: orders transactions and prices eviction.
    pub base_fee: u64,
    /// Block gas limit: no transaction may ask for more.
    pub gas_limit: u64,
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

impl PoolContent {
    /// The transactions of `senders`, copied.
    fn of<'a>(senders: impl Iterator<Item = (&'a Address, &'a SenderTxs)>) -> Self {
        let mut content = Self::default();
        for (sender, txs) in senders {
            for (nonce, tx) in &txs.txs {
                let side = if tx.pending { &mut content.pending } else { &mut content.queued };
                side.entry(*sender).or_default().insert(*nonce, tx.tx.clone());
            }
        }
        content
    }
}

/// Metrics of the pool (bounded labels: the refusal reason is one of [`PoolError::reason`]'s).
#[derive(Clone, Debug)]
struct PoolMetrics {
    pending: Gauge,
    queued: Gauge,
    bytes: Gauge,
    admitted: Counter,
}

impl Default for PoolMetrics {
    fn default() -> Self {
        Self {
            pending: gauge!("sequencer_mempool_pending"),
            queued: gauge!("sequencer_mempool_queued"),
            bytes: gauge!("sequencer_mempool_bytes"),
            admitted: counter!("sequencer_mempool_admitted_total"),
        }
    }
}

impl PoolMetrics {
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

/// Bookkeeping bytes charged per pooled transaction on top of its encoding: the decoded
/// transaction, its entries in the pool's maps and sets.
const ENTRY_OVERHEAD_BYTES: usize = 512;

/// Largest init code of a contract creation (EIP-3860, up to Osaka).
const MAX_INITCODE_SIZE: usize = revm::primitives::eip3860::MAX_INITCODE_SIZE;

#[derive(Debug)]
struct PooledTx {
    tx: Recovered<TxEnvelope>,
    hash: B256,
    /// Bytes charged against the pool's limit.
    size: usize,
    /// `gas_limit * max_fee_per_gas + value`.
    cost: U256,
    /// Authorities of its EIP-7702 authorizations that recover.
    authorities: Vec<Address>,
    pending: bool,
}

/// Price of a transaction for eviction: its effective tip under the current base fee (negative
/// when it cannot pay the base fee), then its fee cap. The sender makes keys unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PriceKey {
    tip: i128,
    fee_cap: u128,
    sender: Address,
}

#[derive(Debug)]
struct SenderTxs {
    state: SenderState,
    txs: BTreeMap<u64, PooledTx>,
    pending: usize,
    /// Last time the sender submitted a transaction: queued ones expire a lifetime after it.
    heartbeat: Instant,
    /// Keys of this sender's last pending and last queued transactions in the eviction sets.
    pending_tail: Option<PriceKey>,
    queued_tail: Option<PriceKey>,
}

#[derive(Debug)]
struct Pool {
    config: PoolConfig,
    chain_id: u64,
    spec: SpecId,
    head: PoolHead,
    senders: HashMap<Address, SenderTxs>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// Pooled transactions carrying an authorization signed by each authority.
    authorizations: HashMap<Address, usize>,
    /// Each sender's last pending transaction: the ones eviction may take without opening a gap.
    pending_tails: BTreeSet<PriceKey>,
    /// Each sender's last queued transaction.
    queued_tails: BTreeSet<PriceKey>,
    pending: usize,
    queued: usize,
    bytes: usize,
    /// Hashes that left the pool without being handed back by [`Mempool::take_removed`] yet.
    removed: Vec<B256>,
    /// The states the newest block gave the accounts it changed. The pool moves to a block
    /// when the builder seals it, the RPC once it is committed: until then the RPC reads the
    /// state before it, and a sender whose transactions the block included (and the pool
    /// forgot) would look to the RPC as if they were still to come.
    sealed_states: HashMap<Address, SenderState>,
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
        Self {
            inner: Mutex::new(Pool {
                config,
                chain_id: chain.chain_id,
                spec: chain.spec,
                head,
                senders: HashMap::new(),
                by_hash: HashMap::new(),
                authorizations: HashMap::new(),
                pending_tails: BTreeSet::new(),
                queued_tails: BTreeSet::new(),
                pending: 0,
                queued: 0,
                bytes: 0,
                removed: Vec::new(),
                sealed_states: HashMap::new(),
            }),
            clock,
            metrics: PoolMetrics::default(),
        }
    }

    /// The checks that need neither the sender nor the state: type, chain id, size, gas limit
    /// against the block's and the intrinsic cost, fee fields, minimum tip. The RPC runs them
    /// before recovering the sender, so that junk costs no signature recovery.
    pub fn validate_stateless(&self, tx: &TxEnvelope) -> Result<(), PoolError> {
        let pool = self.inner.lock();
        validate_stateless(&pool.config, pool.chain_id, pool.spec, pool.head.gas_limit, tx)
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
        let result =
            validate_stateless(&pool.config, pool.chain_id, pool.spec, pool.head.gas_limit, tx.inner())
                .and_then(|()| pool.add(tx, state, authorities, size, now, ready_only));
        match &result {
            Ok(_) => {
                self.metrics.admitted.increment(1);
                self.metrics.record(&pool);
            }
            Err(error) => {
                counter!("sequencer_mempool_refused_total", "reason" => error.reason()).increment(1)
            }
        }
        result
    }

    /// Transactions for the next block: each sender's pending run in nonce order, across
    /// senders by effective tip under `base_fee`, highest first. A sender's run stops at its
    /// first transaction that cannot pay `base_fee`; other senders are not held up by it.
    pub fn best(&self, base_fee: u64) -> Vec<Recovered<TxEnvelope>> {
        let pool = self.inner.lock();
        let mut lanes: Vec<Vec<&Recovered<TxEnvelope>>> = Vec::new();
        for sender in pool.senders.values() {
            let lane: Vec<_> = sender
                .txs
                .values()
                .take_while(|tx| tx.pending && tx.tx.inner().effective_tip_per_gas(base_fee).is_some())
                .map(|tx| &tx.tx)
                .collect();
            if !lane.is_empty() {
                lanes.push(lane);
            }
        }
        // Merge the lanes: repeatedly take the head with the highest tip. A sender's later
        // nonce never overtakes its earlier one.
        let tip = |tx: &Recovered<TxEnvelope>| tx.inner().effective_tip_per_gas(base_fee).unwrap_or_default();
        let mut heads: BinaryHeap<(u128, std::cmp::Reverse<usize>)> = lanes
            .iter()
            .enumerate()
            .filter_map(|(lane, txs)| Some((tip(txs.first()?), std::cmp::Reverse(lane))))
            .collect();
        let mut positions = vec![0usize; lanes.len()];
        let mut best = Vec::with_capacity(pool.pending);
        while let Some((_, std::cmp::Reverse(lane))) = heads.pop() {
            let (Some(txs), Some(position)) = (lanes.get(lane), positions.get_mut(lane)) else { continue };
            if let Some(tx) = txs.get(*position) {
                best.push((*tx).clone());
            }
            *position += 1;
            if let Some(next) = txs.get(*position) {
                heads.push((tip(next), std::cmp::Reverse(lane)));
            }
        }
        best
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
        let now = self.clock.now();
        let mut pool = self.inner.lock();
        pool.head = head;
        pool.sealed_states = sealed.into_iter().collect();
        let lifetime = pool.config.queued_lifetime();
        let senders: Vec<Address> = pool.senders.keys().copied().collect();
        for sender in senders {
            let Some(txs) = pool.senders.get_mut(&sender) else { continue };
            if let Some(new_state) = states.get(&sender) {
                txs.state = *new_state;
            }
            let new_state = txs.state;
            let expired = now.saturating_duration_since(txs.heartbeat) > lifetime;
            let unpayable: Vec<u64> = txs
                .txs
                .iter()
                .filter(|(_, tx)| tx.cost > new_state.balance || tx.tx.inner().gas_limit() > head.gas_limit)
                .map(|(nonce, _)| *nonce)
                .collect();
            for nonce in unpayable {
                pool.drop_tx(sender, nonce);
            }
            pool.reclassify(sender);
            if expired && let Some(txs) = pool.senders.get(&sender) {
                let queued: Vec<u64> =
                    txs.txs.iter().filter(|(_, tx)| !tx.pending).map(|(n, _)| *n).collect();
                for nonce in queued {
                    pool.drop_tx(sender, nonce);
                }
                pool.reclassify(sender);
            }
        }
        pool.enforce_limits(None);
        self.metrics.record(&pool);
    }

    /// Removes one transaction (the builder found it invalid); the sender's later ones wait in
    /// queued for the gap to fill.
    pub fn remove(&self, hash: &B256) {
        let mut pool = self.inner.lock();
        if let Some((sender, nonce)) = pool.by_hash.get(hash).copied() {
            pool.drop_tx(sender, nonce);
            pool.reclassify(sender);
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
        pool.senders.get(sender)?.txs.get(nonce).map(|tx| tx.tx.clone())
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
        PoolContent::of(self.inner.lock().senders.iter())
    }

    /// `sender`'s pooled transactions, pending and queued: for `txpool_contentFrom`, without
    /// copying everyone else's.
    pub fn content_from(&self, sender: Address) -> PoolContent {
        PoolContent::of(self.inner.lock().senders.get_key_value(&sender).into_iter())
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

/// `gas_limit * max_fee_per_gas + value`: the most a transaction can take from its sender.
fn cost(tx: &TxEnvelope) -> U256 {
    U256::from(tx.gas_limit()).saturating_mul(U256::from(tx.max_fee_per_gas())).saturating_add(tx.value())
}

fn validate_stateless(
    config: &PoolConfig,
    chain_id: u64,
    spec: SpecId,
    block_gas_limit: u64,
    tx: &TxEnvelope,
) -> Result<(), PoolError> {
    if tx.is_eip4844() {
        return Err(PoolError::TxTypeNotSupported);
    }
    let size = tx.encode_2718_len();
    if size > config.max_tx_bytes {
        return Err(PoolError::OversizedData { size, limit: config.max_tx_bytes });
    }
    match tx.chain_id() {
        Some(got) if got != chain_id => return Err(PoolError::InvalidChainId { expected: chain_id, got }),
        None if !config.allow_unprotected_txs => return Err(PoolError::Unprotected),
        _ => {}
    }
    if tx.is_create() && tx.input().len() > MAX_INITCODE_SIZE {
        return Err(PoolError::InitCodeTooLarge { size: tx.input().len(), limit: MAX_INITCODE_SIZE });
    }
    if tx.gas_limit() > block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit { gas: tx.gas_limit(), limit: block_gas_limit });
    }
    if spec.is_enabled_in(SpecId::OSAKA) && tx.gas_limit() > TX_GAS_LIMIT_CAP {
        return Err(PoolError::GasLimitTooHigh { gas: tx.gas_limit(), cap: TX_GAS_LIMIT_CAP });
    }
    let tip = tx.priority_fee_or_price();
    if tip > tx.max_fee_per_gas() {
        return Err(PoolError::TipAboveFeeCap);
    }
    if tx.nonce() == u64::MAX {
        return Err(PoolError::NonceMax);
    }
    let (accounts, slots) = tx
        .access_list()
        .map(|list| (list.len() as u64, list.iter().map(|item| item.storage_keys.len() as u64).sum()))
        .unwrap_or_default();
    let authorizations = tx.authorization_list().map_or(0, |list| list.len() as u64);
    let gas = GasParams::new_spec(spec).initial_tx_gas(
        tx.input(),
        tx.is_create(),
        accounts,
        slots,
        authorizations,
        None,
    );
    let intrinsic = gas.initial_regular_gas.saturating_add(gas.initial_state_gas);
    if tx.gas_limit() < intrinsic {
        return Err(PoolError::IntrinsicGasTooLow { gas: tx.gas_limit(), needed: intrinsic });
    }
    if tx.gas_limit() < gas.floor_gas {
        return Err(PoolError::FloorDataGas { gas: tx.gas_limit(), needed: gas.floor_gas });
    }
    if tip < u128::from(config.min_tip_wei) {
        return Err(PoolError::Underpriced { tip, min: u128::from(config.min_tip_wei) });
    }
    if tx.is_eip7702() && authorizations == 0 {
        return Err(PoolError::EmptyAuthorizationList);
    }
    Ok(())
}

/// Whether `new` raises both fee fields of `old` by at least `bump_percent` (and strictly).
fn is_enough_bump(old: &TxEnvelope, new: &TxEnvelope, bump_percent: u64) -> bool {
    let threshold = |old: u128| {
        U256::from(old).saturating_mul(U256::from(100 + u128::from(bump_percent))) / U256::from(100)
    };
    let (old_cap, new_cap) = (old.max_fee_per_gas(), new.max_fee_per_gas());
    let (old_tip, new_tip) = (old.priority_fee_or_price(), new.priority_fee_or_price());
    new_cap > old_cap
        && new_tip > old_tip
        && U256::from(new_cap) >= threshold(old_cap)
        && U256::from(new_tip) >= threshold(old_tip)
}

impl Pool {
    /// The next nonce of `sender` after its pending transactions, from `account_nonce` on.
    fn next_nonce(&self, sender: Address, account_nonce: u64) -> u64 {
        let mut next = account_nonce;
        if let Some(sender) = self.senders.get(&sender) {
            while sender.txs.get(&next).is_some_and(|tx| tx.pending) {
                next += 1;
            }
        }
        next
    }

    fn add(
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
        if let Some(old) = replaced
            && !is_enough_bump(old.tx.inner(), tx.inner(), self.config.price_bump_percent)
        {
            return Err(PoolError::ReplacementUnderpriced);
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
        self.check_authorizations(sender, nonce, &state, &authorities)?;

        // The displaced and the replaced transactions are kept aside until the new one has
        // survived the limits.
        let displaced = displaced.and_then(|highest| self.take_tx(sender, highest));
        let old = if replacing { self.take_tx(sender, nonce) } else { None };
        let size = encoded_size + ENTRY_OVERHEAD_BYTES;
        let new = PooledTx { tx, hash, size, cost: tx_cost, authorities, pending: false };
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

    /// geth's `validateAuth`: a delegated sender, or one whose authorization is pooled, may have
    /// one executable transaction in flight, at its next nonce; an authorization may not name an
    /// account with more than one pooled transaction.
    fn check_authorizations(
        &self,
        sender: Address,
        nonce: u64,
        state: &SenderState,
        authorities: &[Address],
    ) -> Result<(), PoolError> {
        let txs = self.senders.get(&sender);
        if state.has_code || self.authorizations.get(&sender).is_some_and(|n| *n > 0) {
            let pending = txs.map_or(0, |s| s.pending);
            if pending == 0 {
                if nonce != state.nonce {
                    return Err(PoolError::GappedNonceFromDelegated);
                }
            } else if !txs.and_then(|s| s.txs.get(&nonce)).is_some_and(|tx| tx.pending) {
                return Err(PoolError::InflightTxLimitReached);
            }
        }
        for authority in authorities {
            if self.senders.get(authority).is_some_and(|s| s.txs.len() > 1) {
                return Err(PoolError::AuthorityReserved { authority: *authority });
            }
        }
        Ok(())
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
        entry.txs.insert(tx.tx.inner().nonce(), tx);
        self.reclassify(sender);
    }

    /// Takes one transaction out of the pool's maps and counts, and reports it removed (for
    /// the store). [`Pool::reclassify`] must follow, to refresh the eviction sets.
    fn drop_tx(&mut self, sender: Address, nonce: u64) {
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
    fn reclassify(&mut self, sender: Address) {
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
    fn enforce_limits(&mut self, newcomer: Option<Address>) {
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
}

fn price_key(sender: Address, tx: &Recovered<TxEnvelope>, base_fee: u64) -> PriceKey {
    let tx = tx.inner();
    let fee_cap = tx.max_fee_per_gas();
    let signed = |value: u128| i128::try_from(value).unwrap_or(i128::MAX);
    let tip = signed(tx.priority_fee_or_price()).min(signed(fee_cap).saturating_sub(i128::from(base_fee)));
    PriceKey { tip, fee_cap, sender }
}
