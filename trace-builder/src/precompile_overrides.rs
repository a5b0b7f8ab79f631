//! Precompiles as a call's state overrides leave them (geth's `eth_call`, `eth_estimateGas`
//! and `eth_simulateV1`): `movePrecompileToAddress` puts a precompile at another address, and
//! any override of a precompile's own address makes it an ordinary account there, so that the
//! code put there runs instead (a mock `ecrecover`, say). Real blocks run with none.

use alloy_primitives::Address;
use revm::{
    context::Cfg,
    context_interface::ContextTr,
    handler::{EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, InterpreterResult},
    primitives::{AddressSet, hardfork::SpecId},
};

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

/// Ethereum's precompiles of the running fork with [`PrecompileOverrides`] applied. Addresses
/// warm at the start of a transaction stay the fork's, as in geth.
#[derive(Clone, Debug)]
pub struct OverriddenPrecompiles {
    eth: EthPrecompiles,
    overrides: PrecompileOverrides,
}

impl OverriddenPrecompiles {
    /// The precompiles of `spec` with `overrides`.
    pub fn new(spec: SpecId, overrides: PrecompileOverrides) -> Self {
        Self { eth: EthPrecompiles::new(spec), overrides }
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for OverriddenPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec)
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
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
        self.eth.warm_addresses()
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
