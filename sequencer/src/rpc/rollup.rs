//! The `rollup_` namespace: what the batcher and anyone checking the chain against L1 need
//! beyond `eth_`.

use super::{
    error::RpcError,
    executions::{Executions, client_of},
};
use crate::{
    batch_trace,
    store::{DbNodeStore, Store},
};
use alloy_primitives::{B256, Bytes, U64};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use serde::{Deserialize, Serialize};
use trace_builder::{Bindings, precompile::encode_bound_call};

/// The most blocks one `rollup_getTrace` call covers.
pub const MAX_TRACE_BLOCKS: u64 = 1024;

/// A batch's trace with the claims EXECUTE checks it against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceResponse {
    /// State root before the first block.
    pub pre_state_root: B256,
    /// State root after the last block.
    pub post_state_root: B256,
    /// Gas used by the batch.
    pub gas_used: U64,
    /// The trace's bytes (docs/trace-format.md).
    pub trace: Bytes,
    /// What a bridge pins of the batch, checked by EXECUTE's bound form.
    pub bindings: TraceBindings,
    /// The whole call data of EXECUTE's bound form in calldata mode (selector, claims,
    /// bindings, trace): one `eth_call` of it to an L1's EXECUTE checks the batch.
    pub execute_input: Bytes,
}

/// The bindings of a batch (docs/trace-format.md, "Bindings").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceBindings {
    /// The L2's chain id.
    pub chain_id: U64,
    /// Hash of the batch's parent block.
    pub parent_block_hash: B256,
    /// Hash of the batch's last block.
    pub last_block_hash: B256,
    /// Number of the batch's last block.
    pub last_number: U64,
    /// Timestamp of the batch's last block.
    pub last_timestamp: U64,
    /// The distinct L1 anchors of the batch's blocks, in order.
    pub anchors: Vec<TraceAnchor>,
}

/// An L1 anchor of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceAnchor {
    /// Its L1 block number (0 for the zero anchor of blocks sealed without an L1).
    pub number: U64,
    /// Its L1 block hash.
    pub hash: B256,
}

impl From<&Bindings> for TraceBindings {
    fn from(bindings: &Bindings) -> Self {
        Self {
            chain_id: U64::from(bindings.chain_id),
            parent_block_hash: bindings.parent_block_hash,
            last_block_hash: bindings.last_block_hash,
            last_number: U64::from(bindings.last_number),
            last_timestamp: U64::from(bindings.last_timestamp),
            anchors: bindings
                .anchors
                .iter()
                .map(|anchor| TraceAnchor { number: U64::from(anchor.number), hash: anchor.hash })
                .collect(),
        }
    }
}

/// `rollup_` methods.
#[rpc(server, namespace = "rollup")]
pub trait RollupApi {
    /// The trace of blocks `fromBlock..=toBlock`.
    #[method(name = "getTrace", with_extensions)]
    async fn get_trace(&self, from_block: U64, to_block: U64) -> Result<TraceResponse, RpcError>;
}

/// The `rollup_` namespace over the store.
#[derive(Clone, Debug)]
pub struct RollupRpc {
    chain_id: u64,
    store: Store,
    nodes: DbNodeStore,
    /// Admission of heavy requests, shared with `eth_call` and the like.
    executions: Executions,
}

impl RollupRpc {
    /// The namespace for chain `chain_id`; traces are built under `executions`' limits (see
    /// [`crate::rpc::EthRpc::executions`]).
    pub fn new(chain_id: u64, store: Store, nodes: DbNodeStore, executions: Executions) -> Self {
        Self { chain_id, store, nodes, executions }
    }
}

#[async_trait]
impl RollupApiServer for RollupRpc {
    async fn get_trace(
        &self,
        ext: &jsonrpsee::Extensions,
        from_block: U64,
        to_block: U64,
    ) -> Result<TraceResponse, RpcError> {
        let (from, to) = (from_block.to::<u64>(), to_block.to::<u64>());
        if to.saturating_sub(from) >= MAX_TRACE_BLOCKS {
            return Err(RpcError::InvalidParams(format!("a trace covers at most {MAX_TRACE_BLOCKS} blocks")));
        }
        // Up to 1,024 blocks of records replayed on the trie: admitted as a heavy call, held
        // until the trace is built.
        let _permit = self.executions.permit(client_of(ext)).await?;
        let batch = batch_trace::build(&self.store, &self.nodes, self.chain_id, from, to).await?;
        let trace = batch.trace.encode();
        let execute_input = encode_bound_call(
            batch.pre_state_root,
            batch.post_state_root,
            batch.gas_used,
            &batch.bindings,
            &trace,
        );
        Ok(TraceResponse {
            pre_state_root: batch.pre_state_root,
            post_state_root: batch.post_state_root,
            gas_used: U64::from(batch.gas_used),
            trace: trace.into(),
            bindings: TraceBindings::from(&batch.bindings),
            execute_input,
        })
    }
}
