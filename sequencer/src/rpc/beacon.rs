//! The blobs of the dev L1, served the way a consensus client serves them (the Beacon API), on
//! the JSON-RPC port, so that a batcher or anyone verifying fetches them with a standard client:
//!
//! - `GET /eth/v1/beacon/blob_sidecars/{block_id}[?indices=0,2]`: the sidecars of a block's
//!   blobs (index, blob, KZG commitment and proof, and a block header), as before Fulu;
//! - `GET /eth/v1/beacon/blobs/{block_id}[?versioned_hashes=0x..,0x..]`: the blobs alone, as
//!   from Fulu on;
//! - `GET /eth/v1/beacon/genesis` and `GET /eth/v1/config/spec`: what clients read to map slots
//!   to times.
//!
//! This chain has no beacon chain: a **slot is a block number** and a block's **root is its
//! execution block hash**. `block_id` is `head`, `genesis`, `finalized`, a decimal block
//! number, or a `0x` block hash. The header in a sidecar is the execution block's (slot =
//! number, parent root = parent hash, state root = state root, body root = block hash) with a
//! zero signature, and the commitment inclusion proof is zero: there is no beacon block body to
//! prove the commitment against. Everything else has the Beacon API's shape.

use crate::{
    error::StoreError,
    mempool::blobs::BlobRecord,
    store::{BlockReader, Store},
};
use alloy_primitives::{B256, hex};
use bytes::Bytes;
use http::{Method, StatusCode, header::CONTENT_TYPE};
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse},
};
use serde_json::{Value, json};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

/// Depth of the commitment inclusion proof in a Deneb-to-Electra sidecar.
const INCLUSION_PROOF_DEPTH: usize = 17;

/// What the Beacon API answers from.
#[derive(Clone, Debug)]
pub struct BeaconApi {
    /// The chain.
    pub store: Store,
    /// `finalized` trails the head by this many blocks.
    pub finalized_depth: u64,
    /// Seconds between blocks (the `SECONDS_PER_SLOT` of `config/spec`).
    pub seconds_per_slot: u64,
}

/// The layer answering the Beacon API's GET requests before JSON-RPC sees them.
#[derive(Clone, Debug)]
pub(super) struct BeaconLayer(pub(super) Option<BeaconApi>);

impl<S> tower::Layer<S> for BeaconLayer {
    type Service = Beacon<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Beacon { inner, api: self.0.clone() }
    }
}

/// The service of [`BeaconLayer`].
#[derive(Clone, Debug)]
pub(super) struct Beacon<S> {
    inner: S,
    api: Option<BeaconApi>,
}

impl<S> tower::Service<HttpRequest<HttpBody>> for Beacon<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse<HttpBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = HttpResponse<HttpBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<HttpBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path();
        let (Some(api), true) =
            (self.api.clone(), request.method() == Method::GET && path.starts_with("/eth/v1/"))
        else {
            return Box::pin(inner.call(request));
        };
        let (path, query) = (path.to_owned(), request.uri().query().unwrap_or_default().to_owned());
        Box::pin(async move {
            let (status, body) = match api.answer(&path, &query).await {
                Ok(body) => (StatusCode::OK, body),
                Err(BeaconError { status, message }) => {
                    (status, json!({ "code": status.as_u16(), "message": message }))
                }
            };
            let mut response =
                HttpResponse::new(HttpBody::new(http_body_util::Full::new(Bytes::from(body.to_string()))));
            *response.status_mut() = status;
            response.headers_mut().insert(CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            Ok(response)
        })
    }
}

/// An error answer: its HTTP status and message.
#[derive(Debug)]
struct BeaconError {
    status: StatusCode,
    message: String,
}

impl BeaconError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: message.into() }
    }
}

impl From<StoreError> for BeaconError {
    fn from(error: StoreError) -> Self {
        tracing::warn!(target: "rpc", %error, "a Beacon API read failed");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, message: "the node's database failed".into() }
    }
}

impl BeaconApi {
    async fn answer(&self, path: &str, query: &str) -> Result<Value, BeaconError> {
        if let Some(block_id) = path.strip_prefix("/eth/v1/beacon/blob_sidecars/") {
            return self.blob_sidecars(block_id, query).await;
        }
        if let Some(block_id) = path.strip_prefix("/eth/v1/beacon/blobs/") {
            return self.blobs(block_id, query).await;
        }
        match path {
            "/eth/v1/beacon/genesis" => {
                let genesis = self.header(0).await?;
                Ok(json!({ "data": {
                    "genesis_time": genesis.timestamp.to_string(),
                    "genesis_validators_root": B256::ZERO,
                    "genesis_fork_version": "0x00000000",
                }}))
            }
            "/eth/v1/config/spec" => Ok(json!({ "data": {
                "SECONDS_PER_SLOT": self.seconds_per_slot.to_string(),
                "SLOTS_PER_EPOCH": "32",
            }})),
            _ => Err(BeaconError::not_found(format!("no such endpoint: {path}"))),
        }
    }

    /// `blob_sidecars`: the block's blobs with commitments, proofs and its header.
    async fn blob_sidecars(&self, block_id: &str, query: &str) -> Result<Value, BeaconError> {
        let indices = query_list(query, "indices")
            .map(|index| {
                index.parse::<usize>().map_err(|_| BeaconError::bad_request(format!("bad index `{index}`")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (number, finalized) = self.resolve(block_id).await?;
        let header = self.header(number).await?;
        let hash = header.hash_slow();
        let signed_header = json!({
            "message": {
                "slot": number.to_string(),
                "proposer_index": "0",
                "parent_root": header.parent_hash,
                "state_root": header.state_root,
                "body_root": hash,
            },
            "signature": format!("0x{}", "00".repeat(96)),
        });
        let blobs = self.store.block_blobs(number).await?;
        let data: Vec<Value> = blobs
            .iter()
            .enumerate()
            .filter(|(index, _)| indices.is_empty() || indices.contains(index))
            .map(|(index, blob)| sidecar(index, blob, &signed_header))
            .collect();
        Ok(json!({ "data": data, "execution_optimistic": false, "finalized": finalized }))
    }

    /// `blobs`: the block's blobs alone, optionally those with the given versioned hashes.
    async fn blobs(&self, block_id: &str, query: &str) -> Result<Value, BeaconError> {
        let wanted = query_list(query, "versioned_hashes")
            .map(|hash| {
                hash.parse::<B256>().map_err(|_| BeaconError::bad_request(format!("bad hash `{hash}`")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (number, finalized) = self.resolve(block_id).await?;
        let blobs = self.store.block_blobs(number).await?;
        let data: Vec<Value> = blobs
            .iter()
            .filter(|blob| wanted.is_empty() || wanted.contains(&blob.versioned_hash))
            .map(|blob| Value::String(hex::encode_prefixed(&blob.blob)))
            .collect();
        Ok(json!({ "data": data, "execution_optimistic": false, "finalized": finalized }))
    }

    /// The block number `block_id` names, and whether it is finalized.
    async fn resolve(&self, block_id: &str) -> Result<(u64, bool), BeaconError> {
        let (head, _) = self.store.head().await?.ok_or_else(|| BeaconError::not_found("no blocks yet"))?;
        let finalized = head.saturating_sub(self.finalized_depth);
        let number = match block_id {
            "head" => head,
            "genesis" => 0,
            "finalized" => finalized,
            hash if hash.starts_with("0x") => {
                let hash = hash.parse::<B256>().map_err(|_| BeaconError::bad_request("bad block root"))?;
                let header = self.store.header_by_hash(hash).await?;
                header.ok_or_else(|| BeaconError::not_found(format!("no block with root {hash}")))?.number
            }
            slot => {
                slot.parse::<u64>().map_err(|_| BeaconError::bad_request(format!("bad block id `{slot}`")))?
            }
        };
        if number > head {
            return Err(BeaconError::not_found(format!("block {number} is past the head {head}")));
        }
        Ok((number, number <= finalized))
    }

    async fn header(&self, number: u64) -> Result<alloy_consensus::Header, BeaconError> {
        self.store
            .header_by_number(number)
            .await?
            .ok_or_else(|| BeaconError::not_found(format!("no block {number}")))
    }
}

/// One sidecar in the Beacon API's JSON.
fn sidecar(index: usize, blob: &BlobRecord, signed_header: &Value) -> Value {
    json!({
        "index": index.to_string(),
        "blob": hex::encode_prefixed(&blob.blob),
        "kzg_commitment": blob.commitment,
        "kzg_proof": blob.proof,
        "signed_block_header": signed_header,
        "kzg_commitment_inclusion_proof": vec![B256::ZERO; INCLUSION_PROOF_DEPTH],
    })
}

/// The comma-separated (or repeated) values of `key` in a query string.
fn query_list<'a>(query: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    query
        .split('&')
        .filter_map(move |pair| pair.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
        .flat_map(|values| values.split(','))
        .filter(|value| !value.is_empty())
}
