//! One node writes a database at a time. Two would both seal blocks on the same chain, and
//! the second one's commit fails only after it has acknowledged transactions it then loses.

use super::{
    Backend,
    backend::{prepare_sqlite, redact, sqlite_path},
    sql,
};
use crate::error::StoreError;
use sqlx::{Connection, Row};

/// The advisory lock key a node holds on its PostgreSQL database ("nrsq" in ASCII).
const POSTGRES_LOCK_KEY: i64 = 0x6e72_7371;
/// How often a node makes sure its PostgreSQL session still holds the claim.
const LOCK_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
/// How long that check may take before the claim counts as lost.
const LOCK_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Held by the node that writes a database, for as long as it runs; dropping it lets another
/// node start.
#[derive(Debug)]
pub struct WriterLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// An exclusive `flock` on a file beside the SQLite database: the system releases it when
    /// the process ends, however it ends.
    File { _file: std::fs::File },
    /// A session advisory lock: PostgreSQL releases it when this connection closes, which a
    /// process that dies closes too.
    Postgres { connection: sqlx::AnyConnection },
}

impl WriterLock {
    /// Claims the database at `url` for this process, or fails at once if another holds it.
    pub async fn acquire(url: &str) -> Result<Self, StoreError> {
        let in_use = || StoreError::InUse(redact(url));
        let held = match Backend::of(url)? {
            Backend::Sqlite => {
                // Checks the URL and creates the database's directory.
                prepare_sqlite(url)?;
                let path = format!("{}.lock", sqlite_path(url));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|source| StoreError::LockFile { path: path.clone().into(), source })?;
                match file.try_lock() {
                    Ok(()) => Held::File { _file: file },
                    Err(std::fs::TryLockError::WouldBlock) => return Err(in_use()),
                    Err(std::fs::TryLockError::Error(source)) => {
                        return Err(StoreError::LockFile { path: path.into(), source });
                    }
                }
            }
            Backend::Postgres => {
                sqlx::any::install_default_drivers();
                let mut connection = sqlx::AnyConnection::connect(url)
                    .await
                    .map_err(|source| StoreError::Connect { url: redact(url), source })?;
                let locked: bool = sqlx::query(sql::PG_TRY_LOCK)
                    .bind(POSTGRES_LOCK_KEY)
                    .fetch_one(&mut connection)
                    .await?
                    .try_get(0)?;
                if !locked {
                    return Err(in_use());
                }
                Held::Postgres { connection }
            }
        };
        Ok(Self { held })
    }

    /// Resolves if the claim is lost: the PostgreSQL session that holds it ended (the server
    /// restarted, a proxy or an administrator cut it), so another node may now claim the
    /// database. A lock file is held by the system for as long as the process lives: never.
    pub async fn lost(&mut self) -> StoreError {
        let Held::Postgres { connection } = &mut self.held else { return std::future::pending().await };
        loop {
            tokio::time::sleep(LOCK_CHECK_INTERVAL).await;
            let check = sqlx::query(sql::PG_LOCKS_HELD).fetch_one(&mut *connection);
            // A server that does not answer cannot vouch for the claim either.
            let held = match tokio::time::timeout(LOCK_CHECK_TIMEOUT, check).await {
                Ok(row) => row.and_then(|row| row.try_get::<i64, _>(0)),
                Err(_) => return StoreError::ClaimLost("the server did not answer the check".into()),
            };
            match held {
                Ok(count) if count > 0 => continue,
                Ok(_) => return StoreError::ClaimLost("the session no longer holds its lock".into()),
                Err(error) => return StoreError::ClaimLost(error.to_string()),
            }
        }
    }

    /// Gives the claim up now. Dropping it does too, but a PostgreSQL server frees a session
    /// lock only once it notices the connection is gone, so a node started right after this
    /// one stops could find the database still claimed.
    pub async fn release(self) {
        if let Held::Postgres { mut connection } = self.held {
            let unlocked = sqlx::query(sql::PG_UNLOCK).bind(POSTGRES_LOCK_KEY).execute(&mut connection).await;
            if let Err(error) = unlocked {
                tracing::warn!(target: "store", %error, "could not release the database claim; it ends with the connection");
            }
            let _ = connection.close().await;
        }
    }
}
