//! A synthetic L2 for measuring and testing batching policies: blocks of ETH transfers whose
//! traces compress about as real ones do, served through [`BlockSource`] without a node. Each
//! transfer is 110 bytes, 65 of them (the signature) random and the rest repeating across
//! transfers; each block adds a 500-byte header, and every trace a 6,000-byte witness.

use super::policy::{BlockSource, BlockSummary};
use crate::{
    l2::L2Error,
    rollup_api::{TraceAnchor, TraceBindings, TraceResponse},
};
use alloy_primitives::{B256, Bytes, U64};

/// Bytes of a block's header in a trace.
const HEADER: usize = 500;
/// Bytes of a transfer in a trace.
const TRANSFER: usize = 110;
/// Gas of a transfer.
const TRANSFER_GAS: u64 = 21_000;

/// Sealed blocks of transfers: block `n` holds `blocks[n - 1]` of them, sealed at second `n`.
#[derive(Clone, Debug, Default)]
pub struct SyntheticL2 {
    /// Each sealed block's transfers.
    pub blocks: Vec<usize>,
    /// Whether block summaries leave out their size (as an L2 whose headers do not say it).
    pub sizeless: bool,
}

impl SyntheticL2 {
    /// The newest sealed block's number.
    pub fn head(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// The gas blocks `from..=to` used.
    pub fn gas(&self, from: u64, to: u64) -> u64 {
        (from..=to).map(|number| self.transfers(number) as u64 * TRANSFER_GAS).sum()
    }

    /// The trace of blocks `from..=to`, which must be sealed.
    pub fn trace_of(&self, from: u64, to: u64) -> TraceResponse {
        assert!(to <= self.head(), "a trace past the head");
        // A witness of the accounts the transfers touch, shared by the blocks.
        let mut trace: Vec<u8> = noise(7, 6_000).collect();
        for number in from..=to {
            trace.extend(self.block_bytes(number));
        }
        TraceResponse {
            pre_state_root: B256::ZERO,
            post_state_root: B256::repeat_byte(1),
            gas_used: U64::from(self.gas(from, to)),
            trace: Bytes::from(trace),
            bindings: TraceBindings {
                chain_id: U64::from(1_337),
                parent_block_hash: B256::ZERO,
                last_block_hash: B256::repeat_byte(2),
                last_number: U64::from(to),
                last_timestamp: U64::from(to),
                anchors: vec![TraceAnchor { number: U64::from(from), hash: B256::ZERO }],
            },
            execute_input: Bytes::new(),
        }
    }

    fn transfers(&self, number: u64) -> usize {
        self.blocks[number as usize - 1]
    }

    fn block_bytes(&self, number: u64) -> Vec<u8> {
        let mut bytes: Vec<u8> = noise(number, HEADER).collect();
        for index in 0..self.transfers(number) {
            let (sender, recipient) = ((index % 8) as u8, (index % 250) as u8);
            bytes.extend_from_slice(&[0x02, 0xf8, 0x6c, 0x82, 0x05, 0x39, sender, recipient]);
            bytes.extend_from_slice(&(number * 10_000 + index as u64).to_be_bytes());
            bytes.extend_from_slice(&[recipient; 20]);
            bytes.extend_from_slice(&[0x83, 0x01, 0x51, 0x80, 0x01, 0x80, 0xc0, 0x01, 0x80]);
            bytes.extend(noise(number * 100_000 + index as u64, 65));
        }
        bytes
    }
}

impl BlockSource for SyntheticL2 {
    async fn summary(&self, number: u64) -> Result<BlockSummary, L2Error> {
        let transfers = *self.blocks.get(number as usize - 1).ok_or(L2Error::MissingBlock(number))?;
        Ok(BlockSummary {
            timestamp: number,
            gas_used: transfers as u64 * TRANSFER_GAS,
            size: (!self.sizeless).then_some((HEADER + TRANSFER * transfers) as u64),
        })
    }

    async fn trace(&self, from: u64, to: u64) -> Result<TraceResponse, L2Error> {
        Ok(self.trace_of(from, to))
    }
}

/// `len` deterministic pseudo-random bytes from `seed` (xorshift).
pub fn noise(seed: u64, len: usize) -> impl Iterator<Item = u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len).map(move |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    })
}
