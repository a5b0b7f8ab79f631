//! An L2 that follows its bridge (`l1.bridge_address`) on the project's dev L1: its `safe` and
//! `finalized` block tags are what the bridge settled, and `rollup_status` tells where the
//! chain stands (the bridge's head, the newest batch, the batcher and its balance). Without a
//! bridge, `safe` and `finalized` are the head, as before.

use crate::{
    settlement::{Rollup, challenge},
    support::{dev_signer, following_config, launch, launch_l1, provider, wait_block},
};
use alloy_consensus::Transaction as _;
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256};
use alloy_provider::{Provider, RootProvider};
use batcher::{
    bridge::{NativeRollupBridge, SettlementMode},
    proposal::{DataPath, Proposal},
};
use sequencer::{
    bridge_follower::BatchState,
    deploy::{deploy_bridge, dev_parameters},
    genesis::ChainGenesis,
    node::Node,
    rpc::RollupStatus,
};
use std::time::{Duration, Instant};

/// The L2's `rollup_status`.
async fn rollup_status(l2: &RootProvider) -> RollupStatus {
    l2.raw_request("rollup_status".into(), ()).await.unwrap()
}

/// The number of the block `tag` names on `chain`.
async fn tagged(chain: &RootProvider, tag: BlockNumberOrTag) -> u64 {
    chain.get_block_by_number(tag).await.unwrap().unwrap().header.number
}

/// Polls `rollup_status` until `done` holds of it; fails after 20 s with the last answer.
async fn wait_status(l2: &RootProvider, what: &str, done: impl Fn(&RollupStatus) -> bool) -> RollupStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = rollup_status(l2).await;
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "rollup_status: {what} not within 20 s; last: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the L2's block `tag` is block `number`.
async fn wait_tag(l2: &RootProvider, tag: BlockNumberOrTag, number: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = tagged(l2, tag).await;
        if now == number {
            return;
        }
        assert!(Instant::now() < deadline, "{tag} is block {now}, not {number}, after 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Native mode: a batch the bridge settled is the L2's `safe` block at once and its
/// `finalized` block once the L1 finalized the settlement; `rollup_status` names the bridge's
/// head, the newest batch (its blocks, L1 transaction and blobs), the batcher and its balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_batch_becomes_safe_then_finalized() {
    let mut rollup = Rollup::following_bridge(SettlementMode::Native).await;
    let l2 = rollup.l2.clone();
    // Nothing settled yet: the bridge's head is the genesis, and so are safe and finalized.
    let first = rollup.transfers(2).await.max(2);
    let before =
        wait_status(&l2, "the bridge read", |s| s.bridge.as_ref().is_some_and(|b| b.head.is_some())).await;
    let bridge = before.bridge.unwrap();
    assert_eq!((bridge.address, bridge.mode), (rollup.bridge, SettlementMode::Native));
    assert_eq!(bridge.head.unwrap().number.to::<u64>(), 0);
    assert_eq!((before.l2.safe.to::<u64>(), before.l2.finalized.to::<u64>()), (0, 0));
    assert_eq!(before.last_batch, None);
    assert_eq!(before.batcher.map(|b| b.address), Some(rollup.proposer.address()), "the bridge's sequencer");
    let l1 = before.l1.unwrap();
    assert_eq!(l1.chain_id.map(|id| id.to::<u64>()), Some(900));
    assert!(l1.reachable && l1.head.is_some());
    assert_eq!(tagged(&l2, BlockNumberOrTag::Safe).await, 0);

    // A batch in calldata: safe at once.
    let receipt =
        rollup.propose(&Proposal::new(&rollup.trace(1, first).await, DataPath::Calldata).unwrap()).await;
    assert!(receipt.status());
    wait_tag(&l2, BlockNumberOrTag::Safe, first).await;
    let status = wait_status(&l2, "the first batch", |s| s.last_batch.is_some()).await;
    let batch = status.last_batch.unwrap();
    assert_eq!((batch.first_block.map(|n| n.to::<u64>()), batch.last_block.to::<u64>()), (Some(1), first));
    assert_eq!(batch.l1_transaction, receipt.transaction_hash);
    assert_eq!(Some(batch.l1_block.to::<u64>()), receipt.block_number);
    assert_eq!((batch.blobs, batch.state), (vec![], BatchState::Settled));

    // The next in blobs.
    let second = rollup.transfers(2).await.max(first + 1);
    let proposal = Proposal::new(&rollup.trace(first + 1, second).await, DataPath::Blobs).unwrap();
    let receipt = rollup.propose(&proposal).await;
    assert!(receipt.status());
    wait_tag(&l2, BlockNumberOrTag::Safe, second).await;
    let safe = l2.get_block_by_number(BlockNumberOrTag::Safe).await.unwrap().unwrap().header;
    assert_eq!((safe.number, safe.hash, safe.state_root), rollup.head().await);
    let sent = rollup.l1.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    let status = wait_status(&l2, "the second batch", |s| {
        s.last_batch.as_ref().is_some_and(|b| b.last_block.to::<u64>() == second)
    })
    .await;
    let batch = status.last_batch.unwrap();
    assert_eq!(batch.first_block.map(|n| n.to::<u64>()), Some(first + 1));
    assert_eq!(batch.l1_transaction, receipt.transaction_hash);
    assert_eq!(Some(batch.blobs.as_slice()), sent.blob_versioned_hashes());
    assert!(!batch.blobs.is_empty());
    let head = status.bridge.unwrap().head.unwrap();
    assert_eq!((head.number.to::<u64>(), head.block_hash, head.state_root), rollup.head().await);

    // The proposer sends nothing more: the balance the L2 reports comes to the L1's.
    let balance = rollup.l1.get_balance(rollup.proposer.address()).await.unwrap();
    wait_status(&l2, "the batcher's balance", |s| {
        s.batcher
            .as_ref()
            .is_some_and(|b| b.address == rollup.proposer.address() && b.balance == Some(balance))
    })
    .await;

    // Finalized once the L1's finalized block (16 blocks behind its head) passes the settlement;
    // never past safe on the way.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = rollup_status(&l2).await;
        let (safe, finalized) = (status.l2.safe.to::<u64>(), status.l2.finalized.to::<u64>());
        assert!(finalized <= safe && safe <= status.l2.head.to::<u64>(), "{status:?}");
        if finalized == second {
            break;
        }
        assert!(Instant::now() < deadline, "finalized did not reach block {second}: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tagged(&l2, BlockNumberOrTag::Finalized).await, second);
    let logs = l2.get_logs(&alloy_rpc_types_eth::Filter::new().from_block(BlockNumberOrTag::Finalized)).await;
    assert!(logs.is_ok(), "a log filter takes the finalized tag: {logs:?}");

    let metrics = reqwest::get(format!("http://{}/metrics", rollup.l2_node.metrics_addr)).await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for series in [
        "sequencer_l2_safe_number",
        "sequencer_l2_finalized_number",
        "sequencer_settlement_lag_blocks",
        "sequencer_settlement_lag_seconds",
        "sequencer_bridge_head_number",
    ] {
        assert!(metrics.contains(&format!("\n{series} ")), "{series} missing from /metrics");
    }
    rollup.stop().await;
}

/// Optimistic mode: a claim stands as `safe` as soon as it is posted, a challenge that removes
/// it takes `safe` back to the claim before, and nothing is `finalized` before a claim settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_safe_until_a_challenge_removes_it() {
    let mut rollup = Rollup::following_bridge(SettlementMode::Optimistic).await;
    let l2 = rollup.l2.clone();
    let a = rollup.transfers(1).await.max(2);
    assert!(
        rollup.propose(&Proposal::new(&rollup.trace(1, a).await, DataPath::Calldata).unwrap()).await.status()
    );
    wait_tag(&l2, BlockNumberOrTag::Safe, a).await;
    let b = rollup.transfers(1).await.max(a + 1);
    let false_trace = rollup.trace(a + 1, b).await;
    let mut false_claim = Proposal::new(&false_trace, DataPath::Blobs).unwrap();
    false_claim.batch.postStateRoot = B256::repeat_byte(0xfa);
    assert!(rollup.propose(&false_claim).await.status());
    wait_tag(&l2, BlockNumberOrTag::Safe, b).await;
    let status = wait_status(&l2, "the claim", |s| {
        s.last_batch.as_ref().is_some_and(|b| b.state == BatchState::Claimed)
    })
    .await;
    let batch = status.last_batch.unwrap();
    assert_eq!((batch.first_block.map(|n| n.to::<u64>()), batch.last_block.to::<u64>()), (Some(a + 1), b));
    assert_eq!(status.bridge.unwrap().head.unwrap().number.to::<u64>(), 0, "nothing settled yet");
    assert_eq!(status.l2.finalized.to::<u64>(), 0);

    let receipt = challenge(&rollup, &dev_signer(4), 1, &false_trace, &false_claim).await;
    assert!(!receipt.decoded_log::<NativeRollupBridge::ClaimChallenged>().unwrap().data.valid);
    wait_tag(&l2, BlockNumberOrTag::Safe, a).await;
    let status = wait_status(&l2, "the removal", |s| {
        s.last_batch.as_ref().is_some_and(|b| b.state == BatchState::Removed)
    })
    .await;
    assert_eq!(status.l2.safe.to::<u64>(), a);
    assert_eq!(tagged(&l2, BlockNumberOrTag::Finalized).await, 0);
    rollup.stop().await;
}

/// Without a bridge `safe` and `finalized` are the head, and `rollup_status` says there is no
/// bridge (and, without an L1, no L1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bridge_safe_and_finalized_are_the_head() {
    let (l1_dir, l2_dir, alone_dir) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1_node = launch_l1(l1_dir.path()).await;
    let config = following_config(l2_dir.path(), None, l1_node.rpc_addr, 2);
    let following = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();
    let alone = launch(alone_dir.path(), None).await;
    for (node, has_l1) in [(&following, true), (&alone, false)] {
        let l2 = provider(node);
        wait_block(&l2, 2).await;
        for tag in [BlockNumberOrTag::Safe, BlockNumberOrTag::Finalized] {
            let before = l2.get_block_number().await.unwrap();
            let number = tagged(&l2, tag).await;
            let after = l2.get_block_number().await.unwrap();
            assert!(before <= number && number <= after, "{tag} is {number}, the head {before}..{after}");
        }
        let status = rollup_status(&l2).await;
        assert_eq!((status.l2.safe, status.l2.finalized), (status.l2.head, status.l2.head));
        assert_eq!((status.bridge, status.batcher, status.last_batch), (None, None, None));
        assert_eq!(status.l1.is_some(), has_l1);
    }
    following.stop().await;
    alone.stop().await;
    l1_node.stop().await;
}

/// A bridge that is not at `l1.bridge_address`, or settles in the other mode than
/// `l1.settlement`, stops the node at start with an error that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_other_than_configured_stops_the_node() {
    let l1_dir = tempfile::tempdir().unwrap();
    let l1_node = launch_l1(l1_dir.path()).await;
    let url = format!("http://{}", l1_node.rpc_addr).parse().unwrap();
    let genesis = ChainGenesis::dev().unwrap();
    let parameters = dev_parameters(&genesis, SettlementMode::Native, dev_signer(0).address(), 60);
    let deployment = deploy_bridge(&url, dev_signer(0), &parameters).await.unwrap();
    let launch_with = |bridge: Address, mode: SettlementMode| {
        let genesis = genesis.clone();
        let l1 = l1_node.rpc_addr;
        async move {
            let dir = tempfile::tempdir().unwrap();
            let mut config = following_config(dir.path(), None, l1, 2);
            config.l1.bridge_address = Some(bridge);
            config.l1.settlement = mode;
            Node::launch(&config, genesis).await.map(|_| ()).unwrap_err().to_string()
        }
    };
    let error = launch_with(deployment.bridge, SettlementMode::Optimistic).await;
    assert!(error.contains("l1.settlement") && error.contains("native"), "{error}");
    let error = launch_with(Address::repeat_byte(0xb1), SettlementMode::Native).await;
    assert!(error.contains("no contract at l1.bridge_address"), "{error}");
    l1_node.stop().await;
}
