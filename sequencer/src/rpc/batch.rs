//! JSON-RPC batches whose calls run concurrently.
//!
//! jsonrpsee runs the calls of a batch one after another. For a batch of
//! `eth_sendRawTransaction` calls that means each admission waits until the one before it is
//! durable, so the mempool journal commits once per call; on PostgreSQL, where every commit waits
//! for the disk, a 100-transaction batch took a hundred disk flushes. Run concurrently, the
//! calls of a batch reach the journal together and share one commit. Responses keep the
//! batch's order, and the response size limit holds as before. Notifications in the batch run
//! beside its calls, unanswered.

use futures_util::{
    FutureExt,
    future::{join, join_all},
};
use jsonrpsee::{
    core::{
        middleware::{Batch, BatchEntry, Notification, RpcServiceT},
        server::{BatchResponseBuilder, MethodResponse},
    },
    types::{ErrorCode, ErrorObject, Request},
};
use std::borrow::Cow;
use tokio::task::AbortHandle;

/// Wraps the server's RPC service; see the module docs. The layer is a function of the inner
/// service, as jsonrpsee's `RpcServiceBuilder::layer_fn` takes it.
#[derive(Clone, Debug)]
pub(super) struct ConcurrentBatches<S> {
    inner: S,
    max_response_bytes: usize,
}

impl<S> ConcurrentBatches<S> {
    /// Runs the calls of each batch on `inner` concurrently; a batch response may be at most
    /// `max_response_bytes` long.
    pub(super) fn new(inner: S, max_response_bytes: usize) -> Self {
        Self { inner, max_response_bytes }
    }
}

impl<S> RpcServiceT for ConcurrentBatches<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let max_response_bytes = self.max_response_bytes;
        async move {
            let mut calls = Vec::new();
            let mut notifications = Vec::new();
            let mut errors = Vec::new();
            for (position, entry) in batch.into_iter().enumerate() {
                match entry {
                    Ok(BatchEntry::Call(request)) => calls.push((position, request)),
                    Ok(BatchEntry::Notification(notification)) => {
                        notifications.push(owned_notification(notification));
                    }
                    Err(error) => {
                        let (error, id) = error.into_parts();
                        errors.push((position, MethodResponse::error(id, error)));
                    }
                }
            }
            // Each call is a task of its own, so that an idle worker thread takes calls of a
            // busy one's batch: a batch's signature recoveries then run on every core. As when
            // they ran inside the batch's future, they stop if it is dropped (the client left).
            let notified = !notifications.is_empty();
            let mut tasks = CallTasks(Vec::with_capacity(calls.len() + notifications.len()));
            // Notifications run beside the calls, each a task too; nobody hears how they went.
            let notifications = notifications
                .into_iter()
                .map(|notification| {
                    let inner = inner.clone();
                    let task = tokio::spawn(async move {
                        inner.notification(notification).await;
                    });
                    tasks.0.push(task.abort_handle());
                    task
                })
                .collect::<Vec<_>>();
            let spawned = calls
                .into_iter()
                .map(|(position, request)| {
                    let inner = inner.clone();
                    let request = owned(request);
                    let id = request.id.clone();
                    let task = tokio::spawn(async move { inner.call(request).await });
                    tasks.0.push(task.abort_handle());
                    task.map(move |joined| {
                        // A call that panicked answers as an internal error; the batch goes on.
                        let response = joined.unwrap_or_else(|_| {
                            MethodResponse::error(id, ErrorObject::from(ErrorCode::InternalError))
                        });
                        (position, response)
                    })
                })
                .collect::<Vec<_>>();
            let (mut responses, _) = join(join_all(spawned), join_all(notifications)).await;
            drop(tasks);
            responses.extend(errors);
            responses.sort_by_key(|(position, _)| *position);
            if responses.is_empty() && notified {
                return MethodResponse::notification();
            }
            let mut builder = BatchResponseBuilder::new_with_limit(max_response_bytes);
            for (_, response) in responses {
                if let Err(too_big) = builder.append(response) {
                    return too_big;
                }
            }
            MethodResponse::from_batch(builder.finish())
        }
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(notification)
    }
}

/// The tasks running a batch's calls, stopped when the batch's future is dropped before they
/// finish.
struct CallTasks(Vec<AbortHandle>);

impl Drop for CallTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// `notification` with its borrowed parts copied, so that it can move to a task of its own.
fn owned_notification(notification: Notification<'_>) -> Notification<'static> {
    Notification {
        jsonrpc: notification.jsonrpc,
        method: Cow::Owned(notification.method.into_owned()),
        params: notification.params.map(|params| Cow::Owned(params.into_owned())),
        extensions: notification.extensions,
    }
}

/// `request` with its borrowed parts copied, so that it can move to a task of its own.
fn owned(request: Request<'_>) -> Request<'static> {
    Request {
        jsonrpc: request.jsonrpc,
        id: request.id.into_owned(),
        method: Cow::Owned(request.method.into_owned()),
        params: request.params.map(|params| Cow::Owned(params.into_owned())),
        extensions: request.extensions,
    }
}
