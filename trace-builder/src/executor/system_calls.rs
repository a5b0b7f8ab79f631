//! The system calls that run outside transactions: EIP-2935 (block hash history) and EIP-4788
//! (beacon block root) before the transactions, EIP-7002 (withdrawal requests) and EIP-7251
//! (consolidation requests) after them. They commit through the block's state layer like
//! transactions, so their reads and writes are part of the block's access and changes.

use super::{BlockEvm, block_state::BlockState};
use crate::error::ExecutionError;
use alloy_eips::{
    eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS,
    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, eip7002::WITHDRAWAL_REQUEST_TYPE,
    eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, eip7251::CONSOLIDATION_REQUEST_TYPE, eip7685::Requests,
};
use alloy_primitives::{Address, B256, Bytes};
use revm::{
    Database, SystemCallCommitEvm,
    context::result::{EVMError, ExecutionResult},
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
};

/// Runs the pre-block system calls of `spec`: EIP-2935 stores `parent_hash` in the history
/// contract (Prague on), EIP-4788 stores `parent_beacon_block_root` (Cancun on).
///
/// Both are "unchecked" as in the EIPs: a contract without code makes the call a no-op, and a
/// call that reverts leaves the state as it was; neither invalidates the block.
pub(super) fn pre_block<DB: Database>(
    evm: &mut BlockEvm<DB>,
    spec: SpecId,
    number: u64,
    parent_hash: B256,
    parent_beacon_block_root: B256,
) -> Result<(), ExecutionError> {
    if spec.is_enabled_in(SpecId::PRAGUE) {
        unchecked_call(evm, number, HISTORY_STORAGE_ADDRESS, parent_hash)?;
    }
    if spec.is_enabled_in(SpecId::CANCUN) {
        unchecked_call(evm, number, BEACON_ROOTS_ADDRESS, parent_beacon_block_root)?;
    }
    Ok(())
}

/// Runs the post-block system calls of `spec` (Prague on) and returns the block's EIP-7685
/// requests: the withdrawal requests (type 1) of EIP-7002 and the consolidation requests
/// (type 2) of EIP-7251, each the output of its call.
///
/// Both calls are "checked": a contract without code or a call that fails makes the block
/// invalid. Deposit requests (type 0, EIP-6110) are not collected: they come from the logs of
/// the beacon chain deposit contract, which the rollup's L2 does not have; a chain that has
/// one would need them added here.
pub(super) fn post_block<DB: Database>(
    evm: &mut BlockEvm<DB>,
    spec: SpecId,
    number: u64,
) -> Result<Requests, ExecutionError> {
    let mut requests = Requests::default();
    if spec.is_enabled_in(SpecId::PRAGUE) {
        for (request_type, address) in [
            (WITHDRAWAL_REQUEST_TYPE, WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS),
            (CONSOLIDATION_REQUEST_TYPE, CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS),
        ] {
            let output = checked_call(evm, number, address)?;
            if !output.is_empty() {
                requests.push_request_with_type(request_type, output);
            }
        }
    }
    Ok(requests)
}

fn unchecked_call<DB: Database>(
    evm: &mut BlockEvm<DB>,
    number: u64,
    address: Address,
    data: B256,
) -> Result<(), ExecutionError> {
    evm.system_call_commit(address, Bytes::copy_from_slice(data.as_slice()))
        .map(drop)
        .map_err(|error| evm_error(number, address, error))
}

fn checked_call<DB: Database>(
    evm: &mut BlockEvm<DB>,
    number: u64,
    address: Address,
) -> Result<Bytes, ExecutionError> {
    let state: &mut BlockState<DB> = &mut evm.ctx.journaled_state.database;
    let info = state
        .basic(address)
        .map_err(|error| ExecutionError::Database { number, reason: error.to_string() })?;
    if info.is_none_or(|info| info.code_hash == KECCAK_EMPTY) {
        return Err(ExecutionError::MissingSystemContract { number, address });
    }
    match evm.system_call_commit(address, Bytes::new()) {
        Ok(ExecutionResult::Success { output, .. }) => Ok(output.into_data()),
        Ok(failed) => Err(ExecutionError::SystemCallFailed { number, address, reason: failed.to_string() }),
        Err(error) => Err(evm_error(number, address, error)),
    }
}

fn evm_error<E: std::fmt::Display>(number: u64, address: Address, error: EVMError<E>) -> ExecutionError {
    match error {
        EVMError::Database(error) => ExecutionError::Database { number, reason: error.to_string() },
        other => ExecutionError::SystemCallFailed { number, address, reason: other.to_string() },
    }
}
