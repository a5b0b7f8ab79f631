//! A transaction request as revm's transaction.
//!
//! Ours, not alloy-evm's `TryIntoTxEnv`: that one prices an EIP-1559 request at its effective
//! gas price (so revm checks the balance against less than geth's `gas * maxFeePerGas`) and
//! refuses fee fields with its own words before revm's checks, whose geth wording wallets match.

use crate::rpc::error::RpcError;
use alloy_primitives::{Bytes, TxKind};
use alloy_rpc_types_eth::TransactionRequest;
use revm::context::{TxEnv, either::Either};
use trace_builder::ChainConfig;

/// The input of a request: `data` and `input` must agree when both are given.
pub(in crate::rpc) fn request_input(request: &TransactionRequest) -> Result<Bytes, RpcError> {
    Ok(request
        .input
        .clone()
        .try_into_unique_input()
        .map_err(|_| RpcError::InvalidParams(r#"both "data" and "input" are set and not equal"#.into()))?
        .unwrap_or_default())
}

/// Whether a request names blob versioned hashes: it is then a blob transaction.
fn names_blobs(request: &TransactionRequest) -> bool {
    request.blob_versioned_hashes.as_ref().is_some_and(|hashes| !hashes.is_empty())
}

/// Refuses a request that names blob versioned hashes, for `method`, which builds transactions
/// without a sidecar: on the L2 as the L2 refuses any blob transaction, on the dev L1 as a
/// method that takes none.
pub(in crate::rpc) fn refuse_blobs(
    request: &TransactionRequest,
    chain: &ChainConfig,
    method: &'static str,
) -> Result<(), RpcError> {
    match names_blobs(request) {
        false => Ok(()),
        true if chain.blob_transactions => Err(RpcError::BlobTransactionsUnsupportedBy(method)),
        true => Err(RpcError::BlobTransactionsUnsupported),
    }
}

/// revm's transaction for a request, with `gas` gas, on chain `chain_id` unless it names one.
///
/// A request that names blob versioned hashes is a blob transaction, on a chain that takes them
/// (`blob_transactions`): BLOBHASH reads its hashes, and EXECUTE's blob mode may read the blobs
/// they name. Without `maxFeePerBlobGas` its blob fee cap is zero, and [`unpriced_blobs`] says
/// it runs at a zero blob base fee, as geth runs it.
pub(super) fn tx_env(
    request: &TransactionRequest,
    gas: u64,
    chain_id: u64,
    blob_transactions: bool,
) -> Result<TxEnv, RpcError> {
    let input = request_input(request)?;
    let authorization_list: Vec<_> =
        request.authorization_list.iter().flatten().cloned().map(Either::Left).collect();
    let blob_hashes = request.blob_versioned_hashes.clone().unwrap_or_default();
    let kind = request.to.unwrap_or(TxKind::Create);
    let tx_type = if !blob_hashes.is_empty() {
        if !blob_transactions {
            return Err(RpcError::BlobTransactionsUnsupported);
        }
        if kind.is_create() {
            return Err(RpcError::InvalidParams("blob transaction of type create".into()));
        }
        if !authorization_list.is_empty() {
            return Err(RpcError::InvalidParams(
                "a transaction carries either blobs or authorizations, not both".into(),
            ));
        }
        3
    } else if !authorization_list.is_empty() {
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
        kind,
        value: request.value.unwrap_or_default(),
        data: input,
        nonce: request.nonce.unwrap_or_default(),
        chain_id: Some(request.chain_id.unwrap_or(chain_id)),
        access_list: request.access_list.clone().unwrap_or_default(),
        gas_priority_fee: request.max_priority_fee_per_gas,
        blob_hashes,
        max_fee_per_blob_gas: request.max_fee_per_blob_gas.unwrap_or_default(),
        authorization_list,
    })
}

/// Whether `tx` is a blob transaction without a blob fee cap: it runs at a zero blob base fee
/// (geth's `doCall`), so that a call need not price its blobs.
pub(super) fn unpriced_blobs(tx: &TxEnv) -> bool {
    !tx.blob_hashes.is_empty() && tx.max_fee_per_blob_gas == 0
}
