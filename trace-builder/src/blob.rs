//! The DA codec: traces → compressed, versioned, length-prefixed frames → EIP-4844 blobs, and
//! back. `docs/blob-encoding.md` is its specification.
//!
//! ```text
//! frame   = version (1) | codec (1) | body length (u32 BE) | trace length (u32 BE) | body
//! payload = frame | frame | ...                              (one or more frames)
//! blob i  = 4096 field elements carrying 130,048 bytes: blob version (1) | length (u24 BE) |
//!           130,044 bytes of payload slice i, zero-padded
//! ```
//!
//! Every field element is canonical by construction: its top byte carries 6 bits, so its value
//! is below 2^254, under the BLS12-381 scalar modulus. Decoding is strict and bounded: a wrong
//! version, a set bit where the layout has none, a truncated or oversized frame, trailing bytes,
//! a zstd body that is not exactly one checksummed zstd frame declaring the trace's length, or a
//! body that decompresses to anything but that length is an error, and nothing is allocated
//! beyond [`MAX_TRACE_BYTES`] per frame.

/// Bytes in a blob.
pub const BLOB_SIZE: usize = 131_072;
/// Field elements in a blob.
const FIELD_ELEMENTS: usize = 4096;
/// Bytes carried by a round of four field elements: 4 × 31 low bytes + 4 × 6 high bits.
const ROUND_BYTES: usize = 127;
/// Bytes a blob carries: 1,024 rounds.
pub const BLOB_CAPACITY: usize = ROUND_BYTES * FIELD_ELEMENTS / 4;
/// The blob header: version and payload length.
const BLOB_HEADER: usize = 4;
/// Payload bytes per blob.
pub const BLOB_PAYLOAD: usize = BLOB_CAPACITY - BLOB_HEADER;
/// The blob layout version this codec writes and reads.
pub const BLOB_VERSION: u8 = 0;
/// The frame format version this codec writes and reads.
pub const FRAME_VERSION: u8 = 1;
/// Frame header bytes.
const FRAME_HEADER: usize = 10;
/// The largest trace a frame may declare (the verifier's default limit).
pub const MAX_TRACE_BYTES: usize = crate::verifier::DEFAULT_MAX_TRACE_SIZE;
/// Most blobs one payload may span (a batch of L1 transactions of 6 blobs each).
pub const MAX_BLOBS: usize = 256;

/// How a frame's body is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Stored as is.
    None,
    /// zstd at the given level (the level only matters when encoding).
    Zstd(i32),
}

impl Codec {
    /// The default: zstd level 19, chosen by measurement (docs/benchmarks.md).
    pub const DEFAULT: Self = Self::Zstd(19);

    fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Zstd(_) => 1,
        }
    }
}

/// Why blobs do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// A blob is not 131,072 bytes.
    #[error("blob {index} has {len} bytes, not {BLOB_SIZE}")]
    Size {
        /// Which blob.
        index: usize,
        /// Its size.
        len: usize,
    },
    /// Too many or no blobs.
    #[error("{0} blobs: a payload spans 1 to {MAX_BLOBS}")]
    Count(usize),
    /// A field element has bits set that the layout leaves zero (it may not even be canonical).
    #[error("blob {index}, field element {element}: bits set outside the layout")]
    FieldElement {
        /// Which blob.
        index: usize,
        /// Which element.
        element: usize,
    },
    /// A blob header is wrong.
    #[error("blob {index}: {reason}")]
    Header {
        /// Which blob.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A frame is malformed.
    #[error("frame at byte {offset}: {reason}")]
    Frame {
        /// Where it starts in the payload.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The trace is larger than a frame may carry.
    #[error("trace of {0} bytes exceeds the frame limit of {MAX_TRACE_BYTES}")]
    TooLarge(usize),
    /// Compression failed.
    #[error("compression: {0}")]
    Compress(String),
}

/// The frame of `trace`, its body compressed with `codec`.
pub fn encode_frame(trace: &[u8], codec: Codec) -> Result<Vec<u8>, BlobError> {
    if trace.len() > MAX_TRACE_BYTES {
        return Err(BlobError::TooLarge(trace.len()));
    }
    let body = match codec {
        Codec::None => trace.to_vec(),
        Codec::Zstd(level) => {
            // With zstd's content checksum: a damaged body fails to decode instead of decoding
            // to another trace.
            let mut compressor =
                zstd::bulk::Compressor::new(level).map_err(|e| BlobError::Compress(e.to_string()))?;
            compressor.include_checksum(true).map_err(|e| BlobError::Compress(e.to_string()))?;
            compressor.compress(trace).map_err(|e| BlobError::Compress(e.to_string()))?
        }
    };
    let mut frame = Vec::with_capacity(FRAME_HEADER + body.len());
    frame.push(FRAME_VERSION);
    frame.push(codec.id());
    frame.extend_from_slice(
        &u32::try_from(body.len()).map_err(|_| BlobError::TooLarge(body.len()))?.to_be_bytes(),
    );
    frame.extend_from_slice(
        &u32::try_from(trace.len()).map_err(|_| BlobError::TooLarge(trace.len()))?.to_be_bytes(),
    );
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// The traces of the frames in `payload`, in order.
pub fn decode_frames(payload: &[u8]) -> Result<Vec<Vec<u8>>, BlobError> {
    let mut traces = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let frame = |reason: &str| BlobError::Frame { offset, reason: reason.into() };
        let header = payload.get(offset..offset + FRAME_HEADER).ok_or_else(|| frame("truncated header"))?;
        if header[0] != FRAME_VERSION {
            return Err(frame(&format!("unknown frame version {}", header[0])));
        }
        let body_len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
        let trace_len = u32::from_be_bytes([header[6], header[7], header[8], header[9]]) as usize;
        if trace_len > MAX_TRACE_BYTES {
            return Err(frame(&format!("declares a {trace_len}-byte trace, over the limit")));
        }
        let start = offset + FRAME_HEADER;
        let body =
            payload.get(start..start.saturating_add(body_len)).ok_or_else(|| frame("truncated body"))?;
        let trace = match header[1] {
            0 if body_len == trace_len => body.to_vec(),
            0 => return Err(frame("stored body length differs from the trace length")),
            1 => decompress_exact(body, trace_len).map_err(|reason| frame(&reason))?,
            other => return Err(frame(&format!("unknown codec {other}"))),
        };
        traces.push(trace);
        offset = start + body_len;
    }
    Ok(traces)
}

/// A zstd frame's magic number as it appears on the wire (0xFD2FB528, little-endian; RFC 8878
/// §3.1.1). Skippable frames (0x184D2A5?) and legacy formats have other magics.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Decompresses a zstd body: exactly one zstd frame, with a content checksum, no dictionary, and
/// a declared content size of exactly `len` bytes (docs/blob-encoding.md §1). Nothing is
/// allocated beyond `len` bytes: the header is checked first, and the frame is decoded into a
/// buffer of `len` bytes, which zstd may not overrun.
fn decompress_exact(body: &[u8], len: usize) -> Result<Vec<u8>, String> {
    check_zstd_frame_header(body, len)?;
    // The frame's extent, blocks and checksum included: it must be the whole body, so that
    // neither a second frame nor a skippable frame nor any other byte may follow it.
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(body)
        .map_err(|code| format!("zstd: {}", zstd::zstd_safe::get_error_name(code)))?;
    if frame_len != body.len() {
        return Err(format!("zstd body has {} bytes after its frame", body.len() - frame_len));
    }
    let mut out = Vec::with_capacity(len);
    zstd::bulk::Decompressor::new()
        .and_then(|mut decompressor| decompressor.decompress_to_buffer(body, &mut out))
        .map_err(|e| format!("zstd: {e}"))?;
    // zstd checks the decoded size against the declared one; this keeps the guarantee local.
    if out.len() != len {
        return Err(format!("body decompresses to {} bytes, not the declared {len}", out.len()));
    }
    Ok(out)
}

/// Checks the header of the zstd frame that must start `body` (RFC 8878 §3.1.1.1) against
/// what docs/blob-encoding.md §1 allows: the zstd magic, reserved bit clear, the content
/// checksum flag set, no dictionary id, and a frame content size present and equal to `len`.
fn check_zstd_frame_header(body: &[u8], len: usize) -> Result<(), String> {
    const TRUNCATED: &str = "zstd body shorter than its frame header";
    if body.get(..4).ok_or(TRUNCATED)? != ZSTD_MAGIC {
        return Err("zstd body does not start with a zstd frame's magic number".into());
    }
    let descriptor = *body.get(4).ok_or(TRUNCATED)?;
    let single_segment = descriptor & 0x20 != 0;
    if descriptor & 0x08 != 0 {
        return Err("zstd frame header has its reserved bit set".into());
    }
    if descriptor & 0x04 == 0 {
        return Err("zstd frame has no content checksum".into());
    }
    if descriptor & 0x03 != 0 {
        return Err("zstd frame names a dictionary".into());
    }
    let size_bytes = match (descriptor >> 6, single_segment) {
        (0, false) => return Err("zstd frame does not declare its content size".into()),
        (0, true) => 1,
        (1, _) => 2,
        (2, _) => 4,
        _ => 8,
    };
    // The window descriptor is present unless the frame is a single segment.
    let at = 5 + usize::from(!single_segment);
    let field = body.get(at..at + size_bytes).ok_or(TRUNCATED)?;
    let mut size = field.iter().rev().fold(0u64, |size, byte| size << 8 | u64::from(*byte));
    if size_bytes == 2 {
        size += 256;
    }
    if size != len as u64 {
        return Err(format!("zstd frame declares {size} bytes of content, not the trace length {len}"));
    }
    Ok(())
}

/// The blobs carrying `payload` (one or more frames).
pub fn encode_blobs(payload: &[u8]) -> Result<Vec<Vec<u8>>, BlobError> {
    let count = payload.len().div_ceil(BLOB_PAYLOAD).max(1);
    if count > MAX_BLOBS {
        return Err(BlobError::Count(count));
    }
    let mut blobs = Vec::with_capacity(count);
    for index in 0..count {
        let slice = &payload
            [(index * BLOB_PAYLOAD).min(payload.len())..((index + 1) * BLOB_PAYLOAD).min(payload.len())];
        let mut data = vec![0u8; BLOB_CAPACITY];
        data[0] = BLOB_VERSION;
        let len = slice.len() as u32;
        data[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
        data[BLOB_HEADER..BLOB_HEADER + slice.len()].copy_from_slice(slice);
        blobs.push(pack(&data));
    }
    Ok(blobs)
}

/// The payload the blobs carry, in order.
pub fn decode_blobs(blobs: &[impl AsRef<[u8]>]) -> Result<Vec<u8>, BlobError> {
    if blobs.is_empty() || blobs.len() > MAX_BLOBS {
        return Err(BlobError::Count(blobs.len()));
    }
    let mut payload = Vec::with_capacity(blobs.len() * BLOB_PAYLOAD);
    for (index, blob) in blobs.iter().enumerate() {
        let blob = blob.as_ref();
        if blob.len() != BLOB_SIZE {
            return Err(BlobError::Size { index, len: blob.len() });
        }
        let data = unpack(blob).map_err(|element| BlobError::FieldElement { index, element })?;
        let header = |reason: String| BlobError::Header { index, reason };
        if data[0] != BLOB_VERSION {
            return Err(header(format!("unknown blob version {}", data[0])));
        }
        let len = u32::from_be_bytes([0, data[1], data[2], data[3]]) as usize;
        if len > BLOB_PAYLOAD {
            return Err(header(format!("declares {len} payload bytes, more than a blob holds")));
        }
        if index + 1 < blobs.len() && len != BLOB_PAYLOAD {
            return Err(header("only the last blob may be partly filled".into()));
        }
        let (used, rest) = data[BLOB_HEADER..].split_at(len);
        if rest.iter().any(|byte| *byte != 0) {
            return Err(header("non-zero bytes after the payload".into()));
        }
        payload.extend_from_slice(used);
    }
    Ok(payload)
}

/// Encodes `trace` into blobs with `codec`; returns the blobs and the payload size.
pub fn trace_to_blobs(trace: &[u8], codec: Codec) -> Result<(Vec<Vec<u8>>, usize), BlobError> {
    let frame = encode_frame(trace, codec)?;
    Ok((encode_blobs(&frame)?, frame.len()))
}

/// The one trace the blobs carry.
pub fn blobs_to_trace(blobs: &[impl AsRef<[u8]>]) -> Result<Vec<u8>, BlobError> {
    payload_to_trace(&decode_blobs(blobs)?)
}

/// The length of the trace a payload of exactly one frame declares, read from the frame's
/// header without decompressing anything: what EXECUTE meters before it decompresses.
pub fn declared_trace_len(payload: &[u8]) -> Result<usize, BlobError> {
    let frame = |reason: &str| BlobError::Frame { offset: 0, reason: reason.into() };
    let header = payload.get(..FRAME_HEADER).ok_or_else(|| frame("truncated header"))?;
    let body_len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
    let trace_len = u32::from_be_bytes([header[6], header[7], header[8], header[9]]) as usize;
    if FRAME_HEADER.saturating_add(body_len) != payload.len() {
        return Err(frame("the payload is not exactly one frame"));
    }
    if trace_len > MAX_TRACE_BYTES {
        return Err(BlobError::TooLarge(trace_len));
    }
    Ok(trace_len)
}

/// The one trace a payload carries.
pub fn payload_to_trace(payload: &[u8]) -> Result<Vec<u8>, BlobError> {
    let mut traces = decode_frames(payload)?;
    match (traces.pop(), traces.is_empty()) {
        (Some(trace), true) => Ok(trace),
        (None, _) => Err(BlobError::Frame { offset: 0, reason: "no frame".into() }),
        (Some(_), false) => Err(BlobError::Frame { offset: 0, reason: "more than one frame".into() }),
    }
}

/// Packs 130,048 bytes into 4096 field elements: per round of 127 bytes, bytes 0..124 fill the
/// low 31 bytes of four elements in order, bytes 124..127 (24 bits) are split into four 6-bit
/// values, one in the top byte of each element (its two highest bits stay zero).
fn pack(data: &[u8]) -> Vec<u8> {
    let mut blob = vec![0u8; BLOB_SIZE];
    for (round, chunk) in data.chunks_exact(ROUND_BYTES).enumerate() {
        let high = u32::from_be_bytes([0, chunk[124], chunk[125], chunk[126]]);
        for element in 0..4 {
            let at = (round * 4 + element) * 32;
            blob[at] = ((high >> (18 - 6 * element)) & 0x3f) as u8;
            blob[at + 1..at + 32].copy_from_slice(&chunk[element * 31..element * 31 + 31]);
        }
    }
    blob
}

/// The inverse of [`pack`]; `Err(element)` when a field element has one of its two top bits set.
fn unpack(blob: &[u8]) -> Result<Vec<u8>, usize> {
    let mut data = vec![0u8; BLOB_CAPACITY];
    for (round, chunk) in data.chunks_exact_mut(ROUND_BYTES).enumerate() {
        let mut high = 0u32;
        for element in 0..4 {
            let at = (round * 4 + element) * 32;
            if blob[at] & 0xc0 != 0 {
                return Err(round * 4 + element);
            }
            high |= u32::from(blob[at]) << (18 - 6 * element);
            chunk[element * 31..element * 31 + 31].copy_from_slice(&blob[at + 1..at + 32]);
        }
        chunk[124..127].copy_from_slice(&high.to_be_bytes()[1..]);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn density_is_the_op_stack_packing() {
        assert_eq!(BLOB_PAYLOAD, 130_044);
        assert_eq!(BLOB_CAPACITY, 130_048);
    }

    #[test]
    fn packing_round_trips_and_is_canonical() {
        let data: Vec<u8> = (0..BLOB_CAPACITY).map(|i| (i * 31 + 7) as u8 | 0x80).collect();
        let blob = pack(&data);
        // The BLS12-381 modulus starts 0x73ed…: a top byte below 0x40 is always below it.
        assert!(blob.chunks(32).all(|element| element[0] < 0x40));
        assert_eq!(unpack(&blob).unwrap(), data);
    }

    #[test]
    fn traces_round_trip_through_blobs() {
        for (len, codec) in [
            (0, Codec::None),
            (1, Codec::DEFAULT),
            (130_034, Codec::None),
            (300_000, Codec::None),
            (300_000, Codec::Zstd(3)),
        ] {
            let trace = sample(len);
            let (blobs, payload) = trace_to_blobs(&trace, codec).unwrap();
            assert_eq!(blobs.len(), payload.div_ceil(BLOB_PAYLOAD).max(1));
            assert_eq!(blobs_to_trace(&blobs).unwrap(), trace, "{len} bytes, {codec:?}");
        }
    }

    #[test]
    fn strict_decoding() {
        let (blobs, _) = trace_to_blobs(&sample(1_000), Codec::Zstd(3)).unwrap();
        let mut bad = blobs.clone();
        bad[0][0] |= 0x40;
        assert!(matches!(blobs_to_trace(&bad), Err(BlobError::FieldElement { .. })));
        let mut trailing = blobs.clone();
        trailing[0][BLOB_SIZE - 1] = 1;
        assert!(matches!(blobs_to_trace(&trailing), Err(BlobError::Header { .. })));
        assert!(matches!(blobs_to_trace(&[vec![0u8; 10]]), Err(BlobError::Size { .. })));
        assert!(blobs_to_trace(&Vec::<Vec<u8>>::new()).is_err());
        let frame = encode_frame(&sample(500), Codec::None).unwrap();
        for cut in 1..frame.len() {
            assert!(decode_frames(&frame[..cut]).is_err(), "a {cut}-byte prefix decoded");
        }
        let mut version = frame.clone();
        version[0] = 9;
        assert!(decode_frames(&version).is_err());
    }

    /// A zstd frame of `data` at level 3, with or without a checksum and a content size.
    fn zstd_frame(data: &[u8], checksum: bool, content_size: bool) -> Vec<u8> {
        use zstd::zstd_safe::CParameter;
        let mut compressor = zstd::bulk::Compressor::new(3).unwrap();
        compressor.set_parameter(CParameter::ChecksumFlag(checksum)).unwrap();
        compressor.set_parameter(CParameter::ContentSizeFlag(content_size)).unwrap();
        compressor.compress(data).unwrap()
    }

    /// A codec-1 frame around `body`, declaring a `trace_len`-byte trace.
    fn zstd_codec_frame(body: &[u8], trace_len: usize) -> Vec<u8> {
        let mut frame = vec![FRAME_VERSION, 1];
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&(trace_len as u32).to_be_bytes());
        frame.extend_from_slice(body);
        frame
    }

    /// A skippable zstd frame (RFC 8878 §3.1.2) of four bytes.
    const SKIPPABLE: [u8; 12] = [0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];

    #[test]
    fn zstd_bodies_outside_the_specification_are_refused() {
        let data = sample(1_000);
        let valid = zstd_frame(&data, true, true);
        assert_eq!(decode_frames(&zstd_codec_frame(&valid, data.len())).unwrap(), vec![data.clone()]);
        let concatenated = [valid.clone(), valid.clone()].concat();
        let with_dictionary_id = {
            // Dictionary_ID_Flag 1 and a one-byte dictionary id of 0, after the window
            // descriptor if there is one.
            let mut body = valid.clone();
            let at = 5 + usize::from(body[4] & 0x20 == 0);
            body[4] |= 0x01;
            body.insert(at, 0);
            body
        };
        let mut reserved = valid.clone();
        reserved[4] |= 0x08;
        let mut damaged = valid.clone();
        *damaged.last_mut().unwrap() ^= 1;
        let cases: Vec<(&str, Vec<u8>, usize, &str)> = vec![
            ("no content checksum", zstd_frame(&data, false, true), 1_000, "no content checksum"),
            ("no content size", zstd_frame(&data, true, false), 1_000, "declare its content size"),
            ("two frames, declared as both", concatenated.clone(), 2_000, "not the trace length 2000"),
            ("two frames, declared as one", concatenated, 1_000, "after its frame"),
            ("skippable frame before", [&SKIPPABLE[..], &valid].concat(), 1_000, "magic"),
            ("skippable frame after", [&valid[..], &SKIPPABLE].concat(), 1_000, "after its frame"),
            ("a trailing byte", [&valid[..], &[0]].concat(), 1_000, "after its frame"),
            ("a dictionary id", with_dictionary_id, 1_000, "dictionary"),
            ("the reserved bit", reserved, 1_000, "reserved bit"),
            ("content size is not T", valid.clone(), 999, "not the trace length 999"),
            ("a wrong checksum", damaged, 1_000, "zstd"),
            ("truncated", valid[..valid.len() - 1].to_vec(), 1_000, "zstd"),
            ("truncated header", valid[..5].to_vec(), 1_000, "shorter than its frame header"),
            ("empty", Vec::new(), 0, "shorter than its frame header"),
            ("not zstd", data.clone(), 1_000, "magic"),
        ];
        for (name, body, trace_len, reason) in cases {
            let error = decode_frames(&zstd_codec_frame(&body, trace_len)).expect_err(name);
            assert!(error.to_string().contains(reason), "{name}: {error}");
        }
    }

    #[test]
    fn the_writer_declares_what_the_reader_requires() {
        // Content sizes of each width the writer uses (1, 2 and 4 bytes).
        for len in [0, 1, 255, 256, 65_791, 65_792, 300_000] {
            let frame = encode_frame(&sample(len), Codec::DEFAULT).unwrap();
            check_zstd_frame_header(&frame[FRAME_HEADER..], len).unwrap();
            assert_eq!(decode_frames(&frame).unwrap(), vec![sample(len)], "{len} bytes");
        }
    }

    #[test]
    fn a_decompression_bomb_is_cut_off() {
        // 16 MiB of zeros compresses to a few hundred bytes; declaring it 1,000 bytes long must
        // fail on the frame header's content size, before inflating anything.
        let zeros = vec![0u8; MAX_TRACE_BYTES];
        let mut frame = encode_frame(&zeros, Codec::Zstd(3)).unwrap();
        frame[6..10].copy_from_slice(&1_000u32.to_be_bytes());
        let error = decode_frames(&frame).unwrap_err();
        assert!(error.to_string().contains("not the trace length 1000"), "{error}");
        // Declaring more than the limit is refused before decompressing.
        frame[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_frames(&frame).unwrap_err().to_string().contains("over the limit"));
    }
}
