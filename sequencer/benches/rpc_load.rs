//! JSON-RPC load, side by side with Anvil: pre-signed ETH transfers from many senders sent in
//! batched `eth_sendRawTransaction` requests (accepted tx/s, request latency, included tx/s),
//! then `eth_getBalance` (of the senders, and of 100,000 addresses without an account) and
//! `eth_call` from 32 concurrent clients (requests/s, and requests per second of CPU the node
//! used: the load generator shares the cores). Both nodes run
//! as their own processes (ours is this package's `sequencer` binary), with the same block gas
//! limit and block time; ours persists every block to SQLite (or to PostgreSQL with
//! `--database-url`).
//!
//! `cargo bench -p sequencer --bench rpc_load -- [--transactions 10000] [--senders 1000]
//! [--gas-limit 30000000] [--database-url postgres://...] [--node-log info] [--restart] [--anvil tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil]`
//! prints one Markdown table. Anvil comes from the pinned npm package in `tools/`
//! (`npm ci --prefix tools`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy_signer_local::PrivateKeySigner;
use clap::Parser;
use sequencer::genesis::DEV_GENESIS_JSON;
use serde_json::{Value, json};
use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

mod support;

/// The allocator of the `sequencer` binary: the load generator shares the cores with the nodes
/// it measures, and glibc's malloc cost it a tenth of its time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHAIN_ID: u64 = 1337;
const READ_CLIENTS: usize = 32;
const READ_SECONDS: u64 = 5;

#[derive(Parser)]
struct Args {
    /// Transfers to send.
    #[arg(long, default_value_t = 10_000)]
    transactions: usize,
    /// Distinct senders (each sends transactions / senders, in nonce order).
    #[arg(long, default_value_t = 1_000)]
    senders: usize,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent senders of batches.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Block gas limit of both nodes.
    #[arg(long, default_value_t = 30_000_000)]
    gas_limit: u64,
    /// Run our node on this PostgreSQL server (a fresh database `rpc_load` on it) instead of
    /// SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// Log filter of our node (its log goes to stderr), e.g. `info` for every sealed block's
    /// timings.
    #[arg(long, default_value = "warn")]
    node_log: String,
    /// Stop our node with kill -9 once it has made a block, and measure it restarted on the
    /// same data, with cold caches.
    #[arg(long)]
    restart: bool,
    /// Send every transfer to an address no account has yet, so that the state grows by one
    /// account per transfer (the resident-memory rows then show whether the caches hold).
    #[arg(long)]
    fresh_recipients: bool,
    /// Send the transfers in this many waves, each once the one before is included, and print
    /// each node's memory after each wave: the pool then never holds more than a wave, and
    /// what grows is the state.
    #[arg(long, default_value_t = 1)]
    waves: usize,
    /// Our node's `database.state_cache_mib`.
    #[arg(long)]
    state_cache_mib: Option<u64>,
    /// Our node's `database.node_cache_mib`.
    #[arg(long)]
    node_cache_mib: Option<u64>,
    /// Our node's `database.sqlite_writer_cache_mib`.
    #[arg(long)]
    sqlite_writer_cache_mib: Option<u32>,
    /// The Anvil binary.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))]
    anvil: String,
    /// Accept cargo bench's own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

/// What one node did under the load.
#[derive(Default)]
struct Figures {
    accepted_per_s: f64,
    batch_p50_ms: f64,
    batch_p99_ms: f64,
    refused: usize,
    included_per_s: f64,
    /// Resident memory of the node (MB) once every accepted transfer is included (and the
    /// pool is empty again).
    resident_mb: f64,
    /// Of it, anonymous memory (MB): what the process allocated, without the pages of the
    /// SQLite file it maps, which the kernel can drop.
    anonymous_mb: f64,
    balance_per_s: f64,
    absent_balance_per_s: f64,
    /// `eth_getBalance` of the accounts the transfers created (`--fresh-recipients`; NaN
    /// without): existing accounts, most of them read for the first time.
    created_balance_per_s: f64,
    created_balance_per_cpu_s: f64,
    call_per_s: f64,
    /// Reads per second of CPU the node itself used: what a read costs it, whatever share of
    /// the cores it got beside the load generator.
    balance_per_cpu_s: f64,
    absent_balance_per_cpu_s: f64,
    call_per_cpu_s: f64,
    /// Longest gap between two new blocks while clients read receipts in big batches.
    block_gap_under_receipts_max_s: f64,
    /// Receipts read per second meanwhile.
    receipts_per_s: f64,
}

/// Addresses no account has: what a wallet asks of every fresh address, and an explorer all
/// day. Enough of them that no cache of recent answers helps.
const ABSENT_ADDRESSES: u64 = 100_000;

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let senders: Vec<PrivateKeySigner> = (1..=args.senders as u64)
        .map(|i| PrivateKeySigner::from_bytes(&B256::from(U256::from(i))).unwrap())
        .collect();
    let per_sender = args.transactions.div_ceil(args.senders);
    eprintln!("signing {} transfers from {} senders", per_sender * args.senders, args.senders);
    // Interleaved by nonce, so that every batch holds many senders and each sender's nonces
    // arrive in order.
    let mut raw = Vec::with_capacity(per_sender * args.senders);
    for nonce in 0..per_sender as u64 {
        for (i, sender) in senders.iter().enumerate() {
            let mut tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 100_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(if args.fresh_recipients {
                    fresh_recipient(sender.address(), nonce)
                } else {
                    Address::with_last_byte((i % 200) as u8).create(nonce)
                }),
                value: U256::from(1u64),
                access_list: Default::default(),
                input: Bytes::new(),
            };
            let signature = sender.sign_transaction_sync(&mut tx).unwrap();
            raw.push(format!(
                "0x{}",
                hex::encode(TxEnvelope::from(tx.into_signed(signature)).encoded_2718())
            ));
        }
    }
    let addresses: Vec<Address> = senders.iter().map(PrivateKeySigner::address).collect();

    let ours = runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match &args.database_url {
            Some(url) => Some(support::fresh_postgres_database(url, "rpc_load").await),
            None => None,
        };
        let (mut command, port) = our_node(dir.path(), database_url, &addresses, &args, raw.len());
        let mut child = command.spawn().unwrap();
        let url = wait_for_port(port, "our node");
        if args.restart {
            let client = reqwest::Client::new();
            while rpc(&client, &url, "eth_blockNumber", json!([])).await == json!("0x0") {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            child.kill().ok();
            child.wait().ok();
            eprintln!("{url}: restarting");
            child = command.spawn().unwrap();
            wait_for_port(port, "our node, restarted");
        }
        let figures = measure(&url, child.id(), &raw, &addresses, &args).await;
        child.kill().ok();
        child.wait().ok();
        figures
    });
    let theirs = runtime.block_on(async {
        let (mut child, url) = launch_anvil(&args);
        let client = reqwest::Client::new();
        let funding: Vec<Value> = addresses
            .iter()
            .enumerate()
            .map(|(id, address)| {
                json!({"jsonrpc": "2.0", "id": id, "method": "anvil_setBalance", "params": [address, "0x3635c9adc5dea00000"]})
            })
            .collect();
        for chunk in funding.chunks(500) {
            client.post(&url).json(&chunk).send().await.unwrap();
        }
        let figures = measure(&url, child.id(), &raw, &addresses, &args).await;
        child.kill().ok();
        child.wait().ok();
        figures
    });

    println!(
        "{} transfers from {} senders, {}-tx batches from {} clients, gas limit {}, 1 s blocks; reads from {READ_CLIENTS} clients for {READ_SECONDS} s",
        raw.len(),
        args.senders,
        args.batch,
        args.clients,
        args.gas_limit
    );
    println!();
    let db = if args.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("| | this node ({db}, every block durable) | Anvil 1.7.1 | ratio |");
    println!("|---|---|---|---|");
    let row = |what: &str, ours: f64, theirs: f64, digits: usize| {
        println!(
            "| {what} | {ours:.digits$} | {theirs:.digits$} | {:.2} |",
            ours / theirs.max(f64::MIN_POSITIVE)
        );
    };
    row("accepted tx/s", ours.accepted_per_s, theirs.accepted_per_s, 0);
    row("batch request p50 ms", ours.batch_p50_ms, theirs.batch_p50_ms, 1);
    row("batch request p99 ms", ours.batch_p99_ms, theirs.batch_p99_ms, 1);
    row("included tx/s", ours.included_per_s, theirs.included_per_s, 0);
    row("resident MB once all are included", ours.resident_mb, theirs.resident_mb, 0);
    row("of it anonymous MB (without mapped files)", ours.anonymous_mb, theirs.anonymous_mb, 0);
    row("eth_getBalance/s", ours.balance_per_s, theirs.balance_per_s, 0);
    row("eth_getBalance/s, absent accounts", ours.absent_balance_per_s, theirs.absent_balance_per_s, 0);
    if args.fresh_recipients {
        row(
            "eth_getBalance/s, accounts the transfers created",
            ours.created_balance_per_s,
            theirs.created_balance_per_s,
            0,
        );
        row(
            "the same per node CPU-second",
            ours.created_balance_per_cpu_s,
            theirs.created_balance_per_cpu_s,
            0,
        );
    }
    row("eth_call/s", ours.call_per_s, theirs.call_per_s, 0);
    row("eth_getBalance per node CPU-second", ours.balance_per_cpu_s, theirs.balance_per_cpu_s, 0);
    row(
        "eth_getBalance per node CPU-second, absent accounts",
        ours.absent_balance_per_cpu_s,
        theirs.absent_balance_per_cpu_s,
        0,
    );
    row("eth_call per node CPU-second", ours.call_per_cpu_s, theirs.call_per_cpu_s, 0);
    row("receipts/s in batches of 500", ours.receipts_per_s, theirs.receipts_per_s, 0);
    row(
        "longest block interval s, 1 s blocks, under batched receipts",
        ours.block_gap_under_receipts_max_s,
        theirs.block_gap_under_receipts_max_s,
        2,
    );
    println!("| refused transactions | {} | {} | |", ours.refused, theirs.refused);
}

/// Our node as its own process, as Anvil runs: the command that starts the `sequencer` binary on
/// SQLite in `dir` (or on the given database), the senders funded in its genesis, a pool that
/// holds the whole load, 1 s blocks; and its port.
fn our_node(
    dir: &std::path::Path,
    database_url: Option<String>,
    senders: &[Address],
    args: &Args,
    transactions: usize,
) -> (Command, u16) {
    let mut genesis: alloy_genesis::Genesis = serde_json::from_str(DEV_GENESIS_JSON).unwrap();
    genesis.gas_limit = args.gas_limit;
    for sender in senders {
        genesis.alloc.insert(
            *sender,
            alloy_genesis::GenesisAccount::default().with_balance(U256::from(10u64).pow(U256::from(21))),
        );
    }
    let genesis_path = dir.join("genesis.json");
    std::fs::write(&genesis_path, serde_json::to_vec(&genesis).unwrap()).unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sequencer"));
    command
        .arg("dev")
        .arg("--l2-only")
        .arg("--genesis")
        .arg(&genesis_path)
        .arg("--datadir")
        .arg(dir.join("data"))
        .args(["--http-addr", &format!("127.0.0.1:{port}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .args(["--block-time-ms", "1000", "--log-filter", &args.node_log])
        .args(["--mempool-max-pending", &transactions.max(5_120).to_string()])
        .args(["--mempool-max-per-sender", &transactions.max(16).to_string()])
        .args(["--mempool-max-bytes", &(transactions * 1_024).max(64 << 20).to_string()]);
    let caches = [
        ("--state-cache-mib", args.state_cache_mib),
        ("--node-cache-mib", args.node_cache_mib),
        ("--sqlite-writer-cache-mib", args.sqlite_writer_cache_mib.map(u64::from)),
    ];
    for (flag, mib) in caches {
        if let Some(mib) = mib {
            command.args([flag, &mib.to_string()]);
        }
    }
    if let Some(url) = database_url {
        command.args(["--database-url", &url]);
    }
    // The node logs (and prints its banner) to stdout: onto our stderr, away from the table.
    command.stdout(std::io::stderr());
    (command, port)
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The node's URL once it accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    format!("http://127.0.0.1:{port}")
}

fn launch_anvil(args: &Args) -> (Child, String) {
    let port = free_port();
    let child = Command::new(&args.anvil)
        .args(["--port", &port.to_string(), "--chain-id", &CHAIN_ID.to_string(), "--block-time", "1"])
        .args(["--gas-limit", &args.gas_limit.to_string(), "--hardfork", "prague", "--silent"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start Anvil at {}: {error} (npm ci --prefix tools)", args.anvil)
        });
    (child, wait_for_port(port, "Anvil"))
}

async fn rpc(client: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response: Value = client.post(url).json(&body).send().await.unwrap().json().await.unwrap();
    response["result"].clone()
}

async fn measure(url: &str, node: u32, raw: &[String], senders: &[Address], args: &Args) -> Figures {
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let start_block = rpc(&client, url, "eth_blockNumber", json!([])).await;
    let start_block =
        u64::from_str_radix(start_block.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();

    // Sends: batches in nonce order, `clients` in flight at a time.
    let batches: Vec<Vec<Value>> = raw
        .chunks(args.batch)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(id, tx)| json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [tx]}))
                .collect()
        })
        .collect();
    eprintln!("{url}: sending");
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(batches.len());
    let mut refused = 0;
    let mut accepted_in = Duration::ZERO;
    let mut included = 0usize;
    let mut next = start_block + 1;
    let deadline = Instant::now() + Duration::from_secs(1_200);
    let per_wave = batches.len().div_ceil(args.waves.max(1));
    for (wave_index, wave) in batches.chunks(per_wave).enumerate() {
        for round in wave.chunks(args.clients) {
            let requests = round.iter().map(|batch| {
                let client = client.clone();
                let batch = batch.clone();
                let url = url.to_string();
                async move {
                    let sent = Instant::now();
                    let responses: Vec<Value> =
                        client.post(&url).json(&batch).send().await.unwrap().json().await.unwrap();
                    (
                        sent.elapsed(),
                        responses.iter().filter(|response| response.get("error").is_some()).count(),
                    )
                }
            });
            for (latency, errors) in futures_join_all(requests).await {
                latencies.push(latency.as_secs_f64() * 1e3);
                refused += errors;
            }
        }
        accepted_in = started.elapsed();
        let sent: usize = batches.iter().take((wave_index + 1) * per_wave).map(Vec::len).sum();
        let accepted = sent - refused;
        // Included: until the blocks since the start hold every transaction accepted so far.
        while included < accepted && Instant::now() < deadline {
            let head = rpc(&client, url, "eth_blockNumber", json!([])).await;
            let head = u64::from_str_radix(head.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
            while next <= head {
                let count =
                    rpc(&client, url, "eth_getBlockTransactionCountByNumber", json!([format!("{next:#x}")]))
                        .await;
                included +=
                    usize::from_str_radix(count.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)
                        .unwrap();
                next += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if args.waves > 1 {
            eprintln!(
                "{url}: wave {}: {included} included, {:.0} MB resident, {:.0} MB anonymous",
                wave_index + 1,
                memory_mb(node, "VmRSS:"),
                memory_mb(node, "RssAnon:")
            );
        }
    }
    let accepted = raw.len() - refused;
    let included_in = started.elapsed();

    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let senders = Arc::new(senders.to_vec());
    let (resident_mb, anonymous_mb) = (memory_mb(node, "VmRSS:"), memory_mb(node, "RssAnon:"));
    eprintln!(
        "{url}: {included} included, {resident_mb:.0} MB resident, {anonymous_mb:.0} MB anonymous; reading balances"
    );
    let (balance_per_s, balance_per_cpu_s) =
        read_load(url, node, senders.clone(), |address| ("eth_getBalance", json!([address, "latest"]))).await;
    eprintln!("{url}: reading balances of absent accounts");
    let absent: Vec<Address> = (0..ABSENT_ADDRESSES)
        .map(|i| Address::from_word(alloy_primitives::keccak256((u64::MAX - i).to_be_bytes())))
        .collect();
    let (absent_balance_per_s, absent_balance_per_cpu_s) =
        read_load(url, node, Arc::new(absent), |address| ("eth_getBalance", json!([address, "latest"])))
            .await;
    let (created_balance_per_s, created_balance_per_cpu_s) = if args.fresh_recipients {
        eprintln!("{url}: reading balances of the accounts the transfers created");
        let per_sender = raw.len().div_ceil(senders.len()) as u64;
        let created: Vec<Address> = (0..per_sender)
            .flat_map(|nonce| senders.iter().map(move |sender| fresh_recipient(*sender, nonce)))
            .collect();
        read_load(url, node, Arc::new(created), |address| ("eth_getBalance", json!([address, "latest"])))
            .await
    } else {
        (f64::NAN, f64::NAN)
    };
    eprintln!("{url}: reading receipts in batches of {RECEIPT_BATCH}");
    let hashes: Vec<B256> = raw
        .iter()
        .map(|tx| alloy_primitives::keccak256(hex::decode(tx.trim_start_matches("0x")).unwrap()))
        .collect();
    let (receipts_per_s, block_gap_under_receipts_max_s) = receipts_load(url, &hashes).await;
    eprintln!("{url}: calling");
    let (call_per_s, call_per_cpu_s) = read_load(url, node, senders, |address| {
        ("eth_call", json!([{"from": address, "to": Address::repeat_byte(0x42), "value": "0x1"}, "latest"]))
    })
    .await;
    Figures {
        accepted_per_s: accepted as f64 / accepted_in.as_secs_f64(),
        batch_p50_ms: percentile(0.5),
        batch_p99_ms: percentile(0.99),
        refused,
        included_per_s: included as f64 / included_in.as_secs_f64(),
        resident_mb,
        anonymous_mb,
        balance_per_s,
        absent_balance_per_s,
        created_balance_per_s,
        created_balance_per_cpu_s,
        call_per_s,
        balance_per_cpu_s,
        absent_balance_per_cpu_s,
        call_per_cpu_s,
        block_gap_under_receipts_max_s,
        receipts_per_s,
    }
}

/// Receipts per request in [`receipts_load`].
const RECEIPT_BATCH: usize = 500;

/// Receipts per second from four clients each sending batches of [`RECEIPT_BATCH`]
/// `eth_getTransactionReceipt` of `hashes` for [`READ_SECONDS`], and the longest time between
/// two new blocks meanwhile (polled every 10 ms): reads must not hold block production up.
async fn receipts_load(url: &str, hashes: &[B256]) -> (f64, f64) {
    let bodies: Arc<Vec<String>> = Arc::new(
        hashes
            .chunks(RECEIPT_BATCH)
            .map(|chunk| {
                let batch: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(id, hash)| json!({"jsonrpc": "2.0", "id": id, "method": "eth_getTransactionReceipt", "params": [hash]}))
                    .collect();
                serde_json::to_string(&batch).unwrap()
            })
            .collect(),
    );
    let until = Instant::now() + Duration::from_secs(READ_SECONDS);
    let readers: Vec<_> = (0..4)
        .map(|reader| {
            let (url, bodies) = (url.to_string(), bodies.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut read = 0;
                let mut next = reader;
                while Instant::now() < until {
                    let body = bodies[next % bodies.len()].clone();
                    next += 4;
                    let response = client
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let answers: Vec<Value> = response.json().await.unwrap();
                    read += answers.iter().filter(|answer| answer["result"].is_object()).count();
                }
                read
            })
        })
        .collect();
    let client = reqwest::Client::new();
    let (mut last_number, mut last_change, mut longest) = (None, Instant::now(), Duration::ZERO);
    while Instant::now() < until {
        let number = rpc(&client, url, "eth_blockNumber", json!([])).await;
        if last_number.as_ref() != Some(&number) {
            if last_number.is_some() {
                longest = longest.max(last_change.elapsed());
            }
            (last_number, last_change) = (Some(number), Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    longest = longest.max(last_change.elapsed());
    let mut read = 0;
    for reader in readers {
        read += reader.await.unwrap();
    }
    (read as f64 / READ_SECONDS as f64, longest.as_secs_f64())
}

/// Requests per second from [`READ_CLIENTS`] clients, each sending one request at a time, and
/// per second of CPU the node's process (`node`) used meanwhile.
/// The request bodies are serialized and the URL parsed before the clock starts, and a response
/// is parsed only as far as its `result`: the load generator shares the cores with the node it
/// measures, and every cycle it spends is one the node does not get.
async fn read_load(
    url: &str,
    node: u32,
    senders: Arc<Vec<Address>>,
    request: fn(Address) -> (&'static str, Value),
) -> (f64, f64) {
    #[derive(serde::Deserialize)]
    struct Response<'a> {
        #[serde(borrow)]
        result: Option<&'a serde_json::value::RawValue>,
    }
    let url = reqwest::Url::parse(url).unwrap();
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        senders
            .iter()
            .map(|sender| {
                let (method, params) = request(*sender);
                let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
                Bytes::from(serde_json::to_vec(&body).unwrap())
            })
            .collect(),
    );
    let cpu_before = cpu_seconds(node);
    let until = Instant::now() + Duration::from_secs(READ_SECONDS);
    let tasks: Vec<_> = (0..READ_CLIENTS)
        .map(|client_index| {
            let url = url.clone();
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut done = 0u64;
                while Instant::now() < until {
                    let body = bodies[(client_index + done as usize * 7) % bodies.len()].clone();
                    let response = client
                        .post(url.clone())
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.0)
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap();
                    let parsed: Response<'_> = serde_json::from_slice(&response).unwrap();
                    assert!(
                        parsed.result.is_some_and(|result| result.get() != "null"),
                        "a read failed: {}",
                        String::from_utf8_lossy(&response)
                    );
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    let cpu = cpu_seconds(node) - cpu_before;
    (total as f64 / READ_SECONDS as f64, total as f64 / cpu)
}

/// The account a transfer of `sender` at `nonce` creates with `--fresh-recipients`.
fn fresh_recipient(sender: Address, nonce: u64) -> Address {
    Address::from_word(alloy_primitives::keccak256([sender.as_slice(), &nonce.to_be_bytes()].concat()))
}

/// A memory figure of process `pid` in MB: the line `field` (`VmRSS:`, `RssAnon:`) of
/// `/proc/<pid>/status`; NaN where there is no procfs.
fn memory_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The CPU time, user and system, that process `pid` has used so far: fields 14 and 15 of
/// `/proc/<pid>/stat`, in the kernel's fixed USER_HZ (100) ticks; NaN where there is no procfs.
fn cpu_seconds(pid: u32) -> f64 {
    const USER_HZ: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return f64::NAN };
    // The command name (field 2) may hold spaces: count from the parenthesis that closes it.
    let Some((_, fields)) = stat.rsplit_once(')') else { return f64::NAN };
    let ticks: Vec<f64> = fields.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
    ticks.iter().sum::<f64>() / USER_HZ
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
