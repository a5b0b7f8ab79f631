//! What an L1 node's refusal of `eth_sendRawTransaction` means, read from its text.
//!
//! Nodes answer a refused transaction with a JSON-RPC error whose code says little (-32000,
//! -32003, -32602 for the same refusal on different clients) and whose message starts with
//! geth's wording, which wallets and libraries match on. The classes below are what the
//! manager does about a refusal; the patterns are geth's, reth's, Anvil's and this project's
//! node's (`sequencer/src/mempool/error.rs`), matched case-insensitively anywhere in the
//! message, so that a prefix or suffix a client adds does not hide them.

use std::fmt;

/// What a refusal asks of the manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectionClass {
    /// The node already holds this exact transaction: it counts as sent.
    AlreadyKnown,
    /// The nonce is below the account's: one of the sender's transactions at this nonce is in
    /// a block, ours (then it is included) or another (then the nonce is taken again).
    NonceTooLow,
    /// The nonce is past the sender's next one (a gap): the nonce is taken again from the L1.
    NonceTooHigh,
    /// The fees are below what the node takes (the base fee, the blob base fee, its minimum
    /// tip, or what a full pool holds): the fees are bumped.
    Underpriced,
    /// A transaction at this nonce is pooled and this one does not raise its fees enough: the
    /// fees are bumped further.
    ReplacementUnderpriced,
    /// The sender cannot pay `gas * price + value` (and blob gas): retried after a delay,
    /// until someone funds it.
    InsufficientFunds,
    /// The sender has pooled transactions of the other kind (blob or non-blob, geth's blob
    /// pool rule): retried once they are out of the pool.
    AddressReserved,
    /// The gas limit is above the block gas limit (or the per-transaction cap): the
    /// transaction can never be included as it is.
    ExceedsBlockGasLimit,
    /// The gas limit is below the intrinsic gas (or the calldata floor): the transaction can
    /// never be included as it is.
    IntrinsicGasTooLow,
    /// Anything else wrong with the transaction itself (chain id, size, sidecar, fee fields):
    /// it can never be included as it is.
    Invalid,
    /// A refusal this manager does not know: retried after a delay, counted.
    Unknown,
}

impl RejectionClass {
    /// Every class, for metrics set up at start.
    pub const ALL: [Self; 11] = [
        Self::AlreadyKnown,
        Self::NonceTooLow,
        Self::NonceTooHigh,
        Self::Underpriced,
        Self::ReplacementUnderpriced,
        Self::InsufficientFunds,
        Self::AddressReserved,
        Self::ExceedsBlockGasLimit,
        Self::IntrinsicGasTooLow,
        Self::Invalid,
        Self::Unknown,
    ];

    /// Whether the transaction, as built, can never be included: the send fails.
    pub fn is_permanent(self) -> bool {
        matches!(self, Self::ExceedsBlockGasLimit | Self::IntrinsicGasTooLow | Self::Invalid)
    }

    /// A short stable name, for metrics labels and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::AlreadyKnown => "already_known",
            Self::NonceTooLow => "nonce_too_low",
            Self::NonceTooHigh => "nonce_too_high",
            Self::Underpriced => "underpriced",
            Self::ReplacementUnderpriced => "replacement_underpriced",
            Self::InsufficientFunds => "insufficient_funds",
            Self::AddressReserved => "address_reserved",
            Self::ExceedsBlockGasLimit => "exceeds_block_gas_limit",
            Self::IntrinsicGasTooLow => "intrinsic_gas_too_low",
            Self::Invalid => "invalid",
            Self::Unknown => "unknown",
        }
    }

    /// The class of a refusal's message.
    pub fn of_message(message: &str) -> Self {
        let message = message.to_ascii_lowercase();
        PATTERNS
            .iter()
            .find(|(_, needles)| needles.iter().any(|needle| message.contains(needle)))
            .map_or(Self::Unknown, |(class, _)| *class)
    }
}

impl fmt::Display for RejectionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Lower-case fragments of each class's messages, in the order they are tried: the more
/// specific first ("replacement transaction underpriced" before "underpriced").
const PATTERNS: &[(RejectionClass, &[&str])] = &[
    (
        RejectionClass::AlreadyKnown,
        &[
            "already known",              // geth, reth, this node
            "already imported",           // Anvil
            "known transaction",          // older geth
            "transaction already exists", // some pools
        ],
    ),
    (
        RejectionClass::ReplacementUnderpriced,
        &[
            "replacement transaction underpriced", // geth, reth, Anvil, this node
            "insufficient gas price to replace",   // Anvil's pool
        ],
    ),
    (RejectionClass::NonceTooLow, &["nonce too low"]),
    (
        RejectionClass::NonceTooHigh,
        &[
            "nonce too high", // geth, reth, Anvil
            "nonce gap",      // this node (a transaction that must be next, EIP-7966)
        ],
    ),
    (RejectionClass::InsufficientFunds, &["insufficient funds"]),
    (
        RejectionClass::AddressReserved,
        &[
            "address already reserved",                // geth, reth, this node
            "conflicts with existing transaction for", // reth's pool, before its RPC wording
        ],
    ),
    (
        RejectionClass::ExceedsBlockGasLimit,
        &[
            "exceeds block gas limit",                       // geth, reth, this node
            "gas limit is greater than the block gas limit", // Anvil
            "transaction gas limit too high",                // geth, this node (EIP-7825 cap)
            "intrinsic gas too high",                        // Anvil
        ],
    ),
    (
        RejectionClass::IntrinsicGasTooLow,
        &[
            "intrinsic gas too low",                    // geth, reth, Anvil, this node
            "insufficient gas for floor data gas cost", // geth, this node (EIP-7623)
        ],
    ),
    (
        RejectionClass::Underpriced,
        &[
            "transaction underpriced",                             // geth, reth, this node
            "max fee per gas less than block base fee",            // geth, reth, Anvil
            "fee cap less than block base fee",                    // older geth
            "max fee per blob gas less than block blob gas fee",   // geth, reth, this node
            "is greater than tx-specified `max_fee_per_blob_gas`", // Anvil
            "gas price below minimum",                             // geth (--miner.gasprice)
            "gas tip cap below minimum",
            "txpool is full", // reth
        ],
    ),
    (
        RejectionClass::Invalid,
        &[
            "invalid chain id",
            "incompatible eip-155",
            "only replay-protected",
            "invalid sender",
            "oversized data",
            "max initcode size exceeded",
            "max priority fee per gas higher than max fee per gas",
            "nonce has max value",
            "sidecar",
            "too many blobs",
            "blobless blob transaction",
            "transaction type not supported",
            "not supported by the current hardfork",
            "negative value",
            "failed to decode", // Anvil, an encoding the node cannot read
            "rlp:",             // geth, likewise
        ],
    ),
];

/// A node's refusal of a transaction: its class, and its code and message as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// What the refusal asks of the manager.
    pub class: RejectionClass,
    /// The JSON-RPC error code.
    pub code: i64,
    /// The node's message.
    pub message: String,
}

impl Rejection {
    /// Classifies a JSON-RPC error answer to `eth_sendRawTransaction`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        let message = message.into();
        Self { class: RejectionClass::of_message(&message), code, message }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, code {})", self.message, self.class, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::RejectionClass::{self, *};

    /// Messages as geth, reth, Anvil and this project's node send them.
    const MESSAGES: &[(&str, RejectionClass)] = &[
        ("already known", AlreadyKnown),
        ("transaction already imported", AlreadyKnown),
        ("Tx: [0x12…] already Imported", AlreadyKnown),
        ("known transaction: 0xabc", AlreadyKnown),
        ("replacement transaction underpriced", ReplacementUnderpriced),
        (
            "replacement transaction underpriced: new tx blob gas fee cap 2 <= 1 queued + 100% replacement penalty",
            ReplacementUnderpriced,
        ),
        ("Tx: [0x12] insufficient gas price to replace existing transaction", ReplacementUnderpriced),
        ("nonce too low", NonceTooLow),
        ("nonce too low: next nonce 5, tx nonce 3", NonceTooLow),
        ("nonce too low: address 0xab, tx: 3 state: 5", NonceTooLow),
        ("Nonce too high", NonceTooHigh),
        ("nonce too high: tx nonce 9, gapped nonce 7", NonceTooHigh),
        ("nonce gap: the sender's next nonce is 4, the transaction's 6", NonceTooHigh),
        ("insufficient funds for gas * price + value", InsufficientFunds),
        ("Insufficient funds for gas * price + value", InsufficientFunds),
        (
            "insufficient funds for gas * price + value: balance 1, queued cost 0, tx cost 2100000",
            InsufficientFunds,
        ),
        ("insufficient funds for gas * price + value: address 0xab have 1 want 2", InsufficientFunds),
        ("insufficient funds for transfer", InsufficientFunds),
        ("address already reserved", AddressReserved),
        ("transaction type 3 conflicts with existing transaction for 0xab", AddressReserved),
        ("exceeds block gas limit", ExceedsBlockGasLimit),
        ("exceeds block gas limit: gas 40000000, block gas limit 30000000", ExceedsBlockGasLimit),
        (
            "Transaction gas limit is greater than the block gas limit, gas_limit: 9, cap: 8",
            ExceedsBlockGasLimit,
        ),
        ("transaction gas limit too high (cap: 16777216, tx: 20000000)", ExceedsBlockGasLimit),
        ("intrinsic gas too high -- CallerGasLimitMoreThanBlock", ExceedsBlockGasLimit),
        ("intrinsic gas too low", IntrinsicGasTooLow),
        ("intrinsic gas too low: gas 20000, minimum needed 21000", IntrinsicGasTooLow),
        ("insufficient gas for floor data gas cost: gas 21000, minimum needed 25000", IntrinsicGasTooLow),
        ("transaction underpriced", Underpriced),
        ("transaction underpriced: gas tip cap 0, minimum needed 1", Underpriced),
        (
            "transaction underpriced: txpool is full and the transaction pays no more than the cheapest pooled one",
            Underpriced,
        ),
        ("max fee per gas less than block base fee", Underpriced),
        ("max fee per gas less than block base fee: address 0xab, maxFeePerGas: 1, baseFee: 7", Underpriced),
        (
            "max fee per blob gas less than block blob gas fee: max fee per blob gas 1, blob base fee 2",
            Underpriced,
        ),
        ("Block `blob_gas_price` is greater than tx-specified `max_fee_per_blob_gas`", Underpriced),
        ("transaction gas price below minimum: gas tip cap 1, minimum needed 2", Underpriced),
        ("txpool is full", Underpriced),
        ("invalid chain id: expected 900, got 1", Invalid),
        ("oversized data: transaction size 200000, limit 131072", Invalid),
        ("max priority fee per gas higher than max fee per gas", Invalid),
        ("invalid blob sidecar: proof mismatch", Invalid),
        ("missing sidecar in blob transaction", Invalid),
        ("too many blobs in transaction: have 7, permitted 6", Invalid),
        ("transaction type not supported: blob transactions are not accepted on L2", Invalid),
        ("Failed to decode transaction", Invalid),
        ("rlp: expected input list for types.BlobTx", Invalid),
        ("account limit exceeded: 16 pooled transactions, at most 16 per sender", Unknown),
        ("internal error", Unknown),
        ("", Unknown),
    ];

    #[test]
    fn every_known_message_has_its_class() {
        for (message, class) in MESSAGES {
            assert_eq!(RejectionClass::of_message(message), *class, "{message:?}");
        }
    }

    #[test]
    fn only_refusals_of_the_transaction_itself_are_permanent() {
        let permanent: Vec<_> =
            RejectionClass::ALL.into_iter().filter(|class| class.is_permanent()).collect();
        assert_eq!(permanent, [ExceedsBlockGasLimit, IntrinsicGasTooLow, Invalid]);
        let labels: std::collections::HashSet<_> =
            RejectionClass::ALL.iter().map(|class| class.label()).collect();
        assert_eq!(labels.len(), RejectionClass::ALL.len());
    }
}
