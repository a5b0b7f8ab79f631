//! The frame decoder against docs/blob-encoding.md §1, differentially: a zstd frame body (from the
//! fuzzer's bytes, or compressed from them with or without a checksum and a content size, then
//! bent: bytes before or after, a flipped header bit, a wrong declared length) decodes if and only
//! if the document's rules, checked here independently of `trace_builder::blob`, allow it, and
//! then to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;
use trace_builder::blob;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Some((&[a, b], rest)) = rest.split_first_chunk::<2>() else { return };
    let number = usize::from(u16::from_be_bytes([a, b]));
    let (body, trace_len) = if mode & 1 == 0 {
        // Raw bytes as the body, declaring a small trace length.
        (rest.to_vec(), number)
    } else {
        let (content, extra) = rest.split_at(number % (rest.len() + 1));
        let Ok(mut compressor) = zstd::bulk::Compressor::new(1 + i32::from(mode >> 6)) else { return };
        let flags = [
            zstd::zstd_safe::CParameter::ChecksumFlag(mode & 2 == 0),
            zstd::zstd_safe::CParameter::ContentSizeFlag(mode & 4 == 0),
        ];
        if flags.into_iter().any(|flag| compressor.set_parameter(flag).is_err()) {
            return;
        }
        let Ok(mut body) = compressor.compress(content) else { return };
        if mode & 8 != 0 {
            body.extend_from_slice(extra);
        }
        if mode & 16 != 0 {
            body.splice(0..0, extra.iter().copied());
        }
        if mode & 32 != 0 {
            if let (Some(descriptor), Some(bits)) = (body.get_mut(4), extra.first()) {
                *descriptor ^= bits;
            }
        }
        let declared = if mode & 8 != 0 && mode & 16 != 0 { content.len() ^ 1 } else { content.len() };
        (body, declared)
    };
    let Ok(body_len) = u32::try_from(body.len()) else { return };
    let mut frame = vec![blob::FRAME_VERSION, 1];
    frame.extend_from_slice(&body_len.to_be_bytes());
    frame.extend_from_slice(&(trace_len as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    match (blob::decode_frames(&frame), document(&body, trace_len)) {
        (Ok(traces), Some(trace)) => assert_eq!(traces, vec![trace]),
        (Err(_), None) => {}
        (decoded, expected) => panic!("decoder: {decoded:?}, document: {expected:?}"),
    }
});

/// What docs/blob-encoding.md §1 makes of a codec-1 body declaring a `trace_len`-byte trace:
/// the trace, or `None` when it must be refused.
fn document(body: &[u8], trace_len: usize) -> Option<Vec<u8>> {
    // The frame header (RFC 8878 §3.1.1.1).
    if body.get(..4)? != [0x28, 0xb5, 0x2f, 0xfd] {
        return None;
    }
    let descriptor = *body.get(4)?;
    let (size_flag, single_segment) = (descriptor >> 6, descriptor & 0x20 != 0);
    let (reserved, checksum, dictionary) =
        (descriptor & 0x08 != 0, descriptor & 0x04 != 0, descriptor & 0x03);
    if reserved || !checksum || dictionary != 0 || (size_flag == 0 && !single_segment) {
        return None;
    }
    let size_bytes = [1, 2, 4, 8][usize::from(size_flag)];
    let start = if single_segment { 5 } else { 6 };
    let mut size = 0u64;
    for byte in body.get(start..start + size_bytes)?.iter().rev() {
        size = size << 8 | u64::from(*byte);
    }
    if size_bytes == 2 {
        size += 256;
    }
    if size != trace_len as u64 || trace_len > blob::MAX_TRACE_BYTES {
        return None;
    }
    // Exactly one frame that expands to exactly the declared bytes, its checksum verified by
    // zstd's streaming decoder, and nothing after it.
    let decoder = zstd::stream::read::Decoder::with_buffer(body).ok()?.single_frame();
    let mut limited = decoder.take(trace_len as u64 + 1);
    let mut trace = Vec::new();
    limited.read_to_end(&mut trace).ok()?;
    let rest = limited.into_inner().finish();
    (trace.len() == trace_len && rest.is_empty()).then_some(trace)
}
