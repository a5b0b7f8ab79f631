//! Prometheus metrics: the recorder, the `/metrics` endpoint on its own port (with `/health`
//! beside it), and one scoped struct per component. Base units (seconds, gas); no unbounded
//! label values.

use crate::health::Health;
use metrics::{
    Counter, Gauge, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::Mutex;
use std::{
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// When the block producer last sealed a block (or started), in milliseconds since the Unix
/// epoch: read at each scrape, so that a producer that is stuck, and so cannot report anything
/// itself, shows in `sequencer_seconds_since_last_block`.
static LAST_BLOCK_UNIX_MS: AtomicU64 = AtomicU64::new(0);

/// When the L1 follower last read the L1 head, in milliseconds since the Unix epoch (0: never),
/// read at each scrape for `sequencer_l1_follower_lag_seconds`, which grows while the L1 is
/// unreachable.
static LAST_L1_CONTACT_UNIX_MS: AtomicU64 = AtomicU64::new(0);

/// The timestamp of the oldest L2 block the bridge has not settled, in milliseconds since the
/// Unix epoch, read at each scrape for `sequencer_settlement_lag_seconds`, which grows while
/// nothing settles: [`NOT_FOLLOWING`] without a bridge, 0 while every block is settled.
static OLDEST_UNSAFE_UNIX_MS: AtomicU64 = AtomicU64::new(NOT_FOLLOWING);

/// [`OLDEST_UNSAFE_UNIX_MS`] of a node that follows no bridge: the series is not exported.
const NOT_FOLLOWING: u64 = u64::MAX;

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Sets `sequencer_seconds_since_last_block` from the producer's last report,
/// `sequencer_l1_follower_lag_seconds` from the L1 follower's and
/// `sequencer_settlement_lag_seconds` from the bridge follower's; run before each render.
fn update_watchdog() {
    let last = LAST_BLOCK_UNIX_MS.load(Ordering::Relaxed);
    if last != 0 {
        gauge!("sequencer_seconds_since_last_block").set(unix_ms().saturating_sub(last) as f64 / 1e3);
    }
    let last = LAST_L1_CONTACT_UNIX_MS.load(Ordering::Relaxed);
    if last != 0 {
        gauge!("sequencer_l1_follower_lag_seconds").set(unix_ms().saturating_sub(last) as f64 / 1e3);
    }
    match OLDEST_UNSAFE_UNIX_MS.load(Ordering::Relaxed) {
        NOT_FOLLOWING => {}
        0 => gauge!("sequencer_settlement_lag_seconds").set(0.0),
        oldest => {
            gauge!("sequencer_settlement_lag_seconds").set(unix_ms().saturating_sub(oldest) as f64 / 1e3)
        }
    }
}

/// Installs the process-wide recorder once and returns its handle (later calls reuse it, so
/// several nodes in one test process share one registry).
pub fn install_recorder() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    // A lock, not a bare `OnceLock` check: two nodes starting at once must not both install.
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = HANDLE.lock();
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".to_owned()),
            &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
        )?
        .set_buckets_for_metric(
            Matcher::Full("sequencer_block_transactions".to_owned()),
            &[0.0, 1.0, 10.0, 100.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0],
        )?
        .install_recorder()?;
    *installed = Some(handle.clone());
    describe();
    Ok(handle)
}

fn describe() {
    describe_counter!("sequencer_blocks_total", "Blocks sealed and committed");
    describe_counter!("sequencer_gas_used_total", metrics::Unit::Count, "Gas used by sealed blocks");
    describe_counter!("sequencer_transactions_total", "Transactions included in sealed blocks");
    describe_histogram!("sequencer_block_transactions", "Transactions per sealed block");
    describe_histogram!(
        "sequencer_block_build_seconds",
        metrics::Unit::Seconds,
        "Executing a block's transactions"
    );
    describe_histogram!(
        "sequencer_block_state_root_seconds",
        metrics::Unit::Seconds,
        "Updating the trie and computing the state root"
    );
    describe_histogram!(
        "sequencer_block_commit_seconds",
        metrics::Unit::Seconds,
        "Writing a sealed block to the database"
    );
    describe_histogram!(
        "sequencer_pool_journal_write_seconds",
        metrics::Unit::Seconds,
        "Making one group of admitted transactions durable in the pool journal"
    );
    describe_histogram!(
        "sequencer_pool_journal_group_transactions",
        "Admitted transactions per journal write"
    );
    describe_counter!("sequencer_rpc_calls_total", "JSON-RPC calls answered, by method");
    describe_counter!("sequencer_rpc_errors_total", "JSON-RPC calls answered with an error, by method");
    describe_histogram!(
        "sequencer_rpc_call_seconds",
        metrics::Unit::Seconds,
        "Time to answer a JSON-RPC call, by method"
    );
    describe_gauge!("sequencer_rpc_connections", "JSON-RPC connections open, HTTP and WebSocket");
    describe_counter!(
        "sequencer_rpc_connections_refused_total",
        "JSON-RPC connections (or WebSocket upgrades) refused, by the limit they met"
    );
    describe_gauge!("sequencer_head_number", "Number of the newest sealed block");
    describe_gauge!("sequencer_head_gas_used", "Gas used by the newest sealed block");
    describe_gauge!(
        "sequencer_seconds_since_last_block",
        metrics::Unit::Seconds,
        "Time since the producer last sealed a block (or started): grows without bound when it is stuck"
    );
    describe_counter!(
        "sequencer_block_failures_total",
        "Blocks abandoned because of an internal failure (their transactions stay pooled)"
    );
    describe_gauge!("sequencer_mempool_transactions", "Transactions waiting in the pool");
    describe_gauge!("sequencer_mempool_pending", "Executable transactions in the pool");
    describe_gauge!(
        "sequencer_mempool_queued",
        "Transactions in the pool behind a nonce gap or beyond funds"
    );
    describe_gauge!("sequencer_mempool_bytes", metrics::Unit::Bytes, "Bytes the pool accounts for");
    describe_gauge!(
        "sequencer_trie_node_cache_bytes",
        metrics::Unit::Bytes,
        "Bytes the trie-node cache holds (bound: database.node_cache_mib)"
    );
    describe_gauge!(
        "sequencer_state_cache_bytes",
        metrics::Unit::Bytes,
        "Bytes the block producer's latest-state cache holds (bound: database.state_cache_mib)"
    );
    describe_gauge!(
        "sequencer_account_filter_bytes",
        metrics::Unit::Bytes,
        "Bytes of the filter of absent accounts (bound: database.account_filter_mib)"
    );
    describe_gauge!(
        "sequencer_l1_anchor_number",
        "L1 block number the newest sealed block anchors to (its parent beacon block root)"
    );
    describe_gauge!("sequencer_l1_up", "1 while the L1 follower reaches the L1, 0 during an outage");
    describe_gauge!("sequencer_l1_head", "Number of the L1 head the follower last read");
    describe_gauge!(
        "sequencer_l1_confirmed_number",
        "Number of the newest confirmed L1 block (head less l1.confirmations): the next anchor"
    );
    describe_gauge!(
        "sequencer_l1_follower_lag_seconds",
        metrics::Unit::Seconds,
        "Time since the L1 follower last read the L1 head: grows without bound while the L1 is unreachable"
    );
    describe_counter!(
        "sequencer_l1_poll_failures_total",
        "Rounds in which the L1 follower could not read the L1 (down, slow or behind)"
    );
    describe_gauge!(
        "sequencer_l2_safe_number",
        "The L2's safe block: the newest block the bridge settled, or (optimistic mode) claimed"
    );
    describe_gauge!(
        "sequencer_l2_finalized_number",
        "The L2's finalized block: the newest block the bridge settled as of the L1's finalized block"
    );
    describe_gauge!("sequencer_bridge_head_number", "The bridge's settled head on the L1's newest block");
    describe_gauge!("sequencer_settlement_lag_blocks", "L2 blocks past the safe block: sealed, not settled");
    describe_gauge!(
        "sequencer_settlement_lag_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest L2 block past the safe block, at each scrape (0 when every block is safe)"
    );
    describe_counter!("sequencer_mempool_admitted_total", "Transactions admitted to the pool");
    describe_counter!("sequencer_mempool_refused_total", "Transactions the pool refused, by reason");
}

/// Binds the `/metrics` (and `/health`) port; [`serve`] serves it. Apart, so that the node binds its ports
/// before it touches its database.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves `GET /metrics` and `GET /health` on `listener` until the returned task is aborted.
pub fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    health: Health,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let handle = handle.clone();
                async move {
                    update_watchdog();
                    handle.render()
                }
            }),
        )
        .route("/health", axum::routing::get(move || std::future::ready(health.report())));
    tokio::spawn(async move { axum::serve(listener, app).await })
}

/// Metrics of the block producer.
#[derive(Clone, Debug)]
pub struct BlockMetrics {
    /// Blocks sealed.
    pub blocks: Counter,
    /// Gas used, summed.
    pub gas_used: Counter,
    /// Transactions included, summed.
    pub transactions: Counter,
    /// Transactions per block.
    pub block_transactions: Histogram,
    /// Execution time per block.
    pub build_seconds: Histogram,
    /// Trie update and state root time per block.
    pub state_root_seconds: Histogram,
    /// Database commit time per block.
    pub commit_seconds: Histogram,
    /// Head number.
    pub head_number: Gauge,
    /// Gas used by the head block.
    pub head_gas_used: Gauge,
    /// Pool size after the block.
    pub mempool_transactions: Gauge,
    /// Blocks abandoned on an internal failure.
    pub failures: Counter,
    /// The L1 block number the head anchors to.
    pub l1_anchor_number: Gauge,
}

impl BlockMetrics {
    /// Records that the producer sealed a block (or started) now, for the watchdog gauge.
    pub fn mark_progress(&self) {
        LAST_BLOCK_UNIX_MS.store(unix_ms(), Ordering::Relaxed);
    }
}

impl Default for BlockMetrics {
    fn default() -> Self {
        Self {
            blocks: counter!("sequencer_blocks_total"),
            gas_used: counter!("sequencer_gas_used_total"),
            transactions: counter!("sequencer_transactions_total"),
            block_transactions: histogram!("sequencer_block_transactions"),
            build_seconds: histogram!("sequencer_block_build_seconds"),
            state_root_seconds: histogram!("sequencer_block_state_root_seconds"),
            commit_seconds: histogram!("sequencer_block_commit_seconds"),
            head_number: gauge!("sequencer_head_number"),
            head_gas_used: gauge!("sequencer_head_gas_used"),
            mempool_transactions: gauge!("sequencer_mempool_transactions"),
            failures: counter!("sequencer_block_failures_total"),
            l1_anchor_number: gauge!("sequencer_l1_anchor_number"),
        }
    }
}

/// Metrics of the L1 follower.
#[derive(Clone, Debug)]
pub struct L1Metrics {
    /// 1 while the L1 answers, 0 during an outage.
    pub up: Gauge,
    /// The L1 head last read.
    pub head: Gauge,
    /// The newest confirmed L1 block's number.
    pub confirmed_number: Gauge,
    /// Rounds that could not read the L1.
    pub poll_failures: Counter,
}

impl L1Metrics {
    /// Records that the follower read the L1 now, for the lag gauge.
    pub fn mark_contact(&self) {
        LAST_L1_CONTACT_UNIX_MS.store(unix_ms(), Ordering::Relaxed);
    }
}

impl Default for L1Metrics {
    fn default() -> Self {
        Self {
            up: gauge!("sequencer_l1_up"),
            head: gauge!("sequencer_l1_head"),
            confirmed_number: gauge!("sequencer_l1_confirmed_number"),
            poll_failures: counter!("sequencer_l1_poll_failures_total"),
        }
    }
}

/// Metrics of the bridge follower: what the bridge settled of the L2.
#[derive(Clone, Debug)]
pub struct SettlementMetrics {
    /// The L2's safe block.
    pub safe_number: Gauge,
    /// The L2's finalized block.
    pub finalized_number: Gauge,
    /// The bridge's head on the L1's newest block.
    pub bridge_head_number: Gauge,
    /// L2 blocks past the safe block.
    pub lag_blocks: Gauge,
}

impl SettlementMetrics {
    /// Records the timestamp (in seconds) of the oldest L2 block the bridge has not settled, or
    /// `None` when every block is settled, for `sequencer_settlement_lag_seconds`.
    pub fn mark_oldest_unsafe(&self, timestamp: Option<u64>) {
        let ms = timestamp.map_or(0, |seconds| seconds.saturating_mul(1_000).clamp(1, NOT_FOLLOWING - 1));
        OLDEST_UNSAFE_UNIX_MS.store(ms, Ordering::Relaxed);
    }
}

impl Default for SettlementMetrics {
    fn default() -> Self {
        Self {
            safe_number: gauge!("sequencer_l2_safe_number"),
            finalized_number: gauge!("sequencer_l2_finalized_number"),
            bridge_head_number: gauge!("sequencer_bridge_head_number"),
            lag_blocks: gauge!("sequencer_settlement_lag_blocks"),
        }
    }
}
