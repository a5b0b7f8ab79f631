//! The `txpool_` namespace, as geth serves it: counts, contents and a one-line summary per
//! transaction, pending and queued, by sender and nonce.

use super::{convert, eth::EthRpc};
use alloy_consensus::{Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, U64};
use alloy_rpc_types_eth::Transaction;
use jsonrpsee::{
    core::{RpcResult, async_trait},
    proc_macros::rpc,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `txpool_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxpoolStatus {
    /// Executable transactions.
    pub pending: U64,
    /// Transactions waiting for a nonce gap to fill or for funds.
    pub queued: U64,
}

/// Per nonce, as a decimal string (as geth keys it).
pub type ByNonce<T> = BTreeMap<String, T>;

/// Per sender (EIP-55 checksummed, as geth keys it), per nonce.
pub type BySender<T> = BTreeMap<String, ByNonce<T>>;

/// `txpool_content` and `txpool_inspect`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxpoolContent<T> {
    /// Executable transactions.
    pub pending: BySender<T>,
    /// Transactions waiting for a nonce gap to fill or for funds.
    pub queued: BySender<T>,
}

/// `txpool_` methods.
#[rpc(server, namespace = "txpool")]
pub trait TxpoolApi {
    /// Number of pending and queued transactions.
    #[method(name = "status")]
    async fn status(&self) -> RpcResult<TxpoolStatus>;
    /// Every pooled transaction.
    #[method(name = "content")]
    async fn content(&self) -> RpcResult<TxpoolContent<Transaction>>;
    /// A one-line summary of every pooled transaction.
    #[method(name = "inspect")]
    async fn inspect(&self) -> RpcResult<TxpoolContent<String>>;
    /// The pooled transactions of one sender.
    #[method(name = "contentFrom")]
    async fn content_from(&self, sender: Address) -> RpcResult<TxpoolContentFrom>;
}

/// `txpool_contentFrom`: one sender's pooled transactions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxpoolContentFrom {
    /// Executable transactions.
    pub pending: ByNonce<Transaction>,
    /// Transactions waiting for a nonce gap to fill or for funds.
    pub queued: ByNonce<Transaction>,
}

#[async_trait]
impl TxpoolApiServer for EthRpc {
    async fn status(&self) -> RpcResult<TxpoolStatus> {
        let size = self.mempool.size();
        Ok(TxpoolStatus { pending: U64::from(size.pending), queued: U64::from(size.queued) })
    }

    async fn content(&self) -> RpcResult<TxpoolContent<Transaction>> {
        Ok(self.pool_view(convert::pending_transaction))
    }

    async fn content_from(&self, sender: Address) -> RpcResult<TxpoolContentFrom> {
        let mut content = self.mempool.content_from(sender);
        let side = |side: &mut BTreeMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>| {
            by_nonce(side.remove(&sender).unwrap_or_default(), convert::pending_transaction)
        };
        Ok(TxpoolContentFrom { pending: side(&mut content.pending), queued: side(&mut content.queued) })
    }

    async fn inspect(&self) -> RpcResult<TxpoolContent<String>> {
        Ok(self.pool_view(|tx| {
            let inner = tx.inner();
            let to = inner.to().map_or_else(|| "contract creation".to_string(), |to| to.to_string());
            format!(
                "{to}: {} wei + {} gas × {} wei",
                inner.value(),
                inner.gas_limit(),
                inner.max_fee_per_gas()
            )
        }))
    }
}

impl EthRpc {
    fn pool_view<T>(&self, view: impl Fn(Recovered<TxEnvelope>) -> T) -> TxpoolContent<T> {
        let content = self.mempool.content();
        let side = |side: BTreeMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>| {
            side.into_iter().map(|(sender, txs)| (sender.to_checksum(None), by_nonce(txs, &view))).collect()
        };
        TxpoolContent { pending: side(content.pending), queued: side(content.queued) }
    }
}

/// One sender's transactions keyed by nonce, each as `view` shows it.
fn by_nonce<T>(
    txs: BTreeMap<u64, Recovered<TxEnvelope>>,
    view: impl Fn(Recovered<TxEnvelope>) -> T,
) -> ByNonce<T> {
    txs.into_iter().map(|(nonce, tx)| (nonce.to_string(), view(tx))).collect()
}
