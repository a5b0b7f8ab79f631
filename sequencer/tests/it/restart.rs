//! Durability: a node stopped (cleanly or with kill -9) and started again on the same data
//! continues the same chain; a database of another chain is refused.

use crate::{postgres::PgServer, support::*};
use alloy_consensus::TxEip1559;
use alloy_eips::{BlockNumberOrTag, eip2930::AccessList};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use sequencer::{genesis::ChainGenesis, node::Node};
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn transfer(nonce: u64, to: Address) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(12_345u64),
        access_list: AccessList::default(),
        input: Bytes::new(),
    }
}

async fn restart_continues_chain(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), database_url.clone()).await;
    // While it runs, a second node on the same database is refused before it touches it.
    let second =
        Node::launch(&config(dir.path(), database_url.clone(), 200), ChainGenesis::dev().unwrap()).await;
    let Err(refused) = second else { panic!("a second node started on a database in use") };
    let refused = refused.to_string();
    assert!(refused.contains("in use by another node"), "{refused}");
    let provider = provider(&node);
    let hash = *provider
        .send_raw_transaction(&sign(&dev_signer(0), transfer(0, Address::repeat_byte(0x11))))
        .await
        .unwrap()
        .tx_hash();
    let receipt = wait_receipt(&provider, hash).await;
    let head = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    node.stop().await;

    let node = launch(dir.path(), database_url).await;
    let provider = crate::support::provider(&node);
    let mined = receipt.block_number.unwrap();
    let again = provider.get_block_by_number(mined.into()).await.unwrap().unwrap();
    assert_eq!(again.header.hash, receipt.block_hash.unwrap());
    let old_head = provider.get_block_by_number(head.header.number.into()).await.unwrap().unwrap();
    assert_eq!(old_head.header.hash, head.header.hash);
    assert_eq!(provider.get_balance(Address::repeat_byte(0x11)).await.unwrap(), U256::from(12_345u64));
    // The chain goes on from where it stopped, and takes the sender's next nonce.
    wait_block(&provider, head.header.number + 2).await;
    let next = provider.get_block_by_number((head.header.number + 1).into()).await.unwrap().unwrap();
    assert_eq!(next.header.parent_hash, head.header.hash);
    let hash = *provider
        .send_raw_transaction(&sign(&dev_signer(0), transfer(1, Address::repeat_byte(0x11))))
        .await
        .unwrap()
        .tx_hash();
    wait_receipt(&provider, hash).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_sqlite_continues_the_chain() {
    restart_continues_chain(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_postgres_continues_the_chain() {
    let server = PgServer::start();
    restart_continues_chain(Some(server.fresh_database().await)).await;
}

/// A node whose PostgreSQL session holding the claim on the database ends (a server restart, a
/// proxy, an administrator) stops with a clear error instead of writing on unclaimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_its_claim_stops() {
    let server = PgServer::start();
    let url = server.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), Some(url.clone())).await;
    let running = tokio::spawn(node.run_until(std::future::pending()));
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(cut, 1);
    // Bounded so that a node that never notices fails the test rather than hanging it.
    let stopped =
        tokio::time::timeout(Duration::from_secs(60), running).await.expect("the node kept running");
    let error = stopped.unwrap().unwrap_err().to_string();
    assert!(error.contains("lost the claim on the database"), "{error}");
    // Its successor takes the database over.
    let node = launch(dir.path(), Some(url)).await;
    node.stop().await;
}

/// Puts the trie nodes of the database at `url` back the way they were stored before they had
/// locations (SQLite migration 0004, PostgreSQL 0003): one row per node, keyed by hash alone,
/// in another order.
async fn store_nodes_by_hash_only(url: &str) {
    use sqlx::{Connection, Executor, Row};
    let (legacy_table, migration) = if url.starts_with("sqlite:") {
        ("CREATE TABLE trie_nodes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, node BLOB NOT NULL)", 4)
    } else {
        ("CREATE TABLE trie_nodes (hash BYTEA PRIMARY KEY, node BYTEA NOT NULL)", 3)
    };
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    // Chunks of `hash | RLP length (u32 LE) | RLP | child-locations length (u16 LE) | ...`.
    let mut nodes = Vec::new();
    for row in sqlx::query("SELECT nodes FROM trie_nodes").fetch_all(&mut conn).await.unwrap() {
        let chunk: Vec<u8> = row.get(0);
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let hash = rest[..32].to_vec();
            let len = u32::from_le_bytes(rest[32..36].try_into().unwrap()) as usize;
            let rlp = rest[36..36 + len].to_vec();
            rest = &rest[36 + len..];
            let children = usize::from(u16::from_le_bytes(rest[..2].try_into().unwrap()));
            rest = &rest[2 + children..];
            nodes.push((hash, rlp));
        }
    }
    assert!(nodes.len() > 10, "the dev genesis alone has more nodes, got {}", nodes.len());
    for statement in [
        "DROP TABLE trie_nodes",
        "DROP TABLE trie_node_hashes",
        legacy_table,
        &format!("DELETE FROM _sqlx_migrations WHERE version = {migration}"),
    ] {
        conn.execute(sqlx::AssertSqlSafe(statement)).await.unwrap();
    }
    for (hash, rlp) in nodes.into_iter().rev() {
        sqlx::query("INSERT INTO trie_nodes (hash, node) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING")
            .bind(hash)
            .bind(rlp)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
}

/// A database from before trie nodes had locations upgrades in place: the state at old blocks
/// reads the same through the trie (the old nodes are found by hash), and the chain goes on,
/// its new nodes referring to the old ones, across another restart.
async fn upgrade_from_nodes_by_hash(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("chain.sqlite").display()));
    let recipient = Address::repeat_byte(0x11);
    let sender = dev_signer(0).address();
    let node = launch(dir.path(), database_url.clone()).await;
    let provider = provider(&node);
    let hash = *provider
        .send_raw_transaction(&sign(&dev_signer(0), transfer(0, recipient)))
        .await
        .unwrap()
        .tx_hash();
    let mined = wait_receipt(&provider, hash).await.block_number.unwrap();
    let before = provider.get_proof(sender, vec![]).block_id(mined.into()).await.unwrap();
    node.stop().await;
    store_nodes_by_hash_only(&url).await;

    let node = launch(dir.path(), database_url.clone()).await;
    let provider = crate::support::provider(&node);
    let after = provider.get_proof(sender, vec![]).block_id(mined.into()).await.unwrap();
    assert_eq!(after, before);
    let hash = *provider
        .send_raw_transaction(&sign(&dev_signer(0), transfer(1, recipient)))
        .await
        .unwrap()
        .tx_hash();
    let mined = wait_receipt(&provider, hash).await.block_number.unwrap();
    let latest = provider.get_proof(recipient, vec![]).block_id(mined.into()).await.unwrap();
    assert_eq!(latest.balance, U256::from(2 * 12_345u64));
    node.stop().await;

    let node = launch(dir.path(), database_url).await;
    let provider = crate::support::provider(&node);
    assert_eq!(provider.get_proof(recipient, vec![]).block_id(mined.into()).await.unwrap(), latest);
    assert_eq!(provider.get_proof(sender, vec![]).block_id((mined - 1).into()).await.unwrap().nonce, 1);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_database_from_before_node_locations_upgrades() {
    upgrade_from_nodes_by_hash(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_from_before_node_locations_upgrades() {
    let server = PgServer::start();
    upgrade_from_nodes_by_hash(Some(server.fresh_database().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_of_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    launch(dir.path(), None).await.stop().await;

    let other_chain = sequencer::genesis::DEV_GENESIS_JSON.replace("\"chainId\": 1337", "\"chainId\": 4242");
    let genesis = ChainGenesis::from_json(&other_chain).unwrap();
    let error = Node::launch(&config(dir.path(), None, 200), genesis).await.unwrap_err().to_string();
    assert!(error.contains("chain id 1337") && error.contains("4242"), "{error}");

    let other_alloc = sequencer::genesis::DEV_GENESIS_JSON
        .replace("\"gasLimit\": \"0x1c9c380\"", "\"gasLimit\": \"0x1c9c381\"");
    let genesis = ChainGenesis::from_json(&other_alloc).unwrap();
    let error = Node::launch(&config(dir.path(), None, 200), genesis).await.unwrap_err().to_string();
    assert!(error.contains("genesis"), "{error}");
}

/// A node whose JSON-RPC or metrics port is taken wrote the genesis into its database, then
/// panicked, before its bind error. Now it stops with the bind error having written nothing,
/// and starts on the same data directory once the port is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_stops_the_node_before_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for what in ["JSON-RPC", "metrics"] {
        let mut config = config(&datadir, None, 200);
        match what {
            "JSON-RPC" => config.rpc.http_addr = taken.local_addr().unwrap(),
            _ => config.metrics.addr = taken.local_addr().unwrap(),
        }
        let error = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap_err();
        assert!(
            matches!(error, sequencer::error::NodeError::Bind { what: bound, .. } if bound == what),
            "{what}: {error}"
        );
        assert!(error.to_string().contains("cannot listen on"), "{error}");
        assert!(!datadir.exists(), "{what}: the failed start wrote into the data directory");
    }
    drop(taken);
    let node = launch(&datadir, None).await;
    assert_eq!(provider(&node).get_chain_id().await.unwrap(), DEV_CHAIN_ID);
    node.stop().await;
}

/// The real binary, killed with SIGKILL mid-run.
pub(crate) struct Daemon {
    child: Child,
    rpc: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Daemon {
    pub(crate) fn spawn(datadir: &std::path::Path) -> Self {
        let (rpc_port, metrics_port) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_sequencer"))
            .args(["dev", "--l2-only", "--block-time-ms", "200", "--datadir"])
            .arg(datadir)
            .args(["--http-addr", &format!("127.0.0.1:{rpc_port}")])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, rpc: format!("http://127.0.0.1:{rpc_port}") }
    }

    pub(crate) async fn provider(&self) -> RootProvider {
        let provider = ProviderBuilder::default().connect_http(self.rpc.parse().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        while provider.get_block_number().await.is_err() {
            assert!(Instant::now() < deadline, "daemon did not serve JSON-RPC within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        provider
    }

    pub(crate) fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_sealed_block() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::spawn(dir.path());
    let provider = daemon.provider().await;
    let hash = *provider
        .send_raw_transaction(&sign(&dev_signer(4), transfer(0, Address::repeat_byte(0x22))))
        .await
        .unwrap()
        .tx_hash();
    let receipt = wait_receipt(&provider, hash).await;
    let head = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    daemon.kill_9();

    let daemon = Daemon::spawn(dir.path());
    let provider = daemon.provider().await;
    let old_head = provider.get_block_by_number(head.header.number.into()).await.unwrap().unwrap();
    assert_eq!(old_head.header.hash, head.header.hash);
    let again = provider.get_transaction_receipt(hash).await.unwrap().unwrap();
    assert_eq!(again.block_hash, receipt.block_hash);
    assert_eq!(provider.get_balance(Address::repeat_byte(0x22)).await.unwrap(), U256::from(12_345u64));
    wait_block(&provider, head.header.number + 2).await;
    daemon.kill_9();
}
