//! `batcher run --config FILE`: the batcher as its own process, beside an L2 node and an L1.

use batcher::service::{Batcher, config::BatcherFile, state::BatcherState};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// The native rollup's batcher: every sealed L2 block reaches the bridge on L1, exactly once.
#[derive(Debug, Parser)]
#[command(name = "batcher", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the batcher from a TOML configuration file (see batcher/src/service/config.rs).
    Run {
        /// The configuration file.
        #[arg(long, env = "BATCHER_CONFIG")]
        config: PathBuf,
    },
}

fn main() -> eyre::Result<()> {
    let Cli { command: Command::Run { config } } = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("BATCHER_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let text =
        std::fs::read_to_string(&config).map_err(|e| eyre::eyre!("cannot read {}: {e}", config.display()))?;
    let file = BatcherFile::parse(&text)
        .map_err(|e| eyre::eyre!("invalid config file {}: {e}", config.display()))?;
    let batcher_config = file.config()?;
    let key = std::fs::read_to_string(&file.batcher.key_file)
        .map_err(|e| eyre::eyre!("key file {}: {e}", file.batcher.key_file.display()))?;
    let signer = key
        .trim()
        .parse::<alloy_signer_local::PrivateKeySigner>()
        .map_err(|_| eyre::eyre!("key file {}: not a hex private key", file.batcher.key_file.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        if let Some(addr) = file.batcher.metrics_addr {
            metrics_exporter_prometheus::PrometheusBuilder::new().with_http_listener(addr).install()?;
        }
        let state = BatcherState::open(&file.batcher.database_url).await?;
        let batcher = Batcher::new(batcher_config, signer, state).await?;
        tracing::info!(target: "batcher", proposer = %batcher.address(), "batcher running");
        batcher
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
