//! The state calls run on: a block's state as the store serves it ([`CallState`]), under revm's
//! caching [`State`], which also holds the request's overrides (applied by alloy-evm, see
//! `overrides.rs`).

use crate::{
    error::StoreError,
    rpc::{
        codes::Codes,
        eth::{EthRpc, ResolvedBlock},
        head_accounts::{HeadAccounts, HeadChanges},
    },
    store::{BlockReader, DbNodeStore, StateReader, Store},
};
use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256};
use revm::{
    Database,
    bytecode::{Bytecode, BytecodeDecodeError},
    database::State,
    database_interface::DBErrorMarker,
    state::AccountInfo,
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use trace_builder::{StateTrie, TrieError};

/// The state a call runs on: the block's state with what the call read so far and the request's
/// overrides, cached by revm's [`State`] for the runs of one request.
pub(super) type CallDb = State<CallState>;

/// A block's state for calls: accounts and storage through the trie at its state root (accounts
/// the RPC holds for the head from memory), codes and ancestor hashes from the store.
///
/// It starts out serving only what is in memory (cached trie nodes and codes), which any thread
/// may do; a read that needs the database fails and sets `missed`. Once
/// [`CallState::read_database`] it reads the database synchronously, on a blocking thread.
pub(super) struct CallState {
    trie: StateTrie<DbNodeStore>,
    nodes: DbNodeStore,
    root: B256,
    store: Store,
    codes: Arc<Codes>,
    /// The RPC's accounts of the head, when the block is the head.
    head: Option<(Arc<HeadAccounts>, HeadChanges)>,
    runtime: tokio::runtime::Handle,
    number: u64,
    in_memory: bool,
    pub(super) missed: bool,
    /// Reading the database: when reads stop, and whether they did. Runs that read much
    /// (`eth_simulateV1`'s blocks, on no inspector's clock) stop there too.
    deadline: Option<Instant>,
    /// How long reads may go on once they read the database.
    timeout: Duration,
    pub(super) timed_out: Arc<AtomicBool>,
}

/// A read the call's state could not serve.
#[derive(Debug, thiserror::Error)]
pub enum CallStateError {
    /// The state trie could not serve an account or a slot: a node is missing or malformed, or
    /// its store failed (serving from memory only: the node is not in memory).
    #[error("state unavailable: {0}")]
    Trie(#[from] TrieError),
    /// Serving from memory only, an account's code is not in memory.
    #[error("state unavailable: code {0} is not in memory")]
    CodeNotInMemory(B256),
    /// Serving from memory only, the hash of an ancestor block is not in memory.
    #[error("state unavailable: the hash of block {0} is not in memory")]
    BlockHashNotInMemory(u64),
    /// The store has no code under a hash an account names.
    #[error("state unavailable: missing code {0}")]
    MissingCode(B256),
    /// A stored code that does not decode.
    #[error("state unavailable: code {hash} does not decode: {source}")]
    InvalidCode {
        /// The code's hash.
        hash: B256,
        /// Why it does not decode.
        #[source]
        source: BytecodeDecodeError,
    },
    /// The store failed.
    #[error("state unavailable: {0}")]
    Store(#[from] StoreError),
    /// The call timeout was up before the read.
    #[error("execution aborted (timeout = {}s)", .0.as_secs_f64())]
    Timeout(Duration),
}

impl DBErrorMarker for CallStateError {}

impl CallState {
    /// The state of `block` as `rpc` reads it, serving what is in memory.
    pub(super) fn new(rpc: &EthRpc, block: &ResolvedBlock) -> Self {
        let header = &block.header;
        let nodes = rpc.nodes.in_memory();
        Self {
            trie: StateTrie::new(nodes.clone(), header.state_root),
            nodes,
            root: header.state_root,
            store: rpc.store.clone(),
            codes: rpc.codes.clone(),
            head: rpc.head_changes(block).map(|head| (rpc.head_accounts.clone(), head)),
            runtime: tokio::runtime::Handle::current(),
            number: header.number,
            in_memory: true,
            missed: false,
            deadline: None,
            timeout: rpc.executions.timeout(),
            timed_out: Arc::default(),
        }
    }

    /// From now on, reads from the database what memory lacks, for the call timeout from now.
    pub(super) fn read_database(&mut self) {
        self.nodes = self.nodes.reading_database();
        self.trie = StateTrie::new(self.nodes.clone(), self.root);
        self.in_memory = false;
        self.missed = false;
        self.deadline = Some(Instant::now() + self.timeout);
    }

    /// Set once a read found the time up; shared, so that it can be read while an executor
    /// holds the state.
    pub(super) fn timed_out(&self) -> Arc<AtomicBool> {
        self.timed_out.clone()
    }

    /// How long reads may go on once they read the database.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Refuses a read past the deadline.
    fn check_deadline(&self) -> Result<(), CallStateError> {
        if self.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            self.timed_out.store(true, Ordering::Relaxed);
            return Err(CallStateError::Timeout(self.timeout));
        }
        Ok(())
    }

    /// `error`, noting a read memory could not serve.
    fn read_error(&mut self, error: impl Into<CallStateError>) -> CallStateError {
        self.missed |= self.in_memory;
        error.into()
    }
}

impl Database for CallState {
    type Error = CallStateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let held = self.head.as_ref().and_then(|(accounts, head)| accounts.get(head, &address));
        let account = match held {
            Some(account) => account,
            None => {
                self.check_deadline()?;
                match self.trie.account(address) {
                    Ok(account) => account.map(trace_builder::AccountState::from),
                    Err(error) => return Err(self.read_error(error)),
                }
            }
        };
        Ok(account.map(AccountInfo::from))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code);
        }
        if self.in_memory {
            return Err(self.read_error(CallStateError::CodeNotInMemory(code_hash)));
        }
        self.check_deadline()?;
        let code = self
            .runtime
            .block_on(self.store.code(code_hash))?
            .ok_or(CallStateError::MissingCode(code_hash))?;
        let code = Bytecode::new_raw_checked(code)
            .map_err(|source| CallStateError::InvalidCode { hash: code_hash, source })?;
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.check_deadline()?;
        match self.trie.storage(address, index) {
            Ok(value) => Ok(value),
            Err(error) => Err(self.read_error(error)),
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        if number >= self.number {
            return Ok(B256::ZERO);
        }
        if self.in_memory {
            return Err(self.read_error(CallStateError::BlockHashNotInMemory(number)));
        }
        self.check_deadline()?;
        Ok(self.runtime.block_on(self.store.block_hash(number))?.unwrap_or_default())
    }
}
