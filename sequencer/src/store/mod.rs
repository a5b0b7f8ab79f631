//! The chain's database: SQLite (embedded default) or PostgreSQL (production), through sqlx.
//!
//! One database transaction per sealed block writes the header, transactions, receipts, logs,
//! the flat latest state and the new trie nodes together, or nothing. Queries are written once
//! with `$N` placeholders, which both backends accept; generated multi-row statements use `?` on
//! SQLite, which looks named parameters up one by one.

mod account_filter;
mod blobs;
mod journal;
mod logs;
mod node_store;
mod records;
mod trie_nodes;
mod writer_lock;

pub use account_filter::AccountFilter;
pub use journal::PoolJournal;
pub use logs::LogQuery;
pub use node_store::DbNodeStore;
pub use records::{BlockRecord, StoredTransaction, TransactionRecord};
pub use writer_lock::WriterLock;

use crate::error::StoreError;
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::Decodable;
use sqlx::{
    AnyPool, AssertSqlSafe, Row,
    any::{AnyPoolOptions, AnyRow},
};
use std::{str::FromStr, time::Duration};
use trace_builder::{AccountChange, AccountState, StateAccess, StateChanges};

/// Which database engine a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The engine a database URL names.
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// Handle to the chain database. Cheap to clone.
///
/// Reads, the block producer's reads, block commits and the pool's journal each have
/// connections of their own, so that no flood of RPC reads can make the producer wait for a
/// connection: the producer's handle ([`Store::for_producer`]) reads through its own.
#[derive(Clone, Debug)]
pub struct Store {
    /// Connections for this handle's reads: the RPC's, or the producer's.
    readers: AnyPool,
    /// Connections for the block producer's reads.
    producer: AnyPool,
    /// One connection for block commits.
    writer: AnyPool,
    /// Connections for the pool's journal: on SQLite one connection to a file of its own, so
    /// that an admission never waits for a block's commit.
    journal: AnyPool,
    backend: Backend,
    /// Addresses that may have an account: reads of others skip the database.
    account_filter: AccountFilter,
    /// Where the pool's journal keeps each transaction it holds.
    journal_index: std::sync::Arc<parking_lot::Mutex<journal::JournalIndex>>,
}

/// Connections of the block producer's reads: one for execution and the trie, and one for
/// each thread that warms trie paths.
const PRODUCER_CONNECTIONS: u32 = 1 + node_store::WARMING_THREADS as u32;
/// Connections of the pool's journal on PostgreSQL (admissions write in groups).
const POSTGRES_JOURNAL_CONNECTIONS: u32 = 2;

/// How long a query waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Page cache of the SQLite pool-journal connection, in KiB: it appends, and deletes what it
/// appended recently.
const SQLITE_JOURNAL_CACHE_KIB: i64 = 16 << 10;
/// Most bytes of the SQLite file mapped into memory (SQLite's own ceiling by default).
const SQLITE_MMAP_BYTES: i64 = 0x7fff_0000;

/// Key of the genesis hash in `chain_meta`.
const META_GENESIS_HASH: &str = "genesis_hash";
/// Key of the chain id in `chain_meta`.
const META_CHAIN_ID: &str = "chain_id";

impl Backend {
    /// Bound parameters per statement in multi-row inserts and `IN` lists. SQLite allows 32,766
    /// and binds anonymous `?` parameters in linear time (named ones, such as `$N`, cost a
    /// linear lookup each: a 30,000-parameter statement spent most of its time there);
    /// PostgreSQL allows 65,535 but plans a long statement slowly.
    fn params_per_statement(self) -> usize {
        match self {
            Self::Sqlite => 30_000,
            Self::Postgres => 2_000,
        }
    }

    /// Appends the placeholder of the `n`th (1-based) parameter of a generated statement.
    fn push_placeholder(self, sql: &mut String, n: usize) {
        match self {
            Self::Sqlite => sql.push('?'),
            Self::Postgres => {
                sql.push('$');
                sql.push_str(&n.to_string());
            }
        }
    }

    /// `count` comma-separated placeholders.
    fn placeholders(self, count: usize) -> String {
        let mut sql = String::with_capacity(count * 6);
        for n in 1..=count {
            if n > 1 {
                sql.push(',');
            }
            self.push_placeholder(&mut sql, n);
        }
        sql
    }
}

/// How a [`Store`] is opened.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Largest number of connections for RPC reads.
    pub max_connections: u32,
    /// Most memory the filter of absent accounts may take, in bytes.
    pub account_filter_bytes: usize,
    /// SQLite: page cache of the writer connection, in MiB (the pages block commits touch).
    pub sqlite_writer_cache_mib: u32,
    /// SQLite: page cache of each reader connection, in MiB (reads also go through the
    /// memory map of the file, which the kernel may drop).
    pub sqlite_reader_cache_mib: u32,
}

impl From<&crate::config::DatabaseSection> for StoreOptions {
    fn from(section: &crate::config::DatabaseSection) -> Self {
        Self {
            max_connections: section.max_connections,
            account_filter_bytes: usize::try_from(section.account_filter_mib.saturating_mul(1 << 20))
                .unwrap_or(usize::MAX),
            sqlite_writer_cache_mib: section.sqlite_writer_cache_mib,
            sqlite_reader_cache_mib: section.sqlite_reader_cache_mib,
        }
    }
}

impl Store {
    /// Connects with the default options but `max_connections`; see [`Store::open_with`].
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let defaults = StoreOptions::from(&crate::config::DatabaseSection::default());
        Self::open_with(url, StoreOptions { max_connections, ..defaults }).await
    }

    /// Connects (creating the SQLite file and its directory if needed), applies pending
    /// migrations and loads the filter of absent accounts.
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let StoreOptions {
            max_connections,
            account_filter_bytes,
            sqlite_writer_cache_mib,
            sqlite_reader_cache_mib,
        } = options;
        let writer_cache_kib = i64::from(sqlite_writer_cache_mib) << 10;
        let reader_cache_kib = i64::from(sqlite_reader_cache_mib) << 10;
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let connect = |options: AnyPoolOptions, url: String| async move {
            options.connect(&url).await.map_err(|source| StoreError::Connect { url: redact(&url), source })
        };
        let readers = AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(ACQUIRE_TIMEOUT);
        let (readers, producer, writer, journal) = match backend {
            Backend::Sqlite => {
                // SQLite has one writer at a time. Giving the writes one connection of their own
                // queues them in the pool instead of in SQLite's busy handler (which sleeps),
                // and keeps that connection's page cache warm: a connection's cache is dropped
                // whenever another connection has written. The pool's journal, in a file of its
                // own, has its own writer.
                let one_writer = |cache_kib: i64| {
                    AnyPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .after_connect(move |conn, _| Box::pin(sqlite_pragmas(conn, cache_kib)))
                };
                let writer = connect(one_writer(writer_cache_kib), url.clone()).await?;
                let journal =
                    connect(one_writer(SQLITE_JOURNAL_CACHE_KIB), journal::sqlite_journal_url(&url)).await?;
                let sqlite_readers = |options: AnyPoolOptions| {
                    options.after_connect(move |conn, _| Box::pin(sqlite_pragmas(conn, reader_cache_kib)))
                };
                let producer = sqlite_readers(
                    AnyPoolOptions::new()
                        .max_connections(PRODUCER_CONNECTIONS)
                        .acquire_timeout(ACQUIRE_TIMEOUT),
                );
                (
                    connect(sqlite_readers(readers), url.clone()).await?,
                    connect(producer, url).await?,
                    writer,
                    journal,
                )
            }
            Backend::Postgres => {
                let pool =
                    |max: u32| AnyPoolOptions::new().max_connections(max).acquire_timeout(ACQUIRE_TIMEOUT);
                (
                    connect(readers, url.clone()).await?,
                    connect(pool(PRODUCER_CONNECTIONS), url.clone()).await?,
                    connect(pool(1), url.clone()).await?,
                    connect(pool(POSTGRES_JOURNAL_CONNECTIONS), url).await?,
                )
            }
        };
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        migrator.run(&writer).await?;
        if backend == Backend::Sqlite {
            sqlx::migrate!("../migrations/sqlite-pool-journal").run(&journal).await?;
            journal::move_journal_out_of_chain_file(&writer, &journal).await?;
            tokio::spawn(checkpoint_sqlite(readers.clone()));
            tokio::spawn(checkpoint_sqlite(journal.clone()));
        }
        let journal_index =
            std::sync::Arc::new(parking_lot::Mutex::new(journal::JournalIndex::read(&journal).await?));
        let account_filter = load_account_filter(&readers, account_filter_bytes).await?;
        Ok(Self { readers, producer, writer, journal, backend, account_filter, journal_index })
    }

    /// The same database, reading through the block producer's own connections: RPC reads,
    /// however many, never hold the producer up.
    pub fn for_producer(&self) -> Self {
        Self { readers: self.producer.clone(), ..self.clone() }
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Records the genesis of a new database, or checks that an existing one was made for the
    /// same genesis and chain id.
    pub async fn init_or_check_genesis(
        &self,
        chain_id: u64,
        genesis_hash: B256,
    ) -> Result<GenesisStatus, StoreError> {
        let stored_hash = self.meta(META_GENESIS_HASH).await?;
        let stored_chain = self.meta(META_CHAIN_ID).await?;
        match (stored_hash, stored_chain) {
            (None, None) => Ok(GenesisStatus::Fresh),
            (Some(hash), Some(chain)) => {
                let stored_chain_id = u64::from_be_bytes(
                    chain.as_slice().try_into().map_err(|_| StoreError::Corrupt("chain_id".into()))?,
                );
                if stored_chain_id != chain_id {
                    return Err(StoreError::ChainIdMismatch {
                        stored: stored_chain_id,
                        configured: chain_id,
                    });
                }
                let stored_hash = B256::try_from(hash.as_slice())
                    .map_err(|_| StoreError::Corrupt("genesis_hash".into()))?;
                if stored_hash != genesis_hash {
                    return Err(StoreError::GenesisMismatch {
                        stored: stored_hash,
                        configured: genesis_hash,
                    });
                }
                Ok(GenesisStatus::Existing)
            }
            _ => Err(StoreError::Corrupt("chain_meta holds only part of the genesis record".into())),
        }
    }

    async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT value FROM chain_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.map(|row| row.try_get::<Vec<u8>, _>(0)).transpose()?)
    }

    /// Writes a sealed block and everything it changed in one database transaction. The genesis
    /// block (number 0) also records the chain's identity.
    pub async fn commit_block(&self, block: &BlockRecord, chain_id: u64) -> Result<(), StoreError> {
        let backend = self.backend;
        // Before the block is visible: a reader that sees it must find its new accounts.
        for (address, change) in &block.changes.accounts {
            if change.info.is_some() {
                self.account_filter.insert(address);
            }
        }
        let mut tx = self.writer.begin().await?;
        let number = block.header.number;
        if number == 0 {
            for (key, value) in
                [(META_GENESIS_HASH, block.hash.to_vec()), (META_CHAIN_ID, chain_id.to_be_bytes().to_vec())]
            {
                sqlx::query("INSERT INTO chain_meta (key, value) VALUES ($1, $2)")
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query(
            "INSERT INTO blocks (number, hash, header, state_changes, state_access) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(number as i64)
        .bind(block.hash.to_vec())
        .bind(alloy_rlp::encode(&block.header))
        .bind(alloy_rlp::encode(&block.changes))
        .bind(alloy_rlp::encode(&block.access))
        .execute(&mut *tx)
        .await?;

        let mut tx_rows = Vec::with_capacity(block.transactions.len());
        let mut log_rows = Vec::new();
        let mut log_index = 0i64;
        for (index, transaction) in block.transactions.iter().enumerate() {
            tx_rows.push(vec![
                Value::Blob(transaction.hash.to_vec()),
                Value::Int(number as i64),
                Value::Int(index as i64),
                Value::Blob(transaction.sender.to_vec()),
                Value::Blob(transaction.raw.to_vec()),
                Value::Blob(transaction.stored_receipt()),
                Value::Int(transaction.gas_used as i64),
                Value::OptBlob(transaction.contract_address.map(|a| a.to_vec())),
            ]);
            for log in transaction.receipt.logs() {
                let topic = |i: usize| Value::OptBlob(log.topics().get(i).map(|t| t.to_vec()));
                log_rows.push(vec![
                    Value::Int(number as i64),
                    Value::Int(log_index),
                    Value::Int(index as i64),
                    Value::Blob(log.address.to_vec()),
                    topic(0),
                    topic(1),
                    topic(2),
                    topic(3),
                    Value::Blob(log.data.data.to_vec()),
                ]);
                log_index += 1;
            }
        }
        insert_rows(
            &mut tx,
            backend,
            "INSERT INTO transactions (hash, block_number, tx_index, sender, raw, receipt, gas_used, contract_address) VALUES ",
            "",
            tx_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            backend,
            "INSERT INTO logs (block_number, log_index, tx_index, address, topic0, topic1, topic2, topic3, data) VALUES ",
            "",
            log_rows,
        )
        .await?;
        write_state_changes(&mut tx, backend, &block.changes).await?;
        trie_nodes::write(&mut tx, backend, &block.trie_nodes).await?;
        blobs::write(&mut tx, number, &block.blobs).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Number and hash of the newest block, or `None` for an empty database.
    pub async fn head(&self) -> Result<Option<(u64, B256)>, StoreError> {
        let row = sqlx::query("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1")
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| Ok((row.try_get::<i64, _>(0)? as u64, b256(&row, 1)?))).transpose()
    }

    /// The header of block `number`.
    pub async fn header_by_number(&self, number: u64) -> Result<Option<Header>, StoreError> {
        let row = sqlx::query("SELECT header FROM blocks WHERE number = $1")
            .bind(number as i64)
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| decode_header(&row)).transpose()
    }

    /// The header of the block with hash `hash`.
    pub async fn header_by_hash(&self, hash: B256) -> Result<Option<Header>, StoreError> {
        let row = sqlx::query("SELECT header FROM blocks WHERE hash = $1")
            .bind(hash.to_vec())
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| decode_header(&row)).transpose()
    }

    /// The hash of block `number`.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        let row = sqlx::query("SELECT hash FROM blocks WHERE number = $1")
            .bind(number as i64)
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| b256(&row, 0)).transpose()
    }

    /// What block `number` read from and changed in the state, as its builder recorded them:
    /// what a trace of the block needs besides its transactions. `None` for an unknown block
    /// and for the genesis block.
    pub async fn block_state(&self, number: u64) -> Result<Option<(StateAccess, StateChanges)>, StoreError> {
        let row = sqlx::query("SELECT state_access, state_changes FROM blocks WHERE number = $1")
            .bind(number as i64)
            .fetch_optional(&self.readers)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (Some(access), Some(changes)) =
            (row.try_get::<Option<Vec<u8>>, _>(0)?, row.try_get::<Option<Vec<u8>>, _>(1)?)
        else {
            return Ok(None);
        };
        let corrupt =
            |error: alloy_rlp::Error| StoreError::Corrupt(format!("block {number} state record: {error}"));
        Ok(Some((
            alloy_rlp::decode_exact(&access).map_err(corrupt)?,
            alloy_rlp::decode_exact(&changes).map_err(corrupt)?,
        )))
    }

    /// The transactions of block `number`, in block order, with their receipts.
    pub async fn block_transactions(&self, number: u64) -> Result<Vec<StoredTransaction>, StoreError> {
        let rows =
            sqlx::query(AssertSqlSafe(format!("{TX_COLUMNS} WHERE block_number = $1 ORDER BY tx_index")))
                .bind(number as i64)
                .fetch_all(&self.readers)
                .await?;
        rows.iter().map(StoredTransaction::from_row).collect()
    }

    /// How many transactions block `number` holds (0 for a block not stored), counted by the
    /// database through the block-position index, without reading the rows back.
    pub async fn block_transaction_count(&self, number: u64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions WHERE block_number = $1")
            .bind(number as i64)
            .fetch_one(&self.readers)
            .await?;
        Ok(count as u64)
    }

    /// The transaction at `index` in block `number`, if there is one.
    pub async fn block_transaction(
        &self,
        number: u64,
        index: u64,
    ) -> Result<Option<StoredTransaction>, StoreError> {
        let Ok(index) = i64::try_from(index) else { return Ok(None) };
        let row =
            sqlx::query(AssertSqlSafe(format!("{TX_COLUMNS} WHERE block_number = $1 AND tx_index = $2")))
                .bind(number as i64)
                .bind(index)
                .fetch_optional(&self.readers)
                .await?;
        row.as_ref().map(StoredTransaction::from_row).transpose()
    }

    /// The block-wide index of the first log of the transaction at `tx_index` in block
    /// `number`; `None` when it has no logs. Read from the logs table's primary key, without
    /// reading the block's other transactions.
    pub async fn first_log_index(&self, number: u64, tx_index: u64) -> Result<Option<u64>, StoreError> {
        let Ok(tx_index) = i64::try_from(tx_index) else { return Ok(None) };
        let first: Option<i64> =
            sqlx::query_scalar("SELECT MIN(log_index) FROM logs WHERE block_number = $1 AND tx_index = $2")
                .bind(number as i64)
                .bind(tx_index)
                .fetch_one(&self.readers)
                .await?;
        Ok(first.map(|index| index as u64))
    }

    /// A mined transaction by hash.
    pub async fn transaction(&self, hash: B256) -> Result<Option<StoredTransaction>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("{TX_COLUMNS} WHERE hash = $1")))
            .bind(hash.to_vec())
            .fetch_optional(&self.readers)
            .await?;
        row.as_ref().map(StoredTransaction::from_row).transpose()
    }

    /// An account of the latest state.
    pub async fn account(&self, address: Address) -> Result<Option<AccountState>, StoreError> {
        if !self.account_filter.may_contain(&address) {
            return Ok(None);
        }
        let row = sqlx::query("SELECT nonce, balance, code_hash FROM accounts WHERE address = $1")
            .bind(address.to_vec())
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| {
            Ok(AccountState {
                nonce: row.try_get::<i64, _>(0)? as u64,
                balance: u256(&row, 1)?,
                code_hash: b256(&row, 2)?,
            })
        })
        .transpose()
    }

    /// The accounts of the latest state among `addresses`, in batched queries; absent accounts
    /// are left out.
    pub async fn accounts(&self, addresses: &[Address]) -> Result<Vec<(Address, AccountState)>, StoreError> {
        let addresses: Vec<Address> =
            addresses.iter().filter(|address| self.account_filter.may_contain(address)).copied().collect();
        let mut found = Vec::with_capacity(addresses.len());
        for chunk in addresses.chunks(self.backend.params_per_statement()) {
            let placeholders = self.backend.placeholders(chunk.len());
            // Only generated placeholders are formatted into the SQL.
            let sql = format!(
                "SELECT address, nonce, balance, code_hash FROM accounts WHERE address IN ({placeholders})"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for address in chunk {
                query = query.bind(address.to_vec());
            }
            for row in query.fetch_all(&self.readers).await? {
                found.push((
                    address(&row, 0)?,
                    AccountState {
                        nonce: row.try_get::<i64, _>(1)? as u64,
                        balance: u256(&row, 2)?,
                        code_hash: b256(&row, 3)?,
                    },
                ));
            }
        }
        Ok(found)
    }

    /// A storage slot of the latest state (zero when unset).
    pub async fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        let row = sqlx::query("SELECT value FROM storage WHERE address = $1 AND slot = $2")
            .bind(address.to_vec())
            .bind(slot.to_be_bytes_vec())
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| u256(&row, 0)).transpose().map(Option::unwrap_or_default)
    }

    /// Contract code by hash.
    pub async fn code(&self, hash: B256) -> Result<Option<Bytes>, StoreError> {
        let row = sqlx::query("SELECT code FROM codes WHERE hash = $1")
            .bind(hash.to_vec())
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| Ok(Bytes::from(row.try_get::<Vec<u8>, _>(0)?))).transpose()
    }

    /// Closes the pools, waiting for connections to finish.
    pub async fn close(&self) {
        self.readers.close().await;
        self.producer.close().await;
        self.writer.close().await;
        self.journal.close().await;
    }
}

/// The filter of the accounts `pool`'s database holds, sized for them and their growth within
/// `max_bytes`.
async fn load_account_filter(pool: &AnyPool, max_bytes: usize) -> Result<AccountFilter, StoreError> {
    use futures_util::TryStreamExt as _;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(pool).await?;
    let filter = AccountFilter::with_capacity(u64::try_from(count).unwrap_or_default(), max_bytes);
    let mut addresses = sqlx::query_scalar::<_, Vec<u8>>("SELECT address FROM accounts").fetch(pool);
    while let Some(address) = addresses.try_next().await? {
        let address = Address::try_from(address.as_slice())
            .map_err(|_| StoreError::Corrupt("an address in the accounts table is not 20 bytes".into()))?;
        filter.insert(&address);
    }
    metrics::gauge!("sequencer_account_filter_bytes").set(filter.bytes() as f64);
    Ok(filter)
}

/// What [`Store::init_or_check_genesis`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenesisStatus {
    /// An empty database: the genesis block must be written.
    Fresh,
    /// A database of this very chain.
    Existing,
}

const TX_COLUMNS: &str =
    "SELECT hash, block_number, tx_index, sender, raw, receipt, gas_used, contract_address FROM transactions";

/// One bound value of a multi-row insert.
enum Value {
    Int(i64),
    Blob(Vec<u8>),
    OptBlob(Option<Vec<u8>>),
}

/// Inserts `rows` with as few statements as the parameter limit allows.
async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    for query in insert_statements(backend, head, tail, rows) {
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// How many of `rows` rows each statement of [`insert_statements`] inserts: `most` while that
/// many are left, then the rest in one statement, or, with `powers_of_two`, in statements of
/// the greatest power of two left.
fn statement_sizes(rows: usize, most: usize, powers_of_two: bool) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = rows;
    while left > 0 {
        let size = if left >= most || !powers_of_two { left.min(most) } else { 1 << left.ilog2() };
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// The multi-row statements that insert `rows`: as many rows per statement as the parameter
/// limit allows, and the rest after them.
///
/// Each row count is a statement text of its own, which the database prepares the first time a
/// connection sends it. On PostgreSQL that is a round trip to the server and its CPU to parse,
/// analyse and describe, so the rest goes in statements of a power of two rows each: a
/// connection prepares each of a fixed few texts once, instead of one for nearly every insert.
/// SQLite prepares in process, for less than running a handful of statements costs.
fn insert_statements(
    backend: Backend,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Value>>,
) -> Vec<sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>> {
    let Some(width) = rows.first().map(Vec::len) else { return Vec::new() };
    let rows_per_statement = (backend.params_per_statement() / width).max(1);
    let mut statements = Vec::new();
    let sizes = statement_sizes(rows.len(), rows_per_statement, backend == Backend::Postgres);
    let mut rows = rows.into_iter();
    for size in sizes {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(size).collect();
        let mut sql = String::with_capacity(head.len() + chunk.len() * width * 6 + tail.len());
        sql.push_str(head);
        let mut param = 0;
        for (i, _) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ",(" });
            for column in 0..width {
                param += 1;
                if column > 0 {
                    sql.push(',');
                }
                backend.push_placeholder(&mut sql, param);
            }
            sql.push(')');
        }
        sql.push_str(tail);
        // Only the fixed `head`/`tail` texts and generated placeholders: no input reaches the SQL.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in chunk.into_iter().flatten() {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Blob(v) => query.bind(v),
                Value::OptBlob(v) => query.bind(v),
            };
        }
        statements.push(query);
    }
    statements
}

/// Applies a block's changes to the flat latest-state tables.
async fn write_state_changes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    changes: &StateChanges,
) -> Result<(), StoreError> {
    let mut upserts = Vec::new();
    let mut slot_upserts = Vec::new();
    for (address, AccountChange { info, storage_wiped, storage }) in &changes.accounts {
        let key = address.to_vec();
        if *storage_wiped || info.is_none() {
            sqlx::query("DELETE FROM storage WHERE address = $1")
                .bind(key.clone())
                .execute(&mut **tx)
                .await?;
        }
        match info {
            None => {
                sqlx::query("DELETE FROM accounts WHERE address = $1")
                    .bind(key.clone())
                    .execute(&mut **tx)
                    .await?;
                continue;
            }
            Some(account) => upserts.push(vec![
                Value::Blob(key.clone()),
                Value::Int(account.nonce as i64),
                Value::Blob(account.balance.to_be_bytes_vec()),
                Value::Blob(account.code_hash.to_vec()),
            ]),
        }
        for (slot, value) in storage {
            if value.is_zero() {
                if !*storage_wiped {
                    sqlx::query("DELETE FROM storage WHERE address = $1 AND slot = $2")
                        .bind(key.clone())
                        .bind(slot.to_be_bytes_vec())
                        .execute(&mut **tx)
                        .await?;
                }
            } else {
                slot_upserts.push(vec![
                    Value::Blob(key.clone()),
                    Value::Blob(slot.to_be_bytes_vec()),
                    Value::Blob(value.to_be_bytes_vec()),
                ]);
            }
        }
    }
    insert_rows(
        tx,
        backend,
        "INSERT INTO accounts (address, nonce, balance, code_hash) VALUES ",
        " ON CONFLICT (address) DO UPDATE SET nonce = excluded.nonce, balance = excluded.balance, code_hash = excluded.code_hash",
        upserts,
    )
    .await?;
    insert_rows(
        tx,
        backend,
        "INSERT INTO storage (address, slot, value) VALUES ",
        " ON CONFLICT (address, slot) DO UPDATE SET value = excluded.value",
        slot_upserts,
    )
    .await?;
    let code_rows = changes
        .codes
        .iter()
        .map(|(hash, code)| vec![Value::Blob(hash.to_vec()), Value::Blob(code.to_vec())])
        .collect();
    insert_rows(
        tx,
        backend,
        "INSERT INTO codes (hash, code) VALUES ",
        " ON CONFLICT (hash) DO NOTHING",
        code_rows,
    )
    .await
}

/// How often the SQLite checkpointer copies committed WAL pages into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Copies what the WAL holds into the SQLite database file every [`CHECKPOINT_INTERVAL`], off
/// the commit path, until the pool closes. A PASSIVE checkpoint takes no lock that writers or
/// readers wait for; it copies what no reader still needs, and SQLite starts the WAL over at
/// the next commit once all of it was copied.
async fn checkpoint_sqlite(pool: AnyPool) {
    let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            // A busy database or a full disk: the WAL keeps the data, the next round retries.
            Err(error) => tracing::warn!(target: "store", %error, "WAL checkpoint failed"),
        }
    }
}

/// Settings of every SQLite connection. WAL lets readers go on while the builder writes; NORMAL
/// sync in WAL mode keeps every committed transaction across a process crash (kill -9). No
/// connection checkpoints on commit (SQLite's default makes the commit that crosses 1,000 WAL
/// pages copy them into the database and fsync it, inside the block's commit): the store's
/// checkpointer does it in the background. Statement journals (the undo copies a multi-row
/// INSERT keeps in case it fails half-way) stay in memory.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection, cache_kib: i64) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    // Only integer constants are formatted into the SQL.
    let pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
         PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = {SQLITE_MMAP_BYTES}; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;"
    );
    conn.execute(AssertSqlSafe(pragmas)).await?;
    Ok(())
}

/// The file a `sqlite:` URL names.
fn sqlite_path(url: &str) -> &str {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or(path)
}

/// Makes sure the directory of a SQLite file exists and asks sqlx to create the file.
fn prepare_sqlite(url: &str) -> Result<String, StoreError> {
    let path = sqlite_path(url);
    // Every connection to `:memory:` would open a database of its own, and the node needs the
    // builder's writes to reach the RPC's reads.
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    }
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::CreateDir { dir: dir.to_owned(), source })?;
    }
    Ok(if url.contains('?') { format!("{url}&mode=rwc") } else { format!("{url}?mode=rwc") })
}

/// A URL fit for logs: the password, if any, is replaced.
pub fn redact(url: &str) -> String {
    match url::Url::from_str(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn decode_header(row: &AnyRow) -> Result<Header, StoreError> {
    let raw: Vec<u8> = row.try_get(0)?;
    Header::decode(&mut raw.as_slice()).map_err(|e| StoreError::Corrupt(format!("header: {e}")))
}

pub(crate) fn b256(row: &AnyRow, index: usize) -> Result<B256, StoreError> {
    let raw: Vec<u8> = row.try_get(index)?;
    B256::try_from(raw.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("expected 32 bytes, got {}", raw.len())))
}

pub(crate) fn u256(row: &AnyRow, index: usize) -> Result<U256, StoreError> {
    let raw: Vec<u8> = row.try_get(index)?;
    U256::try_from_be_slice(&raw).ok_or_else(|| StoreError::Corrupt(format!("word of {} bytes", raw.len())))
}

pub(crate) fn address(row: &AnyRow, index: usize) -> Result<Address, StoreError> {
    let raw: Vec<u8> = row.try_get(index)?;
    Address::try_from(raw.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("address of {} bytes", raw.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_use_full_statements_then_powers_of_two_on_postgres() {
        assert_eq!(statement_sizes(0, 250, true), Vec::<usize>::new());
        assert_eq!(statement_sizes(1, 250, true), vec![1]);
        assert_eq!(statement_sizes(250, 250, true), vec![250]);
        assert_eq!(statement_sizes(611, 250, true), vec![250, 250, 64, 32, 8, 4, 2, 1]);
        assert_eq!(statement_sizes(611, 250, false), vec![250, 250, 111]);
        // Every row once, and only a fixed few statement sizes over many inserts.
        let mut seen = std::collections::BTreeSet::new();
        for rows in 0..2_000 {
            let sizes = statement_sizes(rows, 250, true);
            assert_eq!(sizes.iter().sum::<usize>(), rows);
            seen.extend(sizes);
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 2, 4, 8, 16, 32, 64, 128, 250]);
    }
}
