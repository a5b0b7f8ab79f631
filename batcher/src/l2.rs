//! The L2 as the batcher reads it: its head, its blocks' timestamps and hashes, and batch
//! traces (`rollup_getTrace`), over the L2 node's JSON-RPC. The same interface serves a
//! batcher in the sequencer's process and one running on its own.

use crate::{
    rollup_api::TraceResponse,
    service::policy::{BlockSource, BlockSummary},
};
use alloy_primitives::U64;
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use url::Url;

/// The L2 could not be read.
#[derive(Debug, thiserror::Error)]
pub enum L2Error {
    /// The node did not answer, or answered an error.
    #[error("the L2 node: {0}")]
    Rpc(#[from] alloy_transport::TransportError),
    /// A block the node's head covers is missing.
    #[error("the L2 node has no block {0}")]
    MissingBlock(u64),
}

/// An L2 node's JSON-RPC.
#[derive(Clone, Debug)]
pub struct L2Client {
    provider: RootProvider,
}

impl L2Client {
    /// The node at `url`.
    pub fn connect_http(url: Url) -> Self {
        Self { provider: ProviderBuilder::default().connect_http(url) }
    }

    /// The newest sealed block's number.
    pub async fn head(&self) -> Result<u64, L2Error> {
        Ok(self.provider.get_block_number().await?)
    }

    /// The trace of blocks `from..=to`.
    pub async fn trace(&self, from: u64, to: u64) -> Result<TraceResponse, L2Error> {
        Ok(self.provider.raw_request("rollup_getTrace".into(), (U64::from(from), U64::from(to))).await?)
    }
}

impl BlockSource for L2Client {
    async fn summary(&self, number: u64) -> Result<BlockSummary, L2Error> {
        let block =
            self.provider.get_block_by_number(number.into()).await?.ok_or(L2Error::MissingBlock(number))?;
        Ok(BlockSummary {
            timestamp: block.header.timestamp,
            gas_used: block.header.gas_used,
            size: block.header.size.and_then(|size| u64::try_from(size).ok()),
        })
    }

    async fn trace(&self, from: u64, to: u64) -> Result<TraceResponse, L2Error> {
        L2Client::trace(self, from, to).await
    }
}
