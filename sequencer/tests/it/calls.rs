//! `eth_call`, `eth_estimateGas` and `eth_createAccessList` over real HTTP with alloy's
//! provider, on contracts the chain really deployed.

use crate::support::{dev_signer, init_code, launch, provider, sign, wait_receipt};
use alloy_consensus::TxEip1559;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, address};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_eth::{
    TransactionRequest,
    state::{AccountOverride, StateOverride},
};
use serde_json::json;

/// `SSTORE(calldata[0..32], calldata[32..64])`.
const STORE: &[u8] = &[0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x00];
/// Returns `SLOAD(calldata[0..32])`.
const LOAD: &[u8] = &[0x60, 0x00, 0x35, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];
/// Reverts with `calldata[0..32]` as revert data.
const REVERT_ECHO: &[u8] = &[0x60, 0x00, 0x35, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xfd];
/// `EXTCODESIZE(calldata[0..32])`.
const PROBE: &[u8] = &[0x60, 0x00, 0x35, 0x3b, 0x00];

fn words(a: U256, b: U256) -> Bytes {
    [a.to_be_bytes::<32>(), b.to_be_bytes::<32>()].concat().into()
}

fn eip1559(nonce: u64, to: TxKind, gas_limit: u64, input: Bytes) -> TxEip1559 {
    crate::support::eip1559(nonce, to, gas_limit, U256::ZERO, input)
}

async fn deploy(provider: &RootProvider, nonce: u64, runtime: &[u8]) -> Address {
    let raw = sign(&dev_signer(0), eip1559(nonce, TxKind::Create, 200_000, init_code(runtime)));
    let hash = *provider.send_raw_transaction(&raw).await.unwrap().tx_hash();
    wait_receipt(provider, hash).await.contract_address.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_estimates_and_access_lists() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    let sender = dev_signer(0).address();
    let store = deploy(&provider, 0, STORE).await;
    let reverter = deploy(&provider, 1, REVERT_ECHO).await;
    let probe = deploy(&provider, 2, PROBE).await;

    // eth_call with a state override: LOAD's code at an empty address, with a slot set.
    let virtual_contract = address!("0x00000000000000000000000000000000000c0de0");
    let mut overrides = StateOverride::default();
    overrides.insert(
        virtual_contract,
        AccountOverride {
            code: Some(Bytes::from_static(LOAD)),
            state_diff: Some([(B256::with_last_byte(5), B256::with_last_byte(0x77))].into_iter().collect()),
            ..Default::default()
        },
    );
    let request = TransactionRequest::default()
        .from(sender)
        .to(virtual_contract)
        .input(Bytes::from(U256::from(5).to_be_bytes::<32>().to_vec()).into());
    let output: Bytes =
        provider.raw_request("eth_call".into(), (&request, "latest", &overrides)).await.unwrap();
    assert_eq!(output.as_ref(), B256::with_last_byte(0x77).as_slice());
    // Without the override the address has no code: empty output.
    let output: Bytes = provider.raw_request("eth_call".into(), (&request, "latest")).await.unwrap();
    assert!(output.is_empty());

    // A revert: code 3, the revert data in `data`.
    let data = B256::repeat_byte(0xab);
    let request =
        TransactionRequest::default().from(sender).to(reverter).input(Bytes::from(data.to_vec()).into());
    let error = provider.raw_request::<_, Bytes>("eth_call".into(), (&request, "latest")).await.unwrap_err();
    let payload = error.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(payload.code, 3);
    assert!(payload.message.starts_with("execution reverted"), "{}", payload.message);
    let revert_data: Bytes = serde_json::from_str(payload.data.as_ref().unwrap().get()).unwrap();
    assert_eq!(revert_data.as_ref(), data.as_slice());
    let error = provider.estimate_gas(request).await.unwrap_err();
    assert_eq!(error.as_error_resp().unwrap().code, 3);

    // estimateGas: the answer suffices and one less does not, for a fresh slot (no refund)
    // and for clearing it again (with a refund).
    let mut nonce = provider.get_transaction_count(sender).await.unwrap();
    let mut blocks = Vec::new();
    for (slot, value) in [(1u64, 9u64), (1, 0)] {
        let input = words(U256::from(slot), U256::from(value));
        let request = TransactionRequest::default().from(sender).to(store).input(input.clone().into());
        let estimate = provider.estimate_gas(request.clone()).await.unwrap();
        assert!(estimate > 21_000 && estimate < 100_000, "estimate {estimate}");
        let too_little: Result<Bytes, _> = provider
            .raw_request("eth_call".into(), (request.clone().gas_limit(estimate - 1), "latest"))
            .await;
        assert!(too_little.is_err(), "{estimate} - 1 gas was enough for slot {slot} = {value}");
        let raw = sign(&dev_signer(0), eip1559(nonce, TxKind::Call(store), estimate, input));
        let hash = *provider.send_raw_transaction(&raw).await.unwrap().tx_hash();
        let receipt = wait_receipt(&provider, hash).await;
        assert!(receipt.status(), "the estimate {estimate} did not suffice");
        blocks.push(receipt.block_number.unwrap());
        nonce += 1;
    }
    // eth_getStorageValues: the slot as each block left it, from the trie below the head.
    for (block, value) in blocks.iter().zip([9u64, 0]) {
        let values: std::collections::HashMap<Address, Vec<B256>> = provider
            .raw_request(
                "eth_getStorageValues".into(),
                (json!({store.to_string(): ["0x1", "0x2"]}), U64::from(*block)),
            )
            .await
            .unwrap();
        assert_eq!(values[&store], [B256::from(U256::from(value)), B256::ZERO], "at block {block}");
    }
    let plain = provider
        .estimate_gas(
            TransactionRequest::default().from(sender).to(Address::repeat_byte(1)).value(U256::from(1)),
        )
        .await
        .unwrap();
    assert_eq!(plain, 21_000);
    // A transfer with an access list pays for it: 2,400 per address over the 21,000.
    let listed = TransactionRequest::default()
        .from(sender)
        .to(Address::repeat_byte(1))
        .value(U256::from(1))
        .access_list(AccessList(vec![AccessListItem {
            address: Address::repeat_byte(2),
            storage_keys: vec![],
        }]));
    assert_eq!(provider.estimate_gas(listed).await.unwrap(), 23_400);

    // createAccessList: the probed account, not the sender or the callee.
    let probed = Address::repeat_byte(0x5e);
    let request = TransactionRequest::default()
        .from(sender)
        .to(probe)
        .input(Bytes::from(probed.into_word().to_vec()).into());
    let result = provider.create_access_list(&request).await.unwrap();
    assert_eq!(result.error, None);
    let addresses: Vec<Address> = result.access_list.0.iter().map(|item| item.address).collect();
    assert_eq!(addresses, vec![probed]);
    assert!(result.gas_used > U256::from(21_000));
    // The callee's own slots are listed (it is warm, its slots are not), and a failure is
    // named in plain words.
    let request = TransactionRequest::default()
        .from(sender)
        .to(store)
        .input(words(U256::from(7), U256::from(1)).into());
    let result = provider.create_access_list(&request).await.unwrap();
    assert_eq!(result.access_list.0.len(), 1, "{:?}", result.access_list);
    assert_eq!(result.access_list.0[0].address, store);
    assert_eq!(result.access_list.0[0].storage_keys, vec![B256::with_last_byte(7)]);
    let request =
        TransactionRequest::default().from(sender).to(reverter).input(Bytes::from(data.to_vec()).into());
    let result = provider.create_access_list(&request).await.unwrap();
    assert_eq!(result.error.as_deref(), Some("execution reverted"));
    // ... with state overrides as its third parameter: LOAD at an empty address reads slot 5.
    let request = TransactionRequest::default()
        .from(sender)
        .to(virtual_contract)
        .input(Bytes::from(U256::from(5).to_be_bytes::<32>().to_vec()).into());
    let result: alloy_eips::eip2930::AccessListResult =
        provider.raw_request("eth_createAccessList".into(), (&request, "latest", &overrides)).await.unwrap();
    assert_eq!(result.access_list.0[0].storage_keys, vec![B256::with_last_byte(5)], "{result:?}");

    // An access list for a loop that never ends, with all the gas there is: the run stops at
    // the RPC gas cap (it used to run for ever on a blocking thread).
    let mut looping = StateOverride::default();
    looping.insert(
        virtual_contract,
        AccountOverride { code: Some(Bytes::from_static(SPIN)), ..Default::default() },
    );
    let request = TransactionRequest::default().from(sender).to(virtual_contract).gas_limit(u64::MAX);
    let result: alloy_eips::eip2930::AccessListResult =
        provider.raw_request("eth_createAccessList".into(), (&request, "latest", &looping)).await.unwrap();
    assert_eq!(result.gas_used, U256::from(sequencer::rpc::RPC_GAS_CAP), "{result:?}");
    assert_eq!(result.error.as_deref(), Some("out of gas"));

    // Calls the EVM refuses before running them fail in geth's words, which wallets match.
    let refused = |request: TransactionRequest| {
        let provider = provider.clone();
        async move {
            let error =
                provider.raw_request::<_, Bytes>("eth_call".into(), (&request, "latest")).await.unwrap_err();
            error.as_error_resp().expect("a JSON-RPC error").message.to_string()
        }
    };
    let call = TransactionRequest::default().from(sender).to(Address::repeat_byte(1));
    for (request, expected) in [
        (call.clone().gas_limit(1_000), "intrinsic gas too low: have 1000, want 21000"),
        (
            call.clone().max_fee_per_gas(1).max_priority_fee_per_gas(0),
            "max fee per gas less than block base fee",
        ),
        (
            call.clone().from(Address::repeat_byte(0x99)).value(U256::from(256)),
            "insufficient funds for gas * price + value",
        ),
    ] {
        let message = refused(request).await;
        assert!(message.starts_with(expected), "{message:?} should start with {expected:?}");
    }
    let error = provider
        .estimate_gas(
            TransactionRequest::default().from(Address::repeat_byte(0x99)).to(sender).value(U256::from(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(error.as_error_resp().unwrap().message, "insufficient funds for transfer");

    // A wallet preparing a transaction queued behind others (a higher nonce) or replacing one (a
    // lower nonce) calls, estimates and lists access with that nonce: no nonce check, as in
    // geth, reth and Anvil.
    let nonce = provider.get_transaction_count(sender).await.unwrap();
    for wrong in [nonce + 5, 0] {
        let request = TransactionRequest::default()
            .from(sender)
            .to(store)
            .input(words(U256::from(3), U256::from(1)).into())
            .nonce(wrong);
        let call: Result<Bytes, _> = provider.raw_request("eth_call".into(), (&request, "latest")).await;
        assert_eq!(call.unwrap(), Bytes::new(), "eth_call with nonce {wrong}");
        let estimate = provider.estimate_gas(request.clone()).await.unwrap();
        assert!(estimate > 21_000 && estimate < 100_000, "estimate {estimate} with nonce {wrong}");
        let listed = provider.create_access_list(&request).await.unwrap();
        assert_eq!(listed.error, None, "eth_createAccessList with nonce {wrong}");
        assert_eq!(listed.access_list.0[0].storage_keys, vec![B256::with_last_byte(3)]);
    }

    // A revert without data is a plain server error, as geth answers it.
    let mut empty_revert = StateOverride::default();
    empty_revert.insert(
        virtual_contract,
        AccountOverride { code: Some(Bytes::from_static(&[0x5f, 0x5f, 0xfd])), ..Default::default() },
    );
    let request = TransactionRequest::default().from(sender).to(virtual_contract);
    let error = provider
        .raw_request::<_, Bytes>("eth_call".into(), (&request, "latest", &empty_revert))
        .await
        .unwrap_err();
    let payload = error.as_error_resp().unwrap();
    assert_eq!(
        (payload.code, payload.message.as_ref(), payload.data.is_none()),
        (-32000, "execution reverted", true)
    );

    // Block overrides reach BLOBBASEFEE too.
    let mut blob_fee = StateOverride::default();
    // BLOBBASEFEE PUSH0 MSTORE PUSH1 32 PUSH0 RETURN
    blob_fee.insert(
        virtual_contract,
        AccountOverride {
            code: Some(Bytes::from_static(&[0x4a, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3])),
            ..Default::default()
        },
    );
    let output: Bytes = provider
        .raw_request("eth_call".into(), (&request, "latest", &blob_fee, json!({"blobBaseFee": "0x77"})))
        .await
        .unwrap();
    assert_eq!(output.as_ref(), B256::with_last_byte(0x77).as_slice());

    // `data` and `input` that disagree are refused, not silently resolved.
    let both = json!({"from": sender, "to": store, "data": "0x01", "input": "0x02"});
    let error = provider.raw_request::<_, Bytes>("eth_call".into(), (both, "latest")).await.unwrap_err();
    assert_eq!(error.as_error_resp().unwrap().code, -32602);
    node.stop().await;
}

/// Returns the word 42.
const FORTY_TWO: &[u8] = &[0x60, 0x2a, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3];
/// Counts down from 1,000,000 (7M instructions and 26M gas, far more than a call may run on the
/// RPC's own thread), then returns the word 42.
const COUNTDOWN: &[u8] = &[
    0x62, 0x0f, 0x42, 0x40, 0x5b, 0x60, 0x01, 0x90, 0x03, 0x80, 0x60, 0x04, 0x57, 0x60, 0x2a, 0x5f, 0x52,
    0x60, 0x20, 0x5f, 0xf3,
];
/// Loops forever.
const SPIN: &[u8] = &[0x5b, 0x5f, 0x56];
/// Returns the hash of the block before the call's block.
const PARENT_HASH: &[u8] = &[0x43, 0x60, 0x01, 0x90, 0x03, 0x40, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3];

/// Calls `target` and returns the first word it returned.
fn forwarder(target: Address) -> Vec<u8> {
    [
        &[0x60, 0x20, 0x5f, 0x5f, 0x5f, 0x5f, 0x73][..],
        target.as_slice(),
        &[0x5a, 0xf1, 0x50, 0x60, 0x20, 0x5f, 0xf3],
    ]
    .concat()
}

/// `eth_call` of `code` (as an override at an empty address) at `block`.
async fn call_code(provider: &RootProvider, code: &[u8], block: &str) -> Result<Bytes, String> {
    let at = address!("0x00000000000000000000000000000000000c0de1");
    let mut overrides = StateOverride::default();
    overrides.insert(at, AccountOverride { code: Some(Bytes::copy_from_slice(code)), ..Default::default() });
    let request = TransactionRequest::default().from(dev_signer(1).address()).to(at);
    provider.raw_request("eth_call".into(), (&request, block, &overrides)).await.map_err(|e| e.to_string())
}

/// Calls first run from memory within a time budget; calls that need the database (a code, trie
/// nodes after a restart, an ancestor's hash) or more time start again on a blocking thread, and
/// answer exactly as if they had run there alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_memory_cannot_serve_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    let answer = Bytes::from(U256::from(42).to_be_bytes::<32>().to_vec());
    let target = deploy(&provider, 0, FORTY_TWO).await;

    // The callee's code is read inside the forwarder's frame: first from the database, then
    // from memory.
    for _ in 0..2 {
        assert_eq!(call_code(&provider, &forwarder(target), "latest").await.unwrap(), answer);
    }
    assert_eq!(call_code(&provider, COUNTDOWN, "latest").await.unwrap(), answer);
    let spin = call_code(&provider, SPIN, "latest").await.unwrap_err();
    assert!(spin.contains("out of gas"), "{spin}");
    let number = provider.get_block_number().await.unwrap();
    let parent = provider.get_block_by_number((number - 1).into()).await.unwrap().unwrap();
    let hash = call_code(&provider, PARENT_HASH, &format!("{number:#x}")).await.unwrap();
    assert_eq!(hash.as_ref(), parent.header.hash.as_slice());

    let request = TransactionRequest::default().from(dev_signer(0).address()).to(target);
    let estimate = provider.estimate_gas(request.clone()).await.unwrap();

    // After a restart no trie node is in memory.
    node.stop().await;
    let node = launch(dir.path(), None).await;
    let provider = crate::support::provider(&node);
    assert_eq!(provider.estimate_gas(request).await.unwrap(), estimate);
    assert_eq!(call_code(&provider, &forwarder(target), "latest").await.unwrap(), answer);
    let balance = provider.get_balance(dev_signer(0).address()).await.unwrap();
    let request = TransactionRequest::default().from(dev_signer(0).address()).to(target);
    assert_eq!(provider.call(request).await.unwrap(), answer);
    assert!(balance > U256::ZERO);
    node.stop().await;
}

/// KECCAK256 over 256 KiB of memory, again and again: 50M gas take about a second.
const HASHING_LOOP: &[u8] = &[0x5b, 0x62, 0x04, 0x00, 0x00, 0x5f, 0x20, 0x50, 0x5f, 0x56];

/// A node that stops refuses the calls waiting to execute and stops the running ones, with a
/// clear error, instead of draining a queue of heavy calls before it exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_calls_waiting_and_running() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    // Far more hashing than the execution threads can finish before the stop below.
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { call_code(&provider, HASHING_LOOP, "latest").await })
        })
        .collect();
    // Every execution thread is busy once a call waits for one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while node.executions().waiting() == 0 {
        assert!(std::time::Instant::now() < deadline, "no call came to wait for an execution");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    node.stop().await;
    let mut stopped = 0;
    for call in calls {
        let message = call.await.unwrap().unwrap_err();
        if message.contains("execution aborted: the node is shutting down") {
            stopped += 1;
        } else {
            // One that finished before the stop ran out of gas; a request the server no longer
            // took is a transport error, not a hang.
            assert!(message.contains("out of gas") || !message.contains("server returned"), "{message}");
        }
    }
    assert!(stopped > 0);
}

/// `rollup_getTrace` and a long `eth_feeHistory` (up to 1,024 blocks of work each) are admitted
/// as the heavy calls are: a node whose executions stop refuses them, while a wallet's short
/// fee history and plain reads still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_and_long_fee_histories_are_admitted_as_heavy_calls() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    deploy(&provider, 0, FORTY_TWO).await;
    let head = provider.get_block_number().await.unwrap();
    let trace = |provider: RootProvider| async move {
        provider
            .raw_request::<_, serde_json::Value>("rollup_getTrace".into(), (U64::from(1), U64::from(head)))
            .await
            .map_err(|error| error.to_string())
    };
    let fee_history = |provider: RootProvider, blocks: u64| async move {
        provider
            .raw_request::<_, serde_json::Value>(
                "eth_feeHistory".into(),
                (U64::from(blocks), "latest", [25.0, 75.0]),
            )
            .await
            .map_err(|error| error.to_string())
    };
    trace(provider.clone()).await.unwrap();
    fee_history(provider.clone(), 1024).await.unwrap();

    node.executions().stop();
    for refused in [trace(provider.clone()).await, fee_history(provider.clone(), 1024).await] {
        let message = refused.unwrap_err();
        assert!(message.contains("execution aborted: the node is shutting down"), "{message}");
    }
    let short = fee_history(provider.clone(), 4).await.unwrap();
    assert!(short["baseFeePerGas"].as_array().is_some_and(|fees| !fees.is_empty()), "{short}");
    assert!(provider.get_block_number().await.unwrap() >= head);
    node.stop().await;
}

/// Precompiles moved by `movePrecompileToAddress` and replaced by overriding their address, in
/// `eth_call` and, for one block at a time, in `eth_simulateV1`; and the moves geth refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_move_and_replace_precompiles() {
    /// Returns the word 0x42.
    const MOCK: &[u8] = &[0x60, 0x42, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    let sha256 = Address::with_last_byte(2);
    let ripemd160 = Address::with_last_byte(3);
    let elsewhere = address!("0x0000000000000000000000000000000000005a5a");
    let abc = Bytes::from_static(b"abc");
    let sha256_of_abc: Bytes =
        "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".parse().unwrap();
    let mocked = Bytes::from(U256::from(0x42).to_be_bytes::<32>());
    let call = |to: Address, overrides: StateOverride| {
        let provider = provider.clone();
        let request =
            TransactionRequest::default().from(dev_signer(1).address()).to(to).input(abc.clone().into());
        async move {
            provider
                .raw_request::<_, Bytes>("eth_call".into(), (&request, "latest", &overrides))
                .await
                .map_err(|e| e.to_string())
        }
    };
    let moving = |pairs: &[(Address, Address)]| -> StateOverride {
        pairs
            .iter()
            .map(|(from, to)| {
                (*from, AccountOverride { move_precompile_to: Some(*to), ..Default::default() })
            })
            .collect()
    };

    assert_eq!(call(sha256, StateOverride::default()).await.unwrap(), sha256_of_abc);
    // Moved: it answers at its new address, and its old one is an empty account.
    let moved = moving(&[(sha256, elsewhere)]);
    assert_eq!(call(elsewhere, moved.clone()).await.unwrap(), sha256_of_abc);
    assert_eq!(call(sha256, moved).await.unwrap(), Bytes::new());
    // Replaced by code at its address, moved or not: the code runs there.
    let mut replaced = StateOverride::default();
    replaced.insert(sha256, AccountOverride { code: Some(Bytes::from_static(MOCK)), ..Default::default() });
    assert_eq!(call(sha256, replaced.clone()).await.unwrap(), mocked);
    replaced.get_mut(&sha256).unwrap().move_precompile_to = Some(elsewhere);
    assert_eq!(call(sha256, replaced.clone()).await.unwrap(), mocked);
    assert_eq!(call(elsewhere, replaced).await.unwrap(), sha256_of_abc);
    // Refused as geth refuses them.
    let refused = [
        (moving(&[(elsewhere, sha256)]), "is not a precompile"),
        (moving(&[(sha256, sha256)]), "moved to itself"),
        (moving(&[(sha256, elsewhere), (ripemd160, elsewhere)]), "more than one precompile is moved"),
        (moving(&[(sha256, ripemd160), (ripemd160, elsewhere)]), "already overridden"),
    ];
    for (overrides, expected) in refused {
        let error = call(elsewhere, overrides).await.unwrap_err();
        assert!(error.contains(expected) && error.contains("-32602"), "{expected}: {error}");
    }

    // eth_simulateV1: a move holds for its block only; refusals under the spec's codes.
    let sender = dev_signer(0).address();
    let blocks: serde_json::Value = provider
        .raw_request(
            "eth_simulateV1".into(),
            (
                json!({"blockStateCalls": [
                    {
                        "stateOverrides": {sha256.to_string(): {"movePrecompileToAddress": elsewhere}},
                        "calls": [{"from": sender, "to": elsewhere, "input": abc}, {"from": sender, "to": sha256, "input": abc}],
                    },
                    {"calls": [{"from": sender, "to": sha256, "input": abc}, {"from": sender, "to": elsewhere, "input": abc}]},
                ]}),
                "latest",
            ),
        )
        .await
        .unwrap();
    let returned = |block: usize, call: usize| blocks[block]["calls"][call]["returnData"].clone();
    assert_eq!(returned(0, 0), json!(sha256_of_abc));
    assert_eq!(returned(0, 1), json!("0x"));
    assert_eq!(returned(1, 0), json!(sha256_of_abc));
    assert_eq!(returned(1, 1), json!("0x"));
    for (moves, code) in [
        (json!({sha256.to_string(): {"movePrecompileToAddress": sha256}}), "-38022"),
        (
            json!({
                sha256.to_string(): {"movePrecompileToAddress": elsewhere},
                ripemd160.to_string(): {"movePrecompileToAddress": elsewhere},
            }),
            "-38023",
        ),
    ] {
        let error = provider
            .raw_request::<_, serde_json::Value>(
                "eth_simulateV1".into(),
                (json!({"blockStateCalls": [{"stateOverrides": moves, "calls": []}]}), "latest"),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(code), "{code}: {error}");
    }
    node.stop().await;
}

/// Every kind of state override `eth_call` applies (code, balance, storage patched or replaced)
/// and block-hash overrides, the same whether the overridden accounts are in memory or must be
/// read from the database (after a restart no trie node is in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_apply_state_and_block_hash_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    let store = deploy(&provider, 0, STORE).await;
    for (nonce, slot) in [(1, 1u64), (2, 2)] {
        let input = words(U256::from(slot), U256::from(9));
        let raw = sign(&dev_signer(0), eip1559(nonce, TxKind::Call(store), 100_000, input));
        let hash = *provider.send_raw_transaction(&raw).await.unwrap().tx_hash();
        assert!(wait_receipt(&provider, hash).await.status());
    }
    check_overrides(&provider, store).await;

    node.stop().await;
    let node = launch(dir.path(), None).await;
    let provider = crate::support::provider(&node);
    check_overrides(&provider, store).await;

    // A code override that does not decode is the request's fault.
    let mut overrides = StateOverride::default();
    overrides.insert(
        store,
        AccountOverride { code: Some(Bytes::from_static(&[0xef, 0x01, 0x00, 0x01])), ..Default::default() },
    );
    let request = TransactionRequest::default().from(dev_signer(0).address()).to(store);
    let error = provider
        .raw_request::<_, Bytes>("eth_call".into(), (&request, "latest", &overrides))
        .await
        .unwrap_err();
    assert_eq!(error.as_error_resp().unwrap().code, -32602, "{error}");
    node.stop().await;
}

/// The overrides of [`calls_apply_state_and_block_hash_overrides`] on `store`, whose slots 1 and
/// 2 hold 9.
async fn check_overrides(provider: &RootProvider, store: Address) {
    /// Returns `BALANCE(calldata[0..32])`.
    const BALANCE: &[u8] = &[0x60, 0x00, 0x35, 0x31, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3];
    /// Returns `BLOCKHASH(calldata[0..32])`.
    const BLOCKHASH: &[u8] = &[0x60, 0x00, 0x35, 0x40, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3];
    let sender = dev_signer(0).address();
    let probe = address!("0x00000000000000000000000000000000000c0de2");
    let word = |value: u64| Bytes::from(U256::from(value).to_be_bytes::<32>().to_vec());
    let call = |to: Address, input: Bytes, block: String, overrides: StateOverride, block_overrides| {
        let request = TransactionRequest::default().from(sender).to(to).input(input.into());
        async move {
            let block_overrides: alloy_rpc_types_eth::BlockOverrides = block_overrides;
            let output: Bytes = provider
                .raw_request("eth_call".into(), (&request, block, &overrides, &block_overrides))
                .await
                .unwrap();
            output
        }
    };
    let code =
        |code: &'static [u8]| AccountOverride { code: Some(Bytes::from_static(code)), ..Default::default() };

    // `stateDiff` patches the stored slots, `state` replaces them all.
    let slot_two = || Some([(B256::with_last_byte(2), B256::with_last_byte(0x55))].into_iter().collect());
    let patched = AccountOverride { state_diff: slot_two(), ..code(LOAD) };
    let replaced = AccountOverride { state: slot_two(), ..code(LOAD) };
    for (account, slot, value) in
        [(&patched, 1, 9), (&patched, 2, 0x55), (&replaced, 1, 0), (&replaced, 2, 0x55)]
    {
        let overrides = [(store, account.clone())].into_iter().collect();
        let output = call(store, word(slot), "latest".into(), overrides, Default::default()).await;
        assert_eq!(output, word(value), "slot {slot} under {account:?}");
    }

    // A balance set on an account that exists.
    let overrides = [
        (probe, code(BALANCE)),
        (sender, AccountOverride { balance: Some(U256::from(0x1234)), ..Default::default() }),
    ]
    .into_iter()
    .collect();
    let input = Bytes::from(sender.into_word().to_vec());
    assert_eq!(call(probe, input, "latest".into(), overrides, Default::default()).await, word(0x1234));

    // BLOCKHASH of the parent block: the stored one, or the overriding one.
    let number = provider.get_block_number().await.unwrap();
    let parent = provider.get_block_by_number((number - 1).into()).await.unwrap().unwrap();
    let overrides: StateOverride = [(probe, code(BLOCKHASH))].into_iter().collect();
    let block = format!("{number:#x}");
    let stored = call(probe, word(number - 1), block.clone(), overrides.clone(), Default::default()).await;
    assert_eq!(stored.as_ref(), parent.header.hash.as_slice());
    let hash = B256::repeat_byte(0xab);
    let block_overrides = alloy_rpc_types_eth::BlockOverrides {
        block_hash: Some([(number - 1, hash)].into_iter().collect()),
        ..Default::default()
    };
    let overridden = call(probe, word(number - 1), block, overrides, block_overrides).await;
    assert_eq!(overridden.as_ref(), hash.as_slice());
}
