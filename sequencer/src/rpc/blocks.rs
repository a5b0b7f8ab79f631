//! Block and transaction lookups beyond the node core's: receipts of a block, counts,
//! transactions by position, raw transactions, and the constant answers of a sequencer
//! (`eth_syncing`, `eth_accounts`, uncles).

use super::{convert, error::RpcError, eth::EthRpc};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_primitives::{Address, B256, Bytes, U64};
use alloy_rpc_types_eth::{Index, SyncStatus, Transaction, TransactionReceipt};
use jsonrpsee::{core::async_trait, proc_macros::rpc};

/// Block and transaction lookups.
#[rpc(server, namespace = "eth")]
pub trait EthBlocksApi {
    /// The receipts of every transaction of a block.
    #[method(name = "getBlockReceipts")]
    async fn block_receipts(&self, block: BlockId) -> Result<Option<Vec<TransactionReceipt>>, RpcError>;
    /// Number of transactions in a block, by hash.
    #[method(name = "getBlockTransactionCountByHash")]
    async fn transaction_count_by_hash(&self, hash: B256) -> Result<Option<U64>, RpcError>;
    /// Number of transactions in a block, by number.
    #[method(name = "getBlockTransactionCountByNumber")]
    async fn transaction_count_by_number(&self, number: BlockNumberOrTag) -> Result<Option<U64>, RpcError>;
    /// Number of uncles of a block by hash: always zero after the merge.
    #[method(name = "getUncleCountByBlockHash")]
    async fn uncle_count_by_hash(&self, hash: B256) -> Result<Option<U64>, RpcError>;
    /// Number of uncles of a block by number: always zero after the merge.
    #[method(name = "getUncleCountByBlockNumber")]
    async fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> Result<Option<U64>, RpcError>;
    /// An uncle by block hash and index: none after the merge.
    #[method(name = "getUncleByBlockHashAndIndex")]
    async fn uncle_by_hash_and_index(&self, hash: B256, index: Index) -> Result<Option<()>, RpcError>;
    /// An uncle by block number and index: none after the merge.
    #[method(name = "getUncleByBlockNumberAndIndex")]
    async fn uncle_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> Result<Option<()>, RpcError>;
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
    /// The sequencer makes the chain; it never syncs.
    #[method(name = "syncing")]
    async fn syncing(&self) -> Result<SyncStatus, RpcError>;
    /// The node holds no keys.
    #[method(name = "accounts")]
    async fn accounts(&self) -> Result<Vec<Address>, RpcError>;
}

#[async_trait]
impl EthBlocksApiServer for EthRpc {
    async fn block_receipts(&self, block: BlockId) -> Result<Option<Vec<TransactionReceipt>>, RpcError> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let header = resolved.header;
        let transactions = self.store.block_transactions(header.number).await?;
        let block_hash = header.hash_slow();
        let mut first_log_index = 0;
        Ok(Some(
            transactions
                .iter()
                .map(|stored| {
                    let receipt = convert::receipt(&header, block_hash, stored, first_log_index);
                    first_log_index += stored.record.receipt.logs().len() as u64;
                    receipt
                })
                .collect(),
        ))
    }

    async fn transaction_count_by_hash(&self, hash: B256) -> Result<Option<U64>, RpcError> {
        self.transaction_count_in(BlockId::from(hash)).await
    }

    async fn transaction_count_by_number(&self, number: BlockNumberOrTag) -> Result<Option<U64>, RpcError> {
        self.transaction_count_in(BlockId::Number(number)).await
    }

    async fn uncle_count_by_hash(&self, hash: B256) -> Result<Option<U64>, RpcError> {
        Ok(self.resolve(Some(BlockId::from(hash))).await?.map(|_| U64::ZERO))
    }

    async fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> Result<Option<U64>, RpcError> {
        Ok(self.resolve(Some(BlockId::Number(number))).await?.map(|_| U64::ZERO))
    }

    async fn uncle_by_hash_and_index(&self, _hash: B256, _index: Index) -> Result<Option<()>, RpcError> {
        Ok(None)
    }

    async fn uncle_by_number_and_index(
        &self,
        _number: BlockNumberOrTag,
        _index: Index,
    ) -> Result<Option<()>, RpcError> {
        Ok(None)
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

    async fn syncing(&self) -> Result<SyncStatus, RpcError> {
        Ok(SyncStatus::None)
    }

    async fn accounts(&self) -> Result<Vec<Address>, RpcError> {
        Ok(Vec::new())
    }
}

impl EthRpc {
    async fn transaction_count_in(&self, block: BlockId) -> Result<Option<U64>, RpcError> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let count = self.store.block_transaction_count(resolved.header.number).await?;
        Ok(Some(U64::from(count)))
    }

    async fn transaction_at(&self, block: BlockId, index: usize) -> Result<Option<Transaction>, RpcError> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let header = resolved.header;
        let stored = self.store.block_transaction(header.number, index as u64).await?;
        let hash = header.hash_slow();
        Ok(stored.map(|stored| convert::mined_transaction(&stored, &header, hash)))
    }
}
