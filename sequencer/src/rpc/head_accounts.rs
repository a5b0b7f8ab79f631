//! The RPC's cache of accounts at the head block.

use crate::builder::ChainHead;
use alloy_primitives::{Address, map::HashMap};
use std::sync::Arc;
use tokio::sync::watch;
use trace_builder::AccountState;

/// A head's number and the accounts its block changed with their new states, as [`ChainHead`]
/// has them.
pub(super) type HeadChanges = (u64, Arc<[(Address, Option<AccountState>)]>);

/// Bytes an entry costs: address, state, map slot.
const ENTRY_BYTES: usize = 128;

/// Accounts of the head block. When the head moves on, the accounts its block changed take the
/// states the builder published with it and the rest are kept; accounts read from the flat
/// tables join them. A head whose changes are unknown (read back at start-up) starts it over,
/// and so does an entry past its budget (`database.rpc_account_cache_mib`).
/// Wallets polling balances and nonces of active accounts then cost no query at all, and of
/// idle ones one query per account.
#[derive(Debug)]
pub(super) struct HeadAccounts {
    inner: parking_lot::Mutex<Held>,
    /// Most entries it holds.
    max_entries: usize,
    /// Bytes it holds (`sequencer_rpc_account_cache_bytes`).
    bytes: metrics::Gauge,
}

/// The head the cache is at, and the accounts it holds for it.
#[derive(Debug, Default)]
struct Held {
    number: u64,
    accounts: HashMap<Address, Option<AccountState>>,
}

impl HeadAccounts {
    /// An empty cache that holds about `budget_bytes`.
    pub(super) fn new(budget_bytes: usize) -> Self {
        Self {
            inner: parking_lot::Mutex::default(),
            max_entries: (budget_bytes / ENTRY_BYTES).max(1),
            bytes: metrics::gauge!("sequencer_rpc_account_cache_bytes"),
        }
    }

    /// A cache of about `budget_bytes` that moves to every head the builder publishes as it
    /// comes, so that the states of every block's changed accounts are held, not only those of
    /// the heads a read happened to see. It stops following when the builder is gone.
    pub(super) fn following(mut heads: watch::Receiver<ChainHead>, budget_bytes: usize) -> Arc<Self> {
        let cache = Arc::new(Self::new(budget_bytes));
        let weak = Arc::downgrade(&cache);
        tokio::spawn(async move {
            while heads.changed().await.is_ok() {
                let Some(cache) = weak.upgrade() else { return };
                let head = {
                    let head = heads.borrow_and_update();
                    (head.number, head.changed.clone())
                };
                cache.advance(&mut cache.inner.lock(), &head);
            }
        });
        cache
    }

    /// The account at `head` if held. A reader whose head is older than the cache's gets
    /// nothing.
    pub(super) fn get(&self, head: &HeadChanges, address: &Address) -> Option<Option<AccountState>> {
        let mut held = self.inner.lock();
        self.advance(&mut held, head);
        if held.number != head.0 {
            return None;
        }
        held.accounts.get(address).cloned()
    }

    /// Keeps `account`, read while `head` was the head; a value read before the head moved
    /// is not kept. (A value read while `head` was the head may already be the next block's:
    /// the block is committed before the RPC sees it as the head. Moving to that block replaces
    /// it with the block's own state of the account.)
    pub(super) fn insert(&self, head: &HeadChanges, address: Address, account: Option<AccountState>) {
        let mut held = self.inner.lock();
        self.advance(&mut held, head);
        if held.accounts.len() >= self.max_entries {
            held.accounts.clear();
        }
        if held.number == head.0 {
            held.accounts.insert(address, account);
        }
        self.bytes.set((held.accounts.len() * ENTRY_BYTES) as f64);
    }

    /// Moves the cache to `head` if it is newer. After a head the cache did not see, what it
    /// held may be stale: it keeps only `head`'s own changes.
    fn advance(&self, held: &mut Held, head: &HeadChanges) {
        let (number, changed) = head;
        if *number <= held.number {
            return;
        }
        if *number != held.number + 1
            || changed.is_empty()
            || held.accounts.len() + changed.len() > self.max_entries
        {
            held.accounts.clear();
        }
        held.accounts.extend(changed.iter().take(self.max_entries).cloned());
        held.number = *number;
        self.bytes.set((held.accounts.len() * ENTRY_BYTES) as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Header;
    use alloy_primitives::B256;

    fn head(number: u64, changed: &[(Address, Option<AccountState>)]) -> HeadChanges {
        (number, Arc::from(changed))
    }

    fn account(nonce: u64) -> Option<AccountState> {
        Some(AccountState { nonce, ..Default::default() })
    }

    #[test]
    fn a_new_head_replaces_only_what_its_block_changed() {
        let (a, b, c) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let cache = HeadAccounts::new(1 << 20);
        cache.insert(&head(1, &[]), a, account(1));
        cache.insert(&head(1, &[]), b, account(1));
        assert_eq!(cache.get(&head(1, &[]), &a), Some(account(1)));
        // Block 2 changed `a` and deleted `c`: their new states, and `b` as it was.
        let two = head(2, &[(a, account(2)), (c, None)]);
        assert_eq!(cache.get(&two, &a), Some(account(2)));
        assert_eq!(cache.get(&two, &c), Some(None));
        assert_eq!(cache.get(&two, &b), Some(account(1)));
        // A reader still at block 1 gets nothing, and keeps nothing.
        assert_eq!(cache.get(&head(1, &[]), &b), None);
        cache.insert(&head(1, &[]), a, account(7));
        assert_eq!(cache.get(&two, &a), Some(account(2)));
        // A head the cache did not see (block 3) in between: only block 4's own changes stay.
        let four = head(4, &[(c, account(4))]);
        assert_eq!(cache.get(&four, &b), None);
        assert_eq!(cache.get(&four, &c), Some(account(4)));
        // A head with unknown changes starts over.
        assert_eq!(cache.get(&head(5, &[]), &c), None);
    }

    #[tokio::test]
    async fn it_holds_the_changes_of_every_published_head() {
        let published = |number: u64, changed: &[(Address, Option<AccountState>)]| ChainHead {
            number,
            hash: B256::with_last_byte(number as u8),
            header: Header { number, ..Default::default() },
            changed: Arc::from(changed),
        };
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let (sender, receiver) = watch::channel(published(1, &[]));
        let cache = HeadAccounts::following(receiver, 1 << 20);
        for (number, changed) in [(2, (a, account(2))), (3, (b, account(3)))] {
            sender.send_replace(published(number, &[changed]));
            // The follower moves the cache before the next head comes, as blocks come a block
            // time apart; no read comes in between.
            for _ in 0..100 {
                if cache.inner.lock().number == number {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        let three = head(3, &[(b, account(3))]);
        assert_eq!(cache.get(&three, &a), Some(account(2)));
        assert_eq!(cache.get(&three, &b), Some(account(3)));
    }

    #[test]
    fn it_holds_no_more_than_its_budget() {
        let cache = HeadAccounts::new(2 * ENTRY_BYTES);
        let one = head(1, &[]);
        cache.insert(&one, Address::repeat_byte(1), account(1));
        cache.insert(&one, Address::repeat_byte(2), account(2));
        assert_eq!(cache.get(&one, &Address::repeat_byte(1)), Some(account(1)));
        cache.insert(&one, Address::repeat_byte(3), account(3));
        assert_eq!(cache.get(&one, &Address::repeat_byte(1)), None, "the third entry starts it over");
        assert_eq!(cache.get(&one, &Address::repeat_byte(3)), Some(account(3)));
        assert!(cache.inner.lock().accounts.len() <= 2);
    }
}
