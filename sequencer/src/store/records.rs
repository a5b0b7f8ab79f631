//! The rows the store writes and reads, as typed records.

use crate::error::StoreError;
use crate::{l1_follower::L1Block, mempool::blobs::BlobRecord};
use alloy_consensus::{Eip658Value, Header, Receipt, ReceiptEnvelope, TxEnvelope, TxType};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::U256;
use alloy_primitives::{Address, B256, Bytes, Log};
use alloy_rlp::{Decodable, Encodable};
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
    /// The blobs of the block's blob transactions, in block order (the L1 role only).
    pub blobs: Vec<BlobRecord>,
    /// The L1 block the header's `parent_beacon_block_root` names, recorded with its number
    /// and timestamp; `None` for an unanchored block (zero root).
    pub anchor: Option<L1Block>,
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
    /// The receipt as the store keeps it: its EIP-2718 encoding without the 256-byte logs
    /// bloom, which its logs give back: `[type] ‖ rlp([status, cumulative_gas_used, logs])`.
    /// A transfer's receipt shrinks from about 270 bytes to about 10.
    pub fn stored_receipt(&self) -> Vec<u8> {
        // Every envelope holds a receipt; a kind that did not would be kept whole.
        let Some(receipt) = self.receipt.as_receipt() else { return self.receipt.encoded_2718() };
        let payload_length =
            receipt.status.length() + receipt.cumulative_gas_used.length() + receipt.logs.length();
        let mut out = Vec::with_capacity(1 + payload_length + alloy_rlp::length_of_length(payload_length));
        let tx_type = self.receipt.tx_type();
        if tx_type != TxType::Legacy {
            out.push(tx_type as u8);
        }
        alloy_rlp::Header { list: true, payload_length }.encode(&mut out);
        receipt.status.encode(&mut out);
        receipt.cumulative_gas_used.encode(&mut out);
        receipt.logs.encode(&mut out);
        out
    }
}

/// Reads a receipt as [`TransactionRecord::stored_receipt`] writes it, or as the store wrote it
/// before (the full EIP-2718 encoding, bloom included).
fn decode_stored_receipt(bytes: &[u8]) -> Result<ReceiptEnvelope, StoreError> {
    let without_bloom = |mut buf: &[u8]| -> alloy_rlp::Result<ReceiptEnvelope> {
        let tx_type = match buf.first() {
            Some(&first) if first < alloy_rlp::EMPTY_LIST_CODE => {
                buf = &buf[1..];
                TxType::try_from(first).map_err(|_| alloy_rlp::Error::Custom("unknown receipt type"))?
            }
            _ => TxType::Legacy,
        };
        let header = alloy_rlp::Header::decode(&mut buf)?;
        if !header.list || header.payload_length != buf.len() {
            return Err(alloy_rlp::Error::Custom("not one receipt list"));
        }
        let receipt = Receipt {
            status: Eip658Value::decode(&mut buf)?,
            cumulative_gas_used: u64::decode(&mut buf)?,
            logs: Vec::<Log>::decode(&mut buf)?,
        };
        if !buf.is_empty() {
            return Err(alloy_rlp::Error::Custom("trailing receipt fields"));
        }
        Ok(ReceiptEnvelope::from_typed(tx_type, receipt.with_bloom()))
    };
    without_bloom(bytes)
        .or_else(|_| ReceiptEnvelope::decode_2718_exact(bytes))
        .map_err(|e| StoreError::Corrupt(format!("receipt: {e}")))
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
        let receipt = decode_stored_receipt(&receipt)?;
        let contract_address: Option<Vec<u8>> = row.try_get(7)?;
        Ok(Self {
            record: TransactionRecord {
                hash: b256(row, 0)?,
                sender: address(row, 3)?,
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

/// The header RLP-encoded in column `index`.
pub(super) fn decode_header(row: &AnyRow, index: usize) -> Result<Header, StoreError> {
    let raw: Vec<u8> = row.try_get(index)?;
    Header::decode(&mut raw.as_slice()).map_err(|e| StoreError::Corrupt(format!("header: {e}")))
}

/// The 32-byte word in column `index`.
pub(super) fn b256(row: &AnyRow, index: usize) -> Result<B256, StoreError> {
    let raw: Vec<u8> = row.try_get(index)?;
    B256::try_from(raw.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("expected 32 bytes, got {}", raw.len())))
}

/// The big-endian integer in column `index`.
pub(super) fn u256(row: &AnyRow, index: usize) -> Result<U256, StoreError> {
    let raw: Vec<u8> = row.try_get(index)?;
    U256::try_from_be_slice(&raw).ok_or_else(|| StoreError::Corrupt(format!("word of {} bytes", raw.len())))
}

/// The address in column `index`.
pub(super) fn address(row: &AnyRow, index: usize) -> Result<Address, StoreError> {
    let raw: Vec<u8> = row.try_get(index)?;
    Address::try_from(raw.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("address of {} bytes", raw.len())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloy_consensus::ReceiptWithBloom;
    use alloy_primitives::{LogData, address, b256};

    fn record(receipt: ReceiptEnvelope) -> TransactionRecord {
        TransactionRecord {
            hash: B256::ZERO,
            sender: Address::ZERO,
            raw: Bytes::new(),
            receipt,
            gas_used: 21_000,
            contract_address: None,
        }
    }

    #[test]
    fn receipts_are_stored_without_their_bloom_and_read_back_whole_in_either_form() {
        let log = Log {
            address: address!("00000000000000000000000000000000000000aa"),
            data: LogData::new_unchecked(
                vec![b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")],
                Bytes::from(vec![7; 32]),
            ),
        };
        let receipts = [
            (TxType::Legacy, Eip658Value::Eip658(true), 21_000, vec![]),
            (TxType::Eip2930, Eip658Value::Eip658(false), 50_000, vec![log.clone()]),
            (TxType::Eip1559, Eip658Value::Eip658(true), 1_000_000, vec![log.clone(), log]),
            (TxType::Eip7702, Eip658Value::Eip658(true), 30_000_000, vec![]),
        ];
        for (tx_type, status, cumulative_gas_used, logs) in receipts {
            let receipt = Receipt { status, cumulative_gas_used, logs };
            let envelope = ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::from(receipt));
            let record = record(envelope.clone());
            let stored = record.stored_receipt();
            assert!(
                stored.len() + 256 < envelope.encoded_2718().len(),
                "{tx_type:?}: the bloom is not stored"
            );
            assert_eq!(decode_stored_receipt(&stored).unwrap(), envelope, "{tx_type:?}");
            // Rows written before: the full EIP-2718 encoding.
            assert_eq!(decode_stored_receipt(&envelope.encoded_2718()).unwrap(), envelope, "{tx_type:?}");
        }
        assert!(decode_stored_receipt(&[0x02, 0xc1]).is_err());
        assert!(decode_stored_receipt(&[]).is_err());
    }
}
