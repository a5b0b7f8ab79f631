//! Precompiles as a call's state overrides leave them (geth's `eth_call`, `eth_estimateGas`
//! and `eth_simulateV1`): `movePrecompileToAddress` puts a precompile at another address, and
//! any override of a precompile's own address makes it an ordinary account there, so that the
//! code put there runs instead (a mock `ecrecover`, say). Real blocks run with none.
//!
//! On a chain with EXECUTE (the dev L1) the set also holds EXECUTE at its address.

use crate::precompile::{ExecuteOutcome, ExecutePrecompile};
use alloy_primitives::{Address, Bytes, U256};
use revm::{
    context::{Cfg, LocalContextTr, Transaction},
    context_interface::{ContextTr, JournalTr},
    handler::{EthPrecompiles, PrecompileProvider, precompile_output_to_interpreter_result},
    interpreter::{CallInputs, InterpreterResult},
    precompile::{PrecompileHalt, PrecompileOutput},
    primitives::{AddressSet, hardfork::SpecId},
};
use std::sync::Arc;

/// Where precompiles moved and which addresses they left; none by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrecompileOverrides {
    /// Each moved precompile: its new address and the address it has in the fork.
    moved: Vec<(Address, Address)>,
    /// Precompile addresses that are ordinary accounts.
    vacated: Vec<Address>,
}

/// What runs when code at an address is called.
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    /// The precompile that has this address in the fork, if any.
    AsForked,
    /// The precompile of the fork at the given address.
    Moved(Address),
    /// The account's code: the precompile left.
    Vacated,
}

impl PrecompileOverrides {
    /// Whether nothing moved or left.
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.vacated.is_empty()
    }

    /// Makes the precompile at `address` an ordinary account.
    pub fn vacate(&mut self, address: Address) {
        if !self.vacated.contains(&address) {
            self.vacated.push(address);
        }
    }

    /// Puts the precompile at `from` at `to`, where it replaces any precompile, and makes `from`
    /// an ordinary account. Whether `from` holds a precompile is the caller's to check.
    pub fn move_precompile(&mut self, from: Address, to: Address) {
        self.moved.retain(|(moved_to, _)| *moved_to != to);
        self.moved.push((to, from));
        self.vacate(from);
    }

    fn lookup(&self, address: Address) -> Lookup {
        if let Some((_, from)) = self.moved.iter().find(|(to, _)| *to == address) {
            return Lookup::Moved(*from);
        }
        if self.vacated.contains(&address) {
            return Lookup::Vacated;
        }
        Lookup::AsForked
    }
}

/// Ethereum's precompiles of the running fork with [`PrecompileOverrides`] applied, and
/// EXECUTE where the chain has it. Addresses warm at the start of a transaction stay the fork's
/// (plus EXECUTE's), as in geth.
#[derive(Clone, Debug)]
pub struct OverriddenPrecompiles {
    eth: EthPrecompiles,
    overrides: PrecompileOverrides,
    execute: Option<Arc<ExecutePrecompile>>,
    addresses: AddressSet,
}

impl OverriddenPrecompiles {
    /// The precompiles of `spec` with `overrides`.
    pub fn new(spec: SpecId, overrides: PrecompileOverrides) -> Self {
        let eth = EthPrecompiles::new(spec);
        let addresses = eth.warm_addresses().clone();
        Self { eth, overrides, execute: None, addresses }
    }

    /// The same set with EXECUTE at its address.
    pub fn with_execute(mut self, execute: ExecutePrecompile) -> Self {
        self.addresses.insert(execute.address());
        self.execute = Some(Arc::new(execute));
        self
    }

    /// Runs EXECUTE if `inputs` calls it.
    fn run_execute<CTX: ContextTr>(
        &self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Option<InterpreterResult> {
        let execute = self.execute.as_ref().filter(|execute| execute.address() == inputs.bytecode_address)?;
        let outcome = {
            let input = inputs.input.as_bytes(context);
            execute.run(&input, inputs.gas_limit, context.tx().blob_versioned_hashes())
        };
        let output = match outcome {
            ExecuteOutcome::Answered { gas, invalid } => PrecompileOutput::new(
                gas,
                Bytes::from(U256::from(u8::from(invalid.is_none())).to_be_bytes::<32>()),
                inputs.reservoir,
            ),
            ExecuteOutcome::OutOfGas => PrecompileOutput::halt(PrecompileHalt::OutOfGas, inputs.reservoir),
            ExecuteOutcome::Refused(reason) => {
                if context.journal().depth() == 1 {
                    context.local_mut().set_precompile_error_context(reason.to_string());
                }
                PrecompileOutput::halt(PrecompileHalt::other_static(reason), inputs.reservoir)
            }
        };
        Some(precompile_output_to_interpreter_result(output, inputs.gas_limit))
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for OverriddenPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            self.addresses = self.eth.warm_addresses().clone();
            if let Some(execute) = &self.execute {
                self.addresses.insert(execute.address());
            }
        }
        changed
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
        if self.execute.is_some()
            && self.overrides.lookup(inputs.bytecode_address) == Lookup::AsForked
            && let Some(result) = self.run_execute(context, inputs)
        {
            return Ok(Some(result));
        }
        if self.overrides.is_empty() {
            return <EthPrecompiles as PrecompileProvider<CTX>>::run(&mut self.eth, context, inputs);
        }
        match self.overrides.lookup(inputs.bytecode_address) {
            Lookup::AsForked => {
                <EthPrecompiles as PrecompileProvider<CTX>>::run(&mut self.eth, context, inputs)
            }
            Lookup::Moved(from) => {
                let mut moved = inputs.clone();
                moved.bytecode_address = from;
                <EthPrecompiles as PrecompileProvider<CTX>>::run(&mut self.eth, context, &moved)
            }
            Lookup::Vacated => Ok(None),
        }
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.addresses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_precompile_answers_at_its_new_address_only() {
        let (ecrecover, sha256, elsewhere) =
            (Address::with_last_byte(1), Address::with_last_byte(2), Address::repeat_byte(0x77));
        let mut overrides = PrecompileOverrides::default();
        assert!(overrides.is_empty());
        overrides.move_precompile(ecrecover, elsewhere);
        assert_eq!(overrides.lookup(elsewhere), Lookup::Moved(ecrecover));
        assert_eq!(overrides.lookup(ecrecover), Lookup::Vacated);
        assert_eq!(overrides.lookup(sha256), Lookup::AsForked);
        // Moved onto another precompile, it replaces that one.
        overrides.move_precompile(sha256, elsewhere);
        assert_eq!(overrides.lookup(elsewhere), Lookup::Moved(sha256));
        overrides.vacate(sha256);
        assert_eq!(overrides.vacated, [ecrecover, sha256]);
    }
}
