//! Fuzzing with proptest (run by `cargo test`; the libFuzzer targets in `trace-builder/fuzz/`
//! drive the same entry points for longer runs on a nightly toolchain): the trace decoder, the
//! verifier and the precompile's ABI decoder never panic, allocate only in proportion to their
//! input, and accept no mutation of an honest trace.

use crate::support::{Batch, CHAIN_ID, honest_batch};
use proptest::prelude::*;
use std::sync::OnceLock;
use trace_builder::{
    ChainConfig, Trace, TraceRules, Verifier, blob,
    precompile::{ExecuteOutcome, ExecutePrecompile, ExecuteSettings, decode_call},
};

fn batch() -> &'static Batch {
    static BATCH: OnceLock<Batch> = OnceLock::new();
    BATCH.get_or_init(honest_batch)
}

fn verifier() -> Verifier {
    Verifier::new(ChainConfig::l2(CHAIN_ID), TraceRules::L2)
}

/// A change to a byte string: flip bits, truncate, insert or delete.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { to: usize },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|to| Mutation::Truncate { to }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
    ]
}

fn mutate(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        match *mutation {
            Mutation::Flip { at, mask } => {
                let at = at % bytes.len();
                bytes[at] ^= mask;
            }
            Mutation::Truncate { to } => bytes.truncate(to % bytes.len()),
            Mutation::Insert { at, byte } => {
                let at = at % (bytes.len() + 1);
                bytes.insert(at, byte);
            }
            Mutation::Delete { at } => {
                let at = at % bytes.len();
                bytes.remove(at);
            }
        }
    }
    bytes
}

/// `mutated` with what the claims cannot bind (docs/trace-format.md, "What the claims bind":
/// the last block's inputs that do not reach the state) taken from the trace `honest`, so that
/// any other difference from it shows as a hole.
fn unbound_as_in(mut mutated: Trace, honest: &[u8]) -> Trace {
    let honest = Trace::decode(honest).unwrap();
    if let (Some(block), Some(honest)) = (mutated.blocks.last_mut(), honest.blocks.last()) {
        block.gas_limit = honest.gas_limit;
        block.prev_randao = honest.prev_randao;
        block.extra_data = honest.extra_data.clone();
    }
    mutated
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = Trace::decode(&bytes);
        let _ = decode_call(&bytes);
    }

    #[test]
    fn a_decoded_trace_re_encodes_to_the_same_bytes(mutations in proptest::collection::vec(mutation(), 1..4)) {
        // Strict decoding: whatever decodes has exactly one encoding.
        let bytes = mutate(&batch().bytes(), &mutations);
        if let Ok(trace) = Trace::decode(&bytes) {
            prop_assert_eq!(trace.encode(), bytes);
        }
    }
}

proptest! {
    // Each case re-executes a batch: fewer cases.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_mutation_of_an_honest_trace_verifies(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let batch = batch();
        let honest = batch.bytes();
        let bytes = mutate(&honest, &mutations);
        prop_assume!(bytes != honest);
        let verdict = verifier().verify(batch.pre_state_root, batch.post_state_root, &bytes, batch.gas_used);
        if verdict.is_ok() {
            let mutated = Trace::decode(&bytes).unwrap();
            prop_assert_eq!(unbound_as_in(mutated, &honest), Trace::decode(&honest).unwrap(), "a mutated trace verified");
        }
    }

    #[test]
    fn the_precompile_answers_or_refuses_any_input(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let batch = batch();
        let honest = trace_builder::precompile::encode_call(
            batch.pre_state_root,
            batch.post_state_root,
            &batch.bytes(),
            alloy_primitives::U256::from(batch.gas_used),
        );
        let input = mutate(&honest, &mutations);
        let outcome = ExecutePrecompile::new(ExecuteSettings::default()).run(&input, 30_000_000, &[]);
        if let ExecuteOutcome::Answered { invalid, .. } = outcome {
            // Only the honest input answers true, up to what the claims cannot bind.
            if invalid.is_none() && input != honest.to_vec() {
                let call = decode_call(&input).unwrap();
                prop_assert_eq!(
                    (call.pre_state_root, call.post_state_root, call.gas_used),
                    (batch.pre_state_root, batch.post_state_root, alloy_primitives::U256::from(batch.gas_used))
                );
                let mutated = Trace::decode(call.trace).unwrap();
                let trace = batch.bytes();
                prop_assert_eq!(unbound_as_in(mutated, &trace), Trace::decode(&trace).unwrap(), "a mutated call verified");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn damaged_blobs_fail_or_restore_the_trace(flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4)) {
        let trace = batch().bytes();
        let (mut blobs, _) = blob::trace_to_blobs(&trace, blob::Codec::DEFAULT).unwrap();
        for (at, mask) in flips {
            let at = at % blob::BLOB_SIZE;
            blobs[0][at] ^= mask;
        }
        if let Ok(restored) = blob::blobs_to_trace(&blobs) {
            prop_assert_eq!(restored, trace);
        }
    }

    #[test]
    fn frame_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = blob::decode_frames(&bytes);
    }
}

#[test]
fn a_huge_declared_length_allocates_nothing() {
    // A list header declaring 2^56 bytes of payload, followed by almost nothing.
    let bytes = [0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01];
    assert!(Trace::decode(&bytes).is_err());
    // A trace whose witness claims a huge node: rejected before any allocation of that size.
    let mut huge = vec![0xf9, 0xff, 0xff, 0x01];
    huge.extend_from_slice(&[0xbb, 0xff, 0xff, 0xff, 0xff]);
    assert!(Trace::decode(&huge).is_err());
    // Over the size limit: refused before decoding.
    let limited = verifier().with_max_trace_size(1_000);
    let batch = batch();
    let error = limited.verify(batch.pre_state_root, batch.post_state_root, &batch.bytes(), batch.gas_used);
    assert!(error.unwrap_err().to_string().contains("exceeds the limit"));
}
