//! Block production on a large state: 1,000-transaction blocks of ETH transfers and of ERC-20
//! transfers, executed, sealed (trie, state root) and committed to the database by the real
//! `BlockProducer`, at several state sizes. Senders are recovered before timing starts (signing
//! and recovery happen at admission, off the builder's path).
//!
//! `cargo bench -p sequencer --bench block_production -- [--accounts 10000,100000,1000000]
//! [--blocks 5] [--database-url postgres://...]` prints one Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, hex, keccak256};
use alloy_signer_local::PrivateKeySigner;
use clap::Parser;
use sequencer::{
    builder::{BlockProducer, BlockTimings, ChainHead, ProducedBlock, ProducerConfig},
    genesis::{ChainGenesis, DEV_GENESIS_JSON},
    mempool::{Mempool, PoolConfig, PoolHead, SenderState},
    store::{ChainWriter, DbNodeStore, Store},
};
use std::{sync::Arc, time::Duration};
use trace_builder::ChainConfig;

/// The allocator of the `sequencer` binary, so that the node measured here allocates as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The transfer path of an ERC-20 token, hand-assembled: `transfer(to, amount)` checks the
/// caller's balance (slot = caller address), debits it, credits `to`, emits
/// `Transfer(from, to, amount)` and returns true. Same storage and log work as an ERC-20 transfer.
const TOKEN_CODE: &str = "6004356024353354818110604d578190033355815481018255600052337fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef60206000a3600160005260206000f35b600080fd";
const TOKEN: Address = address!("0000000000000000000000000000000000007070");
const TXS_PER_BLOCK: usize = 1_000;
const GAS_LIMIT: u64 = 100_000_000;

#[derive(Parser)]
struct Args {
    /// State sizes (accounts) to measure.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    accounts: Vec<u64>,
    /// Measured blocks per workload.
    #[arg(long, default_value_t = 5)]
    blocks: u64,
    /// Database; default: SQLite in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
    /// Accept cargo bench's own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy)]
enum Workload {
    Eth,
    Erc20,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let backend = match &args.database_url {
        Some(url) if url.starts_with("postgres") => "PostgreSQL",
        _ => "SQLite",
    };
    println!(
        "| accounts | workload | db | gas/tx | Mgas/s (execute) | tx/s (execute+seal+commit) | tx/s (commit overlapping the next block) | execute ms | state root ms | commit ms | total ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &accounts in &args.accounts {
        let dir = tempfile::tempdir().unwrap();
        let url = match &args.database_url {
            Some(url) => {
                runtime.block_on(support::fresh_postgres_database(url, &format!("bench_{accounts}")))
            }
            None => format!("sqlite://{}", dir.path().join("bench.sqlite").display()),
        };
        let senders: Vec<PrivateKeySigner> = (1..=TXS_PER_BLOCK as u64)
            .map(|i| PrivateKeySigner::from_bytes(&B256::from(U256::from(i))).unwrap())
            .collect();
        let fillers: Vec<Address> = (0..accounts.saturating_sub(TXS_PER_BLOCK as u64))
            .map(|i| Address::from_word(keccak256(i.to_be_bytes())))
            .collect();
        let setup = std::time::Instant::now();
        let genesis = genesis(&senders, &fillers);
        let store = runtime.block_on(Store::open(&url, 8)).unwrap();
        runtime.block_on(store.commit_block(&genesis.block_record(), genesis.chain_id)).unwrap();
        if args.database_url.is_none() {
            // The genesis's WAL (about 1 GB at 1,000,000 accounts) is copied into the database
            // file now, as the node's background checkpoints do in its first seconds, so that
            // this copy does not run during whichever blocks it happens to overlap.
            let connection = rusqlite::Connection::open(dir.path().join("bench.sqlite")).unwrap();
            connection.busy_timeout(Duration::from_secs(60)).unwrap();
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        }
        let nodes = DbNodeStore::new(store.clone(), runtime.handle().clone(), 4 << 30);
        nodes.cache_nodes(&genesis.trie_nodes);
        eprintln!(
            "{accounts} accounts: genesis built and committed in {:.1} s",
            setup.elapsed().as_secs_f64()
        );
        let head = ChainHead {
            number: 0,
            hash: genesis.hash,
            header: genesis.header.clone(),
            changed: Arc::from([]),
        };
        let chain = ChainConfig::l2(genesis.chain_id);
        let pool_head = PoolHead::after(&chain, &genesis.header);
        let mempool = Arc::new(Mempool::new(PoolConfig::default(), &chain, pool_head));
        let (heads, _head_rx) = tokio::sync::watch::channel(head.clone());
        let mut producer = BlockProducer::new(
            ProducerConfig {
                chain,
                block_time: Duration::from_secs(1),
                target_gas_limit: None,
                fee_recipient: Address::repeat_byte(0xfe),
                extra_data: Bytes::new(),
                state_cache_bytes: 4 << 30,
            },
            store.clone(),
            nodes,
            mempool.clone(),
            head,
            heads,
            runtime.handle().clone(),
        );
        let mut nonce = 0;
        let mut pick = 0usize;
        for workload in [Workload::Eth, Workload::Erc20] {
            let mut fill_pool = |mempool: &Mempool, nonce: u64| {
                for (i, sender) in senders.iter().enumerate() {
                    pick = pick.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let to = if fillers.is_empty() || i % 2 == 0 {
                        Address::from_word(keccak256((pick as u64).to_be_bytes())) // a new account
                    } else {
                        fillers[pick % fillers.len()]
                    };
                    let state = SenderState { nonce, balance: U256::MAX, has_code: false };
                    mempool.add(transfer(sender, nonce, workload, to), state).unwrap();
                }
            };
            let check = |produced: &ProducedBlock| {
                assert_eq!(produced.record.transactions.len(), TXS_PER_BLOCK, "every transaction must fit");
                assert!(
                    produced.record.transactions.iter().all(|tx| tx.receipt.status()),
                    "a transfer failed"
                );
            };
            // One unmeasured block warms the caches of the senders and the token; then each
            // block alone (its commit waited for), then blocks back to back with each commit
            // overlapping the next block's building, as the node runs them.
            let mut total = BlockTimings::default();
            let mut commit = Duration::ZERO;
            let mut gas = 0;
            for block in 0..=args.blocks {
                fill_pool(&mempool, nonce);
                nonce += 1;
                let produced = producer.produce_block().unwrap();
                check(&produced);
                let committed = producer.flush().unwrap().unwrap_or_default();
                if block > 0 {
                    gas += produced.record.header.gas_used;
                    total.build += produced.timings.build;
                    total.state_root += produced.timings.state_root;
                    commit += committed;
                }
            }
            // Filling the pool (signing here, admission in a node) is not the builder's work; here
            // it runs on the builder's thread, and the commit in flight overlaps it too. Both
            // rates are printed: without the filling (the builder's own rate) and with it.
            let mut pipelined = Duration::ZERO;
            let mut admission = Duration::ZERO;
            for _ in 0..args.blocks {
                let started = std::time::Instant::now();
                fill_pool(&mempool, nonce);
                admission += started.elapsed();
                nonce += 1;
                let started = std::time::Instant::now();
                check(&producer.produce_block().unwrap());
                pipelined += started.elapsed();
            }
            let started = std::time::Instant::now();
            producer.flush().unwrap();
            pipelined += started.elapsed();
            let blocks = args.blocks as f64;
            let all = total.build + total.state_root + commit;
            let ms = |d: Duration| d.as_secs_f64() * 1e3 / blocks;
            println!(
                "| {accounts} | {} | {backend} | {} | {:.0} | {:.0} | {:.0} ({:.0} with admission) | {:.1} | {:.1} | {:.1} | {:.1} |",
                match workload {
                    Workload::Eth => "ETH transfer",
                    Workload::Erc20 => "ERC-20 transfer",
                },
                gas / (args.blocks * TXS_PER_BLOCK as u64),
                gas as f64 / total.build.as_secs_f64() / 1e6,
                blocks * TXS_PER_BLOCK as f64 / all.as_secs_f64(),
                blocks * TXS_PER_BLOCK as f64 / pipelined.as_secs_f64(),
                blocks * TXS_PER_BLOCK as f64 / (pipelined + admission).as_secs_f64(),
                ms(total.build),
                ms(total.state_root),
                ms(commit),
                ms(all),
            );
        }
        runtime.block_on(store.close());
    }
}

/// The dev genesis plus the senders (10,000 ETH, 10^24 tokens each), the fillers (1 ETH each)
/// and the token, with a block gas limit that holds 1,000 token transfers.
fn genesis(senders: &[PrivateKeySigner], fillers: &[Address]) -> ChainGenesis {
    let mut genesis: alloy_genesis::Genesis = serde_json::from_str(DEV_GENESIS_JSON).unwrap();
    genesis.gas_limit = GAS_LIMIT;
    let ether = U256::from(10u64).pow(U256::from(18));
    let mut token_storage = std::collections::BTreeMap::new();
    for sender in senders {
        genesis.alloc.insert(
            sender.address(),
            alloy_genesis::GenesisAccount::default().with_balance(ether * U256::from(10_000)),
        );
        token_storage.insert(sender.address().into_word(), B256::from(ether * ether));
    }
    for filler in fillers {
        genesis.alloc.insert(*filler, alloy_genesis::GenesisAccount::default().with_balance(ether));
    }
    genesis.alloc.insert(
        TOKEN,
        alloy_genesis::GenesisAccount::default()
            .with_nonce(Some(1))
            .with_code(Some(hex::decode(TOKEN_CODE).unwrap().into()))
            .with_storage(Some(token_storage)),
    );
    ChainGenesis::from_genesis(genesis).unwrap()
}

fn transfer(sender: &PrivateKeySigner, nonce: u64, workload: Workload, to: Address) -> Recovered<TxEnvelope> {
    let (target, gas_limit, value, input) = match workload {
        Workload::Eth => (to, 21_000, U256::from(1_000u64), Bytes::new()),
        Workload::Erc20 => {
            let mut input = hex::decode("a9059cbb").unwrap();
            input.extend_from_slice(to.into_word().as_slice());
            input.extend_from_slice(&U256::from(1_000u64).to_be_bytes::<32>());
            (TOKEN, 90_000, U256::ZERO, input.into())
        }
    };
    let mut tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(target),
        value,
        access_list: Default::default(),
        input,
    };
    let signature = sender.sign_transaction_sync(&mut tx).unwrap();
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(signature)), sender.address())
}
