//! Signed transactions as revm's transaction environment.

use alloy_consensus::{Transaction, TxEnvelope, transaction::Recovered};
use revm::context::{TxEnv, either::Either};

/// The revm environment of a recovered transaction of type 0 (legacy), 1 (EIP-2930),
/// 2 (EIP-1559), 3 (EIP-4844) or 4 (EIP-7702).
///
/// The sender is taken from `tx` as recovered: the caller vouches for it. EIP-7702
/// authorizations stay signed, so that revm recovers each authority itself and skips the ones
/// whose signature does not recover (as the EIP requires), instead of the block failing.
pub fn tx_env(tx: &Recovered<TxEnvelope>) -> TxEnv {
    let inner = tx.inner();
    TxEnv {
        tx_type: inner.tx_type() as u8,
        caller: tx.signer(),
        gas_limit: inner.gas_limit(),
        // The gas price of types 0 and 1, the max fee per gas of the others.
        gas_price: inner.max_fee_per_gas(),
        kind: inner.kind(),
        value: inner.value(),
        data: inner.input().clone(),
        nonce: inner.nonce(),
        // `None` for a legacy transaction signed before EIP-155: it is valid on any chain.
        chain_id: inner.chain_id(),
        access_list: inner.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: inner.max_priority_fee_per_gas(),
        blob_hashes: inner.blob_versioned_hashes().map(<[_]>::to_vec).unwrap_or_default(),
        max_fee_per_blob_gas: inner.max_fee_per_blob_gas().unwrap_or_default(),
        authorization_list: inner
            .authorization_list()
            .map(|list| list.iter().cloned().map(Either::Left).collect())
            .unwrap_or_default(),
    }
}
