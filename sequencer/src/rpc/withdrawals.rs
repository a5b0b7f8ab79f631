//! `rollup_getWithdrawalProof`: everything a wallet needs to claim a withdrawal (a message the
//! L2 bridge sent to L1) with one L1 transaction, once the bridge settled a block at or past
//! the one it was sent in (docs/messaging.md).

use super::{FollowedBridge, error::RpcError, executions::blocking};
use crate::store::{BlockReader, DbNodeStore, Store, TransactionReader};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_sol_types::{SolCall, SolEvent};
use batcher::{
    bridge::NativeRollupBridge,
    messages::{Direction, L2_BRIDGE_ADDRESS, L2Bridge, MessageFields},
};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use serde::{Deserialize, Serialize};
use trace_builder::state_trie::StateTrie;

/// `rollup_getWithdrawalProof`.
#[rpc(server, namespace = "rollup")]
pub trait RollupWithdrawalsApi {
    /// The proof of the `index`-th message to L1 (0 when absent) that transaction `txHash` sent
    /// through the L2 bridge, against the bridge's settled head, and the L1 call that claims it.
    #[method(name = "getWithdrawalProof")]
    async fn withdrawal_proof(&self, tx_hash: B256, index: Option<U64>) -> Result<WithdrawalProof, RpcError>;
}

/// A ready L1 call: a wallet signs and sends it as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Call {
    /// The L1 bridge.
    pub to: Address,
    /// `relayMessage(message, l2Block, accountProof, storageProof)`.
    pub data: Bytes,
    /// Always zero.
    pub value: U256,
}

/// The `rollup_getWithdrawalProof` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalProof {
    /// `settled`: the claim below is ready; `pending`: the bridge has not settled `block` yet.
    pub status: WithdrawalStatus,
    /// The message's hash: its storage slot in the L2 bridge, and its key on L1.
    pub message_hash: B256,
    /// The message.
    pub message: MessageFields,
    /// The L2 block the message was sent in: the bridge must settle it (or a later block).
    pub block: U64,
    /// The settled L2 block the proofs are against; `null` while pending.
    pub settled_block: Option<U64>,
    /// Its state root, as the bridge settled it; `null` while pending.
    pub state_root: Option<B256>,
    /// The L2 bridge's account proof at `settledBlock`; empty while pending.
    pub account_proof: Vec<Bytes>,
    /// The proof of the message's storage slot; empty while pending.
    pub storage_proof: Vec<Bytes>,
    /// The L1 transaction that claims it; `null` while pending.
    pub claim: Option<L1Call>,
}

/// Whether a withdrawal can be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WithdrawalStatus {
    /// The bridge settled its block: the claim is ready.
    Settled,
    /// Not settled yet: wait for `block` to settle.
    Pending,
}

/// `rollup_getWithdrawalProof` over the store and the followed bridge.
#[derive(Clone, Debug)]
pub struct WithdrawalProofRpc {
    chain_id: u64,
    store: Store,
    nodes: DbNodeStore,
    /// The bridge the node follows, when its genesis has the L2 bridge for it.
    bridge: Option<FollowedBridge>,
}

impl WithdrawalProofRpc {
    /// The method for chain `chain_id`; `bridge` is `None` on a node that follows no bridge or
    /// whose genesis has no L2 bridge for it.
    pub fn new(chain_id: u64, store: Store, nodes: DbNodeStore, bridge: Option<FollowedBridge>) -> Self {
        Self { chain_id, store, nodes, bridge }
    }
}

#[async_trait]
impl RollupWithdrawalsApiServer for WithdrawalProofRpc {
    async fn withdrawal_proof(&self, tx_hash: B256, index: Option<U64>) -> Result<WithdrawalProof, RpcError> {
        let Some(bridge) = &self.bridge else {
            return Err(RpcError::NoMessaging);
        };
        let index = index.map_or(0, |index| index.to::<usize>());
        let stored = self
            .store
            .transaction(tx_hash)
            .await?
            .ok_or_else(|| RpcError::InvalidParams(format!("no mined transaction {tx_hash}")))?;
        let message = stored
            .record
            .receipt
            .logs()
            .iter()
            .filter(|log| log.address == L2_BRIDGE_ADDRESS)
            .filter_map(|log| L2Bridge::MessageSent::decode_log_data(&log.data).ok())
            .nth(index)
            .ok_or_else(|| {
                RpcError::InvalidParams(format!(
                    "transaction {tx_hash} sent no message to L1 at index {index}"
                ))
            })?;
        let fields = MessageFields::from(&message);
        let message_hash = fields.hash(Direction::L2ToL1, self.chain_id);
        let block = stored.block_number;
        let mut answer = WithdrawalProof {
            status: WithdrawalStatus::Pending,
            message_hash,
            message: fields.clone(),
            block: U64::from(block),
            settled_block: None,
            state_root: None,
            account_proof: Vec::new(),
            storage_proof: Vec::new(),
            claim: None,
        };
        // The bridge's head as last read: a settlement at or past the message's block.
        let Some(head) = bridge.settled.view().map(|view| view.head).filter(|head| head.number >= block)
        else {
            return Ok(answer);
        };
        let header = self.store.header_by_number(head.number).await?.ok_or_else(|| {
            RpcError::SettlementMismatch(format!(
                "the bridge settled block {}, which this node lacks",
                head.number
            ))
        })?;
        if header.state_root != head.state_root {
            return Err(RpcError::SettlementMismatch(format!(
                "the bridge settled block {} with state root {}, this node has {}",
                head.number, head.state_root, header.state_root
            )));
        }
        let nodes = self.nodes.clone();
        let root = header.state_root;
        let slot = U256::from_be_bytes(message_hash.0);
        let proof = blocking(move || StateTrie::new(nodes, root).proof(L2_BRIDGE_ADDRESS, &[slot])).await?;
        let storage_proof = proof.storage.into_iter().next().map(|slot| slot.proof).unwrap_or_default();
        let call = NativeRollupBridge::relayMessageCall {
            message: fields.to_l1(),
            l2Block: head.number,
            accountProof: proof.account_proof.clone(),
            storageProof: storage_proof.clone(),
        };
        answer.status = WithdrawalStatus::Settled;
        answer.settled_block = Some(U64::from(head.number));
        answer.state_root = Some(root);
        answer.account_proof = proof.account_proof;
        answer.storage_proof = storage_proof;
        answer.claim = Some(L1Call { to: bridge.address, data: call.abi_encode().into(), value: U256::ZERO });
        Ok(answer)
    }
}
