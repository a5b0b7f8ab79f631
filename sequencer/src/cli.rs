//! Command line: `sequencer dev`, `sequencer l1`, `sequencer run --config FILE` and
//! `sequencer deploy`. Every configuration key has a flag and an environment variable that
//! override the file.

use crate::config::{ChainRole, Config, ConfigError, L1Fork, LogFormat, SettlementMode};
use alloy_primitives::Address;
use clap::{Args, Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf};

/// The native rollup sequencer.
#[derive(Debug, Parser)]
#[command(name = "sequencer", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the whole dev rollup: a dev L1 with EXECUTE on 127.0.0.1:8546 (or the L1 that
    /// `--l1-rpc` names), the bridge deployed on it on first start, the L2 on 127.0.0.1:8545
    /// anchored to it, and the batcher; built-in genesis with the test mnemonic's accounts 0..9
    /// funded on both chains, state in ./data, nothing to install or configure.
    Dev(DevArgs),
    /// Runs a dev L1 that can carry a native rollup: blob transactions, the blob API and
    /// EXECUTE; built-in genesis (chain id 900) with the test mnemonic's accounts 0..9 funded,
    /// SQLite in ./data-l1, JSON-RPC on 127.0.0.1:8546.
    L1(NodeArgs),
    /// Runs a node from a TOML configuration file.
    Run {
        /// The configuration file (see config/sequencer.example.toml).
        #[arg(long, env = "SEQUENCER_CONFIG")]
        config: PathBuf,
        /// Overrides of the file's keys.
        #[command(flatten)]
        args: NodeArgs,
    },
    /// Deploys the bridge contract on an L1 for the chain's genesis, bonds the proposer, and
    /// writes the `[l1]` configuration section of a node that settles through it.
    Deploy(crate::deploy::DeployArgs),
}

/// `sequencer dev`'s flags: the L2's, and the rest of the rollup's.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// The L2's flags.
    #[command(flatten)]
    pub node: NodeArgs,
    /// Runs the L2 alone: no L1 (unless `--l1-rpc` names one to anchor to), no bridge, no
    /// batcher.
    #[arg(long, env = "SEQUENCER_L2_ONLY")]
    pub l2_only: bool,
    /// Where the dev L1 serves JSON-RPC.
    #[arg(long, env = "SEQUENCER_L1_HTTP_ADDR", default_value = "127.0.0.1:8546")]
    pub l1_http_addr: SocketAddr,
    /// Where the dev L1 serves its metrics.
    #[arg(long, env = "SEQUENCER_L1_METRICS_ADDR", default_value = "127.0.0.1:9101")]
    pub l1_metrics_addr: SocketAddr,
    /// The dev L1's block time.
    #[arg(long, env = "SEQUENCER_L1_BLOCK_TIME_MS", default_value_t = 2_000)]
    pub l1_block_time_ms: u64,
}

impl DevArgs {
    /// The rollup's options beside the L2's configuration.
    pub fn rollup_options(&self) -> crate::dev_rollup::DevRollupOptions {
        crate::dev_rollup::DevRollupOptions {
            l1_http_addr: self.l1_http_addr,
            l1_metrics_addr: self.l1_metrics_addr,
            l1_block_time_ms: self.l1_block_time_ms,
            ..crate::dev_rollup::DevRollupOptions::default()
        }
    }
}

/// Flags that override configuration keys; each also reads an environment variable.
#[derive(Debug, Default, Args)]
pub struct NodeArgs {
    /// `chain.role`: l2 or l1.
    #[arg(long, env = "SEQUENCER_ROLE")]
    pub role: Option<ChainRole>,
    /// `l1.chain_id`: chain id of the built-in dev L1 genesis (role l1), or the chain id the
    /// followed L1 must have (role l2).
    #[arg(long, env = "SEQUENCER_L1_CHAIN_ID")]
    pub l1_chain_id: Option<u64>,
    /// `l1.rpc_url`: JSON-RPC endpoint (http:// or https://) of the L1 an L2 node follows and
    /// anchors its blocks to.
    #[arg(long = "l1-rpc", env = "SEQUENCER_L1_RPC", value_name = "URL")]
    pub l1_rpc_url: Option<String>,
    /// `l1.confirmations`: L1 blocks that must follow a block before the L2 anchors to it.
    #[arg(long, env = "SEQUENCER_L1_CONFIRMATIONS", value_name = "N")]
    pub l1_confirmations: Option<u64>,
    /// `l1.poll_interval_ms`: interval between reads of the L1 head.
    #[arg(long, env = "SEQUENCER_L1_POLL_INTERVAL_MS")]
    pub l1_poll_interval_ms: Option<u64>,
    /// `l1.bridge_address`: the bridge on the L1 that settles this chain; the node follows it
    /// for `safe` and `finalized`.
    #[arg(long, env = "SEQUENCER_L1_BRIDGE_ADDRESS")]
    pub l1_bridge_address: Option<Address>,
    /// `l1.bridge_deployed_at`: the L1 block the bridge was deployed in.
    #[arg(long, env = "SEQUENCER_L1_BRIDGE_DEPLOYED_AT", value_name = "L1_BLOCK")]
    pub l1_bridge_deployed_at: Option<u64>,
    /// `l1.relayer_key_file`: a file holding the private key of the L2 account that delivers
    /// the bridge's messages (deposits).
    #[arg(long, env = "SEQUENCER_L1_RELAYER_KEY_FILE", value_name = "FILE")]
    pub l1_relayer_key_file: Option<PathBuf>,
    /// `l1.settlement`: native or optimistic, the bridge's mode.
    #[arg(long, env = "SEQUENCER_L1_SETTLEMENT")]
    pub l1_settlement: Option<SettlementMode>,
    /// `l1.fork`: prague or osaka.
    #[arg(long, env = "SEQUENCER_L1_FORK")]
    pub l1_fork: Option<L1Fork>,
    /// `l1.execute_address`: where EXECUTE lives.
    #[arg(long, env = "SEQUENCER_L1_EXECUTE_ADDRESS")]
    pub l1_execute_address: Option<Address>,
    /// `l1.safe_depth`: blocks between the head and `safe`.
    #[arg(long, env = "SEQUENCER_L1_SAFE_DEPTH")]
    pub l1_safe_depth: Option<u64>,
    /// `l1.finalized_depth`: blocks between the head and `finalized`.
    #[arg(long, env = "SEQUENCER_L1_FINALIZED_DEPTH")]
    pub l1_finalized_depth: Option<u64>,
    /// `l1.blob_retention_blocks`: how many blocks blobs are kept for.
    #[arg(long, env = "SEQUENCER_L1_BLOB_RETENTION_BLOCKS")]
    pub l1_blob_retention_blocks: Option<u64>,
    /// `chain.genesis`: geth genesis JSON file.
    #[arg(long, env = "SEQUENCER_GENESIS")]
    pub genesis: Option<PathBuf>,
    /// `chain.block_time_ms`: interval between blocks.
    #[arg(long, env = "SEQUENCER_BLOCK_TIME_MS")]
    pub block_time_ms: Option<u64>,
    /// `chain.gas_limit`: block gas limit to steer towards.
    #[arg(long, env = "SEQUENCER_GAS_LIMIT")]
    pub gas_limit: Option<u64>,
    /// `chain.fee_recipient`: coinbase of produced blocks.
    #[arg(long, env = "SEQUENCER_FEE_RECIPIENT")]
    pub fee_recipient: Option<Address>,
    /// `chain.extra_data`: header extra data.
    #[arg(long, env = "SEQUENCER_EXTRA_DATA")]
    pub extra_data: Option<String>,
    /// `database.datadir`: data directory (SQLite lives here by default).
    #[arg(long, env = "SEQUENCER_DATADIR")]
    pub datadir: Option<PathBuf>,
    /// `database.url`: `sqlite://PATH` or `postgres://...`.
    #[arg(long, env = "SEQUENCER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `database.max_connections`: database connections for RPC reads.
    #[arg(long, env = "SEQUENCER_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// `database.node_cache_mib`: trie-node cache size.
    #[arg(long, env = "SEQUENCER_NODE_CACHE_MIB")]
    pub node_cache_mib: Option<u64>,
    /// `database.state_cache_mib`: the block producer's latest-state cache size.
    #[arg(long, env = "SEQUENCER_STATE_CACHE_MIB")]
    pub state_cache_mib: Option<u64>,
    /// `database.account_filter_mib`: the filter of absent accounts' size.
    #[arg(long, env = "SEQUENCER_ACCOUNT_FILTER_MIB")]
    pub account_filter_mib: Option<u64>,
    /// `database.sqlite_writer_cache_mib`: SQLite's page cache for block commits.
    #[arg(long, env = "SEQUENCER_SQLITE_WRITER_CACHE_MIB")]
    pub sqlite_writer_cache_mib: Option<u32>,
    /// `database.sqlite_reader_cache_mib`: SQLite's page cache per reading connection.
    #[arg(long, env = "SEQUENCER_SQLITE_READER_CACHE_MIB")]
    pub sqlite_reader_cache_mib: Option<u32>,
    /// `rpc.http_addr`: JSON-RPC (HTTP and WebSocket) listen address.
    #[arg(long, env = "SEQUENCER_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// `rpc.max_request_body_bytes`.
    #[arg(long, env = "SEQUENCER_RPC_MAX_REQUEST_BODY_BYTES")]
    pub rpc_max_request_body_bytes: Option<u32>,
    /// `rpc.max_response_body_bytes`.
    #[arg(long, env = "SEQUENCER_RPC_MAX_RESPONSE_BODY_BYTES")]
    pub rpc_max_response_body_bytes: Option<u32>,
    /// `rpc.max_connections`.
    #[arg(long, env = "SEQUENCER_RPC_MAX_CONNECTIONS")]
    pub rpc_max_connections: Option<u32>,
    /// `rpc.max_ws_connections`: most of the connections that may be WebSocket sessions.
    #[arg(long, env = "SEQUENCER_RPC_MAX_WS_CONNECTIONS")]
    pub rpc_max_ws_connections: Option<u32>,
    /// `rpc.max_connections_per_ip`: most connections of one client address.
    #[arg(long, env = "SEQUENCER_RPC_MAX_CONNECTIONS_PER_IP")]
    pub rpc_max_connections_per_ip: Option<u32>,
    /// `rpc.request_header_timeout_ms`: time to send a request's headers (and keep-alive idle time).
    #[arg(long, env = "SEQUENCER_RPC_REQUEST_HEADER_TIMEOUT_MS")]
    pub rpc_request_header_timeout_ms: Option<u64>,
    /// `rpc.request_body_timeout_ms`: time to send a request's body.
    #[arg(long, env = "SEQUENCER_RPC_REQUEST_BODY_TIMEOUT_MS")]
    pub rpc_request_body_timeout_ms: Option<u64>,
    /// `rpc.ws_ping_interval_ms`: interval between WebSocket pings.
    #[arg(long, env = "SEQUENCER_RPC_WS_PING_INTERVAL_MS")]
    pub rpc_ws_ping_interval_ms: Option<u64>,
    /// `rpc.ws_inactive_limit_ms`: a WebSocket session that answered no ping for this long is closed.
    #[arg(long, env = "SEQUENCER_RPC_WS_INACTIVE_LIMIT_MS")]
    pub rpc_ws_inactive_limit_ms: Option<u64>,
    /// `rpc.max_batch_len`.
    #[arg(long, env = "SEQUENCER_RPC_MAX_BATCH_LEN")]
    pub rpc_max_batch_len: Option<u32>,
    /// `rpc.max_subscriptions_per_connection`.
    #[arg(long, env = "SEQUENCER_RPC_MAX_SUBSCRIPTIONS")]
    pub rpc_max_subscriptions: Option<u32>,
    /// `rpc.max_logs_block_range`.
    #[arg(long, env = "SEQUENCER_RPC_MAX_LOGS_BLOCK_RANGE")]
    pub rpc_max_logs_block_range: Option<u64>,
    /// `rpc.max_logs`.
    #[arg(long, env = "SEQUENCER_RPC_MAX_LOGS")]
    pub rpc_max_logs: Option<u32>,
    /// `rpc.call_timeout_ms`: how long one call's execution may run.
    #[arg(long, env = "SEQUENCER_RPC_CALL_TIMEOUT_MS")]
    pub rpc_call_timeout_ms: Option<u64>,
    /// `rpc.cors_origins`: comma-separated origins, or `*`.
    #[arg(long, env = "SEQUENCER_RPC_CORS", value_delimiter = ',')]
    pub rpc_cors: Option<Vec<String>>,
    /// `mempool.max_pending`: most executable transactions pooled.
    #[arg(long, env = "SEQUENCER_MEMPOOL_MAX_PENDING")]
    pub mempool_max_pending: Option<usize>,
    /// `mempool.max_queued`: most non-executable (gapped) transactions pooled.
    #[arg(long, env = "SEQUENCER_MEMPOOL_MAX_QUEUED")]
    pub mempool_max_queued: Option<usize>,
    /// `mempool.max_per_sender`: most pooled transactions of one sender.
    #[arg(long, env = "SEQUENCER_MEMPOOL_MAX_PER_SENDER")]
    pub mempool_max_per_sender: Option<usize>,
    /// `mempool.max_bytes`: most bytes the pool holds.
    #[arg(long, env = "SEQUENCER_MEMPOOL_MAX_BYTES")]
    pub mempool_max_bytes: Option<usize>,
    /// `mempool.max_tx_bytes`: largest transaction accepted.
    #[arg(long, env = "SEQUENCER_MEMPOOL_MAX_TX_BYTES")]
    pub mempool_max_tx_bytes: Option<usize>,
    /// `mempool.min_tip_wei`: smallest priority fee per gas accepted.
    #[arg(long, env = "SEQUENCER_MEMPOOL_MIN_TIP_WEI")]
    pub mempool_min_tip_wei: Option<u64>,
    /// `mempool.price_bump_percent`: fee raise a replacement needs.
    #[arg(long, env = "SEQUENCER_MEMPOOL_PRICE_BUMP_PERCENT")]
    pub mempool_price_bump_percent: Option<u64>,
    /// `mempool.queued_lifetime_ms`: how long queued transactions of an idle sender stay.
    #[arg(long, env = "SEQUENCER_MEMPOOL_QUEUED_LIFETIME_MS")]
    pub mempool_queued_lifetime_ms: Option<u64>,
    /// `mempool.allow_unprotected_txs`: accept transactions signed without a chain id.
    #[arg(long, env = "SEQUENCER_MEMPOOL_ALLOW_UNPROTECTED_TXS")]
    pub mempool_allow_unprotected_txs: Option<bool>,
    /// `metrics.addr`: Prometheus listen address.
    #[arg(long, env = "SEQUENCER_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// `log.filter`: tracing filter directives.
    #[arg(long, env = "SEQUENCER_LOG")]
    pub log_filter: Option<String>,
    /// `log.format`: human or json.
    #[arg(long, env = "SEQUENCER_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

impl NodeArgs {
    /// Writes every flag that was given over `config`.
    pub fn apply(self, config: &mut Config) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *slot = value;
            }
        }
        set(&mut config.chain.role, self.role);
        if self.l1_chain_id.is_some() {
            config.l1.chain_id = self.l1_chain_id;
        }
        if self.l1_rpc_url.is_some() {
            config.l1.rpc_url = self.l1_rpc_url;
        }
        set(&mut config.l1.confirmations, self.l1_confirmations);
        set(&mut config.l1.poll_interval_ms, self.l1_poll_interval_ms);
        if self.l1_bridge_address.is_some() {
            config.l1.bridge_address = self.l1_bridge_address;
        }
        set(&mut config.l1.bridge_deployed_at, self.l1_bridge_deployed_at);
        set(&mut config.l1.settlement, self.l1_settlement);
        if self.l1_relayer_key_file.is_some() {
            config.l1.relayer_key_file = self.l1_relayer_key_file;
        }
        set(&mut config.l1.fork, self.l1_fork);
        set(&mut config.l1.execute_address, self.l1_execute_address);
        set(&mut config.l1.safe_depth, self.l1_safe_depth);
        set(&mut config.l1.finalized_depth, self.l1_finalized_depth);
        set(&mut config.l1.blob_retention_blocks, self.l1_blob_retention_blocks);
        if self.genesis.is_some() {
            config.chain.genesis = self.genesis;
        }
        set(&mut config.chain.block_time_ms, self.block_time_ms);
        if self.gas_limit.is_some() {
            config.chain.gas_limit = self.gas_limit;
        }
        set(&mut config.chain.fee_recipient, self.fee_recipient);
        set(&mut config.chain.extra_data, self.extra_data);
        set(&mut config.database.datadir, self.datadir);
        if self.database_url.is_some() {
            config.database.url = self.database_url;
        }
        set(&mut config.database.max_connections, self.database_max_connections);
        set(&mut config.database.node_cache_mib, self.node_cache_mib);
        set(&mut config.database.state_cache_mib, self.state_cache_mib);
        set(&mut config.database.account_filter_mib, self.account_filter_mib);
        set(&mut config.database.sqlite_writer_cache_mib, self.sqlite_writer_cache_mib);
        set(&mut config.database.sqlite_reader_cache_mib, self.sqlite_reader_cache_mib);
        set(&mut config.rpc.http_addr, self.http_addr);
        set(&mut config.rpc.max_request_body_bytes, self.rpc_max_request_body_bytes);
        set(&mut config.rpc.max_response_body_bytes, self.rpc_max_response_body_bytes);
        set(&mut config.rpc.max_connections, self.rpc_max_connections);
        set(&mut config.rpc.max_ws_connections, self.rpc_max_ws_connections);
        set(&mut config.rpc.max_connections_per_ip, self.rpc_max_connections_per_ip);
        set(&mut config.rpc.request_header_timeout_ms, self.rpc_request_header_timeout_ms);
        set(&mut config.rpc.request_body_timeout_ms, self.rpc_request_body_timeout_ms);
        set(&mut config.rpc.ws_ping_interval_ms, self.rpc_ws_ping_interval_ms);
        set(&mut config.rpc.ws_inactive_limit_ms, self.rpc_ws_inactive_limit_ms);
        set(&mut config.rpc.max_batch_len, self.rpc_max_batch_len);
        set(&mut config.rpc.max_logs_block_range, self.rpc_max_logs_block_range);
        set(&mut config.rpc.max_logs, self.rpc_max_logs);
        set(&mut config.rpc.call_timeout_ms, self.rpc_call_timeout_ms);
        set(&mut config.rpc.max_subscriptions_per_connection, self.rpc_max_subscriptions);
        set(&mut config.rpc.cors_origins, self.rpc_cors);
        set(&mut config.mempool.max_pending, self.mempool_max_pending);
        set(&mut config.mempool.max_queued, self.mempool_max_queued);
        set(&mut config.mempool.max_per_sender, self.mempool_max_per_sender);
        set(&mut config.mempool.max_bytes, self.mempool_max_bytes);
        set(&mut config.mempool.max_tx_bytes, self.mempool_max_tx_bytes);
        set(&mut config.mempool.min_tip_wei, self.mempool_min_tip_wei);
        set(&mut config.mempool.price_bump_percent, self.mempool_price_bump_percent);
        set(&mut config.mempool.queued_lifetime_ms, self.mempool_queued_lifetime_ms);
        set(&mut config.mempool.allow_unprotected_txs, self.mempool_allow_unprotected_txs);
        set(&mut config.metrics.addr, self.metrics_addr);
        set(&mut config.log.filter, self.log_filter);
        set(&mut config.log.format, self.log_format);
    }
}

impl Command {
    /// The validated configuration this command runs with, and whether it is the dev chain.
    pub fn into_config(self) -> Result<(Config, bool), ConfigError> {
        let (mut config, args, dev) = match self {
            Self::Dev(args) => (built_in(DEV_CONFIG, "config/dev.toml")?, args.node, true),
            Self::L1(args) => (built_in(DEV_L1_CONFIG, "config/dev-l1.toml")?, args, true),
            Self::Run { config, args } => (Config::load(&config)?, args, false),
            Self::Deploy(_) => return Err(ConfigError::NotANode),
        };
        args.apply(&mut config);
        config.validate(dev)?;
        Ok((config, dev))
    }
}

/// Parses a configuration built into the binary.
fn built_in(text: &str, path: &str) -> Result<Config, ConfigError> {
    Config::parse(text).map_err(|message| ConfigError::Parse { path: PathBuf::from(path), message })
}

/// The dev configuration, built into the binary so that `sequencer dev` works from anywhere.
pub const DEV_CONFIG: &str = include_str!("../../config/dev.toml");

/// The dev L1's configuration (`sequencer l1`), built into the binary.
pub const DEV_L1_CONFIG: &str = include_str!("../../config/dev-l1.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::try_parse_from([
            "sequencer",
            "dev",
            "--block-time-ms",
            "250",
            "--http-addr",
            "127.0.0.1:18545",
            "--datadir",
            "/tmp/x",
            "--mempool-max-per-sender",
            "64",
        ])
        .expect("parses");
        let (config, dev) = cli.command.into_config().expect("valid");
        assert!(dev);
        assert_eq!(config.chain.block_time_ms, 250);
        assert_eq!(config.rpc.http_addr.port(), 18545);
        assert_eq!(config.database.resolved_url(), "sqlite:///tmp/x/chain.sqlite");
        assert_eq!(config.mempool.max_per_sender, 64);
    }

    #[test]
    fn l1_flags_make_an_l2_follow_an_l1() {
        let cli = Cli::try_parse_from([
            "sequencer",
            "dev",
            "--l1-rpc",
            "http://127.0.0.1:8546",
            "--l1-confirmations",
            "5",
            "--l1-poll-interval-ms",
            "300",
            "--l1-chain-id",
            "900",
        ])
        .expect("parses");
        let (config, _) = cli.command.into_config().expect("valid");
        assert_eq!(config.l1.rpc_url.as_deref(), Some("http://127.0.0.1:8546"));
        assert_eq!(config.l1.confirmations, 5);
        assert_eq!(config.l1.poll_interval_ms, 300);
        assert_eq!(config.l1.chain_id, Some(900));

        let cli = Cli::try_parse_from(["sequencer", "dev", "--l1-rpc", "localhost:8546"]).expect("parses");
        let err = cli.command.into_config().unwrap_err().to_string();
        assert!(err.contains("l1.rpc_url"), "{err}");
    }

    #[test]
    fn bridge_flags_make_an_l2_follow_its_bridge() {
        let bridge = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        let cli = Cli::try_parse_from([
            "sequencer",
            "dev",
            "--l1-rpc",
            "http://127.0.0.1:8546",
            "--l1-bridge-address",
            bridge,
            "--l1-bridge-deployed-at",
            "12",
            "--l1-settlement",
            "optimistic",
        ])
        .expect("parses");
        let (config, _) = cli.command.into_config().expect("valid");
        assert_eq!(config.l1.bridge_address, Some(bridge.parse().expect("an address")));
        assert_eq!(config.l1.bridge_deployed_at, 12);
        assert_eq!(config.l1.settlement, SettlementMode::Optimistic);

        let cli = Cli::try_parse_from(["sequencer", "dev", "--l1-bridge-address", bridge]).expect("parses");
        let err = cli.command.into_config().unwrap_err().to_string();
        assert!(err.contains("l1.bridge_address") && err.contains("l1.rpc_url"), "{err}");
        let refused = Cli::try_parse_from(["sequencer", "dev", "--l1-settlement", "zk"]);
        assert!(refused.unwrap_err().to_string().contains("native or optimistic"));
    }

    #[test]
    fn run_without_genesis_names_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[chain]\nblock_time_ms = 500\n").expect("write");
        let cli = Cli::try_parse_from(["sequencer", "run", "--config", path.to_str().expect("utf8")])
            .expect("parses");
        let err = cli.command.into_config().unwrap_err().to_string();
        assert!(err.contains("chain.genesis"), "{err}");
    }
}
