//! The JSON-RPC surface from outside: every method over real HTTP (raw JSON-RPC, results
//! validated against the execution-apis schemas), the standard error codes, and subscriptions
//! over WebSocket with alloy's provider.

use crate::{
    spec::Spec,
    support::{DEV_CHAIN_ID, config, dev_signer, eip1559, init_code, sign, wait_receipt},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, WsConnect};
use alloy_rpc_types_eth::Filter;
use sequencer::{genesis::ChainGenesis, node::Node};
use serde_json::{Value, json};
use std::time::Duration;

/// `LOG1(topic = calldata[0..32], data = calldata[32..64])`.
const EMITTER: &[u8] =
    &[0x60, 0x20, 0x35, 0x60, 0x00, 0x52, 0x60, 0x00, 0x35, 0x60, 0x20, 0x60, 0x00, 0xa1, 0x00];

fn tx(signer: u32, nonce: u64, to: TxKind, gas_limit: u64, input: Bytes) -> Bytes {
    sign(&dev_signer(signer), eip1559(nonce, to, gas_limit, U256::from(1u64), input))
}

fn emit(topic: B256, data: u64) -> Bytes {
    [topic.as_slice(), &U256::from(data).to_be_bytes::<32>()].concat().into()
}

/// A JSON-RPC client over plain HTTP.
struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    /// The full response of one request.
    async fn request(&self, body: &Value) -> Value {
        self.http.post(&self.url).json(body).send().await.unwrap().json().await.unwrap()
    }

    /// The result of `method`, which must succeed.
    async fn call(&self, method: &str, params: Value) -> Value {
        let response =
            self.request(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).await;
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// The error of `method`, which must fail.
    async fn error(&self, method: &str, params: Value) -> Value {
        let response =
            self.request(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).await;
        response.get("error").unwrap_or_else(|| panic!("{method} succeeded: {response}")).clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_over_http_matches_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), None, 200);
    config.rpc.max_logs_block_range = 50;
    config.rpc.max_logs = 2;
    let node = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();
    let client = Client { http: reqwest::Client::new(), url: format!("http://{}", node.rpc_addr) };
    let provider = crate::support::provider(&node);
    let spec = Spec::load();

    // Subscriptions first, so that they see what follows.
    let ws =
        ProviderBuilder::new().connect_ws(WsConnect::new(format!("ws://{}", node.rpc_addr))).await.unwrap();
    let mut heads = ws.subscribe_blocks().await.unwrap();
    let mut pending = ws.subscribe_pending_transactions().await.unwrap();
    let block_filter = client.call("eth_newBlockFilter", json!([])).await;
    let pending_filter = client.call("eth_newPendingTransactionFilter", json!([])).await;
    spec.check("eth_newBlockFilter", &block_filter);
    spec.check("eth_newPendingTransactionFilter", &pending_filter);

    // A contract that logs, and logs from it.
    let deploy = tx(0, 0, TxKind::Create, 200_000, init_code(EMITTER));
    let deploy_hash = *provider.send_raw_transaction(&deploy).await.unwrap().tx_hash();
    let deployed = wait_receipt(&provider, deploy_hash).await;
    let emitter = deployed.contract_address.unwrap();
    let first = json!(format!("{:#x}", deployed.block_number.unwrap()));
    let (red, blue) = (B256::repeat_byte(0xee), B256::repeat_byte(0xbb));
    let mut logs = ws.subscribe_logs(&Filter::new().address(emitter)).await.unwrap();
    let log_filter = client
        .call("eth_newFilter", json!([{"fromBlock": first, "address": emitter, "topics": [red]}]))
        .await;
    spec.check("eth_newFilter", &log_filter);
    let mut last = B256::ZERO;
    for (nonce, topic) in [(1, red), (2, blue), (3, red)] {
        let raw = tx(0, nonce, TxKind::Call(emitter), 60_000, emit(topic, nonce));
        let sent = client.call("eth_sendRawTransaction", json!([raw])).await;
        spec.check("eth_sendRawTransaction", &sent);
        last = sent.as_str().unwrap().parse().unwrap();
    }
    let receipt = wait_receipt(&provider, last).await;
    let block_number = receipt.block_number.unwrap();
    let block_hash = receipt.block_hash.unwrap();
    // A nonce gap: queued in the pool.
    let gapped_hash = client
        .call("eth_sendRawTransaction", json!([tx(5, 1, TxKind::Call(Address::ZERO), 21_000, Bytes::new())]))
        .await;

    // Subscriptions delivered.
    let header = tokio::time::timeout(Duration::from_secs(10), heads.recv())
        .await
        .expect("no newHeads notification within 10 s")
        .unwrap();
    assert_eq!(header.hash, header.inner.hash_slow());
    let hash = tokio::time::timeout(Duration::from_secs(10), pending.recv())
        .await
        .expect("no newPendingTransactions notification within 10 s")
        .unwrap();
    assert_eq!(hash, deploy_hash);
    let log = tokio::time::timeout(Duration::from_secs(10), logs.recv())
        .await
        .expect("no logs notification within 10 s")
        .unwrap();
    assert_eq!(log.address(), emitter);
    assert_eq!(log.topics(), &[red]);

    // Every method, results checked against the spec.
    let sender = dev_signer(0).address();
    let latest = json!("latest");
    let block = json!(format!("{block_number:#x}"));
    let call = json!({"from": sender, "to": emitter, "data": emit(red, 9)});
    let calls: Vec<(&str, Value)> = vec![
        ("eth_chainId", json!([])),
        ("eth_blockNumber", json!([])),
        ("eth_syncing", json!([])),
        ("eth_accounts", json!([])),
        ("eth_gasPrice", json!([])),
        ("eth_maxPriorityFeePerGas", json!([])),
        ("eth_blobBaseFee", json!([])),
        ("eth_baseFee", json!([])),
        ("eth_capabilities", json!([])),
        ("eth_config", json!([])),
        ("eth_coinbase", json!([])),
        ("eth_feeHistory", json!(["0x5", latest, [25.0, 75.0]])),
        ("eth_getBalance", json!([sender, latest])),
        ("eth_getCode", json!([emitter, latest])),
        ("eth_getStorageAt", json!([emitter, "0x0", latest])),
        (
            "eth_getStorageValues",
            json!([{emitter.to_string(): ["0x0", "0x1"], sender.to_string(): []}, latest]),
        ),
        ("eth_getStorageValues", json!([{emitter.to_string(): ["0x0"]}, block])),
        ("eth_getTransactionCount", json!([sender, "pending"])),
        ("eth_getProof", json!([emitter, [B256::ZERO], latest])),
        ("eth_call", json!([call, latest])),
        ("eth_estimateGas", json!([call])),
        ("eth_createAccessList", json!([call, latest])),
        ("eth_fillTransaction", json!([call])),
        ("eth_getTransactionByHash", json!([last])),
        ("eth_getProof", json!([emitter, ["0x0"], block])),
        ("eth_getRawTransactionByHash", json!([last])),
        ("eth_getTransactionByBlockHashAndIndex", json!([block_hash, "0x0"])),
        ("eth_getTransactionByBlockNumberAndIndex", json!([block, "0x0"])),
        ("eth_getTransactionReceipt", json!([last])),
        ("eth_getBlockReceipts", json!([block])),
        ("eth_getBlockByNumber", json!([block, false])),
        ("eth_getBlockByNumber", json!([block, true])),
        ("eth_getBlockByHash", json!([block_hash, true])),
        ("eth_getBlockTransactionCountByHash", json!([block_hash])),
        ("eth_getBlockTransactionCountByNumber", json!([block])),
        ("eth_getUncleCountByBlockHash", json!([block_hash])),
        ("eth_getUncleCountByBlockNumber", json!([block])),
        ("eth_getUncleByBlockHashAndIndex", json!([block_hash, "0x0"])),
        ("eth_getUncleByBlockNumberAndIndex", json!([block, "0x0"])),
        ("eth_feeHistory", json!(["0x2", latest, []])),
        ("eth_getLogs", json!([{"fromBlock": first, "toBlock": block, "address": emitter, "topics": [red]}])),
        ("eth_getFilterChanges", json!([log_filter])),
        ("eth_getFilterLogs", json!([log_filter])),
        ("eth_getFilterChanges", json!([block_filter])),
        ("eth_getFilterChanges", json!([pending_filter])),
        ("eth_uninstallFilter", json!([block_filter])),
    ];
    for (method, params) in calls {
        let result = client.call(method, params.clone()).await;
        if spec.has(method) {
            spec.check(method, &result);
        }
        match method {
            "eth_getFilterChanges" if params[0] == log_filter => {
                assert_eq!(result.as_array().unwrap().len(), 2, "{method}: {result}");
            }
            "eth_getLogs" | "eth_getFilterLogs" => {
                assert_eq!(result.as_array().unwrap().len(), 2, "{method}: {result}");
            }
            "eth_getBlockReceipts" => assert!(!result.as_array().unwrap().is_empty()),
            "eth_getUncleCountByBlockHash" | "eth_getUncleCountByBlockNumber" => {
                assert_eq!(result, json!("0x0"))
            }
            "eth_syncing" => assert_eq!(result, json!(false)),
            "eth_getUncleByBlockHashAndIndex" | "eth_getUncleByBlockNumberAndIndex" => {
                assert_eq!(result, Value::Null)
            }
            // A short key is the number it spells, and is named back as asked.
            "eth_getProof" if params[1] == json!(["0x0"]) => {
                assert_eq!(result["storageProof"][0]["key"], json!("0x0"), "{result}");
            }
            "eth_feeHistory" if params[2] == json!([]) => assert!(result.get("reward").is_none(), "{result}"),
            "eth_accounts" => assert_eq!(result, json!([])),
            "eth_chainId" => assert_eq!(result, json!(format!("{DEV_CHAIN_ID:#x}"))),
            "eth_getStorageValues" => {
                let values = result.as_object().unwrap();
                let slots = &values.iter().find(|(address, _)| address.parse() == Ok(emitter)).unwrap().1;
                let zero = client.call("eth_getStorageAt", json!([emitter, "0x0", params[1]])).await;
                assert_eq!(slots[0], zero, "{result}");
            }
            "eth_config" => {
                let current = &result["current"];
                assert_eq!(current["chainId"], json!(format!("{DEV_CHAIN_ID:#x}")));
                // Osaka: the BLS precompiles of Prague and P256VERIFY (EIP-7951) at 0x100.
                assert_eq!(current["precompiles"]["P256VERIFY"], json!(format!("0x{:040x}", 0x100)));
                assert_eq!(current["precompiles"].as_object().unwrap().len(), 18, "{result}");
                // The L2 takes no blob: none per block, the fork's update fraction (Osaka's).
                assert_eq!(
                    current["blobSchedule"],
                    json!({"target": 0, "max": 0, "baseFeeUpdateFraction": 5_007_716}),
                    "{result}"
                );
                // The fork hash of a chain whose forks are all at genesis: CRC32 of its hash.
                let genesis =
                    client.call("eth_getBlockByNumber", json!(["0x0", false])).await["hash"].clone();
                let genesis: B256 = serde_json::from_value(genesis).unwrap();
                let crc = crc32(genesis.as_slice());
                assert_eq!(current["forkId"], json!(format!("{crc:#010x}")), "{result}");
                assert_eq!((&result["next"], &result["last"]), (&Value::Null, &Value::Null));
            }
            "eth_fillTransaction" => {
                let tx = &result["tx"];
                assert_eq!(tx["type"], json!("0x2"), "{result}");
                assert_eq!(tx["chainId"], json!(format!("{DEV_CHAIN_ID:#x}")), "{result}");
                let pending = client.call("eth_getTransactionCount", json!([sender, "pending"])).await;
                assert_eq!(tx["nonce"], pending, "{result}");
                let estimate = client.call("eth_estimateGas", json!([call])).await;
                assert_eq!(tx["gas"], estimate, "{result}");
            }
            "eth_coinbase" => {
                let head = client.call("eth_getBlockByNumber", json!(["latest", false])).await;
                assert_eq!(result, head["miner"]);
            }
            "eth_capabilities" => {
                assert_eq!(result["blocks"], json!({"disabled": false, "oldestBlock": "0x0"}));
                assert!(
                    u64::from_str_radix(&result["head"]["number"].as_str().unwrap()[2..], 16).unwrap()
                        >= block_number
                );
            }
            _ => {}
        }
    }
    // Counts and positions agree with the block's own list of transactions.
    let hashes = client.call("eth_getBlockByNumber", json!([block, false])).await["transactions"].clone();
    let hashes = hashes.as_array().unwrap();
    let count = json!(format!("{:#x}", hashes.len()));
    assert_eq!(client.call("eth_getBlockTransactionCountByNumber", json!([block])).await, count);
    assert_eq!(client.call("eth_getBlockTransactionCountByHash", json!([block_hash])).await, count);
    let last_index = json!(format!("{:#x}", hashes.len() - 1));
    let at_last = client.call("eth_getTransactionByBlockNumberAndIndex", json!([block, last_index])).await;
    assert_eq!(at_last["hash"], hashes[hashes.len() - 1]);
    assert_eq!(at_last["transactionIndex"], last_index);
    let past_the_end = json!(format!("{:#x}", hashes.len()));
    assert_eq!(
        client.call("eth_getTransactionByBlockHashAndIndex", json!([block_hash, past_the_end])).await,
        Value::Null
    );
    assert_eq!(client.call("net_version", json!([])).await, json!(DEV_CHAIN_ID.to_string()));
    assert_eq!(client.call("net_listening", json!([])).await, json!(false));
    assert_eq!(client.call("net_peerCount", json!([])).await, json!("0x0"));
    assert_eq!(
        client.call("web3_sha3", json!(["0x68656c6c6f"])).await,
        json!("0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8")
    );
    assert!(
        client.call("web3_clientVersion", json!([])).await.as_str().unwrap().starts_with("native-rollup")
    );
    let status = client.call("txpool_status", json!([])).await;
    assert_eq!(status["queued"], json!("0x1"), "{status}");
    // A pending transaction's gas price is its fee cap, as geth gives it. (The spec's
    // transaction result describes mined ones only: block hash, number and index set.)
    let pooled = client.call("eth_getTransactionByHash", json!([gapped_hash])).await;
    assert_eq!(pooled["blockHash"], Value::Null);
    assert_eq!(pooled["gasPrice"], pooled["maxFeePerGas"], "{pooled}");
    let content = client.call("txpool_content", json!([])).await;
    // Senders are keyed by their EIP-55 (checksummed) address, as geth keys them.
    let gapped = dev_signer(5).address().to_checksum(None);
    assert_eq!(content["queued"][&gapped]["1"]["hash"], gapped_hash, "{content}");
    let from = client.call("txpool_contentFrom", json!([gapped])).await;
    assert_eq!(from["queued"]["1"]["hash"], gapped_hash, "{from}");
    assert_eq!(from["pending"], json!({}));
    client.call("txpool_inspect", json!([])).await;
    assert_eq!(client.call("eth_uninstallFilter", json!([block_filter])).await, json!(false));
    // A filter returns what comes after it is installed, not history (that is
    // eth_getFilterLogs's); one that starts after the head waits for its blocks.
    let late = client
        .call("eth_newFilter", json!([{"fromBlock": first, "address": emitter, "topics": [red]}]))
        .await;
    assert_eq!(client.call("eth_getFilterChanges", json!([late])).await, json!([]));
    assert_eq!(client.call("eth_getFilterLogs", json!([late])).await.as_array().unwrap().len(), 2);
    let ahead = format!("{:#x}", provider.get_block_number().await.unwrap() + 1_000);
    let future = client.call("eth_newFilter", json!([{"fromBlock": ahead}])).await;
    assert_eq!(client.call("eth_getFilterChanges", json!([future])).await, json!([]));
    let backwards = client.error("eth_newFilter", json!([{"fromBlock": "0x9", "toBlock": "0x8"}])).await;
    assert_eq!(backwards["code"], json!(-32602), "{backwards}");
    // Fee history of blocks that do not exist yet, or with percentiles out of order, fails.
    let beyond = client.error("eth_feeHistory", json!(["0x2", "0xffffff", []])).await;
    assert!(beyond["message"].as_str().unwrap().starts_with("request beyond head block"), "{beyond}");
    let unordered = client.error("eth_feeHistory", json!(["0x2", "latest", [50.0, 50.0]])).await;
    assert!(unordered["message"].as_str().unwrap().starts_with("invalid reward percentile"), "{unordered}");
    // Filters larger than a query may be are refused, as geth refuses them.
    let addresses: Vec<Address> =
        (0..1_001u32).map(|i| Address::left_padding_from(&i.to_be_bytes())).collect();
    let wide = json!([{"fromBlock": first, "address": addresses}]);
    for method in ["eth_getLogs", "eth_newFilter"] {
        let refused = client.error(method, wide.clone()).await;
        assert!(
            refused["message"].as_str().unwrap().starts_with("exceed max addresses"),
            "{method}: {refused}"
        );
    }
    let topics: Vec<B256> = (0..1_001u64).map(|i| B256::from(U256::from(i))).collect();
    let refused = client.error("eth_getLogs", json!([{"fromBlock": first, "topics": [topics]}])).await;
    assert!(refused["message"].as_str().unwrap().starts_with("exceed max topics"), "{refused}");
    let percentiles: Vec<f64> = (0..101).map(|p| p as f64 * 0.5).collect();
    let refused = client.error("eth_feeHistory", json!(["0x2", "latest", percentiles])).await;
    assert!(refused["message"].as_str().unwrap().contains("over the query limit 100"), "{refused}");
    let too_many: Vec<String> = (0..1025).map(|slot| format!("{slot:#x}")).collect();
    let refused = client.error("eth_getStorageValues", json!([{emitter.to_string(): too_many}])).await;
    assert_eq!(refused["code"], json!(-32602), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("at most 1024"), "{refused}");

    // Errors: the standard codes and clear messages past the limits.
    let parse =
        client.http.post(&client.url).header("content-type", "application/json").body("{oops").send().await;
    let parse: Value = parse.unwrap().json().await.unwrap();
    assert_eq!(parse["error"]["code"], json!(-32700));
    let invalid = client.request(&json!({"jsonrpc": "2.0", "id": 1, "params": []})).await;
    assert_eq!(invalid["error"]["code"], json!(-32600));
    assert_eq!(client.error("eth_noSuchMethod", json!([])).await["code"], json!(-32601));
    // A batch (its calls run concurrently): one response per call, in the batch's order, each
    // with its own error or result; the notification (no id) gets none.
    let batch = client
        .request(&json!([
            {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 8, "params": []},
            {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []},
            {"jsonrpc": "2.0", "id": 9, "method": "eth_noSuchMethod", "params": []},
            {"jsonrpc": "2.0", "id": 10, "method": "eth_getBalance", "params": [sender, "latest"]},
        ]))
        .await;
    let batch = batch.as_array().unwrap_or_else(|| panic!("not a batch response: {batch}"));
    assert_eq!(
        batch.iter().map(|r| r["id"].clone()).collect::<Vec<_>>(),
        [json!(7), json!(8), json!(9), json!(10)]
    );
    assert_eq!(batch[0]["result"], json!(format!("{:#x}", DEV_CHAIN_ID)));
    assert_eq!(batch[1]["error"]["code"], json!(-32600));
    assert_eq!(batch[2]["error"]["code"], json!(-32601));
    assert!(batch[3]["result"].as_str().unwrap().starts_with("0x"), "{}", batch[3]);
    assert_eq!(client.error("eth_getBalance", json!(["not an address"])).await["code"], json!(-32602));
    assert_eq!(client.error("personal_sign", json!(["0x00", sender])).await["code"], json!(-32601));
    let too_wide = client.error("eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "0x3e8"}])).await;
    assert!(too_wide["message"].as_str().unwrap().contains("block range too large"), "{too_wide}");
    let too_many = client
        .error("eth_getLogs", json!([{"fromBlock": first, "toBlock": block, "address": emitter}]))
        .await;
    assert!(too_many["message"].as_str().unwrap().contains("returns more than 2 logs"), "{too_many}");
    assert!(
        client.error("eth_getFilterChanges", json!(["0x1234"])).await["message"]
            .as_str()
            .unwrap()
            .contains("filter not found")
    );
    node.stop().await;
}

/// Request ids as geth takes them, echoed as sent, and notifications executed but not answered
/// over HTTP, where jsonrpsee alone answered `null` and ran nothing; over WebSocket, where no
/// layer can tell a notification from a request with an id jsonrpsee cannot read, neither runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_and_notifications_follow_json_rpc() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), None, 200);
    config.rpc.max_request_body_bytes = 4096;
    let node = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();
    let client = Client { http: reqwest::Client::new(), url: format!("http://{}", node.rpc_addr) };
    let provider = crate::support::provider(&node);
    let chain_id = json!(format!("{DEV_CHAIN_ID:#x}"));
    let post = |body: &'static str| {
        let request = client.http.post(&client.url).header("content-type", "application/json").body(body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };

    // Numbers jsonrpsee cannot read as an id come back as sent, digit for digit, and so do
    // booleans, as geth answers them.
    for id in ["-1", "1.5", "18446744073709551616", "1e2", "true"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId","params":[]}}"#);
        let response = client.http.post(&client.url).header("content-type", "application/json").body(body);
        let text = response.send().await.unwrap().text().await.unwrap();
        assert!(text.contains(&format!(r#""id":{id},"#)), "id {id}: {text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["result"], chain_id, "id {id}");
    }
    // Objects and arrays as ids are invalid requests, answered with a null id, and so is an
    // empty object.
    let invalid: Value =
        serde_json::from_str(&post(r#"{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}"#).await)
            .unwrap();
    assert_eq!(invalid["error"]["code"], json!(-32600), "{invalid}");
    assert_eq!(invalid["id"], Value::Null);
    let empty: Value = serde_json::from_str(&post("{}").await).unwrap();
    assert_eq!(empty["error"]["code"], json!(-32600), "{empty}");
    let batch: Value = serde_json::from_str(
        &post(
            r#"[{"jsonrpc":"2.0","id":[],"method":"eth_chainId"},
                {"jsonrpc":"2.0","method":"eth_chainId"},
                {"jsonrpc":"2.0","id":-7,"method":"eth_chainId"},
                {"jsonrpc":"2.0","id":"-7","method":"eth_chainId"}]"#,
        )
        .await,
    )
    .unwrap();
    let ids: Vec<Value> = batch.as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, [Value::Null, json!(-7), json!("-7")], "{batch}");
    assert_eq!(batch[0]["error"]["code"], json!(-32600));
    assert_eq!(batch[1]["result"], chain_id);

    // A notification runs and gets no answer: its transaction is mined.
    let raw = tx(1, 0, TxKind::Call(Address::repeat_byte(0x42)), 21_000, Bytes::new());
    let hash = alloy_primitives::keccak256(&raw);
    let body = json!({"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [raw]}).to_string();
    let response = client.http.post(&client.url).header("content-type", "application/json").body(body);
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "", "a notification is not answered");
    wait_receipt(&provider, hash).await;
    // In a batch, a notification runs beside the calls, which alone are answered.
    let raw = tx(2, 0, TxKind::Call(Address::repeat_byte(0x42)), 21_000, Bytes::new());
    let hash = alloy_primitives::keccak256(&raw);
    let batch = client
        .request(&json!([
            {"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [raw]},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": []},
        ]))
        .await;
    assert_eq!(batch, json!([{"jsonrpc": "2.0", "id": 3, "result": chain_id}]));
    wait_receipt(&provider, hash).await;
    // A batch of notifications only: no answer either.
    assert_eq!(
        post(r#"[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_blockNumber"}]"#)
            .await,
        ""
    );

    // A body at the limit is served, even when its id is stood in for by a longer one.
    let at_limit = {
        let head = r#"{"jsonrpc":"2.0","id":-3,"method":"web3_sha3","params":["0x"#;
        let tail = r#""]}"#;
        let digits = 4096 - head.len() - tail.len();
        // Whitespace makes up an odd count: the data must be whole bytes.
        format!("{head}{}{tail}{}", "0".repeat(digits / 2 * 2), " ".repeat(digits % 2))
    };
    assert_eq!(at_limit.len(), 4096);
    let response = client.http.post(&client.url).header("content-type", "application/json").body(at_limit);
    let response: Value = response.send().await.unwrap().json().await.unwrap();
    assert_eq!(response["id"], json!(-3), "{response}");
    assert!(response["result"].is_string(), "{response}");
    // A body past the limit is refused (413, -32007), whether its length is declared or it
    // comes in chunks; the node goes on.
    let padding = "0".repeat(5_000);
    let oversized = format!(r#"{{"jsonrpc":"2.0","id":-3,"method":"web3_sha3","params":["0x{padding}"]}}"#);
    let response =
        client.http.post(&client.url).header("content-type", "application/json").body(oversized.clone());
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], json!(-32007));
    let chunked = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(node.rpc_addr).await.unwrap();
        let mut request = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            node.rpc_addr
        );
        for chunk in oversized.as_bytes().chunks(1_000) {
            request.push_str(&format!("{:x}\r\n{}\r\n", chunk.len(), std::str::from_utf8(chunk).unwrap()));
        }
        request.push_str("0\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.contains("-32007"), "{chunked}");
    assert_eq!(client.call("eth_chainId", json!([])).await, chain_id);

    // Over WebSocket, a request jsonrpsee takes for a notification (here one whose id it cannot
    // read, waiting for an answer) does not run; the next answer is the next call's.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}", node.rpc_addr)).await.unwrap();
    let raw = tx(1, 1, TxKind::Call(Address::repeat_byte(0x42)), 21_000, Bytes::new());
    let hash = alloy_primitives::keccak256(&raw);
    let unreadable = json!({"jsonrpc": "2.0", "id": -9, "method": "eth_sendRawTransaction", "params": [raw]});
    ws.send(Message::text(unreadable.to_string())).await.unwrap();
    ws.send(Message::text(r#"{"jsonrpc":"2.0","id":5,"method":"eth_chainId","params":[]}"#)).await.unwrap();
    let answer = loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(answer["id"], json!(5), "{answer}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.call("eth_getTransactionByHash", json!([hash])).await, Value::Null);
    node.stop().await;
}

/// CRC-32 (IEEE), bit by bit: the fork hash of EIP-2124, computed here independently of the
/// node's library.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
