//! Settlement on the dev L1: the whole dev rollup (`sequencer dev` as a library: a dev L1 with
//! 2 s blocks and EXECUTE, a native bridge, the L2 anchored to it, the batcher) in this process.
//!
//! - Latency at idle: single transfers a few seconds apart; from the transfer's receipt on the L2
//!   to the bridge's head covering its block, in seconds and in L1 blocks.
//! - Under load (batches closing when full or 30 s old): transfers sent as fast as the L2 takes
//!   them for a while; the L2's inclusion rate, the rate at which the bridge's head covers them,
//!   what the L1's blob target allows at the measured transfers per blob, and the blob fill;
//!   then each batch posted under load: its blocks, blobs, fill, EXECUTE's charge, and what
//!   one more block would have needed; why batches closed, and what the batching policy
//!   compressed to decide.
//!
//! `cargo bench -p sequencer --bench settlement -- [--idle 10] [--load-seconds 30]` prints
//! Markdown tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, Bytes, TxKind, U256, hex};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use batcher::{
    bridge::NativeRollupBridge,
    proposal::BRIDGE_GAS_ALLOWANCE,
    rollup_api::TraceResponse,
    service::{dev_policy, state::BatcherState},
};
use clap::Parser;
use sequencer::{
    config::Config,
    dev_rollup::{DevRollup, DevRollupOptions},
    genesis::DEV_MNEMONIC,
};
use std::{
    path::Path,
    time::{Duration, Instant},
};
use trace_builder::blob::{BLOB_PAYLOAD, Codec, encode_frame};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Single transfers timed at idle.
    #[arg(long, default_value_t = 10)]
    idle: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    load_seconds: u64,
    /// Accept cargo bench's own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Blob gas the L1 allows a block (Osaka's target: 6 blobs a 2 s block here).
const TARGET_BLOBS_PER_L1_BLOCK: f64 = 6.0;

fn dev_signer(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default().phrase(DEV_MNEMONIC).index(index).unwrap().build().unwrap()
}

fn transfer(sender: &PrivateKeySigner, nonce: u64, to: Address) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(1u64),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = sender.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// The bridge's head number.
async fn bridge_head(l1: &RootProvider, bridge: Address) -> u64 {
    NativeRollupBridge::new(bridge, l1).head().call().await.unwrap().number.to()
}

/// Waits until the bridge covers `block`; the seconds and L1 blocks it took from `since`.
async fn settled(l1: &RootProvider, bridge: Address, block: u64, since: (Instant, u64)) -> (f64, u64) {
    loop {
        if bridge_head(l1, bridge).await >= block {
            let l1_now = l1.get_block_number().await.unwrap();
            return (since.0.elapsed().as_secs_f64(), l1_now.saturating_sub(since.1));
        }
        assert!(since.0.elapsed() < Duration::from_secs(300), "block {block} not settled within 300 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A metric's value in the L2's `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::parse(sequencer::cli::DEV_CONFIG).unwrap();
    config.database.datadir = dir.path().to_owned();
    config.rpc.http_addr = "127.0.0.1:0".parse().unwrap();
    config.metrics.addr = "127.0.0.1:0".parse().unwrap();
    config.mempool.max_per_sender = 100_000;
    config.mempool.max_pending = 200_000;
    let options = DevRollupOptions {
        l1_http_addr: "127.0.0.1:0".parse().unwrap(),
        l1_metrics_addr: "127.0.0.1:0".parse().unwrap(),
        l1_block_time_ms: 2_000,
        ..DevRollupOptions::default()
    };
    let rollup = DevRollup::launch(config.clone(), &options).await.unwrap();
    let l1 = ProviderBuilder::default().connect_http(rollup.l1_url.clone());
    let l2_url = format!("http://{}", rollup.l2.rpc_addr);
    let l2: RootProvider = ProviderBuilder::default().connect_http(l2_url.parse().unwrap());
    let bridge = rollup.bridge.address;
    let senders: Vec<PrivateKeySigner> = (0..8).map(dev_signer).collect();
    let mut nonces = vec![0u64; senders.len()];

    // Idle: one transfer at a time.
    let mut seconds = Vec::new();
    let mut l1_blocks = Vec::new();
    for index in 0..args.idle {
        let raw = transfer(&senders[0], nonces[0], Address::with_last_byte(index as u8));
        nonces[0] += 1;
        let hash = *l2.send_raw_transaction(&raw).await.unwrap().tx_hash();
        let receipt: alloy_rpc_types_eth::TransactionReceipt = loop {
            if let Some(receipt) = l2.get_transaction_receipt(hash).await.unwrap() {
                break receipt;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let since = (Instant::now(), l1.get_block_number().await.unwrap());
        let (took, blocks) = settled(&l1, bridge, receipt.block_number.unwrap(), since).await;
        seconds.push(took);
        l1_blocks.push(blocks as f64);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }

    // Load: the same rollup started again with batches that close when full or 30 s old (a
    // dev rollup closes them at 4 s, which leaves blobs part-empty under load); pre-signed
    // transfers sent in JSON-RPC batches as fast as the node takes them.
    rollup.stop().await;
    let rollup =
        DevRollup::launch(config, &DevRollupOptions { batch_max_age: Duration::from_secs(30), ..options })
            .await
            .unwrap();
    let l1 = ProviderBuilder::default().connect_http(rollup.l1_url.clone());
    let l2_url = format!("http://{}", rollup.l2.rpc_addr);
    let l2: RootProvider = ProviderBuilder::default().connect_http(l2_url.parse().unwrap());
    let http = reqwest::Client::new();
    let started_head = l2.get_block_number().await.unwrap();
    let metrics_url = format!("http://{}/metrics", rollup.l2.metrics_addr);
    let before = http.get(&metrics_url).send().await.unwrap().text().await.unwrap();
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(args.load_seconds) {
        let batch: Vec<serde_json::Value> = (0..200)
            .map(|i| {
                let sender = i % senders.len();
                let raw = transfer(&senders[sender], nonces[sender], Address::repeat_byte((i % 250) as u8 + 1));
                nonces[sender] += 1;
                serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [format!("0x{}", hex::encode(&raw))]})
            })
            .collect();
        let answers: Vec<serde_json::Value> =
            http.post(&l2_url).json(&batch).send().await.unwrap().json().await.unwrap();
        sent += answers.iter().filter(|answer| answer.get("result").is_some()).count() as u64;
        // Pace on the pool: wait while more than a few blocks' worth is pending.
        loop {
            let pending: serde_json::Value = l2.raw_request("txpool_status".into(), ()).await.unwrap();
            let pending = u64::from_str_radix(
                pending["pending"].as_str().unwrap_or("0x0").trim_start_matches("0x"),
                16,
            )
            .unwrap_or_default();
            if pending < 4_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let load_elapsed = started.elapsed().as_secs_f64();
    // Everything sent is included, then settled.
    let last = loop {
        let pending: serde_json::Value = l2.raw_request("txpool_status".into(), ()).await.unwrap();
        if pending["pending"].as_str() == Some("0x0") {
            break l2.get_block_number().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let since = (Instant::now(), l1.get_block_number().await.unwrap());
    let (drain, drain_blocks) = settled(&l1, bridge, last, since).await;
    let settled_elapsed = started.elapsed().as_secs_f64();
    let after = http.get(&metrics_url).send().await.unwrap().text().await.unwrap();
    let mut block_transfers = Vec::new();
    for number in started_head + 1..=last {
        block_transfers
            .push(l2.get_block_transaction_count_by_number(number.into()).await.unwrap().unwrap_or_default());
    }
    let included: u64 = block_transfers.iter().sum();
    let batches_posted = posted(&rollup, dir.path(), &l2, started_head, last).await;
    let delta = |name: &str| metric(&after, name) - metric(&before, name);
    let blobs_sum = metric(&after, "batcher_batch_blobs_sum") - metric(&before, "batcher_batch_blobs_sum");
    let batches = metric(&after, "batcher_batch_blobs_count") - metric(&before, "batcher_batch_blobs_count");
    let transfers_per_blob = if blobs_sum > 0.0 { included as f64 / blobs_sum } else { 0.0 };

    println!("| at idle ({} transfers) | p50 | p95 |", args.idle);
    println!("|---|---|---|");
    println!(
        "| L2 receipt → bridge head covers the block, seconds | {:.1} | {:.1} |",
        percentile(&mut seconds.clone(), 0.5),
        percentile(&mut seconds, 0.95)
    );
    println!(
        "| the same, L1 blocks | {:.0} | {:.0} |",
        percentile(&mut l1_blocks.clone(), 0.5),
        percentile(&mut l1_blocks, 0.95)
    );
    println!();
    println!("| under load ({} s of sending) | |", args.load_seconds);
    println!("|---|---|");
    println!("| transfers sent and included | {sent} / {included} |");
    println!("| L2 inclusion rate, transfers/s | {:.0} |", included as f64 / load_elapsed.max(1.0));
    println!(
        "| settled transfers/s (until the bridge covered the last) | {:.0} |",
        included as f64 / settled_elapsed
    );
    println!("| batches, blobs | {batches:.0}, {blobs_sum:.0} |");
    println!("| transfers per blob | {transfers_per_blob:.0} |");
    println!(
        "| what the L1's blob target allows (6 a 2 s block), transfers/s | {:.0} |",
        transfers_per_blob * TARGET_BLOBS_PER_L1_BLOCK / 2.0
    );
    println!("| last block included → settled, seconds (L1 blocks) | {drain:.1} ({drain_blocks}) |");
    let (payload, capacity) =
        batches_posted.iter().filter(|batch| batch.blobs > 0).fold((0, 0), |(payload, capacity), batch| {
            (payload + batch.payload, capacity + batch.blobs * BLOB_PAYLOAD)
        });
    let but_last = batches_posted.split_last().map_or(&[][..], |(_, rest)| rest);
    let (payload_but_last, capacity_but_last) =
        but_last.iter().filter(|batch| batch.blobs > 0).fold((0, 0), |(payload, capacity), batch| {
            (payload + batch.payload, capacity + batch.blobs * BLOB_PAYLOAD)
        });
    println!(
        "| blob fill, payload / (blobs × 130,044): all batches (all but the last) | {:.1}% ({:.1}%) |",
        100.0 * payload as f64 / capacity.max(1) as f64,
        100.0 * payload_but_last as f64 / capacity_but_last.max(1) as f64
    );
    let reasons: Vec<String> = ["filled", "full", "max_age", "block_limit"]
        .iter()
        .map(|reason| {
            let series = format!("batcher_batches_built_total{{reason=\"{reason}\"}}");
            format!("{reason} {:.0}", delta(&series))
        })
        .collect();
    println!("| batches by why they closed | {} |", reasons.join(", "));
    let posted_trace: usize = batches_posted.iter().map(|batch| batch.trace_bytes).sum();
    let compressed = delta("batcher_policy_compressed_bytes_total");
    println!(
        "| the policy's compression: traces, MB, CPU seconds (trace bytes per trace byte posted) | {:.0}, {:.1}, {:.2} ({:.1}) |",
        delta("batcher_policy_compressions_total"),
        compressed / 1e6,
        delta("batcher_policy_compress_seconds_sum"),
        compressed / posted_trace.max(1) as f64
    );
    println!();
    println!(
        "| batch (L2 blocks) | blocks | transfers | trace, KB | blobs | fill | EXECUTE + bridge gas | one more block: blobs, gas | one more block would |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let budget = dev_policy().gas_budget;
    for batch in &batches_posted {
        let transfers: u64 = (batch.first..=batch.last)
            .filter_map(|number| block_transfers.get(number.checked_sub(started_head + 1)? as usize))
            .sum();
        let closed_by = match batch.next {
            Some((blobs, _)) if blobs > dev_policy().max_blobs => "pass the blob limit",
            Some((_, gas)) if gas > budget => "pass the gas budget",
            Some((blobs, _)) if blobs > batch.blobs => "need another blob",
            _ => "fit in its blobs",
        };
        println!(
            "| {}-{} | {} | {transfers} | {:.0} | {} | {:.1}% | {:.2} M | {} | {closed_by} |",
            batch.first,
            batch.last,
            batch.last - batch.first + 1,
            batch.trace_bytes as f64 / 1e3,
            batch.blobs,
            100.0 * batch.payload as f64 / (batch.blobs.max(1) * BLOB_PAYLOAD) as f64,
            batch.gas as f64 / 1e6,
            batch.next.map_or("-".to_owned(), |(blobs, gas)| format!("{blobs}, {:.2} M", gas as f64 / 1e6)),
        );
    }
    rollup.stop().await;
}

/// A batch posted under load, as its trace encodes again.
struct Posted {
    first: u64,
    last: u64,
    trace_bytes: usize,
    blobs: usize,
    payload: usize,
    /// EXECUTE's charge and the bridge's allowance.
    gas: u64,
    /// The blobs and gas of the same batch with one block more.
    next: Option<(usize, u64)>,
}

/// The blobs `trace` takes and their payload, EXECUTE's charge and the bridge's allowance.
fn encoded(trace: &TraceResponse) -> (usize, usize, u64) {
    let payload = encode_frame(&trace.trace, Codec::DEFAULT).unwrap().len();
    let blobs = payload.div_ceil(BLOB_PAYLOAD);
    let execute = dev_policy().execute_gas;
    let gas = execute.cost(trace.trace.len(), U256::from(trace.gas_used.to::<u64>()))
        + execute.blobs_cost(blobs)
        + BRIDGE_GAS_ALLOWANCE;
    (blobs, payload, gas)
}

/// The batches the bridge settled of the L2 blocks `after + 1..=last`, read from the batcher's
/// rows and encoded again.
async fn posted(rollup: &DevRollup, datadir: &Path, l2: &RootProvider, after: u64, last: u64) -> Vec<Posted> {
    let state =
        BatcherState::open(&format!("sqlite://{}", datadir.join("batcher.sqlite").display())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let rows = state.settled_beyond(rollup.bridge.address, after).await.unwrap();
        if rows.last().is_some_and(|row| row.last_block >= last) || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let trace = |from: u64, to: u64| async move {
        let trace: TraceResponse = l2
            .raw_request(
                "rollup_getTrace".into(),
                (alloy_primitives::U64::from(from), alloy_primitives::U64::from(to)),
            )
            .await
            .unwrap();
        trace
    };
    let head = l2.get_block_number().await.unwrap();
    let mut batches = Vec::new();
    for row in rows {
        let this = trace(row.first_block, row.last_block).await;
        let (blobs, payload, gas) = encoded(&this);
        let next = if row.last_block < head {
            let (blobs, _, gas) = encoded(&trace(row.first_block, row.last_block + 1).await);
            Some((blobs, gas))
        } else {
            None
        };
        batches.push(Posted {
            first: row.first_block,
            last: row.last_block,
            trace_bytes: this.trace.len(),
            blobs: if row.data_path == "blobs" { blobs } else { 0 },
            payload,
            gas,
            next,
        });
    }
    batches
}
