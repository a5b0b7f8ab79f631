//! Notifications executed, as JSON-RPC 2.0 has them: a request without an id runs, and only
//! its answer is left out. jsonrpsee leaves them unexecuted; geth runs them, so a client
//! sending `eth_sendRawTransaction` as a notification has it pooled.
//!
//! jsonrpsee also takes for a notification a request whose id it cannot read, which was a call
//! someone waits an answer for. Only notifications that [`super::request_ids`] vouched for
//! run, then: those of HTTP bodies it read, not WebSocket messages, which no layer sees.
//! Subscriptions are left out too: a subscription nobody learns the id of could never end.

use super::request_ids::NotificationsChecked;
use jsonrpsee::{
    RpcModule,
    core::{
        middleware::{Batch, Notification, RpcServiceT},
        server::{MethodCallback, MethodResponse},
    },
    types::{Id, Request},
};
use std::{collections::HashSet, sync::Arc};

/// The methods a notification may run: every method that answers once.
pub(super) fn executable(module: &RpcModule<()>) -> Arc<HashSet<&'static str>> {
    Arc::new(
        module
            .method_names()
            .filter(|name| {
                matches!(module.method(name), Some(MethodCallback::Sync(_) | MethodCallback::Async(_)))
            })
            .collect(),
    )
}

/// RPC middleware that runs the notifications [`NotificationsChecked`] vouches for, of
/// [`executable`] methods, as calls and drops their answers.
#[derive(Clone, Debug)]
pub(super) struct ExecutedNotifications<S> {
    inner: S,
    executable: Arc<HashSet<&'static str>>,
}

impl<S> ExecutedNotifications<S> {
    /// `inner` with notifications of `executable` methods run.
    pub(super) fn new(inner: S, executable: Arc<HashSet<&'static str>>) -> Self {
        Self { inner, executable }
    }
}

impl<S> RpcServiceT for ExecutedNotifications<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse, NotificationResponse = MethodResponse> + Send + Sync,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        let extensions = notification.extensions.clone();
        let vouched = notification.extensions().get::<NotificationsChecked>().is_some();
        let call = (vouched && self.executable.contains(notification.method_name())).then(|| {
            self.inner.call(Request {
                jsonrpc: notification.jsonrpc,
                id: Id::Null,
                method: notification.method,
                params: notification.params,
                extensions: notification.extensions,
            })
        });
        async move {
            if let Some(call) = call {
                // Nobody to tell how it went.
                let _ = call.await;
            }
            MethodResponse::notification().with_extensions(extensions)
        }
    }
}
