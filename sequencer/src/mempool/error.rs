//! Why the pool refuses a transaction.

use alloy_primitives::{Address, U256};

/// Why the pool refused a transaction. Each message starts with the text geth returns, which
/// wallets and libraries match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The same transaction is already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// A transaction with this nonce is pooled and the new one does not raise both fee fields
    /// by the configured bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The nonce is below the sender's account nonce.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// The account's nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The nonce is the largest possible (EIP-2681).
    #[error("nonce has max value")]
    NonceMax,
    /// The priority fee is below the pool's minimum.
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {min}")]
    Underpriced {
        /// The transaction's max priority fee per gas (gas price for legacy types).
        tip: u128,
        /// The configured minimum.
        min: u128,
    },
    /// The pool is full of transactions that pay more than this one.
    #[error(
        "transaction underpriced: txpool is full and the transaction pays no more than the cheapest pooled one"
    )]
    PoolFull,
    /// The sender cannot pay for this transaction on top of its pending ones.
    #[error(
        "insufficient funds for gas * price + value: balance {balance}, queued cost {queued}, tx cost {cost}"
    )]
    InsufficientFunds {
        /// The sender's balance.
        balance: U256,
        /// Cost of the sender's pending transactions it comes after.
        queued: U256,
        /// `gas_limit * max_fee_per_gas + value` of this transaction.
        cost: U256,
    },
    /// The gas limit is above the block gas limit.
    #[error("exceeds block gas limit: gas {gas}, block gas limit {limit}")]
    ExceedsBlockGasLimit {
        /// The transaction's gas limit.
        gas: u64,
        /// The block gas limit.
        limit: u64,
    },
    /// The gas limit does not cover the intrinsic cost.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// Its intrinsic gas.
        needed: u64,
    },
    /// The gas limit covers the intrinsic cost but not the EIP-7623 calldata floor.
    #[error("insufficient gas for floor data gas cost: gas {gas}, minimum needed {needed}")]
    FloorDataGas {
        /// The transaction's gas limit.
        gas: u64,
        /// Its calldata floor.
        needed: u64,
    },
    /// The gas limit is above the EIP-7825 cap on one transaction's gas.
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// The transaction's gas limit.
        gas: u64,
        /// The cap.
        cap: u64,
    },
    /// Signed without a chain id, and the pool takes only replay-protected transactions.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// The encoded transaction is larger than the pool accepts.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData {
        /// Encoded size in bytes.
        size: usize,
        /// The configured maximum.
        limit: usize,
    },
    /// The transaction is signed for another chain.
    #[error("invalid chain id: expected {expected}, got {got}")]
    InvalidChainId {
        /// This chain's id.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Blob transactions have no place on the L2.
    #[error("transaction type not supported: blob transactions are not accepted on L2")]
    TxTypeNotSupported,
    /// A blob transaction without blobs.
    #[error("blobless blob transaction")]
    BlobTxWithoutBlobs,
    /// A blob transaction with more blobs than the fork allows one transaction.
    #[error("too many blobs in transaction: have {have}, permitted {max}")]
    TooManyBlobs {
        /// Its blobs.
        have: usize,
        /// The fork's maximum per transaction.
        max: u64,
    },
    /// A blob transaction sent without its sidecar (not in network form).
    #[error("missing sidecar in blob transaction")]
    MissingSidecar,
    /// A blob transaction's sidecar does not match its versioned hashes or its proofs fail.
    #[error("invalid blob sidecar: {0}")]
    InvalidSidecar(String),
    /// The blob fee cap is below the next block's blob base fee.
    #[error(
        "max fee per blob gas less than block blob gas fee: max fee per blob gas {cap}, blob base fee {blob_base_fee}"
    )]
    BlobFeeCapTooLow {
        /// The transaction's cap.
        cap: u128,
        /// The next block's blob base fee.
        blob_base_fee: u128,
    },
    /// The sender has pooled transactions of the other kind (blob or non-blob).
    #[error("address already reserved")]
    AlreadyReserved,
    /// The max priority fee is above the max fee.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// A contract creation with init code above the EIP-3860 limit.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitCodeTooLarge {
        /// Init code size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An EIP-7702 transaction without authorizations.
    #[error("set code tx must have at least one authorization tuple")]
    EmptyAuthorizationList,
    /// The sender already has as many pooled transactions as one sender may.
    #[error("account limit exceeded: {pooled} pooled transactions, at most {max} per sender")]
    AccountLimitExceeded {
        /// The sender's pooled transactions.
        pooled: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A delegated account (or one with a pooled authorization) sent a nonce that is not its
    /// next one.
    #[error("gapped-nonce tx from delegated accounts")]
    GappedNonceFromDelegated,
    /// A delegated account (or one with a pooled authorization) already has a transaction in
    /// flight.
    #[error("in-flight transaction limit reached for delegated accounts")]
    InflightTxLimitReached,
    /// Admitted only if executable next (EIP-7966), and the nonce is past the sender's next.
    #[error("nonce gap: the sender's next nonce is {expected}, the transaction's {got}")]
    NonceGap {
        /// The sender's next nonce after its pending transactions.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// An authorization names an account that already has more than one pooled transaction.
    #[error("authority already reserved: {authority} has pooled transactions")]
    AuthorityReserved {
        /// The authority.
        authority: Address,
    },
}

impl PoolError {
    /// A short stable name of the refusal, for metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::AlreadyKnown => "already_known",
            Self::ReplacementUnderpriced => "replacement_underpriced",
            Self::NonceTooLow { .. } => "nonce_too_low",
            Self::NonceMax => "nonce_max",
            Self::Underpriced { .. } => "underpriced",
            Self::PoolFull => "pool_full",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::ExceedsBlockGasLimit { .. } => "exceeds_block_gas_limit",
            Self::IntrinsicGasTooLow { .. } => "intrinsic_gas_too_low",
            Self::FloorDataGas { .. } => "floor_data_gas",
            Self::GasLimitTooHigh { .. } => "gas_limit_too_high",
            Self::Unprotected => "unprotected",
            Self::OversizedData { .. } => "oversized_data",
            Self::InvalidChainId { .. } => "invalid_chain_id",
            Self::TxTypeNotSupported => "tx_type_not_supported",
            Self::BlobTxWithoutBlobs => "blobless_blob_tx",
            Self::TooManyBlobs { .. } => "too_many_blobs",
            Self::MissingSidecar => "missing_sidecar",
            Self::InvalidSidecar(_) => "invalid_sidecar",
            Self::BlobFeeCapTooLow { .. } => "blob_fee_cap_too_low",
            Self::AlreadyReserved => "already_reserved",
            Self::TipAboveFeeCap => "tip_above_fee_cap",
            Self::InitCodeTooLarge { .. } => "init_code_too_large",
            Self::EmptyAuthorizationList => "empty_authorization_list",
            Self::AccountLimitExceeded { .. } => "account_limit_exceeded",
            Self::GappedNonceFromDelegated => "gapped_nonce_from_delegated",
            Self::InflightTxLimitReached => "inflight_limit_reached",
            Self::AuthorityReserved { .. } => "authority_reserved",
            Self::NonceGap { .. } => "nonce_gap",
        }
    }
}
