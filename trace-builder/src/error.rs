//! Errors of trace-builder: of the executor, and of the in-memory state tests build on.
//!
//! The executor distinguishes a block that cannot run at all ([`ExecutionError`]) from one
//! transaction that cannot be included ([`TransactionError`]): the builder skips such a
//! transaction and goes on, the verifier rejects the block that carries it.

use alloy_primitives::{Address, B256};
use revm::{context::result::InvalidTransaction, primitives::hardfork::SpecId};

/// A block cannot be executed: its inputs break the L1 rules relative to its parent, a system
/// call failed, or the state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// The chain runs a fork the executor does not implement (see
    /// [`ChainConfig::check_supported`](crate::chain::ChainConfig::check_supported)).
    #[error("block {number}: fork {spec:?} is not supported; the executor runs Paris to Osaka")]
    UnsupportedSpec {
        /// Block number.
        number: u64,
        /// The fork asked for.
        spec: SpecId,
    },
    /// A header input breaks the L1 header rules relative to the parent.
    #[error("block {number}: invalid header input: {reason}")]
    InvalidInputs {
        /// Block number.
        number: u64,
        /// Which rule is broken.
        reason: InputError,
    },
    /// A system contract that must exist from this fork on (EIP-7002, EIP-7251) has no code;
    /// the block is invalid.
    #[error("block {number}: system contract {address} has no code")]
    MissingSystemContract {
        /// Block number.
        number: u64,
        /// The system contract's address.
        address: Address,
    },
    /// A system call that must succeed (EIP-7002, EIP-7251) reverted or halted, or revm refused
    /// to run a system call.
    #[error("block {number}: system call to {address} failed: {reason}")]
    SystemCallFailed {
        /// Block number.
        number: u64,
        /// The system contract's address.
        address: Address,
        /// revm's result or error.
        reason: String,
    },
    /// The state could not be read (the database failed, or the witness lacks a value).
    #[error("block {number}: state read failed: {reason}")]
    Database {
        /// Block number.
        number: u64,
        /// The database's error.
        reason: String,
    },
}

/// The header input rule a block breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The number does not follow the parent's.
    #[error("number {number} does not follow the parent's {parent}")]
    Number {
        /// The parent's number.
        parent: u64,
        /// The block's number.
        number: u64,
    },
    /// The timestamp is not after the parent's.
    #[error("timestamp {timestamp} is not after the parent's {parent}")]
    Timestamp {
        /// The parent's timestamp.
        parent: u64,
        /// The block's timestamp.
        timestamp: u64,
    },
    /// The gas limit moved by parent / 1024 or more, or is below 5000.
    #[error("gas limit {gas_limit} is not within the parent's {parent} ± parent / 1024, or below 5000")]
    GasLimit {
        /// The parent's gas limit.
        parent: u64,
        /// The block's gas limit.
        gas_limit: u64,
    },
    /// Extra data is longer than 32 bytes.
    #[error("extra data is {0} bytes, at most 32 are allowed")]
    ExtraData(usize),
    /// Withdrawals were given to a fork before Shanghai.
    #[error("withdrawals before Shanghai")]
    WithdrawalsBeforeShanghai,
}

/// One transaction cannot be included. The executor's state and block are as they were before
/// it: the builder may go on with other transactions, a verifier rejects the block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The transaction's gas limit exceeds the gas the block has left.
    #[error("transaction {hash}: gas limit {gas_limit} exceeds the {available} gas left in the block")]
    BlockGasExhausted {
        /// Transaction hash.
        hash: B256,
        /// Its gas limit.
        gas_limit: u64,
        /// Gas left in the block.
        available: u64,
    },
    /// The transaction's blobs exceed the blob gas the block has left.
    #[error("transaction {hash}: blob gas {blob_gas} exceeds the {available} blob gas left in the block")]
    BlobGasExhausted {
        /// Transaction hash.
        hash: B256,
        /// Its blob gas.
        blob_gas: u64,
        /// Blob gas left in the block.
        available: u64,
    },
    /// With this transaction the block's transactions alone would exceed the EIP-7934 block
    /// size limit.
    #[error("transaction {hash}: {size} bytes exceed the {available} bytes left in the block (EIP-7934)")]
    BlockSizeExceeded {
        /// Transaction hash.
        hash: B256,
        /// Its encoded size.
        size: usize,
        /// Bytes left in the block.
        available: usize,
    },
    /// The L1 rules reject the transaction: nonce, balance, intrinsic gas, fee below the base
    /// fee, wrong chain id, blob fee, type not active in the fork...
    #[error("transaction {hash}: {reason}")]
    Invalid {
        /// Transaction hash.
        hash: B256,
        /// revm's reason.
        reason: InvalidTransaction,
    },
    /// The state could not be read; the block cannot go on.
    #[error("transaction {hash}: state read failed: {reason}")]
    Database {
        /// Transaction hash.
        hash: B256,
        /// The database's error.
        reason: String,
    },
    /// revm failed for a reason that is not the transaction's (a fatal precompile error, a
    /// missing block environment field); the block cannot go on.
    #[error("transaction {hash}: evm failure: {reason}")]
    Evm {
        /// Transaction hash.
        hash: B256,
        /// revm's error.
        reason: String,
    },
}

impl TransactionError {
    /// The transaction did not fit what this block has left, but may fit a later, emptier
    /// block: a builder keeps it pooled.
    pub fn is_block_full(&self) -> bool {
        matches!(
            self,
            Self::BlockGasExhausted { .. } | Self::BlobGasExhausted { .. } | Self::BlockSizeExceeded { .. }
        )
    }

    /// The failure is the state's or the EVM's, not the transaction's: the block cannot go on.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Database { .. } | Self::Evm { .. })
    }

    /// Hash of the transaction that failed.
    pub fn hash(&self) -> B256 {
        match self {
            Self::BlockGasExhausted { hash, .. }
            | Self::BlobGasExhausted { hash, .. }
            | Self::BlockSizeExceeded { hash, .. }
            | Self::Invalid { hash, .. }
            | Self::Database { hash, .. }
            | Self::Evm { hash, .. } => *hash,
        }
    }
}

/// A read a [`MemoryState`](crate::memory_state::MemoryState) cannot answer.
#[cfg(any(test, feature = "test-utils"))]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryStateError {
    /// BLOCKHASH reached a block the state does not know.
    #[error("unknown hash of block {0}")]
    UnknownBlockHash(u64),
    /// An account names a code the state does not have.
    #[error("unknown code {0}")]
    UnknownCode(B256),
    /// A read outside the recorded accesses, when the state serves only those
    /// ([`RecordedState`](crate::memory_state::RecordedState)).
    #[error("read outside the recorded accesses: {0}")]
    NotRecorded(String),
    /// A code in the state is not valid bytecode (a malformed EIP-7702 designation).
    #[error("malformed code {hash}: {reason}")]
    MalformedCode {
        /// The code's hash.
        hash: B256,
        /// What is wrong with it.
        reason: String,
    },
}

#[cfg(any(test, feature = "test-utils"))]
impl revm::database_interface::DBErrorMarker for MemoryStateError {}
