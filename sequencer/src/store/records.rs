//! The rows the store writes and reads, as typed records.

use crate::error::StoreError;
use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes};
use sqlx::{Row, any::AnyRow};
use trace_builder::{StateAccess, StateChanges, trie::CommittedNode};

/// A sealed block and everything that is committed with it.
#[derive(Clone, Debug)]
pub struct BlockRecord {
    /// The sealed header.
    pub header: Header,
    /// `keccak256(rlp(header))`.
    pub hash: B256,
    /// Transactions in block order with their receipts.
    pub transactions: Vec<TransactionRecord>,
    /// What the block changed in the state.
    pub changes: StateChanges,
    /// What the block read from the state before it (for its trace's witness).
    pub access: StateAccess,
    /// Trie nodes created by the block, at the locations the store keeps them.
    pub trie_nodes: Vec<CommittedNode>,
}

/// A transaction included in a block, with its outcome.
#[derive(Clone, Debug)]
pub struct TransactionRecord {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub sender: Address,
    /// EIP-2718 encoding.
    pub raw: Bytes,
    /// The consensus receipt (status, cumulative gas, logs, bloom).
    pub receipt: ReceiptEnvelope,
    /// Gas this transaction used.
    pub gas_used: u64,
    /// Address of the contract it created, if any.
    pub contract_address: Option<Address>,
}

impl TransactionRecord {
    /// EIP-2718 encoding of the receipt.
    pub fn encoded_receipt(&self) -> Vec<u8> {
        self.receipt.encoded_2718()
    }
}

/// A transaction as read back from the store, with its position.
#[derive(Clone, Debug)]
pub struct StoredTransaction {
    /// The transaction and its receipt.
    pub record: TransactionRecord,
    /// The decoded transaction.
    pub transaction: TxEnvelope,
    /// Number of the block that includes it.
    pub block_number: u64,
    /// Index within that block.
    pub index: u64,
}

impl StoredTransaction {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let raw: Vec<u8> = row.try_get(4)?;
        let receipt: Vec<u8> = row.try_get(5)?;
        let transaction = TxEnvelope::decode_2718(&mut raw.as_slice())
            .map_err(|e| StoreError::Corrupt(format!("transaction: {e}")))?;
        let receipt = ReceiptEnvelope::decode_2718(&mut receipt.as_slice())
            .map_err(|e| StoreError::Corrupt(format!("receipt: {e}")))?;
        let contract_address: Option<Vec<u8>> = row.try_get(7)?;
        Ok(Self {
            record: TransactionRecord {
                hash: super::b256(row, 0)?,
                sender: super::address(row, 3)?,
                raw: raw.into(),
                receipt,
                gas_used: row.try_get::<i64, _>(6)? as u64,
                contract_address: contract_address
                    .map(|a| Address::try_from(a.as_slice()))
                    .transpose()
                    .map_err(|_| StoreError::Corrupt("contract address".into()))?,
            },
            transaction,
            block_number: row.try_get::<i64, _>(1)? as u64,
            index: row.try_get::<i64, _>(2)? as u64,
        })
    }
}
