//! Blob batches read back: once a batch's blob transaction is confirmed, its blobs are fetched
//! from the L1 again and each is checked against its versioned hash (the KZG commitment
//! computed from the blob itself), so that blobs an L1 does not serve, or serves wrong, show up
//! as errors and in `batcher_blob_checks_total{result}` while they can still be posted again.
//!
//! Where the blobs come from is probed once, at the first blob batch, in this order:
//!
//! 1. the Beacon API's `GET /eth/v1/beacon/blob_sidecars/{block_id}` at the beacon URL (the dev
//!    L1 serves it on its JSON-RPC port): blobs with their commitments;
//! 2. the Fulu form `GET /eth/v1/beacon/blobs/{block_id}` (the dev L1, and Anvil, whose
//!    `blob_sidecars` answers 410 Gone): blobs alone;
//! 3. `eth_getTransactionByHash` on the L1, where it answers the transaction's sidecar (Anvil
//!    does): blobs in the order of its versioned hashes;
//! 4. none of these: checks are skipped, said once in the log and counted `skipped`.
//!
//! `block_id` is the L1 block's number: the slot of the dev L1 and of Anvil, which have no
//! beacon chain. A probe the L1 does not answer decides nothing: it is tried again at the next
//! blob batch.

use super::metrics::BatcherMetrics;
use crate::kzg::versioned_hash;
use alloy_primitives::{B256, hex};
use alloy_provider::{Provider, RootProvider};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// What a check of a blob batch's blobs found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobCheckResult {
    /// Every blob was served and matches its versioned hash.
    Ok,
    /// A blob was not served.
    Missing,
    /// A blob served for the batch does not match its versioned hash.
    Mismatch,
    /// The blobs could not be read (the L1 or its Beacon API did not answer, or answered
    /// something that is not blobs).
    Unavailable,
    /// The L1 serves no blobs (no Beacon API, no sidecar in its transactions): nothing checked.
    Skipped,
}

impl BlobCheckResult {
    /// Every result, for metrics set up at start.
    pub const ALL: [Self; 5] = [Self::Ok, Self::Missing, Self::Mismatch, Self::Unavailable, Self::Skipped];

    /// Its `result` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Mismatch => "mismatch",
            Self::Unavailable => "unavailable",
            Self::Skipped => "skipped",
        }
    }
}

/// Where an L1's blobs are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobSource {
    /// `GET /eth/v1/beacon/blob_sidecars/{block_id}`.
    Sidecars,
    /// `GET /eth/v1/beacon/blobs/{block_id}`.
    Blobs,
    /// `eth_getTransactionByHash`'s sidecar.
    Transaction,
    /// Nowhere: checks are skipped.
    Nowhere,
}

impl BlobSource {
    /// A short stable name, for logs.
    fn label(self) -> &'static str {
        match self {
            Self::Sidecars => "beacon blob_sidecars",
            Self::Blobs => "beacon blobs",
            Self::Transaction => "eth_getTransactionByHash",
            Self::Nowhere => "none",
        }
    }
}

/// A blob an L1 served, with the versioned hash it was served under, if it said.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Served {
    blob: Vec<u8>,
    claimed: Option<B256>,
}

/// Reads blob batches back from one L1.
#[derive(Debug)]
pub(crate) struct BlobCheck {
    http: reqwest::Client,
    beacon: Url,
    l1: RootProvider,
    source: parking_lot::Mutex<Option<BlobSource>>,
    metrics: BatcherMetrics,
}

impl BlobCheck {
    /// Checks through the Beacon API at `beacon`, or `l1`'s transactions, each request given
    /// `timeout`.
    pub(crate) fn new(beacon: Url, l1: RootProvider, timeout: Duration, metrics: BatcherMetrics) -> Self {
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        Self { http, beacon, l1, source: parking_lot::Mutex::new(None), metrics }
    }

    /// Reads back the blobs of transaction `tx`, included in L1 block `block` with
    /// `expected` versioned hashes, and checks them; logs and counts the result.
    pub(crate) async fn check(&self, block: u64, tx: B256, expected: &[B256]) -> BlobCheckResult {
        let result = match self.read(block, tx).await {
            Ok(Some(served)) => {
                let expected = expected.to_vec();
                tokio::task::spawn_blocking(move || judge(&expected, &served))
                    .await
                    .unwrap_or(BlobCheckResult::Unavailable)
            }
            Ok(None) => BlobCheckResult::Skipped,
            Err(error) => {
                tracing::warn!(target: "batcher", block, %tx, %error, "could not read a batch's blobs back");
                BlobCheckResult::Unavailable
            }
        };
        self.metrics.blob_check(result);
        match result {
            BlobCheckResult::Ok => {
                tracing::info!(target: "batcher", block, %tx, blobs = expected.len(), "the batch's blobs read back match")
            }
            BlobCheckResult::Missing | BlobCheckResult::Mismatch => tracing::error!(
                target: "batcher", block, %tx, result = result.label(),
                "the L1 does not serve the batch's blobs as sent"
            ),
            BlobCheckResult::Unavailable | BlobCheckResult::Skipped => {}
        }
        result
    }

    /// The blobs the L1 serves for `tx` in `block` (a block's may include other
    /// transactions'), `None` when it serves none at all.
    async fn read(&self, block: u64, tx: B256) -> Result<Option<Vec<Served>>, String> {
        let source = self.source(block, tx).await?;
        let served = match source {
            BlobSource::Sidecars => {
                let data = self.beacon_data("blob_sidecars", block).await?.unwrap_or_default();
                data.iter()
                    .map(|sidecar| {
                        let blob = hex_field(sidecar.get("blob"))?;
                        let commitment = hex_field(sidecar.get("kzg_commitment"))?;
                        if commitment.len() != 48 {
                            return Err("a sidecar's commitment is not 48 bytes".to_owned());
                        }
                        let claimed = alloy_eips::eip4844::kzg_to_versioned_hash(&commitment);
                        Ok(Served { blob, claimed: Some(claimed) })
                    })
                    .collect::<Result<_, _>>()?
            }
            BlobSource::Blobs => {
                let data = self.beacon_data("blobs", block).await?.unwrap_or_default();
                data.iter()
                    .map(|blob| Ok(Served { blob: hex_field(Some(blob))?, claimed: None }))
                    .collect::<Result<_, String>>()?
            }
            BlobSource::Transaction => {
                let Some(transaction) = self.transaction(tx).await? else { return Ok(Some(Vec::new())) };
                transaction_blobs(&transaction)?
            }
            BlobSource::Nowhere => return Ok(None),
        };
        Ok(Some(served))
    }

    /// Where the L1's blobs are read: probed with `block` and `tx` the first time.
    async fn source(&self, block: u64, tx: B256) -> Result<BlobSource, String> {
        if let Some(source) = *self.source.lock() {
            return Ok(source);
        }
        let mut source = BlobSource::Nowhere;
        for (candidate, endpoint) in [(BlobSource::Sidecars, "blob_sidecars"), (BlobSource::Blobs, "blobs")] {
            if self.beacon_data(endpoint, block).await?.is_some() {
                source = candidate;
                break;
            }
        }
        if source == BlobSource::Nowhere
            && self.transaction(tx).await?.is_some_and(|transaction| transaction.get("blobs").is_some())
        {
            source = BlobSource::Transaction;
        }
        match source {
            BlobSource::Nowhere => tracing::warn!(
                target: "batcher", beacon = %origin(&self.beacon),
                "the L1 serves no blobs (no Beacon API there, no sidecar in eth_getTransactionByHash): blob batches are not read back"
            ),
            _ => {
                tracing::info!(target: "batcher", source = source.label(), "blob batches are read back through the L1's blob API")
            }
        }
        *self.source.lock() = Some(source);
        Ok(source)
    }

    /// The `data` of the Beacon API's `GET /eth/v1/beacon/{endpoint}/{block}`: `None` when the
    /// server answers a client error or something without it (no such endpoint, gone, a block
    /// it does not know, not a Beacon API); an error when it does not answer, or fails.
    async fn beacon_data(&self, endpoint: &str, block: u64) -> Result<Option<Vec<Value>>, String> {
        let url = format!("{}/eth/v1/beacon/{endpoint}/{block}", self.beacon.as_str().trim_end_matches('/'));
        let failed = |error: String| format!("GET {endpoint} at {}: {error}", origin(&self.beacon));
        let response =
            self.http.get(&url).send().await.map_err(|error| failed(error.without_url().to_string()))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(failed(status.to_string()));
        }
        let body: Option<Value> = response.json().await.ok();
        let data = body.as_ref().and_then(|body| body.get("data")).and_then(Value::as_array);
        Ok(data.filter(|_| status.is_success()).cloned())
    }

    /// The L1's `eth_getTransactionByHash` answer for `tx`, as JSON.
    async fn transaction(&self, tx: B256) -> Result<Option<Value>, String> {
        self.l1
            .raw_request::<_, Option<Value>>("eth_getTransactionByHash".into(), (tx,))
            .await
            .map_err(|error| format!("eth_getTransactionByHash: {error}"))
    }
}

/// A `0x` hex field's bytes.
fn hex_field(value: Option<&Value>) -> Result<Vec<u8>, String> {
    let text = value.and_then(Value::as_str).ok_or("a blob field is missing or not a string")?;
    hex::decode(text).map_err(|error| format!("a blob field is not hex: {error}"))
}

/// The blobs of a transaction answered with its sidecar, each with the versioned hash at its
/// position.
fn transaction_blobs(transaction: &Value) -> Result<Vec<Served>, String> {
    let blobs = transaction.get("blobs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let hashes = transaction
        .get("blobVersionedHashes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    blobs
        .iter()
        .enumerate()
        .map(|(index, blob)| {
            let claimed = hashes.get(index).and_then(Value::as_str).and_then(|hash| hash.parse().ok());
            Ok(Served { blob: hex_field(Some(blob))?, claimed })
        })
        .collect()
}

/// Judges what was served against the `expected` versioned hashes: a blob served under one of
/// them that does not hash to it is a mismatch; an expected hash no served blob hashes to is
/// missing. Blobs served under other hashes (other transactions') are not looked at.
fn judge(expected: &[B256], served: &[Served]) -> BlobCheckResult {
    let mut found = vec![false; expected.len()];
    for blob in served {
        if blob.claimed.is_some_and(|claimed| !expected.contains(&claimed)) {
            continue;
        }
        match (versioned_hash(&blob.blob).ok(), blob.claimed) {
            (Some(computed), Some(claimed)) if computed != claimed => return BlobCheckResult::Mismatch,
            (None, Some(_)) => return BlobCheckResult::Mismatch,
            (Some(computed), _) => {
                if let Some(index) = expected.iter().position(|hash| *hash == computed) {
                    found[index] = true;
                }
            }
            (None, None) => {}
        }
    }
    if found.iter().all(|found| *found) { BlobCheckResult::Ok } else { BlobCheckResult::Missing }
}

/// The scheme, host and port of `url`, for logs (a provider's path often holds an API key).
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn blob(seed: u8) -> Vec<u8> {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i as u8).wrapping_mul(seed)).collect();
        let (blobs, _) =
            trace_builder::blob::trace_to_blobs(&payload, trace_builder::blob::Codec::None).unwrap();
        blobs.into_iter().next().unwrap()
    }

    #[test]
    fn served_blobs_are_judged_by_the_hash_of_their_commitment() {
        let (ours, other) = (blob(3), blob(7));
        let (hash, other_hash) = (versioned_hash(&ours).unwrap(), versioned_hash(&other).unwrap());
        let served = |blob: &Vec<u8>, claimed| Served { blob: blob.clone(), claimed };
        assert_eq!(judge(&[hash], &[served(&ours, Some(hash))]), BlobCheckResult::Ok);
        assert_eq!(judge(&[hash], &[served(&other, None), served(&ours, None)]), BlobCheckResult::Ok);
        // Another transaction's blob under its own hash is not ours to judge.
        assert_eq!(
            judge(&[hash], &[served(&other, Some(other_hash)), served(&ours, Some(hash))]),
            BlobCheckResult::Ok
        );
        assert_eq!(judge(&[hash], &[]), BlobCheckResult::Missing);
        assert_eq!(judge(&[hash, other_hash], &[served(&ours, None)]), BlobCheckResult::Missing);
        assert_eq!(judge(&[hash], &[served(&other, Some(hash))]), BlobCheckResult::Mismatch);
        assert_eq!(judge(&[hash], &[served(&vec![1; 10], Some(hash))]), BlobCheckResult::Mismatch);
    }

    #[test]
    fn a_transaction_answer_gives_its_blobs_with_their_hashes() {
        let hash = B256::repeat_byte(1);
        let transaction = serde_json::json!({ "blobs": ["0x0102"], "blobVersionedHashes": [hash] });
        assert_eq!(
            transaction_blobs(&transaction).unwrap(),
            [Served { blob: vec![1, 2], claimed: Some(hash) }]
        );
        assert!(transaction_blobs(&serde_json::json!({ "blobs": ["zz"] })).is_err());
    }
}
