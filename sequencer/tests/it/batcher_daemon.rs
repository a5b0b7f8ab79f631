//! The batcher daemon through what an L1 does to it, on real L1s: an L1 reorganisation that
//! takes a confirmed batch out of the chain (Anvil), an L1 that is down for a while (the dev
//! L1), anchors that age out of what the bridge reads (Anvil, thousands of blocks mined), and
//! blob batches read back (the dev L1's Beacon API, Anvil's). Each batcher runs in this process
//! with its metrics in a registry of its own.

use crate::{
    anvil::{Anvil, anvil_with},
    support::{dev_signer, eip1559, following_config, launch_l1_at, sign, wait_block, wait_receipt},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use batcher::{
    bridge::{NativeRollupBridge, SettlementMode},
    rollup_api::TraceResponse,
    service::{
        Batcher, BatcherConfig,
        anchors::DEFAULT_RECORD_AGE_BLOCKS,
        dev_policy,
        policy::DataPolicy,
        state::{BatchRow, BatchState, BatcherState},
    },
    txmgr::TxManagerConfig,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sequencer::{
    deploy::{deploy_bridge, dev_parameters},
    genesis::ChainGenesis,
    node::Node,
};
use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use url::Url;

/// How long any one wait of these tests may take before it fails: generous, for a slow CI
/// machine; the tests pass in seconds.
const DEADLINE: Duration = Duration::from_secs(90);

/// A batcher's settings for a test: quick polls and retries, batches of blocks 2 s old, one
/// confirmation.
pub(crate) fn batcher_config(l1: &Url, l2: &Url, bridge: Address) -> BatcherConfig {
    let mut policy = dev_policy();
    policy.max_age = Duration::from_secs(2);
    BatcherConfig {
        l2_rpc: l2.clone(),
        l1_rpc: l1.clone(),
        bridge,
        policy,
        poll_interval: Duration::from_millis(200),
        l1_osaka: true,
        txmgr: TxManagerConfig {
            confirmations: 1,
            receipt_poll_interval_ms: 100,
            resubmission_timeout_ms: 5_000,
            network_timeout_ms: 5_000,
            retry_delay_ms: 200,
            ..TxManagerConfig::default()
        },
        anchor_record_age_blocks: DEFAULT_RECORD_AGE_BLOCKS,
        beacon_url: None,
    }
}

/// A batcher running in its own task.
pub(crate) struct RunningBatcher {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    metrics: PrometheusHandle,
}

impl RunningBatcher {
    /// Starts a batcher with `config`, its rows at `database_url`, proposing from dev account
    /// 0, its metrics in a registry of its own.
    pub(crate) async fn start(config: BatcherConfig, database_url: &str) -> Self {
        let state = BatcherState::open(database_url).await.unwrap();
        let recorder = PrometheusBuilder::new().build_recorder();
        let metrics = recorder.handle();
        let batcher =
            Batcher::recording(config, dev_signer(0), state, Some(Arc::new(recorder))).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            batcher
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { stop, task, metrics }
    }

    /// The sum of the series of metric `name` (every label set).
    fn metric(&self, name: &str) -> f64 {
        self.metrics
            .render()
            .lines()
            .filter(|line| {
                line.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The value of the series `series` (name and labels), 0 if absent.
    fn series(&self, series: &str) -> f64 {
        self.metrics
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or(0.0)
    }

    /// Waits until the series `series` reaches `value`.
    async fn wait_series(&self, series: &str, value: f64) {
        let deadline = Instant::now() + DEADLINE;
        while self.series(series) < value {
            assert!(Instant::now() < deadline, "{series} stayed below {value} for {DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops it, failing if it stopped on its own before.
    pub(crate) async fn stop(self) {
        assert!(!self.task.is_finished(), "the batcher stopped on its own");
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// Sends `count` transfers from dev account 6 starting at `nonce`; the last one's block.
async fn transfers(l2: &RootProvider, nonce: u64, count: u64) -> u64 {
    let mut last = B256::ZERO;
    for nonce in nonce..nonce + count {
        let tx =
            eip1559(nonce, TxKind::Call(Address::repeat_byte(0x66)), 21_000, U256::from(1u64), Bytes::new());
        last = *l2.send_raw_transaction(&sign(&dev_signer(6), tx)).await.unwrap().tx_hash();
    }
    wait_receipt(l2, last).await.block_number.unwrap()
}

/// What the bridge has of the L2: its newest pending claim's last block and hash, else its
/// head's.
async fn bridge_tip(l1: &RootProvider, bridge: Address) -> (u64, B256) {
    let bridge = NativeRollupBridge::new(bridge, l1);
    let first = bridge.firstPendingClaim().call().await.unwrap();
    let next = bridge.nextClaim().call().await.unwrap();
    if next > first {
        let claim = bridge.claims(next - U256::from(1u64)).call().await.unwrap();
        return (claim.lastNumber, claim.lastBlockHash);
    }
    let head = bridge.head().call().await.unwrap();
    (head.number.to(), head.blockHash)
}

/// Waits until the bridge has L2 block `number` (settled or claimed), and checks that what it
/// has is the L2's block.
async fn wait_bridge_has(l1: &RootProvider, l2: &RootProvider, bridge: Address, number: u64) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (tip, hash) = bridge_tip(l1, bridge).await;
        if tip >= number {
            let block = l2.get_block_by_number(tip.into()).await.unwrap().unwrap();
            assert_eq!(hash, block.header.hash, "the bridge has another block {tip} than the L2's");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bridge has no L2 block {number} after {DEADLINE:?} (tip {tip})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An L2 following the L1 at `l1` (of any chain id), anchoring two blocks behind its head.
async fn following_l2(datadir: &Path, l1: SocketAddr) -> (Node, RootProvider, Url) {
    let mut config = following_config(datadir, None, l1, 2);
    config.l1.chain_id = None;
    let node = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();
    let url: Url = format!("http://{}", node.rpc_addr).parse().unwrap();
    let provider = crate::support::provider(&node);
    (node, provider, url)
}

/// A bridge of `mode` for the dev L2 on the L1 at `l1`, bonded by dev account 0 (a window of
/// an hour: no claim settles during a test).
async fn bridge_on(l1: &Url, mode: SettlementMode) -> Address {
    let parameters = dev_parameters(&ChainGenesis::dev().unwrap(), mode, dev_signer(0).address(), 3_600);
    deploy_bridge(l1, dev_signer(0), &parameters).await.unwrap().bridge
}

/// Mines `count` blocks on Anvil at once.
async fn anvil_mine(l1: &RootProvider, count: u64) {
    let _: serde_json::Value = l1.raw_request("anvil_mine".into(), (U256::from(count),)).await.unwrap();
}

/// A task that mines a block on Anvil every 200 ms while not paused.
struct Miner {
    paused: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Miner {
    fn start(l1: RootProvider) -> Self {
        let paused = Arc::new(AtomicBool::new(false));
        let flag = paused.clone();
        let task = tokio::spawn(async move {
            loop {
                if !flag.load(Ordering::SeqCst) {
                    let _: Result<serde_json::Value, _> = l1.raw_request("evm_mine".into(), ()).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { paused, task }
    }

    /// Stops mining; once this returns no block is being mined.
    async fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        // A mine request already under way finishes within the loop's turn.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The database URL of a batcher state in `dir`.
fn state_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("batcher.sqlite").display())
}

/// Waits until the newest batch is recorded settled with L2 block `number`; answers it.
async fn wait_row_settled(database_url: &str, bridge: Address, number: u64) -> BatchRow {
    let state = BatcherState::open(database_url).await.unwrap();
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(row) = state.newest(bridge).await.unwrap()
            && row.state == BatchState::Settled
            && row.last_block >= number
        {
            return row;
        }
        assert!(Instant::now() < deadline, "no batch with block {number} recorded settled in {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An L1 reorganisation deeper than the confirmations takes a claim the batcher recorded as
/// settled out of Anvil's chain (and its transaction out of the pool): the bridge's tip goes
/// back, the batcher sees it, posts the blocks again from there, and the bridge has them
/// afterwards; no batch is rejected, and the next blocks settle after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_reorged_out_of_the_l1_is_posted_again() {
    let node = anvil_with("osaka", &["--no-mining"]);
    let url: Url = node.url.parse().unwrap();
    let l1 = ProviderBuilder::default().connect_http(url.clone());
    anvil_mine(&l1, 10).await;
    let miner = Miner::start(l1.clone());
    let bridge = bridge_on(&url, SettlementMode::Optimistic).await;
    let (l2_dir, state_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (l2_node, l2, l2_url) = following_l2(l2_dir.path(), url.socket_addrs(|| None).unwrap()[0]).await;
    let database_url = state_url(state_dir.path());
    let mut config = batcher_config(&url, &l2_url, bridge);
    // Calldata: a reorged blob batch's read-back would race the reorganisation.
    config.policy.data = DataPolicy::Calldata;
    let batcher = RunningBatcher::start(config, &database_url).await;

    let last = transfers(&l2, 0, 3).await;
    wait_bridge_has(&l1, &l2, bridge, last).await;
    let row = wait_row_settled(&database_url, bridge, last).await;

    // The claim's block and every block after it replaced by empty ones.
    miner.pause().await;
    let head = l1.get_block_number().await.unwrap();
    let claimed_in = row.l1_block.unwrap();
    let _: () =
        l1.raw_request("anvil_reorg".into(), (head - claimed_in + 1, Vec::<()>::new())).await.unwrap();
    let (tip, _) = bridge_tip(&l1, bridge).await;
    assert!(
        tip < row.last_block,
        "the reorganisation left the claim of block {} (tip {tip})",
        row.last_block
    );
    assert!(l1.get_transaction_receipt(row.l1_transaction.unwrap()).await.unwrap().is_none());
    miner.resume();

    wait_bridge_has(&l1, &l2, bridge, last).await;
    let later = transfers(&l2, 3, 1).await;
    wait_bridge_has(&l1, &l2, bridge, later).await;
    assert!(batcher.series("batcher_reorged_batches_total") >= 1.0);
    batcher.stop().await;

    let state = BatcherState::open(&database_url).await.unwrap();
    assert_eq!(state.count_in(bridge, BatchState::Rejected).await.unwrap(), 0, "a batch was rejected");
    // The reorged batch was sent again at its own nonce: the claim is in the chain again.
    let again = state.settled_beyond(bridge, 0).await.unwrap();
    assert!(again.iter().any(|batch| batch.first_block <= last && last <= batch.last_block));
    l2_node.stop().await;
    drop(miner);
}

/// How long the L1 is down in the outage test: the minute.
const OUTAGE: Duration = Duration::from_secs(60);

/// The dev L1 stops for a minute while the L2 keeps sealing blocks (on its last anchor) with a
/// transfer every 10 s in them: the batcher counts the failed rounds and keeps running, and once
/// the L1 is back on the same address and datadir the bridge settles every block sealed during
/// the outage, then the next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batcher_waits_out_an_l1_outage_and_catches_up() {
    let (l1_dir, l2_dir, state_dir) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let l1_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let l1_node = launch_l1_at(l1_dir.path(), l1_addr).await;
    let url: Url = format!("http://{l1_addr}").parse().unwrap();
    let l1 = ProviderBuilder::default().connect_http(url.clone());
    let bridge = bridge_on(&url, SettlementMode::Native).await;
    let (l2_node, l2, l2_url) = following_l2(l2_dir.path(), l1_addr).await;
    let batcher =
        RunningBatcher::start(batcher_config(&url, &l2_url, bridge), &state_url(state_dir.path())).await;

    let before = transfers(&l2, 0, 2).await;
    wait_bridge_has(&l1, &l2, bridge, before).await;

    l1_node.stop().await;
    let down = Instant::now();
    assert!(l1.get_block_number().await.is_err(), "the L1 still answers");
    // The outage lasts a minute whatever the batcher does meanwhile; every 10 s a transfer is
    // sealed in a new L2 block.
    let (mut nonce, mut sealed) = (2, before);
    while down.elapsed() < OUTAGE {
        let block = transfers(&l2, nonce, 1).await;
        assert!(block > sealed, "the L2 sealed no block {:?} into the outage", down.elapsed());
        (nonce, sealed) = (nonce + 1, block);
        tokio::time::sleep(Duration::from_secs(10).min(OUTAGE.saturating_sub(down.elapsed()))).await;
    }
    assert!(!batcher.task.is_finished(), "the batcher stopped during the L1 outage");
    let failures =
        batcher.metric("batcher_round_errors_total") + batcher.metric("batcher_txmgr_errors_total");
    assert!(failures >= 1.0, "the outage was not counted");
    let head = l2.get_block_number().await.unwrap();

    // Back after a minute: every block sealed meanwhile settles.
    let l1_node = launch_l1_at(l1_dir.path(), l1_addr).await;
    assert!(down.elapsed() >= OUTAGE);
    wait_bridge_has(&l1, &l2, bridge, head).await;
    let after = transfers(&l2, nonce, 1).await;
    wait_bridge_has(&l1, &l2, bridge, after).await;
    batcher.stop().await;
    l2_node.stop().await;
    l1_node.stop().await;
}

/// The L1 number of the anchor of L2 block `number`.
async fn anchor_of(l2: &RootProvider, number: u64) -> u64 {
    let trace: TraceResponse =
        l2.raw_request("rollup_getTrace".into(), (U64::from(number), U64::from(number))).await.unwrap();
    trace.bindings.anchors[0].number.to()
}

/// Anvil keeping few states, mining a block per transaction, and a batcher that confirms at
/// inclusion (no block comes unless a transaction does).
fn pruned_anvil() -> (Anvil, Url, RootProvider) {
    let node = anvil_with("osaka", &["--prune-history"]);
    let url: Url = node.url.parse().unwrap();
    let provider = ProviderBuilder::default().connect_http(url.clone());
    (node, url, provider)
}

/// Blocks that wait while the L1 moves on: an anchor 40 L1 blocks old (past a record age of 20)
/// is recorded in the bridge before the batch that names it is posted; after 8,300 L1 blocks
/// mined while the batcher is stopped, an anchor the bridge no longer reads is proven by L1
/// headers from the oldest block it reads, and the batch naming it is claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_are_recorded_before_they_age_out_and_proven_after() {
    let (_node, url, l1) = pruned_anvil();
    anvil_mine(&l1, 10).await;
    let bridge = bridge_on(&url, SettlementMode::Optimistic).await;
    let contract = NativeRollupBridge::new(bridge, &l1);
    let (l2_dir, state_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (l2_node, l2, l2_url) = following_l2(l2_dir.path(), url.socket_addrs(|| None).unwrap()[0]).await;
    let database_url = state_url(state_dir.path());
    let mut config = batcher_config(&url, &l2_url, bridge);
    config.txmgr.confirmations = 0;
    config.anchor_record_age_blocks = 20;

    // Recorded: blocks anchored before 40 more L1 blocks.
    wait_block(&l2, 1).await;
    let anchor = anchor_of(&l2, 1).await;
    anvil_mine(&l1, 40).await;
    let batcher = RunningBatcher::start(config.clone(), &database_url).await;
    let first = transfers(&l2, 0, 1).await;
    wait_bridge_has(&l1, &l2, bridge, first).await;
    let hash = l1.get_block_by_number(anchor.into()).await.unwrap().unwrap().header.hash;
    assert_eq!(contract.recordedL1BlockHashes(U256::from(anchor)).call().await.unwrap(), hash);
    assert!(batcher.series("batcher_anchor_hashes_recorded_total") >= 1.0);
    batcher.stop().await;

    // Proven: a block anchored before 8,300 L1 blocks, which no batcher posted meanwhile.
    let waiting = transfers(&l2, 1, 1).await;
    let old = anchor_of(&l2, waiting).await;
    anvil_mine(&l1, 8_300).await;
    assert_eq!(contract.l1BlockHash(old).call().await.unwrap(), B256::ZERO, "the bridge still reads {old}");
    let batcher = RunningBatcher::start(config, &database_url).await;
    wait_bridge_has(&l1, &l2, bridge, waiting).await;
    let hash = l1.get_block_by_number(old.into()).await.unwrap().unwrap().header.hash;
    assert_eq!(contract.recordedL1BlockHashes(U256::from(old)).call().await.unwrap(), hash);
    assert!(batcher.series("batcher_anchor_hashes_proven_total") >= 1.0);
    assert!(batcher.series("batcher_anchor_proof_headers_total") >= 200.0);
    batcher.stop().await;
    let state = BatcherState::open(&database_url).await.unwrap();
    assert_eq!(state.count_in(bridge, BatchState::Rejected).await.unwrap(), 0);
    l2_node.stop().await;
}

/// Blob batches on the dev L1 are read back through its Beacon API and match their versioned
/// hashes; a Beacon API that does not hold them (another chain's) is counted missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_batches_are_read_back_from_the_dev_l1_and_missing_ones_are_counted() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let l1_node = launch_l1_at(dirs[0].path(), "127.0.0.1:0".parse().unwrap()).await;
    let other_l1 = launch_l1_at(dirs[1].path(), "127.0.0.1:0".parse().unwrap()).await;
    let url: Url = format!("http://{}", l1_node.rpc_addr).parse().unwrap();
    let l1 = ProviderBuilder::default().connect_http(url.clone());
    let bridge = bridge_on(&url, SettlementMode::Native).await;
    let (l2_node, l2, l2_url) = following_l2(dirs[2].path(), l1_node.rpc_addr).await;
    let database_url = state_url(dirs[3].path());
    let mut config = batcher_config(&url, &l2_url, bridge);
    config.policy.data = DataPolicy::Blobs;

    let batcher = RunningBatcher::start(config.clone(), &database_url).await;
    let first = transfers(&l2, 0, 2).await;
    wait_bridge_has(&l1, &l2, bridge, first).await;
    batcher.wait_series("batcher_blob_checks_total{result=\"ok\"}", 1.0).await;
    assert_eq!(batcher.series("batcher_blob_checks_total{result=\"missing\"}"), 0.0);
    assert_eq!(batcher.series("batcher_blob_checks_total{result=\"mismatch\"}"), 0.0);
    batcher.stop().await;

    config.beacon_url = Some(format!("http://{}", other_l1.rpc_addr).parse().unwrap());
    let batcher = RunningBatcher::start(config, &database_url).await;
    let second = transfers(&l2, 2, 2).await;
    wait_bridge_has(&l1, &l2, bridge, second).await;
    batcher.wait_series("batcher_blob_checks_total{result=\"missing\"}", 1.0).await;
    assert_eq!(batcher.series("batcher_blob_checks_total{result=\"ok\"}"), 0.0);
    batcher.stop().await;
    l2_node.stop().await;
    other_l1.stop().await;
    l1_node.stop().await;
}

/// On Anvil, blob batches are read back through its Beacon API (`blobs`: its `blob_sidecars`
/// is gone), and, where the beacon URL serves no Beacon API, through the sidecar
/// `eth_getTransactionByHash` answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_batches_are_read_back_from_anvil() {
    let (_node, url, l1) = pruned_anvil();
    anvil_mine(&l1, 10).await;
    let bridge = bridge_on(&url, SettlementMode::Optimistic).await;
    let (l2_dir, state_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (l2_node, l2, l2_url) = following_l2(l2_dir.path(), url.socket_addrs(|| None).unwrap()[0]).await;
    let database_url = state_url(state_dir.path());
    let mut config = batcher_config(&url, &l2_url, bridge);
    config.txmgr.confirmations = 0;
    config.policy.data = DataPolicy::Blobs;

    let mut nonce = 0;
    for beacon in [None, Some(l2_url.clone())] {
        config.beacon_url = beacon;
        let batcher = RunningBatcher::start(config.clone(), &database_url).await;
        let last = transfers(&l2, nonce, 2).await;
        nonce += 2;
        wait_bridge_has(&l1, &l2, bridge, last).await;
        batcher.wait_series("batcher_blob_checks_total{result=\"ok\"}", 1.0).await;
        for result in ["missing", "mismatch", "skipped"] {
            assert_eq!(batcher.series(&format!("batcher_blob_checks_total{{result=\"{result}\"}}")), 0.0);
        }
        batcher.stop().await;
    }
    l2_node.stop().await;
}
