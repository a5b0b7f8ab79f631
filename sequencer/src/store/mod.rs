//! The chain's database: SQLite (embedded default) or PostgreSQL (production), through sqlx.
//!
//! One database transaction per sealed block writes the header, transactions, receipts, logs,
//! the flat latest state and the new trie nodes together, or nothing.
//!
//! Components reach it through the traits of `api.rs`: [`BlockReader`], [`TransactionReader`],
//! [`StateReader`] (together [`ChainReader`]) and [`ChainWriter`], which [`Store`] implements.
//!
//! By what it stores: `blocks.rs` (headers, hashes, each block's state record, and the commit
//! of a sealed block), `transactions.rs` (transactions, receipts, logs), `accounts.rs` (the flat
//! latest state: accounts, storage, codes, behind the [`AccountFilter`]), `trie_nodes.rs` (the
//! state trie, read through [`DbNodeStore`]), `genesis.rs` (the chain's identity),
//! `relayer_progress.rs` (how far the message relayer saw deliveries) and `mempool_journal.rs`
//! (the transactions the RPC acknowledged). `point_reads.rs` answers the latest state's single
//! reads on SQLite without a trip to sqlx's connection thread. `records.rs` holds the typed rows,
//! `backend.rs` opens the database and its connections, `writer_lock.rs` keeps a second node off
//! it, and `sql.rs` holds every statement and the differences between the two engines; the
//! schema is in `migrations/`.

mod account_filter;
mod accounts;
mod api;
mod backend;
mod blobs;
mod blocks;
mod genesis;
mod mempool_journal;
mod node_store;
mod point_reads;
mod records;
mod relayer_progress;
mod sql;
mod transactions;
mod trie_nodes;
mod writer_lock;

pub use account_filter::AccountFilter;
pub use api::{BlockReader, ChainReader, ChainWriter, StateReader, TransactionReader};
pub use backend::{Backend, StoreOptions, redact};
pub use genesis::GenesisStatus;
pub use mempool_journal::MempoolJournal;
pub use node_store::DbNodeStore;
pub use records::{BlockRecord, StoredTransaction, TransactionRecord};
pub use transactions::LogQuery;
pub use writer_lock::WriterLock;

use sqlx::AnyPool;

/// Handle to the chain database. Cheap to clone.
///
/// Reads, the block producer's reads, block commits and the mempool journal each have
/// connections of their own, so that no flood of RPC reads can make the producer wait for a
/// connection: the producer's handle ([`Store::for_producer`]) reads through its own. (sqlx
/// calls a set of connections a pool, [`AnyPool`]; in this crate "pool" means the mempool.)
#[derive(Clone, Debug)]
pub struct Store {
    /// Connections for this handle's reads: the RPC's, or the producer's.
    readers: AnyPool,
    /// Connections for the block producer's reads.
    producer: AnyPool,
    /// One connection for block commits.
    writer: AnyPool,
    /// Connections for the mempool journal: on SQLite one connection to a file of its own, so
    /// that an admission never waits for a block's commit.
    journal: AnyPool,
    backend: Backend,
    /// Addresses that may have an account: reads of others skip the database.
    account_filter: AccountFilter,
    /// SQLite: reads of one account, slot or code on the calling thread.
    point_reads: Option<std::sync::Arc<point_reads::PointReads>>,
    /// Where the mempool journal keeps each transaction it holds.
    journal_index: std::sync::Arc<parking_lot::Mutex<mempool_journal::JournalIndex>>,
}

impl Store {
    /// The same database, reading through the block producer's own connections: RPC reads,
    /// however many, never hold the producer up.
    pub fn for_producer(&self) -> Self {
        Self { readers: self.producer.clone(), ..self.clone() }
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Bytes the filter of absent accounts occupies (sized once, at open).
    pub fn account_filter_bytes(&self) -> usize {
        self.account_filter.bytes()
    }

    /// Closes every connection, waiting for each to finish.
    pub async fn close(&self) {
        self.readers.close().await;
        self.producer.close().await;
        self.writer.close().await;
        self.journal.close().await;
    }
}
