//! The pool's durable copy: every transaction the RPC acknowledged, until the pool lets it go.

use super::{Store, Value, address, insert_rows};
use crate::error::StoreError;
use alloy_primitives::{Address, B256, Bytes};
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

/// Most admitted transactions one group commit of the [`PoolJournal`] writes.
const MAX_GROUP: usize = 2_048;

/// Admissions that may wait for the journal before the RPC waits to hand it more.
const QUEUE_CAPACITY: usize = 16_384;

/// Makes admitted transactions durable before the RPC acknowledges them, in groups: whatever
/// admissions are waiting when a write starts go into the same database transaction, and each
/// is answered once that transaction committed. A write transaction per admission would cost a
/// synchronous commit each (PostgreSQL) or a turn at the single writer lock that the block
/// commit needs too (SQLite); a group costs one for all. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PoolJournal {
    admissions: mpsc::Sender<Admission>,
}

/// One transaction waiting to be made durable.
#[derive(Debug)]
struct Admission {
    hash: B256,
    sender: Address,
    raw: Bytes,
    durable: oneshot::Sender<Result<(), String>>,
}

impl PoolJournal {
    /// Starts the journal's writer on the current tokio runtime. It ends when the last handle
    /// is dropped, after writing what was handed to it.
    pub fn spawn(store: Store) -> Self {
        let (admissions, mut queue) = mpsc::channel::<Admission>(QUEUE_CAPACITY);
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_GROUP);
            while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
                let rows = group.iter().map(|a| (a.hash, a.sender, a.raw.as_ref())).collect::<Vec<_>>();
                let outcome = store.insert_pooled(&rows).await.map_err(|error| error.to_string());
                for admission in group.drain(..) {
                    // The RPC call may have gone away (client disconnected): nothing to tell.
                    let _ = admission.durable.send(outcome.clone());
                }
            }
        });
        Self { admissions }
    }

    /// Records an admitted transaction; returns once it is durable. Recording it twice is a
    /// no-op.
    pub async fn record(&self, hash: B256, sender: Address, raw: Bytes) -> Result<(), StoreError> {
        let (durable, written) = oneshot::channel();
        let closed = || StoreError::Journal("the pool journal has stopped".into());
        self.admissions.send(Admission { hash, sender, raw, durable }).await.map_err(|_| closed())?;
        written.await.map_err(|_| closed())?.map_err(StoreError::Journal)
    }
}

impl Store {
    /// Records admitted transactions (hash, sender, EIP-2718 bytes) in one database
    /// transaction; returns once they are durable. Recording one twice is a no-op.
    pub async fn insert_pooled(&self, transactions: &[(B256, Address, &[u8])]) -> Result<(), StoreError> {
        let rows = transactions
            .iter()
            .map(|(hash, sender, raw)| {
                vec![Value::Blob(hash.to_vec()), Value::Blob(sender.to_vec()), Value::Blob(raw.to_vec())]
            })
            .collect();
        let mut tx = self.writer.begin().await?;
        insert_rows(
            &mut tx,
            self.backend,
            "INSERT INTO pool_transactions (hash, sender, raw) VALUES ",
            " ON CONFLICT (hash) DO NOTHING",
            rows,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets transactions that left the pool, in batched statements.
    pub async fn delete_pooled(&self, hashes: &[B256]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for chunk in hashes.chunks(self.backend.params_per_statement()) {
            let placeholders = self.backend.placeholders(chunk.len());
            // Only generated placeholders are formatted into the SQL.
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
