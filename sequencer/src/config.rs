//! The node's configuration: one serde tree, loaded from TOML, every key overridable by a flag
//! and an environment variable (see [`crate::cli`]). Every default lives in the `Default` impls
//! below and nowhere else; [`Config::validate`] runs once at start and names the bad key.

use crate::mempool::PoolConfig;
use alloy_primitives::Address;
pub use batcher::bridge::SettlementMode;
use revm::primitives::hardfork::SpecId;
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS;

/// The whole configuration of a sequencer node.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Chain parameters: role, genesis, block production.
    pub chain: ChainSection,
    /// The L1: for an L2 node, the L1 it follows and anchors its blocks to; for the L1 role
    /// (`chain.role = "l1"`), its fork, EXECUTE, safe and finalized depths, blob retention.
    pub l1: L1Section,
    /// Where the chain is stored.
    pub database: DatabaseSection,
    /// The JSON-RPC endpoint.
    pub rpc: RpcSection,
    /// Limits and prices of the transaction pool.
    pub mempool: PoolConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsSection,
    /// Logging.
    pub log: LogSection,
}

/// `[chain]`: what chain this node produces.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainSection {
    /// Which chain the node runs: the native rollup's L2, or a dev L1 with EXECUTE.
    pub role: ChainRole,
    /// Path of the genesis file (geth genesis JSON). `None` means the built-in dev genesis,
    /// which only `sequencer dev` and `sequencer l1` accept.
    pub genesis: Option<PathBuf>,
    /// Interval between blocks, in milliseconds.
    pub block_time_ms: u64,
    /// Gas limit the sequencer steers blocks towards (by at most 1/1024 of the parent's per
    /// block, as L1 rules allow). `None` keeps the genesis gas limit.
    pub gas_limit: Option<u64>,
    /// Recipient of priority fees (block `coinbase`).
    pub fee_recipient: Address,
    /// Extra data written into every block header (at most 32 bytes).
    pub extra_data: String,
}

impl Default for ChainSection {
    fn default() -> Self {
        Self {
            role: ChainRole::L2,
            genesis: None,
            block_time_ms: 1_000,
            gas_limit: None,
            fee_recipient: Address::ZERO,
            extra_data: String::new(),
        }
    }
}

impl ChainSection {
    /// The block interval.
    pub fn block_time(&self) -> Duration {
        Duration::from_millis(self.block_time_ms)
    }
}

/// The chain a node runs (docs/architecture.md, "The two roles of the node").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ChainRole {
    /// The native rollup's L2: stock L1 rules without blob transactions, stock precompiles.
    #[default]
    L2,
    /// A dev L1: blob transactions and their blob API, and EXECUTE registered.
    L1,
}

/// The L1 forks the dev L1 runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum L1Fork {
    /// Prague: blob transactions carry EIP-4844 blob proofs.
    Prague,
    /// Osaka: blob transactions carry EIP-7594 cell proofs.
    #[default]
    Osaka,
}

impl L1Fork {
    /// The fork's revm spec.
    pub fn spec(self) -> SpecId {
        match self {
            Self::Prague => SpecId::PRAGUE,
            Self::Osaka => SpecId::OSAKA,
        }
    }
}

/// `[l1]`: the L1 an L2 node follows (`rpc_url`, `confirmations`, `poll_interval_ms`) and the
/// bridge it settles through there (`bridge_address`, `bridge_deployed_at`, `settlement`: the
/// section `sequencer deploy` writes), or the dev L1 this node is (`chain.role = "l1"`, or
/// `sequencer l1`: the other keys).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct L1Section {
    /// The L1's chain id. The L1 role: the chain id of the built-in dev L1 genesis (a genesis
    /// file names its own); unset, [`DEV_L1_CHAIN_ID`]. An L2 node following an L1: the chain
    /// id the L1 must answer to `eth_chainId`; unset, it is not checked.
    pub chain_id: Option<u64>,
    /// An L2 node: the L1's JSON-RPC endpoint over HTTP(S). The node follows it and anchors
    /// every new block to its newest confirmed block. `None`: no L1, blocks are not anchored
    /// and nothing settles.
    pub rpc_url: Option<String>,
    /// An L2 node: how many L1 blocks must follow a block before the L2 anchors to it (the
    /// anchor is the L1 head minus this many).
    pub confirmations: u64,
    /// An L2 node: interval between two reads of the L1 head, in milliseconds.
    pub poll_interval_ms: u64,
    /// An L2 node: the bridge contract on the L1 that settles this chain's batches. Set, the
    /// node follows it: `safe` and `finalized` are the blocks it settled (docs/anchoring.md,
    /// "Settlement"). `None`: `safe` and `finalized` are the head.
    pub bridge_address: Option<Address>,
    /// An L2 node: the L1 block the bridge was deployed in, where its events start.
    pub bridge_deployed_at: u64,
    /// An L2 node: how the bridge settles batches; it must be the bridge's own mode.
    pub settlement: SettlementMode,
    /// An L2 node following a bridge: a file holding the private key (hex) of the L2 account
    /// that delivers the bridge's messages (deposits) on the L2 (docs/messaging.md). `None`:
    /// the node delivers none; anyone else can.
    pub relayer_key_file: Option<PathBuf>,
    /// The fork whose rules every block runs under.
    pub fork: L1Fork,
    /// Where EXECUTE lives.
    pub execute_address: Address,
    /// `safe` is this many blocks behind the head (a consensus client's justified checkpoint
    /// is about an epoch, 32 slots, behind; a dev chain need not wait that long).
    pub safe_depth: u64,
    /// `finalized` is this many blocks behind the head (about two epochs on mainnet).
    pub finalized_depth: u64,
    /// How many blocks the blobs of a block are kept and served for (a consensus client keeps
    /// 4,096 epochs, about 18 days).
    pub blob_retention_blocks: u64,
}

impl Default for L1Section {
    fn default() -> Self {
        Self {
            chain_id: None,
            rpc_url: None,
            confirmations: 2,
            poll_interval_ms: 1_000,
            bridge_address: None,
            bridge_deployed_at: 0,
            settlement: SettlementMode::Native,
            relayer_key_file: None,
            fork: L1Fork::Osaka,
            execute_address: DEFAULT_EXECUTE_ADDRESS,
            safe_depth: 8,
            finalized_depth: 16,
            blob_retention_blocks: 43_200,
        }
    }
}

impl L1Section {
    /// The chain id of the dev L1 this node runs in the L1 role: `chain_id`, or
    /// [`DEV_L1_CHAIN_ID`].
    pub fn dev_chain_id(&self) -> u64 {
        self.chain_id.unwrap_or(DEV_L1_CHAIN_ID)
    }

    /// [`Self::poll_interval_ms`] as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// The L1 endpoint an L2 node follows, parsed: `None` when `rpc_url` is unset.
    pub fn rpc_url(&self) -> Result<Option<url::Url>, ConfigError> {
        let Some(text) = &self.rpc_url else { return Ok(None) };
        let invalid = |reason: String| ConfigError::Invalid { key: "l1.rpc_url", reason };
        let url = url::Url::parse(text).map_err(|e| invalid(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("`{}` is not http:// or https://", url.scheme())));
        }
        Ok(Some(url))
    }
}

/// Chain id of the built-in dev L1 genesis when `l1.chain_id` is unset.
pub const DEV_L1_CHAIN_ID: u64 = 900;

/// `[database]`: the store.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// Data directory; the embedded SQLite database lives in it unless `url` says otherwise.
    pub datadir: PathBuf,
    /// Database URL: `sqlite://PATH` or `postgres://...`. `None` means SQLite in `datadir`.
    pub url: Option<String>,
    /// Largest number of database connections for RPC reads.
    pub max_connections: u32,
    /// Memory the trie-node cache may use, in MiB.
    pub node_cache_mib: u64,
    /// Memory the block producer's latest-state cache may use, in MiB.
    pub state_cache_mib: u64,
    /// Memory the filter of absent accounts may use, in MiB: reads of accounts the state does
    /// not hold skip the database. Sized at start for four times the accounts then held (10
    /// bits each); past that, more reads of absent accounts reach the database.
    pub account_filter_mib: u64,
    /// Memory the RPC's cache of accounts at the head may use, in MiB.
    pub rpc_account_cache_mib: u64,
    /// Memory the RPC's cache of analysed contract codes (for calls) may use, in MiB.
    pub rpc_code_cache_mib: u64,
    /// SQLite only: page cache of the connection that commits blocks, in MiB.
    pub sqlite_writer_cache_mib: u32,
    /// SQLite only: page cache of each reading connection, in MiB: `max_connections` of them,
    /// and up to 8 more for single reads of the latest state.
    pub sqlite_reader_cache_mib: u32,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            datadir: PathBuf::from("data"),
            url: None,
            max_connections: 8,
            node_cache_mib: 1024,
            state_cache_mib: 512,
            account_filter_mib: 64,
            rpc_account_cache_mib: 16,
            rpc_code_cache_mib: 64,
            sqlite_writer_cache_mib: 1024,
            sqlite_reader_cache_mib: 64,
        }
    }
}

impl DatabaseSection {
    /// The URL to connect to: `url`, or the SQLite file in `datadir`.
    pub fn resolved_url(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.datadir.join("chain.sqlite").display()),
        }
    }
}

/// `[rpc]`: JSON-RPC over HTTP and WebSocket on one port.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcSection {
    /// Address to listen on.
    pub http_addr: SocketAddr,
    /// Largest request body, in bytes.
    pub max_request_body_bytes: u32,
    /// Largest response body, in bytes.
    pub max_response_body_bytes: u32,
    /// Largest number of open connections, HTTP and WebSocket alike, each counted from accept
    /// until its socket closes. A connection past it is closed at once.
    pub max_connections: u32,
    /// Most of those that may be WebSocket sessions; the rest are kept for HTTP. Must be below
    /// `max_connections`.
    pub max_ws_connections: u32,
    /// Most connections one client address may hold. Behind a reverse proxy every client has
    /// the proxy's address: set it to `max_connections` there.
    pub max_connections_per_ip: u32,
    /// Time a client has to send a request's headers, counted from when the connection is
    /// ready for its next request: a connection that sends nothing, or an idle keep-alive
    /// connection, is closed after it.
    pub request_header_timeout_ms: u64,
    /// Time a client has to send a request's whole body once its headers are in; past it the
    /// request is answered 408 and the connection closed.
    pub request_body_timeout_ms: u64,
    /// Interval between the pings the node sends on each WebSocket session.
    pub ws_ping_interval_ms: u64,
    /// A WebSocket session that answered no ping for this long is closed.
    pub ws_inactive_limit_ms: u64,
    /// Largest number of requests in one JSON-RPC batch.
    pub max_batch_len: u32,
    /// Largest number of subscriptions per WebSocket connection.
    pub max_subscriptions_per_connection: u32,
    /// Origins allowed by CORS; `["*"]` allows any.
    pub cors_origins: Vec<String>,
    /// Most blocks one `eth_getLogs` (or log filter poll) may span.
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` (or log filter poll) may return.
    pub max_logs: u32,
    /// How long one call's execution (`eth_call`, `eth_estimateGas`, `eth_createAccessList`,
    /// `eth_simulateV1`) may run on a blocking thread, in milliseconds (geth's
    /// `--rpc.evmtimeout`).
    pub call_timeout_ms: u64,
}

impl Default for RpcSection {
    fn default() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_request_body_bytes: 10 * 1024 * 1024,
            max_response_body_bytes: 100 * 1024 * 1024,
            max_connections: 500,
            max_ws_connections: 400,
            max_connections_per_ip: 100,
            request_header_timeout_ms: 30_000,
            request_body_timeout_ms: 30_000,
            ws_ping_interval_ms: 30_000,
            ws_inactive_limit_ms: 60_000,
            max_batch_len: 1_000,
            max_subscriptions_per_connection: 1_024,
            cors_origins: vec!["*".to_owned()],
            max_logs_block_range: 10_000,
            max_logs: 10_000,
            call_timeout_ms: 5_000,
        }
    }
}

impl RpcSection {
    /// [`RpcSection::call_timeout_ms`] as a duration.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    /// [`Self::request_header_timeout_ms`] as a duration.
    pub fn request_header_timeout(&self) -> Duration {
        Duration::from_millis(self.request_header_timeout_ms)
    }

    /// [`Self::request_body_timeout_ms`] as a duration.
    pub fn request_body_timeout(&self) -> Duration {
        Duration::from_millis(self.request_body_timeout_ms)
    }

    /// [`Self::ws_ping_interval_ms`] as a duration.
    pub fn ws_ping_interval(&self) -> Duration {
        Duration::from_millis(self.ws_ping_interval_ms)
    }

    /// [`Self::ws_inactive_limit_ms`] as a duration.
    pub fn ws_inactive_limit(&self) -> Duration {
        Duration::from_millis(self.ws_inactive_limit_ms)
    }
}

/// `[metrics]`: Prometheus exposition.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Address serving `/metrics`.
    pub addr: SocketAddr,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self { addr: SocketAddr::from(([127, 0, 0, 1], 9100)) }
    }
}

/// `[log]`: logging.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `tracing` filter directives, e.g. `info,sequencer=debug`.
    pub filter: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogSection {
    fn default() -> Self {
        Self { filter: "info".to_owned(), format: LogFormat::Human }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// A configuration that cannot be used, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command runs no node (`sequencer deploy`).
    #[error("this command runs no node")]
    NotANode,
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (unknown key, wrong type...).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the key and line.
        message: String,
    },
    /// A key has a value the node cannot run with.
    #[error("invalid config key `{key}`: {reason}")]
    Invalid {
        /// Dotted key, e.g. `chain.block_time_ms`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A key the node cannot run without is absent.
    #[error("missing config key `{key}`: {reason}")]
    Missing {
        /// Dotted key.
        key: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
}

impl Config {
    /// Reads a TOML file. Keys it does not set keep their defaults; unknown keys are errors.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse { path: path.to_owned(), message })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks every key once, at start. `dev` allows the built-in dev genesis.
    pub fn validate(&self, dev: bool) -> Result<(), ConfigError> {
        if self.l1.chain_id == Some(0) {
            return Err(ConfigError::Invalid { key: "l1.chain_id", reason: "must be at least 1".to_owned() });
        }
        self.validate_l1_follower()?;
        if self.l1.finalized_depth < self.l1.safe_depth {
            return Err(ConfigError::Invalid {
                key: "l1.finalized_depth",
                reason: format!("must be at least l1.safe_depth ({})", self.l1.safe_depth),
            });
        }
        if self.l1.blob_retention_blocks == 0 {
            return Err(ConfigError::Invalid {
                key: "l1.blob_retention_blocks",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.chain.genesis.is_none() && !dev {
            return Err(ConfigError::Missing {
                key: "chain.genesis",
                reason: "a production node needs its genesis file (geth genesis JSON)",
            });
        }
        if self.chain.block_time_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "chain.block_time_ms",
                reason: "must be at least 1".to_owned(),
            });
        }
        if let Some(gas_limit) = self.chain.gas_limit
            && gas_limit < MIN_GAS_LIMIT
        {
            return Err(ConfigError::Invalid {
                key: "chain.gas_limit",
                reason: format!("must be at least {MIN_GAS_LIMIT} (the L1 minimum)"),
            });
        }
        if self.chain.extra_data.len() > 32 {
            return Err(ConfigError::Invalid {
                key: "chain.extra_data",
                reason: format!("{} bytes, at most 32 allowed", self.chain.extra_data.len()),
            });
        }
        let url = self.database.resolved_url();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                key: "database.url",
                reason: format!("`{url}` is neither sqlite:// nor postgres://"),
            });
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "database.max_connections",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.rpc.max_request_body_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "rpc.max_request_body_bytes",
                reason: "must be at least 1024".to_owned(),
            });
        }
        if self.rpc.max_logs_block_range == 0 || self.rpc.max_logs == 0 {
            return Err(ConfigError::Invalid {
                key: if self.rpc.max_logs == 0 { "rpc.max_logs" } else { "rpc.max_logs_block_range" },
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.rpc.call_timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "rpc.call_timeout_ms",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.rpc.max_batch_len == 0 {
            return Err(ConfigError::Invalid {
                key: "rpc.max_batch_len",
                reason: "must be at least 1".to_owned(),
            });
        }
        self.validate_connections()?;
        self.validate_mempool()?;
        if self.rpc.http_addr == self.metrics.addr && self.rpc.http_addr.port() != 0 {
            return Err(ConfigError::Invalid {
                key: "metrics.addr",
                reason: format!("same address as rpc.http_addr ({})", self.rpc.http_addr),
            });
        }
        Ok(())
    }
}

impl Config {
    fn validate_l1_follower(&self) -> Result<(), ConfigError> {
        if self.l1.rpc_url()?.is_some() && self.chain.role == ChainRole::L1 {
            return Err(ConfigError::Invalid {
                key: "l1.rpc_url",
                reason: "only an L2 node (chain.role = \"l2\") follows an L1".to_owned(),
            });
        }
        if self.l1.confirmations >= HISTORY_SERVE_WINDOW {
            return Err(ConfigError::Invalid {
                key: "l1.confirmations",
                reason: format!(
                    "must be below {HISTORY_SERVE_WINDOW}: a bridge reads anchors from EIP-2935's history, \
                     which keeps the last {HISTORY_SERVE_WINDOW} block hashes"
                ),
            });
        }
        if self.l1.poll_interval_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "l1.poll_interval_ms",
                reason: "must be at least 1".to_owned(),
            });
        }
        if let Some(bridge) = self.l1.bridge_address {
            if bridge.is_zero() {
                return Err(ConfigError::Invalid {
                    key: "l1.bridge_address",
                    reason: "the zero address holds no bridge".to_owned(),
                });
            }
            if self.l1.rpc_url.is_none() {
                return Err(ConfigError::Invalid {
                    key: "l1.bridge_address",
                    reason: "needs l1.rpc_url: the bridge is read on that L1".to_owned(),
                });
            }
        }
        if self.l1.relayer_key_file.is_some() && self.l1.bridge_address.is_none() {
            return Err(ConfigError::Invalid {
                key: "l1.relayer_key_file",
                reason: "needs l1.bridge_address: the relayer delivers that bridge's messages".to_owned(),
            });
        }
        Ok(())
    }

    fn validate_connections(&self) -> Result<(), ConfigError> {
        let rpc = &self.rpc;
        let at_least_one = [
            ("rpc.max_ws_connections", rpc.max_ws_connections.into()),
            ("rpc.max_connections_per_ip", rpc.max_connections_per_ip.into()),
            ("rpc.request_header_timeout_ms", rpc.request_header_timeout_ms),
            ("rpc.request_body_timeout_ms", rpc.request_body_timeout_ms),
            ("rpc.ws_ping_interval_ms", rpc.ws_ping_interval_ms),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::Invalid { key, reason: "must be at least 1".to_owned() });
            }
        }
        if rpc.max_ws_connections >= rpc.max_connections {
            return Err(ConfigError::Invalid {
                key: "rpc.max_ws_connections",
                reason: format!(
                    "must be below rpc.max_connections ({}): the rest are kept for HTTP",
                    rpc.max_connections
                ),
            });
        }
        if rpc.ws_inactive_limit_ms <= rpc.ws_ping_interval_ms {
            return Err(ConfigError::Invalid {
                key: "rpc.ws_inactive_limit_ms",
                reason: format!(
                    "must be above rpc.ws_ping_interval_ms ({}): a client needs time to answer a ping",
                    rpc.ws_ping_interval_ms
                ),
            });
        }
        for origin in &rpc.cors_origins {
            if origin != "*" && origin.parse::<http::HeaderValue>().is_err() {
                return Err(ConfigError::Invalid {
                    key: "rpc.cors_origins",
                    reason: format!("`{origin}` is not a valid origin (an HTTP header value)"),
                });
            }
        }
        Ok(())
    }

    fn validate_mempool(&self) -> Result<(), ConfigError> {
        let pool = &self.mempool;
        let at_least_one = [
            ("mempool.max_pending", pool.max_pending),
            ("mempool.max_queued", pool.max_queued),
            ("mempool.max_per_sender", pool.max_per_sender),
            ("mempool.price_bump_percent", pool.price_bump_percent as usize),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::Invalid { key, reason: "must be at least 1".to_owned() });
            }
        }
        if pool.max_tx_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "mempool.max_tx_bytes",
                reason: "must be at least 1024".to_owned(),
            });
        }
        if pool.max_bytes < pool.max_tx_bytes {
            return Err(ConfigError::Invalid {
                key: "mempool.max_bytes",
                reason: format!("must be at least mempool.max_tx_bytes ({})", pool.max_tx_bytes),
            });
        }
        Ok(())
    }
}

/// How many recent block hashes EIP-2935's history contract serves on L1.
const HISTORY_SERVE_WINDOW: u64 = 8_191;

/// The smallest block gas limit L1 rules allow.
pub const MIN_GAS_LIMIT: u64 = 5_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_validates() {
        let text = include_str!("../../config/sequencer.example.toml");
        let config = Config::parse(text).expect("example parses");
        config.validate(false).expect("example validates");
    }

    #[test]
    fn dev_config_parses() {
        let config = Config::parse(include_str!("../../config/dev.toml")).expect("dev parses");
        config.validate(true).expect("dev validates");
    }

    #[test]
    fn dev_l1_config_parses() {
        let config = Config::parse(include_str!("../../config/dev-l1.toml")).expect("dev-l1 parses");
        config.validate(true).expect("dev-l1 validates");
        assert_eq!(config.chain.role, ChainRole::L1);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[chain]\nblock_time = 5\n").unwrap_err();
        assert!(err.contains("block_time"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Config::parse("[rpc]\nhttp_addr = 5\n").unwrap_err();
        assert!(err.contains("http_addr"), "{err}");
    }

    #[test]
    fn missing_genesis_fails_outside_dev() {
        let err = Config::default().validate(false).unwrap_err();
        assert!(err.to_string().contains("chain.genesis"), "{err}");
        Config::default().validate(true).expect("dev allows the built-in genesis");
    }

    #[test]
    fn bad_values_are_named() {
        let mut config = Config::default();
        config.chain.block_time_ms = 0;
        assert!(config.validate(true).unwrap_err().to_string().contains("chain.block_time_ms"));
        let mut config = Config::default();
        config.database.url = Some("mysql://x".into());
        assert!(config.validate(true).unwrap_err().to_string().contains("database.url"));
        let mut config = Config::default();
        config.mempool.max_per_sender = 0;
        assert!(config.validate(true).unwrap_err().to_string().contains("mempool.max_per_sender"));
        let mut config = Config::default();
        config.mempool.max_bytes = 1024;
        assert!(config.validate(true).unwrap_err().to_string().contains("mempool.max_bytes"));
        let mut config = Config::default();
        config.rpc.max_ws_connections = config.rpc.max_connections;
        assert!(config.validate(true).unwrap_err().to_string().contains("rpc.max_ws_connections"));
        let mut config = Config::default();
        config.rpc.ws_inactive_limit_ms = config.rpc.ws_ping_interval_ms;
        assert!(config.validate(true).unwrap_err().to_string().contains("rpc.ws_inactive_limit_ms"));
    }

    #[test]
    fn an_l2_follows_the_l1_its_section_names() {
        let text = r#"
            [l1]
            rpc_url = "http://127.0.0.1:8546"
            confirmations = 4
            poll_interval_ms = 250
            chain_id = 900
        "#;
        let config = Config::parse(text).expect("parses");
        config.validate(true).expect("validates");
        assert_eq!(
            config.l1.rpc_url().expect("valid").map(String::from),
            Some("http://127.0.0.1:8546/".into())
        );
        assert_eq!(config.l1.confirmations, 4);
        assert_eq!(config.l1.poll_interval(), Duration::from_millis(250));
        assert_eq!(config.l1.chain_id, Some(900));
        // Unset: no L1, confirmations and the interval keep their defaults, the chain id is
        // not checked, and the dev L1 runs with chain id 900.
        let config = Config::default();
        assert_eq!(config.l1.rpc_url().expect("valid"), None);
        assert_eq!((config.l1.confirmations, config.l1.poll_interval_ms), (2, 1_000));
        assert_eq!(config.l1.chain_id, None);
        assert_eq!(config.l1.dev_chain_id(), DEV_L1_CHAIN_ID);
    }

    #[test]
    fn bad_l1_follower_keys_are_named() {
        let invalid = |edit: &dyn Fn(&mut Config)| {
            let mut config = Config::default();
            edit(&mut config);
            config.validate(true).unwrap_err().to_string()
        };
        let err = invalid(&|c| c.l1.rpc_url = Some("127.0.0.1:8546".into()));
        assert!(err.contains("l1.rpc_url"), "{err}");
        let err = invalid(&|c| c.l1.rpc_url = Some("not a url".into()));
        assert!(err.contains("l1.rpc_url") && err.contains("not a URL"), "{err}");
        let err = invalid(&|c| c.l1.rpc_url = Some("ws://127.0.0.1:8546".into()));
        assert!(err.contains("l1.rpc_url") && err.contains("http"), "{err}");
        let err = invalid(&|c| {
            c.chain.role = ChainRole::L1;
            c.l1.rpc_url = Some("http://127.0.0.1:8546".into());
        });
        assert!(err.contains("l1.rpc_url") && err.contains("only an L2"), "{err}");
        let err = invalid(&|c| c.l1.poll_interval_ms = 0);
        assert!(err.contains("l1.poll_interval_ms"), "{err}");
        let err = invalid(&|c| c.l1.confirmations = 8_191);
        assert!(err.contains("l1.confirmations") && err.contains("EIP-2935"), "{err}");
        let err = invalid(&|c| c.l1.chain_id = Some(0));
        assert!(err.contains("l1.chain_id"), "{err}");
        let err = Config::parse("[l1]\nconfirmations = -1\n").unwrap_err();
        assert!(err.contains("confirmations"), "{err}");
    }

    #[test]
    fn an_l2_follows_the_bridge_its_section_names() {
        let text = r#"
            [l1]
            rpc_url = "http://127.0.0.1:8546"
            bridge_address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            bridge_deployed_at = 7
            settlement = "optimistic"
        "#;
        let config = Config::parse(text).expect("parses");
        config.validate(true).expect("validates");
        assert_eq!(
            config.l1.bridge_address,
            Some("0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().expect("an address"))
        );
        assert_eq!(config.l1.bridge_deployed_at, 7);
        assert_eq!(config.l1.settlement, SettlementMode::Optimistic);
        // Unset: no bridge, its events from block 0, native mode.
        let config = Config::default();
        assert_eq!(
            (config.l1.bridge_address, config.l1.bridge_deployed_at, config.l1.settlement),
            (None, 0, SettlementMode::Native)
        );
    }

    #[test]
    fn bad_bridge_keys_are_named() {
        let bridge = Some(Address::repeat_byte(0xb1));
        let mut config = Config::default();
        config.l1.bridge_address = bridge;
        let err = config.validate(true).unwrap_err().to_string();
        assert!(err.contains("l1.bridge_address") && err.contains("l1.rpc_url"), "{err}");
        config.l1.rpc_url = Some("http://127.0.0.1:8546".into());
        config.validate(true).expect("with an L1, a bridge is followed");
        config.l1.bridge_address = Some(Address::ZERO);
        let err = config.validate(true).unwrap_err().to_string();
        assert!(err.contains("l1.bridge_address"), "{err}");
        let err = Config::parse("[l1]\nsettlement = \"zk\"\n").unwrap_err();
        assert!(err.contains("settlement"), "{err}");
        let err = Config::parse("[l1]\nbridge_address = \"0x12\"\n").unwrap_err();
        assert!(err.contains("bridge_address"), "{err}");
    }

    #[test]
    fn invalid_cors_origin_is_refused() {
        let mut config = Config::default();
        config.rpc.cors_origins = vec!["https://ok.example".into(), "https://bad\norigin".into()];
        let err = config.validate(true).unwrap_err().to_string();
        assert!(err.contains("rpc.cors_origins") && err.contains("bad"), "{err}");
    }
}
