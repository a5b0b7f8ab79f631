//! State read through the trie: the revm [`Database`] of every context that has no flat state —
//! the stateless verifier (node store = witness), historical state, conformance tests.

use crate::{
    state::AccountState,
    state_trie::StateTrie,
    trie::{NodeStore, TrieError},
};
use alloy_primitives::{Address, B256, Bytes, U256, map::B256Map};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, Database},
    primitives::KECCAK_EMPTY,
    state::AccountInfo,
};
use std::collections::BTreeMap;

/// Accounts and storage from a [`StateTrie`], codes and ancestor block hashes from maps.
#[derive(Debug)]
pub struct TrieDatabase<S> {
    /// The state trie at the block's pre-state root.
    pub trie: StateTrie<S>,
    /// Contract codes by hash.
    pub codes: B256Map<Bytes>,
    /// Ancestor block hashes by number, for BLOCKHASH.
    pub block_hashes: BTreeMap<u64, B256>,
}

/// A read the trie could not serve.
#[derive(Debug, thiserror::Error)]
pub enum TrieDatabaseError {
    /// The trie failed (in the verifier: an incomplete or corrupt witness).
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// A code hash with no code.
    #[error("missing code {0}")]
    MissingCode(B256),
    /// A code that is not valid bytecode (a malformed EIP-7702 designation): from a witness,
    /// an invalid one, never a panic.
    #[error("malformed code {hash}: {reason}")]
    MalformedCode {
        /// The code's hash.
        hash: B256,
        /// What is wrong with it.
        reason: String,
    },
    /// BLOCKHASH asked for a block hash that was not supplied.
    #[error("missing hash of block {0}")]
    MissingBlockHash(u64),
}

impl DBErrorMarker for TrieDatabaseError {}

impl<S: NodeStore + Clone> TrieDatabase<S> {
    /// A database over `trie` with no codes or block hashes yet.
    pub fn new(trie: StateTrie<S>) -> Self {
        Self { trie, codes: B256Map::default(), block_hashes: BTreeMap::new() }
    }
}

impl<S: NodeStore + Clone> Database for TrieDatabase<S> {
    type Error = TrieDatabaseError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.trie.account(address)?.map(|account| AccountState::from(account).into()))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        let code = self.codes.get(&code_hash).ok_or(TrieDatabaseError::MissingCode(code_hash))?;
        Bytecode::new_raw_checked(code.clone())
            .map_err(|error| TrieDatabaseError::MalformedCode { hash: code_hash, reason: error.to_string() })
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.trie.storage(address, index)?)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.block_hashes.get(&number).copied().ok_or(TrieDatabaseError::MissingBlockHash(number))
    }
}
