//! `sequencer dev`: the whole rollup in one process. A dev L1 (this node in its L1 role,
//! EXECUTE on) unless an external L1 is named, the bridge deployed on it on first start
//! (native where EXECUTE answers, optimistic elsewhere) and remembered in the datadir, the L2
//! anchored to the L1, and the batcher between them. Stopped and started again, it goes on
//! with both chains, the same bridge and the batcher's state.

use crate::{
    cli::DEV_L1_CONFIG,
    config::{Config, ConfigError},
    deploy::{DeployError, deploy_bridge, dev_parameters, next_contract_address},
    error::NodeError,
    genesis::{ChainGenesis, DEV_MNEMONIC},
    node::Node,
};
use alloy_primitives::Address;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use batcher::{
    bridge::SettlementMode,
    service::{
        Batcher, BatcherConfig, BatcherError, anchors::DEFAULT_RECORD_AGE_BLOCKS, dev_policy,
        policy::BatchPolicy, state::BatcherState,
    },
    txmgr::TxManagerConfig,
};
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use url::Url;

/// The dev mnemonic's account that proposes batches on the L1 (the last of the ten funded, so
/// that it does not share nonces with a user's first accounts).
pub const DEV_PROPOSER_INDEX: u32 = 9;

/// The dev mnemonic's account that delivers the bridge's messages (deposits) on the L2.
pub const DEV_RELAYER_INDEX: u32 = 8;

/// The file in the datadir holding the relayer's key (a dev mnemonic key: public anyway).
const RELAYER_KEY_FILE: &str = "relayer.key";

/// The file in the datadir that remembers the bridge deployed for the dev chain.
const BRIDGE_FILE: &str = "bridge.toml";

/// What the dev rollup runs beside the L2's own configuration.
#[derive(Clone, Debug)]
pub struct DevRollupOptions {
    /// Where the dev L1 serves JSON-RPC (when no external L1 is named).
    pub l1_http_addr: SocketAddr,
    /// Where the dev L1 serves its metrics.
    pub l1_metrics_addr: SocketAddr,
    /// The dev L1's block time.
    pub l1_block_time_ms: u64,
    /// The batcher closes a batch once its oldest block is this old (or its blobs are full).
    pub batch_max_age: Duration,
}

impl Default for DevRollupOptions {
    fn default() -> Self {
        Self {
            l1_http_addr: SocketAddr::from(([127, 0, 0, 1], 8546)),
            l1_metrics_addr: SocketAddr::from(([127, 0, 0, 1], 9101)),
            l1_block_time_ms: 2_000,
            batch_max_age: dev_policy().max_age,
        }
    }
}

/// Why the dev rollup could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevRollupError {
    /// A node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The genesis could not be built.
    #[error(transparent)]
    Genesis(#[from] crate::error::GenesisError),
    /// The bridge could not be deployed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// The batcher could not start.
    #[error(transparent)]
    Batcher(#[from] BatcherError),
    /// The bridge file could not be read or written.
    #[error("{path}: {reason}")]
    BridgeFile {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// The bridge a dev chain settles through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevBridge {
    /// Its address.
    pub address: Address,
    /// Its mode.
    pub mode: SettlementMode,
    /// The L1 block it was deployed in.
    pub deployed_at: u64,
}

/// A running dev rollup.
#[derive(Debug)]
pub struct DevRollup {
    /// The dev L1, when this process runs it.
    pub l1: Option<Node>,
    /// The L1's JSON-RPC URL.
    pub l1_url: Url,
    /// The L2.
    pub l2: Node,
    /// The bridge.
    pub bridge: DevBridge,
    /// The batcher's L1 address.
    pub proposer: Address,
    batcher: Option<RunningBatcher>,
}

/// The batcher's task, and what stops it.
#[derive(Debug)]
struct RunningBatcher {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), BatcherError>>,
}

/// Account `index` of the dev mnemonic.
fn dev_account(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .index(index)
        .and_then(|builder| builder.build())
        .unwrap_or_else(|_| PrivateKeySigner::random())
}

impl DevRollup {
    /// Starts the rollup: `config` is the L2's (`sequencer dev`'s, with its flags); an
    /// external L1 when `config.l1.rpc_url` is set.
    pub async fn launch(mut config: Config, options: &DevRollupOptions) -> Result<Self, DevRollupError> {
        let datadir = config.database.datadir.clone();
        std::fs::create_dir_all(&datadir)
            .map_err(|e| DevRollupError::BridgeFile { path: datadir.clone(), reason: e.to_string() })?;
        let (l1, l1_url) = match &config.l1.rpc_url {
            Some(url) => (
                None,
                url.parse::<Url>()
                    .map_err(|e| ConfigError::Invalid { key: "l1.rpc_url", reason: e.to_string() })?,
            ),
            None => {
                let mut l1_config = Config::parse(DEV_L1_CONFIG)
                    .map_err(|message| ConfigError::Parse { path: "config/dev-l1.toml".into(), message })?;
                l1_config.database.datadir = datadir.join("l1");
                l1_config.rpc.http_addr = options.l1_http_addr;
                l1_config.metrics.addr = options.l1_metrics_addr;
                l1_config.chain.block_time_ms = options.l1_block_time_ms;
                l1_config.log = config.log.clone();
                l1_config.validate(true)?;
                let chain_id = l1_config.l1.dev_chain_id();
                let genesis = ChainGenesis::dev_l1(chain_id, l1_config.l1.fork.spec())?;
                let node = Node::launch(&l1_config, genesis).await?;
                let url: Url =
                    format!("http://{}", node.rpc_addr).parse().map_err(|e: url::ParseError| {
                        ConfigError::Invalid { key: "rpc.http_addr", reason: e.to_string() }
                    })?;
                config.l1.chain_id = Some(chain_id);
                (Some(node), url)
            }
        };
        config.l1.rpc_url = Some(l1_url.to_string());
        let proposer = dev_account(DEV_PROPOSER_INDEX);
        let (bridge, genesis) =
            bridge_of(&datadir.join(BRIDGE_FILE), &l1_url, &proposer, config.chain.genesis.as_deref())
                .await?;
        // The L2's safe and finalized blocks follow the bridge.
        config.l1.bridge_address = Some(bridge.address);
        config.l1.bridge_deployed_at = bridge.deployed_at;
        config.l1.settlement = bridge.mode;
        // The L2 delivers the bridge's messages itself: a deposit shows on the L2 with nothing
        // to do there.
        if config.l1.relayer_key_file.is_none() {
            let path = datadir.join(RELAYER_KEY_FILE);
            let key = dev_account(DEV_RELAYER_INDEX).to_bytes();
            std::fs::write(&path, format!("{key}\n"))
                .map_err(|e| DevRollupError::BridgeFile { path: path.clone(), reason: e.to_string() })?;
            config.l1.relayer_key_file = Some(path);
        }
        config.validate(true)?;
        let l2 = Node::launch(&config, genesis).await?;
        let l2_url: Url = format!("http://{}", l2.rpc_addr).parse().map_err(|e: url::ParseError| {
            ConfigError::Invalid { key: "rpc.http_addr", reason: e.to_string() }
        })?;
        let batcher_config = BatcherConfig {
            l2_rpc: l2_url,
            l1_rpc: l1_url.clone(),
            bridge: bridge.address,
            policy: BatchPolicy { max_age: options.batch_max_age, ..dev_policy() },
            poll_interval: Duration::from_millis(500),
            l1_osaka: true,
            txmgr: TxManagerConfig {
                confirmations: 1,
                receipt_poll_interval_ms: 500,
                ..TxManagerConfig::default()
            },
            anchor_record_age_blocks: DEFAULT_RECORD_AGE_BLOCKS,
            beacon_url: None,
        };
        let state_url = format!("sqlite://{}", datadir.join("batcher.sqlite").display());
        let state = BatcherState::open(&state_url).await.map_err(BatcherError::from)?;
        let address = proposer.address();
        // The batcher's series are served with the L2's, on its `/metrics`.
        let recorder = Some(l2.metrics().recorder());
        let batcher = Batcher::recording(batcher_config, proposer, state, recorder).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(batcher.run(async {
            let _ = stopped.await;
        }));
        Ok(Self { l1, l1_url, l2, bridge, proposer: address, batcher: Some(RunningBatcher { stop, task }) })
    }

    /// Stops the batcher, then the L2, then the L1.
    pub async fn stop(mut self) {
        if let Some(RunningBatcher { stop, task }) = self.batcher.take() {
            let _ = stop.send(());
            match task.await {
                Ok(Err(error)) => {
                    tracing::error!(target: "batcher", %error, "the batcher stopped with an error")
                }
                Err(error) => tracing::error!(target: "batcher", %error, "the batcher's task failed"),
                Ok(Ok(())) => {}
            }
        }
        self.l2.stop().await;
        if let Some(l1) = self.l1 {
            l1.stop().await;
        }
    }
}

/// The bridge remembered in `file`, or one deployed now (native where EXECUTE answers,
/// optimistic elsewhere) and remembered there; and the L2 genesis that names it (the built-in
/// dev genesis, or the file `genesis`, which must name it).
async fn bridge_of(
    file: &std::path::Path,
    l1: &Url,
    proposer: &PrivateKeySigner,
    genesis: Option<&std::path::Path>,
) -> Result<(DevBridge, ChainGenesis), DevRollupError> {
    let file_error = |reason: String| DevRollupError::BridgeFile { path: file.to_owned(), reason };
    let genesis_for = |bridge: Address| match genesis {
        Some(path) => ChainGenesis::load(path).and_then(|genesis| {
            if genesis.l1_bridge == Some(bridge) {
                Ok(genesis)
            } else {
                Err(crate::error::GenesisError::Invalid {
                    key: "config.rollup.l1Bridge".into(),
                    reason: format!("must be {bridge}, the dev chain's bridge"),
                })
            }
        }),
        None => ChainGenesis::dev_with_bridge(Some(bridge)),
    };
    if let Ok(text) = std::fs::read_to_string(file) {
        // The `[l1]` section `sequencer deploy` wrote, read as a node reads it.
        let l1_section = Config::parse(&text).map_err(file_error)?.l1;
        let address = l1_section.bridge_address.ok_or_else(|| file_error("no bridge_address".into()))?;
        let bridge =
            DevBridge { address, mode: l1_section.settlement, deployed_at: l1_section.bridge_deployed_at };
        return Ok((bridge, genesis_for(address)?));
    }
    // The L2 genesis names the bridge: it goes where the proposer's next deployment lands.
    let address = next_contract_address(l1, proposer.address()).await?;
    let genesis = genesis_for(address)?;
    let native = dev_parameters(&genesis, SettlementMode::Native, proposer.address(), 0);
    let deployment = match deploy_bridge(l1, proposer.clone(), &native).await {
        Err(DeployError::NoExecute { .. }) => {
            tracing::info!(target: "sequencer", "EXECUTE does not answer on this L1: the bridge settles optimistically");
            let optimistic = dev_parameters(&genesis, SettlementMode::Optimistic, proposer.address(), 60);
            deploy_bridge(l1, proposer.clone(), &optimistic).await?
        }
        other => other?,
    };
    if deployment.bridge != address {
        return Err(DeployError::AddressMoved { expected: address, deployed: deployment.bridge }.into());
    }
    std::fs::write(file, &deployment.config_section).map_err(|e| file_error(e.to_string()))?;
    let bridge =
        DevBridge { address: deployment.bridge, mode: deployment.mode, deployed_at: deployment.deployed_at };
    Ok((bridge, genesis))
}
