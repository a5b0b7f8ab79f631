//! Blob (EIP-4844) transactions, as the node takes them in its L1 role (the L2 refuses them):
//! the sidecar checks geth's blob pool runs at admission, the split between the transaction a
//! block carries and the sidecar the node keeps beside it, and the pool's index of pooled blobs
//! by versioned hash that EXECUTE's blob mode reads.
//!
//! Sidecar forms: before Osaka a transaction carries EIP-4844 blob proofs; from Osaka on,
//! EIP-7594 cell proofs. An Osaka node still takes the EIP-4844 form, as geth does through the
//! transition (its proofs are checked as blob proofs), so wallets that have not moved on keep
//! working; a Prague node refuses cell proofs, which it cannot check against its fork.

use super::PoolError;
use alloy_consensus::{Signed, Transaction, TxEip4844Variant, TxEnvelope};
use alloy_eips::{
    eip4844::{Blob, Bytes48, env_settings::EnvKzgSettings},
    eip7594::BlobTransactionSidecarVariant,
};
use alloy_primitives::{B256, Bytes};
use revm::primitives::hardfork::SpecId;
use trace_builder::chain::ChainConfig;

/// One blob of a transaction with what a consensus client serves beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRecord {
    /// Its versioned hash (EIP-4844: 0x01 ‖ sha256(commitment)[1..]).
    pub versioned_hash: B256,
    /// The blob, 131,072 bytes.
    pub blob: Bytes,
    /// Its KZG commitment.
    pub commitment: Bytes48,
    /// Its blob KZG proof (EIP-4844); for a transaction that came with cell proofs (EIP-7594),
    /// computed by the node, so that the Beacon API's `blob_sidecars` can serve one.
    pub proof: Bytes48,
}

/// The sidecar of a network-form blob transaction, if it has one.
pub fn sidecar(tx: &TxEnvelope) -> Option<&BlobTransactionSidecarVariant> {
    match tx {
        TxEnvelope::Eip4844(signed) => match signed.tx() {
            TxEip4844Variant::TxEip4844WithSidecar(with) => Some(&with.sidecar),
            TxEip4844Variant::TxEip4844(_) => None,
        },
        _ => None,
    }
}

/// The transaction as a block carries it: a blob transaction without its sidecar (its hash is
/// the same), any other as it is.
pub fn without_sidecar(tx: &TxEnvelope) -> TxEnvelope {
    match tx {
        TxEnvelope::Eip4844(signed) => match signed.tx() {
            TxEip4844Variant::TxEip4844WithSidecar(with) => TxEnvelope::Eip4844(Signed::new_unchecked(
                TxEip4844Variant::TxEip4844(with.tx.clone()),
                *signed.signature(),
                *signed.hash(),
            )),
            TxEip4844Variant::TxEip4844(_) => tx.clone(),
        },
        other => other.clone(),
    }
}

/// The checks of a blob transaction that need neither the sender nor the state: the chain
/// takes blob transactions, the transaction comes in network form with its sidecar, in the form
/// the fork checks, with 1 to the fork's maximum blobs, whose commitments hash to its versioned
/// hashes and whose KZG proofs verify.
pub(super) fn validate(chain: &ChainConfig, tx: &TxEnvelope) -> Result<(), PoolError> {
    if !chain.blob_transactions {
        return Err(PoolError::TxTypeNotSupported);
    }
    let hashes = tx.blob_versioned_hashes().unwrap_or_default();
    if hashes.is_empty() {
        return Err(PoolError::BlobTxWithoutBlobs);
    }
    let max = chain.blob_params.max_blobs_per_tx;
    if hashes.len() as u64 > max {
        return Err(PoolError::TooManyBlobs { have: hashes.len(), max });
    }
    let sidecar = sidecar(tx).ok_or(PoolError::MissingSidecar)?;
    if matches!(sidecar, BlobTransactionSidecarVariant::Eip7594(_))
        && !chain.spec.is_enabled_in(SpecId::OSAKA)
    {
        return Err(PoolError::InvalidSidecar("cell proofs (EIP-7594) are not accepted before Osaka".into()));
    }
    sidecar
        .validate(hashes, EnvKzgSettings::Default.get())
        .map_err(|error| PoolError::InvalidSidecar(error.to_string()))
}

/// The blobs of a validated network-form transaction, each with its commitment and a blob
/// proof; empty for any other transaction. Computing the blob proofs of a cell-proof sidecar
/// is the one expensive step, done once when the transaction is included.
pub fn records(tx: &TxEnvelope) -> Result<Vec<BlobRecord>, c_kzg::Error> {
    let Some(sidecar) = sidecar(tx) else { return Ok(Vec::new()) };
    let hashes = tx.blob_versioned_hashes().unwrap_or_default();
    match sidecar {
        BlobTransactionSidecarVariant::Eip4844(sidecar) => Ok(hashes
            .iter()
            .zip(&sidecar.blobs)
            .zip(sidecar.commitments.iter().zip(&sidecar.proofs))
            .map(|((hash, blob), (commitment, proof))| record(*hash, blob, *commitment, *proof))
            .collect()),
        BlobTransactionSidecarVariant::Eip7594(sidecar) => {
            let settings = EnvKzgSettings::Default.get();
            hashes
                .iter()
                .zip(&sidecar.blobs)
                .zip(&sidecar.commitments)
                .map(|((hash, blob), commitment)| {
                    let kzg_blob = c_kzg::Blob::new(blob.0);
                    let proof =
                        settings.compute_blob_kzg_proof(&kzg_blob, &c_kzg::Bytes48::new(commitment.0))?;
                    Ok(record(*hash, blob, *commitment, Bytes48::from(proof.to_bytes().into_inner())))
                })
                .collect()
        }
    }
}

fn record(versioned_hash: B256, blob: &Blob, commitment: Bytes48, proof: Bytes48) -> BlobRecord {
    BlobRecord { versioned_hash, blob: Bytes::copy_from_slice(blob.as_slice()), commitment, proof }
}
