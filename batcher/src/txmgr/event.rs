//! What a send reports as it goes, and what a restarted batcher gives back to resume it.

use super::{Rejection, TxManagerError};
use crate::BlobFees;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::TransactionReceipt;
use serde::{Deserialize, Serialize};

/// A change of a send's state, reported to its [`TxObserver`] in order, each before the
/// manager acts on it (a `Signed` transaction is reported before it is broadcast), so that a
/// batcher that stores them can resume after a crash.
#[derive(Clone, Debug, PartialEq)]
pub enum TxEvent {
    /// The candidate was signed at a nonce: a new send, or the same send after its nonce was
    /// taken by another transaction (the hashes signed before can no longer be included).
    Signed {
        /// The transaction's hash.
        hash: B256,
        /// Its nonce.
        nonce: u64,
        /// Its fees.
        fees: BlobFees,
    },
    /// The L1 took a transaction into its pool (or already had it).
    Sent {
        /// The transaction's hash.
        hash: B256,
    },
    /// A replacement at the same nonce with higher fees was signed (it is broadcast next).
    Bumped {
        /// The replacement's hash.
        hash: B256,
        /// Its nonce (the send's).
        nonce: u64,
        /// Its fees.
        fees: BlobFees,
    },
    /// One of the send's transactions is in a block (not yet confirmed).
    Included {
        /// The included transaction's hash.
        hash: B256,
        /// The block's number.
        block_number: u64,
        /// The block's hash.
        block_hash: B256,
    },
    /// The block that included the transaction left the chain before the confirmation depth:
    /// the send is back to sent, and the transaction is sent again at the same nonce.
    Reorged {
        /// The transaction's hash.
        hash: B256,
        /// The number of the block that left the chain.
        block_number: u64,
        /// Its hash.
        block_hash: B256,
    },
    /// The transaction's block has the configured confirmations on top: the send is done.
    /// The receipt may show a reverted call: the manager gets transactions included, the
    /// caller judges their outcome.
    Confirmed {
        /// The transaction's receipt.
        receipt: Box<TransactionReceipt>,
    },
    /// The send is held up, and keeps trying: reported once when it starts waiting and again
    /// when the reason changes.
    Waiting {
        /// Why.
        reason: WaitReason,
    },
    /// The send ended without an included transaction.
    Failed {
        /// Why.
        error: TxManagerError,
    },
}

/// Why a send is held up.
#[derive(Clone, Debug, PartialEq)]
pub enum WaitReason {
    /// The least replacement nodes take would pass a fee cap: the sent transaction waits for
    /// inclusion, or for the L1's fees to drop.
    FeeCap {
        /// The fees the replacement would need.
        needed: BlobFees,
        /// The cap on the max fee per gas.
        max_fee_per_gas_cap: u128,
        /// The cap on the max fee per blob gas.
        max_fee_per_blob_gas_cap: u128,
    },
    /// The sender cannot pay for the transaction: it is sent again after the retry delay,
    /// until someone funds it.
    InsufficientFunds {
        /// The sender's balance when the L1 refused the transaction (zero if it could not be
        /// read).
        balance: U256,
        /// The most the transaction may cost (gas limit at the max fee, blob gas at the blob
        /// fee, value).
        cost: U256,
    },
    /// The sender has pooled transactions of the other kind (blob or non-blob), which geth
    /// does not mix: sent again once they are out of the pool.
    AddressReserved,
    /// The L1 refused the transaction for a reason the manager does not know: sent again
    /// after the retry delay.
    Refused {
        /// The refusal.
        rejection: Rejection,
    },
    /// The L1 could not be reached, or answered late or oddly: asked again after the retry
    /// delay.
    L1 {
        /// The error.
        error: TxManagerError,
    },
}

impl WaitReason {
    /// A short stable name of the reason, for logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::FeeCap { .. } => "fee_cap",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::AddressReserved => "address_reserved",
            Self::Refused { .. } => "refused",
            Self::L1 { .. } => "l1",
        }
    }
}

/// Receives a send's events. Called on the send's task, in order, before the manager acts on
/// the event: an observer that stores events should be quick (or hand them to a channel).
pub trait TxObserver: Send + Sync {
    /// Takes one event.
    fn observe(&self, event: &TxEvent);
}

impl<F: Fn(&TxEvent) + Send + Sync> TxObserver for F {
    fn observe(&self, event: &TxEvent) {
        self(event)
    }
}

/// An observer that drops every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl TxObserver for NoObserver {
    fn observe(&self, _event: &TxEvent) {}
}

/// What a batcher stored of a send before a restart: its nonce, the fees it last signed, and
/// every hash it signed at that nonce. Handed back to [`super::TxManager::send`], it makes the
/// manager watch (and send again) the same nonce rather than sign a second transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorSend {
    /// The nonce.
    pub nonce: u64,
    /// The fees of the last signed transaction (with the same candidate, it is signed again
    /// to the same hash).
    pub fees: BlobFees,
    /// Every hash signed at the nonce: any of them may be in a block.
    pub hashes: Vec<B256>,
}

impl PriorSend {
    /// Folds one event into what a restart needs: a `Signed` starts over at its nonce, a
    /// `Bumped` adds its hash and fees; the other events change nothing.
    pub fn record(prior: &mut Option<Self>, event: &TxEvent) {
        match event {
            TxEvent::Signed { hash, nonce, fees } => {
                *prior = Some(Self { nonce: *nonce, fees: *fees, hashes: vec![*hash] });
            }
            TxEvent::Bumped { hash, nonce, fees } => match prior {
                Some(known) if known.nonce == *nonce => {
                    known.fees = *fees;
                    if !known.hashes.contains(hash) {
                        known.hashes.push(*hash);
                    }
                }
                _ => *prior = Some(Self { nonce: *nonce, fees: *fees, hashes: vec![*hash] }),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prior_send_keeps_every_hash_of_its_nonce() {
        let fees =
            |n: u128| BlobFees { max_fee_per_gas: n, max_priority_fee_per_gas: n, max_fee_per_blob_gas: 0 };
        let mut prior = None;
        for event in [
            TxEvent::Signed { hash: B256::repeat_byte(1), nonce: 4, fees: fees(10) },
            TxEvent::Sent { hash: B256::repeat_byte(1) },
            TxEvent::Bumped { hash: B256::repeat_byte(2), nonce: 4, fees: fees(11) },
        ] {
            PriorSend::record(&mut prior, &event);
        }
        assert_eq!(
            prior,
            Some(PriorSend {
                nonce: 4,
                fees: fees(11),
                hashes: vec![B256::repeat_byte(1), B256::repeat_byte(2)]
            })
        );
        // Its nonce taken by another transaction, the send starts over at a new one.
        PriorSend::record(
            &mut prior,
            &TxEvent::Signed { hash: B256::repeat_byte(3), nonce: 5, fees: fees(12) },
        );
        assert_eq!(prior, Some(PriorSend { nonce: 5, fees: fees(12), hashes: vec![B256::repeat_byte(3)] }));
    }
}
