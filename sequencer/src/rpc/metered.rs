//! Per-method call metrics: how many calls, how many failed, and how long they took.
//!
//! Series are labelled with the method's name only for methods the node serves; every other
//! name a client sends counts as `unknown`, so that no client can add series.

use jsonrpsee::{
    core::{
        middleware::{Batch, Notification, RpcServiceT},
        server::MethodResponse,
    },
    types::Request,
};
use metrics::{Counter, Histogram, counter, histogram};
use std::{collections::HashMap, sync::Arc, time::Instant};

/// The metric handles of one method; cheap to clone.
#[derive(Clone, Debug)]
struct MethodMetrics {
    calls: Counter,
    errors: Counter,
    seconds: Histogram,
}

impl MethodMetrics {
    fn new(method: &'static str) -> Self {
        Self {
            calls: counter!("sequencer_rpc_calls_total", "method" => method),
            errors: counter!("sequencer_rpc_errors_total", "method" => method),
            seconds: histogram!("sequencer_rpc_call_seconds", "method" => method),
        }
    }

    /// `response`, counted, timed from now, and counted as an error when `failed` says so.
    fn record<R>(
        self,
        response: impl Future<Output = R>,
        failed: impl Fn(&R) -> bool,
    ) -> impl Future<Output = R> {
        let started = Instant::now();
        async move {
            let response = response.await;
            self.calls.increment(1);
            if failed(&response) {
                self.errors.increment(1);
            }
            self.seconds.record(started.elapsed());
            response
        }
    }
}

/// The metric handles of every served method, looked up by name on each call.
#[derive(Debug)]
pub(super) struct RpcMetrics {
    methods: HashMap<&'static str, MethodMetrics>,
    unknown: MethodMetrics,
}

impl RpcMetrics {
    /// Handles for `methods`, the names the server answers.
    pub(super) fn new(methods: impl IntoIterator<Item = &'static str>) -> Arc<Self> {
        Arc::new(Self {
            methods: methods.into_iter().map(|method| (method, MethodMetrics::new(method))).collect(),
            unknown: MethodMetrics::new("unknown"),
        })
    }

    /// The handles of `method`, or of `unknown` if the server does not answer it.
    fn of(&self, method: &str) -> &MethodMetrics {
        self.methods.get(method).unwrap_or(&self.unknown)
    }
}

/// RPC middleware that records [`RpcMetrics`] for every call, over HTTP and WebSocket, each
/// call of a batch on its own.
#[derive(Clone, Debug)]
pub(super) struct Metered<S> {
    inner: S,
    metrics: Arc<RpcMetrics>,
}

impl<S> Metered<S> {
    /// `inner` with its calls recorded in `metrics`.
    pub(super) fn new(inner: S, metrics: Arc<RpcMetrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<S> RpcServiceT for Metered<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse, NotificationResponse = MethodResponse> + Send + Sync,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let method = self.metrics.of(request.method_name()).clone();
        method.record(self.inner.call(request), MethodResponse::is_error)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        // Timed too: notifications of plain methods run (their failures are nobody's to hear).
        let method = self.metrics.of(notification.method_name()).clone();
        method.record(self.inner.notification(notification), |_| false)
    }
}
