//! Deposits and withdrawals on the dev rollup (`sequencer dev` as a library: a dev L1 with 2 s
//! blocks and EXECUTE, a native bridge, the L2 anchored two L1 blocks behind, the batcher and
//! the message relayer) in this process.
//!
//! - Deposit latency: from the deposit's L1 receipt to the recipient's L2 balance, in seconds,
//!   L1 blocks and L2 blocks, for deposits a few seconds apart.
//! - L2 gas of a delivery (the relayer's `relayMessage` with the L1 header and proofs).
//! - Withdrawal: from the L2 receipt to `rollup_getWithdrawalProof` answering `settled`, and the
//!   L1 gas of the claim it answers, beside the OP Stack's two L1 transactions (prove and
//!   finalize) seven days apart.
//!
//! `cargo bench -p sequencer --bench messaging -- [--count 10]` prints Markdown tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_network::EthereumWallet;
use alloy_primitives::{Address, utils::parse_ether};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use alloy_sol_types::SolEvent;
use batcher::{
    bridge::NativeRollupBridge,
    messages::{L2_BRIDGE_ADDRESS, L2Bridge},
};
use clap::Parser;
use sequencer::{
    config::Config,
    dev_rollup::{DevRollup, DevRollupOptions},
    genesis::DEV_MNEMONIC,
    rpc::{WithdrawalProof, WithdrawalStatus},
};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Deposits and withdrawals timed.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Accept cargo bench's own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The OP Stack's L1 gas for a withdrawal: `proveWithdrawalTransaction` (about 250,000) and
/// `finalizeWithdrawalTransaction` (about 100,000), seven days apart.
const OP_STACK_WITHDRAWAL_GAS: u64 = 350_000;

fn dev_signer(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default().phrase(DEV_MNEMONIC).index(index).unwrap().build().unwrap()
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn row(name: &str, values: &[f64], unit: &str) -> String {
    let (p50, p95) = (percentile(values, 0.5), percentile(values, 0.95));
    match unit {
        "s" => format!("| {name} | {p50:.1} s | {p95:.1} s |"),
        _ => format!("| {name} | {p50:.0} | {p95:.0} |"),
    }
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
    let options = DevRollupOptions {
        l1_http_addr: "127.0.0.1:0".parse().unwrap(),
        l1_metrics_addr: "127.0.0.1:0".parse().unwrap(),
        l1_block_time_ms: 2_000,
        ..DevRollupOptions::default()
    };
    let rollup = DevRollup::launch(config, &options).await.unwrap();
    let l1_url = rollup.l1_url.clone();
    let l2_url: url::Url = format!("http://{}", rollup.l2.rpc_addr).parse().unwrap();
    let l1: RootProvider = ProviderBuilder::default().connect_http(l1_url.clone());
    let l2: RootProvider = ProviderBuilder::default().connect_http(l2_url.clone());
    let depositor =
        ProviderBuilder::new().wallet(EthereumWallet::from(dev_signer(3))).connect_http(l1_url.clone());
    let bridge = NativeRollupBridge::new(rollup.bridge.address, depositor);

    // Deposits, one at a time.
    let (mut seconds, mut l1_blocks, mut l2_blocks, mut delivery_gas) = (vec![], vec![], vec![], vec![]);
    let amount = parse_ether("0.01").unwrap();
    for index in 0..args.count {
        let recipient = Address::repeat_byte(0x10 + index as u8);
        let receipt =
            bridge.deposit(recipient).value(amount).send().await.unwrap().get_receipt().await.unwrap();
        let (included, l1_block) = (Instant::now(), receipt.block_number.unwrap());
        let l2_before = l2.get_block_number().await.unwrap();
        while l2.get_balance(recipient).await.unwrap() < amount {
            assert!(included.elapsed() < Duration::from_secs(120), "deposit {index} not credited in 120 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seconds.push(included.elapsed().as_secs_f64());
        l1_blocks.push(l1.get_block_number().await.unwrap().saturating_sub(l1_block) as f64);
        l2_blocks.push(l2.get_block_number().await.unwrap().saturating_sub(l2_before) as f64);
        let sent = receipt.decoded_log::<NativeRollupBridge::MessageSent>().unwrap().data.hash;
        let delivered = l2
            .get_logs(
                &Filter::new()
                    .address(L2_BRIDGE_ADDRESS)
                    .event_signature(L2Bridge::MessageDelivered::SIGNATURE_HASH)
                    .topic1(sent)
                    .from_block(l2_before),
            )
            .await
            .unwrap();
        let delivery =
            l2.get_transaction_receipt(delivered[0].transaction_hash.unwrap()).await.unwrap().unwrap();
        delivery_gas.push(delivery.gas_used as f64);
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }

    // Withdrawals, one at a time: settled, then claimed.
    let withdrawer = ProviderBuilder::new().wallet(EthereumWallet::from(dev_signer(4))).connect_http(l2_url);
    let l2_bridge = L2Bridge::new(L2_BRIDGE_ADDRESS, withdrawer);
    let claimer = ProviderBuilder::new().wallet(EthereumWallet::from(dev_signer(5))).connect_http(l1_url);
    let (mut claimable, mut claim_gas) = (vec![], vec![]);
    for index in 0..args.count {
        let to = Address::repeat_byte(0x40 + index as u8);
        let receipt = l2_bridge.withdraw(to).value(amount).send().await.unwrap().get_receipt().await.unwrap();
        let included = Instant::now();
        let proof = loop {
            let proof: WithdrawalProof = l2
                .raw_request("rollup_getWithdrawalProof".into(), (receipt.transaction_hash,))
                .await
                .unwrap();
            if proof.status == WithdrawalStatus::Settled {
                break proof;
            }
            assert!(included.elapsed() < Duration::from_secs(120), "withdrawal {index} not settled in 120 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        claimable.push(included.elapsed().as_secs_f64());
        let claim = proof.claim.unwrap();
        let request = TransactionRequest::default().to(claim.to).input(claim.data.into()).value(claim.value);
        let claimed = claimer.send_transaction(request).await.unwrap().get_receipt().await.unwrap();
        assert!(claimed.status());
        assert_eq!(l1.get_balance(to).await.unwrap(), amount);
        claim_gas.push(claimed.gas_used as f64);
    }
    rollup.stop().await;

    println!(
        "Deposits ({} on the dev L1, 2 s blocks, two confirmations; L2 one block a second):\n",
        args.count
    );
    println!("| deposit: L1 receipt → L2 balance | p50 | p95 |");
    println!("|---|---|---|");
    println!("{}", row("seconds", &seconds, "s"));
    println!("{}", row("L1 blocks", &l1_blocks, ""));
    println!("{}", row("L2 blocks", &l2_blocks, ""));
    println!("{}", row("L2 gas of the delivery", &delivery_gas, ""));
    println!("\nWithdrawals ({}, native mode):\n", args.count);
    println!("| withdrawal | p50 | p95 | OP Stack |");
    println!("|---|---|---|---|");
    let claim_p50 = percentile(&claim_gas, 0.5);
    println!(
        "| L2 receipt → claimable on L1 | {:.1} s | {:.1} s | 7 days |",
        percentile(&claimable, 0.5),
        percentile(&claimable, 0.95)
    );
    println!(
        "| L1 gas of the claim | {:.0} | {:.0} | ~{OP_STACK_WITHDRAWAL_GAS} in two transactions ({:.2}×) |",
        claim_p50,
        percentile(&claim_gas, 0.95),
        claim_p50 / OP_STACK_WITHDRAWAL_GAS as f64
    );
}
