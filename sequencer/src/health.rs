//! `GET /health` beside `/metrics`: whether the node is producing blocks, its head, how its
//! link to the L1 stands and, following a bridge, how far settlement trails, as one JSON object. HTTP 200 while the node produces, 503 while it does
//! not: what a load balancer, a container's health check and an orchestrator's probes read.
//!
//! An L1 that is down does not make the node unready: the L2 keeps sealing blocks with the last
//! anchor (docs/anchoring.md). A fresh chain that follows an L1 seals nothing before the L1 first
//! answers, and so is not ready until then.

use crate::{
    bridge_follower::SettlementLag,
    builder::{ChainHead, ProducerStatus},
    l1_follower::L1LinkStatus,
};
use alloy_primitives::Address;
use axum::{Json, http::StatusCode, response::IntoResponse};
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// How many block intervals may pass without a sealed block before the node counts as not
/// producing.
const PRODUCING_BLOCKS: u32 = 3;

/// The shortest such window, whatever the block time: a block that takes a little longer than
/// a short interval (a slow commit) must not make the node flap between ready and not.
const MIN_PRODUCING_WINDOW: Duration = Duration::from_secs(3);

/// Following an L1, no block's timestamp is ahead of the clock, so blocks come at most once a
/// second whatever the block time.
const FOLLOWING_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What `/health` reads: the producer's, the L1 follower's and the bridge follower's published
/// state. Cheap to clone; a report never waits on a component.
#[derive(Clone, Debug)]
pub struct Health {
    /// Longest time since the head was sealed for which the node counts as producing.
    window: Duration,
    heads: watch::Receiver<ChainHead>,
    producer: watch::Receiver<ProducerStatus>,
    /// The L1 follower's link, for an L2 node that follows an L1.
    l1: Option<watch::Receiver<L1LinkStatus>>,
    /// The bridge an L2 node follows, and the bridge follower's measure of the lag.
    bridge: Option<(Address, watch::Receiver<Option<SettlementLag>>)>,
}

impl Health {
    /// The health of a node that seals a block every `block_time` (at most one a second while it
    /// follows an L1, `l1` set), whose head the RPC reads from `heads`.
    pub fn new(
        block_time: Duration,
        heads: watch::Receiver<ChainHead>,
        producer: watch::Receiver<ProducerStatus>,
        l1: Option<watch::Receiver<L1LinkStatus>>,
    ) -> Self {
        let interval = if l1.is_some() { block_time.max(FOLLOWING_MIN_INTERVAL) } else { block_time };
        let window = interval.saturating_mul(PRODUCING_BLOCKS).max(MIN_PRODUCING_WINDOW);
        Self { window, heads, producer, l1, bridge: None }
    }

    /// The health of a node that follows the bridge at `bridge`, whose follower measures `lag`.
    pub fn following_bridge(self, bridge: Address, lag: watch::Receiver<Option<SettlementLag>>) -> Self {
        Self { bridge: Some((bridge, lag)), ..self }
    }

    /// The node's health now.
    pub fn report(&self) -> HealthReport {
        let now = SystemTime::now();
        let producer = *self.producer.borrow();
        let head_age = since(now, producer.sealed_at);
        let link = self.l1.as_ref().map(|l1| *l1.borrow());
        let head = self.heads.borrow().number;
        HealthReport {
            producing: head_age <= self.window,
            head,
            head_age_seconds: seconds(head_age),
            l1: L1Health {
                configured: link.is_some(),
                reachable: link.is_some_and(|link| link.reachable),
                lag_seconds: link.and_then(|link| link.last_contact).map(|at| seconds(since(now, at))),
                anchor: producer.anchor,
            },
            settling: self.bridge.as_ref().map(|(bridge, lag)| settling(now, head, *bridge, *lag.borrow())),
        }
    }
}

/// How settlement stands on the bridge at `bridge` for a head `head`, as the follower measured
/// it (before it has: the genesis is safe and finalized, the lag in seconds unknown).
fn settling(now: SystemTime, head: u64, bridge: Address, lag: Option<SettlementLag>) -> SettlingHealth {
    let Some(lag) = lag else {
        return SettlingHealth { bridge, safe: 0, finalized: 0, lag_blocks: head, lag_seconds: None };
    };
    let lag_seconds = match (lag.blocks, lag.oldest_unsettled) {
        (0, _) => Some(0.0),
        (_, Some(timestamp)) => Some(seconds(since(now, UNIX_EPOCH + Duration::from_secs(timestamp)))),
        (_, None) => None,
    };
    SettlingHealth { bridge, safe: lag.safe, finalized: lag.finalized, lag_blocks: lag.blocks, lag_seconds }
}

/// The body of `/health`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthReport {
    /// Whether a block was sealed within the last three block intervals (at least 3 s): the
    /// node is ready exactly when this holds.
    pub producing: bool,
    /// The number of the newest block the RPC serves.
    pub head: u64,
    /// Time since the newest block was sealed (for a head read back at start-up and not yet
    /// followed by a new block: since its timestamp), in seconds.
    pub head_age_seconds: f64,
    /// The L1 the node follows.
    pub l1: L1Health,
    /// Settlement on the L1, for a node that follows its bridge (`l1.bridge_address`); `null`
    /// otherwise.
    pub settling: Option<SettlingHealth>,
}

/// The L1 part of [`HealthReport`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct L1Health {
    /// Whether the node follows an L1 (`l1.rpc_url` set on an L2).
    pub configured: bool,
    /// Whether the follower's last read of the L1 succeeded.
    pub reachable: bool,
    /// Time since the follower last read the L1, in seconds; `null` until it has.
    pub lag_seconds: Option<f64>,
    /// The L1 block number the head anchors to; `null` for an unanchored head.
    pub anchor: Option<u64>,
}

/// The settlement part of [`HealthReport`], from the bridge follower's last round.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SettlingHealth {
    /// The bridge's address.
    pub bridge: Address,
    /// The L2's safe block: the newest the bridge settled (optimistic mode: claimed).
    pub safe: u64,
    /// The L2's finalized block: the newest the bridge settled as of the L1's finalized block.
    pub finalized: u64,
    /// L2 blocks past `safe`.
    pub lag_blocks: u64,
    /// The age of the oldest block past `safe`, in seconds: 0 when every block is safe, `null`
    /// before the follower has measured it.
    pub lag_seconds: Option<f64>,
}

impl IntoResponse for HealthReport {
    fn into_response(self) -> axum::response::Response {
        let status = if self.producing { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        (status, Json(self)).into_response()
    }
}

/// Time from `then` to `now`; zero for a `then` ahead of it.
fn since(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// `duration` in seconds, to the millisecond.
fn seconds(duration: Duration) -> f64 {
    (duration.as_millis() as f64) / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Header;
    use alloy_primitives::B256;
    use std::sync::Arc;

    /// The health of a node with `block_time` whose head (block 7, anchored to L1 block 40) was
    /// sealed `sealed_ago`, following an L1 whose link is `l1`. A receiver keeps the last value
    /// its sender sent.
    fn health(block_time: Duration, sealed_ago: Duration, l1: Option<L1LinkStatus>) -> Health {
        let head =
            ChainHead { number: 7, hash: B256::ZERO, header: Header::default(), changed: Arc::from([]) };
        let sealed_at = SystemTime::now() - sealed_ago;
        Health::new(
            block_time,
            watch::channel(head).1,
            watch::channel(ProducerStatus { sealed_at, anchor: Some(40) }).1,
            l1.map(|link| watch::channel(link).1),
        )
    }

    #[test]
    fn producing_means_a_block_within_three_intervals_and_at_least_three_seconds() {
        let ready = health(Duration::from_secs(2), Duration::from_secs(5), None);
        assert!(ready.report().producing);
        let stuck = health(Duration::from_secs(2), Duration::from_secs(7), None);
        assert!(!stuck.report().producing);
        // A short block time still gets three seconds.
        let short = health(Duration::from_millis(100), Duration::from_millis(2_500), None);
        assert!(short.report().producing);
        // Following an L1, blocks come at most once a second.
        let link =
            L1LinkStatus { reachable: true, last_contact: Some(SystemTime::now()), ..Default::default() };
        let following = health(Duration::from_millis(500), Duration::from_millis(2_900), Some(link));
        assert!(following.report().producing);
    }

    #[test]
    fn the_report_names_the_head_and_the_l1_link() {
        let alone = health(Duration::from_secs(1), Duration::ZERO, None);
        let report = alone.report();
        assert_eq!(report.head, 7);
        assert_eq!(
            report.l1,
            L1Health { configured: false, reachable: false, lag_seconds: None, anchor: Some(40) }
        );
        let json = serde_json::to_value(&report).expect("serializes");
        assert_eq!(json["settling"], serde_json::Value::Null);

        let contact = SystemTime::now() - Duration::from_secs(30);
        let link = L1LinkStatus { reachable: false, last_contact: Some(contact), ..Default::default() };
        let following = health(Duration::from_secs(1), Duration::ZERO, Some(link));
        let l1 = following.report().l1;
        assert!(l1.configured && !l1.reachable);
        assert!(l1.lag_seconds.is_some_and(|lag| (30.0..31.0).contains(&lag)), "{l1:?}");
    }

    #[test]
    fn settling_reports_the_bridge_followers_last_measure() {
        let bridge = Address::repeat_byte(0xb1);
        let (lag, measured) = watch::channel(None);
        let following =
            health(Duration::from_secs(1), Duration::ZERO, None).following_bridge(bridge, measured);
        // Before the follower's first round: the genesis, the lag in seconds unknown.
        let before = SettlingHealth { bridge, safe: 0, finalized: 0, lag_blocks: 7, lag_seconds: None };
        assert_eq!(following.report().settling, Some(before));

        let ten_ago = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() - 10;
        lag.send_replace(Some(SettlementLag {
            safe: 4,
            finalized: 2,
            blocks: 3,
            oldest_unsettled: Some(ten_ago),
        }));
        let settling = following.report().settling.expect("following a bridge");
        assert_eq!((settling.safe, settling.finalized, settling.lag_blocks), (4, 2, 3));
        assert!(settling.lag_seconds.is_some_and(|lag| (10.0..12.0).contains(&lag)), "{settling:?}");
        let json = serde_json::to_value(&settling).expect("serializes");
        let keys: std::collections::BTreeSet<&str> =
            json.as_object().expect("an object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["bridge", "finalized", "lag_blocks", "lag_seconds", "safe"].into());

        lag.send_replace(Some(SettlementLag { safe: 7, finalized: 5, blocks: 0, oldest_unsettled: None }));
        assert_eq!(following.report().settling.expect("following a bridge").lag_seconds, Some(0.0));
        // The oldest unsettled block not read: unknown, not zero.
        lag.send_replace(Some(SettlementLag { safe: 5, finalized: 5, blocks: 2, oldest_unsettled: None }));
        assert_eq!(following.report().settling.expect("following a bridge").lag_seconds, None);
    }
}
