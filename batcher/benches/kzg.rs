//! KZG per blob: c-kzg called directly (one blob after another, as alloy's sidecar builders do)
//! against the batcher's path (the DA codec packing the trace into blobs, then `build_sidecar`,
//! which spreads the blobs over the cores), for six blobs, in both sidecar forms.
//!
//! `cargo bench -p batcher --bench kzg` prints one Markdown table.
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
}
