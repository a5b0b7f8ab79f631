//! Which engine a database URL names, and how the store opens it: its connections, their
//! settings, the migrations, SQLite's background checkpoints.

use super::{Store, accounts, mempool_journal, node_store, point_reads, sql};
use crate::error::StoreError;
use sqlx::{AnyPool, any::AnyPoolOptions};
use std::{str::FromStr, time::Duration};

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

/// Connections of the block producer's reads: one for execution and the trie, and one for
/// each thread that warms trie paths.
const PRODUCER_CONNECTIONS: u32 = 1 + node_store::WARMING_THREADS as u32;
/// Connections of the mempool journal on PostgreSQL (admissions write in groups).
const POSTGRES_JOURNAL_CONNECTIONS: u32 = 2;

/// How long a query waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Page cache of the SQLite mempool-journal connection, in KiB: it appends, and deletes what it
/// appended recently.
const SQLITE_JOURNAL_CACHE_KIB: i64 = 16 << 10;
/// Most bytes of the SQLite file mapped into memory (SQLite's own ceiling by default).
const SQLITE_MMAP_BYTES: i64 = 0x7fff_0000;

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
                // queues them for that connection in sqlx instead of in SQLite's busy handler
                // (which sleeps), and keeps that connection's page cache warm: a connection's
                // cache is dropped whenever another connection has written. The mempool journal,
                // in a file of its own, has its own writer.
                let one_writer = |cache_kib: i64| {
                    AnyPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .after_connect(move |conn, _| Box::pin(sqlite_pragmas(conn, cache_kib)))
                };
                let writer = connect(one_writer(writer_cache_kib), url.clone()).await?;
                let journal =
                    connect(one_writer(SQLITE_JOURNAL_CACHE_KIB), mempool_journal::sqlite_journal_url(&url))
                        .await?;
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
                    connect(producer, url.clone()).await?,
                    writer,
                    journal,
                )
            }
            Backend::Postgres => {
                let connections =
                    |max: u32| AnyPoolOptions::new().max_connections(max).acquire_timeout(ACQUIRE_TIMEOUT);
                (
                    connect(readers, url.clone()).await?,
                    connect(connections(PRODUCER_CONNECTIONS), url.clone()).await?,
                    connect(connections(1), url.clone()).await?,
                    connect(connections(POSTGRES_JOURNAL_CONNECTIONS), url.clone()).await?,
                )
            }
        };
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        migrator.run(&writer).await?;
        if backend == Backend::Sqlite {
            sqlx::migrate!("../migrations/sqlite-mempool-journal").run(&journal).await?;
            mempool_journal::move_journal_out_of_chain_file(&writer, &journal).await?;
            tokio::spawn(checkpoint_sqlite(readers.clone()));
            tokio::spawn(checkpoint_sqlite(journal.clone()));
        }
        let journal_index = std::sync::Arc::new(parking_lot::Mutex::new(
            mempool_journal::JournalIndex::read(&journal).await?,
        ));
        let account_filter = accounts::load_filter(&readers, account_filter_bytes).await?;
        let point_reads = match backend {
            Backend::Sqlite => Some(std::sync::Arc::new(point_reads::PointReads::open(
                sqlite_path(&url).into(),
                reader_cache_kib,
            )?)),
            Backend::Postgres => None,
        };
        Ok(Self { readers, producer, writer, journal, backend, account_filter, point_reads, journal_index })
    }
}

/// How often the SQLite checkpointer copies committed WAL pages into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Copies what the WAL holds into the SQLite database file every [`CHECKPOINT_INTERVAL`], off
/// the commit path, until `connections` close. A PASSIVE checkpoint takes no lock that writers or
/// readers wait for; it copies what no reader still needs, and SQLite starts the WAL over at
/// the next commit once all of it was copied.
async fn checkpoint_sqlite(connections: AnyPool) {
    let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match sqlx::query(sql::SQLITE_CHECKPOINT).execute(&connections).await {
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            // A busy database or a full disk: the WAL keeps the data, the next round retries.
            Err(error) => tracing::warn!(target: "store", %error, "WAL checkpoint failed"),
        }
    }
}

/// Applies [`sql::sqlite_pragmas`] to a new SQLite connection.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection, cache_kib: i64) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    conn.execute(sql::sqlite_pragmas(cache_kib, SQLITE_MMAP_BYTES)).await?;
    Ok(())
}

/// The file a `sqlite:` URL names.
pub(super) fn sqlite_path(url: &str) -> &str {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or(path)
}

/// Makes sure the directory of a SQLite file exists and asks sqlx to create the file.
pub(super) fn prepare_sqlite(url: &str) -> Result<String, StoreError> {
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

#[cfg(test)]
mod tests {
    /// Each migration's version and the start of its checksum.
    fn checksums(migrator: sqlx::migrate::Migrator) -> Vec<(i64, String)> {
        migrator.iter().map(|m| (m.version, hex::encode(&m.checksum[..8]))).collect()
    }

    /// sqlx refuses to open a database where an applied migration's checksum differs from the
    /// file's: a migration, once released, is never edited (a new one is added), and a folder
    /// may be renamed (only the path in `sqlx::migrate!` changes) as long as its files are not.
    #[test]
    fn migrations_databases_have_applied_never_change() {
        let released = |set: &[(i64, &str)]| set.iter().map(|(v, c)| (*v, c.to_string())).collect::<Vec<_>>();
        let sqlite = checksums(sqlx::migrate!("../migrations/sqlite"));
        assert_eq!(
            sqlite[..5],
            released(&[
                (1, "a95f8d7f755d9367"),
                (2, "4a7f02dee85a42f2"),
                (3, "cab47ac6ed0fa43d"),
                (4, "074466f4a7a39ef8"),
                (5, "e375645fa7c2bf56"),
            ])
        );
        let postgres = checksums(sqlx::migrate!("../migrations/postgres"));
        assert_eq!(
            postgres[..4],
            released(&[
                (1, "23a5845dc55601bd"),
                (2, "d18748840b6efdca"),
                (3, "84d660156cef4346"),
                (4, "d6c0352044e35d8d"),
            ])
        );
        // Applied from `migrations/sqlite-pool-journal` before the folder was renamed.
        let journal = checksums(sqlx::migrate!("../migrations/sqlite-mempool-journal"));
        assert_eq!(journal[..1], released(&[(1, "1cb0427db69cc358")]));
    }
}
