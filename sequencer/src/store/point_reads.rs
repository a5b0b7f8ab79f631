//! SQLite reads of one account, one storage slot or one code of the latest state, run on the
//! calling thread.
//!
//! A query through sqlx's SQLite driver travels to its connection's own thread and back, and
//! its arguments and row are converted twice on the way (into and out of sqlx's `Any` types).
//! For a point lookup in a B-tree that SQLite serves from cached pages in a few microseconds,
//! that trip costs several times the lookup, and an RPC node answers such reads by the tens of
//! thousands per second. These reads instead run where they are asked for, on one of a few
//! connections of their own: a thread takes an idle connection, or opens one when every one is
//! in use (so a read never waits for a connection, and as many are open as threads read at
//! once), and gives it back after the read.
//!
//! These connections do not map the file into memory: they read pages into their own page
//! cache (`database.sqlite_reader_cache_mib`). Mapped, the block producer's ERC-20 commits at
//! 1,000,000 accounts were among the slowest measured (docs/benchmarks.md).
//!
//! They never wait on a lock either: the connections have no busy timeout, and a read SQLite
//! finds busy (it can be, briefly, while another connection recovers the WAL) answers
//! [`PointReadError::Busy`], and the caller reads through sqlx instead, which waits.

use super::sql;
use alloy_primitives::{Address, B256, Bytes, U256};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ffi::ErrorCode};
use std::path::PathBuf;
use trace_builder::AccountState;

/// Idle connections kept for the next reads; one more thread reading at once opens another.
const MAX_IDLE_CONNECTIONS: usize = 8;

/// The latest state's point reads on SQLite, on the calling thread.
#[derive(Debug)]
pub(super) struct PointReads {
    /// The database file.
    path: PathBuf,
    /// Page cache of each connection, in KiB.
    cache_kib: i64,
    /// Connections no thread is reading through.
    idle: parking_lot::Mutex<Vec<Connection>>,
}

/// Why a point read did not answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum PointReadError {
    /// SQLite found the database locked: read through sqlx instead, which waits.
    #[error("database busy")]
    Busy,
    /// The read failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value is not what the schema promises.
    #[error("corrupt value: {0}")]
    Corrupt(String),
}

impl PointReads {
    /// Reads of the SQLite file at `path`, through connections with `cache_kib` of page cache
    /// each. Opens one connection now, so that a file that cannot be read is found at start.
    pub(super) fn open(path: PathBuf, cache_kib: i64) -> Result<Self, rusqlite::Error> {
        let reads = Self { path, cache_kib, idle: parking_lot::Mutex::new(Vec::new()) };
        let connection = reads.connect()?;
        reads.idle.lock().push(connection);
        Ok(reads)
    }

    /// The account at `address`, if the latest state holds one.
    pub(super) fn account(&self, address: Address) -> Result<Option<AccountState>, PointReadError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql::ACCOUNT)?;
            let row = statement
                .query_row([address.as_slice()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?, row.get::<_, Vec<u8>>(2)?))
                })
                .optional()?;
            row.map(|(nonce, balance, code_hash)| {
                Ok(AccountState {
                    nonce: nonce as u64,
                    balance: word(&balance)?,
                    code_hash: hash(&code_hash)?,
                })
            })
            .transpose()
        })
    }

    /// The value of `slot` in `address`'s storage (zero when unset).
    pub(super) fn storage(&self, address: Address, slot: U256) -> Result<U256, PointReadError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql::STORAGE)?;
            let slot = slot.to_be_bytes::<32>();
            let value = statement
                .query_row([address.as_slice(), slot.as_slice()], |row| row.get::<_, Vec<u8>>(0))
                .optional()?;
            value.map(|value| word(&value)).transpose().map(Option::unwrap_or_default)
        })
    }

    /// The code whose hash is `hash`, if the state holds it.
    pub(super) fn code(&self, hash: B256) -> Result<Option<Bytes>, PointReadError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql::CODE)?;
            let code = statement.query_row([hash.as_slice()], |row| row.get::<_, Vec<u8>>(0)).optional()?;
            Ok(code.map(Bytes::from))
        })
    }

    /// Runs `read` on an idle connection (or a new one), then keeps the connection for the next
    /// read unless enough are idle.
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, PointReadError>,
    ) -> Result<T, PointReadError> {
        let idle = self.idle.lock().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.connect().map_err(busy_or_failed)?,
        };
        let result = read(&connection).map_err(|error| match error {
            PointReadError::Sqlite(error) => busy_or_failed(error),
            other => other,
        });
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(connection);
        }
        result
    }

    /// A read-only connection to the file with its page cache, no memory map and no busy
    /// timeout.
    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        // Opened for writing (the WAL's shared memory needs it), and then told to refuse writes.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.execute_batch(&format!(
            "PRAGMA query_only = 1; PRAGMA cache_size = -{}; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;",
            self.cache_kib
        ))?;
        connection.busy_timeout(std::time::Duration::ZERO)?;
        Ok(connection)
    }
}

/// [`PointReadError::Busy`] for SQLite's busy and locked codes, the error otherwise.
fn busy_or_failed(error: rusqlite::Error) -> PointReadError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => PointReadError::Busy,
        _ => PointReadError::Sqlite(error),
    }
}

/// A big-endian word as stored.
fn word(raw: &[u8]) -> Result<U256, PointReadError> {
    U256::try_from_be_slice(raw)
        .ok_or_else(|| PointReadError::Corrupt(format!("word of {} bytes", raw.len())))
}

/// A 32-byte hash as stored.
fn hash(raw: &[u8]) -> Result<B256, PointReadError> {
    B256::try_from(raw).map_err(|_| PointReadError::Corrupt(format!("expected 32 bytes, got {}", raw.len())))
}
