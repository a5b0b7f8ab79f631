//! The EXECUTE precompile (EIP-8079) for revm: the stateless [`Verifier`] behind the Solidity
//! interface `execute(bytes32 preStateRoot, bytes32 postStateRoot, bytes trace, uint256 gasUsed)
//! returns (bool)`, at a configurable address (default `0x…0101`), with metered gas.
//!
//! A call is:
//! - **refused** (the call fails and consumes its gas, like any failing precompile) when the
//!   input is not the function's selector followed by the canonical ABI encoding of its four
//!   arguments (head offsets as the ABI encoder writes them, zero padding, nothing after), when
//!   it is larger than the size limit, or when the call's gas is below the metered cost;
//! - otherwise **answered** with an ABI-encoded bool: true exactly when the trace proves the
//!   claims, false for any invalid trace — it never reverts on one, so the bridge can slash.
//!
//! The cost is charged before any verification: `base + per_trace_byte × len(trace) +
//! gasUsed / l2_gas_divisor` (see [`ExecuteGas`]).

use crate::{
    chain::ChainConfig,
    verifier::{DEFAULT_MAX_TRACE_SIZE, TraceRules, Verifier},
};
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use revm::{
    context::{Cfg, LocalContextTr},
    context_interface::{ContextTr, JournalTr},
    handler::{EthPrecompiles, PrecompileProvider, precompile_output_to_interpreter_result},
    interpreter::{CallInputs, InterpreterResult},
    precompile::{PrecompileHalt, PrecompileOutput},
    primitives::AddressSet,
};
use std::sync::Arc;

/// The default address of EXECUTE: clear of every L1 precompile up to Osaka (P256VERIFY is at
/// `0x…0100`), as in the EIP-8079 proof of concept.
pub const DEFAULT_EXECUTE_ADDRESS: Address = address!("0x0000000000000000000000000000000000000101");

/// The Solidity signature the selector is computed from.
pub const EXECUTE_SIGNATURE: &str = "execute(bytes32,bytes32,bytes,uint256)";

/// The gas EXECUTE charges: `base + per_trace_byte × len(trace) + gasUsed / l2_gas_divisor`.
///
/// The defaults price re-execution at 1/16 of the L2 gas it replays (the verifier runs 200+
/// Mgas/s on one core, L1 blocks aim at far less work per gas), trace bytes at 2 gas (hashing
/// and decoding them; calldata or blob fees pay for carrying them), and a 50,000 base (setup,
/// ancestor headers). A 1,000-transfer batch (21 M L2 gas, ~0.6 MB trace) costs about 2.6 M gas;
/// a call stays under EIP-7825's 2^24 cap up to about 250 M L2 gas per batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecuteGas {
    /// Fixed cost of a call.
    pub base: u64,
    /// Cost per byte of trace.
    pub per_trace_byte: u64,
    /// The claimed L2 gas is divided by this (at least 1).
    pub l2_gas_divisor: u64,
}

impl Default for ExecuteGas {
    fn default() -> Self {
        Self { base: 50_000, per_trace_byte: 2, l2_gas_divisor: 16 }
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
}

/// The EXECUTE precompile of one L2 chain.
#[derive(Clone, Debug)]
pub struct ExecutePrecompile {
    address: Address,
    verifier: Verifier,
    gas: ExecuteGas,
    max_trace_size: usize,
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
    /// EXECUTE for the L2 `chain`, at [`DEFAULT_EXECUTE_ADDRESS`], with the default gas and a
    /// [`DEFAULT_MAX_TRACE_SIZE`] limit.
    pub fn new(chain: ChainConfig) -> Self {
        Self {
            address: DEFAULT_EXECUTE_ADDRESS,
            verifier: Verifier::new(chain, TraceRules::L2),
            gas: ExecuteGas::default(),
            max_trace_size: DEFAULT_MAX_TRACE_SIZE,
        }
    }

    /// The same precompile at another address.
    pub fn with_address(mut self, address: Address) -> Self {
        self.address = address;
        self
    }

    /// The same precompile with another gas schedule.
    pub fn with_gas(mut self, gas: ExecuteGas) -> Self {
        self.gas = gas;
        self
    }

    /// The same precompile with another trace size limit.
    pub fn with_max_trace_size(mut self, max_trace_size: usize) -> Self {
        self.max_trace_size = max_trace_size;
        self.verifier = self.verifier.with_max_trace_size(max_trace_size);
        self
    }

    /// Where the precompile lives.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Its gas schedule.
    pub fn gas(&self) -> ExecuteGas {
        self.gas
    }

    /// Runs one call with `gas_limit` gas.
    pub fn call(&self, input: &[u8], gas_limit: u64, reservoir: u64) -> PrecompileOutput {
        if input.len() > self.max_trace_size.saturating_add(4 + 192) {
            return PrecompileOutput::halt(
                PrecompileHalt::other_static("EXECUTE input too large"),
                reservoir,
            );
        }
        let call = match decode_call(input) {
            Ok(call) => call,
            Err(reason) => return PrecompileOutput::halt(PrecompileHalt::other_static(reason), reservoir),
        };
        let cost = self.gas.cost(call.trace.len(), call.gas_used);
        if cost > gas_limit {
            return PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir);
        }
        let valid = u64::try_from(call.gas_used).is_ok_and(|gas_used| {
            self.verifier.verify(call.pre_state_root, call.post_state_root, call.trace, gas_used).is_ok()
        });
        PrecompileOutput::new(cost, Bytes::from(U256::from(valid as u8).to_be_bytes::<32>()), reservoir)
    }
}

/// Ethereum's precompiles of the running fork plus EXECUTE: the precompile provider of an L1
/// that verifies native rollups (the project's dev L1). Build an EVM with it through
/// `Evm::with_precompiles`.
#[derive(Clone, Debug)]
pub struct PrecompilesWithExecute {
    eth: EthPrecompiles,
    execute: Arc<ExecutePrecompile>,
    addresses: AddressSet,
}

impl PrecompilesWithExecute {
    /// The precompiles of `spec` plus `execute`.
    pub fn new(spec: revm::primitives::hardfork::SpecId, execute: ExecutePrecompile) -> Self {
        let eth = EthPrecompiles::new(spec);
        let addresses = with_address(eth.warm_addresses(), execute.address);
        Self { eth, execute: Arc::new(execute), addresses }
    }
}

fn with_address(addresses: &AddressSet, address: Address) -> AddressSet {
    let mut addresses = addresses.clone();
    addresses.insert(address);
    addresses
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for PrecompilesWithExecute {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            self.addresses = with_address(self.eth.warm_addresses(), self.execute.address);
        }
        changed
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address != self.execute.address {
            return <EthPrecompiles as PrecompileProvider<CTX>>::run(&mut self.eth, context, inputs);
        }
        let output = {
            let input = inputs.input.as_bytes(context);
            self.execute.call(&input, inputs.gas_limit, inputs.reservoir)
        };
        if let Some(halt) = output.halt_reason()
            && !halt.is_oog()
            && context.journal().depth() == 1
        {
            context.local_mut().set_precompile_error_context(halt.to_string());
        }
        Ok(Some(precompile_output_to_interpreter_result(output, inputs.gas_limit)))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.addresses
    }
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
        let precompile = ExecutePrecompile::new(ChainConfig::l2(1337));
        let input = encode_call(B256::ZERO, B256::ZERO, &[0xc0], U256::from(1_600));
        let cost = ExecuteGas::default().cost(1, U256::from(1_600));
        assert_eq!(cost, 50_000 + 2 + 100);
        let out_of_gas = precompile.call(&input, cost - 1, 0);
        assert_eq!(out_of_gas.halt_reason(), Some(&PrecompileHalt::OutOfGas));
        // An invalid trace with enough gas: false, not a failure.
        let answered = precompile.call(&input, cost, 0);
        assert!(answered.halt_reason().is_none());
        assert_eq!(answered.gas_used, cost);
        assert_eq!(answered.bytes, Bytes::from(U256::ZERO.to_be_bytes::<32>()));
        assert!(precompile.call(&[1, 2, 3], 1_000_000, 0).halt_reason().is_some());
        assert_eq!(ExecuteGas::default().cost(usize::MAX, U256::MAX), u64::MAX);
    }
}
