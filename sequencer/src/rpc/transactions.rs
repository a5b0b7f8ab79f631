//! Transactions: submitting them, and finding them (by hash or by position in a block) with
//! their receipts, mined or pooled.

use super::{
    convert,
    error::RpcError,
    eth::{Admission, EthRpc},
};
use crate::store::{BlockReader, TransactionReader};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_eth::{Index, Transaction, TransactionReceipt};
use jsonrpsee::{core::async_trait, proc_macros::rpc};

/// Transactions and receipts.
#[rpc(server, namespace = "eth")]
pub trait EthTransactionsApi {
    /// Submits a signed transaction; returns its hash.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, RpcError>;
    /// A transaction by hash (pooled or mined).
    #[method(name = "getTransactionByHash")]
    async fn transaction_by_hash(&self, hash: B256) -> Result<Option<Transaction>, RpcError>;
    /// The receipt of a mined transaction.
    #[method(name = "getTransactionReceipt")]
    async fn transaction_receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, RpcError>;
    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    async fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError>;
    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError>;
    /// The EIP-2718 bytes of a transaction, mined or pooled.
    #[method(name = "getRawTransactionByHash")]
    async fn raw_transaction_by_hash(&self, hash: B256) -> Result<Option<Bytes>, RpcError>;
}

#[async_trait]
impl EthTransactionsApiServer for EthRpc {
    async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, RpcError> {
        self.submit(raw, Admission::Any).await
    }

    async fn transaction_by_hash(&self, hash: B256) -> Result<Option<Transaction>, RpcError> {
        if let Some(stored) = self.store.transaction(hash).await? {
            let header = self.store.header_by_number(stored.block_number).await?;
            return Ok(header.map(|header| {
                let hash = header.hash_slow();
                convert::mined_transaction(&stored, &header, hash)
            }));
        }
        Ok(self.mempool.get(&hash).map(convert::pending_transaction))
    }

    async fn transaction_receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, RpcError> {
        let Some(stored) = self.store.transaction(hash).await? else { return Ok(None) };
        let Some(header) = self.store.header_by_number(stored.block_number).await? else {
            return Ok(None);
        };
        // Only a receipt with logs needs where its logs start in the block.
        let first_log_index = if stored.record.receipt.logs().is_empty() {
            0
        } else {
            let first = self.store.first_log_index(stored.block_number, stored.index).await?;
            first.ok_or(RpcError::MissingLogs(hash))?
        };
        Ok(Some(convert::receipt(&header, header.hash_slow(), &stored, first_log_index)))
    }

    async fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError> {
        self.transaction_at(BlockId::from(hash), index.0).await
    }

    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError> {
        self.transaction_at(BlockId::Number(number), index.0).await
    }

    async fn raw_transaction_by_hash(&self, hash: B256) -> Result<Option<Bytes>, RpcError> {
        if let Some(stored) = self.store.transaction(hash).await? {
            return Ok(Some(stored.record.raw));
        }
        Ok(self.mempool.get(&hash).map(|tx| tx.inner().encoded_2718().into()))
    }
}
