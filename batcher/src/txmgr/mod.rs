//! The L1 transaction manager: gets each of the batcher's transactions (calldata EIP-1559
//! transactions and EIP-4844 blob transactions to the bridge) included and confirmed without
//! anyone watching, in the manner of op-batcher's `txmgr`.
//!
//! [`TxManager::send`] takes a [`TxCandidate`], picks its nonce (counted locally, read from the
//! L1's pending nonce at first and after nonce errors) and its fees (from the L1's next base
//! fee, suggested tip and blob base fee), signs and broadcasts it, then polls for its receipt.
//! A transaction not in a block after the resubmission timeout is replaced at the same nonce
//! with fees bumped by at least 10% (100% on all three fees of a blob transaction); a bump that
//! would pass a fee cap does not happen: the send waits for inclusion or for fees to drop. Each
//! refusal of the L1's pool is handled by what its text says ([`RejectionClass`]). An included
//! transaction whose block leaves the chain before the confirmation depth is sent again. Every
//! state change goes to the send's [`TxObserver`] as a [`TxEvent`]; a batcher that stores them
//! resumes a send after a restart with a [`PriorSend`]. Metrics are `batcher_txmgr_*`.
//! docs/txmgr.md describes the states, error classes and configuration.

mod candidate;
mod classify;
mod config;
mod error;
mod event;
mod fees;
mod l1;
mod metrics;
mod nonce;
mod submission;

pub use candidate::{SignedTx, TxCandidate};
pub use classify::{Rejection, RejectionClass};
pub use config::{MIN_BLOB_PRICE_BUMP_PERCENT, MIN_PRICE_BUMP_PERCENT, TxManagerConfig};
pub use error::TxManagerError;
pub use event::{NoObserver, PriorSend, TxEvent, TxObserver, WaitReason};
pub use fees::FeeQuote;

use self::{l1::L1, metrics::TxManagerMetrics, nonce::NonceTracker, submission::Submission};
use alloy_primitives::Address;
use alloy_provider::{ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer_local::PrivateKeySigner;
use std::{fmt, sync::Arc};

/// The transaction manager of one sender on one L1. Cheap to clone (one shared state); sends
/// may run concurrently, each with its own nonce.
#[derive(Clone)]
pub struct TxManager {
    shared: Arc<Shared>,
}

/// What every send of a manager shares.
struct Shared {
    l1: L1,
    signer: PrivateKeySigner,
    chain_id: u64,
    config: TxManagerConfig,
    nonces: NonceTracker,
    metrics: TxManagerMetrics,
}

impl fmt::Debug for TxManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The signer's key stays out of logs: its address says whose manager it is.
        f.debug_struct("TxManager")
            .field("address", &self.shared.signer.address())
            .field("chain_id", &self.shared.chain_id)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl TxManager {
    /// A manager sending from `signer` on the L1 behind `provider`, whose chain id is
    /// `chain_id`. Its metrics register with the recorder installed now.
    pub fn new(
        provider: RootProvider,
        signer: PrivateKeySigner,
        chain_id: u64,
        config: TxManagerConfig,
    ) -> Result<Self, TxManagerError> {
        config.validate()?;
        let l1 = L1::new(provider, config.network_timeout());
        Ok(Self {
            shared: Arc::new(Shared {
                l1,
                signer,
                chain_id,
                config,
                nonces: NonceTracker::default(),
                metrics: TxManagerMetrics::new(),
            }),
        })
    }

    /// A manager sending from `signer` on the L1 at `url` (HTTP), whose chain id it reads.
    pub async fn connect_http(
        url: url::Url,
        signer: PrivateKeySigner,
        config: TxManagerConfig,
    ) -> Result<Self, TxManagerError> {
        config.validate()?;
        let provider = ProviderBuilder::default().connect_http(url);
        let chain_id = L1::new(provider.clone(), config.network_timeout()).chain_id().await?;
        Self::new(provider, signer, chain_id, config)
    }

    /// The sender's address.
    pub fn address(&self) -> Address {
        self.shared.signer.address()
    }

    /// The L1's chain id.
    pub fn chain_id(&self) -> u64 {
        self.shared.chain_id
    }

    /// The manager's settings.
    pub fn config(&self) -> &TxManagerConfig {
        &self.shared.config
    }

    /// What the L1 asks of its next block now (blob base fee included), from which sends
    /// make their offers: for a batcher choosing between calldata and blobs.
    pub async fn fee_quote(&self) -> Result<FeeQuote, TxManagerError> {
        self.shared.l1.fee_quote(true).await
    }

    /// Gets `candidate` included and confirmed, and answers its receipt (which may show a
    /// reverted call: the manager gets transactions included, the caller judges them).
    ///
    /// With `prior` (what the batcher stored of this send before a restart, see
    /// [`PriorSend::record`]), the manager first looks for a receipt of any of its hashes, then
    /// sends the same nonce again: it signs no second transaction for the candidate unless
    /// that nonce went to a transaction it does not know.
    ///
    /// Every state change goes to `observer` before the manager acts on it. The send keeps
    /// trying through what time may fix (an L1 down, a bump past a cap, insufficient funds),
    /// reporting it as [`TxEvent::Waiting`]; it fails only on a refusal of the transaction
    /// itself ([`RejectionClass::is_permanent`]) or a signing error. Dropping the future stops
    /// the send (what was broadcast stays in the L1's pools).
    pub async fn send(
        &self,
        candidate: TxCandidate,
        prior: Option<PriorSend>,
        observer: &dyn TxObserver,
    ) -> Result<TransactionReceipt, TxManagerError> {
        Submission::new(&self.shared, candidate, observer).run(prior).await
    }
}

impl Shared {
    /// The next nonce: counted locally, read from the L1's pending nonce when unknown.
    async fn next_nonce(&self) -> Result<u64, TxManagerError> {
        if let Some(nonce) = self.nonces.take_known() {
            return Ok(nonce);
        }
        let pending = self.l1.pending_nonce(self.signer.address()).await?;
        Ok(self.nonces.take_from(pending))
    }
}
