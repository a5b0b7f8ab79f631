//! The L1 transaction that hands a batch to the bridge: `submitBatch` (native mode) or
//! `propose` (optimistic mode), with the trace in calldata or in the transaction's blobs.

use crate::{
    SidecarForm,
    bridge::{NativeRollupBridge, SettlementMode, batch_of},
    build_sidecar,
    kzg::KzgError,
    rollup_api::TraceResponse,
    txmgr::TxCandidate,
};
use alloy_eips::eip4844::Blob;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use trace_builder::{
    blob::{BlobError, Codec, trace_to_blobs},
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

/// How a proposal transaction is built beside the batch.
#[derive(Clone, Copy, Debug)]
pub struct ProposalSettings {
    /// The bridge's address.
    pub bridge: Address,
    /// The bridge's settlement mode.
    pub mode: SettlementMode,
    /// How the trace travels.
    pub path: DataPath,
    /// The sidecar form the L1's fork wants (blob path).
    pub sidecar_form: SidecarForm,
    /// EXECUTE's gas schedule on the L1, to size the gas limit (native mode).
    pub execute_gas: ExecuteGas,
}

/// A proposal transaction, before the transaction manager picks its nonce and fees.
#[derive(Clone, Debug)]
pub struct Proposal {
    /// The transaction to send.
    pub candidate: TxCandidate,
    /// What EXECUTE will charge of it (native mode; zero in optimistic mode).
    pub execute_charge: u64,
    /// The versioned hashes of its blobs (empty on the calldata path).
    pub blob_hashes: Vec<B256>,
    /// The trace's encoded length.
    pub trace_len: usize,
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
}

/// The transaction that hands `trace` to the bridge, for the transaction manager to send.
pub fn proposal(settings: &ProposalSettings, trace: &TraceResponse) -> Result<Proposal, ProposalError> {
    let batch = batch_of(trace);
    let inline = match settings.path {
        DataPath::Calldata => trace.trace.clone(),
        DataPath::Blobs => Bytes::new(),
    };
    let input: Bytes = match settings.mode {
        SettlementMode::Native => NativeRollupBridge::submitBatchCall { batch, trace: inline }.abi_encode(),
        SettlementMode::Optimistic => NativeRollupBridge::proposeCall { batch, trace: inline }.abi_encode(),
    }
    .into();
    let blobs = match settings.path {
        DataPath::Calldata => Vec::new(),
        DataPath::Blobs => {
            let (blobs, _) = trace_to_blobs(&trace.trace, Codec::DEFAULT)?;
            if blobs.len() > MAX_BLOBS_PER_TX {
                return Err(ProposalError::TooManyBlobs(blobs.len()));
            }
            blobs
        }
    };
    let execute_charge = match settings.mode {
        SettlementMode::Native => {
            settings.execute_gas.cost(trace.trace.len(), U256::from(trace.gas_used.to::<u64>()))
                + settings.execute_gas.blobs_cost(blobs.len())
        }
        SettlementMode::Optimistic => 0,
    };
    // Calldata at its floor price (EIP-7623), so that the limit holds under either pricing.
    let gas_limit = 21_000 + 40 * input.len() as u64 + execute_charge + BRIDGE_GAS_ALLOWANCE;
    let mut candidate = TxCandidate::call(settings.bridge, input, gas_limit);
    let mut blob_hashes = Vec::new();
    if !blobs.is_empty() {
        let sidecar =
            build_sidecar(blobs.iter().map(|blob| Blob::from_slice(blob)).collect(), settings.sidecar_form)?;
        blob_hashes = sidecar.versioned_hashes().collect();
        candidate.sidecar = Some(sidecar);
    }
    Ok(Proposal { candidate, execute_charge, blob_hashes, trace_len: trace.trace.len() })
}
