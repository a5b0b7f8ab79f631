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

/// The stored form of [`StateAccess`] and [`StateChanges`]: RLP of sorted lists, so that the
/// sequencer can keep what each block read and wrote and build traces later without
/// re-executing.
mod rlp {
    use super::{AccountChange, AccountState, StateAccess, StateChanges};
    use alloy_primitives::{Address, B256, Bytes, U256};
    use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

    #[derive(RlpEncodable, RlpDecodable)]
    struct Access {
        accounts: Vec<Address>,
        storage: Vec<Slots>,
        codes: Vec<B256>,
        block_hashes: Vec<u64>,
    }

    #[derive(RlpEncodable, RlpDecodable)]
    struct Slots {
        address: Address,
        slots: Vec<U256>,
    }

    #[derive(RlpEncodable, RlpDecodable)]
    struct Changes {
        accounts: Vec<Change>,
        codes: Vec<Bytes>,
    }

    #[derive(RlpEncodable, RlpDecodable)]
    struct Change {
        address: Address,
        /// Empty when the block deleted the account, else `[nonce, balance, code_hash]`.
        info: Vec<Info>,
        storage_wiped: bool,
        storage: Vec<SlotValue>,
    }

    #[derive(RlpEncodable, RlpDecodable)]
    struct Info {
        nonce: u64,
        balance: U256,
        code_hash: B256,
    }

    #[derive(RlpEncodable, RlpDecodable)]
    struct SlotValue {
        slot: U256,
        value: U256,
    }

    impl From<&StateAccess> for Access {
        fn from(access: &StateAccess) -> Self {
            Self {
                accounts: access.accounts.iter().copied().collect(),
                storage: access
                    .storage
                    .iter()
                    .map(|(address, slots)| Slots {
                        address: *address,
                        slots: slots.iter().copied().collect(),
                    })
                    .collect(),
                codes: access.codes.iter().copied().collect(),
                block_hashes: access.block_hashes.iter().copied().collect(),
            }
        }
    }

    impl From<&StateChanges> for Changes {
        fn from(changes: &StateChanges) -> Self {
            Self {
                accounts: changes
                    .accounts
                    .iter()
                    .map(|(address, change)| Change {
                        address: *address,
                        info: change
                            .info
                            .iter()
                            .map(|info| Info {
                                nonce: info.nonce,
                                balance: info.balance,
                                code_hash: info.code_hash,
                            })
                            .collect(),
                        storage_wiped: change.storage_wiped,
                        storage: change
                            .storage
                            .iter()
                            .map(|(slot, value)| SlotValue { slot: *slot, value: *value })
                            .collect(),
                    })
                    .collect(),
                codes: changes.codes.values().cloned().collect(),
            }
        }
    }

    impl Encodable for StateAccess {
        fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
            Access::from(self).encode(out);
        }
    }

    impl Decodable for StateAccess {
        fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
            let access = Access::decode(buf)?;
            Ok(Self {
                accounts: access.accounts.into_iter().collect(),
                storage: access
                    .storage
                    .into_iter()
                    .map(|slots| (slots.address, slots.slots.into_iter().collect()))
                    .collect(),
                codes: access.codes.into_iter().collect(),
                block_hashes: access.block_hashes.into_iter().collect(),
            })
        }
    }

    impl Encodable for StateChanges {
        fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
            Changes::from(self).encode(out);
        }
    }

    impl Decodable for StateChanges {
        fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
            let changes = Changes::decode(buf)?;
            let accounts = changes
                .accounts
                .into_iter()
                .map(|change| {
                    let address = change.address;
                    let mut info = change.info.into_iter();
                    let account = info.next().map(|info| AccountState {
                        nonce: info.nonce,
                        balance: info.balance,
                        code_hash: info.code_hash,
                    });
                    if info.next().is_some() {
                        return Err(alloy_rlp::Error::Custom("an account change has one state at most"));
                    }
                    let change = AccountChange {
                        info: account,
                        storage_wiped: change.storage_wiped,
                        storage: change.storage.into_iter().map(|slot| (slot.slot, slot.value)).collect(),
                    };
                    Ok((address, change))
                })
                .collect::<alloy_rlp::Result<_>>()?;
            let codes =
                changes.codes.into_iter().map(|code| (alloy_primitives::keccak256(&code), code)).collect();
            Ok(Self { accounts, codes })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips() {
        let mut access = StateAccess::default();
        access.accounts.extend([Address::with_last_byte(1), Address::with_last_byte(2)]);
        access.storage.entry(Address::with_last_byte(2)).or_default().extend([U256::from(7), U256::MAX]);
        access.codes.insert(B256::with_last_byte(3));
        access.block_hashes.extend([5, 9]);
        let mut changes = StateChanges::default();
        changes.accounts.insert(Address::with_last_byte(1), AccountChange::default());
        changes.accounts.insert(
            Address::with_last_byte(2),
            AccountChange {
                info: Some(AccountState {
                    nonce: 3,
                    balance: U256::from(4),
                    code_hash: B256::repeat_byte(5),
                }),
                storage_wiped: true,
                storage: [(U256::from(1), U256::ZERO), (U256::from(2), U256::from(6))].into(),
            },
        );
        let code = Bytes::from_static(&[0x60, 0x00]);
        changes.codes.insert(alloy_primitives::keccak256(&code), code);

        let access_again: StateAccess = alloy_rlp::decode_exact(alloy_rlp::encode(&access)).unwrap();
        let changes_again: StateChanges = alloy_rlp::decode_exact(alloy_rlp::encode(&changes)).unwrap();
        assert_eq!((access_again, changes_again), (access, changes));
    }
}
