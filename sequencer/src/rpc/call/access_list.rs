//! `eth_createAccessList`: the EIP-2930 access list a request would use, and its gas with it,
//! collected by revm-inspectors' `AccessListInspector` (geth's tracer: the accounts and slots
//! the opcodes touch, without the sender, the recipient, the precompiles and EIP-7702
//! authorities, which are warm anyway).

use super::{Simulator, failure, limits::RPC_GAS_CAP};
use crate::rpc::error::RpcError;
use alloy_eips::eip2930::AccessListResult;
use alloy_primitives::U256;
use alloy_rpc_types_eth::TransactionRequest;
use revm::primitives::eip7825::TX_GAS_LIMIT_CAP;
use revm_inspectors::access_list::AccessListInspector;

/// Most runs before the list must have settled: each run adds what the one before reached
/// with the list it had.
const MAX_ROUNDS: usize = 8;

impl Simulator {
    /// Runs `request` with the access list it touches until that list stops changing, as geth
    /// does, and returns it with the gas the request uses with it. Addresses warm anyway are
    /// listed only for their slots.
    pub(super) fn access_list(
        mut self,
        mut request: TransactionRequest,
    ) -> Result<AccessListResult, RpcError> {
        let gas = request.gas.unwrap_or(self.env.block.gas_limit.min(TX_GAS_LIMIT_CAP)).min(RPC_GAS_CAP);
        let mut list = request.access_list.clone().unwrap_or_default();
        for _ in 0..MAX_ROUNDS {
            request.access_list = Some(list.clone());
            let mut inspector = AccessListInspector::new(list.clone());
            let result = self.run_inspected(&request, gas, gas.max(TX_GAS_LIMIT_CAP), &mut inspector)?;
            let excluded = inspector.excluded().clone();
            let mut next = inspector.into_access_list();
            // The inspector keeps the request's own entries as given; as geth, an address warm
            // anyway stays only for its slots.
            next.0.retain(|item| !item.storage_keys.is_empty() || !excluded.contains(&item.address));
            next.0.sort_by_key(|item| item.address);
            if next == list {
                let error = (!result.is_success()).then(|| failure(result.clone()).to_string());
                return Ok(AccessListResult {
                    access_list: list,
                    gas_used: U256::from(result.tx_gas_used()),
                    error,
                });
            }
            list = next;
        }
        Err(RpcError::AccessListUnsettled)
    }
}
