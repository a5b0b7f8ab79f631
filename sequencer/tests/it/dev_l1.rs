//! The node in its L1 role (`sequencer l1`): a dev L1 with EXECUTE, checking traces the real
//! L2 built, in transactions it mines.

use crate::support::{
    DEV_L1_CHAIN_ID, dev_signer, init_code, launch, launch_l1, provider, sign, wait_receipt,
};
use alloy_consensus::{TxEip1559, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar};
use alloy_eips::BlockNumberOrTag;
use alloy_eips::{
    eip4844::{
        Blob, BlobTransactionSidecar, DATA_GAS_PER_BLOB, calc_blob_gasprice, env_settings::EnvKzgSettings,
    },
    eip7594::BlobTransactionSidecarVariant,
    eip7840::BlobParams,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use alloy_provider::{Provider, RootProvider};
use sequencer::{genesis::ChainGenesis, node::Node, rpc::TraceResponse};
use std::time::{Duration, Instant};
use trace_builder::{
    Bindings, L1Anchor,
    blob::{self, Codec},
    precompile::{blob_envelope, encode_bound_call},
};

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

    // One eth_call of `executeInput` to EXECUTE checks the batch.
    let call = |input: Bytes| {
        let l1 = l1.clone();
        async move {
            let request = alloy_rpc_types_eth::TransactionRequest::default()
                .to(trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS)
                .input(input.into());
            l1.call(request).await.unwrap()
        }
    };
    assert_eq!(call(batch.execute_input.clone()).await, Bytes::from(U256::from(1).to_be_bytes::<32>()));
    let mut tampered = batch.execute_input.to_vec();
    let last = tampered.len() - 40;
    tampered[last] ^= 0x01;
    assert_eq!(call(tampered.into()).await, Bytes::from(U256::ZERO.to_be_bytes::<32>()));

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

/// A blob transaction on the dev L1 from `signer` carrying `sidecar`, calling `to` with
/// `input`.
fn blob_tx(
    signer: &alloy_signer_local::PrivateKeySigner,
    nonce: u64,
    to: Address,
    input: Bytes,
    sidecar: BlobTransactionSidecarVariant,
    max_fee_per_blob_gas: u128,
) -> Bytes {
    let tx = TxEip4844 {
        chain_id: DEV_L1_CHAIN_ID,
        nonce,
        gas_limit: 16_000_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas,
        input,
    };
    sign_blob_tx(signer, tx, sidecar)
}

/// `tx` signed by `signer`, in network form with `sidecar`.
fn sign_blob_tx(
    signer: &alloy_signer_local::PrivateKeySigner,
    tx: TxEip4844,
    sidecar: BlobTransactionSidecarVariant,
) -> Bytes {
    sign(
        signer,
        TxEip4844Variant::TxEip4844WithSidecar(TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar)),
    )
}

/// An `eth_call` to EXECUTE with `input`, naming `blob_hashes` (`blobVersionedHashes`) when
/// given: a blob transaction's call.
fn execute_request(input: &Bytes, blob_hashes: Option<Vec<B256>>) -> alloy_rpc_types_eth::TransactionRequest {
    let mut request = alloy_rpc_types_eth::TransactionRequest::default()
        .to(trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS)
        .input(input.clone().into());
    request.blob_versioned_hashes = blob_hashes;
    request
}

/// EXECUTE's answer, as a word.
fn answer(verified: bool) -> Bytes {
    Bytes::from(U256::from(verified as u8).to_be_bytes::<32>())
}

/// A sidecar with EIP-4844 blob proofs of `blobs`.
fn sidecar_of(blobs: &[Vec<u8>]) -> BlobTransactionSidecar {
    let blobs = blobs.iter().map(|blob| Blob::from_slice(blob)).collect();
    BlobTransactionSidecar::try_from_blobs_with_settings(blobs, EnvKzgSettings::Default.get()).unwrap()
}

/// GET `path` on the node's HTTP port, as JSON.
async fn get_json(node: &sequencer::node::Node, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{}{path}", node.rpc_addr)).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_transactions_carry_an_l2_batch_to_execute_and_the_blob_api_serves_them() {
    let (l2_dir, l1_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l2_node = launch(l2_dir.path(), None).await;
    let l2 = provider(&l2_node);
    let batch = l2_batch(&l2).await;
    let l1_node = launch_l1(l1_dir.path()).await;
    let l1 = provider(&l1_node);
    let probe_code = init_code(&alloy_primitives::hex::decode(PROBE).unwrap());
    let (_, probe) = send(&l1, l1_tx(0, TxKind::Create, 200_000, probe_code)).await;
    let probe = probe.unwrap();

    // The batch's trace in blobs (the DA codec), with EIP-4844 blob proofs, which the Osaka
    // dev L1 still takes.
    let (blobs, _) = blob::trace_to_blobs(&batch.trace, Codec::DEFAULT).unwrap();
    let sidecar = sidecar_of(&blobs);
    let hashes: Vec<B256> = sidecar.versioned_hashes().collect();
    let bindings = Bindings {
        chain_id: batch.bindings.chain_id.to(),
        parent_block_hash: batch.bindings.parent_block_hash,
        last_block_hash: batch.bindings.last_block_hash,
        last_number: batch.bindings.last_number.to(),
        last_timestamp: batch.bindings.last_timestamp.to(),
        anchors: batch
            .bindings
            .anchors
            .iter()
            .map(|anchor| L1Anchor { number: anchor.number.to(), hash: anchor.hash })
            .collect(),
    };
    let input = encode_bound_call(
        batch.pre_state_root,
        batch.post_state_root,
        batch.gas_used.to(),
        &bindings,
        &blob_envelope(&hashes),
    );
    // One eth_call naming the blobs checks the batch, with the blobs the node holds: none yet.
    let call = |blob_hashes: Option<Vec<B256>>| {
        let (l1, request) = (l1.clone(), execute_request(&input, blob_hashes));
        async move { l1.call(request).await.unwrap() }
    };
    assert_eq!(call(Some(hashes.clone())).await, answer(false), "EXECUTE read blobs the node does not hold");
    // Pooled: a blob transaction queued behind a nonce gap carries them.
    let other = sidecar_of(&[vec![0u8; 131_072]]);
    let holder = dev_signer(4);
    let queued = blob_tx(
        &holder,
        1,
        probe,
        Bytes::new(),
        BlobTransactionSidecarVariant::Eip4844(sidecar.clone()),
        1_000,
    );
    let _queued = l1.send_raw_transaction(&queued).await.unwrap();
    assert_eq!(call(Some(hashes.clone())).await, answer(true), "EXECUTE did not read the pooled blobs");
    // Replaced by a transaction carrying another blob, they are gone again.
    let replacement = TxEip4844 {
        chain_id: DEV_L1_CHAIN_ID,
        nonce: 1,
        gas_limit: 100_000,
        max_fee_per_gas: 40_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to: probe,
        blob_versioned_hashes: other.versioned_hashes().collect(),
        max_fee_per_blob_gas: 2_000,
        ..Default::default()
    };
    let replacement =
        sign_blob_tx(&holder, replacement, BlobTransactionSidecarVariant::Eip4844(other.clone()));
    let _replacement = l1.send_raw_transaction(&replacement).await.unwrap();
    assert_eq!(
        call(Some(hashes.clone())).await,
        answer(false),
        "EXECUTE read a replaced transaction's blobs"
    );

    let proposer = dev_signer(2);
    let raw = blob_tx(
        &proposer,
        0,
        probe,
        input.clone(),
        BlobTransactionSidecarVariant::Eip4844(sidecar.clone()),
        1_000,
    );
    let hash = *l1.send_raw_transaction(&raw).await.unwrap().tx_hash();
    let receipt = wait_receipt(&l1, hash).await;
    assert!(receipt.status());
    assert_eq!(receipt.blob_gas_used, Some(131_072 * blobs.len() as u64));
    assert!(receipt.blob_gas_price.is_some());
    assert_eq!(slot(&l1, probe, 1).await, U256::from(1), "the call to EXECUTE succeeded");
    assert_eq!(slot(&l1, probe, 0).await, U256::from(1), "EXECUTE verified the batch from the blobs");
    // The block carries the transaction without its sidecar, and its blob gas.
    let number = receipt.block_number.unwrap();
    let block = l1.get_block_by_number(BlockNumberOrTag::Number(number)).await.unwrap().unwrap();
    assert_eq!(block.header.blob_gas_used, Some(131_072 * blobs.len() as u64));

    // The blobs come back byte for byte through the Beacon API.
    let (status, sidecars) = get_json(&l1_node, &format!("/eth/v1/beacon/blob_sidecars/{number}")).await;
    assert_eq!(status, 200, "{sidecars}");
    let served: Vec<Vec<u8>> = sidecars["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sidecar| alloy_primitives::hex::decode(sidecar["blob"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(served, blobs);
    assert_eq!(sidecars["data"][0]["kzg_commitment"], serde_json::json!(sidecar.commitments[0]));
    let (_, only) =
        get_json(&l1_node, &format!("/eth/v1/beacon/blobs/{number}?versioned_hashes={}", hashes[0])).await;
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    let (status, _) = get_json(&l1_node, "/eth/v1/beacon/blob_sidecars/99999999").await;
    assert_eq!(status, 404);

    // Stored: the mined transaction's blobs, which no pooled transaction carries now.
    assert_eq!(call(Some(hashes.clone())).await, answer(true), "EXECUTE did not read the stored blobs");
    // The call's own hashes are what EXECUTE may read, as a transaction's.
    assert_eq!(call(Some(other.versioned_hashes().collect())).await, answer(false));
    assert_eq!(call(None).await, answer(false));
    // The estimate is what the call needs.
    let gas = l1.estimate_gas(execute_request(&input, Some(hashes.clone()))).await.unwrap();
    assert!(gas > 50_000 + 10_000 * hashes.len() as u64, "{gas}");
    let with_gas = execute_request(&input, Some(hashes.clone())).gas_limit(gas);
    assert_eq!(l1.call(with_gas).await.unwrap(), answer(true));
    let short = execute_request(&input, Some(hashes.clone())).gas_limit(gas - 1);
    assert!(l1.call(short).await.is_err(), "EXECUTE answered below its cost");
    // The L2 refuses blob calls as it refuses blob transactions.
    let error = l2.call(execute_request(&input, Some(hashes.clone()))).await.unwrap_err().to_string();
    assert!(error.contains("blob transactions are not accepted on L2"), "{error}");

    // A blob transaction that names blobs it does not carry answers false.
    let raw = blob_tx(
        &proposer,
        1,
        probe,
        input.clone(),
        BlobTransactionSidecarVariant::Eip4844(other.clone()),
        1_000,
    );
    let hash = *l1.send_raw_transaction(&raw).await.unwrap().tx_hash();
    assert!(wait_receipt(&l1, hash).await.status());
    assert_eq!(slot(&l1, probe, 0).await, U256::ZERO, "EXECUTE read blobs of another transaction");

    // Refusals, each with a clear error.
    let refused = |raw: Bytes| {
        let l1 = l1.clone();
        async move { l1.send_raw_transaction(&raw).await.unwrap_err().to_string() }
    };
    let mut bad_proof = other.clone();
    bad_proof.proofs[0] = sidecar.proofs[0];
    let error = refused(blob_tx(
        &proposer,
        2,
        probe,
        Bytes::new(),
        BlobTransactionSidecarVariant::Eip4844(bad_proof),
        1_000,
    ))
    .await;
    assert!(error.contains("invalid blob sidecar"), "{error}");
    let tx = TxEip4844WithSidecar::from_tx_and_sidecar(
        TxEip4844 {
            chain_id: DEV_L1_CHAIN_ID,
            nonce: 2,
            gas_limit: 100_000,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1,
            to: probe,
            blob_versioned_hashes: vec![B256::with_last_byte(1)],
            max_fee_per_blob_gas: 1_000,
            ..Default::default()
        },
        BlobTransactionSidecarVariant::Eip4844(other.clone()),
    );
    let error = refused(sign(&proposer, TxEip4844Variant::TxEip4844WithSidecar(tx))).await;
    assert!(error.contains("invalid blob sidecar"), "{error}");
    let seven = sidecar_of(&vec![vec![0u8; 131_072]; 7]);
    let error = refused(blob_tx(
        &proposer,
        2,
        probe,
        Bytes::new(),
        BlobTransactionSidecarVariant::Eip4844(seven),
        1_000,
    ))
    .await;
    assert!(error.contains("too many blobs"), "{error}");
    let error = refused(blob_tx(
        &proposer,
        2,
        probe,
        Bytes::new(),
        BlobTransactionSidecarVariant::Eip4844(other.clone()),
        0,
    ))
    .await;
    assert!(error.contains("max fee per blob gas less than block blob gas fee"), "{error}");
    // One sender's pooled transactions are all blob or all non-blob (geth's rule).
    let mixed = dev_signer(3);
    let queued = sign(&mixed, l1_tx(5, TxKind::Call(probe), 21_000, Bytes::new()));
    let _queued = l1.send_raw_transaction(&queued).await.unwrap();
    let error = refused(blob_tx(
        &mixed,
        0,
        probe,
        Bytes::new(),
        BlobTransactionSidecarVariant::Eip4844(other),
        1_000,
    ))
    .await;
    assert!(error.contains("address already reserved"), "{error}");
    // The L2 refuses blob transactions outright.
    let l2_blob =
        blob_tx(&proposer, 0, probe, Bytes::new(), BlobTransactionSidecarVariant::Eip4844(sidecar), 1_000);
    let error = l2.send_raw_transaction(&l2_blob).await.unwrap_err().to_string();
    assert!(error.contains("blob transactions are not accepted on L2"), "{error}");

    // Restarted, the dev L1 keeps its blobs, and calls read them.
    l1_node.stop().await;
    let l1_node = launch_l1(l1_dir.path()).await;
    let (_, sidecars) = get_json(&l1_node, &format!("/eth/v1/beacon/blob_sidecars/{number}")).await;
    assert_eq!(sidecars["data"].as_array().unwrap().len(), blobs.len());
    let l1 = provider(&l1_node);
    assert_eq!(l1.call(execute_request(&input, Some(hashes))).await.unwrap(), answer(true));
    l1_node.stop().await;
    l2_node.stop().await;
}

/// The excess blob gas of the fee test's genesis: Osaka's update fraction (5,007,716) prices
/// blob gas at 7 wei with it and Cancun's (3,338,477) at 19, so that a blob fee computed by the
/// wrong schedule shows. (With zero excess every schedule answers the minimum, 1 wei.)
const GENESIS_EXCESS_BLOB_GAS: u64 = 10_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_fees_on_the_dev_l1_follow_the_forks_blob_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::l1_config(dir.path());
    let mut genesis: alloy_genesis::Genesis =
        serde_json::from_str(sequencer::genesis::DEV_GENESIS_JSON).unwrap();
    genesis.config.chain_id = DEV_L1_CHAIN_ID;
    genesis.excess_blob_gas = Some(GENESIS_EXCESS_BLOB_GAS);
    let genesis = ChainGenesis::from_genesis_at(genesis, config.l1.fork.spec()).unwrap();
    let node = Node::launch(&config, genesis).await.unwrap();
    let l1 = provider(&node);
    let schedule = BlobParams::osaka();
    assert_ne!(schedule.calc_blob_fee(GENESIS_EXCESS_BLOB_GAS), calc_blob_gasprice(GENESIS_EXCESS_BLOB_GAS));

    // eth_config: the fork's blob schedule (EIP-7840), and EXECUTE among the precompiles.
    let fork_config: serde_json::Value = l1.raw_request("eth_config".into(), ()).await.unwrap();
    let current = &fork_config["current"];
    assert_eq!(
        current["blobSchedule"],
        serde_json::json!({
            "target": schedule.target_blob_count,
            "max": schedule.max_blob_count,
            "baseFeeUpdateFraction": schedule.update_fraction,
        }),
        "{fork_config}"
    );
    assert_eq!(
        current["precompiles"]["EXECUTE"],
        serde_json::json!(trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS),
        "{fork_config}"
    );

    // Two senders' blob transactions, of six blobs and of three.
    let blobs_from =
        |first: u8, count: u8| (first..first + count).map(|byte| vec![byte; 131_072]).collect::<Vec<_>>();
    let mut sent = Vec::new();
    for (signer, blobs) in [(dev_signer(2), blobs_from(1, 6)), (dev_signer(5), blobs_from(7, 3))] {
        let sidecar = BlobTransactionSidecarVariant::Eip4844(sidecar_of(&blobs));
        let raw = blob_tx(&signer, 0, Address::repeat_byte(0x42), Bytes::new(), sidecar, 1_000);
        sent.push((*l1.send_raw_transaction(&raw).await.unwrap().tx_hash(), blobs.len() as u64));
    }
    let header = |number: u64| {
        let l1 = l1.clone();
        async move {
            l1.get_block_by_number(BlockNumberOrTag::Number(number)).await.unwrap().unwrap().header.inner
        }
    };

    // Receipts: the blob gas, priced by the block's excess under the fork's schedule, and what
    // the sender paid.
    let mut newest = 0;
    for (hash, blobs) in sent {
        let receipt = wait_receipt(&l1, hash).await;
        assert!(receipt.status());
        let number = receipt.block_number.unwrap();
        newest = newest.max(number);
        let excess = header(number).await.excess_blob_gas.unwrap();
        let blob_gas_price = schedule.calc_blob_fee(excess);
        assert_eq!(receipt.blob_gas_used, Some(DATA_GAS_PER_BLOB * blobs));
        assert_eq!(receipt.blob_gas_price, Some(blob_gas_price), "block {number}, excess blob gas {excess}");
        let before = l1.get_balance(receipt.from).number(number - 1).await.unwrap();
        let after = l1.get_balance(receipt.from).number(number).await.unwrap();
        let paid = u128::from(receipt.gas_used) * receipt.effective_gas_price
            + u128::from(DATA_GAS_PER_BLOB * blobs) * blob_gas_price;
        assert_eq!(before - after, U256::from(paid));
    }

    // eth_feeHistory: each block's blob base fee and blob gas use, and the next block's fee.
    let history = l1.get_fee_history(newest, BlockNumberOrTag::Number(newest), &[]).await.unwrap();
    assert_eq!(history.oldest_block, 1);
    assert_eq!(history.base_fee_per_blob_gas.len() as u64, newest + 1);
    let mut blob_gas_used = 0;
    for number in 1..=newest {
        let at = (number - 1) as usize;
        let header = header(number).await;
        blob_gas_used += header.blob_gas_used.unwrap();
        assert_eq!(
            history.base_fee_per_blob_gas[at],
            schedule.calc_blob_fee(header.excess_blob_gas.unwrap())
        );
        let ratio = header.blob_gas_used.unwrap() as f64 / schedule.max_blob_gas_per_block() as f64;
        assert_eq!(history.blob_gas_used_ratio[at], ratio, "block {number}");
    }
    assert_eq!(blob_gas_used, 9 * DATA_GAS_PER_BLOB, "the history covers both transactions");
    let next_fee = |last: &alloy_consensus::Header| {
        schedule.calc_blob_fee(schedule.next_block_excess_blob_gas_osaka(
            last.excess_blob_gas.unwrap(),
            last.blob_gas_used.unwrap(),
            last.base_fee_per_gas.unwrap(),
        ))
    };
    assert_eq!(history.base_fee_per_blob_gas[newest as usize], next_fee(&header(newest).await));

    // eth_blobBaseFee: the next block's, read while the head stands still.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let head = l1.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap().header.inner;
        let fee = l1.get_blob_base_fee().await.unwrap();
        if l1.get_block_number().await.unwrap() == head.number {
            assert_eq!(fee, next_fee(&head), "after block {}", head.number);
            break;
        }
        assert!(Instant::now() < deadline, "the head never stood still for three requests");
    }
    node.stop().await;
}
