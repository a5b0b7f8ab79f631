//! `eth_fillTransaction`: a transaction request completed as the node would complete it before
//! a wallet signs it (geth's method): the chain id, the sender's next nonce after its pending
//! transactions, fees from the node's suggestion and an estimate of the gas. Nothing is signed.

use super::{
    call::{EthCallApiServer, request_input},
    error::RpcError,
    eth::EthRpc,
    state::EthStateApiServer,
};
use alloy_eips::BlockId;
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use serde::Serialize;

/// Completing transactions.
#[rpc(server, namespace = "eth")]
pub trait EthFillApi {
    /// `request` with every missing field filled, unsigned.
    #[method(name = "fillTransaction", with_extensions)]
    async fn fill_transaction(&self, request: TransactionRequest) -> Result<FilledTransaction, RpcError>;
}

/// The `eth_fillTransaction` answer.
#[derive(Clone, Debug, Serialize)]
pub struct FilledTransaction {
    /// The transaction to sign, with the spec's `gasPrice` (the max fee per gas, for a
    /// transaction not yet included) beside an EIP-1559 one's fee fields.
    tx: serde_json::Value,
}

#[async_trait]
impl EthFillApiServer for EthRpc {
    async fn fill_transaction(
        &self,
        ext: &jsonrpsee::Extensions,
        mut request: TransactionRequest,
    ) -> Result<FilledTransaction, RpcError> {
        // Refuses blob transactions and disagreeing `data` and `input`, as a call would.
        request.input = request_input(&request)?.into();
        match request.chain_id {
            Some(chain_id) if chain_id != self.chain.chain_id => {
                return Err(RpcError::InvalidParams(format!(
                    "chainId {chain_id} does not match the node's {}",
                    self.chain.chain_id
                )));
            }
            _ => request.chain_id = Some(self.chain.chain_id),
        }
        if request.nonce.is_none() {
            // What `eth_getTransactionCount` answers at `pending`.
            let from = request.from.unwrap_or_default();
            let nonce = EthStateApiServer::transaction_count(self, from, Some(BlockId::pending())).await?;
            request.nonce = Some(nonce.to());
        }
        // EIP-1559 fees unless the request priced it the legacy way: the suggested tip over
        // twice the next base fee, room for two blocks of full ones.
        if request.gas_price.is_none() {
            let tip = match request.max_priority_fee_per_gas {
                Some(tip) => tip,
                None => self.suggested_tip().await?,
            };
            request.max_priority_fee_per_gas = Some(tip);
            if request.max_fee_per_gas.is_none() {
                let base_fee = u128::from(self.next_base_fee());
                request.max_fee_per_gas = Some(base_fee.saturating_mul(2).saturating_add(tip));
            }
        }
        if request.gas.is_none() {
            let gas = EthCallApiServer::estimate_gas(self, ext, request.clone(), None, None, None).await?;
            request.gas = Some(gas.to());
        }
        let tx = request.build_typed_tx().map_err(|_| {
            RpcError::InvalidParams("the request does not make a complete transaction".into())
        })?;
        let mut tx = serde_json::to_value(&tx)?;
        if let Some(fields) = tx.as_object_mut()
            && let Some(max_fee) = fields.get("maxFeePerGas").cloned()
        {
            fields.entry("gasPrice").or_insert(max_fee);
        }
        Ok(FilledTransaction { tx })
    }
}
