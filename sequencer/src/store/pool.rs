//! The pool's durable copy: every transaction the RPC acknowledged, until the pool lets it go.

use super::{Store, address};
use crate::error::StoreError;
use alloy_primitives::{Address, B256, Bytes};
use sqlx::{AssertSqlSafe, Row};

impl Store {
    /// Records an admitted transaction; returns once it is durable. Recording it twice is a
    /// no-op.
    pub async fn insert_pooled(&self, hash: B256, sender: Address, raw: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pool_transactions (hash, sender, raw) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hash.to_vec())
        .bind(sender.to_vec())
        .bind(raw.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets transactions that left the pool, in batched statements.
    pub async fn delete_pooled(&self, hashes: &[B256]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in hashes.chunks(self.backend.params_per_statement()) {
            let placeholders = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
            // Only generated `$N` placeholders are formatted into the SQL.
            let sql = format!("DELETE FROM pool_transactions WHERE hash IN ({placeholders})");
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for hash in chunk {
                query = query.bind(hash.to_vec());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every recorded pool transaction: its sender and EIP-2718 bytes.
    pub async fn pooled_transactions(&self) -> Result<Vec<(Address, Bytes)>, StoreError> {
        let rows = sqlx::query("SELECT sender, raw FROM pool_transactions").fetch_all(&self.pool).await?;
        rows.iter().map(|row| Ok((address(row, 0)?, Bytes::from(row.try_get::<Vec<u8>, _>(1)?)))).collect()
    }
}
