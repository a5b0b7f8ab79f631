//! The latest state as the block builder reads it: the flat tables behind a write-through cache.

use crate::store::Store;
use alloy_primitives::{Address, B256, U256, map::HashMap};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, Database},
    state::AccountInfo,
};
use trace_builder::{AccountState, StateChanges};

/// The builder's view of the newest sealed state.
///
/// Reads go to the cache, then to the store's flat tables. The sequencer is the only writer, so
/// after each sealed block [`LatestState::apply`] keeps the cache exact. The database is reached
/// with `Handle::block_on`: use it only on the builder's blocking thread.
#[derive(Debug)]
pub struct LatestState {
    store: Store,
    runtime: tokio::runtime::Handle,
    accounts: HashMap<Address, Option<AccountState>>,
    storage: HashMap<(Address, U256), U256>,
    codes: HashMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
}

/// A failed read of the latest state.
#[derive(Debug, thiserror::Error)]
#[error("reading latest state: {0}")]
pub struct StateReadError(String);

impl DBErrorMarker for StateReadError {}

impl LatestState {
    /// An empty cache over `store`.
    pub fn new(store: Store, runtime: tokio::runtime::Handle) -> Self {
        Self {
            store,
            runtime,
            accounts: HashMap::default(),
            storage: HashMap::default(),
            codes: HashMap::default(),
            block_hashes: HashMap::default(),
        }
    }

    /// The account at `address` (cached).
    pub fn account(&mut self, address: Address) -> Result<Option<AccountState>, StateReadError> {
        if let Some(account) = self.accounts.get(&address) {
            return Ok(account.clone());
        }
        let account =
            self.runtime.block_on(self.store.account(address)).map_err(|e| StateReadError(e.to_string()))?;
        self.accounts.insert(address, account.clone());
        Ok(account)
    }

    /// Loads the accounts among `addresses` that are not cached yet, in batched queries: the
    /// builder knows the senders and recipients of a block before it runs it, and one query per
    /// hundred accounts beats one round trip each. Returns the accounts it loaded: ones the
    /// builder has not touched since it started.
    pub fn prefetch(
        &mut self,
        addresses: impl IntoIterator<Item = Address>,
    ) -> Result<Vec<Address>, StateReadError> {
        let mut missing: Vec<Address> =
            addresses.into_iter().filter(|a| !self.accounts.contains_key(a)).collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(missing);
        }
        let found = self
            .runtime
            .block_on(self.store.accounts(&missing))
            .map_err(|e| StateReadError(e.to_string()))?;
        for address in &missing {
            self.accounts.insert(*address, None);
        }
        for (address, account) in found {
            self.accounts.insert(address, Some(account));
        }
        Ok(missing)
    }

    /// The nonce of `address` (zero for an absent account).
    pub fn nonce(&mut self, address: Address) -> Result<u64, StateReadError> {
        Ok(self.account(address)?.map(|a| a.nonce).unwrap_or_default())
    }

    /// Brings the cache up to date with a block the builder just committed.
    pub fn apply(&mut self, changes: &StateChanges, number: u64, hash: B256) {
        for (address, change) in &changes.accounts {
            if change.storage_wiped || change.info.is_none() {
                self.storage.retain(|(owner, _), _| owner != address);
            }
            for (slot, value) in &change.storage {
                self.storage.insert((*address, *slot), *value);
            }
            self.accounts.insert(*address, change.info.clone());
        }
        for (hash, code) in &changes.codes {
            self.codes.insert(*hash, Bytecode::new_raw(code.clone()));
        }
        self.block_hashes.insert(number, hash);
    }
}

impl Database for LatestState {
    type Error = StateReadError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.account(address)?.map(AccountInfo::from))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code.clone());
        }
        let code = self
            .runtime
            .block_on(self.store.code(code_hash))
            .map_err(|e| StateReadError(e.to_string()))?
            .ok_or_else(|| StateReadError(format!("code {code_hash} is not in the store")))?;
        let code = Bytecode::new_raw(code);
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(value) = self.storage.get(&(address, index)) {
            return Ok(*value);
        }
        let value = self
            .runtime
            .block_on(self.store.storage(address, index))
            .map_err(|e| StateReadError(e.to_string()))?;
        self.storage.insert((address, index), value);
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        if let Some(hash) = self.block_hashes.get(&number) {
            return Ok(*hash);
        }
        let hash = self
            .runtime
            .block_on(self.store.block_hash(number))
            .map_err(|e| StateReadError(e.to_string()))?
            .unwrap_or_default();
        self.block_hashes.insert(number, hash);
        Ok(hash)
    }
}
