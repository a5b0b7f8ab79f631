//! The trace decoder on arbitrary bytes: never panics; whatever decodes re-encodes identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_builder::Trace;

fuzz_target!(|data: &[u8]| {
    if let Ok(trace) = Trace::decode(data) {
        assert_eq!(trace.encode(), data);
    }
});
