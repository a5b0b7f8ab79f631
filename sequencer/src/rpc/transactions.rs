//! Transactions: sending them (`eth_sendRawTransaction`, `eth_sendRawTransactionSync`), preparing
//! one for a wallet to sign (`eth_fillTransaction`), and finding them (by hash or by position in
//! a block) with their receipts, mined or pooled.
//!
//! `eth_sendRawTransactionSync` (EIP-7966) submits a transaction and answers with its receipt
//! once a block includes it, in one round trip; with one-second blocks a wallet then learns the
//! outcome about a second after it sends, without polling. A transaction whose nonce is past the
//! sender's next is refused and not pooled (code 6, the expected nonce in `data`); one its sender
//! cannot fund after its pending ones the pool refuses anyway, with the usual "insufficient
//! funds" error, so code 5 never arises. One that was pooled but not included in time is code 4,
//! its hash in `data`: it stays pooled, as after `eth_sendRawTransaction`.
//!
//! `eth_fillTransaction` (geth's) completes a request as the node would before a wallet signs it:
//! the chain id, the sender's next nonce after its pending transactions, fees from the node's
//! suggestion and an estimate of the gas. Nothing is signed.

use super::{
    call::{EthCallApiServer, refuse_blobs, request_input},
    convert,
    error::RpcError,
    eth::{Admission, EthRpc},
    state::EthStateApiServer,
};
use crate::store::{BlockReader, TransactionReader};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_primitives::{B256, Bytes, U64};
use alloy_rpc_types_eth::{Index, Transaction, TransactionReceipt, TransactionRequest};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use serde::Serialize;
use std::time::Duration;

/// How long `eth_sendRawTransactionSync` waits for the receipt when the request names no timeout
/// or an invalid one (EIP-7966 recommends 2 s; here a few blocks of the default one-second time).
const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest timeout an `eth_sendRawTransactionSync` request may name.
const MAX_SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Sending, preparing and finding transactions and their receipts.
#[rpc(server, namespace = "eth")]
pub trait EthTransactionsApi {
    /// Submits a signed transaction; returns its hash.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, RpcError>;
    /// Submits a signed transaction and returns its receipt once included, waiting at most
    /// `timeout_ms` milliseconds, a number or a hex quantity (the node's default when absent
    /// or zero, the maximum past it).
    #[method(name = "sendRawTransactionSync")]
    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout_ms: Option<Millis>,
    ) -> Result<TransactionReceipt, RpcError>;
    /// `request` with every missing field filled, unsigned.
    #[method(name = "fillTransaction", with_extensions)]
    async fn fill_transaction(&self, request: TransactionRequest) -> Result<FilledTransaction, RpcError>;
    /// A transaction by hash (pooled or mined).
    #[method(name = "getTransactionByHash")]
    async fn transaction_by_hash(&self, hash: B256) -> Result<Option<Transaction>, RpcError>;
    /// The receipt of a mined transaction.
    #[method(name = "getTransactionReceipt")]
    async fn transaction_receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, RpcError>;
    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    async fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError>;
    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError>;
    /// The EIP-2718 bytes of a transaction, mined or pooled.
    #[method(name = "getRawTransactionByHash")]
    async fn raw_transaction_by_hash(&self, hash: B256) -> Result<Option<Bytes>, RpcError>;
}

/// A timeout in milliseconds as clients send it: geth's a JSON number, viem's a hex quantity.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum Millis {
    /// `5000`
    Number(u64),
    /// `"0x1388"`
    Quantity(U64),
}

impl Millis {
    fn get(self) -> u64 {
        match self {
            Self::Number(millis) => millis,
            Self::Quantity(millis) => millis.to::<u64>(),
        }
    }
}

/// The `eth_fillTransaction` answer.
#[derive(Clone, Debug, Serialize)]
pub struct FilledTransaction {
    /// The transaction to sign, with the spec's `gasPrice` (the max fee per gas, for a
    /// transaction not yet included) beside an EIP-1559 one's fee fields.
    tx: serde_json::Value,
}

#[async_trait]
impl EthTransactionsApiServer for EthRpc {
    async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, RpcError> {
        self.submit(raw, Admission::Any).await
    }

    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout_ms: Option<Millis>,
    ) -> Result<TransactionReceipt, RpcError> {
        let timeout = match timeout_ms.map(Millis::get) {
            None | Some(0) => DEFAULT_SYNC_TIMEOUT,
            Some(millis) => Duration::from_millis(millis).min(MAX_SYNC_TIMEOUT),
        };
        // Heads from now on: one sealed while the transaction is admitted is not missed.
        let mut heads = self.head.clone();
        heads.borrow_and_update();
        let hash = self.submit(raw, Admission::ReadyOnly).await?;
        let included = async {
            loop {
                if let Some(receipt) = self.transaction_receipt(hash).await? {
                    return Ok(receipt);
                }
                if heads.changed().await.is_err() {
                    return Err(RpcError::ShuttingDown);
                }
            }
        };
        match tokio::time::timeout(timeout, included).await {
            Ok(receipt) => receipt,
            Err(_) => Err(RpcError::NotIncluded { hash, timeout }),
        }
    }

    async fn fill_transaction(
        &self,
        ext: &jsonrpsee::Extensions,
        mut request: TransactionRequest,
    ) -> Result<FilledTransaction, RpcError> {
        // Refuses blob transactions (it fills no sidecar) and disagreeing `data` and `input`.
        refuse_blobs(&request, &self.chain, "eth_fillTransaction")?;
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

    async fn transaction_by_hash(&self, hash: B256) -> Result<Option<Transaction>, RpcError> {
        if let Some(stored) = self.store.transaction(hash).await? {
            let header = self.store.header_by_number(stored.block_number).await?;
            return Ok(header.map(|header| {
                let hash = header.hash_slow();
                convert::mined_transaction(&stored, &header, hash)
            }));
        }
        Ok(self.mempool.get(&hash).map(convert::pending_transaction))
    }

    async fn transaction_receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, RpcError> {
        let Some(stored) = self.store.transaction(hash).await? else { return Ok(None) };
        let Some(header) = self.store.header_by_number(stored.block_number).await? else {
            return Ok(None);
        };
        // Only a receipt with logs needs where its logs start in the block.
        let first_log_index = if stored.record.receipt.logs().is_empty() {
            0
        } else {
            let first = self.store.first_log_index(stored.block_number, stored.index).await?;
            first.ok_or(RpcError::MissingLogs(hash))?
        };
        Ok(Some(convert::receipt(&self.chain, &header, header.hash_slow(), &stored, first_log_index)))
    }

    async fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError> {
        self.transaction_at(BlockId::from(hash), index.0).await
    }

    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> Result<Option<Transaction>, RpcError> {
        self.transaction_at(BlockId::Number(number), index.0).await
    }

    async fn raw_transaction_by_hash(&self, hash: B256) -> Result<Option<Bytes>, RpcError> {
        if let Some(stored) = self.store.transaction(hash).await? {
            return Ok(Some(stored.record.raw));
        }
        Ok(self.mempool.get(&hash).map(|tx| tx.inner().encoded_2718().into()))
    }
}
