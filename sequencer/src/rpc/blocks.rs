//! Blocks: the newest number, blocks by number or hash, a block's receipts, transaction and
//! uncle counts, and uncles (none after the merge).

use super::{convert, error::RpcError, eth::EthRpc};
use crate::store::{BlockReader, TransactionReader};
use alloy_consensus::Header;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, U64};
use alloy_rpc_types_eth::{Block, Index, Transaction, TransactionReceipt};
use jsonrpsee::{core::async_trait, proc_macros::rpc};

/// Blocks: headers and bodies, receipts, counts, and the uncles a post-merge chain has none of.
#[rpc(server, namespace = "eth")]
pub trait EthBlocksApi {
    /// Number of the newest block.
    #[method(name = "blockNumber")]
    async fn block_number(&self) -> Result<U64, RpcError>;
    /// A block by number or tag.
    #[method(name = "getBlockByNumber")]
    async fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> Result<Option<Block>, RpcError>;
    /// A block by hash.
    #[method(name = "getBlockByHash")]
    async fn block_by_hash(&self, hash: B256, full: bool) -> Result<Option<Block>, RpcError>;
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
}

#[async_trait]
impl EthBlocksApiServer for EthRpc {
    async fn block_number(&self) -> Result<U64, RpcError> {
        Ok(U64::from(self.head.borrow().number))
    }

    async fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> Result<Option<Block>, RpcError> {
        let header = self.store.header_by_number(self.tag_number(number)).await?;
        self.block(header, full).await
    }

    async fn block_by_hash(&self, hash: B256, full: bool) -> Result<Option<Block>, RpcError> {
        let header = self.store.header_by_hash(hash).await?;
        self.block(header, full).await
    }

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
                    let receipt = convert::receipt(&self.chain, &header, block_hash, stored, first_log_index);
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
}

impl EthRpc {
    async fn block(&self, header: Option<Header>, full: bool) -> Result<Option<Block>, RpcError> {
        let Some(header) = header else { return Ok(None) };
        let transactions = self.store.block_transactions(header.number).await?;
        Ok(Some(convert::block(header, &transactions, full)))
    }

    async fn transaction_count_in(&self, block: BlockId) -> Result<Option<U64>, RpcError> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let count = self.store.block_transaction_count(resolved.header.number).await?;
        Ok(Some(U64::from(count)))
    }

    pub(super) async fn transaction_at(
        &self,
        block: BlockId,
        index: usize,
    ) -> Result<Option<Transaction>, RpcError> {
        let Some(resolved) = self.resolve(Some(block)).await? else { return Ok(None) };
        let header = resolved.header;
        let stored = self.store.block_transaction(header.number, index as u64).await?;
        let hash = header.hash_slow();
        Ok(stored.map(|stored| convert::mined_transaction(&stored, &header, hash)))
    }
}
