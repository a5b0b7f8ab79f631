//! Errors of the executor.

use alloy_primitives::B256;

/// A block cannot be executed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// A header input breaks the L1 rules relative to the parent.
    #[error("block {number}: invalid header input: {reason}")]
    InvalidHeader {
        /// Block number.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// A system call (EIP-2935, EIP-4788, EIP-7002, EIP-7251) failed.
    #[error("block {number}: system call to {contract} failed: {reason}")]
    SystemCall {
        /// Block number.
        number: u64,
        /// The system contract.
        contract: alloy_primitives::Address,
        /// What failed.
        reason: String,
    },
    /// The state could not be read.
    #[error("block {number}: state read failed: {reason}")]
    Database {
        /// Block number.
        number: u64,
        /// What failed.
        reason: String,
    },
}

/// One transaction cannot be included; the state is as it was before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The transaction asks for more gas than the block has left.
    #[error("transaction {hash}: gas limit {gas_limit} exceeds the {available} gas left in the block")]
    BlockGasExhausted {
        /// Transaction hash.
        hash: B256,
        /// Its gas limit.
        gas_limit: u64,
        /// Gas left in the block.
        available: u64,
    },
    /// The transaction's blobs exceed what the block may still carry.
    #[error("transaction {hash}: blob gas {blob_gas} exceeds the {available} blob gas left in the block")]
    BlobGasExhausted {
        /// Transaction hash.
        hash: B256,
        /// Its blob gas.
        blob_gas: u64,
        /// Blob gas left.
        available: u64,
    },
    /// The L1 rules reject the transaction (nonce, funds, fees, intrinsic gas, chain id...).
    #[error("transaction {hash}: {reason}")]
    Invalid {
        /// Transaction hash.
        hash: B256,
        /// revm's reason.
        reason: String,
    },
    /// The state could not be read; the block cannot go on.
    #[error("transaction {hash}: state read failed: {reason}")]
    Database {
        /// Transaction hash.
        hash: B256,
        /// What failed.
        reason: String,
    },
}

impl TransactionError {
    /// The transaction may fit a later, emptier block: keep it pooled.
    pub fn is_block_full(&self) -> bool {
        matches!(self, Self::BlockGasExhausted { .. } | Self::BlobGasExhausted { .. })
    }

    /// The failure is the state's, not the transaction's.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Database { .. })
    }
}
