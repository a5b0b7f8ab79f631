//! How far the message relayer has seen the bridge's messages delivered, kept in `chain_meta`
//! across restarts: a restart reads the bridge's events from there instead of from the bridge's
//! deployment, and asks the L2 about no message it already saw delivered.

use super::{Store, sql};
use crate::error::StoreError;
use alloy_primitives::Address;
use sqlx::Row;

/// The `chain_meta` key of the progress of the relayer of the bridge at `bridge`.
fn key(bridge: Address) -> String {
    format!("relayer_delivered_through:{bridge:#x}")
}

impl Store {
    /// The L1 block through which every message the L1 bridge at `bridge` sent was seen
    /// delivered on the L2, if the relayer recorded one.
    pub async fn relayer_delivered_through(&self, bridge: Address) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query(sql::META).bind(key(bridge)).fetch_optional(&self.readers).await?;
        let Some(row) = row else { return Ok(None) };
        let value: Vec<u8> = row.try_get(0)?;
        let bytes = <[u8; 8]>::try_from(value.as_slice())
            .map_err(|_| StoreError::Corrupt(format!("{}: {} bytes, not 8", key(bridge), value.len())))?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// Records that every message the L1 bridge at `bridge` sent through L1 block `l1_block`
    /// was seen delivered on the L2.
    pub async fn set_relayer_delivered_through(
        &self,
        bridge: Address,
        l1_block: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::UPSERT_META)
            .bind(key(bridge))
            .bind(l1_block.to_be_bytes().to_vec())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
