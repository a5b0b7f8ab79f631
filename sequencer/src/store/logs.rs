//! Log queries over the `logs` table, indexed by address and by first topic.

use super::{Store, address, b256};
use crate::error::StoreError;
use alloy_primitives::{Address, B256, Bytes, LogData};
use alloy_rpc_types_eth::Log;
use sqlx::{AssertSqlSafe, Row};

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

impl Store {
    /// The logs matching `query` in block and log order, at most `limit` of them (the caller
    /// asks for one more than it allows to tell a truncated answer).
    pub async fn logs(&self, query: &LogQuery, limit: usize) -> Result<Vec<Log>, StoreError> {
        let mut sql = String::from(
            "SELECT l.block_number, l.log_index, l.tx_index, l.address, l.topic0, l.topic1, l.topic2, l.topic3, \
             l.data, b.hash, t.hash FROM logs l \
             JOIN blocks b ON b.number = l.block_number \
             JOIN transactions t ON t.block_number = l.block_number AND t.tx_index = l.tx_index \
             WHERE l.block_number >= $1 AND l.block_number <= $2",
        );
        let mut binds: Vec<Vec<u8>> = Vec::new();
        let mut next = 3;
        let mut any_of = |column: &str, values: Vec<Vec<u8>>, sql: &mut String| {
            if values.is_empty() {
                return;
            }
            let placeholders: Vec<String> = (next..next + values.len()).map(|i| format!("${i}")).collect();
            next += values.len();
            sql.push_str(&format!(" AND {column} IN ({})", placeholders.join(",")));
            binds.extend(values);
        };
        any_of("l.address", query.addresses.iter().map(|a| a.to_vec()).collect(), &mut sql);
        for (position, topics) in query.topics.iter().enumerate() {
            any_of(&format!("l.topic{position}"), topics.iter().map(|t| t.to_vec()).collect(), &mut sql);
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        sql.push_str(&format!(" ORDER BY l.block_number, l.log_index LIMIT {limit}"));
        // Only fixed column names, generated `$N` placeholders and a number reach the SQL.
        let mut statement = sqlx::query(AssertSqlSafe(sql)).bind(query.from as i64).bind(query.to as i64);
        for value in binds {
            statement = statement.bind(value);
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
