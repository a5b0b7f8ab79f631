//! The block producer: every block interval it takes the best pooled transactions, runs them
//! through the one block executor, updates the state trie, seals the header and commits the
//! block in one database transaction.
//!
//! Following an L1, it anchors each block to the newest confirmed L1 block the
//! [`L1Follower`](crate::l1_follower::L1Follower) read, never to one older than its parent's
//! anchor, and seals no block whose timestamp is ahead of the wall clock (docs/anchoring.md).

use crate::{
    error::BuildError,
    l1_follower::{ConfirmedL1, L1Block},
    latest_state::{LatestState, StateReadError},
    mempool::{Mempool, PoolHead, blobs, maintain},
    metrics::BlockMetrics,
    store::{BlockRecord, ChainWriter, DbNodeStore, Store, TransactionRecord},
};
use alloy_consensus::{Header, Transaction as _, transaction::Recovered};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::watch;
use trace_builder::{
    AccountState,
    chain::ChainConfig,
    executor::{BlockExecutor, BlockInputs, seal_header},
    precompile::BlobSource,
    state_trie::StateTrie,
    trie::{Location, ordered_trie_root},
};

/// The pool's blobs, for EXECUTE's blob mode in the blocks the producer builds: the calling
/// transaction is pooled while its block is built.
#[derive(Debug)]
struct PooledBlobs(Arc<Mempool>);

impl BlobSource for PooledBlobs {
    fn blob(&self, versioned_hash: &B256) -> Option<alloy_primitives::Bytes> {
        self.0.blob(versioned_hash)
    }
}

/// The newest sealed block, as the builder publishes it to the RPC.
#[derive(Clone, Debug)]
pub struct ChainHead {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// The sealed header.
    pub header: Header,
    /// The accounts the block changed, with their state after it (`None`: deleted); empty when
    /// not known (a head read back at start-up), so that caches of the state before it start
    /// over.
    pub changed: Arc<[(Address, Option<AccountState>)]>,
}

/// What the producer last did, as `/health` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerStatus {
    /// When the head was sealed: by this process, or, for the head read back at start-up, its
    /// timestamp (never later than the start).
    pub sealed_at: SystemTime,
    /// The L1 block number the head anchors to; `None` for an unanchored head.
    pub anchor: Option<u64>,
}

/// A block the producer sealed and committed, with where its time went.
#[derive(Clone, Debug)]
pub struct ProducedBlock {
    /// The committed block.
    pub record: BlockRecord,
    /// Time per phase.
    pub timings: BlockTimings,
}

/// Time one block spent in each phase of production.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockTimings {
    /// Choosing and executing transactions, post-block system calls.
    pub build: Duration,
    /// Applying the changes to the trie and hashing it.
    pub state_root: Duration,
    /// Waiting for the previous block's commit, which runs while this block is built (the
    /// commit's own time is the `sequencer_block_commit_seconds` metric, and what
    /// [`BlockProducer::flush`] returns).
    pub commit_wait: Duration,
}

/// Parameters of block production that do not change while the node runs.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    /// Chain rules.
    pub chain: ChainConfig,
    /// Interval between blocks.
    pub block_time: Duration,
    /// Gas limit to steer towards; `None` keeps the parent's.
    pub target_gas_limit: Option<u64>,
    /// Coinbase of produced blocks.
    pub fee_recipient: Address,
    /// Header extra data.
    pub extra_data: Bytes,
    /// Memory the cache of the latest state may use, in bytes.
    pub state_cache_bytes: usize,
}

/// Builds, seals and commits blocks. Lives on its own blocking thread.
#[derive(Debug)]
pub struct BlockProducer {
    config: ProducerConfig,
    store: Store,
    runtime: tokio::runtime::Handle,
    state: LatestState,
    nodes: DbNodeStore,
    trie: StateTrie<DbNodeStore>,
    /// About the memory the trie's loaded nodes take, from the keys written since it was
    /// opened; past the state cache's budget the trie is opened afresh at the head's root.
    trie_bytes: usize,
    /// The store location of the next trie node the producer commits; read from the store
    /// before the first block.
    next_location: Option<Location>,
    mempool: Arc<Mempool>,
    head: ChainHead,
    heads: watch::Sender<ChainHead>,
    metrics: BlockMetrics,
    /// The commit of the newest sealed block, running in the background.
    in_flight: Option<tokio::task::JoinHandle<Result<Duration, crate::error::StoreError>>>,
    /// Accounts loaded for the pool since the last block: their trie paths are warmed with the
    /// next block's.
    cold_accounts: Vec<Address>,
    /// The L1 the chain follows; `None`: blocks are not anchored.
    l1: Option<ConfirmedL1>,
    /// The L1 block the head anchors to, `None` for an unanchored head.
    anchor: Option<L1Block>,
    /// When the head was sealed and what it anchors to, for `/health`.
    status: watch::Sender<ProducerStatus>,
}

impl BlockProducer {
    /// A producer that continues the chain from `head`.
    pub fn new(
        config: ProducerConfig,
        store: Store,
        nodes: DbNodeStore,
        mempool: Arc<Mempool>,
        head: ChainHead,
        heads: watch::Sender<ChainHead>,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let trie = StateTrie::new(nodes.clone(), head.header.state_root);
        let metrics = BlockMetrics::default();
        let stamped = UNIX_EPOCH + Duration::from_secs(head.header.timestamp);
        let (status, _) =
            watch::channel(ProducerStatus { sealed_at: stamped.min(SystemTime::now()), anchor: None });
        Self {
            state: LatestState::new(store.clone(), runtime.clone(), config.state_cache_bytes),
            config,
            store,
            runtime,
            nodes,
            trie,
            trie_bytes: 0,
            next_location: None,
            mempool,
            head,
            heads,
            metrics,
            in_flight: None,
            cold_accounts: Vec::new(),
            l1: None,
            anchor: None,
            status,
        }
    }

    /// A producer that anchors each new block to the newest block `l1` confirmed, continuing
    /// from `head_anchor`, the L1 block the head anchors to (read back from the store): no block
    /// anchors to an older one. Its blocks' timestamps never run ahead of the wall clock, so
    /// that a batch can land on L1 as soon as it is sealed.
    pub fn following(mut self, l1: ConfirmedL1, head_anchor: Option<L1Block>) -> Self {
        self.l1 = Some(l1);
        self.anchor = head_anchor;
        if let Some(anchor) = head_anchor {
            self.metrics.l1_anchor_number.set(anchor.number as f64);
        }
        self.status.send_modify(|status| status.anchor = head_anchor.map(|anchor| anchor.number));
        self
    }

    /// Produces a block every interval until `shutdown` is set. A failure that left nothing
    /// behind ([`BuildError::is_retryable`]: a state read, an internal revm error) abandons that
    /// block, keeps its transactions pooled, says why and tries again at the next interval;
    /// any other failure stops production and is returned, so that the node goes down instead
    /// of running without a builder.
    pub fn run(mut self, shutdown: Arc<AtomicBool>) -> Result<(), BuildError> {
        let mut next = Instant::now() + self.config.block_time;
        let mut waiting_for_l1 = false;
        while !shutdown.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now < next {
                std::thread::sleep((next - now).min(Duration::from_millis(50)));
                continue;
            }
            if let Some(wait) = self.clock_wait() {
                std::thread::sleep(wait.min(Duration::from_millis(50)));
                continue;
            }
            if self.awaits_first_anchor() {
                if !waiting_for_l1 {
                    tracing::warn!(target: "builder", "waiting for the L1's first confirmed block: no block is sealed unanchored while an L1 is configured");
                    waiting_for_l1 = true;
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            waiting_for_l1 = false;
            next += self.config.block_time;
            if next < now {
                // We fell behind (a slow block): keep the cadence instead of bursting.
                next = now + self.config.block_time;
            }
            match self.produce_block() {
                Ok(_) => {}
                Err(error) if error.is_retryable() => {
                    self.metrics.failures.increment(1);
                    tracing::error!(target: "builder", %error, "abandoned block; its transactions stay pooled");
                }
                Err(error) => return Err(error),
            }
        }
        // The last sealed block is durable before the node stops.
        self.flush()?;
        Ok(())
    }

    /// The newest sealed block.
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// When the producer sealed its head and what that head anchors to, updated at each block.
    pub fn status(&self) -> watch::Receiver<ProducerStatus> {
        self.status.subscribe()
    }

    /// Builds, seals and commits one block on top of the head, with whatever the pool holds.
    /// Following an L1, it first waits for the wall clock to reach the block's timestamp.
    pub fn produce_block(&mut self) -> Result<ProducedBlock, BuildError> {
        if self.trie_bytes > self.config.state_cache_bytes {
            self.reopen_trie()?;
        }
        if let Some(wait) = self.clock_wait() {
            std::thread::sleep(wait);
        }
        let parent = self.head.header.clone();
        let anchor = self.next_anchor();
        let inputs = self.next_inputs(&parent, anchor);
        let number = inputs.number;

        let build_started = Instant::now();
        let base_fee = self.config.chain.next_base_fee(&parent);
        let prefetch = |state: &mut LatestState, addresses: Vec<Address>| {
            state.prefetch(addresses).map_err(|e| BuildError::StateRead { number, message: e.to_string() })
        };
        let mut cold = std::mem::take(&mut self.cold_accounts);
        cold.extend(prefetch(&mut self.state, self.mempool.senders())?);
        // A snapshot of the pool: the RPC keeps admitting while this block runs.
        let mut candidates = self.mempool.best_transactions(base_fee);
        cold.extend(prefetch(
            &mut self.state,
            candidates.candidates().filter_map(|tx| tx.inner().to()).collect(),
        )?);
        // The trie is updated after execution: its paths load meanwhile.
        let warming = self.nodes.warm_account_paths(parent.state_root, cold);
        let blobs: Arc<dyn BlobSource> = Arc::new(PooledBlobs(self.mempool.clone()));
        let mut executor =
            BlockExecutor::with_blobs(&mut self.state, &self.config.chain, &parent, &inputs, blobs)
                .map_err(|e| BuildError::Execution { number, message: e.to_string() })?;
        let mut included = Vec::with_capacity(candidates.size_hint().1.unwrap_or_default());
        let mut block_blobs = Vec::new();
        while let Some(pooled) = candidates.next() {
            // A blob transaction runs and is carried without its sidecar; its blobs are kept
            // beside the block.
            let tx = match blobs::sidecar(pooled.inner()) {
                Some(_) => Recovered::new_unchecked(blobs::without_sidecar(pooled.inner()), pooled.signer()),
                None => Recovered::clone(&pooled),
            };
            match executor.execute_transaction(&tx) {
                Ok(outcome) => {
                    match blobs::records(pooled.inner()) {
                        Ok(records) => block_blobs.extend(records),
                        Err(error) => {
                            return Err(BuildError::Execution {
                                number,
                                message: format!("blob proofs of {}: {error:?}", tx.inner().tx_hash()),
                            });
                        }
                    }
                    included.push((tx, outcome));
                }
                // Not the transaction's fault: nothing of this block is sealed, and every
                // transaction the RPC acknowledged stays pooled.
                Err(error) if error.is_fatal() => {
                    return Err(BuildError::Transaction { number, source: error });
                }
                Err(error) => {
                    tracing::debug!(target: "builder", tx = %tx.inner().tx_hash(), %error, "skipped transaction");
                    // The sender's later nonces cannot run this block either.
                    candidates.mark_invalid(tx.signer());
                    if !error.is_block_full() {
                        self.mempool.remove(tx.inner().tx_hash());
                    }
                }
            }
        }
        let executed =
            executor.finish().map_err(|e| BuildError::Execution { number, message: e.to_string() })?;
        let build_seconds = build_started.elapsed();

        let warming_started = Instant::now();
        if let Some(warming) = warming {
            let _ = warming.join();
        }
        let warming_wait = warming_started.elapsed();
        let root_started = Instant::now();
        // Hashing happens once, in the commit (on all cores for a big block).
        self.trie.update(&executed.changes).map_err(|e| BuildError::State(e.to_string()))?;
        let written_keys: usize =
            executed.changes.accounts.values().map(|change| 1 + change.storage.len()).sum();
        self.trie_bytes = self.trie_bytes.saturating_add(written_keys.saturating_mul(TRIE_BYTES_PER_KEY));
        let next_location = match self.next_location {
            Some(location) => location,
            None => self.runtime.block_on(self.store.next_trie_location()).map_err(BuildError::Store)?,
        };
        let (state_root, trie_nodes) = self.trie.commit_located(next_location);
        self.next_location =
            Some(trie_nodes.last().map_or(next_location, |last| last.location.saturating_add(1)));
        let state_root_seconds = root_started.elapsed();
        let seal_started = Instant::now();

        let raw: Vec<Vec<u8>> = included.iter().map(|(tx, _)| tx.inner().encoded_2718()).collect();
        let transactions_root = ordered_trie_root(&raw);
        let header =
            seal_header(&self.config.chain, &parent, &inputs, &executed, transactions_root, state_root);
        let hash = header.hash_slow();
        let transactions = included
            .into_iter()
            .zip(raw)
            .zip(&executed.receipts)
            .map(|(((tx, outcome), raw), receipt)| TransactionRecord {
                hash: *tx.inner().tx_hash(),
                sender: tx.signer(),
                raw: raw.into(),
                receipt: receipt.clone(),
                gas_used: outcome.gas_used,
                contract_address: outcome.contract_address,
            })
            .collect::<Vec<_>>();
        let record = BlockRecord {
            header,
            hash,
            transactions,
            changes: executed.changes,
            access: executed.access,
            trie_nodes,
            blobs: block_blobs,
            anchor,
        };

        // The previous block's commit ran while this one was built; one at a time, in order.
        let waited = Instant::now();
        self.flush()?;
        let commit_wait = waited.elapsed();

        // From here the builder goes on from this block in memory (its state, trie nodes and
        // pool), while the database commits it.
        self.nodes.cache_nodes(&record.trie_nodes);
        self.state.apply(&record.changes, number, hash);
        let changed: Arc<[_]> =
            record.changes.accounts.iter().map(|(address, change)| (*address, change.info.clone())).collect();
        let removed = self.revalidate_pool(&record.header, &changed)?;
        self.head = ChainHead { number, hash, header: record.header.clone(), changed };
        self.anchor = anchor;
        self.start_commit(record.clone(), removed);
        let seal_seconds = seal_started.elapsed();
        self.status.send_replace(ProducerStatus {
            sealed_at: SystemTime::now(),
            anchor: anchor.map(|anchor| anchor.number),
        });

        self.metrics.blocks.increment(1);
        self.metrics.gas_used.increment(record.header.gas_used);
        self.metrics.transactions.increment(record.transactions.len() as u64);
        self.metrics.block_transactions.record(record.transactions.len() as f64);
        self.metrics.build_seconds.record(build_seconds);
        self.metrics.state_root_seconds.record(state_root_seconds);
        self.metrics.head_number.set(number as f64);
        self.metrics.head_gas_used.set(record.header.gas_used as f64);
        if let Some(anchor) = anchor {
            self.metrics.l1_anchor_number.set(anchor.number as f64);
        }
        self.metrics.mempool_transactions.set(self.mempool.len() as f64);
        // Durations as people read them (`3.1ms`), rounded to the microsecond; a quiet chain's
        // empty blocks at debug, so that they do not flood the log.
        let readable = |duration: Duration| Duration::from_micros(duration.as_micros() as u64);
        macro_rules! sealed {
            ($level:expr) => {
                tracing::event!(
                    target: "builder",
                    $level,
                    number,
                    hash = %hash,
                    txs = record.transactions.len(),
                    gas_used = record.header.gas_used,
                    l1_anchor = anchor.map(|anchor| anchor.number),
                    build = ?readable(build_seconds),
                    state_root = ?readable(state_root_seconds),
                    waited_for_previous_commit = ?readable(commit_wait),
                    waited_for_trie_warming = ?readable(warming_wait),
                    // The transactions and receipts roots, the header, the records, the pool's
                    // revalidation and handing the block to its commit (the wait above included).
                    seal = ?readable(seal_seconds),
                    "sealed block"
                )
            };
        }
        if record.transactions.is_empty() {
            sealed!(tracing::Level::DEBUG);
        } else {
            sealed!(tracing::Level::INFO);
        }
        Ok(ProducedBlock {
            record,
            timings: BlockTimings { build: build_seconds, state_root: state_root_seconds, commit_wait },
        })
    }

    /// Drops the trie's loaded nodes and opens it again at the head's state root, once the head
    /// is committed: its nodes then come back through the node cache and the database.
    fn reopen_trie(&mut self) -> Result<(), BuildError> {
        self.flush()?;
        self.trie = StateTrie::new(self.nodes.clone(), self.head.header.state_root);
        self.trie_bytes = 0;
        tracing::debug!(target: "builder", number = self.head.number, "reopened the state trie");
        Ok(())
    }

    /// Commits `record` in the background: the block, then the new head for the RPC, then the
    /// removal of the pooled transactions that left the pool with it from the journal (an
    /// acknowledged transaction stays stored until the block that includes it is durable).
    fn start_commit(&mut self, record: BlockRecord, removed: Vec<B256>) {
        let store = self.store.clone();
        let heads = self.heads.clone();
        let head = self.head.clone();
        let chain_id = self.config.chain.chain_id;
        let commit_seconds = self.metrics.commit_seconds.clone();
        // On a thread of its own rather than among the RPC's tasks: a flood of requests must
        // not queue the chain's commit behind it.
        let runtime = self.runtime.clone();
        let task = self.runtime.spawn_blocking(move || {
            runtime.block_on(async move {
                let started = Instant::now();
                store.commit_block(&record, chain_id).await?;
                let took = started.elapsed();
                commit_seconds.record(took);
                heads.send_replace(head);
                if !removed.is_empty() {
                    store.delete_pooled(&removed).await?;
                }
                Ok(took)
            })
        });
        self.in_flight = Some(task);
    }

    /// Waits for the block being committed, if any, and returns how long its commit took. A
    /// failed commit is returned: the node must stop rather than build on a block it lost.
    pub fn flush(&mut self) -> Result<Option<Duration>, BuildError> {
        let Some(task) = self.in_flight.take() else { return Ok(None) };
        match self.runtime.block_on(task) {
            Ok(result) => Ok(Some(result?)),
            Err(error) => Err(BuildError::Commit(error.to_string())),
        }
    }

    /// Moves the pool to the block sealed with `header` (`changed`: the accounts it changed,
    /// with their new states) and returns the pooled transactions that left it (included,
    /// replaced, dropped), for the store to forget once the block is durable. The pool's rules
    /// are the pool's; the producer only reads the states it needs, before the pool is locked:
    /// the RPC's admissions wait on that lock on the runtime's workers, which this thread's
    /// reads need.
    fn revalidate_pool(
        &mut self,
        header: &Header,
        changed: &[(Address, Option<AccountState>)],
    ) -> Result<Vec<B256>, BuildError> {
        let head = PoolHead::after(&self.config.chain, header);
        let (update, cold) = maintain::read_canonical_update(&self.mempool, &mut self.state, head, changed)
            .map_err(|e: StateReadError| BuildError::State(e.to_string()))?;
        self.cold_accounts.extend(cold);
        Ok(self.mempool.on_block_sealed(update))
    }

    /// The L1 block the next block anchors to: the newest the L1 confirmed, or the head's
    /// anchor while the L1 confirmed none newer (it is unreachable, or slower than the L2).
    /// `None` without an L1, and until the L1 was first reached.
    fn next_anchor(&self) -> Option<L1Block> {
        let confirmed = self.l1.as_ref()?.latest();
        match (confirmed, self.anchor) {
            (Some(confirmed), Some(current)) if confirmed.number <= current.number => Some(current),
            (Some(confirmed), _) => Some(confirmed),
            (None, current) => current,
        }
    }

    /// Whether the chain follows an L1 but has no anchor yet (a fresh chain whose L1 has not
    /// answered): a block sealed now could never settle, so none is.
    fn awaits_first_anchor(&self) -> bool {
        self.l1.is_some() && self.next_anchor().is_none()
    }

    /// Following an L1, how long until the wall clock reaches the next block's timestamp, the
    /// parent's plus one second; `None` once it has, and without an L1. A bridge refuses a batch
    /// whose last block is later than the L1 block it lands in, so a block is never sealed
    /// ahead of the clock: with blocks under a second apart, the chain makes one a second.
    fn clock_wait(&self) -> Option<Duration> {
        self.l1.as_ref()?;
        let earliest = Duration::from_secs(self.head.header.timestamp.saturating_add(1));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        earliest.checked_sub(now).filter(|wait| !wait.is_zero())
    }

    /// Header inputs of the next block, anchored to `anchor`.
    fn next_inputs(&self, parent: &Header, anchor: Option<L1Block>) -> BlockInputs {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        BlockInputs {
            number: parent.number + 1,
            // L1 rules need strictly increasing timestamps. Without an L1, sub-second blocks
            // run ahead of the clock; following one, `clock_wait` held the block until now.
            timestamp: now.max(parent.timestamp + 1),
            beneficiary: self.config.fee_recipient,
            gas_limit: next_gas_limit(parent.gas_limit, self.config.target_gas_limit),
            prev_randao: B256::ZERO,
            extra_data: self.config.extra_data.clone(),
            // The L1 anchor (EIP-4788's slot): zero for an unanchored block.
            parent_beacon_block_root: anchor.map_or(B256::ZERO, |anchor| anchor.hash),
            withdrawals: Vec::new(),
        }
    }
}

/// Memory a written key keeps loaded in the producer's trie, about: the nodes on its path
/// (some seven branches of ~530 bytes at a million accounts), less what neighbours share.
const TRIE_BYTES_PER_KEY: usize = 3 << 10;

/// The gas limit after `parent`, moved towards `target` by the most L1 rules allow
/// (strictly less than parent / 1024).
pub fn next_gas_limit(parent: u64, target: Option<u64>) -> u64 {
    let Some(target) = target else { return parent };
    let max_delta = (parent / 1024).saturating_sub(1);
    if target > parent {
        parent + (target - parent).min(max_delta)
    } else {
        parent - (parent - target).min(max_delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_limit_moves_within_the_l1_bound() {
        assert_eq!(next_gas_limit(30_000_000, None), 30_000_000);
        // 30M / 1024 = 29,296: the change must stay strictly below it.
        assert_eq!(next_gas_limit(30_000_000, Some(60_000_000)), 30_029_295);
        assert_eq!(next_gas_limit(30_000_000, Some(30_000_100)), 30_000_100);
        assert_eq!(next_gas_limit(30_000_000, Some(1_000_000)), 29_970_705);
    }
}
