//! `eth_createAccessList`: the EIP-2930 access list a request would use, and its gas with it.

use super::{Simulator, failure, limits::RPC_GAS_CAP};
use crate::rpc::error::RpcError;
use alloy_eips::eip2930::{AccessList, AccessListItem, AccessListResult};
use alloy_primitives::{TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use revm::{Database, primitives::eip7825::TX_GAS_LIMIT_CAP};

impl Simulator {
    /// Runs `request` until the set of accounts and slots it touches stops changing, as geth
    /// does, and returns that set without the sender, the recipient and the precompiles.
    pub(super) fn access_list(
        mut self,
        mut request: TransactionRequest,
    ) -> Result<AccessListResult, RpcError> {
        let gas = request.gas.unwrap_or(self.env.block.gas_limit.min(TX_GAS_LIMIT_CAP)).min(RPC_GAS_CAP);
        let from = request.from.unwrap_or_default();
        let to = match request.to {
            Some(TxKind::Call(to)) => to,
            _ => from.create(request.nonce.unwrap_or_else(|| {
                self.state.basic(from).ok().flatten().map(|account| account.nonce).unwrap_or_default()
            })),
        };
        let precompiles = self.env.precompiles();
        let mut list = request.access_list.clone().unwrap_or_default();
        for _ in 0..8 {
            request.access_list = Some(list.clone());
            let outcome = self.run(&request, gas, gas.max(TX_GAS_LIMIT_CAP))?;
            let next = AccessList(
                outcome
                    .touched
                    .iter()
                    // As geth's tracer: the sender, the recipient, the precompiles and the
                    // coinbase are warm anyway, so they are listed only for their slots.
                    .filter(|(address, slots)| {
                        let warm = *address == from
                            || *address == to
                            || precompiles.contains(address)
                            || *address == self.env.block.beneficiary;
                        !(warm && slots.is_empty())
                    })
                    .map(|(address, slots)| AccessListItem {
                        address: *address,
                        storage_keys: slots.iter().copied().collect(),
                    })
                    .collect(),
            );
            let mut next = next;
            next.0.sort_by_key(|item| item.address);
            if next == list {
                let error =
                    (!outcome.result.is_success()).then(|| failure(outcome.result.clone()).to_string());
                return Ok(AccessListResult {
                    access_list: list,
                    gas_used: U256::from(outcome.result.tx_gas_used()),
                    error,
                });
            }
            list = next;
        }
        Err(RpcError::AccessListUnsettled)
    }
}
