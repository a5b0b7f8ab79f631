//! The JSON-RPC port's connections from outside, over raw TCP where a well-behaved client
//! would not do what is tested: the connection budget and its shares (WebSocket sessions, one
//! client address), the timeouts on headers, bodies and idle connections, and the answer to a
//! body whose framing is broken.

use crate::support::{config, dev_signer, eip1559, sign};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use sequencer::{genesis::ChainGenesis, node::Node};
use serde_json::{Value, json};
use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// How long a test waits for a condition before it fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// A WebSocket upgrade request, as a client sends it.
const UPGRADE: &str = "GET / HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
    sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n";

/// Everything the node sends on `stream` until it closes it; fails if it does not close it
/// within the deadline. A reset counts as closed.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the node did not close the connection within {DEADLINE:?}");
    String::from_utf8_lossy(&received).into_owned()
}

/// The status line and headers the node answers `request` with on a fresh connection, or
/// `None` if it closes the connection first.
async fn response_head(stream: &mut TcpStream, request: &str) -> Option<String> {
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(DEADLINE, async {
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return None,
            }
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    })
    .await
    .expect("no answer within the deadline")
}

/// A TCP connection to `node` from the loopback address `from`.
async fn connect_from(from: IpAddr, node: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(node).await.unwrap()
}

/// A POST of `body` (JSON) to `node`, keeping the connection open for more.
fn post(body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A JSON-RPC call over HTTP from `from` on a connection of its own (closed after it).
async fn call_from(from: IpAddr, node: &Node, method: &str, params: Value) -> Result<Value, String> {
    let http = reqwest::Client::builder().local_address(from).pool_max_idle_per_host(0).build().unwrap();
    let response = http
        .post(format!("http://{}", node.rpc_addr))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|error| error.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {text}"));
    }
    let answer: Value = serde_json::from_str(&text).map_err(|error| error.to_string())?;
    answer.get("result").cloned().ok_or_else(|| format!("{method} failed: {answer}"))
}

/// Retries `method` until it succeeds, failing the test at the deadline.
async fn call_eventually(from: IpAddr, node: &Node, method: &str, params: Value) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match call_from(from, node, method, params.clone()).await {
            Ok(result) => return result,
            Err(error) => assert!(Instant::now() < deadline, "{method} still refused: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn localhost(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// Fifty WebSocket clients that send nothing and answer no ping took every connection and
/// locked HTTP out for as long as they stayed. Now they get the WebSocket share only, HTTP is
/// served beside them, and the node closes them once they leave its pings unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_websockets_leave_room_for_http_and_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), None, 200);
    config.rpc.max_connections = 20;
    config.rpc.max_ws_connections = 10;
    config.rpc.ws_ping_interval_ms = 200;
    config.rpc.ws_inactive_limit_ms = 400;
    let node = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();

    let mut sessions = Vec::new();
    for _ in 0..50 {
        let Ok(mut stream) = TcpStream::connect(node.rpc_addr).await else { continue };
        if let Some(head) = response_head(&mut stream, UPGRADE).await
            && head.starts_with("HTTP/1.1 101")
        {
            sessions.push(stream);
        }
    }
    assert_eq!(sessions.len(), 10, "WebSocket sessions opened");

    // HTTP is served while they are open: reads and transactions.
    let number = call_eventually(localhost(1), &node, "eth_blockNumber", json!([])).await;
    assert!(number.as_str().unwrap().starts_with("0x"), "{number}");
    let raw = sign(
        &dev_signer(3),
        eip1559(0, TxKind::Call(Address::repeat_byte(0x42)), 21_000, U256::from(1u64), Bytes::new()),
    );
    let hash = call_eventually(localhost(1), &node, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(hash, json!(alloy_primitives::keccak256(&raw)));

    // Pings unanswered: each session is closed.
    for stream in &mut sessions {
        until_closed(stream).await;
    }
    // Their places are free again: a client that answers pings gets a session.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}", node.rpc_addr)).await.unwrap();
    {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        ws.send(Message::text(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#))
            .await
            .unwrap();
        let answer = loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
                _ => continue,
            }
        };
        assert_eq!(answer["result"], json!("0x539"), "{answer}");
    }
    node.stop().await;
}

/// Idle connections were not counted at all. Now every connection holds a place from accept
/// to close, and one address holds at most its share, so another address is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_counts_and_one_address_gets_a_share() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), None, 200);
    config.rpc.max_connections = 4;
    config.rpc.max_ws_connections = 1;
    config.rpc.max_connections_per_ip = 2;
    let node = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();

    // Two connections that send nothing (yet) take 127.0.0.1's share.
    let mut held = vec![
        connect_from(localhost(1), node.rpc_addr).await,
        connect_from(localhost(1), node.rpc_addr).await,
    ];
    let refused = call_from(localhost(1), &node, "eth_chainId", json!([])).await;
    assert!(refused.is_err(), "a third connection from one address was served: {refused:?}");
    // Another address is served, on a connection it keeps open (so that its place is held
    // for certain, not released at some moment after a client closed it).
    let mut served = connect_from(localhost(2), node.rpc_addr).await;
    let head = response_head(&mut served, &post(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#)).await;
    assert!(head.as_deref().is_some_and(|head| head.starts_with("HTTP/1.1 200")), "{head:?}");
    held.push(served);
    // One more from that address fills the budget: a third address is refused too.
    held.push(connect_from(localhost(2), node.rpc_addr).await);
    let refused = call_from(localhost(3), &node, "eth_chainId", json!([])).await;
    assert!(refused.is_err(), "a connection past max_connections was served: {refused:?}");
    drop(held);
    call_eventually(localhost(1), &node, "eth_chainId", json!([])).await;
    node.stop().await;
}

/// A connection that sent nothing, an idle keep-alive connection, and a body sent a byte at a
/// time were kept open without end. Now each is closed after its timeout; the slow body is
/// answered 408 first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_http_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), None, 200);
    config.rpc.request_header_timeout_ms = 300;
    config.rpc.request_body_timeout_ms = 300;
    let node = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();

    let mut silent = TcpStream::connect(node.rpc_addr).await.unwrap();
    assert_eq!(until_closed(&mut silent).await, "");

    let mut headers_only = TcpStream::connect(node.rpc_addr).await.unwrap();
    headers_only.write_all(b"POST / HTTP/1.1\r\nhost: localhost\r\n").await.unwrap();
    until_closed(&mut headers_only).await;

    let mut keep_alive = TcpStream::connect(node.rpc_addr).await.unwrap();
    keep_alive
        .write_all(post(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#).as_bytes())
        .await
        .unwrap();
    let answered = until_closed(&mut keep_alive).await;
    assert!(answered.starts_with("HTTP/1.1 200") && answered.contains("0x539"), "{answered}");

    let mut slow_body = TcpStream::connect(node.rpc_addr).await.unwrap();
    slow_body
        .write_all(b"POST / HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{")
        .await
        .unwrap();
    let answered = until_closed(&mut slow_body).await;
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    assert!(answered.contains("-32600") && answered.contains("request body not received"), "{answered}");
    node.stop().await;
}

/// A body whose framing is broken was answered 500, as if the node had failed. It is the
/// client's error: 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_body_framing_is_a_bad_request() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::launch(&config(dir.path(), None, 200), ChainGenesis::dev().unwrap()).await.unwrap();
    let head = "POST / HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n";
    let cases = [
        ("an invalid chunk size", format!("{head}transfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n")),
        ("a truncated chunked body", format!("{head}transfer-encoding: chunked\r\n\r\n40\r\n{{\"jsonrpc\"")),
        ("a body shorter than its length", format!("{head}content-length: 100\r\n\r\n{{\"jsonrpc\"")),
    ];
    for (case, request) in cases {
        let mut stream = TcpStream::connect(node.rpc_addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        // The client sends nothing more: the body ends half-way.
        stream.shutdown().await.unwrap();
        let answered = until_closed(&mut stream).await;
        assert!(answered.starts_with("HTTP/1.1 400"), "{case}: {answered}");
    }
    node.stop().await;
}
