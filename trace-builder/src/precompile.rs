//! The EXECUTE precompile (EIP-8079) for revm: the stateless [`Verifier`] behind two Solidity
//! functions, at a configurable address (default `0x…0101`), with metered gas:
//!
//! - the **unbound** form of EIP-8079's proof of concept, `execute(bytes32 preStateRoot,
//!   bytes32 postStateRoot, bytes trace, uint256 gasUsed) returns (bool)`: the trace in calldata,
//!   bound by its state roots and gas only;
//! - the **bound** form, `execute(bytes32 preStateRoot, bytes32 postStateRoot, uint256 gasUsed,
//!   Bindings bindings, bytes data) returns (bool)` ([`abi::executeCall`]): true only if the trace
//!   also agrees with the [`Bindings`] a bridge pins (chain id, parent and last L2 block, last
//!   timestamp, L1 anchors). `data` is the trace itself (**calldata mode**) or a [blob
//!   envelope](BLOB_ENVELOPE) naming blobs of the calling transaction by versioned hash (**blob
//!   mode**), which the precompile reads from a [`BlobSource`] and decodes with the DA codec.
//!
//! EXECUTE serves any number of rollups: the chain id comes from the trace (and the bindings),
//! the rules are the L2's (Osaka), not the L1's own configuration.
//!
//! A call is:
//! - **refused** (the call fails and consumes its gas, like any failing precompile) when the
//!   input is not one function's selector followed by the canonical ABI encoding of its
//!   arguments, when it is larger than the size limit, or when the call's gas is below the
//!   metered cost;
//! - otherwise **answered** with an ABI-encoded bool: true exactly when the trace proves the
//!   claims, false for any invalid trace, envelope or blob, and for blobs that are not the
//!   calling transaction's or that the node does not hold — it never reverts on one, so the
//!   bridge can slash.
//!
//! The cost is charged before any verification (see [`ExecuteGas`]): `base + per_trace_byte ×
//! len(trace) + gasUsed / l2_gas_divisor`, plus `per_blob` for each blob in blob mode, where the
//! trace's length is the one its frame declares, read before anything is decompressed.

use crate::{
    bindings::{Bindings, L1Anchor},
    blob,
    chain::ChainConfig,
    trace::Trace,
    verifier::{DEFAULT_MAX_TRACE_SIZE, InvalidTrace, TraceRules, Verifier},
};
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_sol_types::{SolCall, abi::AbiDecoderConfig};
use std::{fmt::Debug, sync::Arc};

/// The default address of EXECUTE: clear of every L1 precompile up to Osaka (P256VERIFY is at
/// `0x…0100`), as in the EIP-8079 proof of concept.
pub const DEFAULT_EXECUTE_ADDRESS: Address = address!("0x0000000000000000000000000000000000000101");

/// The Solidity signature of the unbound form.
pub const EXECUTE_SIGNATURE: &str = "execute(bytes32,bytes32,bytes,uint256)";

/// The first byte of a blob envelope: `0x01 || versionedHash × n` (1 ≤ n ≤ [`MAX_ENVELOPE_BLOBS`]).
/// A trace is an RLP list, whose first byte is at least `0xc0`, so the two never collide.
pub const BLOB_ENVELOPE: u8 = 0x01;

/// The most blobs one envelope names (one transaction carries at most 6 blobs on Osaka).
pub const MAX_ENVELOPE_BLOBS: usize = 16;

/// The Solidity interface of the bound form (`sol!`): what a bridge calls.
#[allow(missing_docs)]
pub mod abi {
    alloy_sol_types::sol! {
        /// An L1 block a batch is anchored to.
        #[derive(Debug, PartialEq, Eq)]
        struct L1Anchor {
            uint64 number;
            bytes32 blockHash;
        }

        /// What the bridge pins of a batch.
        #[derive(Debug, PartialEq, Eq)]
        struct Bindings {
            uint64 chainId;
            bytes32 parentBlockHash;
            bytes32 lastBlockHash;
            uint64 lastNumber;
            uint64 lastTimestamp;
            L1Anchor[] anchors;
        }

        /// EXECUTE's bound form: `data` is the trace, or a blob envelope.
        #[derive(Debug, PartialEq, Eq)]
        function execute(
            bytes32 preStateRoot,
            bytes32 postStateRoot,
            uint256 gasUsed,
            Bindings bindings,
            bytes data
        ) returns (bool);
    }
}

impl From<&Bindings> for abi::Bindings {
    fn from(bindings: &Bindings) -> Self {
        Self {
            chainId: bindings.chain_id,
            parentBlockHash: bindings.parent_block_hash,
            lastBlockHash: bindings.last_block_hash,
            lastNumber: bindings.last_number,
            lastTimestamp: bindings.last_timestamp,
            anchors: bindings
                .anchors
                .iter()
                .map(|anchor| abi::L1Anchor { number: anchor.number, blockHash: anchor.hash })
                .collect(),
        }
    }
}

impl From<&abi::Bindings> for Bindings {
    fn from(bindings: &abi::Bindings) -> Self {
        Self {
            chain_id: bindings.chainId,
            parent_block_hash: bindings.parentBlockHash,
            last_block_hash: bindings.lastBlockHash,
            last_number: bindings.lastNumber,
            last_timestamp: bindings.lastTimestamp,
            anchors: bindings
                .anchors
                .iter()
                .map(|anchor| L1Anchor { number: anchor.number, hash: anchor.blockHash })
                .collect(),
        }
    }
}

/// The calldata of the bound form (selector included).
pub fn encode_bound_call(
    pre_state_root: B256,
    post_state_root: B256,
    gas_used: u64,
    bindings: &Bindings,
    data: &[u8],
) -> Bytes {
    abi::executeCall {
        preStateRoot: pre_state_root,
        postStateRoot: post_state_root,
        gasUsed: U256::from(gas_used),
        bindings: bindings.into(),
        data: Bytes::copy_from_slice(data),
    }
    .abi_encode()
    .into()
}

/// The blob envelope naming `versioned_hashes`.
pub fn blob_envelope(versioned_hashes: &[B256]) -> Bytes {
    let mut envelope = Vec::with_capacity(1 + 32 * versioned_hashes.len());
    envelope.push(BLOB_ENVELOPE);
    for hash in versioned_hashes {
        envelope.extend_from_slice(hash.as_slice());
    }
    envelope.into()
}

/// The versioned hashes a blob envelope names, or `None` when `data` is not one (1 to
/// [`MAX_ENVELOPE_BLOBS`] hashes after the envelope byte, nothing else).
pub fn parse_blob_envelope(data: &[u8]) -> Option<Vec<B256>> {
    let (first, hashes) = data.split_first()?;
    let count = hashes.len() / 32;
    if *first != BLOB_ENVELOPE || hashes.len() % 32 != 0 || count == 0 || count > MAX_ENVELOPE_BLOBS {
        return None;
    }
    Some(hashes.chunks_exact(32).map(B256::from_slice).collect())
}

/// Where EXECUTE finds the blobs of the transaction that calls it: the node's pooled and stored
/// sidecars. Looked up by versioned hash, only for hashes the calling transaction carries.
pub trait BlobSource: Send + Sync + Debug {
    /// The blob (131,072 bytes) with `versioned_hash`, if the node holds it.
    fn blob(&self, versioned_hash: &B256) -> Option<Bytes>;
}

/// The gas EXECUTE charges: `base + per_trace_byte × len(trace) + gasUsed / l2_gas_divisor`,
/// plus `per_blob` per blob in blob mode.
///
/// The defaults price re-execution at 1/16 of the L2 gas it replays (the verifier runs 200+
/// Mgas/s on one core, L1 blocks aim at far less work per gas), trace bytes at 2 gas (hashing,
/// decoding and, in blob mode, decompressing them; calldata or blob fees pay for carrying them),
/// a blob at 10,000 (unpacking its 4,096 field elements), and a 50,000 base (setup, ancestor
/// headers). A 1,000-transfer batch (21 M L2 gas, ~0.6 MB trace) costs about 2.6 M gas; a call
/// stays under EIP-7825's 2^24 cap up to about 250 M L2 gas per batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecuteGas {
    /// Fixed cost of a call.
    pub base: u64,
    /// Cost per byte of trace.
    pub per_trace_byte: u64,
    /// The claimed L2 gas is divided by this (at least 1).
    pub l2_gas_divisor: u64,
    /// Cost per blob read in blob mode.
    pub per_blob: u64,
}

impl Default for ExecuteGas {
    fn default() -> Self {
        Self { base: 50_000, per_trace_byte: 2, l2_gas_divisor: 16, per_blob: 10_000 }
    }
}

impl ExecuteGas {
    /// The cost of verifying a trace of `trace_len` bytes claiming `gas_used` L2 gas
    /// (saturating: an absurd claim costs more than any call can pay).
    pub fn cost(&self, trace_len: usize, gas_used: U256) -> u64 {
        let l2 = gas_used / U256::from(self.l2_gas_divisor.max(1));
        let l2 = u64::try_from(l2).unwrap_or(u64::MAX);
        let bytes = u64::try_from(trace_len).unwrap_or(u64::MAX).saturating_mul(self.per_trace_byte);
        self.base.saturating_add(bytes).saturating_add(l2)
    }

    /// The cost of reading `blobs` blobs, on top of [`ExecuteGas::cost`].
    pub fn blobs_cost(&self, blobs: usize) -> u64 {
        u64::try_from(blobs).unwrap_or(u64::MAX).saturating_mul(self.per_blob)
    }
}

/// Where EXECUTE lives on a chain and how it is priced: the L1 role's part of the chain config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecuteSettings {
    /// Its address.
    pub address: Address,
    /// Its gas schedule.
    pub gas: ExecuteGas,
    /// The largest trace it verifies.
    pub max_trace_size: usize,
}

impl Default for ExecuteSettings {
    fn default() -> Self {
        Self {
            address: DEFAULT_EXECUTE_ADDRESS,
            gas: ExecuteGas::default(),
            max_trace_size: DEFAULT_MAX_TRACE_SIZE,
        }
    }
}

/// The EXECUTE precompile of an L1.
#[derive(Clone, Debug)]
pub struct ExecutePrecompile {
    settings: ExecuteSettings,
    blobs: Option<Arc<dyn BlobSource>>,
}

/// What a call came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecuteOutcome {
    /// Refused: the call fails and consumes its gas.
    Refused(&'static str),
    /// The gas was below the metered cost.
    OutOfGas,
    /// Answered with the verdict, at `gas` cost.
    Answered {
        /// Gas charged.
        gas: u64,
        /// Why the answer is false, or `None` when it is true.
        invalid: Option<String>,
    },
}

/// A decoded call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteCall<'a> {
    /// Claimed pre-state root.
    pub pre_state_root: B256,
    /// Claimed post-state root.
    pub post_state_root: B256,
    /// The trace.
    pub trace: &'a [u8],
    /// Claimed L2 gas.
    pub gas_used: U256,
}

/// The four-byte selector of [`EXECUTE_SIGNATURE`].
pub fn execute_selector() -> [u8; 4] {
    let hash = keccak256(EXECUTE_SIGNATURE);
    [hash[0], hash[1], hash[2], hash[3]]
}

/// Decodes the canonical ABI encoding of a call, or says why it is not one. Never panics and
/// allocates nothing.
pub fn decode_call(input: &[u8]) -> Result<ExecuteCall<'_>, &'static str> {
    let (selector, args) = input.split_at_checked(4).ok_or("input shorter than a selector")?;
    if selector != execute_selector() {
        return Err("unknown selector");
    }
    let word = |index: usize| args.get(index * 32..index * 32 + 32).ok_or("input too short");
    let pre_state_root = B256::from_slice(word(0)?);
    let post_state_root = B256::from_slice(word(1)?);
    if U256::from_be_slice(word(2)?) != U256::from(128) {
        return Err("the trace's offset is not the canonical 0x80");
    }
    let gas_used = U256::from_be_slice(word(3)?);
    let len = usize::try_from(U256::from_be_slice(word(4)?)).map_err(|_| "trace length overflows")?;
    let data = args.get(160..).ok_or("input too short")?;
    let padded = len.checked_next_multiple_of(32).ok_or("trace length overflows")?;
    if data.len() != padded {
        return Err("the trace's length does not match the input's");
    }
    let (trace, padding) = data.split_at(len);
    if padding.iter().any(|byte| *byte != 0) {
        return Err("non-zero padding after the trace");
    }
    Ok(ExecuteCall { pre_state_root, post_state_root, trace, gas_used })
}

/// The canonical ABI encoding of a call (selector included).
pub fn encode_call(pre_state_root: B256, post_state_root: B256, trace: &[u8], gas_used: U256) -> Bytes {
    let padded = trace.len().next_multiple_of(32);
    let mut input = Vec::with_capacity(4 + 160 + padded);
    input.extend_from_slice(&execute_selector());
    input.extend_from_slice(pre_state_root.as_slice());
    input.extend_from_slice(post_state_root.as_slice());
    input.extend_from_slice(&U256::from(128).to_be_bytes::<32>());
    input.extend_from_slice(&gas_used.to_be_bytes::<32>());
    input.extend_from_slice(&U256::from(trace.len()).to_be_bytes::<32>());
    input.extend_from_slice(trace);
    input.resize(4 + 160 + padded, 0);
    input.into()
}

impl ExecutePrecompile {
    /// EXECUTE with `settings`, reading no blobs (blob mode answers false) until
    /// [`ExecutePrecompile::with_blobs`] gives it a source.
    pub fn new(settings: ExecuteSettings) -> Self {
        Self { settings, blobs: None }
    }

    /// The same precompile reading blobs from `blobs`.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobSource>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Where the precompile lives.
    pub fn address(&self) -> Address {
        self.settings.address
    }

    /// Its settings.
    pub fn settings(&self) -> &ExecuteSettings {
        &self.settings
    }

    /// Runs one call with `gas_limit` gas, made by a transaction carrying `tx_blob_hashes`.
    pub fn run(&self, input: &[u8], gas_limit: u64, tx_blob_hashes: &[B256]) -> ExecuteOutcome {
        // The ABI head of the bound form and its bindings take far less than this beside the
        // trace; anything larger is refused before it is decoded.
        if input.len() > self.settings.max_trace_size.saturating_add(64 * 1024) {
            return ExecuteOutcome::Refused("EXECUTE input too large");
        }
        match input.get(..4) {
            Some(selector) if selector == execute_selector() => self.run_unbound(input, gas_limit),
            Some(selector) if selector == abi::executeCall::SELECTOR => {
                self.run_bound(input, gas_limit, tx_blob_hashes)
            }
            _ => ExecuteOutcome::Refused("unknown selector"),
        }
    }

    fn run_unbound(&self, input: &[u8], gas_limit: u64) -> ExecuteOutcome {
        let call = match decode_call(input) {
            Ok(call) => call,
            Err(reason) => return ExecuteOutcome::Refused(reason),
        };
        let gas = self.settings.gas.cost(call.trace.len(), call.gas_used);
        if gas > gas_limit {
            return ExecuteOutcome::OutOfGas;
        }
        let verdict = claimed_gas(call.gas_used).and_then(|gas_used| {
            let trace = Trace::decode(call.trace)?;
            self.verifier(&trace).verify_decoded(call.pre_state_root, call.post_state_root, &trace, gas_used)
        });
        ExecuteOutcome::Answered { gas, invalid: verdict.err().map(|error| error.to_string()) }
    }

    fn run_bound(&self, input: &[u8], gas_limit: u64, tx_blob_hashes: &[B256]) -> ExecuteOutcome {
        let config = AbiDecoderConfig::new().strict(true);
        let Ok(call) = abi::executeCall::abi_decode_with_config(input, config) else {
            return ExecuteOutcome::Refused("not the canonical encoding of the bound execute call");
        };
        let gas_schedule = self.settings.gas;
        let trace = match parse_blob_envelope(&call.data) {
            None => {
                let gas = gas_schedule.cost(call.data.len(), call.gasUsed);
                if gas > gas_limit {
                    return ExecuteOutcome::OutOfGas;
                }
                BoundTrace { gas, bytes: Ok(call.data.to_vec()) }
            }
            Some(hashes) => match self.read_blobs(&hashes, tx_blob_hashes, call.gasUsed, gas_limit) {
                Ok(trace) => trace,
                Err(outcome) => return outcome,
            },
        };
        let bindings = Bindings::from(&call.bindings);
        let verdict = trace.bytes.and_then(|bytes| {
            let gas_used = claimed_gas(call.gasUsed)?;
            if bytes.len() > self.settings.max_trace_size {
                return Err(InvalidTrace::TooLarge {
                    size: bytes.len(),
                    limit: self.settings.max_trace_size,
                });
            }
            let trace = Trace::decode(&bytes)?;
            self.verifier(&trace).verify_bound(
                call.preStateRoot,
                call.postStateRoot,
                &trace,
                gas_used,
                &bindings,
            )
        });
        ExecuteOutcome::Answered { gas: trace.gas, invalid: verdict.err().map(|error| error.to_string()) }
    }

    /// Blob mode: meters, then reads and decodes the blobs `hashes` names. Blobs the calling
    /// transaction does not carry, or that the node does not hold, make the answer false.
    fn read_blobs(
        &self,
        hashes: &[B256],
        tx_blob_hashes: &[B256],
        gas_used: U256,
        gas_limit: u64,
    ) -> Result<BoundTrace, ExecuteOutcome> {
        let schedule = self.settings.gas;
        // Decoding the blobs is charged before it is done, the trace's bytes once its frame
        // has declared how many there are, before decompression.
        let mut gas = schedule.cost(0, gas_used).saturating_add(schedule.blobs_cost(hashes.len()));
        if gas > gas_limit {
            return Err(ExecuteOutcome::OutOfGas);
        }
        let answer = |gas, reason: String| Ok(BoundTrace { gas, bytes: Err(InvalidTrace::Blobs(reason)) });
        if let Some(foreign) = hashes.iter().find(|hash| !tx_blob_hashes.contains(hash)) {
            return answer(gas, format!("blob {foreign} is not one of the calling transaction's"));
        }
        let mut blobs = Vec::with_capacity(hashes.len());
        for hash in hashes {
            match self.blobs.as_ref().and_then(|source| source.blob(hash)) {
                Some(blob) => blobs.push(blob),
                None => return answer(gas, format!("blob {hash} is not held by this node")),
            }
        }
        let payload = match blob::decode_blobs(&blobs) {
            Ok(payload) => payload,
            Err(error) => return answer(gas, error.to_string()),
        };
        let trace_len = match blob::declared_trace_len(&payload) {
            Ok(len) => len,
            Err(error) => return answer(gas, error.to_string()),
        };
        gas = gas.saturating_add(
            u64::try_from(trace_len).unwrap_or(u64::MAX).saturating_mul(schedule.per_trace_byte),
        );
        if gas > gas_limit {
            return Err(ExecuteOutcome::OutOfGas);
        }
        let bytes = blob::payload_to_trace(&payload).map_err(|error| InvalidTrace::Blobs(error.to_string()));
        Ok(BoundTrace { gas, bytes })
    }

    /// The verifier of the trace's own chain, under the L2's rules.
    fn verifier(&self, trace: &Trace) -> Verifier {
        Verifier::new(ChainConfig::l2(trace.chain_id), TraceRules::L2)
            .with_max_trace_size(self.settings.max_trace_size)
    }
}

/// The trace of a bound call and the gas metered for it.
struct BoundTrace {
    gas: u64,
    bytes: Result<Vec<u8>, InvalidTrace>,
}

/// The claimed L2 gas, which must fit 64 bits to be honest.
fn claimed_gas(gas_used: U256) -> Result<u64, InvalidTrace> {
    u64::try_from(gas_used).map_err(|_| InvalidTrace::GasClaim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_is_the_solidity_one() {
        // cast sig "execute(bytes32,bytes32,bytes,uint256)"
        assert_eq!(execute_selector(), keccak256(b"execute(bytes32,bytes32,bytes,uint256)")[..4]);
    }

    #[test]
    fn abi_round_trip_and_strictness() {
        let trace = [7u8; 45];
        let input = encode_call(B256::repeat_byte(1), B256::repeat_byte(2), &trace, U256::from(21_000));
        let call = decode_call(&input).unwrap();
        assert_eq!(call.trace, &trace);
        assert_eq!(call.gas_used, U256::from(21_000));
        let mut junk = input.to_vec();
        junk.push(0);
        assert!(decode_call(&junk).is_err());
        let mut dirty = input.to_vec();
        *dirty.last_mut().unwrap() = 1;
        assert!(decode_call(&dirty).is_err());
        let mut selector = input.to_vec();
        selector[0] ^= 1;
        assert!(decode_call(&selector).is_err());
        for cut in 0..input.len() {
            assert!(decode_call(&input[..cut]).is_err());
        }
    }

    #[test]
    fn gas_is_metered_before_verifying() {
        let precompile = ExecutePrecompile::new(ExecuteSettings::default());
        let input = encode_call(B256::ZERO, B256::ZERO, &[0xc0], U256::from(1_600));
        let cost = ExecuteGas::default().cost(1, U256::from(1_600));
        assert_eq!(cost, 50_000 + 2 + 100);
        assert_eq!(precompile.run(&input, cost - 1, &[]), ExecuteOutcome::OutOfGas);
        // An invalid trace with enough gas: false, not a failure.
        assert!(matches!(
            precompile.run(&input, cost, &[]),
            ExecuteOutcome::Answered { gas, invalid: Some(_) } if gas == cost
        ));
        assert!(matches!(precompile.run(&[1, 2, 3], 1_000_000, &[]), ExecuteOutcome::Refused(_)));
        assert_eq!(ExecuteGas::default().cost(usize::MAX, U256::MAX), u64::MAX);
    }

    #[test]
    fn blob_envelopes_parse_strictly() {
        let hashes = [B256::repeat_byte(1), B256::repeat_byte(2)];
        let envelope = blob_envelope(&hashes);
        assert_eq!(parse_blob_envelope(&envelope), Some(hashes.to_vec()));
        assert_eq!(parse_blob_envelope(&envelope[..envelope.len() - 1]), None);
        assert_eq!(parse_blob_envelope(&[BLOB_ENVELOPE]), None);
        assert_eq!(parse_blob_envelope(&blob_envelope(&[B256::ZERO; MAX_ENVELOPE_BLOBS + 1])), None);
        // A trace is an RLP list: never an envelope.
        assert_eq!(parse_blob_envelope(&[0xc0]), None);
    }

    #[test]
    fn the_bound_call_round_trips_and_is_strict() {
        let bindings = Bindings {
            chain_id: 7,
            parent_block_hash: B256::repeat_byte(1),
            last_block_hash: B256::repeat_byte(2),
            last_number: 12,
            last_timestamp: 99,
            anchors: vec![L1Anchor { number: 5, hash: B256::repeat_byte(3) }],
        };
        let input = encode_bound_call(B256::repeat_byte(8), B256::repeat_byte(9), 21_000, &bindings, &[0xc0]);
        let call = abi::executeCall::abi_decode(&input).unwrap();
        assert_eq!(Bindings::from(&call.bindings), bindings);
        // cast sig "execute(bytes32,bytes32,uint256,(uint64,bytes32,bytes32,uint64,uint64,(uint64,bytes32)[]),bytes)"
        assert_eq!(
            abi::executeCall::SELECTOR,
            keccak256(
                b"execute(bytes32,bytes32,uint256,(uint64,bytes32,bytes32,uint64,uint64,(uint64,bytes32)[]),bytes)"
            )[..4]
        );
        let precompile = ExecutePrecompile::new(ExecuteSettings::default());
        assert!(matches!(
            precompile.run(&input, 30_000_000, &[]),
            ExecuteOutcome::Answered { invalid: Some(_), .. }
        ));
        for cut in [4, 36, input.len() - 1] {
            assert!(matches!(precompile.run(&input[..cut], 30_000_000, &[]), ExecuteOutcome::Refused(_)));
        }
    }
}
