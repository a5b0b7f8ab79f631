//! Deposits and withdrawals end to end, as a user with alloy sees them: ETH deposited on the
//! dev L1 shows on the L2 with nothing done there, a message with data calls an L2 contract
//! that reads its L1 sender, and a withdrawal is claimed on L1 with the one answer of
//! `rollup_getWithdrawalProof` once its block settles. Every replay, unsettled root, mutated
//! proof and other chain's message is refused.

use crate::support::{DEV_L1_CHAIN_ID, dev_signer, launch_l1};
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, Bytes, U256, utils::parse_ether};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use batcher::{
    bridge::{BridgeRevert, NativeRollupBridge},
    messages::{L2_BRIDGE_ADDRESS, L2Bridge, L2BridgeRevert},
};
use sequencer::{
    dev_rollup::DevRollup,
    rpc::{WithdrawalProof, WithdrawalStatus},
};
use std::time::{Duration, Instant};

alloy_sol_types::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    MessageRecorder,
    "../batcher/contracts/artifacts/MessageRecorder.json"
);

/// A provider that signs with `key`.
fn wallet(url: &url::Url, key: PrivateKeySigner) -> impl Provider + Clone + use<> {
    ProviderBuilder::new().wallet(EthereumWallet::from(key)).connect_http(url.clone())
}

fn l2_url_of(rollup: &DevRollup) -> url::Url {
    format!("http://{}", rollup.l2.rpc_addr).parse().unwrap()
}

/// Waits up to 60 s for `check` to hold.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The dev rollup on an L1 this process runs apart from it, so that the rollup can stop while
/// the L1 goes on.
async fn rollup_on(dir: &std::path::Path, l1_url: &url::Url) -> DevRollup {
    let mut config = crate::support::config(dir, None, 200);
    config.l1.rpc_url = Some(l1_url.to_string());
    config.l1.chain_id = Some(DEV_L1_CHAIN_ID);
    config.l1.poll_interval_ms = 100;
    DevRollup::launch(config, &crate::support::dev_rollup_options()).await.unwrap()
}

/// The value of the L2's unlabelled series `name`, if it serves it.
async fn metric(rollup: &DevRollup, name: &str) -> Option<f64> {
    let url = format!("http://{}/metrics", rollup.l2.metrics_addr);
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn withdrawal_proof(l2: &RootProvider, tx: B256) -> WithdrawalProof {
    l2.raw_request("rollup_getWithdrawalProof".into(), (tx,)).await.unwrap()
}

/// The answer of `rollup_getWithdrawalProof` once it says `settled`, waiting up to 60 s.
async fn settled_proof(l2: &RootProvider, tx: B256) -> WithdrawalProof {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = withdrawal_proof(l2, tx).await;
        if answer.status == WithdrawalStatus::Settled {
            return answer;
        }
        assert!(Instant::now() < deadline, "withdrawal {tx}: its block did not settle within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The L1 bridge's error `call` is refused with.
async fn l1_refusal<T: std::fmt::Debug>(
    call: impl std::future::IntoFuture<Output = Result<T, alloy_contract::Error>>,
) -> BridgeRevert {
    let error = call.await.expect_err("refused");
    error
        .as_decoded_interface_error::<BridgeRevert>()
        .unwrap_or_else(|| panic!("not the bridge's error: {error:?}"))
}

/// The L2 bridge's error `call` is refused with.
async fn l2_refusal<T: std::fmt::Debug>(
    call: impl std::future::IntoFuture<Output = Result<T, alloy_contract::Error>>,
) -> L2BridgeRevert {
    let error = call.await.expect_err("refused");
    error
        .as_decoded_interface_error::<L2BridgeRevert>()
        .unwrap_or_else(|| panic!("not the L2 bridge's error: {error:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_and_withdrawals_cross_with_proofs_and_nothing_twice() {
    let (l1_dir, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1_node = launch_l1(l1_dir.path()).await;
    let l1_url: url::Url = format!("http://{}", l1_node.rpc_addr).parse().unwrap();
    let rollup = rollup_on(dir.path(), &l1_url).await;
    let l2_url = l2_url_of(&rollup);
    let l1: RootProvider = ProviderBuilder::default().connect_http(l1_url.clone());
    let l2: RootProvider = ProviderBuilder::default().connect_http(l2_url.clone());
    let depositor = dev_signer(3);
    let bridge = NativeRollupBridge::new(rollup.bridge.address, wallet(&l1_url, depositor.clone()));

    // A deposit: the L2 balance rises with nothing done on the L2.
    let recipient = Address::repeat_byte(0xd1);
    let one = parse_ether("1").unwrap();
    let receipt = bridge.deposit(recipient).value(one).send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    eventually("the deposit is credited on the L2", || async {
        l2.get_balance(recipient).await.unwrap() == one
    })
    .await;
    assert_eq!(bridge.messageBalance().call().await.unwrap(), one);

    // A message with data calls an L2 contract, which reads its L1 sender.
    let l2_user = wallet(&l2_url, dev_signer(4));
    let recorder = MessageRecorder::deploy(l2_user.clone()).await.unwrap();
    let note = Bytes::from_static(b"from L1");
    let call = MessageRecorder::fromL1Call { note: note.clone() };
    let half = parse_ether("0.5").unwrap();
    let fee = parse_ether("0.01").unwrap();
    let receipt = bridge
        .sendMessage(*recorder.address(), fee, alloy_sol_types::SolCall::abi_encode(&call).into())
        .value(half + fee)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    eventually("the message is delivered", || async {
        recorder.received().call().await.unwrap() == U256::from(1)
    })
    .await;
    assert_eq!(recorder.lastSender().call().await.unwrap(), depositor.address());
    assert_eq!(recorder.lastCaller().call().await.unwrap(), L2_BRIDGE_ADDRESS);
    assert_eq!(recorder.lastValue().call().await.unwrap(), half);
    assert_eq!(recorder.lastNote().call().await.unwrap(), note);

    // A message whose call reverts is delivered as failed: its value stays in the L2 bridge
    // until a retry succeeds, and it cannot be delivered again.
    let refusing = recorder.setRefusing(true).send().await.unwrap().get_receipt().await.unwrap();
    assert!(refusing.status());
    let before = l2.get_balance(L2_BRIDGE_ADDRESS).await.unwrap();
    let receipt = bridge
        .sendMessage(*recorder.address(), U256::ZERO, alloy_sol_types::SolCall::abi_encode(&call).into())
        .value(half)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let failed = receipt.decoded_log::<NativeRollupBridge::MessageSent>().unwrap().data;
    let l2_bridge_reader = L2Bridge::new(L2_BRIDGE_ADDRESS, l2.clone());
    eventually("the refused message is delivered as failed", || async {
        l2_bridge_reader.deliveries(failed.hash).call().await.unwrap() == 2
    })
    .await;
    assert_eq!(l2.get_balance(L2_BRIDGE_ADDRESS).await.unwrap(), before, "the value stays in the L2 bridge");
    assert_eq!(recorder.received().call().await.unwrap(), U256::from(1));
    eventually("the relayer counts the failed call", || async {
        metric(&rollup, "sequencer_messages_failed_calls_total").await == Some(1.0)
    })
    .await;
    let failed = batcher::messages::MessageFields::from(&failed);
    let retrier = L2Bridge::new(L2_BRIDGE_ADDRESS, wallet(&l2_url, dev_signer(6)));
    let reason = l2_refusal(retrier.retryMessage(failed.to_l2()).call()).await;
    assert!(matches!(reason, L2BridgeRevert::MessageCallFailed(_)), "{reason:?}");
    assert!(recorder.setRefusing(false).send().await.unwrap().get_receipt().await.unwrap().status());
    let retried = retrier.retryMessage(failed.to_l2()).send().await.unwrap().get_receipt().await.unwrap();
    assert!(retried.status());
    assert_eq!(recorder.received().call().await.unwrap(), U256::from(2));
    assert_eq!(
        l2_bridge_reader
            .deliveries(retried.decoded_log::<L2Bridge::MessageDelivered>().unwrap().data.hash)
            .call()
            .await
            .unwrap(),
        1
    );
    let reason = l2_refusal(retrier.retryMessage(failed.to_l2()).call()).await;
    assert!(matches!(reason, L2BridgeRevert::NotFailed(_)), "{reason:?}");

    // rollup_status names the L2 bridge.
    let status: serde_json::Value = l2.raw_request("rollup_status".into(), ()).await.unwrap();
    assert_eq!(status["bridge"]["l2Bridge"].as_str().unwrap().parse::<Address>().unwrap(), L2_BRIDGE_ADDRESS);

    // A withdrawal: pending until its block settles, then claimed on L1 with the answer's call.
    let l2_bridge = L2Bridge::new(L2_BRIDGE_ADDRESS, l2_user.clone());
    let l1_recipient = Address::repeat_byte(0xd2);
    let amount = parse_ether("0.3").unwrap();
    let receipt =
        l2_bridge.withdraw(l1_recipient).value(amount).send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let withdrawal = receipt.transaction_hash;
    let early = withdrawal_proof(&l2, withdrawal).await;
    let block = receipt.block_number.unwrap();
    if early.status == WithdrawalStatus::Pending {
        assert_eq!(early.block.to::<u64>(), block);
        assert!(early.claim.is_none() && early.account_proof.is_empty());
        // Claimed against the withdrawal's own block before the bridge settles it: refused.
        let reason =
            l1_refusal(bridge.relayMessage(early.message.to_l1(), block, vec![], vec![]).call()).await;
        assert!(matches!(reason, BridgeRevert::NotSettled(_)), "{reason:?}");
    }
    let proof = settled_proof(&l2, withdrawal).await;
    let claim = proof.claim.clone().unwrap();
    assert_eq!(claim.to, rollup.bridge.address);
    let claimer = wallet(&l1_url, dev_signer(5));
    let request =
        TransactionRequest::default().to(claim.to).input(claim.data.clone().into()).value(claim.value);
    let receipt = claimer.send_transaction(request.clone()).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(l1.get_balance(l1_recipient).await.unwrap(), amount);
    assert_eq!(bridge.messageBalance().call().await.unwrap(), one + half + fee + half - amount);

    // Refused: the same claim again, a mutated proof, a root the bridge never settled.
    let fields = proof.message.clone();
    let settled = proof.settled_block.unwrap().to::<u64>();
    let again = bridge.relayMessage(
        fields.to_l1(),
        settled,
        proof.account_proof.clone(),
        proof.storage_proof.clone(),
    );
    let reason = l1_refusal(again.call()).await;
    assert!(matches!(reason, BridgeRevert::AlreadyRelayed(_)), "{reason:?}");
    let mut mutated = proof.storage_proof.clone();
    let last = mutated.last_mut().unwrap();
    let mut bytes = last.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    *last = bytes.into();
    // A fresh message's proof, mutated, must not pass; the relayed one is refused first.
    let fresh = batcher::messages::MessageFields { nonce: fields.nonce + U256::from(1), ..fields.clone() };
    let reason =
        l1_refusal(bridge.relayMessage(fresh.to_l1(), settled, proof.account_proof.clone(), mutated).call())
            .await;
    assert!(
        matches!(reason, BridgeRevert::MessageNotProven(_) | BridgeRevert::WrongNodeHash(_)),
        "{reason:?}"
    );
    let unsettled = settled + 1_000;
    let reason = l1_refusal(
        bridge
            .relayMessage(fresh.to_l1(), unsettled, proof.account_proof.clone(), proof.storage_proof.clone())
            .call(),
    )
    .await;
    assert!(matches!(reason, BridgeRevert::NotSettled(_)), "{reason:?}");

    // The deposit cannot be delivered twice: anyone can try, the L2 bridge refuses.
    let delivered = L2Bridge::new(L2_BRIDGE_ADDRESS, l2_user.clone());
    let logs = l1
        .get_logs(
            &alloy_rpc_types_eth::Filter::new()
                .address(rollup.bridge.address)
                .event_signature(
                    <NativeRollupBridge::MessageSent as alloy_sol_types::SolEvent>::SIGNATURE_HASH,
                )
                .from_block(0),
        )
        .await
        .unwrap();
    let first =
        <NativeRollupBridge::MessageSent as alloy_sol_types::SolEvent>::decode_log(&logs[0].inner).unwrap();
    let first = batcher::messages::MessageFields::from(&first.data);
    let reason =
        l2_refusal(delivered.relayMessage(first.to_l2(), U256::ZERO, Bytes::new(), vec![], vec![]).call())
            .await;
    assert!(matches!(reason, L2BridgeRevert::AlreadyDelivered(_)), "{reason:?}");

    // A message sent through another chain's bridge on the same L1 proves nothing here, even
    // with valid proofs of that bridge's storage at an anchor the L2 holds.
    let genesis = sequencer::genesis::ChainGenesis::dev().unwrap();
    let mut parameters = sequencer::deploy::dev_parameters(
        &genesis,
        batcher::bridge::SettlementMode::Native,
        dev_signer(2).address(),
        0,
    );
    parameters.chain_id = 4242;
    let other = sequencer::deploy::deploy_bridge(&l1_url, dev_signer(2), &parameters).await.unwrap().bridge;
    let other = NativeRollupBridge::new(other, wallet(&l1_url, dev_signer(2)));
    let foreign_recipient = Address::repeat_byte(0xd8);
    let receipt =
        other.deposit(foreign_recipient).value(one).send().await.unwrap().get_receipt().await.unwrap();
    let sent = receipt.decoded_log::<NativeRollupBridge::MessageSent>().unwrap();
    let sent_in = receipt.block_number.unwrap();
    let (anchor_header, timestamp) = loop {
        let latest = l2.get_block_by_number(alloy_eips::BlockNumberOrTag::Latest).await.unwrap().unwrap();
        let anchor = latest.header.parent_beacon_block_root.unwrap();
        let block = l1.get_block_by_hash(anchor).await.unwrap().unwrap();
        if block.header.number >= sent_in {
            break (block.header.inner.clone(), latest.header.timestamp);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let proof =
        l1.get_proof(*other.address(), vec![sent.data.hash]).number(anchor_header.number).await.unwrap();
    assert_eq!(proof.storage_proof[0].value, U256::from(1), "the other bridge recorded it");
    let foreign = batcher::messages::MessageFields::from(&sent.data);
    let reason = l2_refusal(
        delivered
            .relayMessage(
                foreign.to_l2(),
                U256::from(timestamp),
                alloy_rlp::encode(&anchor_header).into(),
                proof.account_proof,
                proof.storage_proof[0].proof.clone(),
            )
            .call(),
    )
    .await;
    assert!(
        !matches!(reason, L2BridgeRevert::AlreadyDelivered(_) | L2BridgeRevert::UnknownAnchor(_)),
        "{reason:?}"
    );
    assert_eq!(l2.get_balance(foreign_recipient).await.unwrap(), U256::ZERO);

    // A deposit made while the rollup is down is delivered once it is back.
    rollup.stop().await;
    let late = Address::repeat_byte(0xd3);
    let receipt = bridge.deposit(late).value(one).send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let rollup = rollup_on(dir.path(), &l1_url).await;
    let l2: RootProvider = ProviderBuilder::default().connect_http(l2_url_of(&rollup));
    eventually("the deposit made while the rollup was down is credited", || async {
        l2.get_balance(late).await.unwrap() == one
    })
    .await;
    // The relayer went on from where it had seen every earlier message delivered: of the
    // bridge's messages it read only the late deposit again.
    assert_eq!(metric(&rollup, "sequencer_messages_seen_total").await, Some(1.0));
    rollup.stop().await;
    l1_node.stop().await;
}

/// Optimistic mode on a dev L1 that can judge: a withdrawal whose block only a false claim
/// covered cannot be claimed once that claim is challenged away, not even after the window;
/// an honest claim of the same blocks makes it claimable once its window is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_in_a_claim_challenged_away_cannot_be_claimed() {
    use crate::settlement::{Rollup, WINDOW, challenge, wait_l1_time};
    use batcher::proposal::{DataPath, Proposal};

    let rollup = Rollup::following_bridge(batcher::bridge::SettlementMode::Optimistic).await;
    let l2_url: url::Url = format!("http://{}", rollup.l2_node.rpc_addr).parse().unwrap();
    let l2_bridge = L2Bridge::new(L2_BRIDGE_ADDRESS, wallet(&l2_url, dev_signer(6)));
    let recipient = Address::repeat_byte(0xd4);
    let amount = parse_ether("0.2").unwrap();
    let receipt =
        l2_bridge.withdraw(recipient).value(amount).send().await.unwrap().get_receipt().await.unwrap();
    let (withdrawal, block) = (receipt.transaction_hash, receipt.block_number.unwrap().max(2));
    crate::support::wait_block(&rollup.l2, block).await;

    // A false claim of blocks 1..=block, challenged away.
    let trace = rollup.trace(1, block).await;
    let mut false_claim = Proposal::new(&trace, DataPath::Blobs).unwrap();
    false_claim.batch.postStateRoot = B256::repeat_byte(0xfa);
    assert!(rollup.propose(&false_claim).await.status());
    let judged = challenge(&rollup, &dev_signer(4), 0, &trace, &false_claim).await;
    assert!(!judged.decoded_log::<NativeRollupBridge::ClaimChallenged>().unwrap().data.valid);
    wait_l1_time(&rollup, WINDOW + 1).await;
    rollup.settle_claims().await;

    // Nothing settled the block: the answer says to wait for it, and a claim with the proof
    // against the L2's own state is refused.
    let answer = withdrawal_proof(&rollup.l2, withdrawal).await;
    assert_eq!(
        (answer.status, answer.block.to::<u64>()),
        (WithdrawalStatus::Pending, receipt.block_number.unwrap())
    );
    let proof =
        rollup.l2.get_proof(L2_BRIDGE_ADDRESS, vec![answer.message_hash]).number(block).await.unwrap();
    let message = answer.message.clone();
    let claimer = rollup.bridge_as(&dev_signer(7));
    let claim = claimer.relayMessage(
        message.to_l1(),
        block,
        proof.account_proof.clone(),
        proof.storage_proof[0].proof.clone(),
    );
    let reason = l1_refusal(claim.call()).await;
    assert!(matches!(reason, BridgeRevert::NotSettled(_)), "{reason:?}");

    // An honest claim of the same blocks (the proposer bonds again: it was slashed) stands
    // after its window, and the withdrawal is claimed with the node's answer.
    let proposer = rollup.bridge_as(&rollup.proposer);
    let bond = proposer.proposerBond().call().await.unwrap();
    assert!(proposer.bond().value(bond).send().await.unwrap().get_receipt().await.unwrap().status());
    let honest = Proposal::new(&trace, DataPath::Blobs).unwrap();
    assert!(rollup.propose(&honest).await.status());
    wait_l1_time(&rollup, WINDOW + 1).await;
    rollup.settle_claims().await;
    let answer = settled_proof(&rollup.l2, withdrawal).await;
    let claim = answer.claim.unwrap();
    let request = TransactionRequest::default().to(claim.to).input(claim.data.into()).value(claim.value);
    let l1_claimer = wallet(&rollup.l1_url, dev_signer(7));
    // The bridge releases only what deposits brought: with none, the claim is refused.
    let refused = format!("{:?}", l1_claimer.call(request.clone()).await.unwrap_err());
    assert!(refused.contains("revert"), "{refused}");
    let deposit = claimer.deposit(Address::repeat_byte(0xd7)).value(parse_ether("1").unwrap());
    assert!(deposit.send().await.unwrap().get_receipt().await.unwrap().status());
    assert!(l1_claimer.send_transaction(request).await.unwrap().get_receipt().await.unwrap().status());
    assert_eq!(rollup.l1.get_balance(recipient).await.unwrap(), amount);
    rollup.stop().await;
}

/// `sequencer dev --l1-rpc` on Anvil (optimistic mode): a deposit is credited on the L2, and a
/// withdrawal is claimed on Anvil once the window is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_and_withdrawals_cross_on_anvil_after_the_window() {
    let node = crate::anvil::anvil_with("prague", &["--block-time", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::config(dir.path(), None, 200);
    config.l1.rpc_url = Some(node.url.clone());
    let rollup = DevRollup::launch(config, &crate::support::dev_rollup_options()).await.unwrap();
    assert_eq!(rollup.bridge.mode, batcher::bridge::SettlementMode::Optimistic);
    let (l1_url, l2_url) = (rollup.l1_url.clone(), l2_url_of(&rollup));
    let l1: RootProvider = ProviderBuilder::default().connect_http(l1_url.clone());
    let l2: RootProvider = ProviderBuilder::default().connect_http(l2_url.clone());
    let bridge = NativeRollupBridge::new(rollup.bridge.address, wallet(&l1_url, dev_signer(3)));
    let recipient = Address::repeat_byte(0xd5);
    let one = parse_ether("1").unwrap();
    assert!(bridge.deposit(recipient).value(one).send().await.unwrap().get_receipt().await.unwrap().status());
    eventually("the deposit is credited on the L2", || async {
        l2.get_balance(recipient).await.unwrap() == one
    })
    .await;

    let l2_bridge = L2Bridge::new(L2_BRIDGE_ADDRESS, wallet(&l2_url, dev_signer(4)));
    let l1_recipient = Address::repeat_byte(0xd6);
    let amount = parse_ether("0.4").unwrap();
    let receipt =
        l2_bridge.withdraw(l1_recipient).value(amount).send().await.unwrap().get_receipt().await.unwrap();
    // Claimed (the block is safe) but the window is not over: not claimable yet.
    crate::rollup::wait_safe(&l2, receipt.block_number.unwrap()).await;
    assert_eq!(withdrawal_proof(&l2, receipt.transaction_hash).await.status, WithdrawalStatus::Pending);
    let _: serde_json::Value = l1.raw_request("evm_increaseTime".into(), (61u64,)).await.unwrap();
    let answer = settled_proof(&l2, receipt.transaction_hash).await;
    let claim = answer.claim.unwrap();
    let request = TransactionRequest::default().to(claim.to).input(claim.data.into()).value(claim.value);
    let claimer = wallet(&l1_url, dev_signer(5));
    assert!(claimer.send_transaction(request).await.unwrap().get_receipt().await.unwrap().status());
    assert_eq!(l1.get_balance(l1_recipient).await.unwrap(), amount);
    rollup.stop().await;
}

/// The relayer's progress is one value per bridge, replaced as it moves on, on both engines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relayers_progress_is_kept_per_bridge_on_both_engines() {
    let server = crate::postgres::PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("chain.sqlite").display());
    for url in [sqlite, server.fresh_database().await] {
        let store = sequencer::store::Store::open(&url, 2).await.unwrap();
        let (one, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
        assert_eq!(store.relayer_delivered_through(one).await.unwrap(), None);
        store.set_relayer_delivered_through(one, 7).await.unwrap();
        store.set_relayer_delivered_through(one, 9).await.unwrap();
        store.set_relayer_delivered_through(other, 3).await.unwrap();
        assert_eq!(store.relayer_delivered_through(one).await.unwrap(), Some(9));
        assert_eq!(store.relayer_delivered_through(other).await.unwrap(), Some(3));
        store.close().await;
    }
}
