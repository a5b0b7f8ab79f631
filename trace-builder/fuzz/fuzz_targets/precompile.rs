//! The EXECUTE precompile on arbitrary input: both forms' call data, and in blob mode arbitrary
//! blob contents. It answers or refuses, never panics.
#![no_main]

use alloy_primitives::{B256, Bytes};
use alloy_sol_types::SolCall;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use trace_builder::{
    Bindings,
    blob::BLOB_SIZE,
    precompile::{BlobSource, ExecutePrecompile, ExecuteSettings, abi, blob_envelope, encode_bound_call},
};

/// Serves the fuzzer's bytes, zero-padded to a blob, for any versioned hash.
#[derive(Debug)]
struct FuzzBlob(Bytes);

impl BlobSource for FuzzBlob {
    fn blob(&self, _versioned_hash: &B256) -> Option<Bytes> {
        Some(self.0.clone())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut blob = data.to_vec();
    blob.resize(BLOB_SIZE, 0);
    let precompile =
        ExecutePrecompile::new(ExecuteSettings::default()).with_blobs(Arc::new(FuzzBlob(blob.into())));
    let _ = precompile.run(data, 30_000_000, &[]);
    let bound = [abi::executeCall::SELECTOR.as_slice(), data].concat();
    let _ = precompile.run(&bound, 30_000_000, &[]);
    let hash = B256::repeat_byte(1);
    let call = encode_bound_call(B256::ZERO, B256::ZERO, 1_000_000, &Bindings::default(), &blob_envelope(&[hash]));
    let _ = precompile.run(&call, 30_000_000, &[hash]);
});
