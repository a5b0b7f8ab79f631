//! The mempool journal, the mempool's durable copy: every transaction the RPC acknowledged,
//! until the mempool lets it go.

use super::{
    Backend, Store,
    records::{address, b256},
    sql::{self, Value, insert_rows},
};
use crate::error::StoreError;
use alloy_primitives::{
    Address, B256, Bytes,
    map::{B256Map, B256Set},
};
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

/// Most admitted transactions one group commit of the [`MempoolJournal`] writes.
const MAX_GROUP: usize = 2_048;

/// Admissions that may wait for the journal before the RPC waits to hand it more.
const QUEUE_CAPACITY: usize = 16_384;

/// Makes admitted transactions durable before the RPC acknowledges them, in groups: whatever
/// admissions are waiting when a write starts go into the same database transaction, and each
/// is answered once that transaction committed. A write transaction per admission would cost a
/// synchronous commit each (PostgreSQL) or a turn at the single writer lock of the journal's
/// SQLite file (SQLite); a group costs one for all. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MempoolJournal {
    admissions: mpsc::Sender<Admission>,
}

/// One transaction waiting to be made durable.
#[derive(Debug)]
struct Admission {
    hash: B256,
    sender: Address,
    raw: Bytes,
    durable: oneshot::Sender<Result<(), String>>,
}

impl MempoolJournal {
    /// Starts the journal's writer on the current tokio runtime. It ends when the last handle
    /// is dropped, after writing what was handed to it.
    pub fn spawn(store: Store) -> Self {
        let (admissions, mut queue) = mpsc::channel::<Admission>(QUEUE_CAPACITY);
        let write_seconds = metrics::histogram!("sequencer_pool_journal_write_seconds");
        let group_transactions = metrics::histogram!("sequencer_pool_journal_group_transactions");
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_GROUP);
            while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
                let rows = group.iter().map(|a| (a.hash, a.sender, a.raw.as_ref())).collect::<Vec<_>>();
                let started = std::time::Instant::now();
                let outcome = store.insert_pooled(&rows).await.map_err(|error| error.to_string());
                let took = started.elapsed();
                write_seconds.record(took);
                group_transactions.record(rows.len() as f64);
                tracing::debug!(target: "store", transactions = rows.len(), ms = took.as_secs_f64() * 1e3, "journal group written");
                for admission in group.drain(..) {
                    // The RPC call may have gone away (client disconnected): nothing to tell.
                    let _ = admission.durable.send(outcome.clone());
                }
            }
        });
        Self { admissions }
    }

    /// Records an admitted transaction; returns once it is durable.
    pub async fn record(&self, hash: B256, sender: Address, raw: Bytes) -> Result<(), StoreError> {
        let (durable, written) = oneshot::channel();
        let closed = || StoreError::Journal("the mempool journal has stopped".into());
        self.admissions.send(Admission { hash, sender, raw, durable }).await.map_err(|_| closed())?;
        written.await.map_err(|_| closed())?.map_err(StoreError::Journal)
    }
}

impl Store {
    /// Records admitted transactions (hash, sender, EIP-2718 bytes) in one database
    /// transaction; returns once they are durable. The rows are appended to the journal under
    /// sequence numbers the store gives them; it remembers which, for [`Store::delete_pooled`].
    pub async fn insert_pooled(&self, transactions: &[(B256, Address, &[u8])]) -> Result<(), StoreError> {
        let hashes = transactions.iter().map(|(hash, _, _)| *hash).collect::<Vec<_>>();
        let first = self.journal_index.lock().begin(&hashes);
        let rows = (first..)
            .zip(transactions)
            .map(|(seq, (hash, sender, raw))| {
                vec![
                    Value::Int(seq),
                    Value::Blob(hash.to_vec()),
                    Value::Blob(sender.to_vec()),
                    Value::Blob(raw.to_vec()),
                ]
            })
            .collect();
        let written = async {
            let mut tx = self.journal.begin().await?;
            insert_rows(&mut tx, self.backend, sql::INSERT_JOURNAL_ROWS, rows).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        }
        .await;
        let left = self.journal_index.lock().end(first, &hashes, written.is_ok());
        written?;
        // The mempool let these go while they were being written; nothing else would delete them.
        // The group is durable either way: a row this fails to delete stays until the next
        // start-up, which finds its transaction mined and drops it.
        if let Err(error) = self.delete_journal_rows(&left).await {
            tracing::warn!(target: "store", %error, rows = left.len(), "could not delete journal rows of included transactions");
        }
        Ok(())
    }

    /// Forgets transactions that left the mempool, in batched statements.
    pub async fn delete_pooled(&self, hashes: &[B256]) -> Result<(), StoreError> {
        let seqs = self.journal_index.lock().forget(hashes);
        self.delete_journal_rows(&seqs).await
    }

    /// Deletes the rows numbered `seqs`. A block takes most of the mempool in the order it was
    /// admitted, so the numbers come mostly in runs; each run is deleted as a range of the key,
    /// not number by number.
    async fn delete_journal_rows(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let (runs, single): (Vec<_>, Vec<_>) =
            seq_runs(seqs).into_iter().partition(|(first, last)| first < last);
        let single: Vec<i64> = single.into_iter().map(|(seq, _)| seq).collect();
        let mut tx = self.journal.begin().await?;
        for chunk in single.chunks(self.backend.params_per_statement()) {
            let mut query = sqlx::query(sql::delete_journal_rows(self.backend, chunk.len()));
            for seq in chunk {
                query = query.bind(*seq);
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in runs.chunks(sql::JOURNAL_RUNS_PER_STATEMENT) {
            let mut query = sqlx::query(sql::delete_journal_runs(self.backend, chunk.len()));
            for (first, last) in chunk {
                query = query.bind(*first).bind(*last);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every recorded mempool transaction, in the order recorded: its sender and EIP-2718 bytes.
    /// Learns where each one is kept, and drops the older rows of a transaction recorded twice.
    pub async fn pooled_transactions(&self) -> Result<Vec<(Address, Bytes)>, StoreError> {
        let rows = sqlx::query(sql::JOURNAL_ROWS).fetch_all(&self.journal).await?;
        let mut transactions = Vec::with_capacity(rows.len());
        let mut duplicates = Vec::new();
        {
            let mut index = self.journal_index.lock();
            for row in &rows {
                if let Some(older) = index.rows.insert(b256(row, 1)?, row.try_get::<i64, _>(0)?) {
                    duplicates.push(older);
                    continue;
                }
                transactions.push((address(row, 2)?, Bytes::from(row.try_get::<Vec<u8>, _>(3)?)));
            }
        }
        self.delete_journal_rows(&duplicates).await?;
        Ok(transactions)
    }
}

/// Where the journal keeps each transaction it holds, and the sequence numbers it gave.
///
/// The RPC hands a transaction to the mempool before its row is durable, so the block builder can
/// include it, and the mempool let it go, while the row is still being written. Such a
/// transaction is remembered until its write ends, and its row deleted then.
#[derive(Debug)]
pub(super) struct JournalIndex {
    /// Each held transaction's row: hash → sequence number.
    rows: B256Map<i64>,
    /// The greatest sequence number given; the next row gets the one after it.
    last_seq: i64,
    /// Transactions whose rows are being written.
    writing: B256Map<usize>,
    /// Transactions the mempool let go while their rows were being written.
    left_while_writing: B256Set,
    /// Transactions the mempool let go before their rows were even handed to the journal: a block
    /// can include a transaction while its admission still waits in the journal's queue. Their
    /// rows are deleted as soon as they are written. Bounded by [`MAX_LEFT_BEFORE_WRITING`].
    left_before_writing: B256Set,
}

/// Most transactions [`JournalIndex`] remembers as let go before their rows were written; past
/// it (admissions that never reached the journal, their clients gone) it starts over, and a row
/// it forgot stays until the next start-up finds its transaction mined and drops it.
const MAX_LEFT_BEFORE_WRITING: usize = 65_536;

impl JournalIndex {
    /// The index of the journal in `journal` as the store opens it: no rows known yet
    /// ([`Store::pooled_transactions`] learns them), numbers going on after the greatest there.
    /// One node writes the journal at a time.
    pub(super) async fn read(journal: &AnyPool) -> Result<Self, StoreError> {
        let last_seq: i64 = sqlx::query_scalar(sql::LAST_JOURNAL_SEQ).fetch_one(journal).await?;
        Ok(Self::after(last_seq))
    }

    /// An index of no rows whose numbers go on after `last_seq`.
    fn after(last_seq: i64) -> Self {
        Self {
            rows: B256Map::default(),
            last_seq,
            writing: B256Map::default(),
            left_while_writing: B256Set::default(),
            left_before_writing: B256Set::default(),
        }
    }

    /// Numbers rows for `hashes`, about to be written; returns the first number.
    fn begin(&mut self, hashes: &[B256]) -> i64 {
        let first = self.last_seq + 1;
        self.last_seq += hashes.len() as i64;
        for hash in hashes {
            *self.writing.entry(*hash).or_default() += 1;
            if self.left_before_writing.remove(hash) {
                self.left_while_writing.insert(*hash);
            }
        }
        first
    }

    /// The write that [`Self::begin`] numbered from `first` ended, `written` or not. Returns
    /// the rows it wrote for transactions the mempool let go meanwhile, to delete.
    fn end(&mut self, first: i64, hashes: &[B256], written: bool) -> Vec<i64> {
        let mut left = Vec::new();
        for (seq, hash) in (first..).zip(hashes) {
            let Some(writes) = self.writing.get_mut(hash) else { continue };
            *writes -= 1;
            let last_write = *writes == 0;
            if last_write {
                self.writing.remove(hash);
            }
            let gone = if last_write {
                self.left_while_writing.remove(hash)
            } else {
                self.left_while_writing.contains(hash)
            };
            match (written, gone) {
                (false, _) => {}
                (true, true) => left.push(seq),
                // A transaction recorded twice keeps its older row too: start-up removes it.
                (true, false) => {
                    self.rows.insert(*hash, seq);
                }
            }
        }
        left
    }

    /// Forgets transactions that left the mempool; returns the rows to delete now. Those whose
    /// rows are being written are deleted when the write ends ([`Self::end`]).
    fn forget(&mut self, hashes: &[B256]) -> Vec<i64> {
        let mut seqs = Vec::new();
        for hash in hashes {
            let had_row = self.rows.remove(hash).map(|seq| seqs.push(seq)).is_some();
            if self.writing.contains_key(hash) {
                self.left_while_writing.insert(*hash);
            } else if !had_row {
                if self.left_before_writing.len() >= MAX_LEFT_BEFORE_WRITING {
                    self.left_before_writing.clear();
                }
                self.left_before_writing.insert(*hash);
            }
        }
        seqs
    }
}

/// `seqs` as runs of consecutive numbers, (first, last) each, in increasing order.
fn seq_runs(seqs: &[i64]) -> Vec<(i64, i64)> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for seq in sorted {
        match runs.last_mut() {
            Some((_, last)) if seq <= *last + 1 => *last = seq,
            _ => runs.push((seq, seq)),
        }
    }
    runs
}

/// The URL of the SQLite file that holds the mempool journal, beside the chain's file named in
/// `chain_url`: `chain.sqlite` → `chain.pool-journal.sqlite`, with the same URL parameters.
pub(super) fn sqlite_journal_url(chain_url: &str) -> String {
    let (path, query) =
        chain_url.split_once('?').map_or((chain_url, None), |(path, query)| (path, Some(query)));
    let (scheme, path) = ["sqlite://", "sqlite:"]
        .into_iter()
        .find_map(|scheme| path.strip_prefix(scheme).map(|path| (scheme, path)))
        .unwrap_or(("sqlite:", path));
    let journal = std::path::Path::new(path).with_extension("pool-journal.sqlite");
    match query {
        Some(query) => format!("{scheme}{}?{query}", journal.display()),
        None => format!("{scheme}{}", journal.display()),
    }
}

/// Moves the rows of the journal table in the chain's SQLite file, where nodes before the
/// journal had a file of its own kept it, to the journal's file, in their order. A crash
/// between the two commits leaves a row in both files; the next start moves it again, and
/// [`Store::pooled_transactions`] keeps one of each.
pub(super) async fn move_journal_out_of_chain_file(
    chain: &AnyPool,
    journal: &AnyPool,
) -> Result<(), StoreError> {
    let rows = sqlx::query(sql::OLD_JOURNAL_ROWS).fetch_all(chain).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let rows = rows
        .iter()
        .map(|row| {
            Ok(vec![
                Value::Blob(row.try_get::<Vec<u8>, _>(0)?),
                Value::Blob(row.try_get::<Vec<u8>, _>(1)?),
                Value::Blob(row.try_get::<Vec<u8>, _>(2)?),
            ])
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let moved = rows.len();
    let mut tx = journal.begin().await?;
    insert_rows(&mut tx, Backend::Sqlite, sql::INSERT_MOVED_JOURNAL_ROWS, rows).await?;
    tx.commit().await?;
    sqlx::query(sql::DELETE_OLD_JOURNAL_ROWS).execute(chain).await?;
    tracing::info!(target: "store", moved, "moved the mempool journal into its own file");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rows_to_delete_go_as_runs_of_consecutive_numbers() {
        assert_eq!(seq_runs(&[]), Vec::<(i64, i64)>::new());
        assert_eq!(seq_runs(&[7]), vec![(7, 7)]);
        assert_eq!(seq_runs(&[5, 3, 4, 9, 10, 1, 4]), vec![(1, 1), (3, 5), (9, 10)]);
    }

    #[test]
    fn a_transaction_the_mempool_let_go_while_its_row_was_written_has_the_row_deleted_after() {
        let mut index = JournalIndex::after(0);
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let first = index.begin(&[a, b]);
        // The block builder included `a` before its row was durable.
        assert_eq!(index.forget(&[a]), Vec::<i64>::new());
        assert_eq!(index.end(first, &[a, b], true), vec![first]);
        assert_eq!(index.forget(&[b]), vec![first + 1]);
        assert!(index.rows.is_empty() && index.writing.is_empty() && index.left_while_writing.is_empty());

        // Recorded twice at once and let go during both writes: both rows go.
        let (first, second) = (index.begin(&[a]), index.begin(&[a]));
        assert_eq!(index.forget(&[a]), Vec::<i64>::new());
        assert_eq!(index.end(first, &[a], true), vec![first]);
        assert_eq!(index.end(second, &[a], true), vec![second]);

        // A failed write leaves nothing to delete, and nothing remembered.
        let first = index.begin(&[b]);
        index.forget(&[b]);
        assert_eq!(index.end(first, &[b], false), Vec::<i64>::new());
        assert!(index.rows.is_empty() && index.writing.is_empty() && index.left_while_writing.is_empty());
    }

    #[test]
    fn a_transaction_the_mempool_let_go_before_its_row_was_written_has_the_row_deleted_after() {
        let mut index = JournalIndex::after(0);
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        // A block included `a` while its admission still waited in the journal's queue.
        assert_eq!(index.forget(&[a]), Vec::<i64>::new());
        let first = index.begin(&[a, b]);
        assert_eq!(index.end(first, &[a, b], true), vec![first], "a's row goes as soon as it is written");
        assert_eq!(index.forget(&[b]), vec![first + 1]);
        assert!(index.rows.is_empty() && index.writing.is_empty() && index.left_while_writing.is_empty());
        assert!(index.left_before_writing.is_empty());
    }

    #[tokio::test]
    async fn runs_and_single_rows_are_deleted_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
        let store = Store::open(&url, 2).await.unwrap();
        let txs: Vec<_> =
            (1..=10u8).map(|i| (B256::repeat_byte(i), Address::repeat_byte(i), vec![i; 5])).collect();
        let rows: Vec<_> = txs.iter().map(|(hash, sender, raw)| (*hash, *sender, raw.as_slice())).collect();
        store.insert_pooled(&rows).await.unwrap();
        // Rows 2 to 6 (a run) and 8 (alone) leave.
        let leaving: Vec<B256> = [2, 3, 4, 5, 6, 8].iter().map(|i| txs[i - 1].0).collect();
        store.delete_pooled(&leaving).await.unwrap();
        store.close().await;

        let store = Store::open(&url, 2).await.unwrap();
        let expected: Vec<_> =
            [1, 7, 9, 10].iter().map(|i| (txs[i - 1].1, Bytes::from(txs[i - 1].2.clone()))).collect();
        assert_eq!(store.pooled_transactions().await.unwrap(), expected);
    }

    #[tokio::test]
    async fn the_journal_forgets_what_left_the_mempool_and_a_transaction_recorded_twice_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
        let store = Store::open(&url, 2).await.unwrap();
        let tx = |i: u8| (B256::repeat_byte(i), Address::repeat_byte(i), vec![i; 10 + usize::from(i)]);
        let txs: Vec<_> = (1..=4).map(tx).collect();
        let rows: Vec<_> = txs.iter().map(|(hash, sender, raw)| (*hash, *sender, raw.as_slice())).collect();
        store.insert_pooled(&rows).await.unwrap();
        store.insert_pooled(&rows[3..]).await.unwrap();
        store.delete_pooled(&[txs[0].0, txs[2].0, B256::repeat_byte(9)]).await.unwrap();
        store.close().await;

        // A restart reads what is left, each once, in the order recorded.
        let store = Store::open(&url, 2).await.unwrap();
        let expected = [(txs[1].1, Bytes::from(txs[1].2.clone())), (txs[3].1, Bytes::from(txs[3].2.clone()))];
        assert_eq!(store.pooled_transactions().await.unwrap(), expected);
        // What is recorded after a restart comes after what the restart found.
        let late = tx(5);
        store.insert_pooled(&[(late.0, late.1, late.2.as_slice())]).await.unwrap();
        store.delete_pooled(&[txs[1].0]).await.unwrap();
        store.close().await;
        let store = Store::open(&url, 2).await.unwrap();
        let expected = [(txs[3].1, Bytes::from(txs[3].2.clone())), (late.1, Bytes::from(late.2.clone()))];
        assert_eq!(store.pooled_transactions().await.unwrap(), expected);
        store.delete_pooled(&[txs[3].0, late.0]).await.unwrap();
        store.close().await;
        let store = Store::open(&url, 2).await.unwrap();
        assert_eq!(store.pooled_transactions().await.unwrap(), []);
    }

    #[test]
    fn the_journal_file_sits_beside_the_chain_file() {
        assert_eq!(
            sqlite_journal_url("sqlite:///data/chain.sqlite?mode=rwc"),
            "sqlite:///data/chain.pool-journal.sqlite?mode=rwc"
        );
        assert_eq!(sqlite_journal_url("sqlite:chain.db"), "sqlite:chain.pool-journal.sqlite");
        assert_eq!(sqlite_journal_url("sqlite://data/chain"), "sqlite://data/chain.pool-journal.sqlite");
    }

    #[tokio::test]
    async fn rows_an_older_node_journaled_in_the_chain_file_move_to_the_journal_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
        let store = Store::open(&url, 2).await.unwrap();
        // As a node before the journal's own file wrote them.
        for i in [1u8, 2] {
            sqlx::query("INSERT INTO pool_journal (hash, sender, raw) VALUES ($1, $2, $3)")
                .bind(vec![i; 32])
                .bind(vec![i; 20])
                .bind(vec![i; 5])
                .execute(&store.writer)
                .await
                .unwrap();
        }
        store.close().await;

        let store = Store::open(&url, 2).await.unwrap();
        let moved = [1u8, 2].map(|i| (Address::repeat_byte(i), Bytes::from(vec![i; 5])));
        assert_eq!(store.pooled_transactions().await.unwrap(), moved);
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pool_journal").fetch_one(&store.writer).await.unwrap();
        assert_eq!(left, 0);
        assert!(dir.path().join("chain.pool-journal.sqlite").exists());
        store.close().await;
    }
}
