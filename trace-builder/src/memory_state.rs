//! An in-memory Ethereum state for tests, benches and the ethereum/tests conformance harness:
//! [`MemoryState`] serves revm from maps, and [`RecordedState`] answers only the reads a block
//! recorded, as a stateless verifier holding exactly that witness could. Neither is needed to
//! verify a trace, so they exist only with the `test-utils` feature (or in this crate's tests).

use crate::{
    error::MemoryStateError,
    state::{AccountState, StateAccess, StateChanges},
    state_trie::state_root_of,
};
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256, map::B256Map};
use revm::{Database, DatabaseRef, bytecode::Bytecode, state::AccountInfo};
use std::collections::BTreeMap;

/// An in-memory Ethereum state that serves revm: accounts, storage, codes by hash and block
/// hashes. It is the conformance harness's state; tests and benches of the executor build on it.
#[derive(Clone, Debug, Default)]
pub struct MemoryState {
    accounts: BTreeMap<Address, AccountState>,
    storage: BTreeMap<Address, BTreeMap<U256, U256>>,
    codes: B256Map<Bytes>,
    block_hashes: BTreeMap<u64, B256>,
}

impl MemoryState {
    /// A state holding only the system contracts of Prague and later, as L1 deployed them
    /// (EIP-4788 beacon roots, EIP-2935 block history, EIP-7002 and EIP-7251 request queues):
    /// the base of an L2 test state.
    pub fn with_system_contracts() -> Self {
        use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
        let mut state = Self::default();
        for (address, code) in [
            (eip4788::BEACON_ROOTS_ADDRESS, &eip4788::BEACON_ROOTS_CODE),
            (eip2935::HISTORY_STORAGE_ADDRESS, &eip2935::HISTORY_STORAGE_CODE),
            (eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, &eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE),
            (
                eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                &eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE,
            ),
        ] {
            state.insert_account(address, 1, U256::ZERO, code.clone(), BTreeMap::new());
        }
        state
    }

    /// Creates or replaces the account at `address` with `code` and `storage` (zero slots are
    /// dropped).
    pub fn insert_account(
        &mut self,
        address: Address,
        nonce: u64,
        balance: U256,
        code: Bytes,
        storage: BTreeMap<U256, U256>,
    ) {
        let code_hash = if code.is_empty() {
            KECCAK256_EMPTY
        } else {
            let hash = keccak256(&code);
            self.codes.insert(hash, code);
            hash
        };
        self.accounts.insert(address, AccountState { nonce, balance, code_hash });
        let storage: BTreeMap<U256, U256> = storage.into_iter().filter(|(_, v)| !v.is_zero()).collect();
        if storage.is_empty() {
            self.storage.remove(&address);
        } else {
            self.storage.insert(address, storage);
        }
    }

    /// Records the hash of block `number`, for BLOCKHASH.
    pub fn insert_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
    }

    /// Applies a block's changes, with the semantics the state trie gives them.
    pub fn apply(&mut self, changes: &StateChanges) {
        for (hash, code) in &changes.codes {
            self.codes.insert(*hash, code.clone());
        }
        for (address, change) in &changes.accounts {
            let Some(info) = &change.info else {
                self.accounts.remove(address);
                self.storage.remove(address);
                continue;
            };
            self.accounts.insert(*address, info.clone());
            if change.storage_wiped {
                self.storage.remove(address);
            }
            let storage = self.storage.entry(*address).or_default();
            for (slot, value) in &change.storage {
                if value.is_zero() {
                    storage.remove(slot);
                } else {
                    storage.insert(*slot, *value);
                }
            }
            if storage.is_empty() {
                self.storage.remove(address);
            }
        }
    }

    /// The account at `address`, if it exists.
    pub fn account(&self, address: &Address) -> Option<&AccountState> {
        self.accounts.get(address)
    }

    /// The non-zero storage of `address`.
    pub fn account_storage(&self, address: &Address) -> BTreeMap<U256, U256> {
        self.storage.get(address).cloned().unwrap_or_default()
    }

    /// The code with `hash` (empty for the empty code's hash), if the state has it.
    pub fn code(&self, hash: &B256) -> Option<Bytes> {
        if *hash == KECCAK256_EMPTY {
            return Some(Bytes::new());
        }
        self.codes.get(hash).cloned()
    }

    /// Every existing account's address.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.accounts.keys()
    }

    /// The state root and trie nodes of this state, built from scratch.
    pub fn trie(&self) -> (B256, B256Map<Bytes>) {
        state_root_of(
            self.accounts
                .iter()
                .map(|(address, info)| (*address, info.clone(), self.account_storage(address))),
        )
    }
}

impl DatabaseRef for MemoryState {
    type Error = MemoryStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.accounts.get(&address).map(|account| AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            account_id: None,
            code: None,
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        let code = self.code(&code_hash).ok_or(MemoryStateError::UnknownCode(code_hash))?;
        Bytecode::new_raw_checked(code)
            .map_err(|error| MemoryStateError::MalformedCode { hash: code_hash, reason: error.to_string() })
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage.get(&address).and_then(|storage| storage.get(&index)).copied().unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.block_hashes.get(&number).copied().ok_or(MemoryStateError::UnknownBlockHash(number))
    }
}

impl Database for MemoryState {
    type Error = MemoryStateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.block_hash_ref(number)
    }
}

/// A view of a [`MemoryState`] that answers only the reads in `access` and fails every other:
/// what a stateless verifier holding a witness of exactly those reads could answer.
#[derive(Debug)]
pub struct RecordedState<'a> {
    /// The full state.
    pub state: &'a MemoryState,
    /// The reads it may answer.
    pub access: &'a StateAccess,
}

impl Database for RecordedState<'_> {
    type Error = MemoryStateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if !self.access.accounts.contains(&address) {
            return Err(MemoryStateError::NotRecorded(format!("account {address}")));
        }
        self.state.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if !self.access.codes.contains(&code_hash) {
            return Err(MemoryStateError::NotRecorded(format!("code {code_hash}")));
        }
        self.state.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if !self.access.storage.get(&address).is_some_and(|slots| slots.contains(&index)) {
            return Err(MemoryStateError::NotRecorded(format!("slot {index:#x} of {address}")));
        }
        self.state.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        if !self.access.block_hashes.contains(&number) {
            return Err(MemoryStateError::NotRecorded(format!("hash of block {number}")));
        }
        self.state.block_hash_ref(number)
    }
}
