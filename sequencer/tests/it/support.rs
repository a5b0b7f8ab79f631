//! Starting nodes and signing transactions for the tests.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{B256, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use sequencer::{
    config::Config,
    genesis::{ChainGenesis, DEV_MNEMONIC},
    node::Node,
};
use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

/// Chain id of the dev genesis.
pub const DEV_CHAIN_ID: u64 = 1337;

/// A dev configuration on ephemeral loopback ports, storing in `datadir` or at `database_url`.
pub fn config(datadir: &Path, database_url: Option<String>, block_time_ms: u64) -> Config {
    let mut config = Config::parse(sequencer::cli::DEV_CONFIG).unwrap();
    config.database.datadir = datadir.to_owned();
    config.database.url = database_url;
    config.chain.block_time_ms = block_time_ms;
    config.rpc.http_addr = "127.0.0.1:0".parse().unwrap();
    config.metrics.addr = "127.0.0.1:0".parse().unwrap();
    // Calls that run to the gas cap (50M gas) must finish however slow the machine and the
    // build: no test here is about the call timeout firing.
    config.rpc.call_timeout_ms = 300_000;
    config.validate(true).unwrap();
    config
}

/// Chain id of the dev L1.
pub const DEV_L1_CHAIN_ID: u64 = 900;

/// The dev L1's configuration (`sequencer l1`) on ephemeral loopback ports, storing in
/// `datadir`, with 200 ms blocks.
pub fn l1_config(datadir: &Path) -> Config {
    let mut config = Config::parse(sequencer::cli::DEV_L1_CONFIG).unwrap();
    config.database.datadir = datadir.to_owned();
    config.chain.block_time_ms = 200;
    config.rpc.http_addr = "127.0.0.1:0".parse().unwrap();
    config.metrics.addr = "127.0.0.1:0".parse().unwrap();
    config.rpc.call_timeout_ms = 300_000;
    config.validate(true).unwrap();
    config
}

/// Launches a dev L1 in this process.
pub async fn launch_l1(datadir: &Path) -> Node {
    launch_l1_at(datadir, "127.0.0.1:0".parse().unwrap()).await
}

/// Launches a dev L1 in this process, serving JSON-RPC at `addr`.
pub async fn launch_l1_at(datadir: &Path, addr: SocketAddr) -> Node {
    let mut config = l1_config(datadir);
    config.rpc.http_addr = addr;
    let genesis = ChainGenesis::dev_l1(DEV_L1_CHAIN_ID, config.l1.fork.spec()).unwrap();
    Node::launch(&config, genesis).await.unwrap()
}

/// The dev configuration of `config` (200 ms blocks, so one a second while it follows an L1),
/// following the L1 at `l1` (chain id checked), anchoring `confirmations` blocks behind its
/// head and reading it every 100 ms.
pub fn following_config(
    datadir: &Path,
    database_url: Option<String>,
    l1: SocketAddr,
    confirmations: u64,
) -> Config {
    let mut config = config(datadir, database_url, 200);
    config.l1.rpc_url = Some(format!("http://{l1}"));
    config.l1.chain_id = Some(DEV_L1_CHAIN_ID);
    config.l1.confirmations = confirmations;
    config.l1.poll_interval_ms = 100;
    config.validate(true).unwrap();
    config
}

/// Launches a dev node in this process.
pub async fn launch(datadir: &Path, database_url: Option<String>) -> Node {
    Node::launch(&config(datadir, database_url, 200), ChainGenesis::dev().unwrap()).await.unwrap()
}

/// An alloy HTTP provider for the node.
pub fn provider(node: &Node) -> RootProvider {
    ProviderBuilder::default().connect_http(format!("http://{}", node.rpc_addr).parse().unwrap())
}

/// Account `index` of the dev mnemonic.
pub fn dev_signer(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default().phrase(DEV_MNEMONIC).index(index).unwrap().build().unwrap()
}

/// Signs `tx` with `signer` and returns its EIP-2718 bytes.
pub fn sign<T: SignableTransaction<alloy_primitives::Signature>>(
    signer: &PrivateKeySigner,
    mut tx: T,
) -> Bytes
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let signature = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
}

/// Waits for the receipt of `hash`, failing after 20 s.
pub async fn wait_receipt(provider: &RootProvider, hash: B256) -> TransactionReceipt {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await.unwrap() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "transaction {hash} not mined within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the chain reaches block `number`.
pub async fn wait_block(provider: &RootProvider, number: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while provider.get_block_number().await.unwrap() < number {
        assert!(Instant::now() < deadline, "block {number} not reached within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Init code that deploys `runtime` (at most 255 bytes): CODECOPY it to memory and RETURN it.
pub fn init_code(runtime: &[u8]) -> Bytes {
    let n = runtime.len() as u8;
    [&[0x60, n, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xf3][..], runtime].concat().into()
}

/// An EIP-1559 transaction on the dev chain paying 10 gwei at most, 1 gwei of tip.
pub fn eip1559(nonce: u64, to: TxKind, gas_limit: u64, value: U256, input: Bytes) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        access_list: Default::default(),
        input,
    }
}

/// The dev rollup (`sequencer dev`) on ephemeral loopback ports, its L1 making a block every
/// 500 ms.
pub fn dev_rollup_options() -> sequencer::dev_rollup::DevRollupOptions {
    sequencer::dev_rollup::DevRollupOptions {
        l1_http_addr: "127.0.0.1:0".parse().unwrap(),
        l1_metrics_addr: "127.0.0.1:0".parse().unwrap(),
        l1_block_time_ms: 500,
        ..Default::default()
    }
}
