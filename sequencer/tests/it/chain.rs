//! The dev chain end to end, on SQLite and on PostgreSQL: transactions of types 0, 1, 2 and 4
//! mined, and every hash and root checked with an independent Ethereum library (alloy-trie,
//! alloy-consensus) rather than the project's own trie.

use crate::{postgres::PgServer, support::*};
use alloy_consensus::{
    Header, ReceiptEnvelope, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy,
    constants::KECCAK_EMPTY,
    proofs::{calculate_receipt_root, calculate_transaction_root},
};
use alloy_eips::{BlockNumberOrTag, eip2930::AccessList, eip7702::Authorization};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_provider::Provider;
use alloy_signer::SignerSync;
use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};
use sequencer::{genesis::DEV_GENESIS_JSON, node::Node};

const GWEI: u128 = 1_000_000_000;
const BEACON_ROOTS: Address = address!("000F3df6D732807Ef1319fB7B8bB8522d0Beac02");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_chain_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    exercise_chain(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_chain_on_postgres() {
    let server = PgServer::start();
    let url = server.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), Some(url)).await;
    exercise_chain(&node).await;
    node.stop().await;
}

async fn exercise_chain(node: &Node) {
    let provider = provider(node);
    assert_eq!(provider.get_chain_id().await.unwrap(), DEV_CHAIN_ID);

    // Genesis: its state root is alloy-trie's root of the genesis allocation.
    let genesis = provider.get_block_by_number(BlockNumberOrTag::Earliest).await.unwrap().unwrap();
    assert_eq!(genesis.header.hash, node.genesis_hash);
    assert_eq!(genesis.header.inner.hash_slow(), genesis.header.hash);
    assert_eq!(genesis.header.inner.state_root, independent_genesis_root());

    for index in 0..10 {
        let balance = provider.get_balance(dev_signer(index).address()).await.unwrap();
        assert_eq!(balance, U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)));
    }

    let recipient = Address::repeat_byte(0x42);
    let value = U256::from(1_000_000_000_000u64);
    let legacy = sign(
        &dev_signer(0),
        TxLegacy {
            chain_id: Some(DEV_CHAIN_ID),
            nonce: 0,
            gas_price: 10 * GWEI,
            gas_limit: 21_000,
            to: TxKind::Call(recipient),
            value,
            input: Bytes::new(),
        },
    );
    let access_list = sign(
        &dev_signer(1),
        TxEip2930 {
            chain_id: DEV_CHAIN_ID,
            nonce: 0,
            gas_price: 10 * GWEI,
            gas_limit: 30_000,
            to: TxKind::Call(recipient),
            value,
            access_list: AccessList::default(),
            input: Bytes::new(),
        },
    );
    let dynamic_fee = sign(
        &dev_signer(2),
        TxEip1559 {
            chain_id: DEV_CHAIN_ID,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: TxKind::Call(recipient),
            value,
            access_list: AccessList::default(),
            input: Bytes::new(),
        },
    );
    // EIP-7702: account 3 delegates its code to the beacon-roots contract's address.
    let delegator = dev_signer(3);
    let authorization = Authorization { chain_id: U256::from(DEV_CHAIN_ID), address: BEACON_ROOTS, nonce: 1 };
    let signature = delegator.sign_hash_sync(&authorization.signature_hash()).unwrap();
    let set_code = sign(
        &delegator,
        TxEip7702 {
            chain_id: DEV_CHAIN_ID,
            nonce: 0,
            gas_limit: 100_000,
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: recipient,
            value,
            access_list: AccessList::default(),
            authorization_list: vec![authorization.into_signed(signature)],
            input: Bytes::new(),
        },
    );

    let mut hashes = Vec::new();
    for raw in [legacy, access_list, dynamic_fee, set_code] {
        hashes.push(*provider.send_raw_transaction(&raw).await.unwrap().tx_hash());
    }
    let mut blocks = std::collections::BTreeSet::new();
    for hash in &hashes {
        let receipt = wait_receipt(&provider, *hash).await;
        assert!(receipt.status(), "transaction {hash} failed");
        blocks.insert(receipt.block_number.unwrap());
    }
    assert_eq!(provider.get_balance(recipient).await.unwrap(), value * U256::from(4));
    // The delegation designator 0xef0100 || address is the delegator's code now.
    let code = provider.get_code_at(delegator.address()).await.unwrap();
    assert_eq!(code.as_ref(), [&[0xef, 0x01, 0x00][..], BEACON_ROOTS.as_slice()].concat().as_slice());
    assert_eq!(provider.get_transaction_count(delegator.address()).await.unwrap(), 2);

    // Every block's hash, transactions root and receipts root, recomputed by alloy.
    for number in blocks {
        let block = provider.get_block_by_number(number.into()).full().await.unwrap().unwrap();
        let header: Header = block.header.inner.clone();
        assert_eq!(header.hash_slow(), block.header.hash);
        let txs: Vec<TxEnvelope> =
            block.transactions.clone().into_transactions().map(|tx| tx.inner.into_inner()).collect();
        assert_eq!(calculate_transaction_root(&txs), header.transactions_root);
        let mut receipts: Vec<ReceiptEnvelope> = Vec::new();
        for tx in &txs {
            let receipt = provider.get_transaction_receipt(*tx.tx_hash()).await.unwrap().unwrap();
            receipts.push(receipt.inner.into_primitives_receipt());
        }
        assert_eq!(calculate_receipt_root(&receipts), header.receipts_root);
        assert_eq!(header.gas_used, receipts.last().map_or(0, |r| r.cumulative_gas_used()));
        let parent = provider.get_block_by_number((number - 1).into()).await.unwrap().unwrap();
        assert_eq!(header.parent_hash, parent.header.hash);
        // EIP-4788: the beacon-roots contract stored this block's timestamp in its ring buffer.
        let slot = U256::from(header.timestamp % 8191);
        let stored = provider.get_storage_at(BEACON_ROOTS, slot).block_id(number.into()).await.unwrap();
        assert_eq!(stored, U256::from(header.timestamp));
    }

    // eth_getProof verifies against the state root with alloy-trie's verifier.
    let head = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    let state_root = head.header.inner.state_root;
    for address in [recipient, delegator.address(), BEACON_ROOTS, Address::repeat_byte(0x99)] {
        let slots = if address == BEACON_ROOTS {
            vec![B256::from(U256::from(head.header.timestamp % 8191))]
        } else {
            vec![]
        };
        let proof = provider.get_proof(address, slots).block_id(head.header.number.into()).await.unwrap();
        let expected = (proof.nonce != 0 || !proof.balance.is_zero() || proof.code_hash != KECCAK_EMPTY)
            .then(|| {
                alloy_rlp::encode(TrieAccount {
                    nonce: proof.nonce,
                    balance: proof.balance,
                    storage_root: proof.storage_hash,
                    code_hash: proof.code_hash,
                })
            });
        verify_proof(state_root, Nibbles::unpack(keccak256(address)), expected, &proof.account_proof)
            .unwrap_or_else(|e| panic!("account proof of {address} does not verify: {e:?}"));
        for storage in &proof.storage_proof {
            let key = keccak256(storage.key.as_b256());
            let value = (!storage.value.is_zero()).then(|| alloy_rlp::encode(storage.value));
            verify_proof(proof.storage_hash, Nibbles::unpack(key), value, &storage.proof).unwrap();
        }
    }

    refused_transactions(node).await;
    exported_metrics(node).await;
}

/// What an operator's Prometheus scrapes once the chain has blocks and the pool has journaled
/// transactions: every series below present, and counting.
async fn exported_metrics(node: &Node) {
    // A method the node does not serve counts as `unknown`: clients cannot add series.
    let unknown = reqwest::Client::new()
        .post(format!("http://{}", node.rpc_addr))
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "made_up_method", "params": []}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(unknown.contains("-32601"), "{unknown}");
    let text =
        reqwest::get(format!("http://{}/metrics", node.metrics_addr)).await.unwrap().text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} is not exported:\n{text}"))
    };
    for series in [
        "sequencer_blocks_total",
        "sequencer_transactions_total",
        "sequencer_head_number",
        "sequencer_block_commit_seconds_count",
        "sequencer_pool_journal_write_seconds_count",
        "sequencer_pool_journal_group_transactions_sum",
        r#"sequencer_rpc_calls_total{method="eth_sendRawTransaction"}"#,
        r#"sequencer_rpc_errors_total{method="eth_sendRawTransaction"}"#,
        r#"sequencer_rpc_call_seconds_count{method="eth_getBlockByNumber"}"#,
        r#"sequencer_rpc_calls_total{method="unknown"}"#,
        r#"sequencer_rpc_errors_total{method="unknown"}"#,
    ] {
        assert!(value(series) > 0.0, "{series} is {}", value(series));
    }
    assert!(!text.contains("made_up_method"));
}

/// Transactions the node must refuse, with the messages wallets match on.
async fn refused_transactions(node: &Node) {
    let provider = provider(node);
    let signer = dev_signer(5);
    let transfer = |chain_id: u64, nonce: u64, value: U256| TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(Address::repeat_byte(7)),
        value,
        access_list: AccessList::default(),
        input: Bytes::new(),
    };
    let error = |raw: Bytes| {
        let provider = provider.clone();
        async move { provider.send_raw_transaction(&raw).await.unwrap_err().to_string() }
    };
    let message = error(sign(&signer, transfer(DEV_CHAIN_ID + 1, 0, U256::ZERO))).await;
    assert!(message.contains("invalid chain id"), "{message}");
    let message = error(sign(&signer, transfer(DEV_CHAIN_ID, 0, U256::MAX / U256::from(2)))).await;
    assert!(message.contains("insufficient funds for gas * price + value"), "{message}");
    let message = error(Bytes::from_static(&[0x02, 0xc0, 0x01])).await;
    assert!(message.contains("invalid transaction"), "{message}");

    let blob = alloy_consensus::TxEip4844 {
        chain_id: DEV_CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(7),
        value: U256::ZERO,
        access_list: AccessList::default(),
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        max_fee_per_blob_gas: 1,
        input: Bytes::new(),
    };
    let mut blob_tx = blob;
    let signature = signer.sign_transaction_sync(&mut blob_tx).unwrap();
    let raw =
        alloy_eips::eip2718::Encodable2718::encoded_2718(&TxEnvelope::from(blob_tx.into_signed(signature)));
    let message = error(raw.into()).await;
    assert!(message.contains("blob transactions are not accepted"), "{message}");

    // A mined nonce cannot be reused.
    let first = sign(&signer, transfer(DEV_CHAIN_ID, 0, U256::from(1)));
    let hash = *provider.send_raw_transaction(&first).await.unwrap().tx_hash();
    wait_receipt(&provider, hash).await;
    let message = error(sign(&signer, transfer(DEV_CHAIN_ID, 0, U256::from(2)))).await;
    assert!(message.contains("nonce too low"), "{message}");
}

use alloy_consensus::SignableTransaction;
use alloy_network::TxSignerSync;

/// The dev genesis state root, computed from the JSON with alloy-trie alone.
fn independent_genesis_root() -> B256 {
    let genesis: alloy_genesis::Genesis = serde_json::from_str(DEV_GENESIS_JSON).unwrap();
    let accounts = genesis.alloc.iter().map(|(address, account)| {
        let storage = account.storage.clone().unwrap_or_default();
        let storage_root = alloy_trie::root::storage_root_unhashed(
            storage.into_iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (k, U256::from_be_bytes(v.0))),
        );
        let code_hash = account.code.as_ref().filter(|c| !c.is_empty()).map_or(KECCAK_EMPTY, keccak256);
        (
            *address,
            TrieAccount {
                nonce: account.nonce.unwrap_or_default(),
                balance: account.balance,
                storage_root,
                code_hash,
            },
        )
    });
    alloy_trie::root::state_root_unhashed(accounts)
}

/// Receipts read one at a time number their logs across the whole block, as the block's
/// receipts and `eth_getLogs` do: the second transaction's logs follow the first's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_receipt_numbers_its_logs_within_the_block() {
    let dir = tempfile::tempdir().unwrap();
    // Blocks far enough apart that both calls below land in one.
    let node =
        Node::launch(&config(dir.path(), None, 2_000), sequencer::genesis::ChainGenesis::dev().unwrap())
            .await
            .unwrap();
    let provider = provider(&node);
    let signer = dev_signer(0);
    // Two LOG0s of empty data, then STOP.
    let emitter = init_code(&[0x60, 0x00, 0x60, 0x00, 0xa0, 0x60, 0x00, 0x60, 0x00, 0xa0, 0x00]);
    let deploy = sign(&signer, eip1559(0, TxKind::Create, 100_000, U256::ZERO, emitter));
    let deployed =
        wait_receipt(&provider, *provider.send_raw_transaction(&deploy).await.unwrap().tx_hash()).await;
    let contract = deployed.contract_address.unwrap();
    wait_block(&provider, deployed.block_number.unwrap() + 1).await;
    let mut hashes = Vec::new();
    for nonce in 1..=2 {
        let call = sign(&signer, eip1559(nonce, TxKind::Call(contract), 60_000, U256::ZERO, Bytes::new()));
        hashes.push(*provider.send_raw_transaction(&call).await.unwrap().tx_hash());
    }
    let first = wait_receipt(&provider, hashes[0]).await;
    let second = wait_receipt(&provider, hashes[1]).await;
    assert_eq!(first.block_number, second.block_number, "both calls in one block");
    let indexes = |receipt: &alloy_rpc_types_eth::TransactionReceipt| -> Vec<u64> {
        receipt.inner.logs().iter().map(|log| log.log_index.unwrap()).collect()
    };
    let (first_indexes, second_indexes) = (indexes(&first), indexes(&second));
    assert_eq!(second_indexes.len(), 2);
    assert_eq!(second_indexes, vec![first_indexes[1] + 1, first_indexes[1] + 2]);
    let block = BlockNumberOrTag::Number(first.block_number.unwrap());
    let receipts = provider.get_block_receipts(block.into()).await.unwrap().unwrap();
    let by_block: Vec<Vec<u64>> = receipts.iter().map(indexes).collect();
    assert!(by_block.contains(&first_indexes) && by_block.contains(&second_indexes), "{by_block:?}");
    let logs = provider
        .get_logs(&alloy_rpc_types_eth::Filter::new().select(first.block_number.unwrap()).address(contract))
        .await
        .unwrap();
    let from_logs: Vec<u64> = logs.iter().map(|log| log.log_index.unwrap()).collect();
    assert_eq!(from_logs, [first_indexes, second_indexes].concat());
    node.stop().await;
}
