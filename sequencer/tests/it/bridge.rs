//! The bridge contract (batcher/contracts/NativeRollupBridge.sol) deployed by `sequencer deploy`
//! on real L1s: the project's dev L1 (EXECUTE on) and Anvil (no EXECUTE).

use crate::{
    anvil::{anvil, anvil_with},
    support::{dev_signer, following_config, launch_l1, wait_block},
};
use alloy_network::EthereumWallet;
use alloy_primitives::{B256, Bytes, U64, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_signer_local::PrivateKeySigner;
use batcher::{
    bridge::{Batch, BridgeRevert, NativeRollupBridge, SettlementMode},
    proposal::{DataPath, Proposal},
    rollup_api::TraceResponse,
};
use sequencer::{
    deploy::{DeployError, deploy_bridge, dev_parameters},
    genesis::ChainGenesis,
    node::Node,
};
use url::Url;

/// An HTTP provider that signs with `signer`.
fn wallet(url: &Url, signer: PrivateKeySigner) -> impl Provider + Clone {
    ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url.clone())
}

/// The bridge's refusal of a call, decoded; fails if the call was not refused by the bridge.
fn refusal_of<T: std::fmt::Debug>(result: Result<T, alloy_contract::Error>) -> BridgeRevert {
    let error = result.expect_err("the bridge took the call");
    error
        .as_decoded_interface_error::<BridgeRevert>()
        .unwrap_or_else(|| panic!("not a bridge refusal: {error}"))
}

/// A batch on the genesis head that the bridge's checks before EXECUTE take.
fn batch_on(genesis: &ChainGenesis, anchor: u64) -> Batch {
    Batch {
        parentBlockHash: genesis.hash,
        lastNumber: 1,
        lastBlockHash: B256::repeat_byte(0xbb),
        lastTimestamp: 1,
        postStateRoot: B256::repeat_byte(0x5e),
        gasUsed: U256::ZERO,
        anchors: vec![anchor],
    }
}

/// Deployed in native mode on the dev L1, the bridge holds the genesis as its head and the
/// proposer's bond, and refuses before EXECUTE every batch that does not extend the head from
/// a bonded proposer with anchors it can read in order and a timestamp not ahead of L1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_bridge_refuses_what_does_not_extend_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = launch_l1(dir.path()).await;
    let url: Url = format!("http://{}", l1.rpc_addr).parse().unwrap();
    let genesis = ChainGenesis::dev().unwrap();
    let proposer = dev_signer(0);
    let parameters = dev_parameters(&genesis, SettlementMode::Native, proposer.address(), 0);
    let deployment = deploy_bridge(&url, proposer.clone(), &parameters).await.unwrap();
    assert!(deployment.config_section.contains(&format!("bridge_address = \"{}\"", deployment.bridge)));
    assert!(deployment.config_section.contains("settlement = \"native\""));

    let provider = wallet(&url, proposer.clone());
    let bridge = NativeRollupBridge::new(deployment.bridge, provider.clone());
    let head = bridge.head().call().await.unwrap();
    assert_eq!(
        (head.number, head.blockHash, head.stateRoot),
        (U256::ZERO, genesis.hash, genesis.header.state_root)
    );
    assert_eq!(bridge.settledStateRoot(U256::ZERO).call().await.unwrap(), genesis.header.state_root);
    assert_eq!(bridge.bonds(proposer.address()).call().await.unwrap(), parameters.proposer_bond);
    assert!(bridge.canPropose(proposer.address()).call().await.unwrap());

    let l1_head = provider.get_block_number().await.unwrap();
    let anchor = l1_head - 1;
    let trace = Bytes::from_static(&[0xc0]);
    let submit = |batch: Batch, trace: Bytes| {
        let bridge = bridge.clone();
        async move { bridge.submitBatch(batch, trace).call().await }
    };

    let stranger = NativeRollupBridge::new(deployment.bridge, wallet(&url, dev_signer(1)));
    let refused = refusal_of(stranger.submitBatch(batch_on(&genesis, anchor), trace.clone()).call().await);
    assert!(matches!(refused, BridgeRevert::NotProposer(_)), "{refused:?}");

    let mut stale = batch_on(&genesis, anchor);
    stale.parentBlockHash = B256::repeat_byte(1);
    let refused = refusal_of(submit(stale, trace.clone()).await);
    assert!(
        matches!(&refused, BridgeRevert::StaleHead(e) if e.expected == genesis.hash && e.claimed == B256::repeat_byte(1)),
        "{refused:?}"
    );

    let mut repeat = batch_on(&genesis, anchor);
    repeat.lastNumber = 0;
    assert!(matches!(refusal_of(submit(repeat, trace.clone()).await), BridgeRevert::NotExtending(_)));

    let mut future = batch_on(&genesis, anchor);
    future.lastTimestamp = u64::MAX;
    assert!(matches!(refusal_of(submit(future, trace.clone()).await), BridgeRevert::FutureTimestamp(_)));

    let mut unanchored = batch_on(&genesis, anchor);
    unanchored.anchors.clear();
    assert!(matches!(refusal_of(submit(unanchored, trace.clone()).await), BridgeRevert::NoAnchor(_)));

    let unseen = batch_on(&genesis, l1_head + 1_000);
    let refused = refusal_of(submit(unseen, trace.clone()).await);
    assert!(matches!(&refused, BridgeRevert::UnknownAnchor(e) if e.number == l1_head + 1_000), "{refused:?}");

    let mut backwards = batch_on(&genesis, anchor);
    backwards.anchors = vec![anchor, anchor - 1];
    assert!(matches!(refusal_of(submit(backwards, trace.clone()).await), BridgeRevert::AnchorBackwards(_)));

    // Blob mode in a transaction that carries no blob.
    let refused = refusal_of(submit(batch_on(&genesis, anchor), Bytes::new()).await);
    assert!(matches!(&refused, BridgeRevert::BadBlobCount(e) if e.count == U256::ZERO), "{refused:?}");

    // The optimistic mode's calls are not this bridge's.
    assert!(matches!(
        refusal_of(bridge.propose(batch_on(&genesis, anchor), trace.clone()).call().await),
        BridgeRevert::WrongMode(_)
    ));

    // A proposer leaving: it can no longer propose, and gets its bond back after the delay.
    assert!(bridge.requestBondWithdrawal().send().await.unwrap().get_receipt().await.unwrap().status());
    assert!(!bridge.canPropose(proposer.address()).call().await.unwrap());
    assert!(matches!(
        refusal_of(submit(batch_on(&genesis, anchor), trace.clone()).await),
        BridgeRevert::NotProposer(_)
    ));
    assert!(matches!(refusal_of(bridge.withdrawBond().call().await), BridgeRevert::BondLocked(_)));
    let delay = bridge.bondWithdrawalDelay().call().await.unwrap();
    let requested = provider.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp;
    while provider.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp
        < requested + delay
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let before = provider.get_balance(proposer.address()).await.unwrap();
    let receipt = bridge.withdrawBond().send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let paid = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        provider.get_balance(proposer.address()).await.unwrap(),
        before + parameters.proposer_bond - paid
    );
    assert_eq!(bridge.bonds(proposer.address()).call().await.unwrap(), U256::ZERO);
    l1.stop().await;
}

/// Anvil has no EXECUTE: a native bridge is refused there, an optimistic one is deployed, its
/// claims stand after the window, and a challenge is refused because nothing can judge it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_bridge_on_anvil_settles_after_the_window() {
    let node = anvil("prague");
    let url: Url = node.url.parse().unwrap();
    let genesis = ChainGenesis::dev().unwrap();
    let proposer = dev_signer(0);

    let native = dev_parameters(&genesis, SettlementMode::Native, proposer.address(), 0);
    let refused = deploy_bridge(&url, proposer.clone(), &native).await.unwrap_err();
    assert!(matches!(refused, DeployError::NoExecute { address } if address == native.execute), "{refused}");
    assert!(refused.to_string().contains("--mode optimistic"), "{refused}");

    let window = 60;
    let parameters = dev_parameters(&genesis, SettlementMode::Optimistic, proposer.address(), window);
    let deployment = deploy_bridge(&url, proposer.clone(), &parameters).await.unwrap();
    let provider = wallet(&url, proposer.clone());
    let bridge = NativeRollupBridge::new(deployment.bridge, provider.clone());
    let anchor = provider.get_block_number().await.unwrap() - 1;
    let claim = batch_on(&genesis, anchor);
    let receipt = bridge
        .propose(claim.clone(), Bytes::from_static(&[0xc0]))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(bridge.nextClaim().call().await.unwrap(), U256::from(1u64));

    let details = batcher::bridge::ClaimDetails {
        gasUsed: claim.gasUsed,
        lastTimestamp: claim.lastTimestamp,
        anchors: vec![batcher::bridge::IExecute::L1Anchor {
            number: anchor,
            blockHash: provider.get_block_by_number(anchor.into()).await.unwrap().unwrap().header.hash,
        }],
    };
    let challenger = NativeRollupBridge::new(deployment.bridge, wallet(&url, dev_signer(2)));
    let refused = refusal_of(
        challenger
            .challenge(U256::ZERO, details, Bytes::from_static(&[0xc0]))
            .value(parameters.challenge_bond)
            .call()
            .await,
    );
    assert!(matches!(refused, BridgeRevert::ExecuteUnavailable(_)), "{refused:?}");

    // Before the window is over nothing settles; after it, the claim is the head.
    bridge.settleClaims(U256::from(10u64)).send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!(bridge.head().call().await.unwrap().number, U256::ZERO);
    let _: serde_json::Value = provider.raw_request("evm_increaseTime".into(), (window + 1,)).await.unwrap();
    let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    bridge.settleClaims(U256::from(10u64)).send().await.unwrap().get_receipt().await.unwrap();
    let head = bridge.head().call().await.unwrap();
    assert_eq!(
        (head.number, head.blockHash, head.stateRoot),
        (U256::from(1u64), claim.lastBlockHash, claim.postStateRoot)
    );
    assert_eq!(bridge.settledStateRoot(U256::from(1u64)).call().await.unwrap(), claim.postStateRoot);
    assert_eq!(bridge.settledStateRoot(U256::from(2u64)).call().await.unwrap(), B256::ZERO);
}

/// The bridge reads anchors only so far back (EIP-2935: 8,191 blocks). After an outage longer
/// than that, an L2 batch anchored before it still settles: its anchor's hash is proven by a
/// chain of L1 headers from a block the bridge can read, in several transactions
/// (`proveL1BlockHash`); a hash the bridge can read now can simply be recorded
/// (`recordL1BlockHashes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchor_older_than_the_l1_serves_is_proven_by_headers() {
    // Keeping few states in memory lets Anvil mine 8,300 blocks in seconds instead of a minute.
    let node = anvil_with("prague", &["--prune-history"]);
    let url: Url = node.url.parse().unwrap();
    let provider = wallet(&url, dev_signer(0));
    let _: serde_json::Value = provider.raw_request("anvil_mine".into(), (U256::from(10u64),)).await.unwrap();
    let genesis = ChainGenesis::dev().unwrap();
    let proposer = dev_signer(0);
    let parameters = dev_parameters(&genesis, SettlementMode::Optimistic, proposer.address(), 60);
    let deployment = deploy_bridge(&url, proposer.clone(), &parameters).await.unwrap();
    let bridge = NativeRollupBridge::new(deployment.bridge, provider.clone());

    // An L2 following Anvil seals a few blocks, anchored to Anvil's confirmed block.
    let l2_dir = tempfile::tempdir().unwrap();
    let mut config = following_config(l2_dir.path(), None, url.socket_addrs(|| None).unwrap()[0], 2);
    config.l1.chain_id = None;
    let l2_node = Node::launch(&config, genesis).await.unwrap();
    let l2 = crate::support::provider(&l2_node);
    wait_block(&l2, 2).await;
    let trace: TraceResponse =
        l2.raw_request("rollup_getTrace".into(), (U64::from(1), U64::from(2))).await.unwrap();
    let anchor = trace.bindings.anchors[0].number.to::<u64>();
    assert_ne!(anchor, 0);
    l2_node.stop().await;

    // A recordable hash is recorded while the L1 serves it.
    let recorded =
        bridge.recordL1BlockHashes(vec![anchor]).send().await.unwrap().get_receipt().await.unwrap();
    assert!(recorded.status());
    let anchor_hash = provider.get_block_by_number(anchor.into()).await.unwrap().unwrap().header.hash;
    assert_eq!(bridge.recordedL1BlockHashes(U256::from(anchor)).call().await.unwrap(), anchor_hash);

    // A second bridge has no record: after 8,300 more L1 blocks it cannot read the anchor.
    let deployment = deploy_bridge(&url, proposer.clone(), &parameters).await.unwrap();
    let bridge = NativeRollupBridge::new(deployment.bridge, wallet(&url, dev_signer(0)));
    let _: serde_json::Value =
        provider.raw_request("anvil_mine".into(), (U256::from(8_300u64),)).await.unwrap();
    let proposal = Proposal::new(&trace, DataPath::Calldata).unwrap();
    let refused = refusal_of(bridge.propose(proposal.batch.clone(), proposal.inline.clone()).call().await);
    assert!(matches!(&refused, BridgeRevert::UnknownAnchor(e) if e.number == anchor), "{refused:?}");

    // Headers from a block EIP-2935 still serves down to the anchor, 100 a transaction.
    let head = provider.get_block_number().await.unwrap();
    let mut known = head - 8_100;
    while known > anchor {
        let count = (known - anchor).min(100);
        let mut headers = Vec::new();
        for number in (known - count + 1..=known).rev() {
            let block = provider.get_block_by_number(number.into()).await.unwrap().unwrap();
            headers.push(Bytes::from(alloy_rlp::encode(&block.header.inner)));
        }
        let proven =
            bridge.proveL1BlockHash(known, headers).send().await.unwrap().get_receipt().await.unwrap();
        assert!(proven.status(), "a header chain from {known} was refused");
        known -= count;
    }
    assert_eq!(bridge.recordedL1BlockHashes(U256::from(anchor)).call().await.unwrap(), anchor_hash);
    let receipt =
        bridge.propose(proposal.batch, proposal.inline).send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "the batch with a proven anchor was refused");

    // A header that does not hash to the known block hash is refused.
    let block = provider.get_block_by_number((anchor + 4_000).into()).await.unwrap().unwrap();
    let mut forged = block.header.inner.clone();
    forged.gas_used += 1;
    let refused = refusal_of(
        bridge.proveL1BlockHash(anchor + 4_000, vec![Bytes::from(alloy_rlp::encode(&forged))]).call().await,
    );
    assert!(matches!(refused, BridgeRevert::HeaderMismatch(_)), "{refused:?}");
}

/// `sequencer deploy` as an operator runs it: the binary, a key file, the `[l1]` section written
/// out; and native mode refused, with a clear error, on an L1 without EXECUTE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_command_writes_the_l1_section_and_refuses_native_mode_without_execute() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = launch_l1(&dir.path().join("l1")).await;
    let key_file = dir.path().join("proposer.key");
    std::fs::write(&key_file, format!("0x{}\n", alloy_primitives::hex::encode(dev_signer(7).to_bytes())))
        .unwrap();
    let out = dir.path().join("l1.toml");
    let deploy = |url: String, mode: &'static str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_sequencer"))
            .args(["deploy", "--l1-rpc", &url, "--mode", mode, "--key-file"])
            .arg(&key_file)
            .arg("--out")
            .arg(&out)
            .output()
    };
    let url = format!("http://{}", l1.rpc_addr);
    let output = deploy(url.clone(), "native").await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let section = std::fs::read_to_string(&out).unwrap();
    assert!(
        section.contains(&format!("rpc_url = \"{url}/\""))
            || section.contains(&format!("rpc_url = \"{url}\"")),
        "{section}"
    );
    assert!(section.contains("settlement = \"native\""), "{section}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains(&alloy_primitives::hex::encode(dev_signer(7).to_bytes())),
        "the key was printed"
    );

    let node = anvil("prague");
    let output = deploy(node.url.clone(), "native").await.unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("EXECUTE does not answer"), "{stderr}");
    l1.stop().await;
}
