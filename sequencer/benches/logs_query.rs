//! `eth_getLogs` on a long chain: 10,000 blocks, each with one transaction emitting logs from
//! 20 contracts under 50 topics, then queries over the whole range by address, by topic, and by
//! both, through the store's indexed query (what `eth_getLogs` runs).
//!
//! `cargo bench -p sequencer --bench logs_query -- [--blocks 10000] [--database-url postgres://...]`
//! prints one Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_consensus::{Header, Receipt, ReceiptEnvelope, TxType};
use alloy_primitives::{Address, B256, Bytes, Log, LogData};
use clap::Parser;
use sequencer::{
    genesis::ChainGenesis,
    store::{BlockRecord, ChainWriter, LogQuery, Store, TransactionReader, TransactionRecord},
};
use std::time::Instant;

const LOGS_PER_BLOCK: usize = 10;
const CONTRACTS: u8 = 20;
const TOPICS: u8 = 50;

#[derive(Parser)]
struct Args {
    /// Blocks to write.
    #[arg(long, default_value_t = 10_000)]
    blocks: u64,
    /// Database; default: SQLite in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
    /// Accept cargo bench's own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = args
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("logs.sqlite").display()));
        let store = Store::open(&url, 8).await.unwrap();
        let genesis = ChainGenesis::dev().unwrap();
        store.commit_block(&genesis.block_record(), genesis.chain_id).await.unwrap();
        let started = Instant::now();
        let mut parent = genesis.header.clone();
        for number in 1..=args.blocks {
            let logs = (0..LOGS_PER_BLOCK)
                .map(|i| {
                    let n = number as usize * LOGS_PER_BLOCK + i;
                    Log {
                        address: Address::with_last_byte((n % CONTRACTS as usize) as u8 + 1),
                        data: LogData::new_unchecked(
                            vec![
                                B256::with_last_byte((n % TOPICS as usize) as u8),
                                B256::from(alloy_primitives::U256::from(n)),
                            ],
                            Bytes::from_static(&[0; 32]),
                        ),
                    }
                })
                .collect();
            let receipt = Receipt { status: true.into(), cumulative_gas_used: 50_000, logs };
            let header =
                Header { number, parent_hash: parent.hash_slow(), timestamp: number, ..Header::default() };
            let record = BlockRecord {
                hash: header.hash_slow(),
                header: header.clone(),
                transactions: vec![TransactionRecord {
                    hash: B256::from(alloy_primitives::U256::from(number)),
                    sender: Address::repeat_byte(0x5e),
                    raw: Bytes::from_static(&[0x02, 0xc0]),
                    receipt: ReceiptEnvelope::from_typed(TxType::Eip1559, receipt.with_bloom()),
                    gas_used: 50_000,
                    contract_address: None,
                }],
                changes: Default::default(),
                access: Default::default(),
                trie_nodes: Vec::new(),
                blobs: Vec::new(),
                anchor: None,
            };
            store.commit_block(&record, genesis.chain_id).await.unwrap();
            parent = header;
        }
        eprintln!("{} blocks written in {:.1} s", args.blocks, started.elapsed().as_secs_f64());

        let backend = if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
        println!("| db | blocks | query | logs returned | ms (best of 5) |");
        println!("|---|---|---|---|---|");
        let one_address = vec![Address::with_last_byte(7)];
        let one_topic = [vec![B256::with_last_byte(16)], vec![], vec![], vec![]];
        for (what, query) in [
            (
                "address",
                LogQuery { from: 1, to: args.blocks, addresses: one_address.clone(), ..LogQuery::default() },
            ),
            (
                "topic0",
                LogQuery { from: 1, to: args.blocks, topics: one_topic.clone(), ..LogQuery::default() },
            ),
            (
                "address and topic0",
                LogQuery {
                    from: 1,
                    to: args.blocks,
                    addresses: one_address.clone(),
                    topics: one_topic.clone(),
                },
            ),
            (
                "address, last 100 blocks",
                LogQuery {
                    from: args.blocks - 99,
                    to: args.blocks,
                    addresses: one_address.clone(),
                    ..LogQuery::default()
                },
            ),
        ] {
            let mut best = f64::MAX;
            let mut returned = 0;
            for _ in 0..5 {
                let started = Instant::now();
                returned = store.logs(&query, 1_000_000).await.unwrap().len();
                best = best.min(started.elapsed().as_secs_f64() * 1e3);
            }
            println!("| {backend} | {} | {what} | {returned} | {best:.1} |", args.blocks);
        }
        store.close().await;
    });
}
