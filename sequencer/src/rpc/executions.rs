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
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let acquired = tokio::time::timeout(QUEUE_TIMEOUT, acquire).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
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
