//! The pool over real HTTP: nonce gaps, the errors wallets match on, and acknowledged
//! transactions surviving kill -9 of the real binary.

use crate::{restart::Daemon, support::*};
use alloy_consensus::TxEip1559;
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{Provider, RootProvider};
use std::time::{Duration, Instant};

fn transfer(nonce: u64, max_fee: u128, tip: u128) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x33)),
        value: U256::from(1_000u64),
        access_list: AccessList::default(),
        input: Bytes::new(),
    }
}

async fn send(provider: &RootProvider, raw: &Bytes) -> Result<B256, String> {
    provider.send_raw_transaction(raw).await.map(|pending| *pending.tx_hash()).map_err(|e| e.to_string())
}

/// Whether the node knows `hash`: mined (`Some(true)`), pooled (`Some(false)`) or not at all.
async fn known(provider: &RootProvider, hash: B256) -> Option<bool> {
    let tx = provider.get_transaction_by_hash(hash).await.unwrap()?;
    Some(tx.block_number.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaps_replacement_and_errors_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    let signer = dev_signer(5);
    let from = signer.address();

    let gapped = send(&provider, &sign(&signer, transfer(1, 10_000_000_000, 1_000_000_000))).await.unwrap();
    // Waits behind the gap: pooled, not counted in the pending nonce, not mined.
    wait_block(&provider, provider.get_block_number().await.unwrap() + 2).await;
    assert_eq!(known(&provider, gapped).await, Some(false));
    assert_eq!(provider.get_transaction_count(from).pending().await.unwrap(), 0);

    let first = sign(&signer, transfer(0, 10_000_000_000, 1_000_000_000));
    let underpriced = sign(&signer, transfer(1, 10_900_000_000, 1_100_000_000));
    let error = send(&provider, &underpriced).await.unwrap_err();
    assert!(error.contains("replacement transaction underpriced"), "{error}");
    let replacement =
        send(&provider, &sign(&signer, transfer(1, 11_000_000_000, 1_100_000_000))).await.unwrap();
    let hash = send(&provider, &first).await.unwrap();
    let error = send(&provider, &first).await.unwrap_err();
    assert!(error.contains("already known") || error.contains("nonce too low"), "{error}");
    wait_receipt(&provider, replacement).await;
    wait_receipt(&provider, hash).await;
    assert_eq!(known(&provider, gapped).await, None, "the replaced transaction is gone");

    let cases = [
        (sign(&signer, transfer(0, 10_000_000_000, 1_000_000_000)), "nonce too low"),
        (sign(&signer, TxEip1559 { chain_id: 7, ..transfer(2, 10_000_000_000, 1) }), "invalid chain id"),
        (
            sign(&signer, TxEip1559 { gas_limit: 20_000, ..transfer(2, 10_000_000_000, 1) }),
            "intrinsic gas too low",
        ),
        (
            sign(&signer, TxEip1559 { gas_limit: 1 << 40, ..transfer(2, 10_000_000_000, 1) }),
            "exceeds block gas limit",
        ),
        (
            sign(&signer, TxEip1559 { value: U256::MAX >> 1, ..transfer(2, 10_000_000_000, 1) }),
            "insufficient funds for gas * price + value",
        ),
        (
            sign(
                &signer,
                TxEip1559 {
                    input: vec![0u8; 129 * 1024].into(),
                    gas_limit: 29_000_000,
                    ..transfer(2, 10_000_000_000, 1)
                },
            ),
            "oversized data",
        ),
    ];
    for (raw, expected) in cases {
        let error = send(&provider, &raw).await.unwrap_err();
        assert!(error.contains(expected), "{error} should say {expected}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_transactions_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::spawn(dir.path());
    let provider = daemon.provider().await;
    let signer = dev_signer(6);
    // Nonce 0 may be mined before the crash; 2 and 3 wait behind the gap at nonce 1.
    let mut acknowledged = Vec::new();
    for nonce in [0, 2, 3] {
        let raw = sign(&signer, transfer(nonce, 10_000_000_000, 1_000_000_000));
        acknowledged.push(send(&provider, &raw).await.unwrap());
    }
    daemon.kill_9();

    let daemon = Daemon::spawn(dir.path());
    let provider = daemon.provider().await;
    for hash in &acknowledged {
        assert!(known(&provider, *hash).await.is_some(), "{hash} was acknowledged and is lost");
    }
    assert_eq!(known(&provider, acknowledged[1]).await, Some(false), "nonce 2 still waits for 1");
    // Filling the gap releases the reloaded ones.
    let filler = send(&provider, &sign(&signer, transfer(1, 10_000_000_000, 1_000_000_000))).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    for hash in acknowledged.iter().chain([&filler]) {
        while known(&provider, *hash).await != Some(true) {
            assert!(Instant::now() < deadline, "{hash} not mined after the restart");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(provider.get_transaction_count(signer.address()).await.unwrap(), 4);
    daemon.kill_9();
}

/// Admissions are made durable in groups (one database transaction for whatever arrived while
/// the previous group was written): a burst of concurrent sends, every one acknowledged before
/// the crash, is all there after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_acknowledged_transactions_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::spawn(dir.path());
    let provider = daemon.provider().await;
    let mut sends = tokio::task::JoinSet::new();
    for account in 0..10 {
        let signer = dev_signer(account);
        // Nonces from 1: each sender's transactions wait behind a gap, so none is mined before
        // the crash and every one must come back from the journal.
        for nonce in 1..=15 {
            let raw = sign(&signer, transfer(nonce, 10_000_000_000, 1_000_000_000));
            let provider = provider.clone();
            sends.spawn(async move { send(&provider, &raw).await });
        }
    }
    let acknowledged: Vec<B256> = sends.join_all().await.into_iter().map(Result::unwrap).collect();
    assert_eq!(acknowledged.len(), 150);
    daemon.kill_9();

    let daemon = Daemon::spawn(dir.path());
    let provider = daemon.provider().await;
    for hash in &acknowledged {
        assert_eq!(known(&provider, *hash).await, Some(false), "{hash} was acknowledged and is lost");
    }
    daemon.kill_9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_transactions_survive_a_restart_on_postgres() {
    let server = crate::postgres::PgServer::start();
    let url = server.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let signer = dev_signer(7);
    let node = launch(dir.path(), Some(url.clone())).await;
    let gapped =
        send(&provider(&node), &sign(&signer, transfer(1, 10_000_000_000, 1_000_000_000))).await.unwrap();
    node.stop().await;

    let node = launch(dir.path(), Some(url)).await;
    let provider = provider(&node);
    assert_eq!(known(&provider, gapped).await, Some(false), "reloaded, still waiting for nonce 0");
    let first = send(&provider, &sign(&signer, transfer(0, 10_000_000_000, 1_000_000_000))).await.unwrap();
    wait_receipt(&provider, first).await;
    wait_receipt(&provider, gapped).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mined_transactions_leave_nothing_in_the_journal_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
    mined_transactions_leave_nothing_in_the_journal(dir.path(), url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mined_transactions_leave_nothing_in_the_journal_on_postgres() {
    let server = crate::postgres::PgServer::start();
    let url = server.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    mined_transactions_leave_nothing_in_the_journal(dir.path(), url).await;
}

/// Every transaction a block included leaves the mempool journal: after the node stops,
/// nothing is left to replay. (A block can include a transaction while its journal row is
/// still being written; that rare interleaving is covered deterministically by the store's
/// unit test.)
async fn mined_transactions_leave_nothing_in_the_journal(dir: &std::path::Path, url: String) {
    let node = launch(dir, Some(url.clone())).await;
    let provider = provider(&node);
    // Bursts of 15 transactions from each of the 10 funded accounts (the pool holds 16 per
    // sender), each burst waited for before the next.
    for burst in 0..3u64 {
        let senders = (0..10).map(|index| {
            let provider = provider.clone();
            async move {
                let signer = dev_signer(index);
                let mut last = B256::ZERO;
                for nonce in burst * 15..(burst + 1) * 15 {
                    let raw = sign(&signer, transfer(nonce, 10_000_000_000, 1_000_000_000));
                    last = send(&provider, &raw).await.unwrap();
                }
                last
            }
        });
        for last in futures_util::future::join_all(senders).await {
            wait_receipt(&provider, last).await;
        }
    }
    // The journal forgets a block's transactions after the block is durable: one more block
    // and a stop leave that done.
    let head = provider.get_block_number().await.unwrap();
    wait_block(&provider, head + 1).await;
    node.stop().await;

    let store = sequencer::store::Store::open(&url, 1).await.unwrap();
    let left = store.pooled_transactions().await.unwrap();
    assert!(left.is_empty(), "{} mined transactions left in the journal", left.len());
    store.close().await;
}

/// `eth_sendRawTransactionSync` (EIP-7966): the receipt in one round trip; a nonce gap or a
/// transaction its sender cannot fund is refused unpooled; a timeout leaves it pooled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_raw_transaction_sync_answers_with_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    let spec = crate::spec::Spec::load();
    let signer = dev_signer(6);
    let sync = |raw: Bytes, timeout: Option<serde_json::Value>| {
        let provider = provider.clone();
        async move {
            let params = match timeout {
                Some(timeout) => serde_json::json!([raw, timeout]),
                None => serde_json::json!([raw]),
            };
            provider.raw_request::<_, serde_json::Value>("eth_sendRawTransactionSync".into(), params).await
        }
    };
    let fee = 10_000_000_000;

    let receipt = sync(sign(&signer, transfer(0, fee, 1_000_000_000)), None).await.unwrap();
    spec.check("eth_getTransactionReceipt", &receipt);
    assert_eq!(receipt["status"], serde_json::json!("0x1"), "{receipt}");
    let hash: B256 = serde_json::from_value(receipt["transactionHash"].clone()).unwrap();
    assert_eq!(
        provider.get_transaction_receipt(hash).await.unwrap().unwrap().block_hash.map(|h| h.to_string()),
        receipt["blockHash"].as_str().map(str::to_owned)
    );

    // A gap: refused with the nonce expected, and not pooled.
    let gapped = sign(&signer, transfer(5, fee, 1_000_000_000));
    let error = sync(gapped.clone(), None).await.unwrap_err();
    let error = error.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(error.code, 6, "{error:?}");
    assert_eq!(error.data.as_ref().map(|data| data.get()), Some("\"0x1\""));
    assert_eq!(provider.get_transaction_by_hash(alloy_primitives::keccak256(&gapped)).await.unwrap(), None);

    // 1 ms (as viem sends it, a hex quantity) is too short for a block: code 4 with the hash,
    // and the transaction stays pooled and is included.
    let error = sync(sign(&signer, transfer(1, fee, 1_000_000_000)), Some(serde_json::json!("0x1")))
        .await
        .unwrap_err();
    let error = error.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(error.code, 4, "{error:?}");
    let hash: B256 = serde_json::from_str(error.data.as_ref().unwrap().get()).unwrap();
    assert!(wait_receipt(&provider, hash).await.status());
    node.stop().await;
}
