//! Mined transactions with their receipts, and their logs, indexed by address and by first
//! topic.

use super::{
    Backend, Store, StoredTransaction, TransactionReader, TransactionRecord,
    records::{address, b256},
    sql::{self, Value, insert_rows},
};
use crate::error::StoreError;
use alloy_primitives::{Address, B256, Bytes, LogData};
use alloy_rpc_types_eth::Log;
use sqlx::Row;

/// A log query: a block range, addresses (any of, or any when empty) and up to four topic
/// positions (each any of, or any when empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// First block.
    pub from: u64,
    /// Last block.
    pub to: u64,
    /// Emitting contracts; empty matches any.
    pub addresses: Vec<Address>,
    /// Topics by position; an empty set matches any.
    pub topics: [Vec<B256>; 4],
}

impl TransactionReader for Store {
    async fn transaction(&self, hash: B256) -> Result<Option<StoredTransaction>, StoreError> {
        let row =
            sqlx::query(sql::TRANSACTION_BY_HASH).bind(hash.to_vec()).fetch_optional(&self.readers).await?;
        row.as_ref().map(StoredTransaction::from_row).transpose()
    }

    async fn block_transactions(&self, number: u64) -> Result<Vec<StoredTransaction>, StoreError> {
        let rows = sqlx::query(sql::BLOCK_TRANSACTIONS).bind(number as i64).fetch_all(&self.readers).await?;
        rows.iter().map(StoredTransaction::from_row).collect()
    }

    async fn block_transaction_count(&self, number: u64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::BLOCK_TRANSACTION_COUNT)
            .bind(number as i64)
            .fetch_one(&self.readers)
            .await?;
        Ok(count as u64)
    }

    async fn block_transaction(
        &self,
        number: u64,
        index: u64,
    ) -> Result<Option<StoredTransaction>, StoreError> {
        let Ok(index) = i64::try_from(index) else { return Ok(None) };
        let row = sqlx::query(sql::BLOCK_TRANSACTION)
            .bind(number as i64)
            .bind(index)
            .fetch_optional(&self.readers)
            .await?;
        row.as_ref().map(StoredTransaction::from_row).transpose()
    }

    async fn first_log_index(&self, number: u64, tx_index: u64) -> Result<Option<u64>, StoreError> {
        let Ok(tx_index) = i64::try_from(tx_index) else { return Ok(None) };
        let first: Option<i64> = sqlx::query_scalar(sql::FIRST_LOG_INDEX)
            .bind(number as i64)
            .bind(tx_index)
            .fetch_one(&self.readers)
            .await?;
        Ok(first.map(|index| index as u64))
    }

    async fn logs(&self, query: &LogQuery, limit: usize) -> Result<Vec<Log>, StoreError> {
        let sql = sql::logs(query.addresses.len(), query.topics.each_ref().map(Vec::len), limit);
        let mut statement = sqlx::query(sql).bind(query.from as i64).bind(query.to as i64);
        for address in &query.addresses {
            statement = statement.bind(address.to_vec());
        }
        for topic in query.topics.iter().flatten() {
            statement = statement.bind(topic.to_vec());
        }
        let rows = statement.fetch_all(&self.readers).await?;
        rows.iter()
            .map(|row| {
                let mut topics = Vec::with_capacity(4);
                for column in 4..8 {
                    let Some(topic) = row.try_get::<Option<Vec<u8>>, _>(column)? else { break };
                    topics.push(
                        B256::try_from(topic.as_slice())
                            .map_err(|_| StoreError::Corrupt("log topic".into()))?,
                    );
                }
                let data: Vec<u8> = row.try_get(8)?;
                Ok(Log {
                    inner: alloy_primitives::Log {
                        address: address(row, 3)?,
                        data: LogData::new_unchecked(topics, Bytes::from(data)),
                    },
                    block_hash: Some(b256(row, 9)?),
                    block_number: Some(row.try_get::<i64, _>(0)? as u64),
                    block_timestamp: None,
                    transaction_hash: Some(b256(row, 10)?),
                    transaction_index: Some(row.try_get::<i64, _>(2)? as u64),
                    log_index: Some(row.try_get::<i64, _>(1)? as u64),
                    removed: false,
                })
            })
            .collect()
    }
}

/// Writes the transactions of block `number`, with their receipts and logs.
pub(super) async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    number: u64,
    transactions: &[TransactionRecord],
) -> Result<(), StoreError> {
    let mut tx_rows = Vec::with_capacity(transactions.len());
    let mut log_rows = Vec::new();
    let mut log_index = 0i64;
    for (index, transaction) in transactions.iter().enumerate() {
        tx_rows.push(vec![
            Value::Blob(transaction.hash.to_vec()),
            Value::Int(number as i64),
            Value::Int(index as i64),
            Value::Blob(transaction.sender.to_vec()),
            Value::Blob(transaction.raw.to_vec()),
            Value::Blob(transaction.stored_receipt()),
            Value::Int(transaction.gas_used as i64),
            Value::OptBlob(transaction.contract_address.map(|a| a.to_vec())),
        ]);
        for log in transaction.receipt.logs() {
            let topic = |i: usize| Value::OptBlob(log.topics().get(i).map(|t| t.to_vec()));
            log_rows.push(vec![
                Value::Int(number as i64),
                Value::Int(log_index),
                Value::Int(index as i64),
                Value::Blob(log.address.to_vec()),
                topic(0),
                topic(1),
                topic(2),
                topic(3),
                Value::Blob(log.data.data.to_vec()),
            ]);
            log_index += 1;
        }
    }
    insert_rows(tx, backend, sql::INSERT_TRANSACTIONS, tx_rows).await?;
    insert_rows(tx, backend, sql::INSERT_LOGS, log_rows).await
}
