//! `rollup_status`: where the chain stands against its L1, in one answer an operator or a
//! dashboard reads: the L2's head, safe and finalized blocks, the L1 it follows, the bridge that
//! settles it, the key that proposes and the newest batch. It answers from what the L1 and
//! bridge followers last read (and one read of the store), so that no request reaches the L1.

use super::{BlockTags, error::RpcError};
use crate::{
    bridge_follower::{BatchState, SettledL2},
    builder::ChainHead,
    config::SettlementMode,
    l1_follower::L1LinkStatus,
    store::{BlockReader, Store},
};
use alloy_primitives::{Address, B256, U64, U256};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// `rollup_status`.
#[rpc(server, namespace = "rollup")]
pub trait RollupStatusApi {
    /// Where the chain stands against its L1 and its bridge.
    #[method(name = "status")]
    async fn status(&self) -> Result<RollupStatus, RpcError>;
}

/// The `rollup_status` answer. `l1` is `null` on a node that follows no L1; `bridge`,
/// `batcher` and `lastBatch` are `null` on one that follows no bridge, and `batcher` and
/// `lastBatch` before the bridge took any batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupStatus {
    /// The L2's block tags.
    pub l2: L2Status,
    /// The L1 the node follows.
    pub l1: Option<L1Status>,
    /// The bridge that settles the chain.
    pub bridge: Option<BridgeStatus>,
    /// The key that proposes batches.
    pub batcher: Option<BatcherStatus>,
    /// The newest batch handed to the bridge.
    pub last_batch: Option<LastBatchStatus>,
}

/// The L2's `latest`, `safe` and `finalized` blocks, as every method taking a block tag
/// resolves them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L2Status {
    /// The newest sealed block.
    pub head: U64,
    /// The `safe` block.
    pub safe: U64,
    /// The `finalized` block.
    pub finalized: U64,
}

/// The L1 as the L1 follower last read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Status {
    /// The chain id the L1 answered (`l1.chain_id` until it has); `null` when neither is known.
    pub chain_id: Option<U64>,
    /// The L1 head last read; `null` until one was.
    pub head: Option<U64>,
    /// Whether the follower's last read reached the L1.
    pub reachable: bool,
}

/// The bridge as the bridge follower last read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeStatus {
    /// `l1.bridge_address`.
    pub address: Address,
    /// `l1.settlement`, which the bridge's own mode was checked against.
    pub mode: SettlementMode,
    /// Its settled head at the L1's newest block; `null` until it was read.
    pub head: Option<BridgeHeadStatus>,
    /// The L2 bridge predeploy that carries its messages; `null` when the genesis has none
    /// for it.
    #[serde(rename = "l2Bridge")]
    pub l2_bridge: Option<Address>,
}

/// The bridge's settled head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BridgeHeadStatus {
    /// The L2 block number.
    pub number: U64,
    /// The L2 block's hash.
    pub block_hash: B256,
    /// The L2 block's state root.
    pub state_root: B256,
}

/// The key that proposes batches: the bridge's `sequencer()`, or when anyone bonded may
/// propose, the newest batch's proposer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatcherStatus {
    /// Its address.
    pub address: Address,
    /// Its balance on the L1, in wei; `null` until read.
    pub balance: Option<U256>,
}

/// The newest batch handed to the bridge: its newest `BatchSettled` (native mode) or
/// `ClaimProposed` (optimistic mode) event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastBatchStatus {
    /// Its first L2 block; `null` when its L1 transaction did not call the bridge directly, or
    /// builds on a block this node does not hold.
    pub first_block: Option<U64>,
    /// Its last L2 block.
    pub last_block: U64,
    /// The L1 transaction that carried it.
    pub l1_transaction: B256,
    /// The L1 block that transaction is in.
    pub l1_block: U64,
    /// The versioned hashes of that transaction's blobs (empty: the trace was in calldata).
    pub blobs: Vec<B256>,
    /// `settled`, `claimed` (optimistic mode: pending) or `removed` (optimistic mode: a
    /// challenge removed it).
    pub state: BatchState,
}

/// The L1 an L2 node follows, as `rollup_status` reads it.
#[derive(Clone, Debug)]
pub struct FollowedL1 {
    /// `l1.chain_id`.
    pub configured_chain_id: Option<u64>,
    /// The L1 follower's link.
    pub link: watch::Receiver<L1LinkStatus>,
}

/// The bridge an L2 node follows, as `rollup_status` reads it.
#[derive(Clone, Debug)]
pub struct FollowedBridge {
    /// `l1.bridge_address`.
    pub address: Address,
    /// `l1.settlement`.
    pub mode: SettlementMode,
    /// What the bridge follower read.
    pub settled: SettledL2,
    /// The L2 bridge predeploy, when the genesis has one for this bridge.
    pub l2_bridge: Option<Address>,
}

/// `rollup_status` over the node's published state.
#[derive(Clone, Debug)]
pub struct RollupStatusRpc {
    store: Store,
    head: watch::Receiver<ChainHead>,
    tags: BlockTags,
    l1: Option<FollowedL1>,
    bridge: Option<FollowedBridge>,
}

impl RollupStatusRpc {
    /// The method for a node whose head `head` publishes, with its block tags `tags`, its L1
    /// and its bridge when it follows them.
    pub fn new(
        store: Store,
        head: watch::Receiver<ChainHead>,
        tags: BlockTags,
        l1: Option<FollowedL1>,
        bridge: Option<FollowedBridge>,
    ) -> Self {
        Self { store, head, tags, l1, bridge }
    }
}

#[async_trait]
impl RollupStatusApiServer for RollupStatusRpc {
    async fn status(&self) -> Result<RollupStatus, RpcError> {
        let head = self.head.borrow().number;
        let (safe, finalized) = self.tags.safe_and_finalized(head);
        let l2 = L2Status { head: U64::from(head), safe: U64::from(safe), finalized: U64::from(finalized) };
        let l1 = self.l1.as_ref().map(|l1| {
            let link = *l1.link.borrow();
            L1Status {
                chain_id: link.chain_id.or(l1.configured_chain_id).map(U64::from),
                head: link.head.map(U64::from),
                reachable: link.reachable,
            }
        });
        let Some(bridge) = &self.bridge else {
            return Ok(RollupStatus { l2, l1, bridge: None, batcher: None, last_batch: None });
        };
        let view = bridge.settled.view();
        let head = view.as_ref().map(|view| BridgeHeadStatus {
            number: U64::from(view.head.number),
            block_hash: view.head.block_hash,
            state_root: view.head.state_root,
        });
        let batcher = view.as_ref().and_then(|view| {
            view.batcher.map(|address| BatcherStatus { address, balance: view.batcher_balance })
        });
        let last_batch = match view.and_then(|view| view.last_batch) {
            Some(batch) => {
                let parent = match batch.parent_block_hash {
                    Some(hash) => self.store.header_by_hash(hash).await?,
                    None => None,
                };
                Some(LastBatchStatus {
                    first_block: parent.map(|parent| U64::from(parent.number + 1)),
                    last_block: U64::from(batch.last_number),
                    l1_transaction: batch.l1_transaction,
                    l1_block: U64::from(batch.l1_block),
                    blobs: batch.blobs,
                    state: batch.state,
                })
            }
            None => None,
        };
        Ok(RollupStatus {
            l2,
            l1,
            bridge: Some(BridgeStatus {
                address: bridge.address,
                mode: bridge.mode,
                head,
                l2_bridge: bridge.l2_bridge,
            }),
            batcher,
            last_batch,
        })
    }
}
