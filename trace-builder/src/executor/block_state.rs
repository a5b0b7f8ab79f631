//! The executor's view of the state during one block: a cache over the caller's database that
//! records every pre-state read (→ [`StateAccess`]) and folds every committed transaction and
//! system call into one net change per account (→ [`StateChanges`]).
//!
//! revm runs each transaction in a fresh journal and asks this layer for everything it does not
//! hold, so the layer serves the block's own writes to later transactions and only goes to the
//! inner database for pre-state.
//!
//! The recorded access is what the block's included transactions and system calls needed of
//! the pre-state, and nothing else: reads are held as pending while a transaction runs, kept
//! when it commits and dropped when it is rejected (its values stay cached, and are recorded
//! if a later transaction needs them). A stateless verifier that re-executes the block over a
//! witness of exactly these reads finds everything it asks for.

use crate::state::{AccountChange, AccountState, StateAccess, StateChanges};
use alloy_primitives::{
    Address, B256, U256,
    map::{AddressMap, Entry, HashMap},
};
use revm::{
    Database, DatabaseCommit,
    bytecode::Bytecode,
    primitives::KECCAK_EMPTY,
    state::{Account, AccountInfo},
};
use std::collections::BTreeMap;

/// A caching, recording state layer over `DB` for the duration of one block.
#[derive(Debug)]
pub(crate) struct BlockState<DB> {
    db: DB,
    accounts: AddressMap<CachedAccount>,
    /// Codes the inner database handed out (with an account or by hash).
    loaded_codes: HashMap<B256, Bytecode>,
    /// Codes the block put on accounts that did not come from the inner database.
    new_codes: BTreeMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
    /// Pre-state reads of committed transactions and system calls.
    access: StateAccess,
    /// Pre-state reads of the transaction running now.
    pending: StateAccess,
}

/// One account as this block sees it.
#[derive(Clone, Debug)]
struct CachedAccount {
    /// The account before the block, as the inner database returned it; `Unknown` only for an
    /// account revm committed without reading it first (never expected, handled conservatively).
    original: Original,
    /// The account now (`None`: it does not exist).
    current: Option<AccountState>,
    /// The block cleared the storage (created, destroyed or deleted the account): slots not in
    /// `storage` are zero, not the inner database's.
    storage_wiped: bool,
    /// Slots read or written during the block.
    storage: HashMap<U256, Slot>,
    /// A commit touched the account.
    touched: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Original {
    Known(Option<AccountState>),
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The value before the block, when it was read from the inner database.
    original: Option<U256>,
    /// The value now.
    current: U256,
    /// A commit wrote the slot.
    written: bool,
}

impl<DB: Database> BlockState<DB> {
    /// A fresh layer over `db`, with nothing read and nothing changed.
    pub(crate) fn new(db: DB) -> Self {
        Self {
            db,
            accounts: AddressMap::default(),
            loaded_codes: HashMap::default(),
            new_codes: BTreeMap::new(),
            block_hashes: HashMap::default(),
            access: StateAccess::default(),
            pending: StateAccess::default(),
        }
    }

    /// Forgets the reads of a transaction that was rejected. What they loaded stays cached.
    pub(crate) fn discard_pending(&mut self) {
        self.pending = StateAccess::default();
    }

    /// The cached account at `address`, read from the inner database on first use.
    fn load(&mut self, address: Address) -> Result<&mut CachedAccount, DB::Error> {
        // Whether the account exists before the block is pre-state, even for an account the
        // block creates.
        self.pending.accounts.insert(address);
        match self.accounts.entry(address) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                let info = self.db.basic(address)?;
                let state = info.map(|info| {
                    // Keep a code the database handed out with the account, so that a later
                    // `code_by_hash` does not ask again; the access is still recorded then.
                    if let Some(code) = info.code
                        && info.code_hash != KECCAK_EMPTY
                        && !code.is_empty()
                    {
                        self.loaded_codes.entry(info.code_hash).or_insert(code);
                    }
                    AccountState { nonce: info.nonce, balance: info.balance, code_hash: info.code_hash }
                });
                Ok(entry.insert(CachedAccount {
                    original: Original::Known(state.clone()),
                    current: state,
                    storage_wiped: false,
                    storage: HashMap::default(),
                    touched: false,
                }))
            }
        }
    }

    /// The block's net change and everything it read from the inner database. Accounts whose
    /// net change is nothing (touched but unchanged, or created and destroyed within the
    /// block) are left out, as are slots written back to their original value.
    pub(crate) fn into_outcome(mut self) -> (StateChanges, StateAccess) {
        let pending = std::mem::take(&mut self.pending);
        self.access.extend(pending);
        let mut changes = StateChanges::default();
        for (address, account) in self.accounts {
            if let Some(change) = account.net_change() {
                changes.accounts.insert(address, change);
            }
        }
        // Only codes that some changed account ends up with: a contract created and destroyed
        // within the block leaves no code behind.
        let live: std::collections::BTreeSet<B256> = changes
            .accounts
            .values()
            .filter_map(|change| change.info.as_ref().map(|info| info.code_hash))
            .collect();
        changes.codes = self
            .new_codes
            .into_iter()
            .filter(|(hash, _)| live.contains(hash))
            .map(|(hash, code)| (hash, code.original_bytes()))
            .collect();
        (changes, self.access)
    }

    fn record_code(&mut self, info: &AccountInfo) {
        let hash = info.code_hash;
        if hash == KECCAK_EMPTY || self.loaded_codes.contains_key(&hash) {
            return;
        }
        if let Some(code) = &info.code
            && !code.is_empty()
        {
            self.new_codes.entry(hash).or_insert_with(|| code.clone());
        }
    }
}

impl CachedAccount {
    /// The account's change over the whole block, `None` when there is none.
    fn net_change(&self) -> Option<AccountChange> {
        if !self.touched {
            return None;
        }
        let Some(info) = &self.current else {
            // Deleted. If it did not exist before either, nothing changed.
            return match &self.original {
                Original::Known(None) => None,
                _ => Some(AccountChange { info: None, storage_wiped: true, storage: BTreeMap::new() }),
            };
        };
        let storage: BTreeMap<U256, U256> = self
            .storage
            .iter()
            .filter(|(_, slot)| slot.written)
            .filter(|(_, slot)| {
                if self.storage_wiped {
                    // Written after the wipe: only non-zero values are left in an empty trie.
                    !slot.current.is_zero()
                } else {
                    slot.original != Some(slot.current)
                }
            })
            .map(|(key, slot)| (*key, slot.current))
            .collect();
        let unchanged =
            !self.storage_wiped && storage.is_empty() && self.original == Original::Known(Some(info.clone()));
        if unchanged {
            return None;
        }
        Some(AccountChange { info: Some(info.clone()), storage_wiped: self.storage_wiped, storage })
    }

    /// Deletes the account with its storage.
    fn destroy(&mut self) {
        self.current = None;
        self.wipe_storage();
    }

    fn wipe_storage(&mut self) {
        self.storage_wiped = true;
        self.storage.clear();
    }

    fn write_slot(&mut self, key: U256, value: U256) {
        self.storage
            .entry(key)
            .and_modify(|slot| {
                slot.current = value;
                slot.written = true;
            })
            .or_insert(Slot { original: None, current: value, written: true });
    }
}

impl<DB: Database> Database for BlockState<DB> {
    type Error = DB::Error;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        // Without code, so that revm asks `code_by_hash` whenever it needs the code: that is
        // where code reads are recorded, whatever the inner database does.
        Ok(self.load(address)?.current.as_ref().map(|state| AccountInfo {
            balance: state.balance,
            nonce: state.nonce,
            code_hash: state.code_hash,
            account_id: None,
            code: (state.code_hash == KECCAK_EMPTY).then(Bytecode::default),
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.new_codes.get(&code_hash) {
            return Ok(code.clone());
        }
        self.pending.codes.insert(code_hash);
        if let Some(code) = self.loaded_codes.get(&code_hash) {
            return Ok(code.clone());
        }
        let code = self.db.code_by_hash(code_hash)?;
        self.loaded_codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let account = self.load(address)?;
        // Wiped storage (and an absent account's) is all zeros whatever the pre-state holds.
        let from_pre_state = !account.storage_wiped && account.current.is_some();
        if let Some(slot) = account.storage.get(&index) {
            let value = slot.current;
            if slot.original.is_some() {
                self.pending.storage.entry(address).or_default().insert(index);
            }
            return Ok(value);
        }
        let value = if from_pre_state {
            self.pending.storage.entry(address).or_default().insert(index);
            self.db.storage(address, index)?
        } else {
            U256::ZERO
        };
        // `load` above inserted the account, so it is still there.
        if let Some(account) = self.accounts.get_mut(&address) {
            account.storage.insert(
                index,
                Slot { original: from_pre_state.then_some(value), current: value, written: false },
            );
        }
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.pending.block_hashes.insert(number);
        if let Some(hash) = self.block_hashes.get(&number) {
            return Ok(*hash);
        }
        let hash = self.db.block_hash(number)?;
        self.block_hashes.insert(number, hash);
        Ok(hash)
    }
}

impl<DB: Database> DatabaseCommit for BlockState<DB> {
    /// Folds one transaction's (or system call's) state into the block, deciding as revm's own
    /// `CacheState::apply_account_state` does: an untouched account is unchanged; a
    /// selfdestructed one is gone with its storage; a created one starts from empty storage; a
    /// touched empty one is removed (EIP-161); any other touched one takes its new info and
    /// changed slots.
    fn commit(&mut self, changes: AddressMap<Account>) {
        let pending = std::mem::take(&mut self.pending);
        self.access.extend(pending);
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            if !account.is_selfdestructed() {
                self.record_code(&account.info);
            }
            let entry = self.accounts.entry(address).or_insert_with(|| CachedAccount {
                original: Original::Unknown,
                current: None,
                storage_wiped: false,
                storage: HashMap::default(),
                touched: false,
            });
            entry.touched = true;
            if account.is_selfdestructed() {
                entry.destroy();
                continue;
            }
            if account.is_created() {
                entry.wipe_storage();
            } else if account.is_empty() {
                entry.destroy();
                continue;
            }
            entry.current = Some(AccountState {
                nonce: account.info.nonce,
                balance: account.info.balance,
                code_hash: account.info.code_hash,
            });
            for (key, slot) in account.changed_storage_slots() {
                entry.write_slot(*key, slot.present_value());
            }
        }
    }
}
