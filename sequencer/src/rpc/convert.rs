//! Stored blocks, transactions and receipts in the shapes of the execution-apis.

use crate::store::StoredTransaction;
use alloy_consensus::{Header, ReceiptEnvelope, Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::B256;
use alloy_rpc_types_eth::{Block, BlockTransactions, Log, Transaction, TransactionReceipt};
use trace_builder::ChainConfig;

/// A block with transaction hashes, or full transactions when `full`.
pub(super) fn block(header: Header, transactions: &[StoredTransaction], full: bool) -> Block {
    let hash = header.hash_slow();
    let body_size = transactions.iter().map(|tx| tx.record.raw.len()).sum::<usize>();
    let transactions = if full {
        BlockTransactions::Full(transactions.iter().map(|tx| mined_transaction(tx, &header, hash)).collect())
    } else {
        BlockTransactions::Hashes(transactions.iter().map(|tx| tx.record.hash).collect())
    };
    block_of(header, hash, transactions, body_size)
}

/// A block in the execution-apis shape: `header` (whose hash is `hash`) and its transactions,
/// whose encodings take `body_size` bytes.
pub(super) fn block_of(
    header: Header,
    hash: B256,
    transactions: BlockTransactions<Transaction>,
    body_size: usize,
) -> Block {
    let size = alloy_rlp::Encodable::length(&header) + body_size;
    Block {
        header: alloy_rpc_types_eth::Header {
            hash,
            inner: header,
            total_difficulty: Some(Default::default()),
            size: Some(alloy_primitives::U256::from(size)),
        },
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}

/// A mined transaction with its position.
pub(super) fn mined_transaction(
    stored: &StoredTransaction,
    header: &Header,
    block_hash: B256,
) -> Transaction {
    Transaction {
        inner: Recovered::new_unchecked(stored.transaction.clone(), stored.record.sender),
        block_hash: Some(block_hash),
        block_number: Some(header.number),
        transaction_index: Some(stored.index),
        effective_gas_price: Some(stored.transaction.effective_gas_price(header.base_fee_per_gas)),
        block_timestamp: Some(header.timestamp),
    }
}

/// A transaction still in the pool.
pub(super) fn pending_transaction(tx: Recovered<TxEnvelope>) -> Transaction {
    // As geth: a pending transaction's `gasPrice` is the most it may pay, its fee cap.
    let gas_price = alloy_consensus::Transaction::max_fee_per_gas(tx.inner());
    Transaction {
        inner: tx,
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: Some(gas_price),
        block_timestamp: None,
    }
}

/// The receipt of `stored`, mined in the block of `header` (whose hash is `block_hash`) on
/// `chain`, whose first log has the block-wide index `first_log_index`. A blob transaction's
/// blob gas price is the block's blob base fee by the fork's schedule.
pub(super) fn receipt(
    chain: &ChainConfig,
    header: &Header,
    block_hash: B256,
    stored: &StoredTransaction,
    first_log_index: u64,
) -> TransactionReceipt {
    let tx_hash = stored.record.hash;
    let rpc_log = |(offset, log): (usize, &alloy_primitives::Log)| Log {
        inner: log.clone(),
        block_hash: Some(block_hash),
        block_number: Some(header.number),
        block_timestamp: Some(header.timestamp),
        transaction_hash: Some(tx_hash),
        transaction_index: Some(stored.index),
        log_index: Some(first_log_index + offset as u64),
        removed: false,
    };
    let inner = map_logs(&stored.record.receipt, |logs| logs.iter().enumerate().map(rpc_log).collect());
    let blob_gas_used = stored.transaction.blob_gas_used();
    TransactionReceipt {
        inner,
        transaction_hash: tx_hash,
        transaction_index: Some(stored.index),
        block_hash: Some(block_hash),
        block_number: Some(header.number),
        gas_used: stored.record.gas_used,
        effective_gas_price: stored.transaction.effective_gas_price(header.base_fee_per_gas),
        blob_gas_used,
        blob_gas_price: blob_gas_used
            .and(header.excess_blob_gas.map(|excess_blob_gas| chain.blob_base_fee(excess_blob_gas))),
        from: stored.record.sender,
        to: stored.transaction.to(),
        contract_address: stored.record.contract_address,
    }
}

fn map_logs(
    receipt: &ReceiptEnvelope,
    f: impl FnOnce(&[alloy_primitives::Log]) -> Vec<Log>,
) -> ReceiptEnvelope<Log> {
    let with_logs = |r: &alloy_consensus::ReceiptWithBloom| alloy_consensus::ReceiptWithBloom {
        receipt: alloy_consensus::Receipt {
            status: r.receipt.status,
            cumulative_gas_used: r.receipt.cumulative_gas_used,
            logs: f(&r.receipt.logs),
        },
        logs_bloom: r.logs_bloom,
    };
    match receipt {
        ReceiptEnvelope::Legacy(r) => ReceiptEnvelope::Legacy(with_logs(r)),
        ReceiptEnvelope::Eip2930(r) => ReceiptEnvelope::Eip2930(with_logs(r)),
        ReceiptEnvelope::Eip1559(r) => ReceiptEnvelope::Eip1559(with_logs(r)),
        ReceiptEnvelope::Eip4844(r) => ReceiptEnvelope::Eip4844(with_logs(r)),
        ReceiptEnvelope::Eip7702(r) => ReceiptEnvelope::Eip7702(with_logs(r)),
    }
}
