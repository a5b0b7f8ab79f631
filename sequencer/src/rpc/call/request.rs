//! A transaction request as revm's transaction.
//!
//! Ours, not alloy-evm's `TryIntoTxEnv`: that one prices an EIP-1559 request at its effective
//! gas price (so revm checks the balance against less than geth's `gas * maxFeePerGas`) and
//! refuses fee fields with its own words before revm's checks, whose geth wording wallets match.

use crate::rpc::error::RpcError;
use alloy_primitives::{Bytes, TxKind};
use alloy_rpc_types_eth::TransactionRequest;
use revm::context::{TxEnv, either::Either};

/// The input of a request that names a kind of transaction the L2 runs: blob transactions are
/// not, and `data` and `input` must agree when both are given.
pub(in crate::rpc) fn request_input(request: &TransactionRequest) -> Result<Bytes, RpcError> {
    if request.blob_versioned_hashes.as_ref().is_some_and(|hashes| !hashes.is_empty()) {
        return Err(RpcError::BlobTransactionsUnsupported);
    }
    Ok(request
        .input
        .clone()
        .try_into_unique_input()
        .map_err(|_| RpcError::InvalidParams(r#"both "data" and "input" are set and not equal"#.into()))?
        .unwrap_or_default())
}

/// revm's transaction for a request, with `gas` gas, on chain `chain_id` unless it names one.
pub(super) fn tx_env(request: &TransactionRequest, gas: u64, chain_id: u64) -> Result<TxEnv, RpcError> {
    let input = request_input(request)?;
    let authorization_list: Vec<_> =
        request.authorization_list.iter().flatten().cloned().map(Either::Left).collect();
    let tx_type = if !authorization_list.is_empty() {
        4
    } else if request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some() {
        2
    } else if request.access_list.is_some() {
        1
    } else {
        0
    };
    Ok(TxEnv {
        tx_type,
        caller: request.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price: request.max_fee_per_gas.or(request.gas_price).unwrap_or_default(),
        kind: request.to.unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: input,
        nonce: request.nonce.unwrap_or_default(),
        chain_id: Some(request.chain_id.unwrap_or(chain_id)),
        access_list: request.access_list.clone().unwrap_or_default(),
        gas_priority_fee: request.max_priority_fee_per_gas,
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list,
    })
}
