//! Errors of the sequencer's components.

use alloy_primitives::B256;
use std::path::PathBuf;

/// Errors of the chain database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported engine.
    #[error("unsupported database url `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The SQLite file's directory could not be created.
    #[error("cannot create data directory {dir}: {source}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be reached.
    #[error("cannot connect to database {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// Why.
        source: sqlx::Error,
    },
    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A read on the calling thread (SQLite's point reads) failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Another process writes this database.
    #[error("database {0} is in use by another node; stop it first (one node writes a database)")]
    InUse(String),
    /// The session that held this node's claim on the database ended: another node could
    /// now write it too, so this one stops.
    #[error("lost the claim on the database ({0}); stopping, since another node could now write it")]
    ClaimLost(String),
    /// The SQLite lock file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    LockFile {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The mempool journal could not make an admitted transaction durable.
    #[error("mempool journal: {0}")]
    Journal(String),
    /// The data directory belongs to another chain.
    #[error(
        "the database belongs to chain id {stored}, but the configured genesis has chain id {configured}; \
         use another data directory or database"
    )]
    ChainIdMismatch {
        /// Chain id recorded in the database.
        stored: u64,
        /// Chain id of the configured genesis.
        configured: u64,
    },
    /// The data directory was made for another genesis.
    #[error(
        "the database was made for genesis block {stored}, but the configured genesis hashes to {configured}; \
         use another data directory or database"
    )]
    GenesisMismatch {
        /// Genesis hash recorded in the database.
        stored: B256,
        /// Hash of the configured genesis block.
        configured: B256,
    },
    /// Data in the database does not decode.
    #[error("database holds corrupt data: {0}")]
    Corrupt(String),
}

/// Errors of loading a genesis file.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not geth genesis JSON.
    #[error("invalid genesis JSON: {0}")]
    Parse(#[from] serde_json::Error),
    /// The genesis asks for something this node does not run.
    #[error("unsupported genesis: {0}")]
    Unsupported(String),
    /// A field of the genesis holds a value the chain cannot run with (it would be truncated,
    /// overflow, or make the EVM refuse an account).
    #[error("invalid genesis {key}: {reason}")]
    Invalid {
        /// The JSON key, e.g. `baseFeePerGas` or `alloc.0x….code`.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// Building the genesis state failed.
    #[error("genesis state: {0}")]
    State(#[from] trace_builder::trie::TrieError),
}

/// Errors that stop block production.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The executor failed on the block as a whole (not on one transaction).
    #[error("executing block {number}: {message}")]
    Execution {
        /// Block number.
        number: u64,
        /// What failed.
        message: String,
    },
    /// Reading the state or updating the trie failed.
    #[error("state: {0}")]
    State(String),
    /// Reading the state for a block's transactions failed before anything was sealed: the
    /// block is abandoned and its transactions stay pooled.
    #[error("reading the state for block {number}: {message}")]
    StateRead {
        /// Block number.
        number: u64,
        /// What failed.
        message: String,
    },
    /// A transaction failed for a reason that is not its own (the state could not be read,
    /// revm failed): the block is abandoned and the transaction stays pooled.
    #[error("building block {number}: {source}")]
    Transaction {
        /// Block number.
        number: u64,
        /// The failure.
        source: trace_builder::error::TransactionError,
    },
    /// Committing the block failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The background commit of a block did not finish (its task panicked or was cancelled).
    #[error("committing a block: {0}")]
    Commit(String),
}

impl BuildError {
    /// The failure happened before the block was sealed and left nothing behind: the producer
    /// may try again at the next interval. Every other failure stops the node.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::StateRead { .. } | Self::Transaction { .. })
    }
}

/// Errors of following the L1 ([`crate::l1_follower`]) and its bridge ([`crate::bridge_follower`]).
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The L1 is another chain than `l1.chain_id` says: anchoring to it would name blocks no
    /// bridge on the intended L1 can find.
    #[error(
        "the L1 at {url} has chain id {actual}, but l1.chain_id is {expected}; \
         point l1.rpc_url at the intended L1 or correct l1.chain_id"
    )]
    ChainIdMismatch {
        /// The L1 endpoint, without its path or credentials.
        url: String,
        /// `l1.chain_id`.
        expected: u64,
        /// What the L1 answered to `eth_chainId`.
        actual: u64,
    },
    /// A request to the L1 failed: it is down, unreachable or answered an error.
    #[error("L1 {url}: {method} failed: {message}")]
    Request {
        /// The L1 endpoint, without its path or credentials.
        url: String,
        /// The JSON-RPC method.
        method: &'static str,
        /// Why.
        message: String,
    },
    /// A request to the L1 got no answer in time.
    #[error("L1 {url}: {method} got no answer within {timeout:?}")]
    Timeout {
        /// The L1 endpoint, without its path or credentials.
        url: String,
        /// The JSON-RPC method.
        method: &'static str,
        /// How long the follower waited.
        timeout: std::time::Duration,
    },
    /// The L1 answered no block for a number at or below the head it reported (a load
    /// balancer over nodes at different heights).
    #[error("L1 {url} has no block {number} below its head")]
    MissingBlock {
        /// The L1 endpoint, without its path or credentials.
        url: String,
        /// The block number asked for.
        number: u64,
    },
    /// No contract lives at `l1.bridge_address` on the L1, at a block after the one it was
    /// deployed in.
    #[error(
        "no contract at l1.bridge_address {address} on the L1 at {url} (block {block}); \
         point it at the bridge `sequencer deploy` printed"
    )]
    NoBridge {
        /// The L1 endpoint, without its path or credentials.
        url: String,
        /// `l1.bridge_address`.
        address: alloy_primitives::Address,
        /// The L1 block read.
        block: u64,
    },
    /// The bridge settles another chain than this node's.
    #[error("the bridge at {address} settles chain {actual}, but this chain's id is {expected}")]
    BridgeChainId {
        /// `l1.bridge_address`.
        address: alloy_primitives::Address,
        /// This chain's id, from its genesis.
        expected: u64,
        /// The bridge's `chainId()`.
        actual: u64,
    },
    /// The bridge settles in the other mode than `l1.settlement` says.
    #[error("the bridge at {address} settles in {actual} mode, but l1.settlement is {configured}")]
    BridgeMode {
        /// `l1.bridge_address`.
        address: alloy_primitives::Address,
        /// `l1.settlement`.
        configured: batcher::bridge::SettlementMode,
        /// The bridge's `mode()`, or what it answered if it is no mode.
        actual: String,
    },
}

impl L1Error {
    /// The failure may pass (the L1 is down, slow or behind): the follower keeps the last
    /// anchor (the bridge follower, what it last read) and asks again at the next interval. Any
    /// other failure, an L1 or a bridge other than the configuration says, stops the node.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            Self::ChainIdMismatch { .. }
                | Self::NoBridge { .. }
                | Self::BridgeChainId { .. }
                | Self::BridgeMode { .. }
        )
    }
}

/// Errors that stop the node from starting or keep it from running.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The genesis could not be loaded.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The database could not be opened or does not match the chain.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind {
        /// Which endpoint.
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics recorder could not be installed.
    #[error("metrics: {0}")]
    Metrics(String),
    /// Block production stopped.
    #[error("block production stopped: {0}")]
    Build(#[from] BuildError),
    /// The L1 cannot be followed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// A task of the node died.
    #[error("node task failed: {0}")]
    Task(String),
}
