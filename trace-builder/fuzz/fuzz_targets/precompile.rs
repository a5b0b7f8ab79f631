//! The EXECUTE precompile on arbitrary call data: it answers or refuses, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_builder::{ChainConfig, precompile::ExecutePrecompile};

fuzz_target!(|data: &[u8]| {
    let _ = ExecutePrecompile::new(ChainConfig::l2(1337)).call(data, 30_000_000, 0);
});
