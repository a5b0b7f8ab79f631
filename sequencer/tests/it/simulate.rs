//! `eth_simulateV1` over real HTTP: blocks of calls on each other's state, overrides, call
//! failures and refusals, with results validated against the execution-apis schemas.

use crate::{
    spec::Spec,
    support::{dev_signer, launch, provider},
};
use alloy_primitives::{Address, B256, U256, address};
use alloy_provider::Provider;
use serde_json::{Value, json};

/// `SSTORE(calldata[0..32], calldata[32..64])`, then `LOG1(topic = calldata[0..32])`.
const STORE_AND_LOG: &str = "0x6020356000355560003560006000a100";
/// Returns `SLOAD(calldata[0..32])`.
const LOAD: &str = "0x6000355460005260206000f3";
/// `REVERT(0, 0)`.
const EMPTY_REVERT: &str = "0x5f5ffd";
/// An invalid instruction.
const INVALID: &str = "0xfe";

fn words(a: u64, b: u64) -> String {
    format!("0x{:064x}{:064x}", a, b)
}

fn quantity(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_blocks_run_on_each_others_state() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let provider = provider(&node);
    let spec = Spec::load();
    let sender = dev_signer(0).address();
    let contract = address!("0x00000000000000000000000000000000000c0de1");
    let (reverter, invalid) = (Address::repeat_byte(0xc2), Address::repeat_byte(0xc3));
    let simulate = |payload: Value| {
        let provider = provider.clone();
        async move { provider.raw_request::<_, Value>("eth_simulateV1".into(), (payload, "latest")).await }
    };

    // Block 1 stores 5 in slot 1 of a contract that only exists by override; block 2 swaps
    // its code for a reader and finds the 5, then a revert and a halt follow.
    let head = provider.get_block_number().await.unwrap();
    let blocks = simulate(json!({
        "blockStateCalls": [
            {
                "stateOverrides": {contract.to_string(): {"code": STORE_AND_LOG}},
                "calls": [{"from": sender, "to": contract, "input": words(1, 5)}],
            },
            {
                "stateOverrides": {
                    contract.to_string(): {"code": LOAD},
                    reverter.to_string(): {"code": EMPTY_REVERT},
                    invalid.to_string(): {"code": INVALID},
                },
                "calls": [
                    {"from": sender, "to": contract, "input": words(1, 0)},
                    {"from": sender, "to": reverter},
                    {"from": sender, "to": invalid, "gas": "0x10000"},
                ],
            },
        ],
        "returnFullTransactions": true,
    }))
    .await
    .unwrap();
    spec.check("eth_simulateV1", &blocks);
    let blocks = blocks.as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    let (first, second) = (&blocks[0], &blocks[1]);
    assert_eq!(quantity(&first["number"]), head + 1);
    assert_eq!(quantity(&second["number"]), head + 2);
    assert_eq!(second["parentHash"], first["hash"]);
    assert_ne!(second["stateRoot"], first["stateRoot"]);

    let stored = &first["calls"][0];
    assert_eq!(stored["status"], json!("0x1"), "{stored}");
    // What it spent before refunds: at least what it paid for.
    assert!(quantity(&stored["maxUsedGas"]) >= quantity(&stored["gasUsed"]), "{stored}");
    let log = &stored["logs"][0];
    assert_eq!(log["address"].as_str().unwrap().parse::<Address>().unwrap(), contract);
    assert_eq!(log["topics"][0], json!(B256::from(U256::from(1))));
    assert_eq!(log["blockHash"], first["hash"]);
    assert_eq!(log["transactionHash"], first["transactions"][0]["hash"]);
    assert_eq!(first["transactions"][0]["from"].as_str().unwrap().parse::<Address>().unwrap(), sender);
    // The calls' nonces count up from the sender's: block 2's first call is the next one.
    let nonce = provider.get_transaction_count(sender).await.unwrap();
    assert_eq!(quantity(&first["transactions"][0]["nonce"]), nonce);
    assert_eq!(quantity(&second["transactions"][0]["nonce"]), nonce + 1);

    let [read, reverted, halted] = [0, 1, 2].map(|i| &second["calls"][i]);
    assert_eq!(read["returnData"], json!(B256::from(U256::from(5))), "{read}");
    assert_eq!((reverted["status"].clone(), reverted["error"]["code"].clone()), (json!("0x0"), json!(3)));
    assert_eq!(reverted["returnData"], json!("0x"), "{reverted}");
    assert_eq!((halted["status"].clone(), halted["error"]["code"].clone()), (json!("0x0"), json!(-32015)));
    assert_eq!(halted["gasUsed"], json!("0x10000"));
    assert_eq!(
        quantity(&second["gasUsed"]),
        (0..3).map(|i| quantity(&second["calls"][i]["gasUsed"])).sum::<u64>()
    );

    // A block number that skips ahead is reached through empty blocks.
    let skipped =
        simulate(json!({"blockStateCalls": [{"blockOverrides": {"number": format!("{:#x}", head + 4)}}]}))
            .await
            .unwrap();
    let skipped = skipped.as_array().unwrap();
    assert_eq!(skipped.len(), 4);
    assert_eq!(quantity(&skipped[3]["number"]), head + 4);
    assert_eq!(skipped[3]["parentHash"], skipped[2]["hash"]);

    // Refusals: the spec's codes.
    let code = |payload: Value| {
        let simulated = simulate(payload);
        async move { simulated.await.unwrap_err().as_error_resp().expect("a JSON-RPC error").code }
    };
    let poor = Address::repeat_byte(0x99);
    let unfunded = json!({"blockStateCalls": [{"calls": [{"from": poor, "to": sender, "value": "0x1"}]}]});
    assert_eq!(code(unfunded).await, -38014);
    let feeless =
        json!({"blockStateCalls": [{"calls": [{"from": sender, "to": sender}]}], "validation": true});
    assert_eq!(code(feeless).await, -38012);
    let backwards = json!({"blockStateCalls": [
        {"blockOverrides": {"number": format!("{:#x}", head + 3)}},
        {"blockOverrides": {"number": format!("{:#x}", head + 2)}},
    ]});
    assert_eq!(code(backwards).await, -38020);
    let too_far =
        json!({"blockStateCalls": [{"blockOverrides": {"number": format!("{:#x}", head + 1_000)}}]});
    assert_eq!(code(too_far).await, -38026);
    // Five loops of 10M gas each, a block each, use the simulation's 50M up: the sixth call
    // is refused for that, not for its own gas.
    let looping = Address::repeat_byte(0xc4);
    let spinning = json!({"calls": [{"from": sender, "to": looping, "gas": "0x989680"}]});
    let mut blocks = vec![spinning; 6];
    blocks[0]["stateOverrides"] = json!({looping.to_string(): {"code": "0x5b5f56"}});
    let exhausting = json!({"blockStateCalls": blocks});
    let spent = simulate(exhausting).await.unwrap_err();
    let spent = spent.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(spent.code, -38026);
    assert!(spent.message.contains("used up the simulation's gas"), "{}", spent.message);
    // traceTransfers: the ether a call moves shows among its logs, as a Transfer log of the
    // pseudo-token 0xEeee…EeeE, and the block's own receipts do not have it.
    let traced = json!({"blockStateCalls": [{"calls": [{"from": sender, "to": poor, "value": "0x7"}]}], "traceTransfers": true});
    let traced = simulate(traced).await.unwrap();
    spec.check("eth_simulateV1", &traced);
    let log = &traced[0]["calls"][0]["logs"][0];
    assert_eq!(log["address"].as_str().unwrap().to_lowercase(), format!("0x{}", "e".repeat(40)), "{log}");
    assert_eq!(log["topics"][1], json!(sender.into_word()));
    assert_eq!(log["topics"][2], json!(poor.into_word()));
    assert_eq!(log["data"], json!(B256::from(U256::from(7))));
    assert_eq!(log["blockHash"], traced[0]["hash"]);
    assert_eq!(traced[0]["logsBloom"], json!(alloy_primitives::Bloom::ZERO));

    // BLOCKHASH(number - 1) in the first simulated block is the base block's hash; a coinbase
    // override carries on to the next block; timestamps must increase.
    let base = provider.get_block_by_number(head.into()).await.unwrap().unwrap();
    let hasher = Address::repeat_byte(0xc5);
    let coinbase = Address::repeat_byte(0xc6);
    let chained = simulate(json!({"blockStateCalls": [
        {
            "stateOverrides": {hasher.to_string(): {"code": "0x436001900340 5f5260205ff3".replace(' ', "")}},
            "blockOverrides": {"feeRecipient": coinbase},
            "calls": [{"from": sender, "to": hasher}],
        },
        {},
    ]}))
    .await
    .unwrap();
    let base_number = quantity(&chained[0]["number"]) - 1;
    let simulated_on = provider.get_block_by_number(base_number.into()).await.unwrap().unwrap();
    assert_eq!(chained[0]["calls"][0]["returnData"], json!(simulated_on.header.hash), "{chained}");
    assert_eq!(chained[1]["miner"], json!(coinbase), "{chained}");
    // (An older block's time is at most the newest's.)
    let same_time = json!({"blockStateCalls": [{"blockOverrides": {"time": base.header.timestamp}}]});
    assert_eq!(code(same_time).await, -38021);

    // A call without a nonce takes the sender's nonce as the calls before it left it: an
    // explicit nonce (unchecked without validation) does not move it more than one.
    let nonce = provider.get_transaction_count(sender).await.unwrap();
    let nonced = simulate(json!({
        "blockStateCalls": [{"calls": [
            {"from": sender, "to": poor, "nonce": format!("{:#x}", nonce + 5)},
            {"from": sender, "to": poor},
        ]}],
        "returnFullTransactions": true,
    }))
    .await
    .unwrap();
    let transactions = &nonced[0]["transactions"];
    assert_eq!(quantity(&transactions[0]["nonce"]), nonce + 5, "{nonced}");
    assert_eq!(quantity(&transactions[1]["nonce"]), nonce + 1, "{nonced}");
    // With validation the spec's "all validations a normal EVM would do": nonces are checked.
    // (The sender's nonce is overridden to 3, so that 0 is too low whatever it sent before.)
    let fee = provider.get_gas_price().await.unwrap() * 2;
    for (wrong, expected) in [(8u64, -38011), (0, -38010)] {
        let checked = json!({
            "blockStateCalls": [{"stateOverrides": {sender.to_string(): {"nonce": "0x3"}}, "calls": [{
                "from": sender, "to": poor, "nonce": format!("{wrong:#x}"),
                "maxFeePerGas": format!("{fee:#x}"), "maxPriorityFeePerGas": "0x1",
            }]}],
            "validation": true,
        });
        assert_eq!(code(checked).await, expected, "nonce {wrong}");
    }

    // With validation, a call that pays the base fee runs as a real block would run it.
    let fee = provider.get_gas_price().await.unwrap() * 2;
    let paying = json!({
        "blockStateCalls": [{"calls": [{"from": sender, "to": poor, "value": "0x1", "maxFeePerGas": format!("{fee:#x}"), "maxPriorityFeePerGas": "0x1"}]}],
        "validation": true,
    });
    let paid = simulate(paying).await.unwrap();
    assert_eq!(paid[0]["calls"][0]["status"], json!("0x1"), "{paid}");
    assert!(quantity(&paid[0]["baseFeePerGas"]) > 0);
    // A contract (a smart account) may send even with validation, as in geth.
    let account = Address::repeat_byte(0xc7);
    let from_contract = json!({
        "blockStateCalls": [{
            "stateOverrides": {account.to_string(): {"code": "0x00", "balance": "0xde0b6b3a7640000"}},
            "calls": [{"from": account, "to": poor, "value": "0x1", "maxFeePerGas": format!("{fee:#x}"), "maxPriorityFeePerGas": "0x1"}],
        }],
        "validation": true,
    });
    let sent = simulate(from_contract).await.unwrap();
    assert_eq!(sent[0]["calls"][0]["status"], json!("0x1"), "{sent}");
    node.stop().await;
}
