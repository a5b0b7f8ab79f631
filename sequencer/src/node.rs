//! Assembles the node from its components and runs it: store, genesis, block producer, L1
//! and bridge followers, JSON-RPC, metrics and health. `main` and the end-to-end tests start
//! nodes the same way.

use crate::{
    bridge_follower::BridgeFollower,
    builder::{BlockProducer, ChainHead, ProducerConfig},
    config::{ChainRole, Config, ConfigError},
    error::{L1Error, NodeError, StoreError},
    genesis::ChainGenesis,
    health::Health,
    l1_follower::L1Follower,
    mempool::{Mempool, PoolHead, SenderState},
    metrics::{self, L1Metrics, Registry, RelayerMetrics, SettlementMetrics},
    relayer::{MessageRelayer, RelayerConfig},
    rpc::{
        self, BeaconApi, BlockTags, CacheBudgets, EthRpc, Executions, FollowedBridge, FollowedL1, LogLimits,
        RollupApiServer, RollupRpc, RollupStatusApiServer, RollupStatusRpc, RollupWithdrawalsApiServer,
        TagDepths, WithdrawalProofRpc,
    },
    store::{
        BlockReader, ChainWriter, DbNodeStore, GenesisStatus, StateReader, Store, StoreOptions, WriterLock,
        redact,
    },
};
use alloy_consensus::{Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{B256, Bytes};
use alloy_signer_local::PrivateKeySigner;
use batcher::messages::L2_BRIDGE_ADDRESS;
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};
use tokio::sync::watch;
use trace_builder::{chain::ChainConfig, precompile::ExecuteSettings};

/// A running node.
#[derive(Debug)]
pub struct Node {
    /// Where JSON-RPC (HTTP and WebSocket) listens.
    pub rpc_addr: SocketAddr,
    /// Where `/metrics` and `/health` listen.
    pub metrics_addr: SocketAddr,
    /// The chain id.
    pub chain_id: u64,
    /// Hash of the genesis block.
    pub genesis_hash: B256,
    /// The newest sealed block, as published by the producer.
    pub head: watch::Receiver<ChainHead>,
    /// The node's metrics, served on `metrics_addr`.
    metrics: Registry,
    store: Store,
    rpc: jsonrpsee::server::ServerHandle,
    metrics_task: tokio::task::JoinHandle<std::io::Result<()>>,
    producer: tokio::task::JoinHandle<Result<(), crate::error::BuildError>>,
    /// The L1 follower of an L2 node with `l1.rpc_url` set.
    follower: Option<tokio::task::JoinHandle<Result<(), L1Error>>>,
    /// The bridge follower of an L2 node with `l1.bridge_address` set.
    bridge_follower: Option<tokio::task::JoinHandle<Result<(), L1Error>>>,
    /// The message relayer of an L2 node with `l1.relayer_key_file` set.
    relayer: Option<tokio::task::JoinHandle<()>>,
    shutdown: Arc<AtomicBool>,
    /// The RPC's call executions, stopped with the node.
    executions: Executions,
    /// This node's claim on the database, released when it stops (or is dropped).
    writer_lock: Option<WriterLock>,
}

impl Node {
    /// Binds the JSON-RPC and metrics ports, reaches the L1 an L2 node follows (refusing one
    /// that is another chain than `l1.chain_id`, and a bridge that is not there or settles
    /// another chain or in another mode; an L1 that is down is followed once it answers),
    /// opens the store (writing the genesis block into a fresh one, refusing one made for
    /// another chain), starts block production, the L1 and bridge followers, JSON-RPC and
    /// metrics. A failure leaves no task running.
    pub async fn launch(config: &Config, genesis: ChainGenesis) -> Result<Self, NodeError> {
        // The ports first: a port in use stops the node before it claims, reads or writes its
        // database.
        let rpc_bind = |source| NodeError::Bind { what: "JSON-RPC", addr: config.rpc.http_addr, source };
        let rpc_listener = rpc::RpcListener::bind(config.rpc.http_addr).await.map_err(rpc_bind)?;
        let rpc_addr = rpc_listener.local_addr().map_err(rpc_bind)?;
        let metrics_bind = |source| NodeError::Bind { what: "metrics", addr: config.metrics.addr, source };
        let metrics_listener = metrics::bind(config.metrics.addr).await.map_err(metrics_bind)?;
        let metrics_addr = metrics_listener.local_addr().map_err(metrics_bind)?;
        let url = config.database.resolved_url();
        // Claimed before anything is read or migrated: a second node refused here touches
        // nothing.
        let writer_lock = WriterLock::acquire(&url).await?;
        // Every component takes its metric handles here as it is built (`registry.scope`).
        let registry = Registry::new().map_err(|e| NodeError::Metrics(e.to_string()))?;
        // Before the store: an L1 that is another chain stops the node before it writes anything.
        let follower = match (config.chain.role, config.l1.rpc_url()?) {
            (ChainRole::L2, Some(url)) => {
                Some(L1Follower::connect(url, &config.l1, registry.scope(L1Metrics::default)).await?)
            }
            (ChainRole::L2, None) => {
                tracing::warn!(
                    target: "node",
                    "no L1 configured (l1.rpc_url): blocks are not anchored and nothing settles"
                );
                None
            }
            (ChainRole::L1, _) => None,
        };
        let bridge_follower = match (config.chain.role, config.l1.rpc_url()?, config.l1.bridge_address) {
            (ChainRole::L2, Some(url), Some(bridge)) => {
                let metrics = registry.scope(SettlementMetrics::default);
                Some(BridgeFollower::connect(url, &config.l1, bridge, genesis.chain_id, metrics).await?)
            }
            _ => None,
        };

        let relayer_key = relayer_key(config, &genesis)?;
        let store = Store::open_with(&url, StoreOptions::from(&config.database)).await?;
        tracing::info!(target: "node", database = %redact(&url), "opened database");
        registry
            .scope(|| ::metrics::gauge!("sequencer_account_filter_bytes"))
            .set(store.account_filter_bytes() as f64);
        let runtime = tokio::runtime::Handle::current();
        let cache_bytes =
            usize::try_from(config.database.node_cache_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let nodes = registry.scope(|| DbNodeStore::new(store.clone(), runtime.clone(), cache_bytes));
        if store.init_or_check_genesis(genesis.chain_id, genesis.hash).await? == GenesisStatus::Fresh {
            let record = genesis.block_record();
            store.commit_block(&record, genesis.chain_id).await?;
            tracing::info!(target: "node", hash = %genesis.hash, "wrote genesis block");
            // The first blocks touch the genesis accounts: their trie nodes stay at hand, as
            // every block's do once committed.
            nodes.cache_nodes(&record.trie_nodes);
        }
        let (number, hash) =
            store.head().await?.ok_or_else(|| StoreError::Corrupt("no head block".into()))?;
        let header = store
            .header_by_number(number)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("head block {number} has no header")))?;
        let head_anchor = match header.parent_beacon_block_root {
            Some(root) if !root.is_zero() => Some(store.l1_anchor(root).await?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "head block {number} anchors to {root}, an L1 block of no recorded number"
                ))
            })?),
            _ => None,
        };
        if follower.is_some() {
            warn_if_ahead_of_clock(header.timestamp);
        }
        let head = ChainHead { number, hash, header, changed: Arc::from([]) };
        let l1_anchor = head_anchor.map(|anchor| anchor.number);
        tracing::info!(target: "node", number, %hash, l1_anchor, "resuming from head");
        if follower.is_none() && config.chain.role == ChainRole::L2 && head_anchor.is_some() {
            tracing::warn!(
                target: "node",
                l1_anchor,
                "the head is anchored but no L1 is configured: new blocks are not, and no bridge takes them"
            );
        }

        let chain = chain_config(config, genesis.chain_id);
        let pool_head = PoolHead::after(&chain, &head.header);
        let mempool = Arc::new(registry.scope(|| Mempool::new(config.mempool.clone(), &chain, pool_head)));
        reload_pool(&store, &mempool).await?;
        let (heads, head_rx) = watch::channel(head.clone());
        let tags = match (config.chain.role, &bridge_follower) {
            (ChainRole::L2, Some(bridge_follower)) => BlockTags::Settled(bridge_follower.settled()),
            (ChainRole::L2, None) => BlockTags::Depths(TagDepths::default()),
            (ChainRole::L1, _) => BlockTags::Depths(TagDepths {
                safe: config.l1.safe_depth,
                finalized: config.l1.finalized_depth,
            }),
        };
        let eth = registry
            .scope(|| {
                EthRpc::new(
                    Arc::new(chain.clone()),
                    store.clone(),
                    nodes.clone(),
                    mempool.clone(),
                    head_rx.clone(),
                    LogLimits {
                        max_block_range: config.rpc.max_logs_block_range,
                        max_logs: config.rpc.max_logs,
                    },
                    CacheBudgets::from(&config.database),
                )
            })
            .with_call_timeout(config.rpc.call_timeout())
            .with_block_tags(tags.clone());
        let executions = eth.executions();
        let mut module = eth.into_module().map_err(|e| NodeError::Task(e.to_string()))?;
        module
            .merge(
                RollupRpc::new(genesis.chain_id, store.clone(), nodes.clone(), executions.clone()).into_rpc(),
            )
            .map_err(|e| NodeError::Task(e.to_string()))?;
        let followed_bridge =
            bridge_follower.as_ref().zip(config.l1.bridge_address).map(|(follower, address)| {
                FollowedBridge {
                    address,
                    mode: config.l1.settlement,
                    settled: follower.settled(),
                    l2_bridge: (genesis.l1_bridge == Some(address)).then_some(L2_BRIDGE_ADDRESS),
                }
            });
        let status = RollupStatusRpc::new(
            store.clone(),
            head_rx.clone(),
            tags,
            follower.as_ref().map(|follower| FollowedL1 {
                configured_chain_id: config.l1.chain_id,
                link: follower.status(),
            }),
            followed_bridge.clone(),
        );
        module.merge(status.into_rpc()).map_err(|e| NodeError::Task(e.to_string()))?;
        // Withdrawals are proven only where the genesis's L2 bridge carries this bridge's
        // messages.
        let messaging = followed_bridge.filter(|bridge| bridge.l2_bridge.is_some());
        let withdrawals = WithdrawalProofRpc::new(genesis.chain_id, store.clone(), nodes.clone(), messaging);
        module.merge(withdrawals.into_rpc()).map_err(|e| NodeError::Task(e.to_string()))?;

        // Nothing below fails: the tasks start together.
        let producer = registry.scope(|| {
            BlockProducer::new(
                ProducerConfig {
                    chain,
                    block_time: config.chain.block_time(),
                    target_gas_limit: config.chain.gas_limit,
                    fee_recipient: config.chain.fee_recipient,
                    extra_data: Bytes::copy_from_slice(config.chain.extra_data.as_bytes()),
                    state_cache_bytes: usize::try_from(
                        config.database.state_cache_mib.saturating_mul(1 << 20),
                    )
                    .unwrap_or(usize::MAX),
                },
                store.for_producer(),
                nodes.with_store(store.for_producer()),
                mempool,
                head,
                heads,
                runtime,
            )
        });
        let shutdown = Arc::new(AtomicBool::new(false));
        let producer = match &follower {
            Some(follower) => producer.following(follower.confirmed(), head_anchor),
            None => producer,
        };
        let health = Health::new(
            config.chain.block_time(),
            head_rx.clone(),
            producer.status(),
            follower.as_ref().map(L1Follower::status),
        );
        let health = match (&bridge_follower, config.l1.bridge_address) {
            (Some(bridge_follower), Some(bridge)) => health.following_bridge(bridge, bridge_follower.lag()),
            _ => health,
        };
        let producer = {
            let shutdown = shutdown.clone();
            tokio::task::spawn_blocking(move || producer.run(shutdown))
        };
        let follower = follower.map(|follower| tokio::spawn(follower.run()));
        let bridge_follower =
            bridge_follower.map(|bridge| tokio::spawn(bridge.run(head_rx.clone(), store.clone())));
        let beacon = (config.chain.role == ChainRole::L1).then(|| BeaconApi {
            store: store.clone(),
            finalized_depth: config.l1.finalized_depth,
            seconds_per_slot: config.chain.block_time_ms.div_ceil(1_000),
        });
        if config.chain.role == ChainRole::L1 {
            tokio::spawn(prune_blobs(store.clone(), head_rx.clone(), config.l1.blob_retention_blocks));
        }
        let rpc = registry.scope(|| rpc::serve(rpc_listener, &config.rpc, module, beacon));
        let relayer = match (relayer_key, config.l1.rpc_url()?, config.l1.bridge_address) {
            (Some(key), Some(l1), Some(bridge)) => {
                let relayer = MessageRelayer::new(
                    RelayerConfig {
                        l1: l1.clone(),
                        l2: own_url(rpc_addr),
                        bridge,
                        deployed_at: config.l1.bridge_deployed_at,
                        chain_id: genesis.chain_id,
                        poll_interval: config.l1.poll_interval(),
                    },
                    key,
                    store.clone(),
                    registry.scope(RelayerMetrics::default),
                );
                Some(tokio::spawn(relayer.run()))
            }
            _ => None,
        };
        let metrics_task = metrics::serve(metrics_listener, registry.clone(), health);
        Ok(Self {
            rpc_addr,
            metrics_addr,
            chain_id: genesis.chain_id,
            genesis_hash: genesis.hash,
            head: head_rx,
            metrics: registry,
            store,
            rpc,
            metrics_task,
            producer,
            follower,
            bridge_follower,
            relayer,
            shutdown,
            executions,
            writer_lock: Some(writer_lock),
        })
    }

    /// The node's metrics registry: what its `/metrics` serves. A component run beside the
    /// node (the dev rollup's batcher) may count in it too.
    pub fn metrics(&self) -> &Registry {
        &self.metrics
    }

    /// The RPC's admission of heavy requests (calls, traces, long fee histories): stopping it
    /// refuses them, as a stopping node does.
    pub fn executions(&self) -> &Executions {
        &self.executions
    }

    /// Runs until `signal` completes or a critical task dies, then stops cleanly.
    pub async fn run_until(mut self, signal: impl std::future::Future<Output = ()>) -> Result<(), NodeError> {
        let claim = async {
            match self.writer_lock.as_mut() {
                Some(lock) => lock.lost().await,
                None => std::future::pending().await,
            }
        };
        let follower = async {
            match self.follower.as_mut() {
                Some(task) => task.await,
                None => std::future::pending().await,
            }
        };
        let bridge_follower = async {
            match self.bridge_follower.as_mut() {
                Some(task) => task.await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            () = signal => Ok(()),
            lost = claim => Err(NodeError::Store(lost)),
            result = follower => Err(match result {
                Ok(Ok(())) => NodeError::Task("L1 follower exited".into()),
                Ok(Err(error)) => NodeError::L1(error),
                Err(error) => NodeError::Task(format!("L1 follower panicked: {error}")),
            }),
            result = bridge_follower => Err(match result {
                Ok(Ok(())) => NodeError::Task("bridge follower exited".into()),
                Ok(Err(error)) => NodeError::L1(error),
                Err(error) => NodeError::Task(format!("bridge follower panicked: {error}")),
            }),
            result = &mut self.producer => Err(match result {
                Ok(Ok(())) => NodeError::Task("block producer exited".into()),
                Ok(Err(error)) => NodeError::Build(error),
                Err(error) => NodeError::Task(format!("block producer panicked: {error}")),
            }),
        };
        self.stop_tasks().await;
        outcome
    }

    /// Stops production and serving, and closes the database.
    pub async fn stop(mut self) {
        self.stop_tasks().await;
    }

    async fn stop_tasks(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
        // Calls waiting to execute are refused and running ones stop, so the server's drain of
        // in-flight requests does not sit out their queue time.
        self.executions.stop();
        let _ = self.rpc.stop();
        self.rpc.clone().stopped().await;
        if !self.producer.is_finished() {
            let _ = (&mut self.producer).await;
        }
        self.metrics_task.abort();
        if let Some(follower) = self.follower.take() {
            follower.abort();
        }
        if let Some(follower) = self.bridge_follower.take() {
            follower.abort();
        }
        if let Some(relayer) = self.relayer.take() {
            relayer.abort();
        }
        self.store.close().await;
        if let Some(lock) = self.writer_lock.take() {
            lock.release().await;
        }
    }
}

/// The key of the message relayer `l1.relayer_key_file` names, if it does: read before the
/// node starts, and only for a genesis whose L2 bridge delivers `l1.bridge_address`'s messages.
fn relayer_key(config: &Config, genesis: &ChainGenesis) -> Result<Option<PrivateKeySigner>, NodeError> {
    let Some(path) = &config.l1.relayer_key_file else {
        return Ok(None);
    };
    let invalid = |reason: String| ConfigError::Invalid { key: "l1.relayer_key_file", reason };
    if genesis.l1_bridge.is_none() || genesis.l1_bridge != config.l1.bridge_address {
        return Err(invalid(format!(
            "the genesis has no L2 bridge for l1.bridge_address (its config.rollup.l1Bridge is {})",
            genesis.l1_bridge.map_or_else(|| "unset".to_owned(), |bridge| bridge.to_string())
        ))
        .into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let key = text
        .trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| invalid(format!("{}: not a hex secp256k1 private key", path.display())))?;
    Ok(Some(key))
}

/// The node's own JSON-RPC endpoint as a local client reaches it.
fn own_url(rpc_addr: SocketAddr) -> url::Url {
    let ip = match rpc_addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let mut url = url::Url::parse("http://127.0.0.1").unwrap_or_else(|_| unreachable!("a valid URL"));
    let _ = url.set_ip_host(ip);
    let _ = url.set_port(Some(rpc_addr.port()));
    url
}

/// Says so when the head's timestamp is ahead of the wall clock (blocks sealed under a second
/// apart without an L1): following an L1, the next block waits for the clock to pass it.
fn warn_if_ahead_of_clock(head_timestamp: u64) {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
    if head_timestamp > now {
        tracing::warn!(
            target: "node",
            ahead_seconds = head_timestamp - now,
            "the head's timestamp is ahead of the clock: no block is sealed until the clock passes it"
        );
    }
}

/// Forgets the blobs of blocks older than `retention` blocks behind the head, every 64 blocks,
/// for as long as the node runs (the L1 role).
async fn prune_blobs(store: Store, mut heads: watch::Receiver<ChainHead>, retention: u64) {
    const EVERY: u64 = 64;
    let mut pruned_at = 0;
    while heads.changed().await.is_ok() {
        let head = heads.borrow_and_update().number;
        if head < pruned_at + EVERY {
            continue;
        }
        pruned_at = head;
        match store.prune_blobs(head.saturating_sub(retention)).await {
            Ok(0) => {}
            Ok(blobs) => tracing::debug!(target: "node", blobs, head, "pruned blobs past the retention"),
            Err(error) => tracing::warn!(target: "node", %error, "pruning blobs failed; will try again"),
        }
    }
}

/// The rules of the chain the node runs: the L2's, or the dev L1's with EXECUTE.
pub fn chain_config(config: &Config, chain_id: u64) -> ChainConfig {
    match config.chain.role {
        ChainRole::L2 => ChainConfig::l2(chain_id),
        ChainRole::L1 => ChainConfig::dev_l1(
            chain_id,
            config.l1.fork.spec(),
            ExecuteSettings { address: config.l1.execute_address, ..ExecuteSettings::default() },
        ),
    }
}

/// Puts the transactions the store recorded as pooled back into the pool (a restart, clean or
/// not, loses none the RPC acknowledged), and forgets the ones that no longer qualify.
async fn reload_pool(store: &Store, mempool: &Mempool) -> Result<(), StoreError> {
    let rows = store.pooled_transactions().await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut senders: Vec<_> = rows.iter().map(|(sender, _)| *sender).collect();
    senders.sort_unstable();
    senders.dedup();
    let accounts: std::collections::HashMap<_, _> = store.accounts(&senders).await?.into_iter().collect();
    let mut txs = Vec::with_capacity(rows.len());
    for (sender, raw) in rows {
        let tx = TxEnvelope::decode_2718_exact(&raw)
            .map_err(|e| StoreError::Corrupt(format!("pooled transaction: {e}")))?;
        txs.push(Recovered::new_unchecked(tx, sender));
    }
    // In nonce order, as they were admitted: a sender's run must not look gapped.
    txs.sort_by_key(|tx| (tx.signer(), tx.inner().nonce()));
    let (total, mut refused) = (txs.len(), Vec::new());
    for tx in txs {
        let hash = *tx.inner().tx_hash();
        let state = SenderState::from_account(accounts.get(&tx.signer()));
        if let Err(error) = mempool.add(tx, state) {
            tracing::debug!(target: "node", %hash, %error, "dropped a pooled transaction at start-up");
            refused.push(hash);
        }
    }
    refused.extend(mempool.take_removed());
    store.delete_pooled(&refused).await?;
    tracing::info!(target: "node", reloaded = mempool.len(), dropped = total - mempool.len(), "reloaded the pool");
    Ok(())
}
