//! The L1 follower: an L2 node reads the head of the L1 it settles on over HTTP, and publishes
//! the newest confirmed L1 block (the head less `l1.confirmations`) for the block producer to
//! anchor each new block to, as its EIP-4788 parent beacon block root (docs/anchoring.md).
//!
//! The follower never stops the L2 for an L1 that is down, slow or behind: it keeps what it
//! published, says once per outage that the L1 is gone, and asks again every poll interval. Only
//! an L1 that is another chain than `l1.chain_id` says stops the node.

use crate::{config::L1Section, error::L1Error, metrics::L1Metrics};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::B256;
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// An L1 block an L2 block anchors to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L1Block {
    /// Its L1 block number: what a bridge hands `blockhash` or EIP-2935 to check the hash.
    pub number: u64,
    /// Its hash: the L2 header's `parent_beacon_block_root`.
    pub hash: B256,
    /// Its timestamp, in seconds.
    pub timestamp: u64,
}

/// The newest confirmed L1 block the follower has read, as the block producer sees it. Cheap to
/// clone; reading it never waits.
#[derive(Clone, Debug)]
pub struct ConfirmedL1(watch::Receiver<Option<L1Block>>);

impl ConfirmedL1 {
    /// The newest confirmed L1 block read so far; `None` until the L1 was first reached. Its
    /// number never goes down.
    pub fn latest(&self) -> Option<L1Block> {
        *self.0.borrow()
    }
}

/// How the follower's link to the L1 stands, as `/health` and `rollup_status` read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1LinkStatus {
    /// Whether the last round reached the L1.
    pub reachable: bool,
    /// When a round last reached the L1; `None` until one has.
    pub last_contact: Option<SystemTime>,
    /// The chain id the L1 last answered; `None` until it has.
    pub chain_id: Option<u64>,
    /// The L1 head last read; `None` until one was.
    pub head: Option<u64>,
}

/// How long one request to the L1 may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One L1 JSON-RPC endpoint, as the followers ask it: every request bounded by
/// [`REQUEST_TIMEOUT`], and named in errors and logs by its origin only.
#[derive(Clone, Debug)]
pub(crate) struct L1Endpoint {
    pub(crate) provider: RootProvider,
    /// The endpoint's origin (scheme, host, port), for logs and errors: its path or query may
    /// hold an API key.
    pub(crate) origin: String,
    /// The whole endpoint, to take out of the transport's error messages, which quote it.
    endpoint: String,
}

impl L1Endpoint {
    /// The endpoint at `url`.
    pub(crate) fn new(url: url::Url) -> Self {
        let origin = url.origin().ascii_serialization();
        let endpoint = url.as_str().to_owned();
        Self { provider: ProviderBuilder::default().connect_http(url), origin, endpoint }
    }

    /// Sends one request, bounded by [`REQUEST_TIMEOUT`].
    pub(crate) async fn request<T, E: std::fmt::Display>(
        &self,
        method: &'static str,
        request: impl std::future::IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, L1Error> {
        match tokio::time::timeout(REQUEST_TIMEOUT, request.into_future()).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(L1Error::Request {
                url: self.origin.clone(),
                method,
                message: error.to_string().replace(&self.endpoint, &self.origin),
            }),
            Err(_) => Err(L1Error::Timeout { url: self.origin.clone(), method, timeout: REQUEST_TIMEOUT }),
        }
    }
}

/// Whether the L1 answered the follower's last round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// No round has finished yet.
    Starting,
    /// The last round reached the L1.
    Up,
    /// The last round failed: an outage, already reported.
    Down,
}

/// Follows one L1: reads its head every poll interval and publishes its newest confirmed block.
#[derive(Debug)]
pub struct L1Follower {
    l1: L1Endpoint,
    /// `l1.chain_id`: what the L1 must answer to `eth_chainId`, if set.
    expected_chain_id: Option<u64>,
    confirmations: u64,
    poll_interval: Duration,
    confirmed: watch::Sender<Option<L1Block>>,
    link: Link,
    /// The L1's chain id was checked since it was last reached: an L1 that comes back after an
    /// outage is checked again, in case another chain answers at its address.
    chain_checked: bool,
    metrics: L1Metrics,
    /// The link's state for `/health`.
    status: watch::Sender<L1LinkStatus>,
}

impl L1Follower {
    /// A follower of the L1 at `url` with the `[l1]` settings, which has tried one round: read
    /// the chain id and the confirmed block. An L1 that cannot be reached is no error (the
    /// follower tries again when it runs, and the L2 meanwhile seals blocks with the last
    /// anchor it has); one whose chain id is not `l1.chain_id` is. Its series are `metrics`.
    pub async fn connect(url: url::Url, section: &L1Section, metrics: L1Metrics) -> Result<Self, L1Error> {
        let (confirmed, _) = watch::channel(None);
        let mut follower = Self {
            l1: L1Endpoint::new(url),
            expected_chain_id: section.chain_id,
            confirmations: section.confirmations,
            poll_interval: section.poll_interval(),
            confirmed,
            link: Link::Starting,
            chain_checked: false,
            metrics,
            status: watch::channel(L1LinkStatus::default()).0,
        };
        let outcome = follower.poll().await;
        follower.record(outcome)?;
        Ok(follower)
    }

    /// What the block producer reads: the newest confirmed L1 block.
    pub fn confirmed(&self) -> ConfirmedL1 {
        ConfirmedL1(self.confirmed.subscribe())
    }

    /// How the link to the L1 stands, updated at each round.
    pub fn status(&self) -> watch::Receiver<L1LinkStatus> {
        self.status.subscribe()
    }

    /// Reads the L1 every poll interval for as long as the task runs. Returns only with a
    /// failure that must stop the node (see [`L1Error::is_retryable`]).
    pub async fn run(mut self) -> Result<(), L1Error> {
        let mut interval = tokio::time::interval(self.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate, and `connect` has just read the L1.
        interval.tick().await;
        loop {
            interval.tick().await;
            let outcome = self.poll().await;
            self.record(outcome)?;
        }
    }

    /// One round: the chain id if not checked since the L1 was last reached, the head, and the
    /// confirmed block if it is newer than the one published.
    async fn poll(&mut self) -> Result<(), L1Error> {
        let l1 = &self.l1;
        if !self.chain_checked {
            let actual = l1.request("eth_chainId", l1.provider.get_chain_id()).await?;
            if let Some(expected) = self.expected_chain_id
                && actual != expected
            {
                return Err(L1Error::ChainIdMismatch { url: l1.origin.clone(), expected, actual });
            }
            self.chain_checked = true;
            self.status.send_modify(|status| status.chain_id = Some(actual));
        }
        let head = l1.request("eth_blockNumber", l1.provider.get_block_number()).await?;
        self.metrics.head.set(head as f64);
        self.status.send_modify(|status| status.head = Some(head));
        // The L1's genesis block while the L1 is shorter: no reorganisation replaces it.
        let number = head.saturating_sub(self.confirmations);
        // Never back: an L1 that answers a lower head (a reorganisation deeper than the
        // confirmations, a node behind a load balancer) leaves the anchor where it is.
        if self.confirmed.borrow().is_some_and(|published| published.number >= number) {
            return Ok(());
        }
        let block = l1
            .request(
                "eth_getBlockByNumber",
                l1.provider.get_block_by_number(BlockNumberOrTag::Number(number)),
            )
            .await?
            .filter(|block| block.header.number == number)
            .ok_or_else(|| L1Error::MissingBlock { url: l1.origin.clone(), number })?;
        let block = L1Block { number, hash: block.header.hash, timestamp: block.header.timestamp };
        self.metrics.confirmed_number.set(number as f64);
        tracing::debug!(target: "l1_follower", number, hash = %block.hash, head, "new confirmed L1 block");
        self.confirmed.send_replace(Some(block));
        Ok(())
    }

    /// Takes a round's outcome: the link's state, its metrics and the one message per change;
    /// passes on a failure that must stop the node.
    fn record(&mut self, outcome: Result<(), L1Error>) -> Result<(), L1Error> {
        let confirmed = self.confirmed.borrow().map(|block| block.number);
        match outcome {
            Ok(()) => {
                if self.link != Link::Up {
                    tracing::info!(
                        target: "l1_follower",
                        url = %self.l1.origin,
                        confirmed,
                        confirmations = self.confirmations,
                        "following the L1: new blocks anchor to its newest confirmed block"
                    );
                }
                self.link = Link::Up;
                self.metrics.up.set(1.0);
                self.status.send_modify(|status| {
                    status.reachable = true;
                    status.last_contact = Some(SystemTime::now());
                });
                Ok(())
            }
            Err(error) if error.is_retryable() => {
                self.metrics.poll_failures.increment(1);
                self.metrics.up.set(0.0);
                self.status.send_modify(|status| status.reachable = false);
                self.chain_checked = false;
                if transition_to_down(&mut self.link) {
                    tracing::warn!(
                        target: "l1_follower",
                        %error,
                        anchor = confirmed,
                        "L1 unreachable: blocks keep the last anchor until it answers again"
                    );
                } else {
                    tracing::debug!(target: "l1_follower", %error, "L1 still unreachable");
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(target: "l1_follower", %error, "cannot follow the L1");
                Err(error)
            }
        }
    }
}

/// Marks the link down; true when that begins an outage, which is said once.
fn transition_to_down(link: &mut Link) -> bool {
    std::mem::replace(link, Link::Down) != Link::Down
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_reported_once_until_the_l1_answers_again() {
        let mut link = Link::Starting;
        assert!(transition_to_down(&mut link), "down at start is said");
        assert!(!transition_to_down(&mut link));
        assert!(!transition_to_down(&mut link));
        link = Link::Up;
        assert!(transition_to_down(&mut link), "a new outage is said");
        assert!(!transition_to_down(&mut link));
    }

    /// An L1 that is down is no error at start, and what the follower says of it keeps the
    /// endpoint's path (where providers put API keys) out.
    #[tokio::test]
    async fn an_unreachable_l1_is_reported_without_its_path() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let url = url::Url::parse(&format!("http://127.0.0.1:{}/v3/API-KEY", port.expect("a free port")))
            .expect("a URL");
        let mut follower = L1Follower::connect(url, &L1Section::default(), L1Metrics::default())
            .await
            .expect("down is no error");
        assert_eq!(follower.link, Link::Down);
        assert_eq!(follower.confirmed().latest(), None);
        let error = follower.poll().await.expect_err("nothing listens").to_string();
        assert!(error.contains("127.0.0.1") && !error.contains("API-KEY"), "{error}");
    }

    #[test]
    fn only_another_chain_stops_the_follower() {
        let url = "http://l1:8545".to_owned();
        assert!(!L1Error::ChainIdMismatch { url: url.clone(), expected: 1, actual: 900 }.is_retryable());
        assert!(L1Error::MissingBlock { url: url.clone(), number: 7 }.is_retryable());
        assert!(L1Error::Timeout { url, method: "eth_blockNumber", timeout: REQUEST_TIMEOUT }.is_retryable());
    }
}
