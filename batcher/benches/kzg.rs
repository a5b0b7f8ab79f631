//! KZG per blob: c-kzg called directly (one blob after another, as alloy's sidecar builders do)
//! against the batcher's path (the DA codec packing the trace into blobs, then `build_sidecar`,
//! which spreads the blobs over the cores), for six blobs, in both sidecar forms.
//!
//! Then admission on the dev L1: a blob transaction's sidecar verified as the node's pool does it
//! (alloy's `validate`: the versioned hashes, then c-kzg's batch verification), beside c-kzg's own
//! verification called directly.
//!
//! `cargo bench -p batcher --bench kzg` prints two Markdown tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_eips::eip4844::{AsCkzg, Blob, env_settings::EnvKzgSettings};
use batcher::{SidecarForm, build_sidecar};
use std::time::Instant;
use trace_builder::blob::{BLOB_PAYLOAD, Codec, trace_to_blobs};

const BLOBS: usize = 6;
const ROUNDS: usize = 3;

fn main() {
    let settings = EnvKzgSettings::Default.get();
    // Incompressible bytes filling six blobs, as a trace's witness nearly is.
    let payload: Vec<u8> = (0..BLOBS * BLOB_PAYLOAD - 10)
        .map(|i| (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) as u8)
        .collect();
    let (raw, _) = trace_to_blobs(&payload, Codec::None).unwrap();
    let blobs: Vec<Blob> = raw.iter().map(|blob| Blob::from_slice(blob)).collect();

    let best = |run: &mut dyn FnMut()| {
        (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                run();
                started.elapsed().as_secs_f64() * 1e3 / BLOBS as f64
            })
            .fold(f64::MAX, f64::min)
    };
    let commitment = best(&mut || {
        for blob in &blobs {
            settings.blob_to_kzg_commitment(blob.as_ckzg()).unwrap();
        }
    });
    let proof = best(&mut || {
        for blob in &blobs {
            let commitment = settings.blob_to_kzg_commitment(blob.as_ckzg()).unwrap();
            settings.compute_blob_kzg_proof(blob.as_ckzg(), &commitment.to_bytes()).unwrap();
        }
    }) - commitment;
    let cells = best(&mut || {
        for blob in &blobs {
            settings.compute_cells_and_kzg_proofs(blob.as_ckzg()).unwrap();
        }
    });
    let codec = best(&mut || {
        trace_to_blobs(&payload, Codec::DEFAULT).unwrap();
    });
    let ours_4844 = best(&mut || {
        build_sidecar(blobs.clone(), SidecarForm::Eip4844).unwrap();
    });
    let ours_7594 = best(&mut || {
        build_sidecar(blobs.clone(), SidecarForm::Eip7594).unwrap();
    });
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("{BLOBS} blobs, best of {ROUNDS}; ms per blob; {cores} cores");
    println!();
    println!(
        "| | c-kzg directly, one blob after another | batcher (codec + build_sidecar over {cores} cores) | ratio |"
    );
    println!("|---|---|---|---|");
    println!("| commitment | {commitment:.1} | | |");
    println!("| blob proof | {proof:.1} | | |");
    println!("| cells + 128 cell proofs | {cells:.1} | | |");
    println!("| codec (zstd-19 + packing) | | {codec:.1} | |");
    println!(
        "| EIP-4844 sidecar (commitment + proof) | {:.1} | {:.1} | {:.2} |",
        commitment + proof,
        codec + ours_4844,
        (codec + ours_4844) / (commitment + proof)
    );
    println!(
        "| EIP-7594 sidecar (commitment + cell proofs) | {:.1} | {:.1} | {:.2} |",
        commitment + cells,
        codec + ours_7594,
        (codec + ours_7594) / (commitment + cells)
    );

    // Admission: the pool's verification of a sidecar, beside c-kzg's own.
    let blob_sidecar = build_sidecar(blobs.clone(), SidecarForm::Eip4844).unwrap();
    let cell_sidecar = build_sidecar(blobs.clone(), SidecarForm::Eip7594).unwrap();
    let hashes: Vec<_> = blob_sidecar.versioned_hashes().collect();
    let pool_4844 = best(&mut || blob_sidecar.validate(&hashes, settings).unwrap());
    let pool_7594 = best(&mut || cell_sidecar.validate(&hashes, settings).unwrap());
    let (Some(blob_form), Some(cell_form)) = (blob_sidecar.as_eip4844(), cell_sidecar.as_eip7594()) else {
        panic!("the sidecars are not in the forms asked for")
    };
    let commitments: Vec<c_kzg::Bytes48> =
        blob_form.commitments.iter().map(|commitment| c_kzg::Bytes48::from(commitment.0)).collect();
    let proofs: Vec<c_kzg::Bytes48> =
        blob_form.proofs.iter().map(|proof| c_kzg::Bytes48::from(proof.0)).collect();
    let ckzg_blobs: Vec<c_kzg::Blob> = blobs.iter().map(|blob| blob.as_ckzg().clone()).collect();
    let ckzg_each = best(&mut || {
        for ((blob, commitment), proof) in ckzg_blobs.iter().zip(&commitments).zip(&proofs) {
            assert!(settings.verify_blob_kzg_proof(blob, commitment, proof).unwrap());
        }
    });
    let ckzg_batch = best(&mut || {
        assert!(settings.verify_blob_kzg_proof_batch(&ckzg_blobs, &commitments, &proofs).unwrap())
    });
    let cells_per_blob = c_kzg::CELLS_PER_EXT_BLOB;
    let cell_indices: Vec<u64> = (0..BLOBS).flat_map(|_| 0..cells_per_blob as u64).collect();
    let cell_commitments: Vec<c_kzg::Bytes48> =
        commitments.iter().flat_map(|commitment| std::iter::repeat_n(*commitment, cells_per_blob)).collect();
    let cell_proofs: Vec<c_kzg::Bytes48> =
        cell_form.cell_proofs.iter().map(|proof| c_kzg::Bytes48::from(proof.0)).collect();
    let ckzg_cells = best(&mut || {
        let mut cells = Vec::with_capacity(BLOBS * cells_per_blob);
        for blob in &ckzg_blobs {
            cells.extend_from_slice(settings.compute_cells(blob).unwrap().as_ref());
        }
        assert!(
            settings
                .verify_cell_kzg_proof_batch(&cell_commitments, &cell_indices, &cells, &cell_proofs)
                .unwrap()
        );
    });
    println!();
    println!("| admission, ms per blob | c-kzg directly | the pool (alloy's validate) | ratio |");
    println!("|---|---|---|---|");
    println!("| EIP-4844 blob proofs, one blob after another | {ckzg_each:.2} | | |");
    println!(
        "| EIP-4844 blob proofs, batch | {ckzg_batch:.2} | {pool_4844:.2} | {:.2} |",
        pool_4844 / ckzg_batch
    );
    println!(
        "| EIP-7594 cell proofs (cells computed, then batch) | {ckzg_cells:.2} | {pool_7594:.2} | {:.2} |",
        pool_7594 / ckzg_cells
    );
}
