//! `sequencer`: parse the configuration, start the node, run it until Ctrl-C or SIGTERM.

use clap::Parser;
use sequencer::dev_rollup::{DevRollup, DevRollupOptions};
use sequencer::{
    cli::{Cli, Command},
    config::{ChainRole, LogFormat},
    genesis::{ChainGenesis, DEV_MNEMONIC},
    node::Node,
};
use tracing_subscriber::{EnvFilter, fmt};

/// The node allocates per request and per transaction from many threads at once; mimalloc's
/// thread-local heaps serve that faster than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> eyre::Result<()> {
    // mimalloc asks for transparent huge pages on its memory, and the kernel then zeroes 2 MiB
    // at the first touch of any 4 KiB in it: a tenth of the node's CPU went there while
    // admitting transactions under load, and nothing measurable was gained in block building.
    // Failing to turn them off (an old kernel) costs only that.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    if let Command::Deploy(args) = &cli.command {
        return deploy(args);
    }
    let dev = matches!(cli.command, Command::Dev(_) | Command::L1(_));
    let rollup = match &cli.command {
        Command::Dev(args) if !args.l2_only => Some(args.rollup_options()),
        _ => None,
    };
    let (config, _) = cli.command.into_config()?;
    let filter = EnvFilter::try_new(&config.log.filter)
        .map_err(|e| eyre::eyre!("invalid config key `log.filter`: {e}"))?;
    match config.log.format {
        LogFormat::Human => fmt().with_env_filter(filter).init(),
        LogFormat::Json => fmt().json().with_env_filter(filter).init(),
    }
    let genesis = match (config.chain.role, &config.chain.genesis) {
        (ChainRole::L2, Some(path)) => ChainGenesis::load(path)?,
        (ChainRole::L2, None) => ChainGenesis::dev_with_bridge(config.l1.bridge_address)?,
        (ChainRole::L1, Some(path)) => ChainGenesis::load_at(path, config.l1.fork.spec())?,
        (ChainRole::L1, None) => ChainGenesis::dev_l1(config.l1.dev_chain_id(), config.l1.fork.spec())?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(options) = rollup {
        return runtime.block_on(dev_rollup(config, options));
    }
    runtime.block_on(async move {
        let node = Node::launch(&config, genesis).await?;
        println!("JSON-RPC (HTTP and WebSocket): http://{}", node.rpc_addr);
        println!("Metrics: http://{}/metrics", node.metrics_addr);
        println!("Health: http://{}/health", node.metrics_addr);
        println!("Chain id: {}", node.chain_id);
        if config.chain.role == ChainRole::L1 {
            println!("EXECUTE: {}", config.l1.execute_address);
            println!("Blob sidecars: http://{}/eth/v1/beacon/blob_sidecars/{{block_id}}", node.rpc_addr);
        }
        println!("Genesis: {}", node.genesis_hash);
        if dev {
            print_dev_accounts()?;
        }
        node.run_until(shutdown_signal()).await?;
        println!("stopped");
        Ok(())
    })
}

/// `sequencer dev`: the whole rollup, until Ctrl-C or SIGTERM.
async fn dev_rollup(config: sequencer::config::Config, options: DevRollupOptions) -> eyre::Result<()> {
    let external_l1 = config.l1.rpc_url.is_some();
    let rollup = DevRollup::launch(config, &options).await?;
    println!(
        "L2 JSON-RPC (HTTP and WebSocket): http://{}  chain id {}",
        rollup.l2.rpc_addr, rollup.l2.chain_id
    );
    match &rollup.l1 {
        Some(l1) => println!(
            "L1 JSON-RPC: {}  chain id {} (dev L1, EXECUTE at its default address)",
            rollup.l1_url, l1.chain_id
        ),
        None => println!("L1 JSON-RPC: {} (external)", rollup.l1_url),
    }
    println!(
        "Bridge: {} ({} mode); batches proposed by {}",
        rollup.bridge.address, rollup.bridge.mode, rollup.proposer
    );
    println!(
        "Metrics: http://{}/metrics  Health: http://{}/health",
        rollup.l2.metrics_addr, rollup.l2.metrics_addr
    );
    if let Some(l1) = &rollup.l1 {
        println!("L1 metrics: http://{}/metrics", l1.metrics_addr);
    }
    if !external_l1 {
        print_dev_accounts()?;
        println!("The same accounts are funded on both chains; account 9 proposes the batches on L1.");
    }
    shutdown_signal().await;
    rollup.stop().await;
    println!("stopped");
    Ok(())
}

/// `sequencer deploy`: deploys the bridge and prints where it is.
fn deploy(args: &sequencer::deploy::DeployArgs) -> eyre::Result<()> {
    fmt().with_env_filter(EnvFilter::new("warn")).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let deployment = runtime.block_on(sequencer::deploy::deploy(args))?;
    eprintln!(
        "Bridge ({} mode) deployed at {} on L1 chain {} (block {}); proposer {} bonded.",
        deployment.mode,
        deployment.bridge,
        deployment.l1_chain_id,
        deployment.deployed_at,
        deployment.proposer
    );
    if let Some(path) = &args.out {
        eprintln!("Wrote the [l1] section to {}.", path.display());
    }
    Ok(())
}

/// The funded accounts of the dev chain with their keys, as other dev nodes print them.
fn print_dev_accounts() -> eyre::Result<()> {
    println!("\nFunded accounts (10000 ETH each), mnemonic \"{DEV_MNEMONIC}\":");
    for index in 0..10u32 {
        let signer =
            alloy_signer_local::MnemonicBuilder::<alloy_signer_local::coins_bip39::English>::default()
                .phrase(DEV_MNEMONIC)
                .index(index)?
                .build()?;
        println!(
            "({index}) {} 0x{}",
            signer.address(),
            alloy_primitives::hex::encode(signer.credential().to_bytes())
        );
    }
    println!();
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!(target: "node", "shutting down");
}
