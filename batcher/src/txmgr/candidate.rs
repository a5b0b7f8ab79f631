//! What the batcher hands the manager to send, and its signed form at one nonce and fees.

use crate::{BlobFees, build_blob_transaction};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::{eip2718::Encodable2718, eip7594::BlobTransactionSidecarVariant};
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;

/// A transaction to get included, before the manager picks its nonce and fees: an EIP-1559
/// transaction, or with a sidecar an EIP-4844 blob transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct TxCandidate {
    /// The recipient (the bridge contract).
    pub to: Address,
    /// The call data.
    pub input: Bytes,
    /// The gas limit, sized by the caller (the manager does not estimate it).
    pub gas_limit: u64,
    /// The wei sent along.
    pub value: U256,
    /// The blobs, their commitments and proofs, in the form the L1's fork wants; `None` for a
    /// transaction without blobs.
    pub sidecar: Option<BlobTransactionSidecarVariant>,
}

impl TxCandidate {
    /// A call of `to` with `input` and `gas_limit`, no value, no blobs.
    pub fn call(to: Address, input: Bytes, gas_limit: u64) -> Self {
        Self { to, input, gas_limit, value: U256::ZERO, sidecar: None }
    }

    /// Whether the transaction carries blobs (EIP-4844).
    pub fn has_blobs(&self) -> bool {
        self.sidecar.is_some()
    }

    /// The blob gas the transaction uses (zero without blobs).
    pub fn blob_gas(&self) -> u64 {
        self.sidecar.as_ref().map_or(0, |sidecar| {
            alloy_eips::eip4844::DATA_GAS_PER_BLOB.saturating_mul(sidecar.versioned_hashes().count() as u64)
        })
    }

    /// The most the transaction may cost its sender at `fees`: the gas limit at the max fee,
    /// the blob gas at the blob fee, and the value (what nodes check the balance against).
    pub fn max_cost(&self, fees: &BlobFees) -> U256 {
        U256::from(self.gas_limit)
            .saturating_mul(U256::from(fees.max_fee_per_gas))
            .saturating_add(U256::from(self.blob_gas()).saturating_mul(U256::from(fees.max_fee_per_blob_gas)))
            .saturating_add(self.value)
    }

    /// Signs the transaction at `nonce` with `fees` (the blob fee unused without blobs).
    /// Signing is deterministic (RFC 6979): the same candidate, nonce and fees give the same
    /// hash, which is how a restarted manager finds the transaction it sent before.
    pub fn sign(
        &self,
        signer: &PrivateKeySigner,
        chain_id: u64,
        nonce: u64,
        fees: BlobFees,
    ) -> Result<SignedTx, alloy_signer::Error> {
        if let Some(sidecar) = &self.sidecar {
            let tx = build_blob_transaction(
                signer,
                chain_id,
                nonce,
                self.to,
                self.input.clone(),
                self.value,
                self.gas_limit,
                fees,
                sidecar.clone(),
            )?;
            return Ok(SignedTx { hash: tx.hash, raw: tx.network_encoding, nonce, fees });
        }
        let mut tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            to: TxKind::Call(self.to),
            value: self.value,
            access_list: Default::default(),
            input: self.input.clone(),
        };
        let signature = signer.sign_transaction_sync(&mut tx)?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            raw: envelope.encoded_2718().into(),
            nonce,
            fees: BlobFees { max_fee_per_blob_gas: 0, ..fees },
        })
    }
}

/// A candidate signed at one nonce and fees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    /// Its hash (of the transaction without its sidecar, as the L1 hashes it).
    pub hash: B256,
    /// What `eth_sendRawTransaction` takes (with the sidecar for a blob transaction).
    pub raw: Bytes,
    /// Its nonce.
    pub nonce: u64,
    /// Its fees.
    pub fees: BlobFees,
}
