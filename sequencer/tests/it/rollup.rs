//! The whole rollup in one process: a dev L1 with a native bridge, an L2 that follows it, and
//! the batcher between them. Transfers sent to the L2 settle on L1 with nothing else done, and
//! a batcher started again on its state goes on from where it stopped, posting nothing twice.

use crate::support::{dev_signer, eip1559, following_config, launch_l1, sign, wait_receipt};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use batcher::{
    bridge::{NativeRollupBridge, SettlementMode},
    service::{
        Batcher, BatcherConfig, dev_policy,
        state::{BatchState, BatcherState},
    },
    txmgr::TxManagerConfig,
};
use sequencer::{
    deploy::{deploy_bridge, dev_parameters},
    dev_rollup::{DevRollup, DevRollupOptions},
    genesis::ChainGenesis,
    node::Node,
};
use std::time::{Duration, Instant};
use url::Url;

/// A batcher for `bridge` with its state at `database_url`, running until the returned sender
/// is dropped or sent to.
async fn start_batcher(
    l1: &Url,
    l2: &Url,
    bridge: Address,
    database_url: &str,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let mut policy = dev_policy();
    policy.max_age = Duration::from_secs(2);
    let config = BatcherConfig {
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
            ..TxManagerConfig::default()
        },
    };
    let state = BatcherState::open(database_url).await.unwrap();
    let batcher = Batcher::new(config, dev_signer(0), state).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        batcher
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (stop, task)
}

/// Sends `count` transfers from dev account 6 starting at `nonce`; returns the last one's block.
async fn transfers(l2: &RootProvider, nonce: u64, count: u64) -> u64 {
    let mut last = Default::default();
    for nonce in nonce..nonce + count {
        let tx =
            eip1559(nonce, TxKind::Call(Address::repeat_byte(0x66)), 21_000, U256::from(1u64), Bytes::new());
        last = *l2.send_raw_transaction(&sign(&dev_signer(6), tx)).await.unwrap().tx_hash();
    }
    wait_receipt(l2, last).await.block_number.unwrap()
}

/// Waits until the bridge's head covers L2 block `number`, and checks it is the L2's block.
async fn wait_settled(l1: &RootProvider, l2: &RootProvider, bridge: Address, number: u64) {
    let bridge = NativeRollupBridge::new(bridge, l1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let head = bridge.head().call().await.unwrap();
        let settled: u64 = head.number.to();
        if settled >= number {
            let block = l2.get_block_by_number(settled.into()).await.unwrap().unwrap();
            assert_eq!((head.blockHash, head.stateRoot), (block.header.hash, block.header.state_root));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "L2 block {number} not settled within 60 s (bridge head {settled})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_settle_on_l1_and_a_restarted_batcher_goes_on() {
    let (l1_dir, l2_dir, state_dir) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1_node = launch_l1(l1_dir.path()).await;
    let l1_url: Url = format!("http://{}", l1_node.rpc_addr).parse().unwrap();
    let genesis = ChainGenesis::dev().unwrap();
    let parameters = dev_parameters(&genesis, SettlementMode::Native, dev_signer(0).address(), 0);
    let bridge = deploy_bridge(&l1_url, dev_signer(0), &parameters).await.unwrap().bridge;
    let l2_node =
        Node::launch(&following_config(l2_dir.path(), None, l1_node.rpc_addr, 2), genesis).await.unwrap();
    let l2_url: Url = format!("http://{}", l2_node.rpc_addr).parse().unwrap();
    let l1 = ProviderBuilder::default().connect_http(l1_url.clone());
    let l2 = ProviderBuilder::default().connect_http(l2_url.clone());
    let database_url = format!("sqlite://{}", state_dir.path().join("batcher.sqlite").display());

    let (stop, task) = start_batcher(&l1_url, &l2_url, bridge, &database_url).await;
    let first = transfers(&l2, 0, 5).await;
    wait_settled(&l1, &l2, bridge, first).await;
    let _ = stop.send(());
    task.await.unwrap();

    // Blocks sealed while no batcher runs settle once one is started again on the same state.
    let second = transfers(&l2, 5, 5).await;
    let (stop, task) = start_batcher(&l1_url, &l2_url, bridge, &database_url).await;
    let third = transfers(&l2, 10, 3).await.max(second);
    wait_settled(&l1, &l2, bridge, third).await;
    let _ = stop.send(());
    task.await.unwrap();

    let state = BatcherState::open(&database_url).await.unwrap();
    for refused in [BatchState::Rejected, BatchState::Superseded] {
        assert_eq!(state.count_in(bridge, refused).await.unwrap(), 0, "a batch was {refused:?}");
    }
    assert!(state.count_in(bridge, BatchState::Settled).await.unwrap() >= 2);
    l2_node.stop().await;
    l1_node.stop().await;
}

/// `sequencer dev` as a library: the dev L1, the bridge deployed on first start, the L2 and
/// the batcher. A transfer settles; started again on the same datadir it goes on with the same
/// bridge and both chains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_rollup_settles_and_continues_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = DevRollupOptions {
        l1_http_addr: "127.0.0.1:0".parse().unwrap(),
        l1_metrics_addr: "127.0.0.1:0".parse().unwrap(),
        l1_block_time_ms: 500,
    };
    let rollup = DevRollup::launch(crate::support::config(dir.path(), None, 200), &options).await.unwrap();
    assert_eq!(rollup.bridge.mode, SettlementMode::Native);
    let l1 = ProviderBuilder::default().connect_http(rollup.l1_url.clone());
    let l2 = crate::support::provider(&rollup.l2);
    let first = transfers(&l2, 0, 1).await;
    wait_settled(&l1, &l2, rollup.bridge.address, first).await;
    let (bridge, l1_head) = (rollup.bridge, l1.get_block_number().await.unwrap());
    rollup.stop().await;

    let rollup = DevRollup::launch(crate::support::config(dir.path(), None, 200), &options).await.unwrap();
    assert_eq!(rollup.bridge, bridge, "a second bridge was deployed");
    let l1 = ProviderBuilder::default().connect_http(rollup.l1_url.clone());
    let l2 = crate::support::provider(&rollup.l2);
    assert!(l1.get_block_number().await.unwrap() >= l1_head, "the L1 started over");
    let second = transfers(&l2, 1, 1).await;
    assert!(second > first);
    wait_settled(&l1, &l2, bridge.address, second).await;
    rollup.stop().await;
}
