//! JSON-RPC over HTTP and WebSocket on one port (jsonrpsee), with the limits of a public
//! endpoint: body size, batch length, connections, subscriptions, CORS. Every call is
//! counted and timed per method for Prometheus. Request ids and notifications follow JSON-RPC
//! 2.0 where jsonrpsee does not ([`request_ids`], [`notifications`]).

mod batch;
mod blocks;
mod call;
mod codes;
mod convert;
mod eth;
mod executions;
mod fees;
mod fill;
mod fork_config;
mod logs;
mod metered;
mod notifications;
mod pubsub;
mod request_ids;
mod rollup;
mod send_sync;
mod simulate;
mod txpool;

pub use blocks::EthBlocksApiServer;
pub use call::{EthCallApiServer, RPC_GAS_CAP};
pub use eth::{EthApiServer, EthRpc, NetApiServer, Web3ApiServer};
pub use executions::Executions;
pub use fees::{EthFeesApiServer, MAX_FEE_HISTORY_BLOCKS};
pub use fill::{EthFillApiServer, FilledTransaction};
pub use fork_config::{EthForkConfigApiServer, ForkConfigs};
pub use logs::{EthLogsApiServer, LogLimits};
pub use pubsub::EthPubSubApiServer;
pub use rollup::{MAX_TRACE_BLOCKS, RollupApiServer, RollupRpc, TraceResponse};
pub use send_sync::{EthSendSyncApiServer, Millis};
pub use simulate::EthSimulateApiServer;
pub use txpool::{ByNonce, BySender, TxpoolApiServer, TxpoolContent, TxpoolContentFrom, TxpoolStatus};

use crate::config::RpcSection;
use jsonrpsee::{
    RpcModule,
    core::middleware::RpcServiceBuilder,
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle},
};
use std::net::SocketAddr;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// Starts the server; it runs until the returned handle is stopped.
pub async fn serve(
    config: &RpcSection,
    module: RpcModule<()>,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let cors = if config.cors_origins.iter().any(|origin| origin == "*") {
        CorsLayer::new().allow_origin(Any)
    } else {
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
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .build();
    let max_response_bytes = config.max_response_body_bytes as usize;
    let metrics = metered::RpcMetrics::new(module.method_names());
    let executable = notifications::executable(&module);
    let ids = request_ids::RequestIdsLayer { max_body_bytes: config.max_request_body_bytes as usize };
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(cors).layer(ids))
        .set_rpc_middleware(
            RpcServiceBuilder::new()
                .layer_fn(move |service| batch::ConcurrentBatches::new(service, max_response_bytes))
                .layer_fn(move |service| metered::Metered::new(service, metrics.clone()))
                .layer_fn(move |service| {
                    notifications::ExecutedNotifications::new(service, executable.clone())
                }),
        )
        .build(config.http_addr)
        .await?;
    let addr = server.local_addr()?;
    Ok((addr, server.start(module)))
}
