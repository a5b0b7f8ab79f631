//! The node in its L1 role (`sequencer l1`): a dev L1 with EXECUTE, checking traces the real
//! L2 built, in transactions it mines.

use crate::support::{
    DEV_L1_CHAIN_ID, dev_signer, init_code, launch, launch_l1, provider, sign, wait_receipt,
};
use alloy_consensus::TxEip1559;
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, Bytes, TxKind, U64, U256};
use alloy_provider::{Provider, RootProvider};
use sequencer::rpc::TraceResponse;
use std::time::{Duration, Instant};

/// A contract that forwards its call data to EXECUTE (`0x…0101`) with all its gas and stores
/// the answer word in slot 0 and whether the call succeeded in slot 1.
const PROBE: &str = "3660006000376020600036600060006101015af160005160005560015500";

/// An EIP-1559 transaction on the dev L1.
fn l1_tx(nonce: u64, to: TxKind, gas_limit: u64, input: Bytes) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEV_L1_CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    }
}

/// Sends `tx` signed by dev account 0 and waits for its receipt; returns whether it succeeded.
async fn send(l1: &RootProvider, tx: TxEip1559) -> (bool, Option<Address>) {
    let raw = sign(&dev_signer(0), tx);
    let hash = *l1.send_raw_transaction(&raw).await.unwrap().tx_hash();
    let receipt = wait_receipt(l1, hash).await;
    (receipt.status(), receipt.contract_address)
}

/// Slot `slot` of `address` at the head.
async fn slot(l1: &RootProvider, address: Address, slot: u64) -> U256 {
    l1.get_storage_at(address, U256::from(slot)).await.unwrap()
}

/// Waits until the L2 has sealed a block holding a transaction, and returns the trace of blocks
/// 1 up to it.
async fn l2_batch(l2: &RootProvider) -> TraceResponse {
    let signer = dev_signer(1);
    let mut last = None;
    for nonce in 0..3 {
        let tx = crate::support::eip1559(
            nonce,
            TxKind::Call(Address::repeat_byte(0x42)),
            21_000,
            U256::from(1_000 + nonce),
            Bytes::new(),
        );
        let raw = sign(&signer, tx);
        last = Some(*l2.send_raw_transaction(&raw).await.unwrap().tx_hash());
    }
    let receipt = wait_receipt(l2, last.unwrap()).await;
    let to = receipt.block_number.unwrap();
    l2.raw_request("rollup_getTrace".into(), (U64::from(1), U64::from(to))).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_l1_verifies_an_l2_batch_through_execute_in_a_mined_transaction() {
    let (l2_dir, l1_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l2_node = launch(l2_dir.path(), None).await;
    let l2 = provider(&l2_node);
    let batch = l2_batch(&l2).await;
    assert_eq!(batch.bindings.chain_id, U64::from(crate::support::DEV_CHAIN_ID));

    let l1_node = launch_l1(l1_dir.path()).await;
    let l1 = provider(&l1_node);
    assert_eq!(l1.get_chain_id().await.unwrap(), DEV_L1_CHAIN_ID);
    let probe_code = init_code(&alloy_primitives::hex::decode(PROBE).unwrap());
    let (deployed, probe) = send(&l1, l1_tx(0, TxKind::Create, 200_000, probe_code)).await;
    assert!(deployed);
    let probe = probe.unwrap();

    // The honest batch: EXECUTE answers true inside a mined transaction.
    let (ok, _) = send(&l1, l1_tx(1, TxKind::Call(probe), 16_000_000, batch.execute_input.clone())).await;
    assert!(ok);
    assert_eq!(slot(&l1, probe, 1).await, U256::from(1), "the call to EXECUTE succeeded");
    assert_eq!(slot(&l1, probe, 0).await, U256::from(1), "EXECUTE answered true");

    // A tampered trace byte and a wrong binding answer false; the transactions still succeed.
    let mut tampered = batch.execute_input.to_vec();
    let at = tampered.len() - 40;
    tampered[at] ^= 0x01;
    let mut wrong_parent = batch.execute_input.to_vec();
    // The bindings tuple follows the head's five words: chain id, then the parent block hash.
    let parent_at = 4 + 5 * 32 + 32;
    assert_eq!(&wrong_parent[parent_at..parent_at + 32], batch.bindings.parent_block_hash.as_slice());
    wrong_parent[parent_at] ^= 0x01;
    for (nonce, input) in [(2, tampered), (3, wrong_parent)] {
        let (ok, _) = send(&l1, l1_tx(nonce, TxKind::Call(probe), 16_000_000, input.into())).await;
        assert!(ok);
        assert_eq!(slot(&l1, probe, 1).await, U256::from(1));
        assert_eq!(slot(&l1, probe, 0).await, U256::ZERO, "a tampered batch answered true");
    }

    // `safe` and `finalized` trail the head by the configured depths.
    let deadline = Instant::now() + Duration::from_secs(20);
    while l1.get_block_number().await.unwrap() < 20 {
        assert!(Instant::now() < deadline, "the dev L1 stopped producing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let head = l1.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap().header.number;
    let safe = l1.get_block_by_number(BlockNumberOrTag::Safe).await.unwrap().unwrap().header.number;
    let finalized = l1.get_block_by_number(BlockNumberOrTag::Finalized).await.unwrap().unwrap().header.number;
    assert!(head - safe <= 8 + 1 && head - safe >= 8 - 1, "head {head} safe {safe}");
    assert!(head - finalized <= 16 + 1 && head - finalized >= 16 - 1, "head {head} finalized {finalized}");

    // Restarted, the dev L1 keeps its chain and state.
    let head_hash =
        l1.get_block_by_number(BlockNumberOrTag::Number(head)).await.unwrap().unwrap().header.hash;
    l1_node.stop().await;
    let l1_node = launch_l1(l1_dir.path()).await;
    let l1 = provider(&l1_node);
    let again = l1.get_block_by_number(BlockNumberOrTag::Number(head)).await.unwrap().unwrap().header.hash;
    assert_eq!(again, head_hash);
    assert_eq!(slot(&l1, probe, 1).await, U256::from(1));
    l1_node.stop().await;
    l2_node.stop().await;
}
