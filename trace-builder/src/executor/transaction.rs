//! Signed transactions as revm's transaction environment.

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::TxKind;
use revm::context::{TxEnv, either::Either};

/// The revm environment of a recovered transaction of type 0 (legacy), 1 (EIP-2930),
/// 2 (EIP-1559), 3 (EIP-4844) or 4 (EIP-7702).
///
/// The sender is taken from `tx` as recovered: the caller vouches for it. EIP-7702
/// authorizations stay signed, so that revm recovers each authority itself and skips the ones
/// whose signature does not recover (as the EIP requires), instead of the block failing.
pub fn tx_env(tx: &Recovered<TxEnvelope>) -> TxEnv {
    let caller = tx.signer();
    match tx.inner() {
        TxEnvelope::Legacy(signed) => {
            let t = signed.tx();
            TxEnv {
                tx_type: 0,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.gas_price,
                kind: t.to,
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                // `None` for a transaction signed before EIP-155: it is valid on any chain.
                chain_id: t.chain_id,
                access_list: Default::default(),
                gas_priority_fee: None,
                blob_hashes: Vec::new(),
                max_fee_per_blob_gas: 0,
                authorization_list: Vec::new(),
            }
        }
        TxEnvelope::Eip2930(signed) => {
            let t = signed.tx();
            TxEnv {
                tx_type: 1,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.gas_price,
                kind: t.to,
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: Some(t.chain_id),
                access_list: t.access_list.clone(),
                gas_priority_fee: None,
                blob_hashes: Vec::new(),
                max_fee_per_blob_gas: 0,
                authorization_list: Vec::new(),
            }
        }
        TxEnvelope::Eip1559(signed) => {
            let t = signed.tx();
            TxEnv {
                tx_type: 2,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.max_fee_per_gas,
                kind: t.to,
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: Some(t.chain_id),
                access_list: t.access_list.clone(),
                gas_priority_fee: Some(t.max_priority_fee_per_gas),
                blob_hashes: Vec::new(),
                max_fee_per_blob_gas: 0,
                authorization_list: Vec::new(),
            }
        }
        TxEnvelope::Eip4844(signed) => {
            // With or without a sidecar: the sidecar does not take part in execution.
            let t = signed.tx().tx();
            TxEnv {
                tx_type: 3,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.max_fee_per_gas,
                kind: TxKind::Call(t.to),
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: Some(t.chain_id),
                access_list: t.access_list.clone(),
                gas_priority_fee: Some(t.max_priority_fee_per_gas),
                blob_hashes: t.blob_versioned_hashes.clone(),
                max_fee_per_blob_gas: t.max_fee_per_blob_gas,
                authorization_list: Vec::new(),
            }
        }
        TxEnvelope::Eip7702(signed) => {
            let t = signed.tx();
            TxEnv {
                tx_type: 4,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.max_fee_per_gas,
                kind: TxKind::Call(t.to),
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: Some(t.chain_id),
                access_list: t.access_list.clone(),
                gas_priority_fee: Some(t.max_priority_fee_per_gas),
                blob_hashes: Vec::new(),
                max_fee_per_blob_gas: 0,
                authorization_list: t.authorization_list.iter().cloned().map(Either::Left).collect(),
            }
        }
    }
}
