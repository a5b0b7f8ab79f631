//! The JSON-RPC server's connections: the accept loop, the connection budget, and the
//! timeouts of a public endpoint.
//!
//! Every TCP connection, HTTP or WebSocket, holds a place in the budget from accept until its
//! socket closes (`rpc.max_connections`), a WebSocket session's socket included; one client
//! address holds at most `rpc.max_connections_per_ip` places; and WebSocket sessions hold at
//! most `rpc.max_ws_connections`, so that the rest are always there for HTTP. A connection past
//! the budget or its address's share is closed at once, before anything is read from it; a
//! WebSocket upgrade past the WebSocket share is answered 429.
//!
//! HTTP is served as HTTP/1.1, as geth serves a plain-text port. A client has
//! `rpc.request_header_timeout_ms` to send a request's headers, counted from when the
//! connection is ready for its next request (so a connection that sends nothing, or an idle
//! keep-alive one, is closed after as long), and `rpc.request_body_timeout_ms` for its body
//! ([`super::request_ids`]). A WebSocket session that answers no ping for
//! `rpc.ws_inactive_limit_ms` is closed (jsonrpsee's ping, set up in [`super::serve`]).

use http::{StatusCode, header};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse, StopHandle},
};
use metrics::{Counter, Gauge, counter, gauge};
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tower::ServiceExt as _;

/// How long the accept loop waits after a failed accept (out of file descriptors, say) before
/// it tries again, so that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The limits the accept loop applies.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Places in the budget: open connections of every kind.
    pub(super) max_connections: u32,
    /// Places WebSocket sessions may hold.
    pub(super) max_ws_connections: u32,
    /// Places one client address may hold.
    pub(super) max_per_ip: u32,
    /// Time to send a request's headers, from when the connection is ready for it.
    pub(super) header_timeout: Duration,
}

/// Accepts connections on `listener` and serves each with a service `make_service` builds
/// for it, until `stop` says so; connections already open then finish what they are doing.
/// The budget and its metrics are made at the call (in the node's metrics scope); the loop
/// runs in the returned future.
pub(super) fn accept<F, S>(
    listener: TcpListener,
    limits: Limits,
    make_service: F,
    stop: StopHandle,
) -> impl Future<Output = ()>
where
    F: FnMut() -> S,
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse<HttpBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let budget = Arc::new(ConnectionBudget::new(limits));
    accept_loop(listener, budget, limits, make_service, stop)
}

async fn accept_loop<F, S>(
    listener: TcpListener,
    budget: Arc<ConnectionBudget>,
    limits: Limits,
    mut make_service: F,
    stop: StopHandle,
) where
    F: FnMut() -> S,
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse<HttpBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let mut http = http1::Builder::new();
    // A client that shuts its side down after a request (a broken body included) still gets
    // the answer.
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).half_close(true);
    let stopped = stop.clone().shutdown();
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            () = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(target: "rpc", %error, "accepting a connection failed");
                tokio::select! {
                    () = &mut stopped => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let place = match budget.admit(peer.ip()) {
            Ok(place) => place,
            Err(refusal) => {
                tracing::debug!(target: "rpc", %peer, reason = refusal.as_str(), "refused a connection");
                budget.metrics.refused(refusal);
                continue;
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(target: "rpc", %peer, %error, "could not set TCP_NODELAY");
        }
        serve_connection(&http, stream, peer, place, make_service(), stop.clone());
    }
}

/// Serves one connection on its own task, which holds `stop` (the server counts as stopped
/// once every connection let go of it).
fn serve_connection<S>(
    http: &http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    place: Arc<Place>,
    service: S,
    stop: StopHandle,
) where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse<HttpBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let io = TokioIo::new(Counted { stream, _place: place.clone() });
    let service = ConnectionService { inner: service, place };
    let connection = http.serve_connection(io, service).with_upgrades();
    tokio::spawn(async move {
        tokio::pin!(connection);
        let stopped = stop.shutdown();
        tokio::pin!(stopped);
        let result = tokio::select! {
            result = &mut connection => result,
            () = &mut stopped => {
                // Requests under way are answered; an idle connection closes at once.
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(target: "rpc", %peer, %error, "connection ended with an error");
        }
    });
}

/// The service of one connection: the server's, behind the WebSocket share.
#[derive(Clone, Debug)]
struct ConnectionService<S> {
    inner: S,
    place: Arc<Place>,
}

impl<S> hyper::service::Service<http::Request<Incoming>> for ConnectionService<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse<HttpBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = HttpResponse<HttpBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let (service, place) = (self.inner.clone(), self.place.clone());
        Box::pin(async move {
            let request = request.map(HttpBody::new);
            let websocket = is_websocket_upgrade(&request);
            if websocket && !place.take_websocket_place() {
                place.budget.metrics.refused(Refusal::WebSockets);
                return Ok(too_many_websockets());
            }
            let response = service.oneshot(request).await;
            let upgraded = response.as_ref().is_ok_and(|r| r.status() == StatusCode::SWITCHING_PROTOCOLS);
            if websocket && !upgraded {
                place.release_websocket_place();
            }
            response
        })
    }
}

/// Whether `request` asks to become a WebSocket session (as jsonrpsee tells them apart).
fn is_websocket_upgrade<B>(request: &http::Request<B>) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|value| value.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "websocket")
}

/// The answer to a WebSocket upgrade past `rpc.max_ws_connections`.
fn too_many_websockets() -> HttpResponse<HttpBody> {
    let mut response =
        HttpResponse::new(HttpBody::from("Too many WebSocket connections. Please try again later."));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    response
}

/// Why a connection was refused; a metric label, so a bounded set.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// `rpc.max_connections` are open.
    Full,
    /// Its address holds `rpc.max_connections_per_ip`.
    PerIp,
    /// `rpc.max_ws_connections` WebSocket sessions are open.
    WebSockets,
}

impl Refusal {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Full => "max_connections",
            Self::PerIp => "max_connections_per_ip",
            Self::WebSockets => "max_ws_connections",
        }
    }
}

/// The places connections hold, in all, as WebSocket sessions, and by client address.
#[derive(Debug)]
struct ConnectionBudget {
    all: Arc<Semaphore>,
    websockets: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    max_per_ip: u32,
    metrics: ConnectionMetrics,
}

impl ConnectionBudget {
    fn new(limits: Limits) -> Self {
        Self {
            all: Arc::new(Semaphore::new(limits.max_connections as usize)),
            websockets: Arc::new(Semaphore::new(limits.max_ws_connections as usize)),
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip: limits.max_per_ip,
            metrics: ConnectionMetrics::default(),
        }
    }

    /// A place for a connection from `ip`, if the budget and the address's share allow one.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Arc<Place>, Refusal> {
        let all = self.all.clone().try_acquire_owned().map_err(|_| Refusal::Full)?;
        {
            let mut per_ip = self.per_ip.lock();
            let held = per_ip.entry(ip).or_default();
            if *held >= self.max_per_ip {
                return Err(Refusal::PerIp);
            }
            *held += 1;
        }
        self.metrics.open.increment(1.0);
        Ok(Arc::new(Place { budget: self.clone(), ip, _all: all, websocket: Mutex::new(None) }))
    }
}

/// One connection's place in the budget, given back when the connection's socket closes.
#[derive(Debug)]
struct Place {
    budget: Arc<ConnectionBudget>,
    ip: IpAddr,
    _all: OwnedSemaphorePermit,
    /// Held while the connection is (becoming) a WebSocket session.
    websocket: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Place {
    /// Takes one of the WebSocket places for this connection; false if none is free.
    fn take_websocket_place(&self) -> bool {
        let mut websocket = self.websocket.lock();
        if websocket.is_none() {
            *websocket = self.budget.websockets.clone().try_acquire_owned().ok();
        }
        websocket.is_some()
    }

    /// Gives the WebSocket place back: the upgrade did not happen.
    fn release_websocket_place(&self) {
        self.websocket.lock().take();
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut per_ip = self.budget.per_ip.lock();
        if let Some(held) = per_ip.get_mut(&self.ip) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.budget.metrics.open.decrement(1.0);
    }
}

/// A connection's socket with its place in the budget: the place goes when the socket does,
/// also after hyper hands the socket to a WebSocket session.
#[derive(Debug)]
struct Counted {
    stream: TcpStream,
    _place: Arc<Place>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Metrics of the connection budget.
#[derive(Clone, Debug)]
struct ConnectionMetrics {
    /// Connections open (HTTP and WebSocket).
    open: Gauge,
    refused_full: Counter,
    refused_per_ip: Counter,
    refused_websockets: Counter,
}

impl Default for ConnectionMetrics {
    fn default() -> Self {
        let refused = |refusal: Refusal| counter!("sequencer_rpc_connections_refused_total", "reason" => refusal.as_str());
        Self {
            open: gauge!("sequencer_rpc_connections"),
            refused_full: refused(Refusal::Full),
            refused_per_ip: refused(Refusal::PerIp),
            refused_websockets: refused(Refusal::WebSockets),
        }
    }
}

impl ConnectionMetrics {
    fn refused(&self, refusal: Refusal) {
        match refusal {
            Refusal::Full => &self.refused_full,
            Refusal::PerIp => &self.refused_per_ip,
            Refusal::WebSockets => &self.refused_websockets,
        }
        .increment(1);
    }
}
