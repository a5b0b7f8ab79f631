//! The block producer under a burst and under an internal failure: it never stops the chain,
//! and never loses a transaction the RPC acknowledged.

use crate::support::{DEV_CHAIN_ID, config, dev_signer, eip1559, sign};
use alloy_consensus::{TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use sequencer::{
    builder::{BlockProducer, ChainHead, ProducerConfig},
    genesis::{ChainGenesis, DEV_GENESIS_JSON},
    mempool::{Mempool, PoolConfig, PoolHead, SenderState},
    node::Node,
    store::{ChainWriter, DbNodeStore, Store},
};
use serde_json::{Value, json};
use sqlx::Connection as _;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use trace_builder::ChainConfig;

const BURST_SENDERS: u64 = 2_000;
const TXS_PER_SENDER: u64 = 5;
const BATCH: usize = 100;
const CONNECTIONS: usize = 4;

/// The dev genesis plus `senders`, each funded with 10 ETH.
fn genesis_with(senders: &[PrivateKeySigner]) -> ChainGenesis {
    let mut genesis: alloy_genesis::Genesis = serde_json::from_str(DEV_GENESIS_JSON).unwrap();
    for signer in senders {
        genesis.alloc.insert(
            signer.address(),
            alloy_genesis::GenesisAccount::default().with_balance(U256::from(10u128.pow(19))),
        );
    }
    ChainGenesis::from_genesis(genesis).unwrap()
}

/// A JSON-RPC batch of `eth_sendRawTransaction`, sent on `client`'s connection; every answer
/// must be a hash. A node that stops answering fails the test.
async fn send_batch(client: &reqwest::Client, url: &str, raws: &[Bytes]) {
    let body: Vec<Value> = raws
        .iter()
        .enumerate()
        .map(|(id, raw)| json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [raw]}))
        .collect();
    let answers: Vec<Value> = client
        .post(url)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the node stopped answering")
        .json()
        .await
        .unwrap();
    for answer in answers {
        assert!(answer["result"].is_string(), "refused: {answer}");
    }
}

async fn call(client: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value = client
        .post(url)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["result"].clone()
}

/// Ten thousand transfers from two thousand fresh senders, in batches over four connections, as
/// soon as the node has started, again and again: each time every transfer is included. (The
/// producer once held the pool's lock across a store read while the runtime's two workers
/// waited on that lock in admissions, and the chain stopped for good.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_at_start_from_many_senders_never_stops_the_chain() {
    let senders: Vec<PrivateKeySigner> = (0..BURST_SENDERS)
        .map(|i| PrivateKeySigner::from_bytes(&B256::from(U256::from(0xb0_0000 + i))).unwrap())
        .collect();
    let recipient = Address::repeat_byte(0x77);
    // Sender after sender: new senders keep arriving all through the burst, while the
    // producer re-validates the pool after each block.
    let raws: Vec<Bytes> = senders
        .iter()
        .flat_map(|signer| {
            (0..TXS_PER_SENDER).map(move |nonce| {
                sign(signer, eip1559(nonce, TxKind::Call(recipient), 21_000, U256::from(1), Bytes::new()))
            })
        })
        .collect();
    for round in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), None, 200);
        config.chain.gas_limit = Some(1_000_000_000);
        // Room for the whole burst: batches from four connections arrive out of nonce order,
        // and a full queue would evict by its rules.
        config.mempool.max_pending = 100_000;
        config.mempool.max_queued = 100_000;
        // Few connections, so that the RPC's reads keep them all busy: a read the producer
        // made while holding the pool's lock then waited for one, and the chain stopped.
        config.database.max_connections = 2;
        let node = Node::launch(&config, genesis_with(&senders)).await.unwrap();
        let url = format!("http://{}", node.rpc_addr);
        let mut head = node.head.clone();
        // The first block is being built when the burst starts.
        head.wait_for(|head| head.number >= 1).await.unwrap();
        let chunks: Vec<Vec<Bytes>> = raws.chunks(BATCH).map(<[Bytes]>::to_vec).collect();
        let mut connections = Vec::new();
        for connection in 0..CONNECTIONS {
            let mine: Vec<Vec<Bytes>> =
                chunks.iter().skip(connection).step_by(CONNECTIONS).cloned().collect();
            let url = url.clone();
            connections.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                for batch in mine {
                    send_batch(&client, &url, &batch).await;
                }
            }));
        }
        for connection in connections {
            connection.await.unwrap();
        }
        let client = reqwest::Client::new();
        let expected = format!("{:#x}", BURST_SENDERS * TXS_PER_SENDER);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let balance = call(&client, &url, "eth_getBalance", json!([recipient, "latest"])).await;
            if balance.as_str() == Some(expected.as_str()) {
                break;
            }
            let status = call(&client, &url, "txpool_status", json!([])).await;
            assert!(
                Instant::now() < deadline,
                "round {round}: {balance} of {expected} transfers included; the pool holds {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node.stop().await;
    }
}

/// A transaction whose execution cannot read the state (the database failed) is not the
/// transaction's fault: the block is abandoned, the transaction stays pooled, and the next
/// block includes it once the database is back.
#[test]
fn an_internal_failure_abandons_the_block_and_keeps_its_transactions() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
    let genesis = ChainGenesis::dev().unwrap();
    let store = runtime.block_on(Store::open(&url, 4)).unwrap();
    runtime.block_on(store.commit_block(&genesis.block_record(), genesis.chain_id)).unwrap();
    let nodes = DbNodeStore::new(store.clone(), runtime.handle().clone(), 64 << 20);
    let head =
        ChainHead { number: 0, hash: genesis.hash, header: genesis.header.clone(), changed: Arc::from([]) };
    let chain = ChainConfig::l2(DEV_CHAIN_ID);
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
            state_cache_bytes: 64 << 20,
        },
        store.clone(),
        nodes,
        mempool.clone(),
        head,
        heads,
        runtime.handle().clone(),
    );
    let signer = dev_signer(0);
    let rich = SenderState { nonce: 0, balance: U256::from(10u128.pow(22)), has_code: false };
    let recovered =
        |raw: Bytes| TxEnvelope::decode_2718(&mut raw.as_ref()).unwrap().try_into_recovered().unwrap();

    // A first block makes the sender known to the producer.
    let first =
        sign(&signer, eip1559(0, TxKind::Call(Address::repeat_byte(1)), 21_000, U256::from(1), Bytes::new()));
    mempool.add(recovered(first), rich).unwrap();
    assert_eq!(producer.produce_block().unwrap().record.transactions.len(), 1);
    producer.flush().unwrap();

    // A creation whose init code reads the balance of a genesis account nothing has touched
    // yet: PUSH20 address, BALANCE, STOP. Its execution goes to the database.
    let untouched = dev_signer(5).address();
    let init: Bytes = [&[0x73][..], untouched.as_slice(), &[0x31, 0x00]].concat().into();
    let second = recovered(sign(&signer, eip1559(1, TxKind::Create, 100_000, U256::ZERO, init)));
    let hash = *second.inner().tx_hash();
    mempool.add(second, SenderState { nonce: 1, ..rich }).unwrap();

    let rename = |from: &str, to: &str| {
        let sql = format!("ALTER TABLE {from} RENAME TO {to}");
        runtime.block_on(async {
            let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut connection).await.unwrap();
            connection.close().await.unwrap();
        });
    };
    rename("accounts", "accounts_away");
    let error = producer.produce_block().unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains(&hash.to_string()), "the error names the transaction: {error}");
    assert!(mempool.get(&hash).is_some(), "an acknowledged transaction left the pool: {error}");
    assert!(mempool.take_removed().is_empty());
    assert_eq!(producer.head().number, 1, "nothing of the failed block was sealed");

    rename("accounts_away", "accounts");
    let block = producer.produce_block().unwrap();
    assert_eq!(block.record.header.number, 2);
    assert_eq!(block.record.transactions.iter().map(|tx| tx.hash).collect::<Vec<_>>(), vec![hash]);
    producer.flush().unwrap();
}
