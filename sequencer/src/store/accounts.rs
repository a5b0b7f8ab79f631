//! The flat latest state: accounts, storage slots and codes, kept current by each block's
//! commit. Reads of accounts the [`AccountFilter`] rules out skip the database.

use super::{
    AccountFilter, Backend, StateReader, Store,
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
        let row = sqlx::query(sql::STORAGE)
            .bind(address.to_vec())
            .bind(slot.to_be_bytes_vec())
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| u256(&row, 0)).transpose().map(Option::unwrap_or_default)
    }

    async fn code(&self, hash: B256) -> Result<Option<Bytes>, StoreError> {
        let row = sqlx::query(sql::CODE).bind(hash.to_vec()).fetch_optional(&self.readers).await?;
        row.map(|row| Ok(Bytes::from(row.try_get::<Vec<u8>, _>(0)?))).transpose()
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
