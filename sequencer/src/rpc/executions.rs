//! Admission of heavy requests: the blocking threads that execute calls (`eth_call` past its
//! in-memory try, `eth_estimateGas`, `eth_createAccessList`, `eth_simulateV1`), and the requests
//! that read up to a thousand blocks (`rollup_getTrace`, a long `eth_feeHistory`): at most half
//! the cores at once, so that a flood of heavy requests leaves the others to the block builder
//! and the RPC, and none once the node stops.
//!
//! Requests beyond the limit wait in turn by client (its connection): each free execution goes
//! to the next client with a request waiting, round robin, and within a client first come
//! first served. A client that sends a thousand heavy calls in one batch then delays another
//! client's call by at most one of its own, not by the whole batch.

use super::error::RpcError;
use parking_lot::Mutex;
use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::sync::oneshot;

/// How long a call waits for a permit to execute before it is refused.
pub(super) const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request's execution may run on a blocking thread, all its runs together, unless
/// configured otherwise (`rpc.call_timeout_ms`; geth's `RPCEVMTimeout`).
pub(super) const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Who a waiting request belongs to, for turns: its connection.
pub(super) type Client = usize;

/// The client of a request, from what the server put in its extensions.
pub(super) fn client_of(extensions: &jsonrpsee::Extensions) -> Client {
    extensions.get::<jsonrpsee::ConnectionId>().map_or(0, |id| id.0)
}

/// Permits to execute calls on blocking threads, shared by every clone.
#[derive(Clone, Debug)]
pub struct Executions {
    queue: Arc<Mutex<Queue>>,
    /// Requests waiting for a permit.
    waiting: Arc<AtomicUsize>,
    stopped: Arc<AtomicBool>,
    /// How long one admitted execution may run.
    timeout: Duration,
}

/// Free executions and the requests waiting for one.
#[derive(Debug, Default)]
struct Queue {
    free: usize,
    /// Clients with requests waiting, in turn order.
    turns: VecDeque<Client>,
    /// Each client's waiting requests, first come first.
    waiting: HashMap<Client, VecDeque<oneshot::Sender<()>>>,
}

impl Queue {
    /// Hands free executions to waiting requests, client by client in turn. A request that
    /// gave up (its client left, its wait ended) is skipped.
    fn dispatch(&mut self) {
        while self.free > 0 {
            let Some(client) = self.turns.pop_front() else { return };
            let Some(requests) = self.waiting.get_mut(&client) else { continue };
            let request = requests.pop_front();
            if requests.is_empty() {
                self.waiting.remove(&client);
            } else {
                self.turns.push_back(client);
            }
            if request.is_some_and(|request| request.send(()).is_ok()) {
                self.free -= 1;
            }
        }
    }
}

impl Default for Executions {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1)))
    }
}

impl Executions {
    /// `concurrent` executions at once, each running for [`DEFAULT_CALL_TIMEOUT`] at most.
    pub fn new(concurrent: usize) -> Self {
        Self {
            queue: Arc::new(Mutex::new(Queue { free: concurrent, ..Queue::default() })),
            waiting: Arc::default(),
            stopped: Arc::default(),
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The same executions, each running for `timeout` at most.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// How long one admitted execution may run.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A permit to execute for a request of `client`, held while the execution runs. Requests
    /// beyond the limit wait their client's turn, for [`QUEUE_TIMEOUT`] at most, and are
    /// refused at once when the node stops.
    pub(super) async fn permit(&self, client: Client) -> Result<Permit, RpcError> {
        let (granted, ticket) = oneshot::channel();
        {
            let mut guard = self.queue.lock();
            // Under the lock: a stop either comes first and is seen here, or empties the queue
            // after this request joined it.
            if self.stopping() {
                return Err(RpcError::ExecutionAborted);
            }
            let queue = &mut *guard;
            let requests = queue.waiting.entry(client).or_default();
            if requests.is_empty() {
                queue.turns.push_back(client);
            }
            requests.push_back(granted);
            queue.dispatch();
        }
        let mut ticket = Ticket { receiver: ticket, claimed: false, executions: self.clone() };
        let _waiting = Waiting::new(&self.waiting);
        let waited = tokio::time::timeout(QUEUE_TIMEOUT, &mut ticket.receiver).await;
        match waited {
            Ok(Ok(())) => {
                ticket.claimed = true;
                Ok(Permit { executions: self.clone() })
            }
            // The queue was emptied: the node stops.
            Ok(Err(_)) => Err(RpcError::ExecutionAborted),
            Err(_) => Err(RpcError::ServerBusy),
        }
    }

    /// Runs `work` on a blocking thread once `client`'s request is admitted (see
    /// [`Executions::permit`]), holding the permit until `work` returns: the one way heavy work
    /// leaves the RPC's threads.
    pub(super) async fn run<T, E>(
        &self,
        client: Client,
        work: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, RpcError>
    where
        T: Send + 'static,
        E: Into<RpcError> + Send + 'static,
    {
        let permit = self.permit(client).await?;
        blocking(move || {
            let _permit = permit;
            work()
        })
        .await
    }

    /// Gives an execution back, to the next request in turn.
    fn release(&self) {
        let mut queue = self.queue.lock();
        queue.free += 1;
        queue.dispatch();
    }

    /// Refuses every waiting and later request, and tells running executions to stop (they
    /// look at [`Executions::stopping`] as they look at the clock).
    pub fn stop(&self) {
        let mut queue = self.queue.lock();
        self.stopped.store(true, Ordering::Relaxed);
        queue.turns.clear();
        queue.waiting.clear();
    }

    /// How many requests are waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Whether requests are waiting for a permit: every execution thread is busy.
    pub(super) fn saturated(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    /// Whether the node is stopping.
    pub(super) fn stopping(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

/// Runs `work` on a blocking thread without waiting for a permit: for light reads that block
/// (a trie walk below the head), which must not hold up the runtime's workers.
pub(super) async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, RpcError>
where
    T: Send + 'static,
    E: Into<RpcError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await?.map_err(Into::into)
}

/// One execution, given back when dropped.
#[derive(Debug)]
pub(super) struct Permit {
    executions: Executions,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.executions.release();
    }
}

/// A request's place in the queue. Dropped without being claimed (the wait ended, the client
/// left), it gives back an execution it was granted meanwhile.
struct Ticket {
    receiver: oneshot::Receiver<()>,
    claimed: bool,
    executions: Executions,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.claimed {
            self.receiver.close();
            if self.receiver.try_recv().is_ok() {
                self.executions.release();
            }
        }
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
        let held = executions.permit(1).await.unwrap();
        assert!(!executions.saturated());
        let waiter = executions.clone();
        let waiting = tokio::spawn(async move { waiter.permit(2).await.map(drop) });
        while !executions.saturated() {
            tokio::task::yield_now().await;
        }
        // The client leaves: its request's future is dropped mid-wait.
        waiting.abort();
        let _ = waiting.await;
        assert!(!executions.saturated());
        // Its place in the queue is skipped: the execution comes back free.
        drop(held);
        let again = tokio::time::timeout(Duration::from_secs(1), executions.permit(3)).await;
        assert!(again.expect("the execution was lost").is_ok());
    }

    #[tokio::test]
    async fn clients_take_turns() {
        let executions = Executions::new(1);
        let held = executions.permit(0).await.unwrap();
        let (order, mut granted) = tokio::sync::mpsc::unbounded_channel();
        let mut requests = Vec::new();
        // Client 1 queues three requests, then client 2 one.
        for (client, label) in [(1, "1a"), (1, "1b"), (1, "1c"), (2, "2a")] {
            let (requester, order) = (executions.clone(), order.clone());
            requests.push(tokio::spawn(async move {
                let permit = requester.permit(client).await.unwrap();
                order.send(label).unwrap();
                drop(permit);
            }));
            while executions.waiting.load(Ordering::Relaxed) < requests.len() {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        let mut served = Vec::new();
        for _ in 0..4 {
            served.push(granted.recv().await.unwrap());
        }
        assert_eq!(served, ["1a", "2a", "1b", "1c"]);
    }

    #[tokio::test]
    async fn a_stop_refuses_waiting_and_later_requests() {
        let executions = Executions::new(1);
        let held = executions.permit(0).await.unwrap();
        let waiter = executions.clone();
        let waiting = tokio::spawn(async move { waiter.permit(1).await.map(drop) });
        while !executions.saturated() {
            tokio::task::yield_now().await;
        }
        executions.stop();
        let refused = waiting.await.unwrap().unwrap_err();
        assert!(matches!(refused, RpcError::ExecutionAborted), "{refused:?}");
        assert!(matches!(executions.permit(2).await, Err(RpcError::ExecutionAborted)));
        drop(held);
    }
}
