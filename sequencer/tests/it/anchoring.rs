//! An L2 node following a dev L1: every new block anchors to a confirmed L1 block, the anchors
//! never go back (across an L1 outage and a restart), `rollup_getTrace` names their L1 numbers,
//! and an L1 of the wrong chain is refused.

use crate::{
    postgres::PgServer,
    support::{following_config, launch_l1, launch_l1_at, provider, wait_block},
};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, Bytes, U64, U256};
use alloy_provider::{Provider, RootProvider};
use sequencer::{genesis::ChainGenesis, node::Node, rpc::TraceResponse};
use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The L1 blocks that must follow a block before the L2 anchors to it, in these tests.
const CONFIRMATIONS: u64 = 2;

/// An L2 block's anchor: its header's parent beacon block root, with the L1 block number
/// `rollup_getTrace` answers for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Anchored {
    block: u64,
    timestamp: u64,
    anchor: B256,
    l1_number: u64,
}

/// The anchors of L2 blocks `1..=to`, and the trace of those blocks. Checks that the trace's
/// bindings name each distinct anchor of the headers once, in block order.
async fn anchored(l2: &RootProvider, to: u64) -> (Vec<Anchored>, TraceResponse) {
    let trace: TraceResponse =
        l2.raw_request("rollup_getTrace".into(), (U64::from(1), U64::from(to))).await.unwrap();
    let numbers: HashMap<B256, u64> =
        trace.bindings.anchors.iter().map(|anchor| (anchor.hash, anchor.number.to())).collect();
    let mut blocks = Vec::new();
    for block in 1..=to {
        let header = l2.get_block_by_number(block.into()).await.unwrap().unwrap().header;
        let anchor = header.parent_beacon_block_root.unwrap();
        let l1_number =
            *numbers.get(&anchor).unwrap_or_else(|| panic!("block {block}'s anchor is not bound"));
        blocks.push(Anchored { block, timestamp: header.timestamp, anchor, l1_number });
    }
    let mut distinct: Vec<B256> = blocks.iter().map(|block| block.anchor).collect();
    distinct.dedup();
    assert_eq!(trace.bindings.anchors.iter().map(|anchor| anchor.hash).collect::<Vec<_>>(), distinct);
    (blocks, trace)
}

/// Anchors never go back, and timestamps rise block by block.
fn assert_monotonic(blocks: &[Anchored]) {
    for pair in blocks.windows(2) {
        assert!(pair[0].l1_number <= pair[1].l1_number, "the anchor went back: {pair:?}");
        assert!(pair[0].timestamp < pair[1].timestamp, "timestamps do not rise: {pair:?}");
    }
}

/// The parent beacon block root of L2 block `number`.
async fn anchor_of(l2: &RootProvider, number: u64) -> B256 {
    l2.get_block_by_number(number.into()).await.unwrap().unwrap().header.parent_beacon_block_root.unwrap()
}

/// Waits for the first L2 block after `after` whose anchor passes `check`, and returns its
/// number; fails after 20 s.
async fn wait_anchor(l2: &RootProvider, after: u64, check: impl Fn(B256) -> bool) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut number = after + 1;
    loop {
        wait_block(l2, number).await;
        if check(anchor_of(l2, number).await) {
            return number;
        }
        assert!(Instant::now() < deadline, "no block after {after} with the anchor awaited within 20 s");
        number += 1;
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A loopback address nothing listens on (yet).
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

async fn launch_following(
    dir: &std::path::Path,
    database_url: Option<String>,
    l1: SocketAddr,
    confirmations: u64,
) -> Node {
    let config = following_config(dir, database_url, l1, confirmations);
    Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_blocks_anchor_to_confirmed_l1_blocks_and_traces_name_their_numbers() {
    let (l1_dir, l2_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1_node = launch_l1(l1_dir.path()).await;
    let l1 = provider(&l1_node);
    let l2_node = launch_following(l2_dir.path(), None, l1_node.rpc_addr, CONFIRMATIONS).await;
    let l2 = provider(&l2_node);
    assert_eq!(anchor_of(&l2, 0).await, B256::ZERO, "the genesis block is not anchored");

    // Each block, read once sealed: not ahead of the clock, and the L1 head then read bounds
    // its anchor. Until the anchor has moved at least once.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut l1_heads = Vec::new();
    let mut number = 1;
    loop {
        wait_block(&l2, number).await;
        let l1_head = l1.get_block_number().await.unwrap();
        let header = l2.get_block_by_number(number.into()).await.unwrap().unwrap().header;
        assert!(header.timestamp <= unix_now(), "block {number} is ahead of the clock");
        l1_heads.push(l1_head);
        if number >= 3 && header.parent_beacon_block_root != Some(anchor_of(&l2, 1).await) {
            break;
        }
        assert!(Instant::now() < deadline, "the anchor did not move within 30 s");
        number += 1;
    }

    let (blocks, trace) = anchored(&l2, number).await;
    assert_monotonic(&blocks);
    for (block, l1_head) in blocks.iter().zip(l1_heads) {
        assert_ne!(block.anchor, B256::ZERO, "block {} is not anchored", block.block);
        let l1_block =
            l1.get_block_by_number(BlockNumberOrTag::Number(block.l1_number)).await.unwrap().unwrap();
        assert_eq!(
            l1_block.header.hash, block.anchor,
            "block {}: not the L1 block of its number",
            block.block
        );
        // The L1's genesis block counts as confirmed while the L1 is shorter than that.
        assert!(
            block.l1_number <= l1_head.saturating_sub(CONFIRMATIONS),
            "block {} anchors to L1 block {}, not confirmed at L1 head {l1_head}",
            block.block,
            block.l1_number
        );
    }
    assert!(trace.bindings.anchors.len() >= 2);

    // The anchored batch verifies through the L1's EXECUTE, anchors bound.
    let request = alloy_rpc_types_eth::TransactionRequest::default()
        .to(trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS)
        .input(trace.execute_input.into());
    assert_eq!(l1.call(request).await.unwrap(), Bytes::from(U256::from(1).to_be_bytes::<32>()));
    l2_node.stop().await;
    l1_node.stop().await;
}

/// A fresh L2 whose L1 is down when it starts seals nothing until the L1 first answers (such
/// a block could never settle); an L1 that goes down later never stops block production:
/// blocks keep the last anchor and the follower keeps asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l2_seals_blocks_while_its_l1_is_down_and_anchors_once_it_answers() {
    let (l1_dir, l2_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1_addr = free_addr();
    let l2_node = launch_following(l2_dir.path(), None, l1_addr, CONFIRMATIONS).await;
    let l2 = provider(&l2_node);
    // Several block times pass with no L1: nothing is sealed.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(l2.get_block_number().await.unwrap(), 0, "a block was sealed before the L1 answered");

    let l1_node = launch_l1_at(l1_dir.path(), l1_addr).await;
    let first_anchored = wait_anchor(&l2, 0, |anchor| !anchor.is_zero()).await;
    assert_eq!(first_anchored, 1, "the first block is anchored");

    l1_node.stop().await;
    // Every block sealed from here on was built after the L1 stopped answering (one block of
    // slack for a round the follower had under way).
    let stopped_at = l2.get_block_number().await.unwrap().max(first_anchored) + 1;
    wait_block(&l2, stopped_at + 3).await;
    let (blocks, _) = anchored(&l2, stopped_at + 3).await;
    assert_monotonic(&blocks);
    // Blocks are numbered from 1 in `blocks`: these are stopped_at + 1 and after.
    let after_stop = &blocks[stopped_at as usize..];
    let kept = after_stop[0];
    assert_ne!(kept.anchor, B256::ZERO);
    for block in after_stop {
        assert_eq!(block.anchor, kept.anchor, "block {} moved its anchor with the L1 down", block.block);
    }
    assert!(blocks.iter().all(|block| !block.anchor.is_zero()), "an unanchored block was sealed");
    l2_node.stop().await;
}

/// A restarted L2 goes on from the anchor its head recorded: with an L1 that confirms an older
/// block (more confirmations asked), new blocks keep the head's anchor.
async fn a_restart_keeps_the_anchors_monotonic(database_url: Option<String>) {
    let (l1_dir, l2_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1_node = launch_l1(l1_dir.path()).await;
    let l2_node =
        launch_following(l2_dir.path(), database_url.clone(), l1_node.rpc_addr, CONFIRMATIONS).await;
    let l2 = provider(&l2_node);
    // An anchor past the L1's first blocks, so that an older one exists.
    let l1 = provider(&l1_node);
    let deadline = Instant::now() + Duration::from_secs(20);
    while l1.get_block_number().await.unwrap() < 2 * CONFIRMATIONS + 1 {
        assert!(Instant::now() < deadline, "the dev L1 stopped producing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let l1_genesis = l1.get_block_by_number(BlockNumberOrTag::Number(0)).await.unwrap().unwrap().header.hash;
    wait_anchor(&l2, 0, |anchor| !anchor.is_zero() && anchor != l1_genesis).await;
    let heads = l2_node.head.clone();
    l2_node.stop().await;
    let head = heads.borrow().number;

    // So many confirmations that the L1 now confirms its genesis block, older than the head's anchor.
    let l2_node = launch_following(l2_dir.path(), database_url, l1_node.rpc_addr, 1_000).await;
    let l2 = provider(&l2_node);
    wait_block(&l2, head + 2).await;
    let (blocks, _) = anchored(&l2, head + 2).await;
    assert_monotonic(&blocks);
    // Blocks are numbered from 1 in `blocks`: `before` is the head before the restart.
    let before = blocks[head as usize - 1];
    assert!(before.l1_number > 0);
    for block in &blocks[head as usize..] {
        assert_eq!(block.anchor, before.anchor, "block {} after the restart", block.block);
    }
    l2_node.stop().await;
    l1_node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_sqlite_keeps_the_anchors_monotonic() {
    a_restart_keeps_the_anchors_monotonic(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_postgres_keeps_the_anchors_monotonic() {
    let server = PgServer::start();
    a_restart_keeps_the_anchors_monotonic(Some(server.fresh_database().await)).await;
}

/// An L1 whose chain id is not `l1.chain_id` stops the node at start, with a message naming
/// the key and both chain ids, before it writes its database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_of_another_chain_is_refused_at_start() {
    let (l1_dir, l2_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1_node = launch_l1(l1_dir.path()).await;
    let mut config = following_config(l2_dir.path(), None, l1_node.rpc_addr, CONFIRMATIONS);
    config.l1.chain_id = Some(901);
    let error = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap_err().to_string();
    assert!(error.contains("l1.chain_id") && error.contains("900") && error.contains("901"), "{error}");
    assert!(!l2_dir.path().join("chain.sqlite").exists(), "the refused node wrote its database");
    l1_node.stop().await;
}
