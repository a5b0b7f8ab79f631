//! Every SQL statement the store sends, and every difference between SQLite and PostgreSQL.
//!
//! The schema is in `migrations/` (one set per backend, and one for the SQLite mempool journal's
//! own file). Fixed statements are written once with `$N` placeholders, which both backends
//! accept. Statements with a variable number of parameters are generated here: multi-row
//! inserts, `IN` lists and ranges, which may bind thousands, use anonymous `?` placeholders on
//! SQLite, which SQLite binds in linear time, where it looks each named one up one by one; the
//! log query, with a few dozen at most, uses `$N` on both. Only generated placeholders, fixed
//! texts and integers are formatted into SQL; every value is bound.
//!
//! The two backends differ in:
//! - how many parameters a statement may bind ([`Backend::params_per_statement`]) and the
//!   placeholders of generated statements ([`Backend::push_placeholder`]);
//! - how many rows each multi-row insert takes ([`insert_statements`]: PostgreSQL prepares a
//!   fixed few statement texts);
//! - SQLite's per-connection settings ([`sqlite_pragmas`]) and its background checkpoint
//!   ([`SQLITE_CHECKPOINT`]);
//! - PostgreSQL's advisory lock, which claims a database for one node ([`PG_TRY_LOCK`]).

use super::Backend;
use crate::error::StoreError;
use sqlx::AssertSqlSafe;

// chain_meta: the chain's identity.

/// A value of `chain_meta` by key.
pub(super) const META: &str = "SELECT value FROM chain_meta WHERE key = $1";
/// Records a value in `chain_meta`.
pub(super) const INSERT_META: &str = "INSERT INTO chain_meta (key, value) VALUES ($1, $2)";
/// Records a value in `chain_meta`, replacing the key's value if it has one.
pub(super) const UPSERT_META: &str = "INSERT INTO chain_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

// blocks: headers, hashes and each block's state record.

/// Writes a sealed block's row.
pub(super) const INSERT_BLOCK: &str =
    "INSERT INTO blocks (number, hash, header, state_changes, state_access) VALUES ($1, $2, $3, $4, $5)";
/// Number and hash of the newest block.
pub(super) const HEAD: &str = "SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1";
/// A header by block number.
pub(super) const HEADER_BY_NUMBER: &str = "SELECT header FROM blocks WHERE number = $1";
/// A header by block hash.
pub(super) const HEADER_BY_HASH: &str = "SELECT header FROM blocks WHERE hash = $1";
/// A block's hash by number.
pub(super) const BLOCK_HASH: &str = "SELECT hash FROM blocks WHERE number = $1";
/// What a block read from and changed in the state.
pub(super) const BLOCK_STATE: &str = "SELECT state_access, state_changes FROM blocks WHERE number = $1";

// l1_anchors: the L1 blocks the chain's blocks anchor to.

/// Records an L1 anchor (once: consecutive blocks share one).
pub(super) const INSERT_L1_ANCHOR: &str = "INSERT INTO l1_anchors (hash, number, block_timestamp) \
     VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING";
/// An L1 anchor's number and timestamp by its hash.
pub(super) const L1_ANCHOR: &str = "SELECT number, block_timestamp FROM l1_anchors WHERE hash = $1";

// transactions and logs: the receipts' parts.

/// The columns [`StoredTransaction::from_row`](super::StoredTransaction) reads, in its order,
/// followed by a condition.
macro_rules! select_transactions {
    ($condition:literal) => {
        concat!(
            "SELECT hash, block_number, tx_index, sender, raw, receipt, gas_used, contract_address \
             FROM transactions ",
            $condition
        )
    };
}

/// A mined transaction by hash.
pub(super) const TRANSACTION_BY_HASH: &str = select_transactions!("WHERE hash = $1");
/// A block's transactions in block order.
pub(super) const BLOCK_TRANSACTIONS: &str = select_transactions!("WHERE block_number = $1 ORDER BY tx_index");
/// The transaction at a position of a block.
pub(super) const BLOCK_TRANSACTION: &str = select_transactions!("WHERE block_number = $1 AND tx_index = $2");
/// How many transactions a block holds (through the block-position index).
pub(super) const BLOCK_TRANSACTION_COUNT: &str = "SELECT COUNT(*) FROM transactions WHERE block_number = $1";
/// The block-wide index of a transaction's first log (from the logs table's primary key).
pub(super) const FIRST_LOG_INDEX: &str =
    "SELECT MIN(log_index) FROM logs WHERE block_number = $1 AND tx_index = $2";
/// Writes a block's transactions.
pub(super) const INSERT_TRANSACTIONS: MultiRowInsert = MultiRowInsert {
    head: "INSERT INTO transactions (hash, block_number, tx_index, sender, raw, receipt, gas_used, contract_address) VALUES ",
    tail: "",
};
/// Writes a block's logs.
pub(super) const INSERT_LOGS: MultiRowInsert = MultiRowInsert {
    head: "INSERT INTO logs (block_number, log_index, tx_index, address, topic0, topic1, topic2, topic3, data) VALUES ",
    tail: "",
};

/// The logs of blocks `$1..=$2` whose address is one of `addresses` given ones (any when 0) and
/// whose topic at each position is one of that many given ones (any when 0), in block and log
/// order, at most `limit`. Parameters: from, to, the addresses, then the topics by position.
/// Columns: block number, log index, transaction index, address, topics 0 to 3, data, block
/// hash, transaction hash.
pub(super) fn logs(addresses: usize, topics: [usize; 4], limit: usize) -> AssertSqlSafe<String> {
    let mut sql = String::from(
        "SELECT l.block_number, l.log_index, l.tx_index, l.address, l.topic0, l.topic1, l.topic2, l.topic3, \
         l.data, b.hash, t.hash FROM logs l \
         JOIN blocks b ON b.number = l.block_number \
         JOIN transactions t ON t.block_number = l.block_number AND t.tx_index = l.tx_index \
         WHERE l.block_number >= $1 AND l.block_number <= $2",
    );
    let mut next = 3;
    let columns = ["l.address", "l.topic0", "l.topic1", "l.topic2", "l.topic3"];
    let counts = [addresses, topics[0], topics[1], topics[2], topics[3]];
    for (column, count) in columns.into_iter().zip(counts) {
        if count == 0 {
            continue;
        }
        let placeholders: Vec<String> = (next..next + count).map(|n| format!("${n}")).collect();
        next += count;
        sql.push_str(&format!(" AND {column} IN ({})", placeholders.join(",")));
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    sql.push_str(&format!(" ORDER BY l.block_number, l.log_index LIMIT {limit}"));
    // Only fixed column names, generated `$N` placeholders and a number reach the SQL.
    AssertSqlSafe(sql)
}

// accounts, storage, codes: the flat latest state.

/// An account of the latest state.
pub(super) const ACCOUNT: &str = "SELECT nonce, balance, code_hash FROM accounts WHERE address = $1";
/// A storage slot of the latest state.
pub(super) const STORAGE: &str = "SELECT value FROM storage WHERE address = $1 AND slot = $2";
/// Contract code by hash.
pub(super) const CODE: &str = "SELECT code FROM codes WHERE hash = $1";
/// How many accounts the latest state holds.
pub(super) const ACCOUNT_COUNT: &str = "SELECT COUNT(*) FROM accounts";
/// The address of every account.
pub(super) const ACCOUNT_ADDRESSES: &str = "SELECT address FROM accounts";
/// Deletes an account.
pub(super) const DELETE_ACCOUNT: &str = "DELETE FROM accounts WHERE address = $1";
/// Deletes every storage slot of an account.
pub(super) const DELETE_ACCOUNT_STORAGE: &str = "DELETE FROM storage WHERE address = $1";
/// Deletes one storage slot.
pub(super) const DELETE_SLOT: &str = "DELETE FROM storage WHERE address = $1 AND slot = $2";
/// Writes accounts, replacing those present.
pub(super) const UPSERT_ACCOUNTS: MultiRowInsert = MultiRowInsert {
    head: "INSERT INTO accounts (address, nonce, balance, code_hash) VALUES ",
    tail: " ON CONFLICT (address) DO UPDATE SET nonce = excluded.nonce, balance = excluded.balance, code_hash = excluded.code_hash",
};
/// Writes storage slots, replacing those present.
pub(super) const UPSERT_STORAGE: MultiRowInsert = MultiRowInsert {
    head: "INSERT INTO storage (address, slot, value) VALUES ",
    tail: " ON CONFLICT (address, slot) DO UPDATE SET value = excluded.value",
};
/// Writes codes not yet stored.
pub(super) const INSERT_CODES: MultiRowInsert =
    MultiRowInsert { head: "INSERT INTO codes (hash, code) VALUES ", tail: " ON CONFLICT (hash) DO NOTHING" };

/// The accounts among `count` addresses.
pub(super) fn accounts_in(backend: Backend, count: usize) -> AssertSqlSafe<String> {
    let placeholders = backend.placeholders(count);
    // Only generated placeholders are formatted into the SQL.
    AssertSqlSafe(format!(
        "SELECT address, nonce, balance, code_hash FROM accounts WHERE address IN ({placeholders})"
    ))
}

// Blobs (`blobs.rs`, the L1 role).

/// Writes one blob of a block.
pub(super) const INSERT_BLOB: &str = "INSERT INTO blob_sidecars \
     (block_number, blob_index, versioned_hash, blob, commitment, proof) VALUES ($1, $2, $3, $4, $5, $6)";

/// A block's blobs in order.
pub(super) const BLOCK_BLOBS: &str = "SELECT versioned_hash, blob, commitment, proof FROM blob_sidecars WHERE block_number = $1 ORDER BY blob_index";

/// A blob by versioned hash.
pub(super) const BLOB_BY_HASH: &str = "SELECT blob FROM blob_sidecars WHERE versioned_hash = $1 LIMIT 1";

/// Forgets the blobs of older blocks.
pub(super) const PRUNE_BLOBS: &str = "DELETE FROM blob_sidecars WHERE block_number < $1";

// trie_nodes, trie_node_hashes: the state trie.

/// Writes chunks of trie nodes.
pub(super) const INSERT_TRIE_NODES: MultiRowInsert =
    MultiRowInsert { head: "INSERT INTO trie_nodes (first_location, count, nodes) VALUES ", tail: "" };
/// Makes trie roots findable by hash.
pub(super) const INSERT_TRIE_ROOTS: MultiRowInsert = MultiRowInsert {
    head: "INSERT INTO trie_node_hashes (hash, location) VALUES ",
    tail: " ON CONFLICT (hash) DO NOTHING",
};
/// The location of a trie node findable by hash.
pub(super) const TRIE_NODE_LOCATION: &str = "SELECT location FROM trie_node_hashes WHERE hash = $1";
/// The chunk that holds the trie node at a location.
pub(super) const TRIE_NODE_CHUNK: &str = "SELECT first_location, count, nodes FROM trie_nodes \
     WHERE first_location <= $1 ORDER BY first_location DESC LIMIT 1";
/// The location after every stored trie node (a bare node, count 0, takes one location too).
pub(super) const NEXT_TRIE_LOCATION: &str = "SELECT first_location + CASE WHEN count = 0 THEN 1 ELSE count END FROM trie_nodes \
     ORDER BY first_location DESC LIMIT 1";

// pool_journal: the mempool journal.

/// Appends numbered rows to the mempool journal.
pub(super) const INSERT_JOURNAL_ROWS: MultiRowInsert =
    MultiRowInsert { head: "INSERT INTO pool_journal (seq, hash, sender, raw) VALUES ", tail: "" };
/// Every row of the mempool journal, in the order recorded.
pub(super) const JOURNAL_ROWS: &str = "SELECT seq, hash, sender, raw FROM pool_journal ORDER BY seq";
/// The greatest sequence number of the mempool journal (0 when empty).
pub(super) const LAST_JOURNAL_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM pool_journal";
/// The rows an older node journaled in the SQLite chain file, in their order.
pub(super) const OLD_JOURNAL_ROWS: &str = "SELECT hash, sender, raw FROM pool_journal ORDER BY seq";
/// Appends rows moved from the chain file, numbered by the journal file.
pub(super) const INSERT_MOVED_JOURNAL_ROWS: MultiRowInsert =
    MultiRowInsert { head: "INSERT INTO pool_journal (hash, sender, raw) VALUES ", tail: "" };
/// Empties the journal table of the SQLite chain file once its rows moved.
pub(super) const DELETE_OLD_JOURNAL_ROWS: &str = "DELETE FROM pool_journal";

/// Most ranges one statement of [`delete_journal_runs`] deletes: keeps the OR chain far below
/// SQLite's expression depth limit (1,000).
pub(super) const JOURNAL_RUNS_PER_STATEMENT: usize = 256;

/// Deletes the mempool journal's rows numbered by `count` parameters.
pub(super) fn delete_journal_rows(backend: Backend, count: usize) -> AssertSqlSafe<String> {
    let placeholders = backend.placeholders(count);
    // Only generated placeholders are formatted into the SQL.
    AssertSqlSafe(format!("DELETE FROM pool_journal WHERE seq IN ({placeholders})"))
}

/// Deletes the mempool journal's rows in `count` ranges, each bound as first and last number.
pub(super) fn delete_journal_runs(backend: Backend, count: usize) -> AssertSqlSafe<String> {
    let mut sql = String::from("DELETE FROM pool_journal WHERE ");
    for i in 0..count {
        sql.push_str(if i == 0 { "seq BETWEEN " } else { " OR seq BETWEEN " });
        backend.push_placeholder(&mut sql, 2 * i + 1);
        sql.push_str(" AND ");
        backend.push_placeholder(&mut sql, 2 * i + 2);
    }
    // Only generated placeholders are formatted into the SQL.
    AssertSqlSafe(sql)
}

// SQLite connections.

/// Settings of every SQLite connection, with a page cache of `cache_kib` KiB and at most
/// `mmap_bytes` of the file mapped. WAL lets readers go on while the builder writes; NORMAL sync
/// in WAL mode keeps every committed transaction across a process crash (kill -9). No
/// connection checkpoints on commit (SQLite's default makes the commit that crosses 1,000 WAL
/// pages copy them into the database and fsync it, inside the block's commit): the store's
/// checkpointer does it in the background ([`SQLITE_CHECKPOINT`]). Statement journals (the undo
/// copies a multi-row INSERT keeps in case it fails half-way) stay in memory.
pub(super) fn sqlite_pragmas(cache_kib: i64, mmap_bytes: i64) -> AssertSqlSafe<String> {
    // Only integers are formatted into the SQL.
    AssertSqlSafe(format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
         PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = {mmap_bytes}; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;"
    ))
}

/// Copies what the WAL holds into the database file without taking a lock that writers or
/// readers wait for.
pub(super) const SQLITE_CHECKPOINT: &str = "PRAGMA wal_checkpoint(PASSIVE)";

// PostgreSQL's claim of a database by one node.

/// Takes the session advisory lock `$1`; answers whether it was free.
pub(super) const PG_TRY_LOCK: &str = "SELECT pg_try_advisory_lock($1)";
/// How many advisory locks this session holds.
pub(super) const PG_LOCKS_HELD: &str =
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted";
/// Releases the session advisory lock `$1`.
pub(super) const PG_UNLOCK: &str = "SELECT pg_advisory_unlock($1)";

// Statements of many rows.

impl Backend {
    /// Bound parameters per statement in multi-row inserts and `IN` lists. SQLite allows 32,766
    /// and binds anonymous `?` parameters in linear time (named ones, such as `$N`, cost a
    /// linear lookup each: a 30,000-parameter statement spent most of its time there);
    /// PostgreSQL allows 65,535 but plans a long statement slowly.
    pub(super) fn params_per_statement(self) -> usize {
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

/// An `INSERT` of many rows: `head`, the rows' placeholders, `tail` (a conflict clause).
#[derive(Clone, Copy, Debug)]
pub(super) struct MultiRowInsert {
    /// Up to and including `VALUES `.
    head: &'static str,
    /// What follows the rows.
    tail: &'static str,
}

/// One bound value of a multi-row insert.
pub(super) enum Value {
    /// An integer column.
    Int(i64),
    /// A bytes column.
    Blob(Vec<u8>),
    /// A bytes column that may be NULL.
    OptBlob(Option<Vec<u8>>),
}

/// Inserts `rows` with as few statements as the parameter limit allows.
pub(super) async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    insert: MultiRowInsert,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    for query in insert_statements(backend, insert, rows) {
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
    MultiRowInsert { head, tail }: MultiRowInsert,
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

    #[test]
    fn generated_statements_number_their_placeholders_on_postgres_only() {
        assert_eq!(
            accounts_in(Backend::Sqlite, 2).0,
            "SELECT address, nonce, balance, code_hash FROM accounts WHERE address IN (?,?)"
        );
        assert_eq!(
            delete_journal_runs(Backend::Postgres, 2).0,
            "DELETE FROM pool_journal WHERE seq BETWEEN $1 AND $2 OR seq BETWEEN $3 AND $4"
        );
        let logs = logs(1, [0, 2, 0, 0], 10).0;
        assert!(logs.ends_with(
            "WHERE l.block_number >= $1 AND l.block_number <= $2 AND l.address IN ($3) \
             AND l.topic1 IN ($4,$5) ORDER BY l.block_number, l.log_index LIMIT 10"
        ));
    }
}
