//! How the pool orders transactions: the price key eviction sorts by, and the best-first
//! iterator the builder takes a block's transactions from.
//!
//! The iterator follows reth's `BestTransactions` (`crates/transaction-pool/src/pool/best.rs`):
//! the pool hands it, under its lock, a snapshot of each sender's executable run as shared
//! pointers (a few reference counts per sender, no transaction copied), and the merge across
//! senders happens lazily, outside the lock, as the builder pulls. The builder executes while
//! the RPC keeps admitting; what it admits meanwhile waits for the next block.

use alloy_consensus::{Transaction, TxEnvelope, transaction::Recovered};
use alloy_primitives::Address;
use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashSet},
    sync::Arc,
};

/// A pooled transaction as the pool shares it: recovered once at the RPC, then passed around
/// by reference count (to the builder's iterator, to snapshots) rather than copied.
pub type PooledTransaction = Arc<Recovered<TxEnvelope>>;

/// Price of a transaction for eviction: its effective tip under the current base fee (negative
/// when it cannot pay the base fee), then its fee cap. The sender makes keys unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct PriceKey {
    pub(super) tip: i128,
    pub(super) fee_cap: u128,
    pub(super) sender: Address,
}

/// The eviction price of `sender`'s `tx` under `base_fee`.
pub(super) fn price_key(sender: Address, tx: &Recovered<TxEnvelope>, base_fee: u64) -> PriceKey {
    let tx = tx.inner();
    let fee_cap = tx.max_fee_per_gas();
    let signed = |value: u128| i128::try_from(value).unwrap_or(i128::MAX);
    let tip = signed(tx.priority_fee_or_price()).min(signed(fee_cap).saturating_sub(i128::from(base_fee)));
    PriceKey { tip, fee_cap, sender }
}

/// One sender's executable run for a block (consecutive nonces from its account nonce, each
/// able to pay the block's base fee): the positions `next..end` of the snapshot.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lane {
    pub(super) sender: Address,
    pub(super) next: usize,
    pub(super) end: usize,
}

/// The pool's executable runs for one block, taken under its lock: every run's transactions
/// in one vector (one allocation, a reference count each), and where each run lies in it.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    pub(super) txs: Vec<PooledTransaction>,
    pub(super) lanes: Vec<Lane>,
}

/// The transactions for one block, best first: each sender's pending run in nonce order, across
/// senders by effective tip under the block's base fee, highest first (ties: the lower sender
/// address first). A sender's run stops at its first transaction that cannot pay the base fee;
/// other senders are not held up by it.
///
/// Built by [`Mempool::best_transactions`](super::Mempool::best_transactions) from a snapshot:
/// it holds no lock, and the pool may change while it is consumed. The builder reports a
/// transaction that failed with [`BestTransactions::mark_invalid`], which skips the rest of its
/// sender's run (its later nonces cannot run in this block either).
#[derive(Debug)]
pub struct BestTransactions {
    base_fee: u64,
    /// The runs' transactions; a slot is emptied when yielded.
    txs: Vec<Option<PooledTransaction>>,
    lanes: Vec<Lane>,
    /// The next transaction of each lane that has one, by its tip.
    heads: BinaryHeap<(u128, Reverse<Address>, usize)>,
    /// Senders whose runs are skipped for the rest of the block.
    invalid: HashSet<Address>,
    /// Transactions left in the lanes, skipped senders' included until they are reached.
    remaining: usize,
}

impl BestTransactions {
    /// Merges the runs of `snapshot` lazily under `base_fee`. Runs must hold transactions
    /// that pay it.
    pub(super) fn new(base_fee: u64, snapshot: Snapshot) -> Self {
        let Snapshot { txs, lanes } = snapshot;
        let heads = lanes
            .iter()
            .enumerate()
            .filter_map(|(index, lane)| {
                (lane.next < lane.end).then_some(())?;
                Some((tip(txs.get(lane.next)?, base_fee), Reverse(lane.sender), index))
            })
            .collect::<Vec<_>>()
            .into();
        let remaining = txs.len();
        Self {
            base_fee,
            txs: txs.into_iter().map(Some).collect(),
            lanes,
            heads,
            invalid: HashSet::new(),
            remaining,
        }
    }

    /// Skips the rest of `sender`'s run: one of its transactions failed, and its later nonces
    /// cannot run in this block.
    pub fn mark_invalid(&mut self, sender: Address) {
        self.invalid.insert(sender);
    }

    /// Every transaction the iterator may still yield, in no particular order: for prefetching
    /// what the block will touch before executing it.
    pub fn candidates(&self) -> impl Iterator<Item = &Recovered<TxEnvelope>> {
        self.lanes
            .iter()
            .filter(|lane| !self.invalid.contains(&lane.sender))
            .flat_map(|lane| self.txs.get(lane.next..lane.end).unwrap_or_default())
            .filter_map(|tx| tx.as_deref())
    }
}

impl Iterator for BestTransactions {
    type Item = PooledTransaction;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (_, _, index) = self.heads.pop()?;
            let Some(lane) = self.lanes.get_mut(index) else { continue };
            if self.invalid.contains(&lane.sender) {
                self.remaining -= lane.end.saturating_sub(lane.next);
                lane.next = lane.end;
                continue;
            }
            if lane.next >= lane.end {
                continue;
            }
            let Some(tx) = self.txs.get_mut(lane.next).and_then(Option::take) else { continue };
            lane.next += 1;
            self.remaining -= 1;
            if lane.next < lane.end
                && let Some(Some(next)) = self.txs.get(lane.next)
            {
                self.heads.push((tip(next, self.base_fee), Reverse(lane.sender), index));
            }
            return Some(tx);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// The effective tip of `tx` under `base_fee` (zero if it cannot pay it: lanes hold none such).
fn tip(tx: &Recovered<TxEnvelope>, base_fee: u64) -> u128 {
    tx.inner().effective_tip_per_gas(base_fee).unwrap_or_default()
}
