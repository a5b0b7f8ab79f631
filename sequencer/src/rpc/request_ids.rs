//! JSON-RPC request ids as the specification has them, over HTTP.
//!
//! JSON-RPC 2.0 lets an id be any string or number, or null, and a request without one is a
//! notification: executed, never answered. jsonrpsee reads an id only as a string or an
//! unsigned 64-bit integer. A request whose id is negative, fractional or past 2^64, a boolean,
//! or an object or array, it takes for a notification; and it answers notifications with the
//! body `null`. geth answers every id as sent except objects and arrays, which it refuses as an
//! invalid request. This layer, in front of jsonrpsee on HTTP:
//! - hands jsonrpsee each id it cannot read (numbers, booleans) as a string of this layer's, and
//!   puts the client's id back in the answer;
//! - makes a request whose id is an object or array, or that has neither an id nor a method
//!   name, an invalid request (-32600, id null);
//! - marks a body whose every request without an id is a real notification (an object with a
//!   method), so that [`super::notifications`] executes them and nothing else;
//! - answers a body of notifications only with an empty body;
//! - enforces the body size limit itself, with jsonrpsee's answer (413, -32007), chunked bodies
//!   included: a stand-in id may make a body longer, so jsonrpsee's own limit has headroom
//!   ([`headroom`]);
//! - gives a client `body_timeout` to send the whole body, and answers one that does not with
//!   408, and a body whose framing is broken (a bad chunk, fewer bytes than its
//!   `Content-Length` before the connection ends) with 400; the connection is closed after
//!   either.
//!
//! A body whose ids jsonrpsee reads goes through untouched, and so does its answer.

use bytes::Bytes;
use http::{
    HeaderValue, Method, StatusCode,
    header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING},
};
use http_body_util::BodyExt;
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse, http::response},
    types::error::INVALID_REQUEST_CODE,
};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::{
    collections::BTreeMap,
    future::Future,
    hash::BuildHasher,
    pin::Pin,
    sync::atomic::{AtomicU64, Ordering},
    task::{Context, Poll},
    time::Duration,
};

/// The layer; see the module docs. A body longer than `max_body_bytes`, or not in within
/// `body_timeout`, is refused.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequestIdsLayer {
    pub(super) max_body_bytes: usize,
    pub(super) body_timeout: Duration,
}

impl<S> tower::Layer<S> for RequestIdsLayer {
    type Service = RequestIds<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIds { inner, max_body_bytes: self.max_body_bytes, body_timeout: self.body_timeout }
    }
}

/// The service of [`RequestIdsLayer`].
#[derive(Clone, Debug)]
pub(super) struct RequestIds<S> {
    inner: S,
    max_body_bytes: usize,
    body_timeout: Duration,
}

impl<S> tower::Service<HttpRequest<HttpBody>> for RequestIds<S>
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<HttpBody>) -> Self::Future {
        // The service that was made ready serves this request; a clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if request.method() != Method::POST {
            return Box::pin(inner.call(request));
        }
        let (max_body_bytes, body_timeout) = (self.max_body_bytes, self.body_timeout);
        let too_large = move || response::too_large(u32::try_from(max_body_bytes).unwrap_or(u32::MAX));
        if declared_length(&request) > max_body_bytes {
            return Box::pin(std::future::ready(Ok(too_large())));
        }
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let body = match tokio::time::timeout(body_timeout, read_at_most(body, max_body_bytes)).await {
                Ok(Ok(body)) if body.len() > max_body_bytes => return Ok(too_large()),
                Ok(Ok(body)) => body,
                Ok(Err(error)) => {
                    tracing::debug!(target: "rpc", %error, "reading a request body failed");
                    return Ok(closing(response::malformed()));
                }
                Err(_) => {
                    tracing::debug!(target: "rpc", ?body_timeout, "a request body did not arrive in time");
                    return Ok(closing(body_timed_out(body_timeout)));
                }
            };
            parts.headers.remove(TRANSFER_ENCODING);
            let rewrite = Rewrite::of(&body);
            if rewrite.as_ref().is_some_and(|rewrite| rewrite.notifications_checked) {
                parts.extensions.insert(NotificationsChecked);
            }
            let sent = rewrite.as_ref().and_then(|rewrite| rewrite.body.clone()).unwrap_or(body);
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(sent.len()));
            let response = inner.call(HttpRequest::from_parts(parts, full(sent))).await?;
            match rewrite {
                Some(rewrite) => rewrite.answer(response).await,
                None => Ok(response),
            }
        })
    }
}

/// Marks a request whose requests without an id this layer found to be notifications (objects
/// with a method and no id), not requests whose id jsonrpsee could not read.
#[derive(Clone, Copy, Debug)]
pub(super) struct NotificationsChecked;

/// The bytes jsonrpsee's body limit must exceed the node's by, for bodies of up to
/// `max_batch_len` requests this layer rewrote: each stand-in, or the invalid request put in
/// place of one, is at most this much longer than what the client sent.
pub(super) fn headroom(max_batch_len: u32) -> u32 {
    const PER_REQUEST: u32 = 64;
    max_batch_len.max(1).saturating_mul(PER_REQUEST)
}

/// `response` with the connection closed after it: the request's body was not read to its end,
/// so the next request's start is unknown.
fn closing(mut response: HttpResponse<HttpBody>) -> HttpResponse<HttpBody> {
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The answer to a body that did not arrive within `timeout`: 408, with an invalid-request
/// error that says so.
fn body_timed_out(timeout: Duration) -> HttpResponse<HttpBody> {
    let message = format!("request body not received within {} ms", timeout.as_millis());
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": INVALID_REQUEST_CODE, "message": message},
    });
    let mut response = response::ok_response(body.to_string());
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response
}

/// The length a request's `Content-Length` declares (0 without one).
fn declared_length(request: &HttpRequest<HttpBody>) -> usize {
    request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse().ok())
        .unwrap_or_default()
}

/// The body, or its first `limit` bytes and more when it is longer.
async fn read_at_most(mut body: HttpBody, limit: usize) -> Result<Bytes, BoxError> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut length = 0;
    while length <= limit {
        let Some(frame) = body.frame().await else { break };
        if let Ok(data) = frame?.into_data() {
            length += data.len();
            chunks.push(data);
        }
    }
    // A body in one chunk, as most are, is not copied.
    match chunks.len() {
        1 => Ok(chunks.swap_remove(0)),
        _ => Ok(Bytes::from(chunks.concat())),
    }
}

fn full(bytes: Bytes) -> HttpBody {
    HttpBody::new(http_body_util::Full::new(bytes))
}

/// What one request object of a body needs.
#[derive(Debug, PartialEq, Eq)]
enum Entry<'a> {
    /// An id jsonrpsee reads.
    Readable,
    /// Not an object, or an object this layer cannot read (duplicate keys): jsonrpsee answers
    /// it as it would.
    Unread,
    /// No id and a method: a notification.
    Notification,
    /// An id jsonrpsee cannot read and geth answers with (the JSON text of it): a number past
    /// a u64, or a boolean.
    StandIn(&'a str),
    /// An object or array for an id, or neither an id nor a method name: an invalid request.
    Invalid,
}

impl<'a> Entry<'a> {
    /// The entry of one request's JSON text.
    fn of(request: &'a str) -> Self {
        /// The id and method of a request object, as sent; `null` is an id, an absent one is
        /// not.
        #[derive(Deserialize)]
        struct Probe<'a> {
            #[serde(default, borrow, deserialize_with = "present")]
            id: Option<&'a RawValue>,
            #[serde(default, borrow, deserialize_with = "present")]
            method: Option<&'a RawValue>,
        }
        fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
            <&RawValue>::deserialize(deserializer).map(Some)
        }
        // serde would also read a struct from an array: only objects are requests.
        if !request.trim_start().starts_with('{') {
            return Self::Unread;
        }
        let Ok(probe) = serde_json::from_str::<Probe<'_>>(request) else { return Self::Unread };
        let Some(id) = probe.id else {
            let named = probe.method.is_some_and(|method| method.get().starts_with('"'));
            return if named { Self::Notification } else { Self::Invalid };
        };
        let text = id.get();
        match text.as_bytes().first() {
            Some(b'"' | b'n') => Self::Readable,
            Some(b'-' | b'0'..=b'9') if text.parse::<u64>().is_ok() => Self::Readable,
            Some(b'{' | b'[') => Self::Invalid,
            _ => Self::StandIn(text),
        }
    }
}

/// What a body needs before and after jsonrpsee.
#[derive(Debug)]
struct Rewrite {
    /// The body jsonrpsee gets instead of the client's, if it is rewritten.
    body: Option<Bytes>,
    /// Each stand-in id (a JSON string) with the id the answer must carry instead, in the
    /// order of the requests.
    ids: Vec<(String, String)>,
    /// Every request without an id is a notification ([`NotificationsChecked`]).
    notifications_checked: bool,
    /// The body held notifications only: nothing to answer.
    notifications_only: bool,
}

impl Rewrite {
    /// What `body` needs, if anything.
    fn of(body: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(body).ok()?;
        let is_batch = text.trim_start().starts_with('[');
        // Most bodies are one request with a readable id: one pass over it decides.
        if !is_batch && Entry::of(text) == Entry::Readable {
            return None;
        }
        let requests: Vec<&RawValue> =
            if is_batch { serde_json::from_str(text).ok()? } else { vec![serde_json::from_str(text).ok()?] };
        let entries: Vec<Entry<'_>> = requests.iter().map(|request| Entry::of(request.get())).collect();
        let notifications = entries.contains(&Entry::Notification);
        let notifications_checked = notifications && !entries.contains(&Entry::Unread);
        let notifications_only = !entries.is_empty() && entries.iter().all(|e| *e == Entry::Notification);
        let rewritten = entries.iter().any(|e| matches!(e, Entry::StandIn(_) | Entry::Invalid));
        if !rewritten {
            return notifications.then_some(Self {
                body: None,
                ids: Vec::new(),
                notifications_checked,
                notifications_only,
            });
        }
        let mut ids = Vec::new();
        let mut parts = Vec::with_capacity(requests.len());
        for (request, entry) in requests.iter().zip(&entries) {
            let (stand_in, original) = match entry {
                Entry::StandIn(id) => (stand_in_id(), (*id).to_owned()),
                Entry::Invalid => (stand_in_id(), "null".to_owned()),
                Entry::Readable | Entry::Unread | Entry::Notification => {
                    parts.push(request.get().to_owned());
                    continue;
                }
            };
            parts.push(match entry {
                // No method: jsonrpsee answers it as an invalid request, under the stand-in.
                Entry::Invalid => format!(r#"{{"jsonrpc":"2.0","id":{stand_in}}}"#),
                _ => with_id(request, &stand_in)?,
            });
            ids.push((stand_in, original));
        }
        let body = if is_batch { format!("[{}]", parts.join(",")) } else { parts.concat() };
        Some(Self { body: Some(Bytes::from(body)), ids, notifications_checked, notifications_only: false })
    }

    /// jsonrpsee's `response` with the client's ids back in it, or, for a body of notifications
    /// only, with the `null` it answers them with left out.
    async fn answer(self, response: HttpResponse<HttpBody>) -> Result<HttpResponse<HttpBody>, BoxError> {
        let (mut parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        let body = if self.notifications_only {
            if body.trim_ascii() == b"null" { Bytes::new() } else { body }
        } else {
            match String::from_utf8(body.to_vec()) {
                Ok(text) => Bytes::from(restore_ids(text, &self.ids)),
                Err(_) => body,
            }
        };
        parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        Ok(HttpResponse::from_parts(parts, full(body)))
    }
}

/// `request` (an object) with its id replaced by `id`, the rest as sent.
fn with_id(request: &RawValue, id: &str) -> Option<String> {
    let mut members: BTreeMap<String, &RawValue> = serde_json::from_str(request.get()).ok()?;
    members.insert("id".to_owned(), serde_json::from_str(id).ok()?);
    serde_json::to_string(&members).ok()
}

/// A JSON string no client can guess, to stand in for an id jsonrpsee cannot read.
fn stand_in_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    let keyed = std::collections::hash_map::RandomState::new().hash_one(count);
    format!("\"id-{keyed:016x}-{count}\"")
}

/// `answer` with each stand-in id replaced by the client's. jsonrpsee writes a response's id
/// before its result or error, and the responses of a batch in the order of its requests, so
/// each stand-in's first place after the previous one's is its id.
fn restore_ids(answer: String, ids: &[(String, String)]) -> String {
    let mut restored = String::with_capacity(answer.len());
    let mut rest = answer.as_str();
    for (stand_in, original) in ids {
        let Some(at) = rest.find(stand_in.as_str()) else { continue };
        restored.push_str(&rest[..at]);
        restored.push_str(original);
        rest = &rest[at + stand_in.len()..];
    }
    restored.push_str(rest);
    restored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_told_apart_by_their_id() {
        let entry = |text: &str| format!("{:?}", Entry::of(text));
        assert_eq!(entry(r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#), "Readable");
        assert_eq!(entry(r#"{"id":"x"}"#), "Readable");
        assert_eq!(entry(r#"{"id":null}"#), "Readable");
        assert_eq!(entry("[1]"), "Unread");
        assert_eq!(entry("{}"), "Invalid");
        assert_eq!(entry(r#"{"method":1}"#), "Invalid");
        assert_eq!(entry(r#"{"id":1,"id":2,"method":"m"}"#), "Unread");
        assert_eq!(entry(r#"{"method":"m"}"#), "Notification");
        assert_eq!(entry(r#"{"id":-1}"#), r#"StandIn("-1")"#);
        assert_eq!(entry(r#"{"id":1.5}"#), r#"StandIn("1.5")"#);
        assert_eq!(entry(r#"{"id":18446744073709551616}"#), r#"StandIn("18446744073709551616")"#);
        assert_eq!(entry(r#"{"id":true}"#), r#"StandIn("true")"#);
        assert_eq!(entry(r#"{"id":{"a":1}}"#), "Invalid");
        assert_eq!(entry(r#"{"id":[]}"#), "Invalid");
    }

    #[test]
    fn readable_bodies_are_left_alone() {
        assert!(Rewrite::of(br#"{"jsonrpc":"2.0","id":7,"method":"m"}"#).is_none());
        assert!(Rewrite::of(br#"[{"jsonrpc":"2.0","id":7,"method":"m"},1]"#).is_none());
        assert!(Rewrite::of(b"[]").is_none());
        assert!(Rewrite::of(b"{not json").is_none());
    }

    #[test]
    fn notifications_are_checked_unless_a_request_is_unread() {
        let only = Rewrite::of(br#"[{"jsonrpc":"2.0","method":"m"},{"method":"n"}]"#).unwrap();
        assert!(only.notifications_only && only.notifications_checked && only.body.is_none());
        let mixed = Rewrite::of(br#"[{"method":"m"},{"id":1,"method":"n"}]"#).unwrap();
        assert!(!mixed.notifications_only && mixed.notifications_checked);
        // A request this layer cannot read might be a call whose id jsonrpsee drops: the
        // body's notifications are then not vouched for.
        let unread = Rewrite::of(br#"[{"method":"m"},{"id":1,"id":2,"method":"n"}]"#).unwrap();
        assert!(!unread.notifications_checked);
    }

    #[test]
    fn other_ids_are_stood_in_for_and_restored() {
        let body = br#"[{"jsonrpc":"2.0","id":-1,"method":"m","params":[1e400]},{"id":1,"method":"m"},{"id":[],"method":"m"}]"#;
        let rewrite = Rewrite::of(body).unwrap();
        assert_eq!(rewrite.ids.len(), 2);
        let (first, second) = (&rewrite.ids[0].0, &rewrite.ids[1].0);
        assert_ne!(first, second);
        let sent = rewrite.body.unwrap();
        assert!(sent.len() as u32 <= body.len() as u32 + headroom(3));
        // The params go as sent, numbers no float could hold included.
        assert!(std::str::from_utf8(&sent).unwrap().contains("[1e400]"));
        let answer = format!(
            r#"[{{"jsonrpc":"2.0","id":{first},"result":{first}}},{{"jsonrpc":"2.0","id":1,"result":1}},{{"jsonrpc":"2.0","id":{second},"error":{{"code":-32600}}}}]"#
        );
        assert_eq!(
            restore_ids(answer, &rewrite.ids),
            format!(
                r#"[{{"jsonrpc":"2.0","id":-1,"result":{first}}},{{"jsonrpc":"2.0","id":1,"result":1}},{{"jsonrpc":"2.0","id":null,"error":{{"code":-32600}}}}]"#
            )
        );
    }
}
