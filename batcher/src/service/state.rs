//! The batcher's state: every batch it built and the L1 transaction that carries it, as rows
//! with explicit states in SQLite or PostgreSQL, so that a restart resumes a send instead of
//! making a second one. The schema is portable SQL: the same statements run on both.

use crate::txmgr::PriorSend;
use alloy_primitives::{Address, B256};
use sqlx::{AnyPool, Row, any::AnyPoolOptions};
use std::{str::FromStr, time::Duration};

/// The tables, created when missing.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS batcher_batches (
        id BIGINT PRIMARY KEY,
        bridge TEXT NOT NULL,
        first_block BIGINT NOT NULL,
        last_block BIGINT NOT NULL,
        last_block_hash TEXT NOT NULL,
        data_path TEXT NOT NULL,
        blobs BIGINT NOT NULL,
        trace_bytes BIGINT NOT NULL,
        state TEXT NOT NULL,
        prior_send TEXT,
        l1_transaction TEXT,
        l1_block BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS batcher_batches_by_bridge ON batcher_batches (bridge, id)",
];

/// Where a batch is on its way to settlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchState {
    /// Built; no transaction signed yet.
    Built,
    /// Its transaction is signed (its nonce and hashes are recorded).
    Signed,
    /// The L1 took the transaction into its pool.
    Sent,
    /// The transaction is in an L1 block.
    Included,
    /// The block that held it left the L1 chain: it is being sent again.
    Reorged,
    /// The transaction is confirmed and the bridge took the batch: settled (native) or claimed
    /// (optimistic).
    Settled,
    /// The bridge judged the batch false (EXECUTE answered false): it was slashed.
    Rejected,
    /// The bridge already had these blocks or moved elsewhere: the batch is dropped.
    Superseded,
}

impl BatchState {
    /// Its name in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Built => "built",
            Self::Signed => "signed",
            Self::Sent => "sent",
            Self::Included => "included",
            Self::Reorged => "reorged",
            Self::Settled => "settled",
            Self::Rejected => "rejected",
            Self::Superseded => "superseded",
        }
    }

    /// Whether the batch is done with (nothing more is sent for it).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Settled | Self::Rejected | Self::Superseded)
    }
}

impl FromStr for BatchState {
    type Err = StateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "built" => Self::Built,
            "signed" => Self::Signed,
            "sent" => Self::Sent,
            "included" => Self::Included,
            "reorged" => Self::Reorged,
            "settled" => Self::Settled,
            "rejected" => Self::Rejected,
            "superseded" => Self::Superseded,
            other => return Err(StateError::Corrupt(format!("unknown batch state `{other}`"))),
        })
    }
}

/// A batch as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRow {
    /// Its sequence number, from 1.
    pub id: i64,
    /// The bridge it goes to.
    pub bridge: Address,
    /// Its first L2 block.
    pub first_block: u64,
    /// Its last L2 block.
    pub last_block: u64,
    /// The last block's hash (what the bridge's head becomes).
    pub last_block_hash: B256,
    /// `calldata` or `blobs`.
    pub data_path: String,
    /// Blobs it carries.
    pub blobs: u64,
    /// Its trace's length.
    pub trace_bytes: u64,
    /// Where it is.
    pub state: BatchState,
    /// The nonce, fees and hashes of its transaction once signed.
    pub prior_send: Option<PriorSend>,
    /// The transaction that carried it into a block.
    pub l1_transaction: Option<B256>,
    /// That block's number.
    pub l1_block: Option<u64>,
}

/// The state database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A query failed.
    #[error("batcher state database: {0}")]
    Database(#[from] sqlx::Error),
    /// A row holds what no batcher writes.
    #[error("batcher state database holds a corrupt row: {0}")]
    Corrupt(String),
}

/// The batcher's state database.
#[derive(Clone, Debug)]
pub struct BatcherState {
    pool: AnyPool,
}

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

impl BatcherState {
    /// Opens (creating when missing) the state at `url`: `sqlite://PATH` or `postgres://...`.
    pub async fn open(url: &str) -> Result<Self, StateError> {
        sqlx::any::install_default_drivers();
        let url = if url.starts_with("sqlite:") && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if url.starts_with("sqlite:") { 1 } else { 4 })
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// The newest batch for `bridge`.
    pub async fn newest(&self, bridge: Address) -> Result<Option<BatchRow>, StateError> {
        let row = sqlx::query(
            "SELECT id, bridge, first_block, last_block, last_block_hash, data_path, blobs, trace_bytes, state, \
             prior_send, l1_transaction, l1_block FROM batcher_batches WHERE bridge = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(bridge.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| decode(&row)).transpose()
    }

    /// Records a new batch for `bridge`, built; returns it.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert(
        &self,
        bridge: Address,
        first_block: u64,
        last_block: u64,
        last_block_hash: B256,
        data_path: &str,
        blobs: u64,
        trace_bytes: u64,
    ) -> Result<BatchRow, StateError> {
        let id = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM batcher_batches")
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>(0)?
            + 1;
        sqlx::query(
            "INSERT INTO batcher_batches (id, bridge, first_block, last_block, last_block_hash, data_path, blobs, \
             trace_bytes, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'built', $9, $9)",
        )
        .bind(id)
        .bind(bridge.to_string())
        .bind(first_block as i64)
        .bind(last_block as i64)
        .bind(last_block_hash.to_string())
        .bind(data_path)
        .bind(blobs as i64)
        .bind(trace_bytes as i64)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(BatchRow {
            id,
            bridge,
            first_block,
            last_block,
            last_block_hash,
            data_path: data_path.to_owned(),
            blobs,
            trace_bytes,
            state: BatchState::Built,
            prior_send: None,
            l1_transaction: None,
            l1_block: None,
        })
    }

    /// Moves batch `id` to `state`, with what is known of its transaction.
    pub async fn update(
        &self,
        id: i64,
        state: BatchState,
        prior_send: Option<&PriorSend>,
        included: Option<(B256, u64)>,
    ) -> Result<(), StateError> {
        let prior = prior_send
            .map(encode_prior)
            .transpose()
            .map_err(|error| StateError::Corrupt(format!("encoding a send: {error}")))?;
        sqlx::query(
            "UPDATE batcher_batches SET state = $1, prior_send = COALESCE($2, prior_send), \
             l1_transaction = COALESCE($3, l1_transaction), l1_block = COALESCE($4, l1_block), updated_at = $5 \
             WHERE id = $6",
        )
        .bind(state.as_str())
        .bind(prior)
        .bind(included.map(|(hash, _)| hash.to_string()))
        .bind(included.map(|(_, block)| block as i64))
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The batches for `bridge` recorded as settled whose last block is past `number`, oldest
    /// first: when the bridge's tip is `number`, those it no longer has.
    pub async fn settled_beyond(&self, bridge: Address, number: u64) -> Result<Vec<BatchRow>, StateError> {
        let rows = sqlx::query(
            "SELECT id, bridge, first_block, last_block, last_block_hash, data_path, blobs, trace_bytes, state, \
             prior_send, l1_transaction, l1_block FROM batcher_batches \
             WHERE bridge = $1 AND state = 'settled' AND last_block > $2 ORDER BY id",
        )
        .bind(bridge.to_string())
        .bind(i64::try_from(number).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// How many batches for `bridge` are in `state`.
    pub async fn count_in(&self, bridge: Address, state: BatchState) -> Result<u64, StateError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM batcher_batches WHERE bridge = $1 AND state = $2")
            .bind(bridge.to_string())
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(count as u64)
    }
}

/// A send's record as stored: `nonce;fee;tip;blob fee;hash,hash,...`.
fn encode_prior(prior: &PriorSend) -> Result<String, std::fmt::Error> {
    use std::fmt::Write as _;
    let mut text = String::new();
    write!(
        text,
        "{};{};{};{};",
        prior.nonce,
        prior.fees.max_fee_per_gas,
        prior.fees.max_priority_fee_per_gas,
        prior.fees.max_fee_per_blob_gas
    )?;
    let hashes: Vec<String> = prior.hashes.iter().map(ToString::to_string).collect();
    text.push_str(&hashes.join(","));
    Ok(text)
}

/// Reads back what [`encode_prior`] wrote.
fn parse_prior(text: &str) -> Result<PriorSend, StateError> {
    let corrupt = || StateError::Corrupt(format!("a send record `{text}`"));
    let mut parts = text.split(';');
    let mut next = || parts.next().ok_or_else(corrupt);
    let nonce = next()?.parse().map_err(|_| corrupt())?;
    let max_fee_per_gas = next()?.parse().map_err(|_| corrupt())?;
    let max_priority_fee_per_gas = next()?.parse().map_err(|_| corrupt())?;
    let max_fee_per_blob_gas = next()?.parse().map_err(|_| corrupt())?;
    let hashes = next()?
        .split(',')
        .filter(|hash| !hash.is_empty())
        .map(|hash| hash.parse().map_err(|_| corrupt()))
        .collect::<Result<_, _>>()?;
    Ok(PriorSend {
        nonce,
        fees: crate::BlobFees { max_fee_per_gas, max_priority_fee_per_gas, max_fee_per_blob_gas },
        hashes,
    })
}

/// A row of `batcher_batches`.
fn decode(row: &sqlx::any::AnyRow) -> Result<BatchRow, StateError> {
    let corrupt = |what: &str| StateError::Corrupt(what.to_owned());
    let hash = |text: String| text.parse::<B256>().map_err(|_| corrupt("a hash"));
    Ok(BatchRow {
        id: row.try_get("id")?,
        bridge: row.try_get::<String, _>("bridge")?.parse().map_err(|_| corrupt("an address"))?,
        first_block: row.try_get::<i64, _>("first_block")? as u64,
        last_block: row.try_get::<i64, _>("last_block")? as u64,
        last_block_hash: hash(row.try_get("last_block_hash")?)?,
        data_path: row.try_get("data_path")?,
        blobs: row.try_get::<i64, _>("blobs")? as u64,
        trace_bytes: row.try_get::<i64, _>("trace_bytes")? as u64,
        state: row.try_get::<String, _>("state")?.parse()?,
        prior_send: row
            .try_get::<Option<String>, _>("prior_send")?
            .map(|text| parse_prior(&text))
            .transpose()?,
        l1_transaction: row.try_get::<Option<String>, _>("l1_transaction")?.map(hash).transpose()?,
        l1_block: row.try_get::<Option<i64>, _>("l1_block")?.map(|block| block as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_and_their_sends_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("batcher.sqlite").display());
        let bridge = Address::repeat_byte(7);
        let state = BatcherState::open(&url).await.unwrap();
        assert_eq!(state.newest(bridge).await.unwrap(), None);
        let batch = state.insert(bridge, 1, 5, B256::repeat_byte(5), "blobs", 2, 1000).await.unwrap();
        let prior = PriorSend {
            nonce: 3,
            fees: crate::BlobFees {
                max_fee_per_gas: 10,
                max_priority_fee_per_gas: 1,
                max_fee_per_blob_gas: 7,
            },
            hashes: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
        };
        state.update(batch.id, BatchState::Signed, Some(&prior), None).await.unwrap();
        state.update(batch.id, BatchState::Included, None, Some((B256::repeat_byte(2), 40))).await.unwrap();
        drop(state);
        let state = BatcherState::open(&url).await.unwrap();
        let row = state.newest(bridge).await.unwrap().unwrap();
        assert_eq!(row.state, BatchState::Included);
        assert_eq!(row.prior_send, Some(prior));
        assert_eq!((row.l1_transaction, row.l1_block), (Some(B256::repeat_byte(2)), Some(40)));
        assert_eq!(state.insert(bridge, 6, 6, B256::ZERO, "calldata", 0, 10).await.unwrap().id, 2);
    }

    #[tokio::test]
    async fn settled_batches_past_a_tip_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("batcher.sqlite").display());
        let bridge = Address::repeat_byte(7);
        let state = BatcherState::open(&url).await.unwrap();
        for (first, last) in [(1, 5), (6, 9), (10, 12)] {
            let batch = state.insert(bridge, first, last, B256::ZERO, "blobs", 1, 100).await.unwrap();
            state.update(batch.id, BatchState::Settled, None, Some((B256::repeat_byte(1), 3))).await.unwrap();
        }
        let beyond: Vec<u64> =
            state.settled_beyond(bridge, 5).await.unwrap().iter().map(|row| row.first_block).collect();
        assert_eq!(beyond, [6, 10]);
        assert!(state.settled_beyond(bridge, 12).await.unwrap().is_empty());
        assert!(state.settled_beyond(Address::ZERO, 0).await.unwrap().is_empty());
    }
}
