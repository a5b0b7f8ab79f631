//! The L1 transaction that hands a batch to the bridge: `submitBatch` (native mode) or
//! `propose` (optimistic mode), with the trace in calldata or in the transaction's blobs.

use crate::{
    BlobFees, SidecarForm,
    bridge::{Batch, NativeRollupBridge, SettlementMode, batch_of},
    build_sidecar,
    kzg::KzgError,
    rollup_api::TraceResponse,
    txmgr::TxCandidate,
};
use alloy_eips::eip4844::Blob;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use trace_builder::{
    blob::{BlobError, Codec, encode_blobs, encode_frame},
    precompile::ExecuteGas,
};

/// Gas the bridge's own work may take in one submission, beside EXECUTE's charge and the
/// calldata: reading anchors, writing the head and its history, events (measured in
/// docs/benchmarks.md well under this).
pub const BRIDGE_GAS_ALLOWANCE: u64 = 250_000;

/// The most blobs one transaction carries (Osaka's per-transaction limit, EIP-7594).
pub const MAX_BLOBS_PER_TX: usize = 6;

/// How a batch's trace reaches the L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataPath {
    /// The trace is the call's `trace` argument.
    Calldata,
    /// The trace is in the transaction's blobs (the DA codec, docs/blob-encoding.md).
    Blobs,
}

/// Where a proposal goes and how it is signed, beside the batch.
#[derive(Clone, Copy, Debug)]
pub struct ProposalSettings {
    /// The L1's chain id.
    pub l1_chain_id: u64,
    /// The bridge's address.
    pub bridge: Address,
    /// The bridge's settlement mode.
    pub mode: SettlementMode,
    /// The sidecar form the L1's fork wants (blob path).
    pub sidecar_form: SidecarForm,
    /// EXECUTE's gas schedule on the L1, to size the gas limit (native mode).
    pub execute_gas: ExecuteGas,
}

/// A batch as the bridge will take it: the claims, and its trace in calldata or in blobs.
#[derive(Clone, Debug)]
pub struct Proposal {
    /// The claims.
    pub batch: Batch,
    /// The `trace` argument: the trace on the calldata path, empty on the blob path.
    pub inline: Bytes,
    /// The blobs carrying the trace (the blob path), each [`trace_builder::blob::BLOB_SIZE`] bytes.
    pub blobs: Vec<Vec<u8>>,
    /// The blobs' payload: the compressed frame's length (zero on the calldata path).
    pub payload_bytes: usize,
    /// The trace's L2 gas, which EXECUTE's charge depends on.
    pub gas_used: u64,
    /// The trace's encoded length.
    pub trace_len: usize,
}

/// A signed proposal transaction.
#[derive(Clone, Debug)]
pub struct ProposalTx {
    /// Its hash.
    pub hash: B256,
    /// What `eth_sendRawTransaction` takes (with the sidecar on the blob path).
    pub raw: Bytes,
    /// Its gas limit.
    pub gas_limit: u64,
    /// What EXECUTE will charge of it (native mode; zero in optimistic mode).
    pub execute_charge: u64,
    /// The versioned hashes of its blobs (empty on the calldata path).
    pub blob_hashes: Vec<B256>,
}

/// Why a proposal could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    /// The trace does not fit in blobs (or the codec failed).
    #[error(transparent)]
    Blobs(#[from] BlobError),
    /// The trace needs more blobs than one transaction carries.
    #[error("the trace needs {0} blobs, more than the {MAX_BLOBS_PER_TX} one transaction carries")]
    TooManyBlobs(usize),
    /// Commitments and proofs could not be computed.
    #[error(transparent)]
    Kzg(#[from] KzgError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] alloy_signer::Error),
}

impl Proposal {
    /// The proposal of `trace` (an answer of `rollup_getTrace`) on `path`.
    pub fn new(trace: &TraceResponse, path: DataPath) -> Result<Self, ProposalError> {
        match path {
            DataPath::Calldata => Ok(Self {
                batch: batch_of(trace),
                inline: trace.trace.clone(),
                blobs: Vec::new(),
                payload_bytes: 0,
                gas_used: trace.gas_used.to(),
                trace_len: trace.trace.len(),
            }),
            DataPath::Blobs => Self::from_frame(trace, &encode_frame(&trace.trace, Codec::DEFAULT)?),
        }
    }

    /// The blob-path proposal of `trace`, whose frame (the DA codec's, `encode_frame`) is
    /// `frame`: its blobs carry exactly that frame.
    pub fn from_frame(trace: &TraceResponse, frame: &[u8]) -> Result<Self, ProposalError> {
        let blobs = encode_blobs(frame)?;
        if blobs.len() > MAX_BLOBS_PER_TX {
            return Err(ProposalError::TooManyBlobs(blobs.len()));
        }
        Ok(Self {
            batch: batch_of(trace),
            inline: Bytes::new(),
            blobs,
            payload_bytes: frame.len(),
            gas_used: trace.gas_used.to(),
            trace_len: trace.trace.len(),
        })
    }

    /// The call data of `submitBatch` (native) or `propose` (optimistic).
    pub fn input(&self, mode: SettlementMode) -> Bytes {
        let (batch, trace) = (self.batch.clone(), self.inline.clone());
        match mode {
            SettlementMode::Native => NativeRollupBridge::submitBatchCall { batch, trace }.abi_encode(),
            SettlementMode::Optimistic => NativeRollupBridge::proposeCall { batch, trace }.abi_encode(),
        }
        .into()
    }

    /// What EXECUTE charges to judge it (native mode; nothing is judged when a claim is posted).
    pub fn execute_charge(&self, settings: &ProposalSettings) -> u64 {
        match settings.mode {
            SettlementMode::Native => {
                settings.execute_gas.cost(self.trace_len, U256::from(self.gas_used))
                    + settings.execute_gas.blobs_cost(self.blobs.len())
            }
            SettlementMode::Optimistic => 0,
        }
    }

    /// The gas limit of its transaction: calldata at its floor price (EIP-7623, so that the
    /// limit holds under either pricing), EXECUTE's charge and the bridge's allowance.
    pub fn gas_limit(&self, settings: &ProposalSettings) -> u64 {
        let input = self.input(settings.mode);
        21_000 + 40 * input.len() as u64 + self.execute_charge(settings) + BRIDGE_GAS_ALLOWANCE
    }

    /// The transaction that hands it to the bridge, for the transaction manager to sign, send
    /// and see confirmed.
    pub fn candidate(&self, settings: &ProposalSettings) -> Result<TxCandidate, ProposalError> {
        let mut candidate =
            TxCandidate::call(settings.bridge, self.input(settings.mode), self.gas_limit(settings));
        if !self.blobs.is_empty() {
            let blobs = self.blobs.iter().map(|blob| Blob::from_slice(blob)).collect();
            candidate.sidecar = Some(build_sidecar(blobs, settings.sidecar_form)?);
        }
        Ok(candidate)
    }

    /// Signs its transaction with `nonce` and `fees` (on the calldata path the blob fee is
    /// unused), outside a transaction manager.
    pub fn sign(
        &self,
        signer: &PrivateKeySigner,
        nonce: u64,
        fees: BlobFees,
        settings: &ProposalSettings,
    ) -> Result<ProposalTx, ProposalError> {
        let candidate = self.candidate(settings)?;
        let blob_hashes = candidate
            .sidecar
            .as_ref()
            .map(|sidecar| sidecar.versioned_hashes().collect())
            .unwrap_or_default();
        let signed = candidate.sign(signer, settings.l1_chain_id, nonce, fees)?;
        Ok(ProposalTx {
            hash: signed.hash,
            raw: signed.raw,
            gas_limit: candidate.gas_limit,
            execute_charge: self.execute_charge(settings),
            blob_hashes,
        })
    }
}
