//! Busy polling: the runtime's worker threads stay awake for a moment after each call.
//!
//! A worker with nothing to run goes to sleep in the kernel, and so, when no other thread
//! wants it, does its (virtual) core. The next request then pays for waking both: the sender's
//! write makes the kernel interrupt the halted core, which on a virtual machine traps to the
//! hypervisor. At tens of thousands of requests a second that cost, paid by the client side, is
//! larger than the node's own work per `eth_getBalance`.
//!
//! So while calls keep coming, one task per worker polls: it yields its core to any other
//! runnable thread (`sched_yield`) and then to the runtime, which checks for I/O before running
//! it again. A worker polling this way never sleeps, and takes only time no other thread wants.
//! Once no call has come for the configured window, the tasks wait until the next call, and
//! an idle node costs nothing. Linux's `net.core.busy_poll` and Go's spinning scheduler threads
//! trade a little otherwise idle CPU for wake-up latency in the same way.

use jsonrpsee::{
    core::middleware::{Batch, Notification, RpcServiceT},
    server::ServerHandle,
    types::Request,
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::Notify;

/// When the last call came, and the tasks that poll while calls keep coming.
#[derive(Debug)]
pub(super) struct BusyPoll {
    /// Microseconds from `epoch` to the last call.
    last_call_micros: AtomicU64,
    epoch: Instant,
    window: Duration,
    /// Polling tasks waiting for a call.
    waiting: AtomicUsize,
    call_came: Notify,
}

impl BusyPoll {
    /// Polling that goes on until `window` has passed without a call.
    pub(super) fn new(window: Duration) -> Arc<Self> {
        Arc::new(Self {
            last_call_micros: AtomicU64::new(0),
            epoch: Instant::now(),
            window,
            waiting: AtomicUsize::new(0),
            call_came: Notify::new(),
        })
    }

    /// Starts one polling task per worker thread of the current runtime; they stop with
    /// `server`.
    pub(super) fn start(self: &Arc<Self>, server: &ServerHandle) {
        let runtime = tokio::runtime::Handle::current();
        for _ in 0..runtime.metrics().num_workers() {
            let busy_poll = self.clone();
            let server = server.clone();
            runtime.spawn(async move {
                tokio::select! {
                    () = server.stopped() => {}
                    () = busy_poll.poll() => {}
                }
            });
        }
    }

    /// Notes a call, and wakes the polling tasks if they wait.
    fn call(&self) {
        self.last_call_micros.store(self.micros(), Ordering::Relaxed);
        if self.waiting.load(Ordering::Acquire) > 0 {
            self.call_came.notify_waiters();
        }
    }

    fn micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn calls_stopped(&self) -> bool {
        let since = self.micros().saturating_sub(self.last_call_micros.load(Ordering::Relaxed));
        since > self.window.as_micros() as u64
    }

    /// One polling task; never returns.
    async fn poll(&self) {
        loop {
            if self.calls_stopped() {
                let call_came = self.call_came.notified();
                tokio::pin!(call_came);
                call_came.as_mut().enable();
                self.waiting.fetch_add(1, Ordering::AcqRel);
                // A call between the check above and `enable` would otherwise go unseen.
                if self.calls_stopped() {
                    call_came.await;
                }
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            std::thread::yield_now();
            tokio::task::yield_now().await;
        }
    }
}

/// RPC middleware that tells [`BusyPoll`] of every call, over HTTP and WebSocket alike.
#[derive(Clone, Debug)]
pub(super) struct NoteCalls<S> {
    inner: S,
    busy_poll: Option<Arc<BusyPoll>>,
}

impl<S> NoteCalls<S> {
    /// `inner` with its calls noted to `busy_poll`, if busy polling is on.
    pub(super) fn new(inner: S, busy_poll: Option<Arc<BusyPoll>>) -> Self {
        Self { inner, busy_poll }
    }

    fn note(&self) {
        if let Some(busy_poll) = &self.busy_poll {
            busy_poll.call();
        }
    }
}

impl<S: RpcServiceT + Send + Sync> RpcServiceT for NoteCalls<S> {
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        self.note();
        self.inner.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        self.note();
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.note();
        self.inner.notification(notification)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (up to 5 s) until `condition` holds.
    async fn until(condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polling_stops_when_calls_stop_and_resumes_with_the_next_call() {
        let busy_poll = BusyPoll::new(Duration::from_millis(200));
        let poller = tokio::spawn({
            let busy_poll = busy_poll.clone();
            async move { busy_poll.poll().await }
        });
        let waiting = || busy_poll.waiting.load(Ordering::Acquire);
        // No call within the window: the poller waits.
        until(|| waiting() == 1).await;
        busy_poll.call();
        until(|| waiting() == 0).await;
        // Calls keep it polling.
        for _ in 0..5 {
            busy_poll.call();
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(waiting(), 0);
        }
        until(|| waiting() == 1).await;
        poller.abort();
    }
}
