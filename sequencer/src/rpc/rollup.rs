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
use alloy_primitives::U64;
pub use batcher::rollup_api::{TraceAnchor, TraceBindings, TraceResponse};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use trace_builder::precompile::encode_bound_call;

/// The most blocks one `rollup_getTrace` call covers.
pub const MAX_TRACE_BLOCKS: u64 = 1024;

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
