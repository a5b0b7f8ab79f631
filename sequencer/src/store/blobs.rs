//! The blobs of included blob transactions (the L1 role): written with their block, pruned
//! past the retention, read by block for the Beacon API and by versioned hash for EXECUTE.

use super::{Store, sql};
use crate::{error::StoreError, mempool::blobs::BlobRecord};
use alloy_eips::eip4844::Bytes48;
use alloy_primitives::{B256, Bytes};
use sqlx::{Any, Row, Transaction};

/// Writes a block's blobs in its commit's database transaction.
pub(super) async fn write(
    tx: &mut Transaction<'_, Any>,
    number: u64,
    blobs: &[BlobRecord],
) -> Result<(), StoreError> {
    for (index, blob) in blobs.iter().enumerate() {
        sqlx::query(sql::INSERT_BLOB)
            .bind(number as i64)
            .bind(index as i32)
            .bind(blob.versioned_hash.to_vec())
            .bind(blob.blob.to_vec())
            .bind(blob.commitment.to_vec())
            .bind(blob.proof.to_vec())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn bytes48(bytes: &[u8]) -> Result<Bytes48, StoreError> {
    Bytes48::try_from(bytes).map_err(|_| StoreError::Corrupt(format!("a {}-byte KZG value", bytes.len())))
}

impl Store {
    /// The blobs block `number` included, in order; empty for a block without any or whose
    /// blobs are past the retention.
    pub async fn block_blobs(&self, number: u64) -> Result<Vec<BlobRecord>, StoreError> {
        let rows = sqlx::query(sql::BLOCK_BLOBS).bind(number as i64).fetch_all(&self.readers).await?;
        rows.iter()
            .map(|row| {
                Ok(BlobRecord {
                    versioned_hash: B256::try_from(row.try_get::<Vec<u8>, _>(0)?.as_slice())
                        .map_err(|_| StoreError::Corrupt("a versioned hash".into()))?,
                    blob: Bytes::from(row.try_get::<Vec<u8>, _>(1)?),
                    commitment: bytes48(&row.try_get::<Vec<u8>, _>(2)?)?,
                    proof: bytes48(&row.try_get::<Vec<u8>, _>(3)?)?,
                })
            })
            .collect()
    }

    /// The stored blob with `versioned_hash`, if a block within the retention included it.
    pub async fn blob(&self, versioned_hash: B256) -> Result<Option<Bytes>, StoreError> {
        let row = sqlx::query(sql::BLOB_BY_HASH)
            .bind(versioned_hash.to_vec())
            .fetch_optional(&self.readers)
            .await?;
        Ok(match row {
            Some(row) => Some(Bytes::from(row.try_get::<Vec<u8>, _>(0)?)),
            None => None,
        })
    }

    /// Forgets the blobs of blocks below `keep_from`; returns how many went.
    pub async fn prune_blobs(&self, keep_from: u64) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::PRUNE_BLOBS).bind(keep_from as i64).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }
}
