//! The latest state as the block builder reads it: the flat tables behind a write-through cache.

use crate::store::{BlockReader, StateReader, Store};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, Database},
    state::AccountInfo,
};
use trace_builder::{AccountState, StateChanges};

/// The builder's view of the newest sealed state.
///
/// Reads go to the cache, then to the store's flat tables ([`StateReader`], and
/// [`BlockReader::block_hash`] for BLOCKHASH). The sequencer is the only writer, so
/// after each sealed block [`LatestState::apply`] keeps the cache exact. The database is reached
/// with `Handle::block_on`: use it only on the builder's blocking thread.
///
/// The cache holds about its budget: two generations, where a hit in the old one moves the entry
/// to the young one, and the old generation is dropped when the young one outgrows half the
/// budget. That happens only in [`LatestState::apply`], before a block's changes go in: the
/// block before it is committed by then (the producer waits for each commit before applying
/// the next block), so what is dropped is in the database, while the changes of a block whose
/// commit is still running stay cached until it is done.
#[derive(Debug)]
pub struct LatestState<S = Store> {
    store: S,
    runtime: tokio::runtime::Handle,
    accounts: Generations<Address, Option<AccountState>>,
    storage: Generations<(Address, U256), U256>,
    codes: Generations<B256, Bytecode>,
    /// The hashes of the last [`BLOCK_HASH_WINDOW`] blocks at most.
    block_hashes: HashMap<u64, B256>,
    metrics: StateCacheMetrics,
}

/// Blocks back that BLOCKHASH reaches.
const BLOCK_HASH_WINDOW: u64 = 256;

/// Bytes an account entry costs: key, value, map slot.
const ACCOUNT_ENTRY_BYTES: usize = 128;
/// Bytes a storage entry costs.
const STORAGE_ENTRY_BYTES: usize = 128;
/// Bytes a code entry costs besides the code (and its analysis, about as large again).
const CODE_ENTRY_OVERHEAD: usize = 256;

/// A two-generation cache with a budget in bytes, measured by the caller's sizes.
#[derive(Debug)]
struct Generations<K, V> {
    young: HashMap<K, (V, usize)>,
    old: HashMap<K, (V, usize)>,
    young_bytes: usize,
    old_bytes: usize,
    budget_bytes: usize,
}

impl<K: std::hash::Hash + Eq + Copy, V: Clone> Generations<K, V> {
    fn new(budget_bytes: usize) -> Self {
        Self {
            young: HashMap::default(),
            old: HashMap::default(),
            young_bytes: 0,
            old_bytes: 0,
            budget_bytes,
        }
    }

    fn get(&mut self, key: &K) -> Option<V> {
        if let Some((value, _)) = self.young.get(key) {
            return Some(value.clone());
        }
        let (value, size) = self.old.remove(key)?;
        self.old_bytes -= size;
        self.insert(*key, value.clone(), size);
        Some(value)
    }

    fn contains(&self, key: &K) -> bool {
        self.young.contains_key(key) || self.old.contains_key(key)
    }

    fn insert(&mut self, key: K, value: V, size: usize) {
        if let Some((_, old_size)) = self.old.remove(&key) {
            self.old_bytes -= old_size;
        }
        if let Some((_, replaced)) = self.young.insert(key, (value, size)) {
            self.young_bytes -= replaced;
        }
        self.young_bytes += size;
    }

    fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.young.retain(|key, _| keep(key));
        self.old.retain(|key, _| keep(key));
        self.young_bytes = self.young.values().map(|(_, size)| size).sum();
        self.old_bytes = self.old.values().map(|(_, size)| size).sum();
    }

    /// Drops the old generation if the young one has outgrown half the budget.
    fn rotate_if_full(&mut self) {
        if self.young_bytes > self.budget_bytes / 2 {
            self.old = std::mem::take(&mut self.young);
            self.old_bytes = std::mem::take(&mut self.young_bytes);
        }
    }

    fn bytes(&self) -> usize {
        self.young_bytes + self.old_bytes
    }
}

/// The latest-state cache's size.
#[derive(Clone, Debug)]
struct StateCacheMetrics {
    bytes: metrics::Gauge,
}

/// A failed read of the latest state.
#[derive(Debug, thiserror::Error)]
#[error("reading latest state: {0}")]
pub struct StateReadError(String);

impl DBErrorMarker for StateReadError {}

impl<S: StateReader + BlockReader> LatestState<S> {
    /// An empty cache over `store` that holds about `budget_bytes`: a quarter for accounts,
    /// half for storage, a quarter for codes.
    pub fn new(store: S, runtime: tokio::runtime::Handle, budget_bytes: usize) -> Self {
        Self {
            store,
            runtime,
            accounts: Generations::new(budget_bytes / 4),
            storage: Generations::new(budget_bytes / 2),
            codes: Generations::new(budget_bytes / 4),
            block_hashes: HashMap::default(),
            metrics: StateCacheMetrics { bytes: metrics::gauge!("sequencer_state_cache_bytes") },
        }
    }

    /// Bytes the cache holds, by its own accounting.
    pub fn cached_bytes(&self) -> usize {
        self.accounts.bytes() + self.storage.bytes() + self.codes.bytes()
    }

    /// The account at `address` (cached).
    pub fn account(&mut self, address: Address) -> Result<Option<AccountState>, StateReadError> {
        if let Some(account) = self.accounts.get(&address) {
            return Ok(account);
        }
        let account =
            self.runtime.block_on(self.store.account(address)).map_err(|e| StateReadError(e.to_string()))?;
        self.accounts.insert(address, account.clone(), ACCOUNT_ENTRY_BYTES);
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
            addresses.into_iter().filter(|a| !self.accounts.contains(a)).collect();
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
            self.accounts.insert(*address, None, ACCOUNT_ENTRY_BYTES);
        }
        for (address, account) in found {
            self.accounts.insert(address, Some(account), ACCOUNT_ENTRY_BYTES);
        }
        Ok(missing)
    }

    /// The nonce of `address` (zero for an absent account).
    pub fn nonce(&mut self, address: Address) -> Result<u64, StateReadError> {
        Ok(self.account(address)?.map(|a| a.nonce).unwrap_or_default())
    }

    /// Brings the cache up to date with a block the builder just sealed. The block before it
    /// must be committed: the cache may drop its older entries here.
    pub fn apply(&mut self, changes: &StateChanges, number: u64, hash: B256) {
        self.accounts.rotate_if_full();
        self.storage.rotate_if_full();
        self.codes.rotate_if_full();
        for (address, change) in &changes.accounts {
            if change.storage_wiped || change.info.is_none() {
                self.storage.retain(|(owner, _)| owner != address);
            }
            for (slot, value) in &change.storage {
                self.storage.insert((*address, *slot), *value, STORAGE_ENTRY_BYTES);
            }
            self.accounts.insert(*address, change.info.clone(), ACCOUNT_ENTRY_BYTES);
        }
        for (hash, code) in &changes.codes {
            self.codes.insert(*hash, Bytecode::new_raw(code.clone()), code_entry_bytes(code.len()));
        }
        self.block_hashes.insert(number, hash);
        self.block_hashes.retain(|cached, _| cached.saturating_add(BLOCK_HASH_WINDOW) > number);
        self.metrics.bytes.set(self.cached_bytes() as f64);
    }
}

fn code_entry_bytes(len: usize) -> usize {
    2 * len + CODE_ENTRY_OVERHEAD
}

impl<S: StateReader + BlockReader> Database for LatestState<S> {
    type Error = StateReadError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.account(address)?.map(AccountInfo::from))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code);
        }
        let code = self
            .runtime
            .block_on(self.store.code(code_hash))
            .map_err(|e| StateReadError(e.to_string()))?
            .ok_or_else(|| StateReadError(format!("code {code_hash} is not in the store")))?;
        let size = code_entry_bytes(code.len());
        let code = Bytecode::new_raw(code);
        self.codes.insert(code_hash, code.clone(), size);
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(value) = self.storage.get(&(address, index)) {
            return Ok(value);
        }
        let value = self
            .runtime
            .block_on(self.store.storage(address, index))
            .map_err(|e| StateReadError(e.to_string()))?;
        self.storage.insert((address, index), value, STORAGE_ENTRY_BYTES);
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

impl<S: StateReader + BlockReader> crate::mempool::maintain::AccountReader for LatestState<S> {
    type Error = StateReadError;

    fn prefetch(&mut self, addresses: Vec<Address>) -> Result<Vec<Address>, StateReadError> {
        LatestState::prefetch(self, addresses)
    }

    fn account(&mut self, address: Address) -> Result<Option<AccountState>, StateReadError> {
        LatestState::account(self, address)
    }
}
