//! The chain's identity in `chain_meta`: the genesis hash and chain id a database was made for,
//! recorded with the genesis block and checked at every start.

use super::sql;
use crate::error::StoreError;
use alloy_primitives::B256;
use sqlx::{AnyPool, Row};

/// Key of the genesis hash in `chain_meta`.
const META_GENESIS_HASH: &str = "genesis_hash";
/// Key of the chain id in `chain_meta`.
const META_CHAIN_ID: &str = "chain_id";

/// What [`ChainWriter::init_or_check_genesis`](super::ChainWriter::init_or_check_genesis) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenesisStatus {
    /// An empty database: the genesis block must be written.
    Fresh,
    /// A database of this very chain.
    Existing,
}

/// Whether the database `readers` read is new, or was made for `genesis_hash` and `chain_id`.
pub(super) async fn check(
    readers: &AnyPool,
    chain_id: u64,
    genesis_hash: B256,
) -> Result<GenesisStatus, StoreError> {
    let stored_hash = meta(readers, META_GENESIS_HASH).await?;
    let stored_chain = meta(readers, META_CHAIN_ID).await?;
    match (stored_hash, stored_chain) {
        (None, None) => Ok(GenesisStatus::Fresh),
        (Some(hash), Some(chain)) => {
            let stored_chain_id = u64::from_be_bytes(
                chain.as_slice().try_into().map_err(|_| StoreError::Corrupt("chain_id".into()))?,
            );
            if stored_chain_id != chain_id {
                return Err(StoreError::ChainIdMismatch { stored: stored_chain_id, configured: chain_id });
            }
            let stored_hash =
                B256::try_from(hash.as_slice()).map_err(|_| StoreError::Corrupt("genesis_hash".into()))?;
            if stored_hash != genesis_hash {
                return Err(StoreError::GenesisMismatch { stored: stored_hash, configured: genesis_hash });
            }
            Ok(GenesisStatus::Existing)
        }
        _ => Err(StoreError::Corrupt("chain_meta holds only part of the genesis record".into())),
    }
}

/// The value of `key` in `chain_meta`.
async fn meta(readers: &AnyPool, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query(sql::META).bind(key).fetch_optional(readers).await?;
    Ok(row.map(|row| row.try_get::<Vec<u8>, _>(0)).transpose()?)
}

/// Records the chain's identity, in the transaction that writes its genesis block.
pub(super) async fn write_identity(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    genesis_hash: B256,
    chain_id: u64,
) -> Result<(), StoreError> {
    for (key, value) in
        [(META_GENESIS_HASH, genesis_hash.to_vec()), (META_CHAIN_ID, chain_id.to_be_bytes().to_vec())]
    {
        sqlx::query(sql::INSERT_META).bind(key).bind(value).execute(&mut **tx).await?;
    }
    Ok(())
}
