//! JSON-RPC over HTTP and WebSocket on one port (jsonrpsee), with the limits of a public
//! endpoint: body size, batch length, connections and timeouts ([`connections`]),
//! subscriptions, CORS. Every call is
//! counted and timed per method for Prometheus. Request ids and notifications follow JSON-RPC
//! 2.0 where jsonrpsee does not ([`request_ids`], [`notifications`]).

//!
//! # Where each method is served
//!
//! Every `eth_` method lives in the file (or folder) of its concern, each file one `#[rpc]` trait
//! and its implementation on [`EthRpc`], as reth groups its `eth` helpers:
//!
//! | file | methods |
//! |---|---|
//! | `eth.rs` | `eth_chainId`, `eth_syncing`, `eth_accounts`, `eth_capabilities`; `net_*`, `web3_*`; and [`EthRpc`] itself |
//! | `blocks.rs` | `eth_blockNumber`, `eth_getBlockByNumber`, `eth_getBlockByHash`, `eth_getBlockReceipts`, `eth_getBlockTransactionCountBy{Hash,Number}`, `eth_getUncleCountByBlock{Hash,Number}`, `eth_getUncleByBlock{Hash,Number}AndIndex` |
//! | `transactions.rs` | `eth_sendRawTransaction`, `eth_sendRawTransactionSync` (EIP-7966), `eth_fillTransaction`, `eth_getTransactionByHash`, `eth_getTransactionReceipt`, `eth_getTransactionByBlock{Hash,Number}AndIndex`, `eth_getRawTransactionByHash` |
//! | `state.rs` | `eth_getBalance`, `eth_getTransactionCount`, `eth_getCode`, `eth_getStorageAt`, `eth_getStorageValues`, `eth_getProof` |
//! | `call/` | `eth_call`, `eth_estimateGas`, `eth_createAccessList` (`call/mod.rs`, one file per method's own work); `eth_simulateV1` (`call/simulate.rs`) |
//! | `fees.rs` | `eth_gasPrice`, `eth_maxPriorityFeePerGas`, `eth_feeHistory`, `eth_blobBaseFee`, `eth_baseFee` |
//! | `logs.rs` | `eth_getLogs`, `eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`, `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter` |
//! | `pubsub.rs` | `eth_subscribe`, `eth_unsubscribe` |
//! | `fork_config.rs` | `eth_config` (EIP-7910), `eth_coinbase` |
//! | `txpool.rs` | `txpool_*` |
//! | `rollup.rs` | `rollup_getTrace` |
//! | `status.rs` | `rollup_status` |
//! | `beacon.rs` | not JSON-RPC: the dev L1's blobs through the Beacon API (`GET /eth/v1/beacon/blob_sidecars/{block_id}`, `/eth/v1/beacon/blobs/{block_id}`) |
//!
//! Methods fail with one error type, [`RpcError`] (`error.rs`), which becomes a JSON-RPC error
//! object in one place. Work that blocks runs through `Executions::run` (heavy work, admitted
//! in turn) or `executions::blocking` (light reads below the head).
mod batch;
mod beacon;
mod blocks;
mod call;
mod codes;
mod connections;
mod convert;
mod error;
mod eth;
mod executions;
mod fees;
mod fork_config;
mod head_accounts;
mod logs;
mod metered;
mod notifications;
mod pubsub;
mod request_ids;
mod rollup;
mod state;
mod status;
mod transactions;
mod txpool;
mod withdrawals;

pub use beacon::BeaconApi;
pub use blocks::EthBlocksApiServer;
pub use call::{CallStateError, EthCallApiServer, EthSimulateApiServer, PrecompileMoveError, RPC_GAS_CAP};
pub use error::RpcError;
pub use eth::{BlockTags, CacheBudgets, EthApiServer, EthRpc, NetApiServer, TagDepths, Web3ApiServer};
pub use executions::Executions;
pub use fees::{EthFeesApiServer, MAX_FEE_HISTORY_BLOCKS};
pub use fork_config::{EthForkConfigApiServer, ForkConfigs};
pub use logs::{EthLogsApiServer, LogLimits};
pub use pubsub::EthPubSubApiServer;
pub use rollup::{MAX_TRACE_BLOCKS, RollupApiServer, RollupRpc, TraceAnchor, TraceBindings, TraceResponse};
pub use state::EthStateApiServer;
pub use status::{
    BatcherStatus, BridgeHeadStatus, BridgeStatus, FollowedBridge, FollowedL1, L1Status, L2Status,
    LastBatchStatus, RollupStatus, RollupStatusApiServer, RollupStatusRpc,
};
pub use transactions::{EthTransactionsApiServer, FilledTransaction, Millis};
pub use txpool::{ByNonce, BySender, TxpoolApiServer, TxpoolContent, TxpoolContentFrom, TxpoolStatus};
pub use withdrawals::{
    L1Call, RollupWithdrawalsApiServer, WithdrawalProof, WithdrawalProofRpc, WithdrawalStatus,
};

use crate::config::RpcSection;
use jsonrpsee::{
    Methods, RpcModule,
    core::middleware::RpcServiceBuilder,
    server::{BatchRequestConfig, PingConfig, Server, ServerConfig, ServerHandle, stop_channel},
};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// The JSON-RPC port, bound and not yet served: the node binds it before it touches its
/// database, so that a port in use stops it with nothing written.
#[derive(Debug)]
pub struct RpcListener(TcpListener);

impl RpcListener {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        TcpListener::bind(addr).await.map(Self)
    }

    /// The address bound (the port chosen, for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// Serves `module` on `listener` with the limits of `config` ([`connections`]); it runs until
/// the returned handle is stopped.
pub fn serve(
    listener: RpcListener,
    config: &RpcSection,
    module: RpcModule<()>,
    beacon: Option<BeaconApi>,
) -> ServerHandle {
    let cors = if config.cors_origins.iter().any(|origin| origin == "*") {
        CorsLayer::new().allow_origin(Any)
    } else {
        // `Config::validate` refused any origin that does not parse.
        let origins = config.cors_origins.iter().filter_map(|origin| origin.parse().ok()).collect::<Vec<_>>();
        CorsLayer::new().allow_origin(AllowOrigin::list(origins))
    }
    .allow_methods([http::Method::POST, http::Method::GET, http::Method::OPTIONS])
    .allow_headers(Any);
    let server_config = ServerConfig::builder()
        // The request-id layer holds bodies to the limit; a body it rewrote may be longer.
        .max_request_body_size(
            config.max_request_body_bytes.saturating_add(request_ids::headroom(config.max_batch_len)),
        )
        .max_response_body_size(config.max_response_body_bytes)
        // The accept loop keeps the budget, by the connection; jsonrpsee's own count (of
        // requests under way and WebSocket sessions) stays below it.
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(config.ws_ping_interval())
                .inactive_limit(config.ws_inactive_limit()),
        )
        .build();
    let max_response_bytes = config.max_response_body_bytes as usize;
    let metrics = metered::RpcMetrics::new(module.method_names());
    let executable = notifications::executable(&module);
    let ids = request_ids::RequestIdsLayer {
        max_body_bytes: config.max_request_body_bytes as usize,
        body_timeout: config.request_body_timeout(),
    };
    let services = Server::builder()
        .set_config(server_config)
        .set_http_middleware(
            tower::ServiceBuilder::new().layer(cors).layer(beacon::BeaconLayer(beacon)).layer(ids),
        )
        .set_rpc_middleware(
            RpcServiceBuilder::new()
                .layer_fn(move |service| batch::ConcurrentBatches::new(service, max_response_bytes))
                .layer_fn(move |service| metered::Metered::new(service, metrics.clone()))
                .layer_fn(move |service| {
                    notifications::ExecutedNotifications::new(service, executable.clone())
                }),
        )
        .to_service_builder();
    let methods = Methods::from(module);
    let (stop, handle) = stop_channel();
    let limits = connections::Limits {
        max_connections: config.max_connections,
        max_ws_connections: config.max_ws_connections,
        max_per_ip: config.max_connections_per_ip,
        header_timeout: config.request_header_timeout(),
    };
    let make_service = {
        let stop = stop.clone();
        move || services.clone().build(methods.clone(), stop.clone())
    };
    tokio::spawn(connections::accept(listener.0, limits, make_service, stop));
    handle
}
