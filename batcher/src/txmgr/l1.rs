//! The L1 requests the manager makes, each bounded by the network timeout, their failures
//! typed.

use super::{FeeQuote, Rejection, TxManagerError};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{Provider, RootProvider, transport::TransportResult};
use alloy_rpc_types_eth::TransactionReceipt;
use std::{future::IntoFuture, time::Duration};

/// The L1 node, over an alloy provider, every request bounded by `timeout`.
#[derive(Clone, Debug)]
pub(crate) struct L1 {
    provider: RootProvider,
    timeout: Duration,
}

impl L1 {
    /// The node behind `provider`, each request given `timeout`.
    pub(crate) fn new(provider: RootProvider, timeout: Duration) -> Self {
        Self { provider, timeout }
    }

    /// Runs `request` within the timeout.
    async fn call<T>(
        &self,
        method: &'static str,
        request: impl IntoFuture<Output = TransportResult<T>>,
    ) -> Result<T, TxManagerError> {
        match tokio::time::timeout(self.timeout, request).await {
            Err(_) => Err(TxManagerError::Timeout { method, after: self.timeout }),
            Ok(Err(error)) => Err(TxManagerError::Rpc { method, message: error.to_string() }),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// The chain id.
    pub(crate) async fn chain_id(&self) -> Result<u64, TxManagerError> {
        self.call("eth_chainId", self.provider.get_chain_id()).await
    }

    /// What the next block asks: its base fee, the suggested tip, and with `blobs` its blob
    /// base fee.
    pub(crate) async fn fee_quote(&self, blobs: bool) -> Result<FeeQuote, TxManagerError> {
        const FEE_HISTORY: &str = "eth_feeHistory";
        let history =
            self.call(FEE_HISTORY, self.provider.get_fee_history(1, BlockNumberOrTag::Latest, &[])).await?;
        let base_fee = history
            .next_block_base_fee()
            .ok_or(TxManagerError::Malformed { method: FEE_HISTORY, what: "the next block's base fee" })?;
        let tip = self.call("eth_maxPriorityFeePerGas", self.provider.get_max_priority_fee_per_gas()).await?;
        let blob_base_fee =
            if blobs { self.call("eth_blobBaseFee", self.provider.get_blob_base_fee()).await? } else { 0 };
        Ok(FeeQuote { base_fee, tip, blob_base_fee })
    }

    /// The sender's nonce counting its pooled transactions.
    pub(crate) async fn pending_nonce(&self, address: Address) -> Result<u64, TxManagerError> {
        self.call("eth_getTransactionCount", self.provider.get_transaction_count(address).pending()).await
    }

    /// The sender's nonce at the head: how many of its transactions are in blocks.
    pub(crate) async fn latest_nonce(&self, address: Address) -> Result<u64, TxManagerError> {
        self.call("eth_getTransactionCount", self.provider.get_transaction_count(address).latest()).await
    }

    /// The sender's balance at the head.
    pub(crate) async fn balance(&self, address: Address) -> Result<U256, TxManagerError> {
        self.call("eth_getBalance", self.provider.get_balance(address).latest()).await
    }

    /// The head's number.
    pub(crate) async fn head(&self) -> Result<u64, TxManagerError> {
        self.call("eth_blockNumber", self.provider.get_block_number()).await
    }

    /// The hash of the chain's block at `number`, if the chain is that long.
    pub(crate) async fn block_hash(&self, number: u64) -> Result<Option<B256>, TxManagerError> {
        let block = self
            .call("eth_getBlockByNumber", self.provider.get_block_by_number(BlockNumberOrTag::Number(number)))
            .await?;
        Ok(block.map(|block| block.header.hash))
    }

    /// The receipt of `hash`, if it is in a block.
    pub(crate) async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, TxManagerError> {
        self.call("eth_getTransactionReceipt", self.provider.get_transaction_receipt(hash)).await
    }

    /// Broadcasts `raw`: `Ok(Ok(()))` when the node took it, `Ok(Err(_))` when it refused it
    /// (a JSON-RPC error answer), `Err(_)` when it could not be asked.
    pub(crate) async fn send_raw(&self, raw: &[u8]) -> Result<Result<(), Rejection>, TxManagerError> {
        const METHOD: &str = "eth_sendRawTransaction";
        match tokio::time::timeout(self.timeout, self.provider.send_raw_transaction(raw)).await {
            Err(_) => Err(TxManagerError::Timeout { method: METHOD, after: self.timeout }),
            Ok(Ok(_)) => Ok(Ok(())),
            Ok(Err(error)) => match error.as_error_resp() {
                Some(payload) => Ok(Err(Rejection::new(payload.code, payload.message.to_string()))),
                None => Err(TxManagerError::Rpc { method: METHOD, message: error.to_string() }),
            },
        }
    }
}
