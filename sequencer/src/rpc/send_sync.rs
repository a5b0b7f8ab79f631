//! `eth_sendRawTransactionSync` (EIP-7966): submits a transaction and answers with its
//! receipt once a block includes it, in one round trip; with one-second blocks a wallet then
//! learns the outcome about a second after it sends, without polling.
//!
//! A transaction whose nonce is past the sender's next is refused and not pooled (code 6,
//! the expected nonce in `data`); one its sender cannot fund after its pending ones the pool
//! refuses anyway, with the usual "insufficient funds" error, so code 5 never arises. One that
//! was pooled but not included in time is code 4, its hash in `data`: it stays pooled, as
//! after `eth_sendRawTransaction`.

use super::{
    error::RpcError,
    eth::{Admission, EthRpc},
    transactions::EthTransactionsApiServer,
};
use alloy_primitives::{Bytes, U64};
use alloy_rpc_types_eth::TransactionReceipt;
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use std::time::Duration;

/// How long a request waits for the receipt when it names no timeout or an invalid one (EIP-7966
/// recommends 2 s; here a few blocks of the default one-second time).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest timeout a request may name.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Synchronous submission.
#[rpc(server, namespace = "eth")]
pub trait EthSendSyncApi {
    /// Submits a signed transaction and returns its receipt once included, waiting at most
    /// `timeout_ms` milliseconds, a number or a hex quantity (the node's default when absent
    /// or zero, the maximum past it).
    #[method(name = "sendRawTransactionSync")]
    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout_ms: Option<Millis>,
    ) -> Result<TransactionReceipt, RpcError>;
}

#[async_trait]
impl EthSendSyncApiServer for EthRpc {
    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout_ms: Option<Millis>,
    ) -> Result<TransactionReceipt, RpcError> {
        let timeout = match timeout_ms.map(Millis::get) {
            None | Some(0) => DEFAULT_TIMEOUT,
            Some(millis) => Duration::from_millis(millis).min(MAX_TIMEOUT),
        };
        // Heads from now on: one sealed while the transaction is admitted is not missed.
        let mut heads = self.head.clone();
        heads.borrow_and_update();
        let hash = self.submit(raw, Admission::ReadyOnly).await?;
        let included = async {
            loop {
                if let Some(receipt) = EthTransactionsApiServer::transaction_receipt(self, hash).await? {
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
}
