//! The trace: one batch of consecutive L2 blocks with everything a machine holding no state needs
//! to re-execute it — the blocks' header inputs and transactions, the ancestor headers, and one
//! deduplicated witness (pre-state trie nodes and contract codes). `docs/trace-format.md` is its
//! specification; this module is its reference codec.
//!
//! ```text
//! trace    = rlp([version = 1, chain_id, ancestors, blocks, witness])
//! block    = [timestamp, coinbase, gas_limit, prev_randao, extra_data, l1_anchor,
//!             deposits, transactions, withdrawals]
//! witness  = [nodes, codes]
//! ```
//!
//! Decoding is strict: a non-canonical integer, a list whose items do not fill it exactly,
//! trailing bytes or an unknown version is an error, never a panic, and nothing is allocated
//! beyond the size of the input.

mod witness;

pub use witness::{WitnessBuilder, WitnessNeeds};

use crate::executor::BlockInputs;
use alloy_consensus::Header;
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

/// The trace format version this codec reads and writes.
pub const TRACE_VERSION: u8 = 1;

/// One batch of consecutive blocks and its witness.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Chain id of the L2 the batch belongs to; a verifier configured for another chain refuses
    /// the trace.
    pub chain_id: u64,
    /// The header of the batch's parent block (whose state root is the pre-state root) first,
    /// then its ancestors, each the parent of the one before, as far back as the oldest block
    /// whose hash BLOCKHASH reads in the batch.
    pub ancestors: Vec<Header>,
    /// The batch's blocks, oldest first; block `i` has number `ancestors[0].number + 1 + i`.
    pub blocks: Vec<TraceBlock>,
    /// Pre-state trie nodes and contract codes.
    pub witness: Witness,
}

/// The free inputs of one block, its transactions and what it consumes from L1. Every other
/// header field follows from the parent and from executing the block.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TraceBlock {
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// Recipient of the priority fees.
    pub coinbase: Address,
    /// Block gas limit.
    pub gas_limit: u64,
    /// PREVRANDAO.
    pub prev_randao: B256,
    /// Header extra data.
    pub extra_data: Bytes,
    /// The L1 anchor: the EIP-4788 parent beacon block root of the L2 block.
    pub l1_anchor: B256,
    /// L1→L2 deposits the block consumes; version 1 carries none (the list must be empty).
    pub deposits: Vec<Bytes>,
    /// The block's transactions, each in its EIP-2718 encoding.
    pub transactions: Vec<Bytes>,
    /// EIP-4895 withdrawals; always empty on an L2 (the verifier refuses them there). Present
    /// so that L1 blocks can be traced by the same format.
    pub withdrawals: Vec<Withdrawal>,
}

/// The state-access proof of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Witness {
    /// RLP of every pre-state trie node (account trie and storage tries) the batch reads,
    /// sorted by `keccak256(node)`, without duplicates.
    pub nodes: Vec<Bytes>,
    /// Every contract code the batch loads that it did not deploy itself, sorted by
    /// `keccak256(code)`, without duplicates.
    pub codes: Vec<Bytes>,
}

/// Why a byte string is not a trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceDecodeError {
    /// The RLP is malformed or does not have the trace's shape.
    #[error("malformed trace: {0}")]
    Rlp(alloy_rlp::Error),
    /// The version is not one this codec reads.
    #[error("unsupported trace version {0} (this verifier reads version {TRACE_VERSION})")]
    Version(u8),
    /// Bytes follow the trace.
    #[error("{0} trailing bytes after the trace")]
    TrailingBytes(usize),
}

impl From<alloy_rlp::Error> for TraceDecodeError {
    fn from(error: alloy_rlp::Error) -> Self {
        Self::Rlp(error)
    }
}

impl TraceBlock {
    /// The trace form of a block run with `inputs` and `transactions` (EIP-2718 bytes): its
    /// header inputs, no deposits, the inputs' withdrawals.
    pub fn new(inputs: &BlockInputs, transactions: Vec<Bytes>) -> Self {
        Self {
            timestamp: inputs.timestamp,
            coinbase: inputs.beneficiary,
            gas_limit: inputs.gas_limit,
            prev_randao: inputs.prev_randao,
            extra_data: inputs.extra_data.clone(),
            l1_anchor: inputs.parent_beacon_block_root,
            deposits: Vec::new(),
            transactions,
            withdrawals: inputs.withdrawals.clone(),
        }
    }

    /// The header inputs of block `number`, as the verifier runs it.
    pub fn inputs(&self, number: u64) -> BlockInputs {
        BlockInputs {
            number,
            timestamp: self.timestamp,
            beneficiary: self.coinbase,
            gas_limit: self.gas_limit,
            prev_randao: self.prev_randao,
            extra_data: self.extra_data.clone(),
            parent_beacon_block_root: self.l1_anchor,
            withdrawals: self.withdrawals.clone(),
        }
    }
}

impl Trace {
    /// The parent of the batch's first block.
    pub fn parent(&self) -> Option<&Header> {
        self.ancestors.first()
    }

    /// The trace's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload_length() + 5);
        alloy_rlp::Header { list: true, payload_length: self.payload_length() }.encode(&mut out);
        TRACE_VERSION.encode(&mut out);
        self.chain_id.encode(&mut out);
        self.ancestors.encode(&mut out);
        self.blocks.encode(&mut out);
        self.witness.encode(&mut out);
        out
    }

    /// Parses a trace, strictly: exactly one trace of version [`TRACE_VERSION`] and nothing
    /// after it.
    pub fn decode(bytes: &[u8]) -> Result<Self, TraceDecodeError> {
        let mut buf = bytes;
        let header = alloy_rlp::Header::decode(&mut buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString.into());
        }
        if buf.len() < header.payload_length {
            return Err(alloy_rlp::Error::InputTooShort.into());
        }
        let (mut payload, rest) = buf.split_at(header.payload_length);
        let version = u8::decode(&mut payload)?;
        if version != TRACE_VERSION {
            return Err(TraceDecodeError::Version(version));
        }
        let trace = Self {
            chain_id: u64::decode(&mut payload)?,
            ancestors: Vec::decode(&mut payload)?,
            blocks: Vec::decode(&mut payload)?,
            witness: Witness::decode(&mut payload)?,
        };
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch {
                expected: header.payload_length,
                got: header.payload_length - payload.len(),
            }
            .into());
        }
        if !rest.is_empty() {
            return Err(TraceDecodeError::TrailingBytes(rest.len()));
        }
        Ok(trace)
    }

    fn payload_length(&self) -> usize {
        TRACE_VERSION.length()
            + self.chain_id.length()
            + self.ancestors.length()
            + self.blocks.length()
            + self.witness.length()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Trace {
        Trace {
            chain_id: 1337,
            ancestors: vec![Header { number: 7, gas_limit: 30_000_000, ..Header::default() }],
            blocks: vec![TraceBlock {
                timestamp: 12,
                gas_limit: 30_000_000,
                transactions: vec![Bytes::from_static(&[2, 0xc0])],
                ..TraceBlock::default()
            }],
            witness: Witness { nodes: vec![Bytes::from_static(&[0xc1, 0x80])], codes: vec![] },
        }
    }

    #[test]
    fn round_trip() {
        let trace = sample();
        let bytes = trace.encode();
        assert_eq!(Trace::decode(&bytes).unwrap(), trace);
    }

    #[test]
    fn strict_decoding() {
        let bytes = sample().encode();
        let mut junk = bytes.clone();
        junk.push(0);
        assert_eq!(Trace::decode(&junk), Err(TraceDecodeError::TrailingBytes(1)));
        for cut in 0..bytes.len() {
            assert!(Trace::decode(&bytes[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
        // The version is the first byte after the list header.
        let mut other_version = bytes;
        let header_len = other_version.len() - sample().payload_length();
        other_version[header_len] = 2;
        assert_eq!(Trace::decode(&other_version), Err(TraceDecodeError::Version(2)));
    }
}
