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
//! version, a set bit where the layout has none, a truncated or oversized frame, trailing bytes
//! or a body that decompresses to anything but its declared length is an error, and nothing is
//! allocated beyond [`MAX_TRACE_BYTES`] per frame.

use std::io::Read;

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

/// Decompresses a zstd body that must expand to exactly `len` bytes, reading at most one byte
/// past it: a bomb stops there.
fn decompress_exact(body: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let decoder = zstd::stream::read::Decoder::new(body).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(len.min(1 << 20));
    decoder.take(len as u64 + 1).read_to_end(&mut out).map_err(|e| format!("zstd: {e}"))?;
    if out.len() != len {
        return Err(format!("body decompresses to {} bytes or more, not the declared {len}", out.len()));
    }
    Ok(out)
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
    let mut traces = decode_frames(&decode_blobs(blobs)?)?;
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

    #[test]
    fn a_decompression_bomb_is_cut_off() {
        // 16 MiB of zeros compresses to a few hundred bytes; declaring it 1,000 bytes long must
        // fail after reading 1,001 bytes, not after inflating it all.
        let zeros = vec![0u8; MAX_TRACE_BYTES];
        let mut frame = encode_frame(&zeros, Codec::Zstd(3)).unwrap();
        frame[6..10].copy_from_slice(&1_000u32.to_be_bytes());
        let error = decode_frames(&frame).unwrap_err();
        assert!(error.to_string().contains("not the declared 1000"), "{error}");
        // Declaring more than the limit is refused before decompressing.
        frame[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_frames(&frame).unwrap_err().to_string().contains("over the limit"));
    }
}
