//! KZG for blobs (c-kzg, the Ethereum trusted setup compiled in and loaded once): commitments,
//! versioned hashes, EIP-4844 blob proofs and EIP-7594 cell proofs, spread over the machine's
//! cores, assembled into the sidecar form of the L1's fork.

use alloy_eips::eip4844::BlobTransactionSidecar;
use alloy_eips::eip4844::{Blob, Bytes48, env_settings::EnvKzgSettings};
use alloy_eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant, CELLS_PER_EXT_BLOB};
use c_kzg::KzgSettings;

/// Most blobs one transaction may carry (EIP-7594's per-transaction limit from Osaka).
pub const MAX_BLOBS_PER_TX: usize = 6;

/// Which proofs a sidecar carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidecarForm {
    /// One KZG proof per blob (Cancun, Prague).
    Eip4844,
    /// 128 cell proofs per blob (Osaka on: L1 nodes refuse the 4844 form).
    Eip7594,
}

impl SidecarForm {
    /// The form an L1 wants: cell proofs once Osaka is active there.
    pub fn for_l1(osaka_active: bool) -> Self {
        if osaka_active { Self::Eip7594 } else { Self::Eip4844 }
    }
}

/// A KZG computation failed, or the blobs do not fit a transaction.
#[derive(Debug, thiserror::Error)]
pub enum KzgError {
    /// No blobs, or more than a transaction carries.
    #[error("{0} blobs: a transaction carries 1 to {MAX_BLOBS_PER_TX}")]
    Count(usize),
    /// c-kzg refused a blob (a non-canonical field element) or failed.
    #[error("kzg: {0}")]
    Kzg(#[from] c_kzg::Error),
}

/// The trusted setup, loaded once per process.
fn settings() -> &'static KzgSettings {
    EnvKzgSettings::Default.get()
}

/// What one blob needs: its commitment and its proofs (one, or 128 cell proofs).
struct BlobProofs {
    commitment: Bytes48,
    proofs: Vec<Bytes48>,
}

fn prove(blob: &Blob, form: SidecarForm) -> Result<BlobProofs, c_kzg::Error> {
    use alloy_eips::eip4844::{AsAlloy, AsCkzg};
    let settings = settings();
    let ckzg = blob.as_ckzg();
    let commitment = settings.blob_to_kzg_commitment(ckzg)?;
    let proofs = match form {
        SidecarForm::Eip4844 => {
            let proof = settings.compute_blob_kzg_proof(ckzg, &commitment.to_bytes())?;
            vec![Bytes48::from_ckzg(proof.to_bytes())]
        }
        SidecarForm::Eip7594 => {
            let (_cells, proofs) = settings.compute_cells_and_kzg_proofs(ckzg)?;
            c_kzg::KzgProof::slice_as_alloy(proofs.as_ref()).to_vec()
        }
    };
    Ok(BlobProofs { commitment: Bytes48::from_ckzg(commitment.to_bytes()), proofs })
}

/// The sidecar of `blobs` in `form`, the blobs' KZG work spread over the available cores.
pub fn build_sidecar(blobs: Vec<Blob>, form: SidecarForm) -> Result<BlobTransactionSidecarVariant, KzgError> {
    if blobs.is_empty() || blobs.len() > MAX_BLOBS_PER_TX {
        return Err(KzgError::Count(blobs.len()));
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(blobs.len());
    let per_thread = blobs.len().div_ceil(threads);
    let results: Vec<Result<BlobProofs, c_kzg::Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = blobs
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().map(|blob| prove(blob, form)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    vec![Err(c_kzg::Error::MismatchLength("a KZG thread panicked".into()))]
                })
            })
            .collect()
    });
    let mut commitments = Vec::with_capacity(blobs.len());
    let mut proofs = Vec::with_capacity(blobs.len() * CELLS_PER_EXT_BLOB);
    for result in results {
        let blob = result?;
        commitments.push(blob.commitment);
        proofs.extend(blob.proofs);
    }
    Ok(match form {
        SidecarForm::Eip4844 => {
            BlobTransactionSidecarVariant::Eip4844(BlobTransactionSidecar::new(blobs, commitments, proofs))
        }
        SidecarForm::Eip7594 => BlobTransactionSidecarVariant::Eip7594(BlobTransactionSidecarEip7594::new(
            blobs,
            commitments,
            proofs,
        )),
    })
}

/// The versioned hash (EIP-4844) of `blob`'s KZG commitment, computed from the blob: what a
/// blob read back from an L1 must hash to. `blob` may come from anywhere: a blob of the wrong
/// size or with a non-canonical field element is an error, never a panic.
pub fn versioned_hash(blob: &[u8]) -> Result<alloy_primitives::B256, KzgError> {
    let blob = c_kzg::Blob::from_bytes(blob)?;
    let commitment = settings().blob_to_kzg_commitment(&blob)?;
    Ok(alloy_eips::eip4844::kzg_to_versioned_hash(commitment.to_bytes().as_slice()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn blobs(count: usize) -> Vec<Blob> {
        let payload: Vec<u8> = (0..count * 120_000).map(|i| (i % 251) as u8).collect();
        let (blobs, _) =
            trace_builder::blob::trace_to_blobs(&payload, trace_builder::blob::Codec::None).unwrap();
        blobs.into_iter().map(|blob| Blob::from_slice(&blob)).collect()
    }

    #[test]
    fn sidecars_verify_in_both_forms() {
        for form in [SidecarForm::Eip4844, SidecarForm::Eip7594] {
            let sidecar = build_sidecar(blobs(2), form).unwrap();
            let hashes: Vec<_> = sidecar.versioned_hashes().collect();
            assert_eq!(hashes.len(), 2);
            assert!(hashes.iter().all(|hash| hash[0] == 0x01));
            sidecar.validate(&hashes, settings()).unwrap();
            match (&sidecar, form) {
                (BlobTransactionSidecarVariant::Eip7594(s), SidecarForm::Eip7594) => {
                    assert_eq!(s.cell_proofs.len(), 2 * CELLS_PER_EXT_BLOB)
                }
                (BlobTransactionSidecarVariant::Eip4844(s), SidecarForm::Eip4844) => {
                    assert_eq!(s.proofs.len(), 2)
                }
                _ => panic!("wrong form"),
            }
        }
        let sidecar = build_sidecar(blobs(2), SidecarForm::Eip7594).unwrap();
        let computed: Vec<_> =
            sidecar.blobs().iter().map(|blob| versioned_hash(blob.as_slice()).unwrap()).collect();
        assert_eq!(computed, sidecar.versioned_hashes().collect::<Vec<_>>());
        assert!(versioned_hash(&[0; 100]).is_err());
        assert!(versioned_hash(&[0xff; 131_072]).is_err());
        assert!(matches!(build_sidecar(Vec::new(), SidecarForm::Eip4844), Err(KzgError::Count(0))));
        assert!(matches!(build_sidecar(blobs(7), SidecarForm::Eip4844), Err(KzgError::Count(7))));
    }
}
