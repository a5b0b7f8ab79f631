//! Reads of latest-state accounts that no cache holds, coalesced: requests that arrive while a
//! read is under way go to the database together, in one query, instead of one query each. A
//! wallet's or an explorer's many concurrent first reads then cost the database, and the node's
//! CPU, a fraction of a query each.

use crate::{error::StoreError, store::Store};
use alloy_primitives::{Address, map::AddressMap};
use tokio::sync::{mpsc, oneshot};
use trace_builder::AccountState;

/// Most accounts one coalesced query reads.
const MAX_BATCH: usize = 256;

/// Requests that may wait for the reader before a caller waits to hand it more.
const QUEUE_CAPACITY: usize = 4_096;

type Reply = oneshot::Sender<Result<Option<AccountState>, StoreError>>;

/// Handle to the reader task. Cheap to clone; the task ends with the last handle.
#[derive(Clone, Debug)]
pub(super) struct AccountReads {
    requests: mpsc::Sender<(Address, Reply)>,
}

impl AccountReads {
    /// Starts the reader over `store` on the current runtime.
    pub(super) fn spawn(store: Store) -> Self {
        let (requests, mut queue) = mpsc::channel::<(Address, Reply)>(QUEUE_CAPACITY);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let mut addresses: Vec<Address> = batch.iter().map(|(address, _)| *address).collect();
                addresses.sort_unstable();
                addresses.dedup();
                match store.accounts(&addresses).await {
                    Ok(found) => {
                        let found: AddressMap<AccountState> = found.into_iter().collect();
                        for (address, reply) in batch.drain(..) {
                            // The caller may have gone away: nothing to tell.
                            let _ = reply.send(Ok(found.get(&address).cloned()));
                        }
                    }
                    // Each caller gets its own error, from a read of its own.
                    Err(_) => {
                        for (address, reply) in batch.drain(..) {
                            let _ = reply.send(store.account(address).await);
                        }
                    }
                }
            }
        });
        Self { requests }
    }

    /// The account at `address` in the latest state, read with whatever other reads are waiting.
    pub(super) async fn account(&self, address: Address) -> Result<Option<AccountState>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Stopped("account reader");
        self.requests.send((address, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
