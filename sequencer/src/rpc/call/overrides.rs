//! What the node adds to alloy-evm's overrides of a call's state and block (which `mod.rs`
//! applies): the overrides it refuses, and the precompiles they move or replace, as geth moves
//! them (`movePrecompileToAddress`).

use crate::rpc::error::RpcError;
use alloy_primitives::Address;
use alloy_rpc_types_eth::state::StateOverride;
use revm::precompile::{PrecompileSpecId, Precompiles};
use trace_builder::PrecompileOverrides;

/// Refuses state overrides the node does not apply: an account whose storage is both replaced
/// and patched.
pub(super) fn check_overrides(overrides: &StateOverride) -> Result<(), RpcError> {
    if overrides.values().any(|account| account.state.is_some() && account.state_diff.is_some()) {
        return Err(RpcError::InvalidParams("an account override has both state and stateDiff".into()));
    }
    Ok(())
}

/// A `movePrecompileToAddress` override the node refuses.
#[derive(Debug, thiserror::Error)]
pub enum PrecompileMoveError {
    /// Only a precompile moves.
    #[error("account {0} is not a precompile")]
    NotAPrecompile(Address),
    /// A precompile moved to its own address.
    #[error("account {0} is moved to itself")]
    ToItself(Address),
    /// Two precompiles moved to one address.
    #[error("more than one precompile is moved to {0}")]
    SameDestination(Address),
    /// A precompile moved to an address the overrides set too.
    #[error("account {0} is already overridden")]
    DestinationOverridden(Address),
}

/// The precompiles `overrides` move or replace, as geth applies them: a precompile moves from
/// a precompile's address to one the overrides leave alone, and any override at a precompile's
/// address makes it an ordinary account there, whose code then runs.
pub(super) fn precompile_overrides(
    overrides: &StateOverride,
    spec: revm::primitives::hardfork::SpecId,
) -> Result<PrecompileOverrides, PrecompileMoveError> {
    let forked = Precompiles::new(PrecompileSpecId::from_spec_id(spec));
    let mut precompiles = PrecompileOverrides::default();
    let mut destinations = std::collections::HashSet::new();
    // In address order, so that a request with several faults always gets the same error.
    let mut accounts: Vec<_> = overrides.iter().collect();
    accounts.sort_unstable_by_key(|(address, _)| **address);
    for (address, account) in accounts {
        let is_precompile = forked.contains(address);
        match account.move_precompile_to {
            Some(_) if !is_precompile => return Err(PrecompileMoveError::NotAPrecompile(*address)),
            Some(to) if to == *address => return Err(PrecompileMoveError::ToItself(to)),
            Some(to) if !destinations.insert(to) => return Err(PrecompileMoveError::SameDestination(to)),
            Some(to) if overrides.contains_key(&to) => {
                return Err(PrecompileMoveError::DestinationOverridden(to));
            }
            Some(to) => precompiles.move_precompile(*address, to),
            None if is_precompile => precompiles.vacate(*address),
            None => {}
        }
    }
    Ok(precompiles)
}
