//! The blocking threads that execute calls (`eth_call` past its in-memory try,
//! `eth_estimateGas`, `eth_createAccessList`, `eth_simulateV1`): at most half the cores at once,
//! so that a flood of heavy calls leaves the others to the block builder and the RPC, and none
//! once the node stops.

use super::eth::server_error;
use jsonrpsee::core::RpcResult;
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a call waits for a permit to execute before it is refused.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// The message of a call refused or stopped because the node is stopping.
pub(super) const STOPPING: &str = "execution aborted: the node is shutting down";

/// Permits to execute calls on blocking threads, shared by every clone.
#[derive(Clone, Debug)]
pub struct Executions {
    permits: Arc<Semaphore>,
    /// Requests waiting for a permit.
    waiting: Arc<AtomicUsize>,
}

impl Default for Executions {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1)))
    }
}

impl Executions {
    /// `concurrent` executions at once.
    pub fn new(concurrent: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(concurrent)), waiting: Arc::default() }
    }

    /// A permit to execute, held while the execution runs. Requests beyond the limit wait, for
    /// [`QUEUE_TIMEOUT`] at most, and are refused at once when the node stops.
    pub(super) async fn permit(&self) -> RpcResult<OwnedSemaphorePermit> {
        let acquire = self.permits.clone().acquire_owned();
        let waiting = Waiting::new(&self.waiting);
        let acquired = tokio::time::timeout(QUEUE_TIMEOUT, acquire).await;
        drop(waiting);
        match acquired {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(server_error(STOPPING)),
            Err(_) => Err(server_error(format!(
                "server busy: no call could start executing within {}s",
                QUEUE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Refuses every waiting and later request, and tells running executions to stop (they
    /// look at [`Executions::stopping`] as they look at the clock).
    pub fn stop(&self) {
        self.permits.close();
    }

    /// Whether requests are waiting for a permit: every execution thread is busy.
    pub(super) fn saturated(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    /// Whether the node is stopping.
    pub(super) fn stopping(&self) -> bool {
        self.permits.is_closed()
    }
}

/// One request counted as waiting for a permit, until dropped: also when the request is, as
/// when its client leaves while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_dropped_while_waiting_is_no_longer_counted() {
        let executions = Executions::new(1);
        let held = executions.permit().await.unwrap();
        assert!(!executions.saturated());
        let waiter = executions.clone();
        let waiting = tokio::spawn(async move { waiter.permit().await.map(drop) });
        while !executions.saturated() {
            tokio::task::yield_now().await;
        }
        // The client leaves: its request's future is dropped mid-wait.
        waiting.abort();
        let _ = waiting.await;
        assert!(!executions.saturated());
        drop(held);
    }
}
