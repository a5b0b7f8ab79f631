//! The executor's view of the state during one block: a cache over the caller's database that
//! records every read (→ [`StateAccess`]) and folds every committed change (→ [`StateChanges`]).

use crate::state::{AccountChange, AccountState, StateAccess, StateChanges};
use alloy_primitives::{
    Address, B256, U256,
    map::{Entry, HashMap},
};
use revm::{
    Database, DatabaseCommit,
    bytecode::Bytecode,
    primitives::KECCAK_EMPTY,
    state::{Account, AccountInfo},
};

/// One account as this block sees it.
#[derive(Clone, Debug)]
struct CachedAccount {
    /// The account now (`None`: absent).
    info: Option<AccountInfo>,
    /// Storage as read or written during the block.
    storage: HashMap<U256, U256>,
    /// Storage cleared during the block: unread slots are zero, not the database's.
    storage_wiped: bool,
    /// The block changed this account.
    changed: bool,
    /// Slots written during the block.
    written: std::collections::BTreeSet<U256>,
}

/// A caching, recording state layer over `DB` for the duration of one block.
#[derive(Debug)]
pub struct BlockState<DB> {
    db: DB,
    accounts: HashMap<Address, CachedAccount>,
    codes: HashMap<B256, Bytecode>,
    new_codes: std::collections::BTreeMap<B256, alloy_primitives::Bytes>,
    block_hashes: HashMap<u64, B256>,
    access: StateAccess,
}

impl<DB: Database> BlockState<DB> {
    /// A fresh layer over `db`.
    pub fn new(db: DB) -> Self {
        Self {
            db,
            accounts: HashMap::default(),
            codes: HashMap::default(),
            new_codes: Default::default(),
            block_hashes: HashMap::default(),
            access: StateAccess::default(),
        }
    }

    fn load(&mut self, address: Address) -> Result<&mut CachedAccount, DB::Error> {
        match self.accounts.entry(address) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                self.access.accounts.insert(address);
                let info = self.db.basic(address)?;
                Ok(entry.insert(CachedAccount::loaded(info)))
            }
        }
    }

    /// Adds `amount` wei to `address` outside any transaction (EIP-4895 withdrawals).
    pub fn increment_balance(&mut self, address: Address, amount: U256) -> Result<(), DB::Error> {
        if amount.is_zero() {
            return Ok(());
        }
        let account = self.load(address)?;
        let info = account.info.get_or_insert_with(AccountInfo::default);
        info.balance = info.balance.saturating_add(amount);
        account.changed = true;
        Ok(())
    }

    /// What the block changed and what it read.
    pub fn into_outcome(self) -> (StateChanges, StateAccess) {
        let mut changes = StateChanges::default();
        for (address, account) in self.accounts {
            if !account.changed {
                continue;
            }
            let info = account.info.map(|info| AccountState {
                nonce: info.nonce,
                balance: info.balance,
                code_hash: info.code_hash,
            });
            let storage = if info.is_none() {
                Default::default()
            } else {
                account
                    .written
                    .iter()
                    .map(|slot| (*slot, account.storage.get(slot).copied().unwrap_or_default()))
                    .collect()
            };
            changes.accounts.insert(
                address,
                AccountChange { storage_wiped: account.storage_wiped || info.is_none(), info, storage },
            );
        }
        changes.codes = self.new_codes;
        (changes, self.access)
    }
}

impl CachedAccount {
    fn loaded(info: Option<AccountInfo>) -> Self {
        Self {
            info,
            storage: HashMap::default(),
            storage_wiped: false,
            changed: false,
            written: Default::default(),
        }
    }
}

impl<DB: Database> Database for BlockState<DB> {
    type Error = DB::Error;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.load(address)?.info.clone())
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY || code_hash.is_zero() {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code.clone());
        }
        self.access.codes.insert(code_hash);
        let code = self.db.code_by_hash(code_hash)?;
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let account = self.load(address)?;
        if let Some(value) = account.storage.get(&index) {
            return Ok(*value);
        }
        let wiped = account.storage_wiped || account.info.is_none();
        let value = if wiped {
            U256::ZERO
        } else {
            self.access.storage.entry(address).or_default().insert(index);
            self.db.storage(address, index)?
        };
        if let Some(account) = self.accounts.get_mut(&address) {
            account.storage.insert(index, value);
        }
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        if let Some(hash) = self.block_hashes.get(&number) {
            return Ok(*hash);
        }
        self.access.block_hashes.insert(number);
        let hash = self.db.block_hash(number)?;
        self.block_hashes.insert(number, hash);
        Ok(hash)
    }
}

impl<DB: Database> DatabaseCommit for BlockState<DB> {
    fn commit(&mut self, changes: alloy_primitives::map::AddressMap<Account>) {
        for (address, account) in changes {
            // Decided as revm's own cache does: untouched accounts are unchanged; a
            // selfdestructed one is gone with its storage; a created one starts from empty
            // storage; a touched empty one is removed (EIP-161).
            if !account.is_touched() {
                continue;
            }
            let entry = self.accounts.entry(address).or_insert_with(|| CachedAccount::loaded(None));
            entry.changed = true;
            if account.is_selfdestructed() || (account.is_empty() && !account.is_created()) {
                entry.info = None;
                entry.storage.clear();
                entry.written.clear();
                entry.storage_wiped = true;
                continue;
            }
            if account.is_created() {
                entry.storage.clear();
                entry.written.clear();
                entry.storage_wiped = true;
            }
            if let Some(code) = &account.info.code
                && !code.is_empty()
                && !self.codes.contains_key(&account.info.code_hash)
            {
                self.codes.insert(account.info.code_hash, code.clone());
                self.new_codes.insert(account.info.code_hash, code.original_bytes());
            }
            for (slot, value) in account.changed_storage_slots() {
                entry.storage.insert(*slot, value.present_value);
                entry.written.insert(*slot);
            }
            entry.info = Some(account.info.clone().without_code());
        }
    }
}
