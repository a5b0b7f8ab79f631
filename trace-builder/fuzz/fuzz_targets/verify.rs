//! The verifier on arbitrary traces and claims: never panics, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_builder::{ChainConfig, execute};

fuzz_target!(|data: &[u8]| {
    if data.len() < 72 {
        return;
    }
    let (claims, trace) = data.split_at(72);
    let pre = alloy_primitives::B256::from_slice(&claims[..32]);
    let post = alloy_primitives::B256::from_slice(&claims[32..64]);
    let gas_used = u64::from_be_bytes(claims[64..72].try_into().unwrap_or_default());
    let _ = execute(&ChainConfig::l2(1337), pre, post, trace, gas_used);
});
