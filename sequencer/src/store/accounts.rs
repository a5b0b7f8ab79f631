//! The flat latest state: accounts, storage slots and codes, kept current by each block's
//! commit. Reads of accounts the [`AccountFilter`] rules out skip the database; on SQLite, single
//! reads run on the calling thread ([`PointReads`]).

use super::{
    AccountFilter, Backend, StateReader, Store,
    point_reads::{PointReadError, PointReads},
    records::{address, b256, u256},
    sql::{self, Value, insert_rows},
};
use crate::error::StoreError;
use alloy_primitives::{Address, B256, Bytes, U256};
use sqlx::{AnyPool, Row};
use trace_builder::{AccountChange, AccountState, StateChanges};

impl StateReader for Store {
    async fn account(&self, address: Address) -> Result<Option<AccountState>, StoreError> {
        if !self.account_filter.may_contain(&address) {
            return Ok(None);
        }
        if let Some(read) = self.point_read(|reads| reads.account(address)) {
            return read;
        }
        let row = sqlx::query(sql::ACCOUNT).bind(address.to_vec()).fetch_optional(&self.readers).await?;
        row.map(|row| {
            Ok(AccountState {
                nonce: row.try_get::<i64, _>(0)? as u64,
                balance: u256(&row, 1)?,
                code_hash: b256(&row, 2)?,
            })
        })
        .transpose()
    }

    async fn accounts(&self, addresses: &[Address]) -> Result<Vec<(Address, AccountState)>, StoreError> {
        let addresses: Vec<Address> =
            addresses.iter().filter(|address| self.account_filter.may_contain(address)).copied().collect();
        let mut found = Vec::with_capacity(addresses.len());
        for chunk in addresses.chunks(self.backend.params_per_statement()) {
            let mut query = sqlx::query(sql::accounts_in(self.backend, chunk.len()));
            for address in chunk {
                query = query.bind(address.to_vec());
            }
            for row in query.fetch_all(&self.readers).await? {
                found.push((
                    address(&row, 0)?,
                    AccountState {
                        nonce: row.try_get::<i64, _>(1)? as u64,
                        balance: u256(&row, 2)?,
                        code_hash: b256(&row, 3)?,
                    },
                ));
            }
        }
        Ok(found)
    }

    async fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        if let Some(read) = self.point_read(|reads| reads.storage(address, slot)) {
            return read;
        }
        let row = sqlx::query(sql::STORAGE)
            .bind(address.to_vec())
            .bind(slot.to_be_bytes_vec())
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| u256(&row, 0)).transpose().map(Option::unwrap_or_default)
    }

    async fn code(&self, hash: B256) -> Result<Option<Bytes>, StoreError> {
        if let Some(read) = self.point_read(|reads| reads.code(hash)) {
            return read;
        }
        let row = sqlx::query(sql::CODE).bind(hash.to_vec()).fetch_optional(&self.readers).await?;
        row.map(|row| Ok(Bytes::from(row.try_get::<Vec<u8>, _>(0)?))).transpose()
    }
}

impl Store {
    /// `read` on the calling thread ([`PointReads`]), if this store has that path (SQLite) and
    /// the database was not busy; `None` when the read must go through sqlx.
    fn point_read<T>(
        &self,
        read: impl FnOnce(&PointReads) -> Result<T, PointReadError>,
    ) -> Option<Result<T, StoreError>> {
        match read(self.point_reads.as_deref()?) {
            Ok(value) => Some(Ok(value)),
            Err(PointReadError::Busy) => None,
            Err(PointReadError::Sqlite(error)) => Some(Err(StoreError::Sqlite(error))),
            Err(PointReadError::Corrupt(what)) => Some(Err(StoreError::Corrupt(what))),
        }
    }
}

/// Applies a block's changes to the flat latest-state tables.
pub(super) async fn write_state_changes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    changes: &StateChanges,
) -> Result<(), StoreError> {
    let mut upserts = Vec::new();
    let mut slot_upserts = Vec::new();
    for (address, AccountChange { info, storage_wiped, storage }) in &changes.accounts {
        let key = address.to_vec();
        if *storage_wiped || info.is_none() {
            sqlx::query(sql::DELETE_ACCOUNT_STORAGE).bind(key.clone()).execute(&mut **tx).await?;
        }
        match info {
            None => {
                sqlx::query(sql::DELETE_ACCOUNT).bind(key.clone()).execute(&mut **tx).await?;
                continue;
            }
            Some(account) => upserts.push(vec![
                Value::Blob(key.clone()),
                Value::Int(account.nonce as i64),
                Value::Blob(account.balance.to_be_bytes_vec()),
                Value::Blob(account.code_hash.to_vec()),
            ]),
        }
        for (slot, value) in storage {
            if value.is_zero() {
                if !*storage_wiped {
                    sqlx::query(sql::DELETE_SLOT)
                        .bind(key.clone())
                        .bind(slot.to_be_bytes_vec())
                        .execute(&mut **tx)
                        .await?;
                }
            } else {
                slot_upserts.push(vec![
                    Value::Blob(key.clone()),
                    Value::Blob(slot.to_be_bytes_vec()),
                    Value::Blob(value.to_be_bytes_vec()),
                ]);
            }
        }
    }
    insert_rows(tx, backend, sql::UPSERT_ACCOUNTS, upserts).await?;
    insert_rows(tx, backend, sql::UPSERT_STORAGE, slot_upserts).await?;
    let code_rows = changes
        .codes
        .iter()
        .map(|(hash, code)| vec![Value::Blob(hash.to_vec()), Value::Blob(code.to_vec())])
        .collect();
    insert_rows(tx, backend, sql::INSERT_CODES, code_rows).await
}

/// The filter of the accounts the database `readers` read holds, sized for them and their growth
/// within `max_bytes`.
pub(super) async fn load_filter(readers: &AnyPool, max_bytes: usize) -> Result<AccountFilter, StoreError> {
    use futures_util::TryStreamExt as _;
    let count: i64 = sqlx::query_scalar(sql::ACCOUNT_COUNT).fetch_one(readers).await?;
    let filter = AccountFilter::with_capacity(u64::try_from(count).unwrap_or_default(), max_bytes);
    let mut addresses = sqlx::query_scalar::<_, Vec<u8>>(sql::ACCOUNT_ADDRESSES).fetch(readers);
    while let Some(address) = addresses.try_next().await? {
        let address = Address::try_from(address.as_slice())
            .map_err(|_| StoreError::Corrupt("an address in the accounts table is not 20 bytes".into()))?;
        filter.insert(&address);
    }
    Ok(filter)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{genesis::ChainGenesis, store::ChainWriter};

    /// A genesis account and its state.
    fn some_account(genesis: &ChainGenesis) -> (Address, AccountState) {
        let (address, change) = genesis.state.accounts.iter().find(|(_, c)| c.info.is_some()).unwrap();
        (*address, change.info.clone().unwrap())
    }

    /// Point reads on the calling thread answer what the queries through sqlx answer.
    #[tokio::test]
    async fn point_reads_answer_as_queries_do() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
        let store = Store::open(&url, 2).await.unwrap();
        let genesis = ChainGenesis::dev_with_bridge(Some(Address::repeat_byte(0x1b))).unwrap();
        store.commit_block(&genesis.block_record(), genesis.chain_id).await.unwrap();
        let without = Store { point_reads: None, ..store.clone() };
        for (address, change) in &genesis.state.accounts {
            assert_eq!(store.account(*address).await.unwrap(), without.account(*address).await.unwrap());
            assert_eq!(store.account(*address).await.unwrap(), change.info);
            for (slot, value) in &change.storage {
                assert_eq!(store.storage(*address, *slot).await.unwrap(), *value);
            }
            assert_eq!(store.storage(*address, U256::from(u64::MAX)).await.unwrap(), U256::ZERO);
        }
        assert!(!genesis.state.codes.is_empty());
        for (hash, code) in &genesis.state.codes {
            assert_eq!(store.code(*hash).await.unwrap(), Some(code.clone()));
        }
        assert_eq!(store.code(B256::repeat_byte(7)).await.unwrap(), None);
    }

    /// A read SQLite finds busy goes through sqlx, which waits for the lock, instead of failing.
    #[tokio::test]
    async fn a_read_the_database_is_busy_for_goes_through_sqlx() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&format!("sqlite://{}", dir.path().join("chain.sqlite").display()), 2).await.unwrap();
        let genesis = ChainGenesis::dev().unwrap();
        store.commit_block(&genesis.block_record(), genesis.chain_id).await.unwrap();
        let (address, account) = some_account(&genesis);

        // Point reads of a file another connection holds locked.
        let locked = dir.path().join("locked.sqlite");
        let holder = rusqlite::Connection::open(&locked).unwrap();
        holder
            .execute_batch("CREATE TABLE accounts (address BLOB PRIMARY KEY, nonce INTEGER, balance BLOB, code_hash BLOB)")
            .unwrap();
        let busy = std::sync::Arc::new(PointReads::open(locked, 1024).unwrap());
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        assert!(matches!(busy.account(address), Err(PointReadError::Busy)));
        let store = Store { point_reads: Some(busy.clone()), ..store };
        assert_eq!(store.account(address).await.unwrap(), Some(account));

        // Once the lock is gone, the point read answers (from the other file, which is empty).
        holder.execute_batch("COMMIT").unwrap();
        assert_eq!(busy.account(address).unwrap(), None);
    }
}
