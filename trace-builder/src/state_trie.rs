//! The Ethereum state on the one [`Trie`]: the account trie and one storage trie per account.
//!
//! The account trie maps `keccak256(address)` to the RLP of [`TrieAccount`]; an account's storage
//! trie maps `keccak256(slot as 32 big-endian bytes)` to the RLP of the slot's non-zero value.
//! Every operation here is a fixed sequence of trie operations in a fixed order, so that the
//! sequencer (over the database) and the verifier (over the witness) read the same nodes.

use crate::{
    state::{AccountChange, AccountState, StateChanges},
    trie::{CommittedNode, EMPTY_ROOT_HASH, Location, NodeStore, Trie, TrieError},
};
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256, map::B256Map};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use std::collections::BTreeMap;

/// An account as the account trie holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TrieAccount {
    /// Account nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Root of the account's storage trie ([`EMPTY_ROOT_HASH`] without storage).
    pub storage_root: B256,
    /// keccak256 of the account's code ([`KECCAK256_EMPTY`] without code).
    pub code_hash: B256,
}

impl From<TrieAccount> for AccountState {
    /// The account without its storage root.
    fn from(account: TrieAccount) -> Self {
        Self { nonce: account.nonce, balance: account.balance, code_hash: account.code_hash }
    }
}

impl Default for TrieAccount {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, storage_root: EMPTY_ROOT_HASH, code_hash: KECCAK256_EMPTY }
    }
}

/// The data of `eth_getProof` for one account: the account and its storage slots, each with
/// the proof of its value (or absence) against the state root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    /// The account proved.
    pub address: Address,
    /// The account, `None` when it does not exist (then `account_proof` proves its absence).
    pub account: Option<TrieAccount>,
    /// Nodes from the state root to the account's leaf (or to where its path ends), root first.
    pub account_proof: Vec<Bytes>,
    /// The slots asked for, in the order asked.
    pub storage: Vec<StorageProof>,
}

/// The proof of one storage slot against its account's storage root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot.
    pub key: U256,
    /// Its value (zero when absent).
    pub value: U256,
    /// Nodes from the storage root towards the slot, root first; empty when the account has no
    /// storage.
    pub proof: Vec<Bytes>,
}

/// The Ethereum state trie: accounts and their storage, read lazily from one [`NodeStore`].
///
/// Storage tries are opened on first use from the account's `storage_root` and kept until the
/// account is deleted or its storage wiped.
#[derive(Debug)]
pub struct StateTrie<S> {
    store: S,
    accounts: Trie<S>,
    /// Storage tries opened so far; each one's root is its account's `storage_root`.
    storage: BTreeMap<Address, Trie<S>>,
}

impl<S: NodeStore + Clone> StateTrie<S> {
    /// The state with root `root` ([`EMPTY_ROOT_HASH`] for an empty state), whose nodes are in
    /// `store`. Reads nothing until an operation needs it.
    pub fn new(store: S, root: B256) -> Self {
        Self { accounts: Trie::new(store.clone(), root), store, storage: BTreeMap::new() }
    }

    /// The account at `address`, `None` when it does not exist.
    pub fn account(&mut self, address: Address) -> Result<Option<TrieAccount>, TrieError> {
        let key = keccak256(address);
        self.accounts.get(key.as_slice())?.map(|rlp| decode_value(key, &rlp)).transpose()
    }

    /// The value of `slot` in the storage of `address` (zero when absent or when the account
    /// does not exist).
    pub fn storage(&mut self, address: Address, slot: U256) -> Result<U256, TrieError> {
        let Some(account) = self.account(address)? else {
            return Ok(U256::ZERO);
        };
        let key = slot_key(slot);
        let trie = self.storage_trie(address, account.storage_root);
        Ok(trie.get(key.as_slice())?.map(|rlp| decode_value(key, &rlp)).transpose()?.unwrap_or_default())
    }

    /// Applies `changes` account by account in address order (storage slots in slot order,
    /// before the account itself) and returns the new state root. An account with
    /// `info: None` is deleted with its storage; `storage_wiped` starts its storage from empty.
    /// On error the state may be partly applied: discard it.
    pub fn apply(&mut self, changes: &StateChanges) -> Result<B256, TrieError> {
        self.update(changes)?;
        Ok(self.accounts.root_hash())
    }

    /// [`StateTrie::apply`] without hashing the account trie (storage tries are hashed, as
    /// their roots are part of the accounts): for applying several blocks' changes before one
    /// [`StateTrie::root_hash`]. The same trie operations in the same order as `apply`.
    pub fn update(&mut self, changes: &StateChanges) -> Result<(), TrieError> {
        for (address, change) in &changes.accounts {
            self.apply_account(*address, change)?;
        }
        Ok(())
    }

    fn apply_account(&mut self, address: Address, change: &AccountChange) -> Result<(), TrieError> {
        let key = keccak256(address);
        let Some(info) = &change.info else {
            self.storage.remove(&address);
            return self.accounts.remove(key.as_slice());
        };
        let storage_root = if change.storage_wiped {
            let trie = Trie::empty(self.store.clone());
            self.storage.insert(address, trie);
            EMPTY_ROOT_HASH
        } else {
            let current = self.accounts.get(key.as_slice())?;
            let current = current.map(|rlp| decode_value::<TrieAccount>(key, &rlp)).transpose()?;
            current.map_or(EMPTY_ROOT_HASH, |account| account.storage_root)
        };
        let storage_root = if change.storage.is_empty() {
            storage_root
        } else {
            let trie = self.storage_trie(address, storage_root);
            for (slot, value) in &change.storage {
                let key = slot_key(*slot);
                if value.is_zero() {
                    trie.remove(key.as_slice())?;
                } else {
                    trie.insert(key.as_slice(), alloy_rlp::encode(value))?;
                }
            }
            trie.root_hash()
        };
        let account =
            TrieAccount { nonce: info.nonce, balance: info.balance, storage_root, code_hash: info.code_hash };
        self.accounts.insert(key.as_slice(), alloy_rlp::encode(account))
    }

    /// The current state root.
    pub fn root_hash(&mut self) -> B256 {
        self.accounts.root_hash()
    }

    /// The state root and every node created since the last commit, in the account trie and in
    /// all storage tries (as [`Trie::commit`]); storing them lets a `StateTrie` reopened at that
    /// root read the same state.
    pub fn commit(&mut self) -> (B256, Vec<(B256, Bytes)>) {
        let (root, nodes) = self.commit_located(Location::MIN);
        (root, nodes.into_iter().map(|node| (node.hash, node.rlp)).collect())
    }

    /// [`StateTrie::commit`] for a store that keeps nodes at locations (see
    /// [`Trie::commit_located`]): the new nodes of all tries get the locations from `next` on,
    /// in the order returned.
    pub fn commit_located(&mut self, mut next: Location) -> (B256, Vec<CommittedNode>) {
        let mut nodes = Vec::new();
        for trie in self.storage.values_mut() {
            let (_, mut committed) = trie.commit_located(next);
            if let Some(last) = committed.last() {
                next = last.location.saturating_add(1);
            }
            nodes.append(&mut committed);
        }
        let (root, mut account_nodes) = self.accounts.commit_located(next);
        nodes.append(&mut account_nodes);
        (root, nodes)
    }

    /// The `eth_getProof` data of `address` and its `slots`. Reads the nodes on those paths.
    pub fn proof(&mut self, address: Address, slots: &[U256]) -> Result<AccountProof, TrieError> {
        let key = keccak256(address);
        let account_proof = self.accounts.proof(key.as_slice())?;
        let account = self.account(address)?;
        let mut storage = Vec::with_capacity(slots.len());
        for &slot in slots {
            let (value, proof) = match account {
                Some(account) => {
                    let key = slot_key(slot);
                    let trie = self.storage_trie(address, account.storage_root);
                    let proof = trie.proof(key.as_slice())?;
                    let value = trie.get(key.as_slice())?;
                    let value = value.map(|rlp| decode_value(key, &rlp)).transpose()?;
                    (value.unwrap_or_default(), proof)
                }
                None => (U256::ZERO, Vec::new()),
            };
            storage.push(StorageProof { key: slot, value, proof });
        }
        Ok(AccountProof { address, account, account_proof, storage })
    }

    /// The storage trie of `address`, opened at `root` unless already open.
    fn storage_trie(&mut self, address: Address, root: B256) -> &mut Trie<S> {
        self.storage.entry(address).or_insert_with(|| Trie::new(self.store.clone(), root))
    }
}

/// The root of a state holding `accounts` (address, account, non-zero storage slots; zero
/// slots are skipped) and the nodes of that state, ready to serve as a store: a genesis state,
/// or the `pre` state of an ethereum/tests fixture.
pub fn state_root_of(
    accounts: impl IntoIterator<Item = (Address, AccountState, BTreeMap<U256, U256>)>,
) -> (B256, B256Map<Bytes>) {
    let changes = StateChanges {
        accounts: accounts
            .into_iter()
            .map(|(address, info, storage)| {
                (address, AccountChange { info: Some(info), storage_wiped: true, storage })
            })
            .collect(),
        codes: BTreeMap::new(),
    };
    let mut state = StateTrie::new(B256Map::<Bytes>::default(), EMPTY_ROOT_HASH);
    // A state built from empty in memory never references a node by hash, so it never reads
    // its store and applying cannot fail.
    #[allow(clippy::expect_used)]
    state.apply(&changes).expect("an in-memory trie reads no node");
    let (root, nodes) = state.commit();
    (root, nodes.into_iter().collect())
}

/// The storage trie key of `slot`.
fn slot_key(slot: U256) -> B256 {
    keccak256(slot.to_be_bytes::<32>())
}

/// Decodes the value under `key`, which came from the store (so may be anything).
fn decode_value<T: alloy_rlp::Decodable>(key: B256, rlp: &[u8]) -> Result<T, TrieError> {
    alloy_rlp::decode_exact(rlp).map_err(|error| TrieError::MalformedValue {
        key: Bytes::copy_from_slice(key.as_slice()),
        reason: error.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn account_lifecycle() {
        let address = Address::with_last_byte(9);
        let info = AccountState { nonce: 1, balance: U256::from(5), code_hash: KECCAK256_EMPTY };
        let slot = U256::from(3);
        let mut state = StateTrie::new(B256Map::<Bytes>::default(), EMPTY_ROOT_HASH);
        assert_eq!(state.account(address).unwrap(), None);

        let mut change = AccountChange { info: Some(info), ..AccountChange::default() };
        change.storage.insert(slot, U256::from(42));
        let changes = StateChanges { accounts: [(address, change)].into(), codes: BTreeMap::new() };
        let root = state.apply(&changes).unwrap();
        assert_ne!(root, EMPTY_ROOT_HASH);
        let account = state.account(address).unwrap().unwrap();
        assert_eq!((account.nonce, account.balance), (1, U256::from(5)));
        assert_ne!(account.storage_root, EMPTY_ROOT_HASH);
        assert_eq!(state.storage(address, slot).unwrap(), U256::from(42));

        // Reopened from its nodes, the state reads the same.
        let (committed, nodes) = state.commit();
        assert_eq!(committed, root);
        let store: B256Map<Bytes> = nodes.into_iter().collect();
        let mut reopened = StateTrie::new(&store, root);
        assert_eq!(reopened.storage(address, slot).unwrap(), U256::from(42));

        // Zeroing the only slot empties the storage; deleting the account empties the state.
        let mut change = AccountChange { info: Some(AccountState::default()), ..Default::default() };
        change.storage.insert(slot, U256::ZERO);
        let changes = StateChanges { accounts: [(address, change)].into(), codes: BTreeMap::new() };
        reopened.apply(&changes).unwrap();
        assert_eq!(reopened.account(address).unwrap().unwrap().storage_root, EMPTY_ROOT_HASH);
        let delete = AccountChange::default();
        let changes = StateChanges { accounts: [(address, delete)].into(), codes: BTreeMap::new() };
        assert_eq!(reopened.apply(&changes).unwrap(), EMPTY_ROOT_HASH);
        assert_eq!(reopened.storage(address, slot).unwrap(), U256::ZERO);
    }
}
