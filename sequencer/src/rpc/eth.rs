//! The RPC's view of the node ([`EthRpc`]) and what all its namespaces share: resolving the
//! block a request names, an account at a block, admitting a transaction; with the methods
//! that identify the node and the chain (`eth_chainId`, `eth_syncing`, `eth_accounts`,
//! `eth_capabilities`) and the `net_` and `web3_` namespaces.

use super::{error::RpcError, executions::blocking};
use crate::{
    bridge_follower::SettledL2,
    builder::ChainHead,
    mempool::{Mempool, SenderState},
    store::{BlockReader, DbNodeStore, MempoolJournal, StateReader, Store},
};
use alloy_consensus::{Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Decodable2718};
use alloy_primitives::{Address, B256, Bytes, U64};
use alloy_rpc_types_eth::SyncStatus;
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::watch;
use trace_builder::{ChainConfig, state_trie::StateTrie};

/// What identifies the node and the chain it serves.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// EIP-155 chain id.
    #[method(name = "chainId")]
    async fn chain_id(&self) -> Result<U64, RpcError>;
    /// The sequencer makes the chain; it never syncs.
    #[method(name = "syncing")]
    async fn syncing(&self) -> Result<SyncStatus, RpcError>;
    /// The node holds no keys.
    #[method(name = "accounts")]
    async fn accounts(&self) -> Result<Vec<Address>, RpcError>;
    /// What history this node serves, for routers choosing a node for a query.
    #[method(name = "capabilities")]
    async fn capabilities(&self) -> Result<Capabilities, RpcError>;
}

/// The `eth_capabilities` answer: the head, and from which block each kind of data is served.
#[derive(Clone, Debug, Serialize)]
pub struct Capabilities {
    head: CapabilitiesHead,
    state: Retention,
    tx: Retention,
    logs: Retention,
    receipts: Retention,
    blocks: Retention,
    stateproofs: Retention,
}

/// The head block as `eth_capabilities` reports it.
#[derive(Clone, Debug, Serialize)]
struct CapabilitiesHead {
    number: U64,
    hash: B256,
}

/// How much of one kind of data the node keeps. This node prunes nothing, so every kind is
/// served from genesis and there is no deletion strategy to report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Retention {
    disabled: bool,
    oldest_block: U64,
}

/// `net_` methods.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// The network id (the chain id, in decimal).
    #[method(name = "version")]
    async fn version(&self) -> Result<String, RpcError>;
    /// Whether the node listens for peers: a sequencer has none.
    #[method(name = "listening")]
    async fn listening(&self) -> Result<bool, RpcError>;
    /// Number of peers: a sequencer has none.
    #[method(name = "peerCount")]
    async fn peer_count(&self) -> Result<U64, RpcError>;
}

/// `web3_` methods.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// Name and version of this node.
    #[method(name = "clientVersion")]
    async fn client_version(&self) -> Result<String, RpcError>;
    /// keccak256 of the given bytes.
    #[method(name = "sha3")]
    async fn sha3(&self, data: Bytes) -> Result<B256, RpcError>;
}

/// The RPC's view of the node: the chain's rules, store, pool and the head the builder publishes.
#[derive(Clone, Debug)]
pub struct EthRpc {
    /// The node's one chain config: fees, calls and `eth_config` follow the rules blocks are
    /// built under.
    pub(super) chain: Arc<ChainConfig>,
    pub(super) store: Store,
    pub(super) nodes: DbNodeStore,
    pub(super) mempool: Arc<Mempool>,
    pub(super) head: watch::Receiver<ChainHead>,
    pub(super) filters: Arc<super::logs::Filters>,
    /// The newest block's logs, shared by the logs subscriptions.
    pub(super) newest_block_logs: Arc<super::logs::NewestBlockLogs>,
    /// Hashes of transactions the pool admitted, for filters and subscriptions.
    pub(super) pending_txs: tokio::sync::broadcast::Sender<B256>,
    pub(super) log_limits: super::logs::LogLimits,
    pub(super) head_accounts: Arc<super::head_accounts::HeadAccounts>,
    /// Analysed codes for simulated calls.
    pub(super) codes: Arc<super::codes::Codes>,
    /// Permits to execute calls on blocking threads.
    pub(super) executions: super::executions::Executions,
    /// What `safe` and `finalized` are.
    pub(super) tags: BlockTags,
    journal: MempoolJournal,
}

/// Memory the RPC's caches may use, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct CacheBudgets {
    /// Accounts at the head (`database.rpc_account_cache_mib`).
    pub head_accounts_bytes: usize,
    /// Analysed contract codes (`database.rpc_code_cache_mib`).
    pub codes_bytes: usize,
}

impl From<&crate::config::DatabaseSection> for CacheBudgets {
    fn from(section: &crate::config::DatabaseSection) -> Self {
        let bytes = |mib: u64| usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        Self {
            head_accounts_bytes: bytes(section.rpc_account_cache_mib),
            codes_bytes: bytes(section.rpc_code_cache_mib),
        }
    }
}

/// How many blocks `safe` and `finalized` trail the head: the dev L1's configured depths in the
/// L1 role; zero on an L2 that follows no bridge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TagDepths {
    /// Blocks between the head and `safe`.
    pub safe: u64,
    /// Blocks between the head and `finalized`.
    pub finalized: u64,
}

/// What the `safe` and `finalized` block tags name.
#[derive(Clone, Debug)]
pub enum BlockTags {
    /// Blocks a fixed depth behind the head ([`TagDepths`]).
    Depths(TagDepths),
    /// What the bridge settled, for an L2 that follows its bridge (`l1.bridge_address`): see
    /// [`crate::bridge_follower`].
    Settled(SettledL2),
}

impl Default for BlockTags {
    fn default() -> Self {
        Self::Depths(TagDepths::default())
    }
}

impl BlockTags {
    /// The `safe` and `finalized` block numbers while the head is `head`: never past it, never
    /// before genesis.
    pub fn safe_and_finalized(&self, head: u64) -> (u64, u64) {
        match self {
            Self::Depths(depths) => (head.saturating_sub(depths.safe), head.saturating_sub(depths.finalized)),
            Self::Settled(settled) => settled.safe_and_finalized(head),
        }
    }
}

/// Admitted transactions a slow filter or subscriber may lag behind before it skips some.
const PENDING_FEED_CAPACITY: usize = 4_096;

/// Which transactions [`EthRpc::submit`] admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Any the pool takes, queued ones included (`eth_sendRawTransaction`).
    Any,
    /// Only one executable next (`eth_sendRawTransactionSync`, EIP-7966).
    ReadyOnly,
}

/// A block the request named, resolved against the store.
pub(super) struct ResolvedBlock {
    pub(super) header: Header,
    pub(super) is_head: bool,
}

impl EthRpc {
    /// The RPC over these components, for the chain `chain` describes.
    pub fn new(
        chain: Arc<ChainConfig>,
        store: Store,
        nodes: DbNodeStore,
        mempool: Arc<Mempool>,
        head: watch::Receiver<ChainHead>,
        log_limits: super::logs::LogLimits,
        caches: CacheBudgets,
    ) -> Self {
        let (pending_txs, _) = tokio::sync::broadcast::channel(PENDING_FEED_CAPACITY);
        Self {
            chain,
            nodes,
            mempool,
            head_accounts: super::head_accounts::HeadAccounts::following(
                head.clone(),
                caches.head_accounts_bytes,
            ),
            head,
            filters: Arc::default(),
            newest_block_logs: Arc::default(),
            pending_txs,
            log_limits,
            codes: Arc::new(super::codes::Codes::new(caches.codes_bytes)),
            executions: super::executions::Executions::default(),
            tags: BlockTags::default(),
            journal: MempoolJournal::spawn(store.clone()),
            store,
        }
    }

    /// All namespaces in one module.
    pub fn into_module(self) -> Result<jsonrpsee::RpcModule<()>, jsonrpsee::core::RegisterMethodError> {
        let mut module = jsonrpsee::RpcModule::new(());
        module.merge(EthApiServer::into_rpc(self.clone()))?;
        module.merge(super::blocks::EthBlocksApiServer::into_rpc(self.clone()))?;
        module.merge(super::state::EthStateApiServer::into_rpc(self.clone()))?;
        module.merge(super::transactions::EthTransactionsApiServer::into_rpc(self.clone()))?;
        module.merge(NetApiServer::into_rpc(self.clone()))?;
        module.merge(super::call::EthCallApiServer::into_rpc(self.clone()))?;
        module.merge(super::call::EthSimulateApiServer::into_rpc(self.clone()))?;
        module.merge(super::fees::EthFeesApiServer::into_rpc(self.clone()))?;
        module.merge(super::fork_config::EthForkConfigApiServer::into_rpc(self.clone()))?;
        module.merge(super::txpool::TxpoolApiServer::into_rpc(self.clone()))?;
        module.merge(super::logs::EthLogsApiServer::into_rpc(self.clone()))?;
        module.merge(super::pubsub::EthPubSubApiServer::into_rpc(self.clone()))?;
        module.merge(Web3ApiServer::into_rpc(self))?;
        Ok(module)
    }

    /// The same RPC with calls executing for `timeout` at most (5 s unless set).
    pub fn with_call_timeout(self, timeout: std::time::Duration) -> Self {
        Self { executions: self.executions.with_timeout(timeout), ..self }
    }

    /// The same RPC with `safe` and `finalized` naming `tags` (the head unless set).
    pub fn with_block_tags(self, tags: BlockTags) -> Self {
        Self { tags, ..self }
    }

    /// The permits to execute calls on blocking threads, for the node to stop them.
    pub fn executions(&self) -> super::executions::Executions {
        self.executions.clone()
    }

    /// The one place that decides what `latest`, `pending`, `safe` and `finalized` mean:
    /// `latest` and `pending` are the newest sealed block; `safe` and `finalized` are what the
    /// bridge settled on an L2 that follows its bridge, the newest sealed block on an L2 that
    /// follows none, and trail it by the configured depths on the dev L1 ([`BlockTags`]).
    pub(super) fn tag_number(&self, tag: BlockNumberOrTag) -> u64 {
        let head = self.head.borrow().number;
        match tag {
            BlockNumberOrTag::Earliest => 0,
            BlockNumberOrTag::Number(number) => number,
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => head,
            BlockNumberOrTag::Safe => self.tags.safe_and_finalized(head).0,
            BlockNumberOrTag::Finalized => self.tags.safe_and_finalized(head).1,
        }
    }

    pub(super) async fn resolve(&self, block: Option<BlockId>) -> Result<Option<ResolvedBlock>, RpcError> {
        let head = self.head.borrow().clone();
        // The head's header is at hand: most requests name `latest` and need no query.
        let header = match block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
            BlockId::Number(tag) => match self.tag_number(tag) {
                number if number == head.number => Ok(Some(head.header)),
                number => self.store.header_by_number(number).await,
            },
            BlockId::Hash(hash) if hash.block_hash == head.hash => Ok(Some(head.header)),
            BlockId::Hash(hash) => self.store.header_by_hash(hash.block_hash).await,
        }?;
        Ok(header.map(|header| ResolvedBlock { is_head: header.number >= head.number, header }))
    }

    pub(super) async fn resolve_required(&self, block: Option<BlockId>) -> Result<ResolvedBlock, RpcError> {
        self.resolve(block).await?.ok_or(RpcError::HeaderNotFound)
    }

    /// The head's changes when `block` is still the head.
    pub(super) fn head_changes(&self, block: &ResolvedBlock) -> Option<super::head_accounts::HeadChanges> {
        let head = self.head.borrow();
        (block.is_head && head.number == block.header.number).then(|| (head.number, head.changed.clone()))
    }

    /// Admits a raw transaction to the pool, durably before it returns its hash (an
    /// acknowledged transaction survives a crash). With [`Admission::ReadyOnly`] one whose
    /// nonce is past the sender's next is refused, unpooled (EIP-7966); one the sender cannot
    /// fund after its pending ones the pool refuses in any case.
    pub(super) async fn submit(&self, raw: Bytes, admission: Admission) -> Result<B256, RpcError> {
        let tx = TxEnvelope::decode_2718_exact(raw.as_ref()).map_err(RpcError::UndecodableTransaction)?;
        // Checks that need no sender first: junk costs no signature recovery.
        self.mempool.validate_stateless(&tx)?;
        let tx = tx.try_into_recovered().map_err(|_| RpcError::InvalidSender)?;
        let sender = tx.signer();
        let head = self.resolve_required(None).await?;
        let account = self.account_at(sender, &head).await?;
        let state = SenderState::from_account(account.as_ref());
        let hash = match admission {
            Admission::Any => self.mempool.add(tx, state),
            Admission::ReadyOnly => self.mempool.add_ready(tx, state),
        }?;
        if let Err(error) = self.journal.record(hash, sender, raw).await {
            self.mempool.remove(&hash);
            return Err(error.into());
        }
        // Nobody listening is not an error.
        let _ = self.pending_txs.send(hash);
        Ok(hash)
    }

    /// An account at a block: the flat tables for the head, the trie below it.
    pub(super) async fn account_at(
        &self,
        address: Address,
        block: &ResolvedBlock,
    ) -> Result<Option<trace_builder::AccountState>, RpcError> {
        if block.is_head {
            let Some(head) = self.head_changes(block) else {
                // The head moved since the block was resolved: read the flat tables as they are.
                return Ok(self.store.account(address).await?);
            };
            if let Some(account) = self.head_accounts.get(&head, &address) {
                return Ok(account);
            }
            let account = self.store.account(address).await?;
            self.head_accounts.insert(&head, address, account.clone());
            return Ok(account);
        }
        let nodes = self.nodes.clone();
        let root = block.header.state_root;
        blocking(move || StateTrie::new(nodes, root).account(address).map(|account| account.map(Into::into)))
            .await
    }
}

#[async_trait]
impl EthApiServer for EthRpc {
    async fn chain_id(&self) -> Result<U64, RpcError> {
        Ok(U64::from(self.chain.chain_id))
    }

    async fn syncing(&self) -> Result<SyncStatus, RpcError> {
        Ok(SyncStatus::None)
    }

    async fn accounts(&self) -> Result<Vec<Address>, RpcError> {
        Ok(Vec::new())
    }

    async fn capabilities(&self) -> Result<Capabilities, RpcError> {
        let (number, hash) = {
            let head = self.head.borrow();
            (head.number, head.hash)
        };
        let all = Retention { disabled: false, oldest_block: U64::ZERO };
        Ok(Capabilities {
            head: CapabilitiesHead { number: U64::from(number), hash },
            state: all.clone(),
            tx: all.clone(),
            logs: all.clone(),
            receipts: all.clone(),
            blocks: all.clone(),
            stateproofs: all,
        })
    }
}

#[async_trait]
impl NetApiServer for EthRpc {
    async fn version(&self) -> Result<String, RpcError> {
        Ok(self.chain.chain_id.to_string())
    }

    async fn listening(&self) -> Result<bool, RpcError> {
        Ok(false)
    }

    async fn peer_count(&self) -> Result<U64, RpcError> {
        Ok(U64::ZERO)
    }
}

#[async_trait]
impl Web3ApiServer for EthRpc {
    async fn client_version(&self) -> Result<String, RpcError> {
        Ok(format!("native-rollup-sequencer/v{}", env!("CARGO_PKG_VERSION")))
    }

    async fn sha3(&self, data: Bytes) -> Result<B256, RpcError> {
        Ok(alloy_primitives::keccak256(&data))
    }
}
