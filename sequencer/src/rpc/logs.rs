//! `eth_getLogs` and the polling filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, `eth_getFilterChanges`, `eth_getFilterLogs`,
//! `eth_uninstallFilter`).
//!
//! Filters live in memory, bounded in number, and expire after five idle minutes as geth's do.
//! A pending-transaction filter keeps a bounded queue of the hashes admitted since its last poll.
//! The addresses and topics that log filters and logs subscriptions hold are bounded together
//! (see [`CriteriaLease`]), so that no number of clients can fill the memory with them.

use super::{error::RpcError, eth::EthRpc};
use crate::store::{BlockReader, LogQuery, TransactionReader};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, FilterChanges, Log};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::broadcast;

/// Filters unused for this long are removed.
const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
/// Most filters installed at once; past it `eth_new*Filter` fails.
const MAX_FILTERS: usize = 10_000;
/// Most block hashes one block-filter poll returns.
const MAX_BLOCK_HASHES: u64 = 1_024;
/// Most addresses one log filter names (geth's).
pub(super) const MAX_FILTER_ADDRESSES: usize = 1_000;
/// Most alternatives one topic position of a log filter lists.
pub(super) const MAX_FILTER_TOPIC_ALTERNATIVES: usize = 1_000;
/// Most addresses and topic alternatives that installed log filters and logs subscriptions name
/// together. Each is held in hash sets, about 70 bytes, so they hold some 70 MB at most; without
/// this bound 500 connections of 1,024 maximal subscriptions each would hold 170 GB.
const MAX_INSTALLED_CRITERIA: usize = 1_000_000;

/// The limits of log queries (`rpc.max_logs_block_range`, `rpc.max_logs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLimits {
    /// Most blocks one query may span.
    pub max_block_range: u64,
    /// Most logs one query may return.
    pub max_logs: u32,
}

/// Installed filters.
#[derive(Debug, Default)]
pub(super) struct Filters {
    installed: Mutex<HashMap<U256, InstalledFilter>>,
    /// Addresses and topic alternatives held by log filters and logs subscriptions.
    criteria: Arc<AtomicUsize>,
}

/// A log filter's share of [`MAX_INSTALLED_CRITERIA`], held as long as the filter or the
/// subscription lives and given back when dropped.
#[derive(Debug)]
pub(super) struct CriteriaLease {
    criteria: Arc<AtomicUsize>,
    count: usize,
}

impl Filters {
    /// Takes `filter`'s share of [`MAX_INSTALLED_CRITERIA`], or refuses it when it would pass.
    pub(super) fn lease(&self, filter: &Filter) -> Result<CriteriaLease, RpcError> {
        let count = filter.address.len() + filter.topics.iter().map(|topic| topic.len()).sum::<usize>();
        let take = || {
            self.criteria.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                let total = held + count;
                (total <= MAX_INSTALLED_CRITERIA).then_some(total)
            })
        };
        // Filters idle past their timeout still hold theirs until expired: expire, then retry.
        take()
            .or_else(|_| {
                expire(&mut self.installed.lock());
                take()
            })
            .map_err(|held| RpcError::TooManyFilterCriteria { held, limit: MAX_INSTALLED_CRITERIA })?;
        Ok(CriteriaLease { criteria: self.criteria.clone(), count })
    }
}

impl Drop for CriteriaLease {
    fn drop(&mut self) {
        self.criteria.fetch_sub(self.count, Ordering::AcqRel);
    }
}

/// The logs of the newest block a subscriber asked for, read once for all subscribers: every
/// logs subscription matches them in memory instead of querying the store itself.
#[derive(Debug, Default)]
pub(super) struct NewestBlockLogs {
    newest: tokio::sync::Mutex<Option<(u64, Arc<[Log]>)>>,
}

#[derive(Debug)]
struct InstalledFilter {
    kind: FilterKind,
    /// The last block whose changes were returned.
    last_block: u64,
    last_used: Instant,
}

#[derive(Debug)]
enum FilterKind {
    /// The filter, and its share of the criteria for as long as it is installed.
    Logs(Box<Filter>, #[allow(dead_code, reason = "held, not read")] CriteriaLease),
    Blocks,
    PendingTransactions(broadcast::Receiver<B256>),
}

/// Log and filter methods.
#[rpc(server, namespace = "eth")]
pub trait EthLogsApi {
    /// Logs matching a filter.
    #[method(name = "getLogs")]
    async fn logs(&self, filter: Filter) -> Result<Vec<Log>, RpcError>;
    /// Installs a log filter; returns its id.
    #[method(name = "newFilter")]
    async fn new_filter(&self, filter: Filter) -> Result<U256, RpcError>;
    /// Installs a filter of new block hashes.
    #[method(name = "newBlockFilter")]
    async fn new_block_filter(&self) -> Result<U256, RpcError>;
    /// Installs a filter of newly pooled transaction hashes.
    #[method(name = "newPendingTransactionFilter")]
    async fn new_pending_transaction_filter(&self) -> Result<U256, RpcError>;
    /// What a filter matched since it was last polled.
    #[method(name = "getFilterChanges")]
    async fn filter_changes(&self, id: U256) -> Result<FilterChanges, RpcError>;
    /// Every log a log filter matches.
    #[method(name = "getFilterLogs")]
    async fn filter_logs(&self, id: U256) -> Result<Vec<Log>, RpcError>;
    /// Removes a filter; false when there was none.
    #[method(name = "uninstallFilter")]
    async fn uninstall_filter(&self, id: U256) -> Result<bool, RpcError>;
}

#[async_trait]
impl EthLogsApiServer for EthRpc {
    async fn logs(&self, filter: Filter) -> Result<Vec<Log>, RpcError> {
        check_filter_size(&filter)?;
        let (from, to) = self.filter_range(&filter).await?;
        self.query_logs(&filter, from, to, self.log_limits.max_logs as usize).await
    }

    async fn new_filter(&self, filter: Filter) -> Result<U256, RpcError> {
        // As geth's: polls return logs of blocks sealed after the filter was installed, from
        // `fromBlock` on if that is later (history is `eth_getFilterLogs`'s). A range that
        // starts after the head is a filter waiting for its blocks, not an error; only two
        // block numbers in the wrong order are.
        check_filter_size(&filter)?;
        let head = self.head.borrow().number;
        let last_block = match filter.block_option {
            FilterBlockOption::Range { from_block, to_block } => {
                if let (Some(BlockNumberOrTag::Number(from)), Some(BlockNumberOrTag::Number(to))) =
                    (from_block, to_block)
                    && from > to
                {
                    return Err(RpcError::InvalidParams(format!(
                        "invalid block range: fromBlock {from} is after toBlock {to}"
                    )));
                }
                from_block.map_or(head, |from| self.tag_number(from).saturating_sub(1).max(head))
            }
            FilterBlockOption::AtBlockHash(_) => {
                return Err(RpcError::InvalidParams(
                    "a filter cannot name a blockHash; use eth_getLogs".into(),
                ));
            }
        };
        let lease = self.filters.lease(&filter)?;
        self.install(FilterKind::Logs(Box::new(filter), lease), last_block)
    }

    async fn new_block_filter(&self) -> Result<U256, RpcError> {
        let head = self.head.borrow().number;
        self.install(FilterKind::Blocks, head)
    }

    async fn new_pending_transaction_filter(&self) -> Result<U256, RpcError> {
        let head = self.head.borrow().number;
        self.install(FilterKind::PendingTransactions(self.pending_txs.subscribe()), head)
    }

    async fn filter_changes(&self, id: U256) -> Result<FilterChanges, RpcError> {
        let head = self.head.borrow().number;
        // Take what the poll needs under the lock, query without it.
        let (filter, from) = {
            let mut installed = self.filters.installed.lock();
            expire(&mut installed);
            let entry = installed.get_mut(&id).ok_or(RpcError::FilterNotFound)?;
            entry.last_used = Instant::now();
            let from = entry.last_block + 1;
            match &mut entry.kind {
                FilterKind::PendingTransactions(receiver) => {
                    let mut hashes = Vec::new();
                    loop {
                        match receiver.try_recv() {
                            Ok(hash) => hashes.push(hash),
                            Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                            Err(_) => break,
                        }
                    }
                    return Ok(FilterChanges::Hashes(hashes));
                }
                FilterKind::Blocks => {
                    let to = head.min(from.saturating_add(MAX_BLOCK_HASHES - 1));
                    entry.last_block = to.max(entry.last_block);
                    (None, (from, to))
                }
                FilterKind::Logs(filter, _) => {
                    let to = match filter.block_option {
                        FilterBlockOption::Range { to_block: Some(to), .. } => self.tag_number(to).min(head),
                        _ => head,
                    };
                    let to = to.min(from.saturating_add(self.log_limits.max_block_range - 1));
                    entry.last_block = to.max(entry.last_block);
                    (Some(filter.clone()), (from, to))
                }
            }
        };
        let (from, to) = from;
        if from > to {
            return Ok(FilterChanges::Empty);
        }
        match filter {
            Some(filter) => Ok(FilterChanges::Logs(
                self.query_logs(&filter, from, to, self.log_limits.max_logs as usize).await?,
            )),
            None => {
                let mut hashes = Vec::new();
                for number in from..=to {
                    if let Some(hash) = self.store.block_hash(number).await? {
                        hashes.push(hash);
                    }
                }
                Ok(FilterChanges::Hashes(hashes))
            }
        }
    }

    async fn filter_logs(&self, id: U256) -> Result<Vec<Log>, RpcError> {
        let filter = {
            let mut installed = self.filters.installed.lock();
            expire(&mut installed);
            let entry = installed.get_mut(&id).ok_or(RpcError::FilterNotFound)?;
            entry.last_used = Instant::now();
            match &entry.kind {
                FilterKind::Logs(filter, _) => filter.clone(),
                _ => return Err(RpcError::InvalidParams("not a log filter".into())),
            }
        };
        self.logs(*filter).await
    }

    async fn uninstall_filter(&self, id: U256) -> Result<bool, RpcError> {
        Ok(self.filters.installed.lock().remove(&id).is_some())
    }
}

impl EthRpc {
    /// The block range a filter covers, checked against the limits.
    async fn filter_range(&self, filter: &Filter) -> Result<(u64, u64), RpcError> {
        let head = self.head.borrow().number;
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let header = self.store.header_by_hash(hash).await?;
                let number = header.ok_or(RpcError::UnknownBlock)?.number;
                (number, number)
            }
            FilterBlockOption::Range { from_block, to_block } => (
                self.tag_number(from_block.unwrap_or(BlockNumberOrTag::Latest)),
                self.tag_number(to_block.unwrap_or(BlockNumberOrTag::Latest)),
            ),
        };
        if from > to {
            return Err(RpcError::InvalidParams(format!(
                "invalid block range: fromBlock {from} is after toBlock {to}"
            )));
        }
        let span = to.saturating_sub(from).saturating_add(1);
        if span > self.log_limits.max_block_range {
            return Err(RpcError::InvalidParams(format!(
                "block range too large: {span} blocks, the limit is {}",
                self.log_limits.max_block_range
            )));
        }
        Ok((from, to.min(head)))
    }

    /// The logs `filter` matches in blocks `from..=to`, failing past `limit` results.
    pub(super) async fn query_logs(
        &self,
        filter: &Filter,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Log>, RpcError> {
        if from > to {
            return Ok(Vec::new());
        }
        let query = LogQuery {
            from,
            to,
            addresses: filter.address.iter().copied().collect(),
            topics: std::array::from_fn(|i| filter.topics[i].iter().copied().collect()),
        };
        let logs = self.store.logs(&query, limit.saturating_add(1)).await?;
        if logs.len() > limit {
            return Err(RpcError::InvalidParams(format!(
                "query returns more than {limit} logs; narrow the block range or the filter"
            )));
        }
        Ok(logs)
    }

    fn install(&self, kind: FilterKind, last_block: u64) -> Result<U256, RpcError> {
        let mut installed = self.filters.installed.lock();
        expire(&mut installed);
        if installed.len() >= MAX_FILTERS {
            return Err(RpcError::TooManyFilters(MAX_FILTERS));
        }
        let id = U256::from(rand_id());
        installed.insert(id, InstalledFilter { kind, last_block, last_used: Instant::now() });
        Ok(id)
    }
}

impl EthRpc {
    /// Every log of block `number`, from the store once per block however many subscribers
    /// ask.
    pub(super) async fn block_logs(&self, number: u64) -> Result<Arc<[Log]>, RpcError> {
        let mut newest = self.newest_block_logs.newest.lock().await;
        if let Some((cached, logs)) = newest.as_ref()
            && *cached == number
        {
            return Ok(logs.clone());
        }
        let query = LogQuery { from: number, to: number, addresses: Vec::new(), topics: Default::default() };
        // A block's logs are bounded by its gas: no result limit here.
        let logs: Arc<[Log]> = self.store.logs(&query, usize::MAX).await?.into();
        // A subscriber catching up on an older block does not evict the newest.
        if newest.as_ref().is_none_or(|(cached, _)| *cached < number) {
            *newest = Some((number, logs.clone()));
        }
        Ok(logs)
    }
}

/// Refuses a filter larger than a query may be: each address and topic is a parameter of
/// every query the filter makes, and a filter is held in memory as long as it is installed.
pub(super) fn check_filter_size(filter: &Filter) -> Result<(), RpcError> {
    if filter.address.len() > MAX_FILTER_ADDRESSES {
        return Err(RpcError::InvalidParams(format!(
            "exceed max addresses: {} addresses, at most {MAX_FILTER_ADDRESSES}",
            filter.address.len()
        )));
    }
    if let Some(topics) = filter.topics.iter().find(|topics| topics.len() > MAX_FILTER_TOPIC_ALTERNATIVES) {
        return Err(RpcError::InvalidParams(format!(
            "exceed max topics: {} alternatives in one position, at most {MAX_FILTER_TOPIC_ALTERNATIVES}",
            topics.len()
        )));
    }
    Ok(())
}

/// Removes filters idle for longer than [`FILTER_TIMEOUT`].
fn expire(installed: &mut HashMap<U256, InstalledFilter>) {
    installed.retain(|_, filter| filter.last_used.elapsed() < FILTER_TIMEOUT);
}

/// A filter id nobody can guess: 128 random bits from the OS-seeded hasher.
fn rand_id() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut high = state.build_hasher();
    high.write_u64(1);
    let mut low = state.build_hasher();
    low.write_u64(2);
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    #[test]
    fn filters_and_subscriptions_hold_bounded_criteria() {
        let filters = Filters::default();
        let addresses: Vec<Address> =
            (0..1_000u16).map(|i| Address::left_padding_from(&i.to_be_bytes())).collect();
        let filter = Filter::new().address(addresses).event_signature(B256::repeat_byte(1));
        let per_filter = 1_001;
        let fitting = MAX_INSTALLED_CRITERIA / per_filter;
        let mut leases: Vec<_> = (0..fitting).map(|_| filters.lease(&filter).unwrap()).collect();
        let refused = filters.lease(&filter).unwrap_err();
        assert!(matches!(refused, RpcError::TooManyFilterCriteria { .. }), "{refused:?}");
        // A filter naming nothing costs nothing.
        let everything = filters.lease(&Filter::new()).unwrap();
        // An uninstalled filter or an ended subscription gives its share back.
        leases.pop();
        let again = filters.lease(&filter).unwrap();
        drop((leases, again, everything));
        assert_eq!(filters.criteria.load(Ordering::Acquire), 0);
    }
}
