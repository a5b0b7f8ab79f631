//! Prometheus metrics: each node's registry, the `/metrics` endpoint on its own port (with
//! `/health` beside it), and one scoped struct per component. Base units (seconds, gas); no
//! unbounded label values.
//!
//! A node counts in a registry of its own, not in the process's recorder: `sequencer dev` runs a
//! dev L1, the L2 and the batcher in one process, and each endpoint must serve its own node's
//! series (the L2's also the batcher's), never a mix of both chains under one name.

use crate::health::{Health, HealthReport};
use metrics::{
    Counter, Gauge, Histogram, Recorder, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use std::{cell::RefCell, net::SocketAddr, sync::Arc};

thread_local! {
    /// The registry of the [`Registry::scope`] running on this thread.
    static SCOPE: RefCell<Option<Registry>> = const { RefCell::new(None) };
}

/// One node's metrics registry, rendered on its `/metrics`. Cheap to clone.
///
/// Components take their metric handles as they are built; the node builds each inside
/// [`Registry::scope`], so that every handle counts here. A component built outside any scope
/// (a test, a benchmark) counts in the process's recorder, if one is installed.
#[derive(Clone)]
pub struct Registry {
    recorder: Arc<PrometheusRecorder>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry: histograms of seconds and of transactions per block get buckets,
    /// every other histogram is a summary.
    pub fn new() -> Result<Self, metrics_exporter_prometheus::BuildError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".to_owned()),
                &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
            )?
            .set_buckets_for_metric(
                Matcher::Full("sequencer_block_transactions".to_owned()),
                &[0.0, 1.0, 10.0, 100.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0],
            )?
            .build_recorder();
        let registry = Self { recorder: Arc::new(recorder) };
        registry.scope(describe);
        Ok(registry)
    }

    /// Runs `register` with this registry as the recorder: the handles it takes, and the
    /// series the macros name while it runs, count here. Synchronous: an `.await` would leave
    /// the thread, and the scope with it.
    pub fn scope<T>(&self, register: impl FnOnce() -> T) -> T {
        /// Puts back the scope that was there before, also when `register` panics.
        struct Restore(Option<Registry>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                SCOPE.with(|scope| *scope.borrow_mut() = previous);
            }
        }
        let _restore = Restore(SCOPE.with(|scope| scope.borrow_mut().replace(self.clone())));
        metrics::with_local_recorder(&*self.recorder, register)
    }

    /// The registry of the [`Registry::scope`] this runs in, if any: what a component keeps to
    /// register series later (a refusal reason first met after it was built).
    pub fn current() -> Option<Self> {
        SCOPE.with(|scope| scope.borrow().clone())
    }

    /// The registry as a recorder, for a component that takes one (the batcher).
    pub fn recorder(&self) -> Arc<dyn Recorder + Send + Sync> {
        self.recorder.clone()
    }

    /// The Prometheus exposition of every series in the registry.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}

/// Sets the gauges read from `/health` at each scrape: `sequencer_seconds_since_last_block`
/// (the head's age), `sequencer_l1_follower_lag_seconds` (once the L1 follower has read the L1)
/// and `sequencer_settlement_lag_seconds` (following a bridge, once measured). Run in the
/// node's scope before each render.
fn update_watchdog(report: &HealthReport) {
    gauge!("sequencer_seconds_since_last_block").set(report.head_age_seconds);
    if let Some(lag) = report.l1.lag_seconds {
        gauge!("sequencer_l1_follower_lag_seconds").set(lag);
    }
    if let Some(lag) = report.settling.as_ref().and_then(|settling| settling.lag_seconds) {
        gauge!("sequencer_settlement_lag_seconds").set(lag);
    }
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
        "Time since the head was sealed (a head read back at start: since its timestamp), as /health says: grows without bound when the producer is stuck"
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
        "sequencer_rpc_account_cache_bytes",
        metrics::Unit::Bytes,
        "Bytes the RPC's cache of accounts at the head holds (bound: database.rpc_account_cache_mib)"
    );
    describe_gauge!(
        "sequencer_rpc_code_cache_bytes",
        metrics::Unit::Bytes,
        "Bytes of analysed code the RPC's cache holds for calls (bound: database.rpc_code_cache_mib)"
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
    describe_counter!(
        "sequencer_messages_seen_total",
        "Messages to the L2 (deposits) read from the bridge's events"
    );
    describe_counter!(
        "sequencer_messages_delivered_total",
        "Messages to the L2 (deposits) seen delivered by the L2 bridge, by the node's relayer or anyone"
    );
    describe_counter!(
        "sequencer_messages_failed_calls_total",
        "Of the messages seen delivered, those whose call failed: their value waits in the L2 bridge for retryMessage"
    );
    describe_gauge!("sequencer_messages_undelivered", "Messages to the L2 read and not yet seen delivered");
    describe_counter!(
        "sequencer_message_relay_failures_total",
        "Relayer rounds that failed and deliveries the L2 bridge refused"
    );
    describe_counter!(
        "sequencer_withdrawals_sent_total",
        "Messages to L1 (withdrawals) the L2 bridge recorded"
    );
    describe_counter!(
        "sequencer_withdrawals_relayed_total",
        "Messages from the L2 (withdrawals) the bridge relayed on L1"
    );
    describe_counter!("sequencer_mempool_admitted_total", "Transactions admitted to the pool");
    describe_counter!("sequencer_mempool_refused_total", "Transactions the pool refused, by reason");
}

/// Binds the `/metrics` (and `/health`) port; [`serve`] serves it. Apart, so that the node binds its ports
/// before it touches its database.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves `GET /metrics` (`registry`'s series) and `GET /health` on `listener` until the
/// returned task is aborted.
pub fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    health: Health,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let watched = health.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let report = watched.report();
                registry.scope(|| update_watchdog(&report));
                std::future::ready(registry.render())
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

/// The message relayer's series (docs/messaging.md).
#[derive(Clone, Debug)]
pub struct RelayerMetrics {
    /// Messages to the L2 the relayer read from the bridge's events.
    pub seen: Counter,
    /// Messages it saw delivered on the L2 (by itself or anyone).
    pub delivered: Counter,
    /// Of them, messages whose call failed: their value waits in the L2 bridge for a retry.
    pub failed_calls: Counter,
    /// Messages read and not yet seen delivered.
    pub undelivered: Gauge,
    /// Rounds that failed and deliveries the L2 refused.
    pub failures: Counter,
    /// Messages to L1 (withdrawals) the L2 bridge recorded.
    pub withdrawals_sent: Counter,
    /// Messages from the L2 the L1 bridge relayed (withdrawals claimed).
    pub withdrawals_relayed: Counter,
}

impl Default for RelayerMetrics {
    fn default() -> Self {
        Self {
            seen: counter!("sequencer_messages_seen_total"),
            delivered: counter!("sequencer_messages_delivered_total"),
            failed_calls: counter!("sequencer_messages_failed_calls_total"),
            undelivered: gauge!("sequencer_messages_undelivered"),
            failures: counter!("sequencer_message_relay_failures_total"),
            withdrawals_sent: counter!("sequencer_withdrawals_sent_total"),
            withdrawals_relayed: counter!("sequencer_withdrawals_relayed_total"),
        }
    }
}
