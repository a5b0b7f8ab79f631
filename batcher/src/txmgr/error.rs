//! Why a send failed, or why it is waiting.

use super::classify::Rejection;
use alloy_primitives::B256;
use std::time::Duration;

/// Why the transaction manager could not do something. [`TxManagerError::is_retryable`] says
/// which errors pass with time: the manager retries those itself and reports them through
/// [`super::WaitReason::L1`]; a send returns only the others.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxManagerError {
    /// A configuration key is out of range.
    #[error("txmgr.{key}: {reason}")]
    Config {
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The L1 refused the transaction.
    #[error("the L1 refused transaction {hash} (nonce {nonce}): {rejection}")]
    Rejected {
        /// The refused transaction's hash.
        hash: B256,
        /// Its nonce.
        nonce: u64,
        /// The refusal.
        rejection: Rejection,
    },
    /// An L1 request failed (connection, HTTP, or a JSON-RPC error other than a refusal).
    #[error("L1 request {method} failed: {message}")]
    Rpc {
        /// The JSON-RPC method.
        method: &'static str,
        /// The transport's or the node's message.
        message: String,
    },
    /// An L1 request got no answer within the network timeout.
    #[error("L1 request {method} got no answer within {after:?}")]
    Timeout {
        /// The JSON-RPC method.
        method: &'static str,
        /// The configured network timeout.
        after: Duration,
    },
    /// The L1 answered without something every post-London node sends.
    #[error("L1 answer to {method} lacks {what}")]
    Malformed {
        /// The JSON-RPC method.
        method: &'static str,
        /// What was missing.
        what: &'static str,
    },
    /// The signer failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

impl TxManagerError {
    /// Whether the error may pass by itself (an L1 down or slow, a refusal that time or a bump
    /// resolves): the manager retries these; the others end a send.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Rpc { .. } | Self::Timeout { .. } | Self::Malformed { .. } => true,
            Self::Rejected { rejection, .. } => !rejection.class.is_permanent(),
            Self::Config { .. } | Self::Sign(_) => false,
        }
    }

    /// A short stable name of the error's class, for metrics labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Config { .. } => "config",
            Self::Rejected { rejection, .. } => rejection.class.label(),
            Self::Rpc { .. } => "rpc",
            Self::Timeout { .. } => "timeout",
            Self::Malformed { .. } => "malformed",
            Self::Sign(_) => "sign",
        }
    }

    /// Every label [`Self::label`] answers, for metrics set up at start.
    pub(crate) fn labels() -> impl Iterator<Item = &'static str> {
        super::RejectionClass::ALL.into_iter().map(super::RejectionClass::label).chain([
            "config",
            "rpc",
            "timeout",
            "malformed",
            "sign",
        ])
    }
}

impl From<alloy_signer::Error> for TxManagerError {
    fn from(error: alloy_signer::Error) -> Self {
        Self::Sign(error.to_string())
    }
}
