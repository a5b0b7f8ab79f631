//! JSON-RPC request ids as the specification has them, over HTTP.
//!
//! JSON-RPC 2.0 lets an id be any string or number, or null, and a request without one is a
//! notification: executed, never answered. jsonrpsee reads an id only as a string or an
//! unsigned 64-bit integer. A request whose id is negative, fractional or past 2^64, or not a
//! string or number at all, it takes for a notification; and it answers notifications with the
//! body `null`. geth answers every numeric id as sent and refuses other ids as an invalid
//! request. This layer, in front of jsonrpsee on HTTP:
//! - hands jsonrpsee each numeric id it cannot read as a string of this layer's, and puts the
//!   client's id back in the answer;
//! - makes a request with an id of another type an invalid request (-32600, id null);
//! - answers a body of notifications only with an empty body.
//!
//! A body whose ids jsonrpsee reads goes through untouched, and so does its answer.

use bytes::Bytes;
use http::{
    HeaderValue, Method,
    header::{CONTENT_LENGTH, TRANSFER_ENCODING},
};
use http_body_util::BodyExt;
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse},
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
};

/// The layer; see the module docs. A body longer than `max_body_bytes` goes to jsonrpsee
/// unread past the limit, to be refused there.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequestIdsLayer {
    pub(super) max_body_bytes: usize,
}

impl<S> tower::Layer<S> for RequestIdsLayer {
    type Service = RequestIds<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIds { inner, max_body_bytes: self.max_body_bytes }
    }
}

/// The service of [`RequestIdsLayer`].
#[derive(Clone, Debug)]
pub(super) struct RequestIds<S> {
    inner: S,
    max_body_bytes: usize,
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
        if request.method() != Method::POST || declared_length(&request) > self.max_body_bytes {
            return Box::pin(inner.call(request));
        }
        let max_body_bytes = self.max_body_bytes;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let body = read_at_most(body, max_body_bytes).await?;
            // Declared, the length read makes jsonrpsee refuse a body past the limit as too
            // large (413) even when it came in chunks: there it would fail as an internal error.
            parts.headers.remove(TRANSFER_ENCODING);
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            if body.len() > max_body_bytes {
                return inner.call(HttpRequest::from_parts(parts, full(body))).await;
            }
            let Some(rewrite) = Rewrite::of(&body) else {
                return inner.call(HttpRequest::from_parts(parts, full(body))).await;
            };
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(rewrite.body.len()));
            let response = inner.call(HttpRequest::from_parts(parts, full(rewrite.body.clone()))).await?;
            rewrite.answer(response).await
        })
    }
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
    /// An id jsonrpsee reads, or no object at all (jsonrpsee refuses that itself).
    Readable,
    /// No id: a notification.
    Notification,
    /// A number jsonrpsee cannot read (the JSON text of it).
    OtherNumber(&'a str),
    /// An id that is neither string, number nor null.
    Invalid,
}

impl<'a> Entry<'a> {
    /// The entry of one request's JSON text.
    fn of(request: &'a str) -> Self {
        /// Only the id of a request object, as sent; `null` is an id, an absent one is not.
        #[derive(Deserialize)]
        struct Probe<'a> {
            #[serde(default, borrow, deserialize_with = "present")]
            id: Option<&'a RawValue>,
        }
        fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
            <&RawValue>::deserialize(deserializer).map(Some)
        }
        // serde would also read a struct from an array: only objects are requests.
        if !request.trim_start().starts_with('{') {
            return Self::Readable;
        }
        let Ok(probe) = serde_json::from_str::<Probe<'_>>(request) else { return Self::Readable };
        let Some(id) = probe.id else { return Self::Notification };
        let text = id.get();
        match text.as_bytes().first() {
            Some(b'"' | b'n') => Self::Readable,
            Some(b'-' | b'0'..=b'9') if text.parse::<u64>().is_ok() => Self::Readable,
            Some(b'-' | b'0'..=b'9') => Self::OtherNumber(text),
            _ => Self::Invalid,
        }
    }
}

/// A body rewritten for jsonrpsee, and how to put its answer back as the client sent it.
#[derive(Debug)]
struct Rewrite {
    body: Bytes,
    /// Each stand-in id (a JSON string) with the id the answer must carry instead, in the
    /// order of the requests.
    ids: Vec<(String, String)>,
    /// The body held notifications only: nothing to answer.
    notifications_only: bool,
}

impl Rewrite {
    /// The rewrite `body` needs, if any.
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
        let notifications_only = !entries.is_empty() && entries.iter().all(|e| *e == Entry::Notification);
        let rewritten = entries.iter().any(|e| matches!(e, Entry::OtherNumber(_) | Entry::Invalid));
        if !rewritten {
            return notifications_only.then(|| Self {
                body: Bytes::copy_from_slice(body),
                ids: Vec::new(),
                notifications_only,
            });
        }
        let mut ids = Vec::new();
        let mut parts = Vec::with_capacity(requests.len());
        for (request, entry) in requests.iter().zip(&entries) {
            let (stand_in, original) = match entry {
                Entry::OtherNumber(id) => (stand_in_id(), (*id).to_owned()),
                Entry::Invalid => (stand_in_id(), "null".to_owned()),
                Entry::Readable | Entry::Notification => {
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
        Some(Self { body: Bytes::from(body), ids, notifications_only: false })
    }

    /// jsonrpsee's `response` with the client's ids back in it.
    async fn answer(self, response: HttpResponse<HttpBody>) -> Result<HttpResponse<HttpBody>, BoxError> {
        let (mut parts, body) = response.into_parts();
        let body = if self.notifications_only {
            Bytes::new()
        } else {
            let body = body.collect().await?.to_bytes();
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
        assert_eq!(entry("[1]"), "Readable");
        assert_eq!(entry(r#"{"method":"m"}"#), "Notification");
        assert_eq!(entry(r#"{"id":-1}"#), r#"OtherNumber("-1")"#);
        assert_eq!(entry(r#"{"id":1.5}"#), r#"OtherNumber("1.5")"#);
        assert_eq!(entry(r#"{"id":18446744073709551616}"#), r#"OtherNumber("18446744073709551616")"#);
        assert_eq!(entry(r#"{"id":true}"#), "Invalid");
        assert_eq!(entry(r#"{"id":{"a":1}}"#), "Invalid");
    }

    #[test]
    fn readable_bodies_are_left_alone() {
        assert!(Rewrite::of(br#"{"jsonrpc":"2.0","id":7,"method":"m"}"#).is_none());
        assert!(Rewrite::of(br#"[{"jsonrpc":"2.0","id":7,"method":"m"},{"method":"n"}]"#).is_none());
        assert!(Rewrite::of(b"[]").is_none());
        assert!(Rewrite::of(b"{not json").is_none());
    }

    #[test]
    fn notifications_only_get_no_answer() {
        let rewrite = Rewrite::of(br#"[{"jsonrpc":"2.0","method":"m"},{"method":"n"}]"#).unwrap();
        assert!(rewrite.notifications_only);
        assert!(rewrite.ids.is_empty());
    }

    #[test]
    fn other_ids_are_stood_in_for_and_restored() {
        let body = br#"[{"jsonrpc":"2.0","id":-1,"method":"m","params":[1e400]},{"id":1,"method":"m"},{"id":true,"method":"m"}]"#;
        let rewrite = Rewrite::of(body).unwrap();
        assert_eq!(rewrite.ids.len(), 2);
        let (first, second) = (&rewrite.ids[0].0, &rewrite.ids[1].0);
        assert_ne!(first, second);
        // The params go as sent, numbers no float could hold included.
        assert!(std::str::from_utf8(&rewrite.body).unwrap().contains("[1e400]"));
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
