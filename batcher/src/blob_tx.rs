//! Type-3 (EIP-4844) transactions that carry trace blobs to L1: signed over the transaction
//! without its sidecar, sent in the network form with it.

use alloy_consensus::{SignableTransaction, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar, TxEnvelope};
use alloy_eips::{eip2718::Encodable2718, eip7594::BlobTransactionSidecarVariant};
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;

/// The fees a transaction offers (the blob fee is unused, and zero, on a transaction without
/// blobs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlobFees {
    /// Max fee per gas (EIP-1559).
    pub max_fee_per_gas: u128,
    /// Max priority fee per gas (EIP-1559).
    pub max_priority_fee_per_gas: u128,
    /// Max fee per blob gas (EIP-4844).
    pub max_fee_per_blob_gas: u128,
}

/// A signed blob transaction.
#[derive(Clone, Debug)]
pub struct BlobTransaction {
    /// The transaction hash (of the transaction without its sidecar, as L1 hashes it).
    pub hash: B256,
    /// The signed transaction with its sidecar.
    pub envelope: TxEnvelope,
    /// Its network encoding, with the sidecar: what `eth_sendRawTransaction` takes.
    pub network_encoding: Bytes,
}

/// Signs a blob transaction from `signer` to `to` with `input` and `value`, carrying
/// `sidecar`; its versioned hashes are the sidecar's.
#[allow(clippy::too_many_arguments)]
pub fn build_blob_transaction(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: Address,
    input: Bytes,
    value: U256,
    gas_limit: u64,
    fees: BlobFees,
    sidecar: BlobTransactionSidecarVariant,
) -> Result<BlobTransaction, alloy_signer::Error> {
    let mut tx = TxEip4844 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to,
        value,
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: fees.max_fee_per_blob_gas,
        input,
    };
    let signature = signer.sign_transaction_sync(&mut tx)?;
    let with_sidecar =
        TxEip4844Variant::TxEip4844WithSidecar(TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar));
    let signed = with_sidecar.into_signed(signature);
    let hash = *signed.hash();
    let envelope = TxEnvelope::Eip4844(signed);
    let network_encoding = envelope.encoded_2718().into();
    Ok(BlobTransaction { hash, envelope, network_encoding })
}
