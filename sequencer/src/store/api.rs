//! The store's boundary: what a component may read from the chain and write to it, as traits
//! that [`Store`](super::Store) implements, each over the tables of one file of this module.
//!
//! A component names the narrowest trait it needs: the trace of a batch (what the batcher
//! posts) reads sealed blocks and codes ([`ChainReader`]), the builder's latest state reads
//! accounts, storage, codes and block hashes ([`StateReader`], [`BlockReader`]), and only the
//! node that seals blocks writes ([`ChainWriter`]). Another implementation, a read replica or a
//! batcher in a process of its own reading over the network, slots in behind the same traits.
//! The mempool journal ([`MempoolJournal`](super::MempoolJournal)) and the trie's nodes
//! ([`DbNodeStore`](super::DbNodeStore), trace-builder's `NodeStore`) have interfaces of
//! their own.
//!
//! The methods are declared as `fn … -> impl Future<Output = …> + Send` and implemented with
//! `async fn`. That is dispatched statically and allocates nothing per call, where
//! `#[async_trait]` boxes every call's future (one per RPC read, and the builder's reads on its
//! hot path); and it promises `Send` in the signature, so the future of a caller generic over
//! the trait can be spawned, which a bare `async fn` in a public trait leaves unknown to callers
//! (rustc's `async_fn_in_trait` lint). The price is that the traits are not object-safe: a
//! component takes a type parameter, not a `dyn` reader.

use super::{BlockRecord, GenesisStatus, LogQuery, StoredTransaction};
use crate::{error::StoreError, l1_follower::L1Block};
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::Log;
use trace_builder::{AccountState, StateAccess, StateChanges};

/// Sealed blocks: headers, hashes and the state record each block was committed with
/// (`blocks.rs`).
pub trait BlockReader: Send + Sync {
    /// Number and hash of the newest block, or `None` for an empty database.
    fn head(&self) -> impl Future<Output = Result<Option<(u64, B256)>, StoreError>> + Send;

    /// The header of block `number`.
    fn header_by_number(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<Header>, StoreError>> + Send;

    /// The header of the block with hash `hash`.
    fn header_by_hash(&self, hash: B256) -> impl Future<Output = Result<Option<Header>, StoreError>> + Send;

    /// The hash of block `number`.
    fn block_hash(&self, number: u64) -> impl Future<Output = Result<Option<B256>, StoreError>> + Send;

    /// The L1 block that sealed blocks name by `hash` as their anchor (`parent_beacon_block_root`),
    /// with the number and timestamp recorded when the first of them was committed. `None` for a
    /// hash no block anchors to, the zero root of unanchored blocks among them.
    fn l1_anchor(&self, hash: B256) -> impl Future<Output = Result<Option<L1Block>, StoreError>> + Send;

    /// What block `number` read from and changed in the state, as its builder recorded them:
    /// what a trace of the block needs besides its transactions. `None` for an unknown block
    /// and for the genesis block.
    fn block_state(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<(StateAccess, StateChanges)>, StoreError>> + Send;
}

/// Mined transactions with their receipts, and their logs (`transactions.rs`).
pub trait TransactionReader: Send + Sync {
    /// A mined transaction by hash.
    fn transaction(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<StoredTransaction>, StoreError>> + Send;

    /// The transactions of block `number`, in block order, with their receipts.
    fn block_transactions(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Vec<StoredTransaction>, StoreError>> + Send;

    /// How many transactions block `number` holds (0 for a block not stored), counted by the
    /// database through the block-position index, without reading the rows back.
    fn block_transaction_count(&self, number: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The transaction at `index` in block `number`, if there is one.
    fn block_transaction(
        &self,
        number: u64,
        index: u64,
    ) -> impl Future<Output = Result<Option<StoredTransaction>, StoreError>> + Send;

    /// The block-wide index of the first log of the transaction at `tx_index` in block
    /// `number`; `None` when it has no logs. Read from the logs table's primary key, without
    /// reading the block's other transactions.
    fn first_log_index(
        &self,
        number: u64,
        tx_index: u64,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// The logs matching `query` in block and log order, at most `limit` of them (the caller
    /// asks for one more than it allows to tell a truncated answer).
    fn logs(
        &self,
        query: &LogQuery,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Log>, StoreError>> + Send;
}

/// The latest state: accounts, storage and codes as the newest sealed block left them
/// (`accounts.rs`).
pub trait StateReader: Send + Sync {
    /// An account of the latest state.
    fn account(
        &self,
        address: Address,
    ) -> impl Future<Output = Result<Option<AccountState>, StoreError>> + Send;

    /// The accounts of the latest state among `addresses`, in batched queries; absent accounts
    /// are left out.
    fn accounts(
        &self,
        addresses: &[Address],
    ) -> impl Future<Output = Result<Vec<(Address, AccountState)>, StoreError>> + Send;

    /// A storage slot of the latest state (zero when unset).
    fn storage(&self, address: Address, slot: U256) -> impl Future<Output = Result<U256, StoreError>> + Send;

    /// Contract code by hash. Codes are never deleted: any code a sealed block used is found.
    fn code(&self, hash: B256) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send;
}

/// Everything a reader of the chain may ask: sealed blocks, their transactions and logs, and
/// the latest state. Implemented by every type that implements its three parts.
pub trait ChainReader: BlockReader + TransactionReader + StateReader {}

impl<T: BlockReader + TransactionReader + StateReader> ChainReader for T {}

/// The one writer of the chain: the node that seals blocks (`blocks.rs`, `genesis.rs`).
pub trait ChainWriter: Send + Sync {
    /// Whether the database is new, or was made for this very genesis and chain id (an error
    /// when it was made for another). A new database gets its identity with the genesis block
    /// ([`ChainWriter::commit_block`] of block 0).
    fn init_or_check_genesis(
        &self,
        chain_id: u64,
        genesis_hash: B256,
    ) -> impl Future<Output = Result<GenesisStatus, StoreError>> + Send;

    /// Writes a sealed block and everything it changed in one database transaction: a reader
    /// sees all of it or none. The genesis block (number 0) also records the chain's identity.
    fn commit_block(
        &self,
        block: &BlockRecord,
        chain_id: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
