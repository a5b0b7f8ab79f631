//! What a block did to the state, and what it read: the two records that connect the block
//! executor to the trie, the store and the witness.
//!
//! Both are sorted (`BTreeMap`/`BTreeSet`), so that everyone who applies them to the trie (the
//! sequencer, the trace builder replaying a batch, the stateless verifier) performs the same trie
//! operations in the same order and therefore reads the same nodes.

use alloy_primitives::{Address, B256, Bytes, U256};
use std::collections::{BTreeMap, BTreeSet};

/// An account as it stands after a block, without its storage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountState {
    /// Account nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the account's code (`KECCAK_EMPTY` when it has none).
    pub code_hash: B256,
}

impl From<AccountState> for revm::state::AccountInfo {
    /// The account as revm sees it; the code is loaded by hash when needed.
    fn from(account: AccountState) -> Self {
        Self {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            account_id: None,
            code: None,
        }
    }
}

/// The change a block made to one account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountChange {
    /// The account after the block; `None` when the block deleted it (SELFDESTRUCT of an account
    /// created in the same transaction, or EIP-161 removal of a touched empty account).
    pub info: Option<AccountState>,
    /// The account's storage was cleared before `storage` applies (created or destroyed in the
    /// block). Slots not in `storage` are then zero.
    pub storage_wiped: bool,
    /// Storage slots written by the block, with their final values (zero deletes the slot).
    pub storage: BTreeMap<U256, U256>,
}

/// Everything a block (or a batch of blocks) changed, in a canonical order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Changed accounts, by address.
    pub accounts: BTreeMap<Address, AccountChange>,
    /// Contract codes first deployed by the block, by code hash.
    pub codes: BTreeMap<B256, Bytes>,
}

/// Every piece of pre-state a block read: the keys a stateless verifier has to find in the
/// witness. Writes are reads too (an account is read before it is changed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateAccess {
    /// Accounts read or written, including ones that turned out not to exist.
    pub accounts: BTreeSet<Address>,
    /// Storage slots read or written, per account.
    pub storage: BTreeMap<Address, BTreeSet<U256>>,
    /// Contract codes loaded by hash.
    pub codes: BTreeSet<B256>,
    /// Block numbers whose hash BLOCKHASH (or the EIP-2935 system call) asked for.
    pub block_hashes: BTreeSet<u64>,
}

impl StateChanges {
    /// Folds `later` (the changes of a following block) into `self`, so that the result is
    /// the net change of both blocks.
    pub fn extend(&mut self, later: Self) {
        for (address, change) in later.accounts {
            match self.accounts.entry(address) {
                std::collections::btree_map::Entry::Vacant(entry) => {
                    entry.insert(change);
                }
                std::collections::btree_map::Entry::Occupied(mut entry) => {
                    let earlier = entry.get_mut();
                    earlier.info = change.info;
                    if change.storage_wiped {
                        earlier.storage_wiped = true;
                        earlier.storage = change.storage;
                    } else {
                        earlier.storage.extend(change.storage);
                    }
                }
            }
        }
        self.codes.extend(later.codes);
    }
}

impl StateAccess {
    /// Adds everything `other` read.
    pub fn extend(&mut self, other: Self) {
        self.accounts.extend(other.accounts);
        for (address, slots) in other.storage {
            self.storage.entry(address).or_default().extend(slots);
        }
        self.codes.extend(other.codes);
        self.block_hashes.extend(other.block_hashes);
    }
}
