//! The message relayer: delivers every message sent to the L2 through the L1 bridge (deposits
//! among them) as soon as an L2 block's L1 anchor covers it, so that a user who deposits on L1
//! sees the L2 balance without doing anything on the L2 (docs/messaging.md).
//!
//! Every poll interval it reads the L2's newest block and its anchor (an L1 block hash), reads
//! the bridge's `MessageSent` events up to that L1 block, and for each message the L2 bridge has
//! not delivered sends, from its own L2 account, `relayMessage` with the anchor's L1 header and
//! `eth_getProof` of the message's storage slot in the bridge at that L1 block. It talks to the
//! L2 over its JSON-RPC like any other sender, so a restart, a dropped transaction or another
//! relayer delivering first costs nothing: what the L2 bridge says is delivered is the truth.
//!
//! It records in the node's database the L1 block through which it has seen every message
//! delivered, and starts there after a restart rather than at the bridge's deployment.

use crate::{error::L1Error, l1_follower::L1Endpoint, metrics::RelayerMetrics, store::Store};
use alloy_consensus::Header;
use alloy_eips::BlockNumberOrTag;
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::Filter;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolEvent;
use batcher::{
    bridge::NativeRollupBridge::{MessageRelayed, MessageSent},
    messages::{Direction, L2_BRIDGE_ADDRESS, L2Bridge, MessageFields},
};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// How many L1 blocks one `eth_getLogs` covers.
const LOG_WINDOW: u64 = 1_000;

/// How long a delivery sent without effect waits before it is sent again (dropped, replaced, or
/// stuck behind a nonce gap).
const RESEND_AFTER: Duration = Duration::from_secs(30);

/// The L2 bridge's `deliveries` of a message not delivered (`Delivery.None`).
const DELIVERY_NONE: u8 = 0;
/// The L2 bridge's `deliveries` of a message whose call failed (`Delivery.Failed`).
const DELIVERY_FAILED: u8 = 2;

/// How long one request to the L2 may take.
const L2_TIMEOUT: Duration = Duration::from_secs(10);

/// What the relayer needs.
#[derive(Clone, Debug)]
pub struct RelayerConfig {
    /// The L1 the bridge is on.
    pub l1: url::Url,
    /// The L2 node's own JSON-RPC.
    pub l2: url::Url,
    /// The L1 bridge.
    pub bridge: Address,
    /// The L1 block the bridge was deployed in: its events start there.
    pub deployed_at: u64,
    /// The L2's chain id (in every message's hash).
    pub chain_id: u64,
    /// How often to look for messages.
    pub poll_interval: Duration,
}

/// A message sent on L1 and not yet known delivered on the L2.
#[derive(Debug)]
struct Undelivered {
    message: MessageFields,
    /// The L1 block it was sent in: an anchor at or past it covers it.
    l1_block: u64,
    /// When a delivery was last sent, and its L2 transaction.
    sent: Option<(Instant, B256)>,
}

/// Why a round stopped early. Every failure passes: the next round tries again.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    L1(#[from] L1Error),
    #[error("L2 {method}: {message}")]
    L2 { method: &'static str, message: String },
}

fn l2_error(method: &'static str) -> impl Fn(&dyn std::fmt::Display) -> RoundError {
    move |error| RoundError::L2 { method, message: error.to_string() }
}

/// Delivers the L1 bridge's messages on the L2.
#[derive(Debug)]
pub struct MessageRelayer {
    config: RelayerConfig,
    l1: L1Endpoint,
    relayer: Address,
    wallet: EthereumWallet,
    /// The next L1 block whose events are to be read.
    next_block: u64,
    /// The next L2 block whose withdrawals are to be counted.
    next_l2_block: u64,
    undelivered: BTreeMap<B256, Undelivered>,
    /// Where it records how far it has seen messages delivered.
    store: Store,
    /// The L1 block through which it last recorded every message delivered.
    recorded_through: Option<u64>,
    metrics: RelayerMetrics,
    /// The last round failed: said once until one succeeds.
    failing: bool,
}

impl MessageRelayer {
    /// A relayer that sends its deliveries from `key`'s L2 account and records its progress in
    /// `store`.
    pub fn new(config: RelayerConfig, key: PrivateKeySigner, store: Store, metrics: RelayerMetrics) -> Self {
        let l1 = L1Endpoint::new(config.l1.clone());
        let relayer = key.address();
        let next_block = config.deployed_at;
        Self {
            config,
            l1,
            relayer,
            wallet: EthereumWallet::from(key),
            next_block,
            next_l2_block: 0,
            undelivered: BTreeMap::new(),
            store,
            recorded_through: None,
            metrics,
            failing: false,
        }
    }

    /// Starts after the L1 block through which it recorded every message delivered, if past
    /// the bridge's deployment.
    async fn resume(&mut self) {
        match self.store.relayer_delivered_through(self.config.bridge).await {
            Ok(Some(through)) => {
                self.recorded_through = Some(through);
                self.next_block = self.next_block.max(through.saturating_add(1));
            }
            Ok(None) => {}
            // Reading from the deployment on finds the same messages, only later.
            Err(error) => {
                tracing::warn!(target: "relayer", %error, "cannot read how far messages were delivered")
            }
        }
    }

    /// The L1 block through which every message read was seen delivered: just before the
    /// oldest one not seen delivered, or the last block read.
    fn delivered_through(&self) -> Option<u64> {
        let read_through = self.next_block.checked_sub(1)?;
        let oldest_undelivered = self.undelivered.values().map(|message| message.l1_block).min();
        match oldest_undelivered {
            Some(block) => block.checked_sub(1).map(|before| before.min(read_through)),
            None => Some(read_through),
        }
    }

    /// Records [`Self::delivered_through`] if it moved on.
    async fn record_progress(&mut self) {
        let Some(through) = self.delivered_through() else { return };
        if self.recorded_through.is_some_and(|recorded| recorded >= through) {
            return;
        }
        match self.store.set_relayer_delivered_through(self.config.bridge, through).await {
            Ok(()) => self.recorded_through = Some(through),
            // The next round records it again.
            Err(error) => {
                tracing::warn!(target: "relayer", %error, "cannot record how far messages were delivered")
            }
        }
    }

    /// Delivers messages every poll interval for as long as the task runs.
    pub async fn run(mut self) {
        tracing::info!(
            target: "relayer",
            relayer = %self.relayer,
            bridge = %self.config.bridge,
            "delivering the bridge's messages to the L2"
        );
        self.resume().await;
        let mut interval = tokio::time::interval(self.config.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match self.round().await {
                Ok(()) => {
                    self.record_progress().await;
                    if std::mem::take(&mut self.failing) {
                        tracing::info!(target: "relayer", "delivering messages again");
                    }
                }
                Err(error) => {
                    self.metrics.failures.increment(1);
                    if !std::mem::replace(&mut self.failing, true) {
                        tracing::warn!(target: "relayer", %error, "cannot deliver messages now; trying again");
                    } else {
                        tracing::debug!(target: "relayer", %error, "cannot deliver messages now");
                    }
                }
            }
            self.metrics.undelivered.set(self.undelivered.len() as f64);
        }
    }

    /// One round: the L2's newest anchor, the messages it covers, a delivery for each.
    async fn round(&mut self) -> Result<(), RoundError> {
        let l2 = ProviderBuilder::new().wallet(self.wallet.clone()).connect_http(self.config.l2.clone());
        let latest = timeout("eth_getBlockByNumber", l2.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .ok_or_else(|| RoundError::L2 {
                method: "eth_getBlockByNumber",
                message: "no latest block".into(),
            })?;
        let anchor = latest.header.parent_beacon_block_root.unwrap_or_default();
        if anchor.is_zero() {
            // Not anchored yet: nothing on L1 can be proven on the L2.
            return Ok(());
        }
        let l1 = self.l1.clone();
        let Some(anchor_block) =
            l1.request("eth_getBlockByHash", l1.provider.get_block_by_hash(anchor)).await?
        else {
            // An L1 reorganisation took the anchor away: the next block anchors elsewhere.
            return Ok(());
        };
        let header: Header = anchor_block.header.inner.clone();
        self.read_messages(header.number).await?;
        self.count_withdrawals(&l2, latest.header.number).await?;
        let covered: Vec<B256> = self
            .undelivered
            .iter()
            .filter(|(_, message)| message.l1_block <= header.number)
            .map(|(hash, _)| *hash)
            .collect();
        if covered.is_empty() {
            return Ok(());
        }
        let header_rlp = Bytes::from(alloy_rlp::encode(&header));
        if keccak256(&header_rlp) != anchor {
            return Err(RoundError::L1(L1Error::Request {
                url: l1.origin.clone(),
                method: "eth_getBlockByHash",
                message: format!("the header of {anchor} does not hash to it"),
            }));
        }
        let l2_bridge = L2Bridge::new(L2_BRIDGE_ADDRESS, &l2);
        for hash in covered {
            let delivery = timeout("eth_call", l2_bridge.deliveries(hash).call()).await?;
            if delivery == DELIVERY_FAILED
                && let Some(entry) = self.undelivered.get(&hash)
            {
                self.metrics.failed_calls.increment(1);
                tracing::warn!(
                    target: "relayer",
                    message = %hash,
                    to = %entry.message.to,
                    value = %entry.message.value,
                    "a message was delivered but its call failed: its value waits in the L2 bridge until \
                     retryMessage succeeds"
                );
            }
            if delivery != DELIVERY_NONE {
                self.delivered(hash);
                continue;
            }
            let Some(entry) = self.undelivered.get_mut(&hash) else { continue };
            if entry.sent.is_some_and(|(at, _)| at.elapsed() < RESEND_AFTER) {
                continue;
            }
            let proof = l1
                .request(
                    "eth_getProof",
                    l1.provider.get_proof(self.config.bridge, vec![hash]).number(header.number),
                )
                .await?;
            let storage_proof =
                proof.storage_proof.first().map(|slot| slot.proof.clone()).unwrap_or_default();
            let call = l2_bridge.relayMessage(
                entry.message.to_l2(),
                U256::from(latest.header.timestamp),
                header_rlp.clone(),
                proof.account_proof,
                storage_proof,
            );
            match timeout("eth_sendRawTransaction", call.send()).await {
                Ok(pending) => {
                    let transaction = *pending.tx_hash();
                    tracing::info!(
                        target: "relayer",
                        message = %hash,
                        l1_block = entry.l1_block,
                        to = %entry.message.to,
                        value = %entry.message.value,
                        l2_transaction = %transaction,
                        "delivering a message from L1"
                    );
                    entry.sent = Some((Instant::now(), transaction));
                }
                // One message the L2 bridge refuses (its estimate reverts) does not hold up the
                // others; it is tried again after `RESEND_AFTER`.
                Err(error) => {
                    self.metrics.failures.increment(1);
                    tracing::warn!(target: "relayer", message = %hash, %error, "a delivery was refused");
                    entry.sent = Some((Instant::now(), B256::ZERO));
                }
            }
        }
        Ok(())
    }

    /// Reads the bridge's `MessageSent` events from the next unread L1 block to `to`.
    async fn read_messages(&mut self, to: u64) -> Result<(), RoundError> {
        let l1 = self.l1.clone();
        while self.next_block <= to {
            let high = (self.next_block + LOG_WINDOW - 1).min(to);
            let filter = Filter::new()
                .address(self.config.bridge)
                .event_signature(vec![MessageSent::SIGNATURE_HASH, MessageRelayed::SIGNATURE_HASH])
                .from_block(self.next_block)
                .to_block(high);
            let logs = l1.request("eth_getLogs", l1.provider.get_logs(&filter)).await?;
            for log in logs {
                if MessageRelayed::decode_log(&log.inner).is_ok() {
                    self.metrics.withdrawals_relayed.increment(1);
                    continue;
                }
                let (Ok(event), Some(l1_block)) = (MessageSent::decode_log(&log.inner), log.block_number)
                else {
                    continue;
                };
                let message = MessageFields::from(&event.data);
                let hash = message.hash(Direction::L1ToL2, self.config.chain_id);
                if hash != event.hash {
                    continue;
                }
                if self.undelivered.insert(hash, Undelivered { message, l1_block, sent: None }).is_none() {
                    self.metrics.seen.increment(1);
                }
            }
            self.next_block = high + 1;
        }
        Ok(())
    }

    /// Counts the messages to L1 (withdrawals) the L2 bridge recorded up to L2 block `to`.
    async fn count_withdrawals(&mut self, l2: &impl Provider, to: u64) -> Result<(), RoundError> {
        while self.next_l2_block <= to {
            let high = (self.next_l2_block + LOG_WINDOW - 1).min(to);
            let filter = Filter::new()
                .address(L2_BRIDGE_ADDRESS)
                .event_signature(L2Bridge::MessageSent::SIGNATURE_HASH)
                .from_block(self.next_l2_block)
                .to_block(high);
            let logs = timeout("eth_getLogs", l2.get_logs(&filter)).await?;
            self.metrics.withdrawals_sent.increment(logs.len() as u64);
            self.next_l2_block = high + 1;
        }
        Ok(())
    }

    /// Forgets a message the L2 bridge delivered (by this relayer or anyone).
    fn delivered(&mut self, hash: B256) {
        if self.undelivered.remove(&hash).is_some() {
            self.metrics.delivered.increment(1);
        }
    }
}

/// Awaits one L2 request for at most [`L2_TIMEOUT`].
async fn timeout<T, E: std::fmt::Display>(
    method: &'static str,
    request: impl std::future::IntoFuture<Output = Result<T, E>>,
) -> Result<T, RoundError> {
    match tokio::time::timeout(L2_TIMEOUT, request.into_future()).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(l2_error(method)(&error)),
        Err(_) => Err(RoundError::L2 { method, message: format!("no answer within {L2_TIMEOUT:?}") }),
    }
}
