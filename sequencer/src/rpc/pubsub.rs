//! `eth_subscribe` over WebSocket: `newHeads`, `logs` and `newPendingTransactions`.
//!
//! Each subscription runs as a task that follows the builder's head (every sealed block is
//! sent once, in order, even when several are sealed between two wake-ups) or the pool's feed of
//! admitted transactions, and ends when the client unsubscribes or disconnects.

use super::{convert, error::RpcError, eth::EthRpc};
use crate::store::BlockReader;
use alloy_rpc_types_eth::Filter;
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink,
    core::{SubscriptionResult, async_trait},
    proc_macros::rpc,
};
use serde::Serialize;
use tokio::sync::broadcast;

/// Subscriptions.
#[rpc(server, namespace = "eth")]
pub trait EthPubSubApi {
    /// Subscribes to `newHeads`, `logs` (with a filter) or `newPendingTransactions` (hashes, or
    /// full transactions when the parameter is `true`).
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = serde_json::Value)]
    async fn subscribe(&self, kind: String, params: Option<serde_json::Value>) -> SubscriptionResult;
}

#[async_trait]
impl EthPubSubApiServer for EthRpc {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult {
        let reject = RpcError::InvalidParams;
        match kind.as_str() {
            "newHeads" | "logs" => {
                let (filter, lease) = match (kind.as_str(), params) {
                    ("logs", Some(params)) => {
                        let filter = serde_json::from_value::<Filter>(params)
                            .map_err(|error| reject(format!("invalid logs filter: {error}")))
                            .and_then(|filter| super::logs::check_filter_size(&filter).map(|()| filter))
                            .and_then(|filter| Ok((self.filters.lease(&filter)?, filter)));
                        match filter {
                            Ok((lease, filter)) => (Some(filter), Some(lease)),
                            Err(error) => {
                                pending.reject(error).await;
                                return Ok(());
                            }
                        }
                    }
                    ("logs", None) => (Some(Filter::default()), None),
                    _ => (None, None),
                };
                let sink = pending.accept().await?;
                let rpc = self.clone();
                // The filter's lease on the criteria ends with the subscription.
                tokio::spawn(async move {
                    rpc.follow_blocks(sink, filter).await;
                    drop(lease);
                });
            }
            "newPendingTransactions" => {
                let full = params.as_ref().and_then(serde_json::Value::as_bool).unwrap_or(false);
                let receiver = self.pending_txs.subscribe();
                let sink = pending.accept().await?;
                let rpc = self.clone();
                tokio::spawn(async move { rpc.follow_pool(sink, receiver, full).await });
            }
            other => {
                pending.reject(reject(format!("unknown subscription `{other}`"))).await;
            }
        }
        Ok(())
    }
}

impl EthRpc {
    /// Sends every new block's header (`filter` is `None`) or its matching logs.
    async fn follow_blocks(self, sink: SubscriptionSink, filter: Option<Filter>) {
        let mut heads = self.head.clone();
        let mut last = heads.borrow_and_update().number;
        loop {
            tokio::select! {
                () = sink.closed() => return,
                changed = heads.changed() => if changed.is_err() { return },
            }
            let head = heads.borrow_and_update().number;
            for number in last + 1..=head {
                let sent = match &filter {
                    None => match self.store.header_by_number(number).await {
                        Ok(Some(header)) => send(&sink, &convert::block(header, &[], false).header).await,
                        _ => true,
                    },
                    Some(filter) => match self.block_logs(number).await {
                        Ok(logs) => {
                            let mut sent = true;
                            for log in logs.iter().filter(|log| filter.matches(&log.inner)) {
                                sent &= send(&sink, log).await;
                            }
                            sent
                        }
                        Err(error) => {
                            tracing::warn!(target: "rpc", %error, "logs subscription query failed");
                            true
                        }
                    },
                };
                if !sent {
                    return;
                }
            }
            last = head;
        }
    }

    /// Sends every transaction the pool admits, as a hash or in full.
    async fn follow_pool(
        self,
        sink: SubscriptionSink,
        mut receiver: broadcast::Receiver<alloy_primitives::B256>,
        full: bool,
    ) {
        loop {
            let hash = tokio::select! {
                () = sink.closed() => return,
                received = receiver.recv() => match received {
                    Ok(hash) => hash,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            let sent = if full {
                match self.mempool.get(&hash) {
                    Some(tx) => send(&sink, &convert::pending_transaction(tx)).await,
                    None => true,
                }
            } else {
                send(&sink, &hash).await
            };
            if !sent {
                return;
            }
        }
    }
}

/// Sends one notification; false when the subscriber is gone.
async fn send(sink: &SubscriptionSink, item: &impl Serialize) -> bool {
    let Ok(message) = serde_json::value::to_raw_value(item) else { return false };
    sink.send(SubscriptionMessage::from(message)).await.is_ok()
}
