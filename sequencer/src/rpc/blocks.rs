//! Block and transaction lookups beyond the node core's: receipts of a block, counts,
//! transactions by position, raw transactions, and the constant answers of a sequencer
//! (`eth_syncing`, `eth_accounts`, uncles).

use super::{
    convert,
    eth::{EthRpc, internal},
};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_primitives::{Address, B256, Bytes, U64};
use alloy_rpc_types_eth::{Index, SyncStatus, Transaction, TransactionReceipt};
use jsonrpsee::{
    core::{RpcResult, async_trait},
    proc_macros::rpc,
};

/// Block and transaction lookups.
#[rpc(server, namespace = "eth")]
pub trait EthBlocksApi {
    /// The receipts of every transaction of a block.
    #[method(name = "getBlockReceipts")]
    async fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;
    /// Number of transactions in a block, by hash.
    #[method(name = "getBlockTransactionCountByHash")]
    async fn transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// Number of transactions in a block, by number.
    #[method(name = "getBlockTransactionCountByNumber")]
    async fn transaction_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Number of uncles of a block by hash: always zero after the merge.
    #[method(name = "getUncleCountByBlockHash")]
    async fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// Number of uncles of a block by number: always zero after the merge.
    #[method(name = "getUncleCountByBlockNumber")]
    async fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// An uncle by block hash and index: none after the merge.
    #[method(name = "getUncleByBlockHashAndIndex")]
    async fn uncle_by_hash_and_index(&self, hash: B256, index: Index) -> RpcResult<Option<()>>;
    /// An uncle by block number and index: none after the merge.
    #[method(name = "getUncleByBlockNumberAndIndex")]
    async fn uncle_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<()>>;
    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    async fn transaction_by_hash_and_index(&self, hash: B256, index: Index)
    -> RpcResult<Option<Transaction>>;
    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;
    /// The EIP-2718 bytes of a transaction, mined or pooled.
    #[method(name = "getRawTransactionByHash")]
    async fn raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>>;
    /// The sequencer makes the chain; it never syncs.
    #[method(name = "syncing")]
    async fn syncing(&self) -> RpcResult<SyncStatus>;
    /// The node holds no keys.
    #[method(name = "accounts")]
    async fn accounts(&self) -> RpcResult<Vec<Address>>;
}

#[async_trait]
impl EthBlocksApiServer for EthRpc {
    async fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let header = resolved.header;
        let transactions = self.store.block_transactions(header.number).await.map_err(internal)?;
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

    async fn transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        self.transaction_count_in(BlockId::from(hash)).await
    }

    async fn transaction_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        self.transaction_count_in(BlockId::Number(number)).await
    }

    async fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self.resolve(Some(BlockId::from(hash))).await?.map(|_| U64::ZERO))
    }

    async fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        Ok(self.resolve(Some(BlockId::Number(number))).await?.map(|_| U64::ZERO))
    }

    async fn uncle_by_hash_and_index(&self, _hash: B256, _index: Index) -> RpcResult<Option<()>> {
        Ok(None)
    }

    async fn uncle_by_number_and_index(
        &self,
        _number: BlockNumberOrTag,
        _index: Index,
    ) -> RpcResult<Option<()>> {
        Ok(None)
    }

    async fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        self.transaction_at(BlockId::from(hash), index.0).await
    }

    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        self.transaction_at(BlockId::Number(number), index.0).await
    }

    async fn raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        if let Some(stored) = self.store.transaction(hash).await.map_err(internal)? {
            return Ok(Some(stored.record.raw));
        }
        Ok(self.mempool.get(&hash).map(|tx| tx.inner().encoded_2718().into()))
    }

    async fn syncing(&self) -> RpcResult<SyncStatus> {
        Ok(SyncStatus::None)
    }

    async fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }
}

impl EthRpc {
    async fn transaction_count_in(&self, block: BlockId) -> RpcResult<Option<U64>> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let count = self.store.block_transaction_count(resolved.header.number).await.map_err(internal)?;
        Ok(Some(U64::from(count)))
    }

    async fn transaction_at(&self, block: BlockId, index: usize) -> RpcResult<Option<Transaction>> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let header = resolved.header;
        let stored = self.store.block_transaction(header.number, index as u64).await.map_err(internal)?;
        let hash = header.hash_slow();
        Ok(stored.map(|stored| convert::mined_transaction(&stored, &header, hash)))
    }
}
