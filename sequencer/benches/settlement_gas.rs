//! L1 gas per settled batch: a dev L1 (EXECUTE on) with six bridges (native and optimistic,
//! each fed in calldata and in blobs; beside the native one fed in blobs as `sequencer deploy`
//! makes it, one any bonded proposer may use and one whose history ring was not prewarmed), and
//! an L2 that follows it. For batches of 1, 10, 100 and 1,000 L2 transfers, every bridge takes
//! the same batch; the table splits each transaction's gas into EXECUTE's charge and the
//! bridge's own work (the transaction's intrinsic and calldata cost, then the contract's
//! execution). Gas does not depend on the machine.
//!
//! `cargo bench -p sequencer --bench settlement_gas -- [--transfers 1,10,100,1000]` prints one
//! Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::{EthereumWallet, TxSignerSync};
use alloy_primitives::{Address, Bytes, TxKind, U64, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use batcher::{
    BlobFees, SidecarForm,
    bridge::{NativeRollupBridge, SettlementMode},
    proposal::{DataPath, Proposal, ProposalSettings},
    rollup_api::TraceResponse,
};
use clap::Parser;
use sequencer::{
    config::Config,
    deploy::{DEFAULT_HISTORY, deploy_bridge, dev_parameters},
    genesis::{ChainGenesis, DEV_MNEMONIC},
    node::Node,
};
use std::time::{Duration, Instant};
use trace_builder::precompile::ExecuteGas;
use url::Url;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Transfers per batch.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    transfers: Vec<usize>,
    /// Accept cargo bench's own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Account `index` of the dev mnemonic.
fn dev_signer(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default().phrase(DEV_MNEMONIC).index(index).unwrap().build().unwrap()
}

/// How a bridge was deployed.
#[derive(Clone, Copy)]
enum Deployed {
    /// As `sequencer deploy` deploys it: one sequencer, the default history, prewarmed.
    Default,
    /// The same, but any bonded proposer may propose (`--any-proposer`).
    AnyProposer,
    /// One sequencer, a history of 8,192 left cold: the settlements of its first lap write
    /// fresh slots.
    NotPrewarmed,
}

impl Deployed {
    fn describe(self) -> String {
        match self {
            Self::Default => format!("sequencer, history {DEFAULT_HISTORY} prewarmed"),
            Self::AnyProposer => format!("any proposer, history {DEFAULT_HISTORY} prewarmed"),
            Self::NotPrewarmed => format!("sequencer, history {COLD_HISTORY} not prewarmed"),
        }
    }
}

/// The history of the bridge whose ring is left cold.
const COLD_HISTORY: u64 = 8_192;

/// A bridge the batches go to, and how.
struct Route {
    deployed: Deployed,
    mode: SettlementMode,
    path: DataPath,
    proposer: PrivateKeySigner,
    settings: ProposalSettings,
}

/// One settled (or refused) batch on one route.
struct Row {
    deployed: Deployed,
    transfers: usize,
    blocks: u64,
    anchors: usize,
    trace_bytes: usize,
    mode: SettlementMode,
    path: DataPath,
    outcome: Result<Gas, String>,
}

/// The gas of one transaction.
struct Gas {
    total: u64,
    /// What EIP-7623 charges at least for its calldata: when the transaction paid this, its
    /// gas says nothing of the contract's work.
    floor: u64,
    execute: u64,
    intrinsic_and_calldata: u64,
    blobs: usize,
}

/// 21,000 plus the calldata's cost (4 gas a zero byte, 16 a non-zero one).
fn intrinsic(input: &[u8]) -> u64 {
    21_000 + input.iter().map(|&byte| if byte == 0 { 4 } else { 16 }).sum::<u64>()
}

/// EIP-7623's floor: 21,000 plus 10 gas a token (a zero byte is one token, another byte four).
fn floor(input: &[u8]) -> u64 {
    21_000 + 10 * input.iter().map(|&byte| if byte == 0 { 1 } else { 4 }).sum::<u64>()
}

async fn wait_receipt(
    provider: &RootProvider,
    hash: alloy_primitives::B256,
) -> alloy_rpc_types_eth::TransactionReceipt {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await.unwrap() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "{hash} not included");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let (l1_dir, l2_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut l1_config = Config::parse(sequencer::cli::DEV_L1_CONFIG).unwrap();
    l1_config.database.datadir = l1_dir.path().to_owned();
    l1_config.chain.block_time_ms = 500;
    l1_config.rpc.http_addr = "127.0.0.1:0".parse().unwrap();
    l1_config.metrics.addr = "127.0.0.1:0".parse().unwrap();
    l1_config.validate(true).unwrap();
    let l1_genesis = ChainGenesis::dev_l1(900, l1_config.l1.fork.spec()).unwrap();
    let l1_node = Node::launch(&l1_config, l1_genesis).await.unwrap();
    let l1_url: Url = format!("http://{}", l1_node.rpc_addr).parse().unwrap();
    let l1 = ProviderBuilder::default().connect_http(l1_url.clone());
    let l1_chain_id = l1.get_chain_id().await.unwrap();

    let genesis = ChainGenesis::dev().unwrap();
    let mut routes = Vec::new();
    let plans = [
        (SettlementMode::Native, DataPath::Blobs, Deployed::Default),
        (SettlementMode::Native, DataPath::Blobs, Deployed::AnyProposer),
        (SettlementMode::Native, DataPath::Blobs, Deployed::NotPrewarmed),
        (SettlementMode::Native, DataPath::Calldata, Deployed::Default),
        (SettlementMode::Optimistic, DataPath::Blobs, Deployed::Default),
        (SettlementMode::Optimistic, DataPath::Calldata, Deployed::Default),
    ];
    let mut prewarm_gas = 0;
    for (index, (mode, path, deployed)) in plans.into_iter().enumerate() {
        let proposer = dev_signer(index as u32);
        let mut parameters = dev_parameters(&genesis, mode, proposer.address(), 3_600);
        let bridge = match deployed {
            Deployed::Default => {
                let deployment = deploy_bridge(&l1_url, proposer.clone(), &parameters).await.unwrap();
                prewarm_gas = deployment.prewarm_gas;
                deployment.bridge
            }
            Deployed::AnyProposer => {
                parameters.sequencer = None;
                deploy_bridge(&l1_url, proposer.clone(), &parameters).await.unwrap().bridge
            }
            Deployed::NotPrewarmed => {
                parameters.history = COLD_HISTORY;
                let wallet = ProviderBuilder::new()
                    .wallet(EthereumWallet::from(proposer.clone()))
                    .connect_http(l1_url.clone());
                let bridge = batcher::bridge::deploy(&wallet, &parameters).await.unwrap();
                let contract = NativeRollupBridge::new(bridge, &wallet);
                let bond = contract.bond().value(parameters.proposer_bond);
                assert!(bond.send().await.unwrap().get_receipt().await.unwrap().status());
                bridge
            }
        };
        let settings = ProposalSettings {
            l1_chain_id,
            bridge,
            mode,
            sidecar_form: SidecarForm::for_l1(true),
            execute_gas: ExecuteGas::default(),
        };
        routes.push(Route { deployed, mode, path, proposer, settings });
    }

    let mut l2_config = Config::parse(sequencer::cli::DEV_CONFIG).unwrap();
    l2_config.database.datadir = l2_dir.path().to_owned();
    l2_config.chain.block_time_ms = 1_000;
    l2_config.chain.gas_limit = Some(100_000_000);
    l2_config.rpc.http_addr = "127.0.0.1:0".parse().unwrap();
    l2_config.metrics.addr = "127.0.0.1:0".parse().unwrap();
    l2_config.mempool.max_per_sender = 1_000;
    l2_config.l1.rpc_url = Some(l1_url.to_string());
    l2_config.l1.confirmations = 2;
    l2_config.l1.poll_interval_ms = 200;
    l2_config.validate(true).unwrap();
    let l2_node = Node::launch(&l2_config, genesis).await.unwrap();
    let l2 = ProviderBuilder::default().connect_http(format!("http://{}", l2_node.rpc_addr).parse().unwrap());

    let senders: Vec<PrivateKeySigner> = (0..10).map(dev_signer).collect();
    let mut nonces = [0u64; 10];
    let mut settled_to = 0u64;
    let mut rows = Vec::new();
    for &transfers in &args.transfers {
        let mut last = Default::default();
        for index in 0..transfers {
            let sender = index % senders.len();
            let mut tx = TxEip1559 {
                chain_id: 1337,
                nonce: nonces[sender],
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(Address::with_last_byte(index as u8).create(index as u64)),
                value: U256::from(1u64),
                access_list: Default::default(),
                input: Bytes::new(),
            };
            nonces[sender] += 1;
            let signature = senders[sender].sign_transaction_sync(&mut tx).unwrap();
            let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
            last = *l2.send_raw_transaction(&raw).await.unwrap().tx_hash();
        }
        let block = wait_receipt(&l2, last).await.block_number.unwrap();
        let trace: TraceResponse = l2
            .raw_request("rollup_getTrace".into(), (U64::from(settled_to + 1), U64::from(block)))
            .await
            .unwrap();
        for route in &routes {
            let outcome = settle(&l1, route, &trace).await;
            rows.push(Row {
                deployed: route.deployed,
                transfers,
                blocks: block - settled_to,
                anchors: trace.bindings.anchors.len(),
                trace_bytes: trace.trace.len(),
                mode: route.mode,
                path: route.path,
                outcome,
            });
        }
        settled_to = block;
    }

    println!("Prewarming a history of {DEFAULT_HISTORY} at deployment: {prewarm_gas} gas.\n");
    println!(
        "| transfers | blocks | anchors | trace bytes | mode | data | bridge | tx gas | EXECUTE | bridge's own | of which intrinsic + calldata | of which contract | blobs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let lead = format!(
            "| {} | {} | {} | {} | {} | {:?} | {} ",
            row.transfers,
            row.blocks,
            row.anchors,
            row.trace_bytes,
            row.mode,
            row.path,
            row.deployed.describe()
        );
        match row.outcome {
            Ok(gas) if gas.total == gas.floor => {
                let own = gas.total - gas.execute;
                println!(
                    "{lead}| {} | {} | {own} | EIP-7623 floor | | {} |",
                    gas.total, gas.execute, gas.blobs
                );
            }
            Ok(gas) => {
                let own = gas.total - gas.execute;
                println!(
                    "{lead}| {} | {} | {own} | {} | {} | {} |",
                    gas.total,
                    gas.execute,
                    gas.intrinsic_and_calldata,
                    own - gas.intrinsic_and_calldata,
                    gas.blobs
                );
            }
            Err(reason) => println!("{lead}| {reason} | | | | | |"),
        }
    }
    l2_node.stop().await;
    l1_node.stop().await;
}

/// Sends `trace` along `route` and returns its gas, or why it did not settle.
async fn settle(l1: &RootProvider, route: &Route, trace: &TraceResponse) -> Result<Gas, String> {
    let proposal = Proposal::new(trace, route.path).map_err(|e| e.to_string())?;
    let nonce = l1.get_transaction_count(route.proposer.address()).pending().await.unwrap();
    let gas_price = l1.get_gas_price().await.unwrap();
    let fees = BlobFees {
        max_fee_per_gas: gas_price * 2,
        max_priority_fee_per_gas: gas_price / 10 + 1,
        max_fee_per_blob_gas: l1.get_blob_base_fee().await.unwrap() * 2 + 1,
    };
    let tx = proposal.sign(&route.proposer, nonce, fees, &route.settings).map_err(|e| e.to_string())?;
    let _ = l1.send_raw_transaction(&tx.raw).await.map_err(|e| format!("refused by the L1: {e}"))?;
    let receipt = wait_receipt(l1, tx.hash).await;
    if !receipt.status() {
        return Err("reverted".to_owned());
    }
    let input = proposal.input(route.mode);
    Ok(Gas {
        total: receipt.gas_used,
        floor: floor(&input),
        execute: tx.execute_charge,
        intrinsic_and_calldata: intrinsic(&input),
        blobs: tx.blob_hashes.len(),
    })
}
