//! The whole rollup in one process: a dev L1 with a native bridge, an L2 that follows it, and
//! the batcher between them. Transfers sent to the L2 settle on L1 with nothing else done, and
//! a batcher started again on its state goes on from where it stopped, posting nothing twice.

use crate::{
    batcher_daemon::{RunningBatcher, batcher_config},
    support::{dev_signer, eip1559, following_config, launch_l1, sign, wait_receipt},
};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use batcher::{
    bridge::{NativeRollupBridge, SettlementMode},
    service::state::{BatchState, BatcherState},
};
use sequencer::{
    deploy::{deploy_bridge, dev_parameters},
    dev_rollup::{DevRollup, DevRollupOptions},
    genesis::ChainGenesis,
    node::Node,
};
use std::time::{Duration, Instant};
use url::Url;

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

/// Waits until the L2's `safe` block (which follows the bridge) reaches `number`.
pub(crate) async fn wait_safe(l2: &RootProvider, number: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let safe = l2.get_block_by_number(alloy_eips::BlockNumberOrTag::Safe).await.unwrap().unwrap();
        if safe.header.number >= number {
            return;
        }
        assert!(Instant::now() < deadline, "safe stayed at {} below {number} for 60 s", safe.header.number);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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

    let batcher = RunningBatcher::start(batcher_config(&l1_url, &l2_url, bridge), &database_url).await;
    let first = transfers(&l2, 0, 5).await;
    wait_settled(&l1, &l2, bridge, first).await;
    batcher.stop().await;

    // Blocks sealed while no batcher runs settle once one is started again on the same state.
    let second = transfers(&l2, 5, 5).await;
    let batcher = RunningBatcher::start(batcher_config(&l1_url, &l2_url, bridge), &database_url).await;
    let third = transfers(&l2, 10, 3).await.max(second);
    wait_settled(&l1, &l2, bridge, third).await;
    batcher.stop().await;

    let state = BatcherState::open(&database_url).await.unwrap();
    for refused in [BatchState::Rejected, BatchState::Superseded] {
        assert_eq!(state.count_in(bridge, refused).await.unwrap(), 0, "a batch was {refused:?}");
    }
    // At least one batch before the restart and one after (the last may still be recorded as
    // included: the batcher was stopped as soon as the bridge had it).
    assert!(state.newest(bridge).await.unwrap().unwrap().id >= 2);
    l2_node.stop().await;
    l1_node.stop().await;
}

/// `sequencer dev` as a library: the dev L1, the bridge deployed on first start, the L2 and
/// the batcher. A transfer settles; started again on the same datadir it goes on with the same
/// bridge and both chains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_rollup_settles_and_continues_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = crate::support::dev_rollup_options();
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
    // The L2's safe block follows the bridge.
    wait_safe(&l2, second).await;
    rollup.stop().await;
}

/// The `sequencer dev` binary (the whole rollup) on fixed ports, killed with SIGKILL.
struct RollupDaemon {
    child: std::process::Child,
    l1: Url,
    l2: Url,
}

impl RollupDaemon {
    fn spawn(datadir: &std::path::Path, ports: [u16; 4]) -> Self {
        let addr = |port: u16| format!("127.0.0.1:{port}");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sequencer"))
            .arg("dev")
            .arg("--datadir")
            .arg(datadir)
            .args([
                "--block-time-ms",
                "200",
                "--http-addr",
                &addr(ports[0]),
                "--metrics-addr",
                &addr(ports[1]),
            ])
            .args(["--l1-http-addr", &addr(ports[2]), "--l1-metrics-addr", &addr(ports[3])])
            .args(["--l1-block-time-ms", "500"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = |port: u16| format!("http://127.0.0.1:{port}").parse().unwrap();
        Self { child, l1: url(ports[2]), l2: url(ports[0]) }
    }

    /// Waits until the L2 answers; its provider.
    async fn l2(&self) -> RootProvider {
        let provider = ProviderBuilder::default().connect_http(self.l2.clone());
        let deadline = Instant::now() + Duration::from_secs(60);
        while provider.get_block_number().await.is_err() {
            assert!(Instant::now() < deadline, "the dev rollup did not serve its L2 within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        provider
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// `sequencer dev` killed with SIGKILL at ten moments while transfers flow: afterwards every L2
/// block up to the last one sealed is settled, the bridge's head is the L2's block, every
/// settlement extends the one before, and no transaction of the batcher failed or was
/// refused by the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_dev_rollup_settles_every_block_once() {
    let dir = tempfile::tempdir().unwrap();
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ports = [free_port(), free_port(), free_port(), free_port()];
    // Kill moments from a fixed sequence, spread over 0.3–3 s after the L2 answers.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..10 {
        let daemon = RollupDaemon::spawn(dir.path(), ports);
        let l2 = daemon.l2().await;
        let sender = dev_signer(6);
        let nonce = l2.get_transaction_count(sender.address()).pending().await.unwrap();
        for nonce in nonce..nonce + 3 {
            let tx = eip1559(
                nonce,
                TxKind::Call(Address::repeat_byte(0x66)),
                21_000,
                U256::from(1u64),
                Bytes::new(),
            );
            let _ = l2.send_raw_transaction(&sign(&sender, tx)).await;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(300 + seed % 2_700)).await;
        daemon.kill_9();
    }

    let daemon = RollupDaemon::spawn(dir.path(), ports);
    let l2 = daemon.l2().await;
    let l1 = ProviderBuilder::default().connect_http(daemon.l1.clone());
    let sender = dev_signer(6);
    let nonce = l2.get_transaction_count(sender.address()).pending().await.unwrap();
    let last = transfers_from(&l2, &sender, nonce, 1).await;
    let bridge = read_bridge(dir.path());
    wait_settled(&l1, &l2, bridge, last).await;

    // Every settlement extends the one before; the batcher's transactions all succeeded.
    let contract = NativeRollupBridge::new(bridge, &l1);
    let settled_logs = contract.BatchSettled_filter().from_block(0).query().await.unwrap();
    let numbers: Vec<u64> = settled_logs.iter().map(|(event, _)| event.number).collect();
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]), "settlements out of order: {numbers:?}");
    assert!(contract.BatchRejected_filter().from_block(0).query().await.unwrap().is_empty());
    let proposer = sequencer::dev_rollup::DEV_PROPOSER_INDEX;
    let proposer = dev_signer(proposer).address();
    let head = l1.get_block_number().await.unwrap();
    let mut sent = 0;
    for number in 0..=head {
        let block = l1.get_block_by_number(number.into()).full().await.unwrap().unwrap();
        for tx in block.transactions.txns() {
            if tx.inner.signer() == proposer {
                sent += 1;
                let receipt = l1.get_transaction_receipt(*tx.inner.tx_hash()).await.unwrap().unwrap();
                assert!(receipt.status(), "a batcher transaction failed on L1: {}", tx.inner.tx_hash());
            }
        }
    }
    assert!(sent >= 2, "the batcher sent {sent} transactions");
    daemon.kill_9();
}

/// Sends `count` transfers from `sender` starting at `nonce`; returns the last one's block.
async fn transfers_from(
    l2: &RootProvider,
    sender: &alloy_signer_local::PrivateKeySigner,
    nonce: u64,
    count: u64,
) -> u64 {
    let mut last = Default::default();
    for nonce in nonce..nonce + count {
        let tx =
            eip1559(nonce, TxKind::Call(Address::repeat_byte(0x66)), 21_000, U256::from(1u64), Bytes::new());
        last = *l2.send_raw_transaction(&sign(sender, tx)).await.unwrap().tx_hash();
    }
    wait_receipt(l2, last).await.block_number.unwrap()
}

/// The bridge `sequencer dev` deployed, from the file it keeps in its datadir.
fn read_bridge(datadir: &std::path::Path) -> Address {
    let text = std::fs::read_to_string(datadir.join("bridge.toml")).unwrap();
    let line = text.lines().find(|line| line.starts_with("bridge_address")).unwrap();
    line.split('"').nth(1).unwrap().parse().unwrap()
}

/// `sequencer dev --l1-rpc` on Anvil, an L1 without EXECUTE: the bridge is deployed in
/// optimistic mode, the batcher's claims make the L2's blocks safe at once, and the bridge's
/// head covers them once the window is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_rollup_settles_optimistically_on_anvil() {
    // Prague: the batcher learns from eth_config that blobs carry EIP-4844 proofs there.
    let node = crate::anvil::anvil_with("prague", &["--block-time", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::config(dir.path(), None, 200);
    config.l1.rpc_url = Some(node.url.clone());
    let rollup = DevRollup::launch(config, &DevRollupOptions::default()).await.unwrap();
    assert!(rollup.l1.is_none());
    assert_eq!(rollup.bridge.mode, SettlementMode::Optimistic);
    let l1 = ProviderBuilder::default().connect_http(rollup.l1_url.clone());
    let l2 = crate::support::provider(&rollup.l2);
    let block = transfers(&l2, 0, 2).await;

    // The claim stands at once: the L2's safe block covers the transfers.
    wait_safe(&l2, block).await;
    // The window (60 s) passes on Anvil's clock: the batcher settles the claim.
    let _: serde_json::Value = l1.raw_request("evm_increaseTime".into(), (61u64,)).await.unwrap();
    wait_settled(&l1, &l2, rollup.bridge.address, block).await;
    rollup.stop().await;
}
