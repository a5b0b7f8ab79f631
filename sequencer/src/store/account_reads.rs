//! Reads of single accounts at the head (`eth_getBalance`, `eth_getTransactionCount`, a call's
//! first touch of an account), gathered. Each read joins a queue; at most as many drains as the
//! pool has connections take what waits, a statement's worth at a time, and read it in one
//! query. A read alone is one query, as before; reads that arrive while every connection is busy
//! go to the database together: one trip to a connection's thread for many accounts, where a
//! query each spent most of its time on the trip.

use super::Store;
use crate::error::StoreError;
use alloy_primitives::{Address, map::AddressMap};
use parking_lot::Mutex;
use std::{collections::VecDeque, sync::Arc};
use tokio::sync::oneshot;
use trace_builder::AccountState;

/// A read waiting for its drain.
#[derive(Debug)]
struct Waiting {
    address: Address,
    reply: oneshot::Sender<Result<Option<AccountState>, StoreError>>,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    /// Drains running.
    draining: usize,
}

#[derive(Debug)]
struct Inner {
    queue: Mutex<Queue>,
    /// The most drains at once: the pool's connections.
    drains: usize,
    /// The most accounts one query reads: the engine's bound parameters per statement.
    per_query: usize,
}

/// The gathered reads of one pool. Cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct AccountReads(Arc<Inner>);

impl AccountReads {
    /// Reads through at most `drains` queries at once, of at most `per_query` accounts each.
    pub(super) fn new(drains: usize, per_query: usize) -> Self {
        Self(Arc::new(Inner { queue: Mutex::default(), drains: drains.max(1), per_query: per_query.max(1) }))
    }

    /// The account at `address` in the flat latest state, read with whatever else waits.
    pub(super) async fn read(
        &self,
        store: &Store,
        address: Address,
    ) -> Result<Option<AccountState>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let start_drain = {
            let mut queue = self.0.queue.lock();
            queue.waiting.push_back(Waiting { address, reply });
            let start = queue.draining < self.0.drains;
            queue.draining += usize::from(start);
            start
        };
        // A drain is a task of its own: a read whose request goes away does not strand the
        // reads queued behind it.
        if start_drain {
            tokio::spawn(self.clone().drain(store.clone()));
        }
        answer
            .await
            .map_err(|_| StoreError::Corrupt("an account read was dropped: the node is stopping".into()))?
    }

    /// Reads what waits until nothing does.
    async fn drain(self, store: Store) {
        loop {
            let batch: Vec<Waiting> = {
                let mut queue = self.0.queue.lock();
                if queue.waiting.is_empty() {
                    queue.draining -= 1;
                    return;
                }
                let count = queue.waiting.len().min(self.0.per_query);
                queue.waiting.drain(..count).collect()
            };
            let mut addresses: Vec<Address> = batch.iter().map(|waiting| waiting.address).collect();
            addresses.sort_unstable();
            addresses.dedup();
            match store.query_accounts(&addresses).await {
                Ok(found) => {
                    let found: AddressMap<AccountState> = found.into_iter().collect();
                    for waiting in batch {
                        let _ = waiting.reply.send(Ok(found.get(&waiting.address).cloned()));
                    }
                }
                Err(error) => {
                    let shared = Arc::new(error);
                    for waiting in batch {
                        let _ = waiting.reply.send(Err(StoreError::Shared(shared.clone())));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        genesis::ChainGenesis,
        store::{ChainWriter, StateReader, Store},
    };
    use alloy_primitives::Address;

    /// Hundreds of reads at once, more than the pool's connections, of accounts that exist and
    /// accounts that do not: each gets its own account, as a query of its own would.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gathered_reads_answer_each_read_its_own_account() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
        let store = Store::open(&url, 2).await.unwrap();
        let genesis = ChainGenesis::dev().unwrap();
        store.commit_block(&genesis.block_record(), genesis.chain_id).await.unwrap();
        let present: Vec<Address> = genesis.state.accounts.keys().copied().collect();
        let mut reads = tokio::task::JoinSet::new();
        for round in 0..40u8 {
            for (index, address) in present.iter().enumerate() {
                let (reader, address) = (store.clone(), *address);
                let expected = genesis.state.accounts[&address].info.clone();
                reads.spawn(async move { (reader.account(address).await.unwrap(), expected) });
                // Absent: the filter lets some through to the database, which finds nothing.
                let reader = store.clone();
                let absent = Address::from_word(alloy_primitives::keccak256([round, index as u8]));
                reads.spawn(async move { (reader.account(absent).await.unwrap(), None) });
            }
        }
        let mut count = 0;
        while let Some(joined) = reads.join_next().await {
            let (read, expected) = joined.unwrap();
            assert_eq!(read, expected);
            count += 1;
        }
        assert_eq!(count, 40 * 2 * present.len());
        store.close().await;
    }
}
