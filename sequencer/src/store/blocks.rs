//! Sealed blocks: their headers, hashes, state records and L1 anchors, and the commit that
//! writes a block with everything it holds.

use super::{
    BlockReader, BlockRecord, ChainWriter, GenesisStatus, Store, accounts, blobs, genesis,
    records::{b256, decode_header},
    sql, transactions, trie_nodes,
};
use crate::{error::StoreError, l1_follower::L1Block};
use alloy_consensus::Header;
use alloy_primitives::B256;
use sqlx::Row;
use trace_builder::{StateAccess, StateChanges};

impl ChainWriter for Store {
    async fn init_or_check_genesis(
        &self,
        chain_id: u64,
        genesis_hash: B256,
    ) -> Result<GenesisStatus, StoreError> {
        genesis::check(&self.readers, chain_id, genesis_hash).await
    }

    async fn commit_block(&self, block: &BlockRecord, chain_id: u64) -> Result<(), StoreError> {
        // Before the block is visible: a reader that sees it must find its new accounts.
        for (address, change) in &block.changes.accounts {
            if change.info.is_some() {
                self.account_filter.insert(address);
            }
        }
        let mut tx = self.writer.begin().await?;
        let number = block.header.number;
        if number == 0 {
            genesis::write_identity(&mut tx, block.hash, chain_id).await?;
        }
        sqlx::query(sql::INSERT_BLOCK)
            .bind(number as i64)
            .bind(block.hash.to_vec())
            .bind(alloy_rlp::encode(&block.header))
            .bind(alloy_rlp::encode(&block.changes))
            .bind(alloy_rlp::encode(&block.access))
            .execute(&mut *tx)
            .await?;
        transactions::write(&mut tx, self.backend, number, &block.transactions).await?;
        accounts::write_state_changes(&mut tx, self.backend, &block.changes).await?;
        trie_nodes::write(&mut tx, self.backend, &block.trie_nodes).await?;
        blobs::write(&mut tx, number, &block.blobs).await?;
        if let Some(anchor) = &block.anchor {
            sqlx::query(sql::INSERT_L1_ANCHOR)
                .bind(anchor.hash.to_vec())
                .bind(anchor.number as i64)
                .bind(anchor.timestamp as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl BlockReader for Store {
    async fn head(&self) -> Result<Option<(u64, B256)>, StoreError> {
        let row = sqlx::query(sql::HEAD).fetch_optional(&self.readers).await?;
        row.map(|row| Ok((row.try_get::<i64, _>(0)? as u64, b256(&row, 1)?))).transpose()
    }

    async fn header_by_number(&self, number: u64) -> Result<Option<Header>, StoreError> {
        let row =
            sqlx::query(sql::HEADER_BY_NUMBER).bind(number as i64).fetch_optional(&self.readers).await?;
        row.map(|row| decode_header(&row, 0)).transpose()
    }

    async fn header_by_hash(&self, hash: B256) -> Result<Option<Header>, StoreError> {
        let row = sqlx::query(sql::HEADER_BY_HASH).bind(hash.to_vec()).fetch_optional(&self.readers).await?;
        row.map(|row| decode_header(&row, 0)).transpose()
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        let row = sqlx::query(sql::BLOCK_HASH).bind(number as i64).fetch_optional(&self.readers).await?;
        row.map(|row| b256(&row, 0)).transpose()
    }

    async fn l1_anchor(&self, hash: B256) -> Result<Option<L1Block>, StoreError> {
        let row = sqlx::query(sql::L1_ANCHOR).bind(hash.to_vec()).fetch_optional(&self.readers).await?;
        row.map(|row| {
            Ok(L1Block {
                number: row.try_get::<i64, _>(0)? as u64,
                hash,
                timestamp: row.try_get::<i64, _>(1)? as u64,
            })
        })
        .transpose()
    }

    async fn block_state(&self, number: u64) -> Result<Option<(StateAccess, StateChanges)>, StoreError> {
        let row = sqlx::query(sql::BLOCK_STATE).bind(number as i64).fetch_optional(&self.readers).await?;
        let Some(row) = row else { return Ok(None) };
        let (Some(access), Some(changes)) =
            (row.try_get::<Option<Vec<u8>>, _>(0)?, row.try_get::<Option<Vec<u8>>, _>(1)?)
        else {
            return Ok(None);
        };
        let corrupt =
            |error: alloy_rlp::Error| StoreError::Corrupt(format!("block {number} state record: {error}"));
        Ok(Some((
            alloy_rlp::decode_exact(&access).map_err(corrupt)?,
            alloy_rlp::decode_exact(&changes).map_err(corrupt)?,
        )))
    }
}
