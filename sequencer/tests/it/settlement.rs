//! Settlement through the bridge on the project's dev L1 (EXECUTE on): batches of a running L2
//! that follows the L1, read with `rollup_getTrace`, handed to the bridge in calldata or in
//! blobs. Native mode settles honest batches and rejects and slashes false ones; optimistic mode
//! removes a false claim on challenge and lets true ones stand.

use crate::support::{dev_signer, eip1559, following_config, launch_l1, sign, wait_block, wait_receipt};
use alloy_consensus::{SignableTransaction, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar, TxEnvelope};
use alloy_eips::{eip2718::Encodable2718, eip4844::Blob};
use alloy_network::{EthereumWallet, TxSignerSync};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolInterface};
use batcher::{
    BlobFees, SidecarForm,
    bridge::{BridgeRevert, NativeRollupBridge, SettlementMode, claim_details_of},
    build_sidecar,
    proposal::{DataPath, Proposal, ProposalSettings},
    rollup_api::TraceResponse,
};
use sequencer::{
    deploy::{deploy_bridge, dev_parameters, next_contract_address},
    genesis::ChainGenesis,
    node::Node,
};
use tempfile::TempDir;
use trace_builder::precompile::ExecuteGas;
use url::Url;

/// Seconds a claim can be challenged in these tests: the dev L1's clock runs a second a block,
/// five blocks a second, so about 12 s of the test's time.
pub(crate) const WINDOW: u64 = 60;

/// A dev L1 with a bridge, and an L2 that follows it.
pub(crate) struct Rollup {
    pub(crate) l1_node: Node,
    pub(crate) l2_node: Node,
    _dirs: (TempDir, TempDir),
    pub(crate) l1: RootProvider,
    pub(crate) l2: RootProvider,
    pub(crate) l1_url: Url,
    pub(crate) bridge: Address,
    pub(crate) proposer: PrivateKeySigner,
    settings: ProposalSettings,
    /// The next nonce of the L2 sender of the test transfers.
    l2_nonce: u64,
}

impl Rollup {
    /// A bridge in `mode` for the dev genesis (for chain `bridge_chain_id` when given), proposed
    /// to by the dev L1's account 0 (anyone bonded when `any_proposer`).
    async fn start(mode: SettlementMode, bridge_chain_id: Option<u64>, any_proposer: bool) -> Self {
        Self::launch(mode, bridge_chain_id, any_proposer, false).await
    }

    /// A bridge in `mode` for the dev genesis, proposed to by the dev L1's account 0, and an L2
    /// that follows it (`l1.bridge_address`): its `safe` and `finalized` are what it settled.
    pub(crate) async fn following_bridge(mode: SettlementMode) -> Self {
        Self::launch(mode, None, false, true).await
    }

    async fn launch(
        mode: SettlementMode,
        bridge_chain_id: Option<u64>,
        any_proposer: bool,
        follow_bridge: bool,
    ) -> Self {
        let (l1_dir, l2_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let l1_node = launch_l1(l1_dir.path()).await;
        let l1_url: Url = format!("http://{}", l1_node.rpc_addr).parse().unwrap();
        let proposer = dev_signer(0);
        // The L2 genesis's bridge predeploy names the bridge about to be deployed.
        let bridge = next_contract_address(&l1_url, proposer.address()).await.unwrap();
        let genesis = ChainGenesis::dev_with_bridge(Some(bridge)).unwrap();
        let mut parameters = dev_parameters(&genesis, mode, proposer.address(), WINDOW);
        if let Some(chain_id) = bridge_chain_id {
            parameters.chain_id = chain_id;
        }
        if any_proposer {
            parameters.sequencer = None;
        }
        let deployment = deploy_bridge(&l1_url, proposer.clone(), &parameters).await.unwrap();
        assert_eq!(deployment.bridge, bridge);
        let mut config = following_config(l2_dir.path(), None, l1_node.rpc_addr, 2);
        if follow_bridge {
            config.l1.bridge_address = Some(deployment.bridge);
            config.l1.bridge_deployed_at = deployment.deployed_at;
            config.l1.settlement = mode;
        }
        let l2_node = Node::launch(&config, genesis).await.unwrap();
        let l1 = ProviderBuilder::default().connect_http(l1_url.clone());
        let l2 =
            ProviderBuilder::default().connect_http(format!("http://{}", l2_node.rpc_addr).parse().unwrap());
        let settings = ProposalSettings {
            l1_chain_id: l1.get_chain_id().await.unwrap(),
            bridge: deployment.bridge,
            mode,
            sidecar_form: SidecarForm::for_l1(true),
            execute_gas: ExecuteGas::default(),
        };
        Self {
            l1_node,
            l2_node,
            _dirs: (l1_dir, l2_dir),
            l1,
            l2,
            l1_url,
            bridge: deployment.bridge,
            proposer,
            settings,
            l2_nonce: 0,
        }
    }

    /// The bridge, called and sent to by `signer`.
    pub(crate) fn bridge_as(
        &self,
        signer: &PrivateKeySigner,
    ) -> NativeRollupBridge::NativeRollupBridgeInstance<impl Provider + use<>> {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_http(self.l1_url.clone());
        NativeRollupBridge::new(self.bridge, provider)
    }

    /// Sends `count` L2 transfers, waits for them, and returns the newest L2 block.
    pub(crate) async fn transfers(&mut self, count: u64) -> u64 {
        let sender = dev_signer(5);
        let mut last = B256::ZERO;
        for _ in 0..count {
            let tx = eip1559(
                self.l2_nonce,
                TxKind::Call(Address::repeat_byte(0x77)),
                21_000,
                U256::from(1u64),
                Bytes::new(),
            );
            self.l2_nonce += 1;
            last = *self.l2.send_raw_transaction(&sign(&sender, tx)).await.unwrap().tx_hash();
        }
        wait_receipt(&self.l2, last).await.block_number.unwrap()
    }

    /// The trace of L2 blocks `from..=to`.
    pub(crate) async fn trace(&self, from: u64, to: u64) -> TraceResponse {
        wait_block(&self.l2, to).await;
        self.l2.raw_request("rollup_getTrace".into(), (U64::from(from), U64::from(to))).await.unwrap()
    }

    /// L1 fees twice the current ones.
    async fn fees(&self) -> BlobFees {
        let gas_price = self.l1.get_gas_price().await.unwrap();
        BlobFees {
            max_fee_per_gas: gas_price * 2,
            max_priority_fee_per_gas: gas_price / 10 + 1,
            max_fee_per_blob_gas: self.l1.get_blob_base_fee().await.unwrap() * 2 + 1,
        }
    }

    /// Signs `proposal` with `signer` and sends it; returns its receipt.
    async fn propose_as(&self, signer: &PrivateKeySigner, proposal: &Proposal) -> TransactionReceipt {
        let nonce = self.l1.get_transaction_count(signer.address()).pending().await.unwrap();
        let tx = proposal.sign(signer, nonce, self.fees().await, &self.settings).unwrap();
        let _ = self.l1.send_raw_transaction(&tx.raw).await.unwrap();
        wait_receipt(&self.l1, tx.hash).await
    }

    /// Sends `proposal` from the proposer.
    pub(crate) async fn propose(&self, proposal: &Proposal) -> TransactionReceipt {
        self.propose_as(&self.proposer, proposal).await
    }

    /// The bridge's refusal of `proposal` from the proposer, as an `eth_call` sees it.
    async fn refusal(&self, proposal: &Proposal) -> BridgeRevert {
        let request = TransactionRequest::default()
            .from(self.proposer.address())
            .to(self.bridge)
            .input(proposal.input(self.settings.mode).into())
            .gas_limit(proposal.gas_limit(&self.settings));
        let error = self.l1.call(request).await.expect_err("the bridge took the batch");
        let data =
            error.as_error_resp().and_then(|e| e.as_revert_data()).unwrap_or_else(|| panic!("{error}"));
        BridgeRevert::abi_decode(&data).unwrap()
    }

    /// The bridge's head: number, block hash, state root.
    pub(crate) async fn head(&self) -> (u64, B256, B256) {
        let head = self.bridge_as(&self.proposer).head().call().await.unwrap();
        (head.number.to(), head.blockHash, head.stateRoot)
    }

    /// L2 block `number`'s number, hash and state root.
    pub(crate) async fn l2_block(&self, number: u64) -> (u64, B256, B256) {
        let header = self.l2.get_block_by_number(number.into()).await.unwrap().unwrap().header;
        (number, header.hash, header.state_root)
    }

    /// Settles the claims whose window is over, from the proposer.
    pub(crate) async fn settle_claims(&self) {
        let bridge = self.bridge_as(&self.proposer);
        assert!(
            bridge
                .settleClaims(U256::from(10u64))
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap()
                .status()
        );
    }

    /// The proposer's bond.
    async fn bond(&self) -> U256 {
        self.bridge_as(&self.proposer).bonds(self.proposer.address()).call().await.unwrap()
    }

    pub(crate) async fn stop(self) {
        self.l2_node.stop().await;
        self.l1_node.stop().await;
    }
}

/// The bridge rejected the batch of `receipt` and slashed its proposer's bond.
fn assert_rejected(receipt: &TransactionReceipt) {
    assert!(receipt.status(), "a rejection is not a revert: the slash must stand");
    assert!(receipt.decoded_log::<NativeRollupBridge::BatchRejected>().is_some(), "no BatchRejected");
    assert!(receipt.decoded_log::<NativeRollupBridge::ProposerSlashed>().is_some(), "no ProposerSlashed");
}

/// Honest batches of a running L2 settle in native mode, the first in calldata, the next in
/// blobs: the bridge's head is then the L2 block's number, hash and state root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_batches_settle_in_calldata_and_in_blobs() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let first = rollup.transfers(3).await.max(2);
    let trace = rollup.trace(1, first).await;
    let receipt = rollup.propose(&Proposal::new(&trace, DataPath::Calldata).unwrap()).await;
    assert!(receipt.status(), "calldata batch reverted");
    let settled = receipt.decoded_log::<NativeRollupBridge::BatchSettled>().expect("BatchSettled");
    assert_eq!(settled.data.number, first);
    assert_eq!(rollup.head().await, rollup.l2_block(first).await);

    let second = rollup.transfers(5).await.max(first + 1);
    let trace = rollup.trace(first + 1, second).await;
    let proposal = Proposal::new(&trace, DataPath::Blobs).unwrap();
    assert!(!proposal.blobs.is_empty());
    let receipt = rollup.propose(&proposal).await;
    assert!(receipt.status(), "blob batch reverted");
    assert!(receipt.blob_gas_used.unwrap_or_default() > 0);
    assert_eq!(rollup.head().await, rollup.l2_block(second).await);

    let bridge = rollup.bridge_as(&rollup.proposer);
    assert_eq!(
        bridge.settledStateRoot(U256::from(first)).call().await.unwrap(),
        rollup.l2_block(first).await.2
    );
    assert_eq!(bridge.settlements().call().await.unwrap(), U256::from(3u64));
    let newest_anchor = trace.bindings.anchors.last().unwrap().number.to::<u64>();
    assert_eq!(bridge.newestAnchor().call().await.unwrap(), newest_anchor);
    rollup.stop().await;
}

/// A batch claiming a false post-state root is judged false: rejected, its proposer slashed,
/// the head unmoved, and the proposer can no longer propose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_post_root_is_rejected_and_slashed() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let last = rollup.transfers(2).await.max(2);
    let mut proposal = Proposal::new(&rollup.trace(1, last).await, DataPath::Calldata).unwrap();
    proposal.batch.postStateRoot = B256::repeat_byte(0xfa);
    let before = rollup.head().await;
    assert_rejected(&rollup.propose(&proposal).await);
    assert_eq!(rollup.head().await, before);
    assert_eq!(rollup.bond().await, U256::ZERO);
    assert!(matches!(rollup.refusal(&proposal).await, BridgeRevert::NotProposer(_)));
    rollup.stop().await;
}

/// A batch whose blob was changed after the trace was encoded is judged false (the blob no
/// longer decodes to a trace that verifies): rejected and slashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_blob_is_rejected_and_slashed() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let last = rollup.transfers(2).await.max(2);
    let mut proposal = Proposal::new(&rollup.trace(1, last).await, DataPath::Blobs).unwrap();
    // A byte inside a field element (never its first, which keeps it below the modulus).
    proposal.blobs[0][100] ^= 0x01;
    assert_rejected(&rollup.propose(&proposal).await);
    assert_eq!(rollup.head().await.0, 0);
    rollup.stop().await;
}

/// A batch that skips a block does not build on the head: refused before EXECUTE when it says
/// so, and judged false when it claims the head as its parent anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_skips_blocks_is_refused_or_slashed() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let last = rollup.transfers(2).await.max(3);
    let mut proposal = Proposal::new(&rollup.trace(2, last).await, DataPath::Calldata).unwrap();
    let genesis = rollup.head().await.1;
    let refused = rollup.refusal(&proposal).await;
    assert!(matches!(&refused, BridgeRevert::StaleHead(e) if e.expected == genesis), "{refused:?}");
    proposal.batch.parentBlockHash = genesis;
    assert_rejected(&rollup.propose(&proposal).await);
    rollup.stop().await;
}

/// Once a batch settled, the same blocks again, or a batch overlapping them, are on a stale
/// head: refused before EXECUTE, nobody slashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_batch_on_a_stale_head_is_refused() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let first = rollup.transfers(2).await.max(2);
    let proposal = Proposal::new(&rollup.trace(1, first).await, DataPath::Calldata).unwrap();
    assert!(rollup.propose(&proposal).await.status());
    let head = rollup.head().await.1;
    let refused = rollup.refusal(&proposal).await;
    assert!(matches!(&refused, BridgeRevert::StaleHead(e) if e.expected == head), "{refused:?}");
    let second = rollup.transfers(1).await.max(first + 1);
    let overlapping = Proposal::new(&rollup.trace(first, second).await, DataPath::Calldata).unwrap();
    assert!(matches!(rollup.refusal(&overlapping).await, BridgeRevert::StaleHead(_)));
    assert_eq!(rollup.bond().await, rollup.bridge_as(&rollup.proposer).proposerBond().call().await.unwrap());
    rollup.stop().await;
}

/// An anchor the blocks do not name (another L1 block's number, whose hash the bridge reads
/// itself) is judged false: rejected and slashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_anchor_is_rejected_and_slashed() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let last = rollup.transfers(2).await.max(2);
    let mut proposal = Proposal::new(&rollup.trace(1, last).await, DataPath::Calldata).unwrap();
    for anchor in &mut proposal.batch.anchors {
        *anchor += 1;
    }
    assert_rejected(&rollup.propose(&proposal).await);
    rollup.stop().await;
}

/// After a batch settled with anchors up to A, a batch naming an anchor older than A is
/// refused before EXECUTE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchor_older_than_the_last_is_refused() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let first = rollup.transfers(2).await.max(2);
    let trace = rollup.trace(1, first).await;
    assert!(rollup.propose(&Proposal::new(&trace, DataPath::Calldata).unwrap()).await.status());
    let newest = trace.bindings.anchors.last().unwrap().number.to::<u64>();
    let second = rollup.transfers(1).await.max(first + 1);
    let mut proposal = Proposal::new(&rollup.trace(first + 1, second).await, DataPath::Calldata).unwrap();
    proposal.batch.anchors[0] = newest - 1;
    let refused = rollup.refusal(&proposal).await;
    assert!(matches!(&refused, BridgeRevert::AnchorBackwards(e) if e.newest == newest), "{refused:?}");
    rollup.stop().await;
}

/// A batch whose last L2 timestamp is after the L1 block it would land in is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_timestamp_is_refused() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, false).await;
    let last = rollup.transfers(1).await.max(2);
    let mut proposal = Proposal::new(&rollup.trace(1, last).await, DataPath::Calldata).unwrap();
    proposal.batch.lastTimestamp += 86_400;
    assert!(matches!(rollup.refusal(&proposal).await, BridgeRevert::FutureTimestamp(_)));
    rollup.stop().await;
}

/// The trace of another chain (this bridge is for chain 4242; the L2 is chain 1337) is judged
/// false: EXECUTE binds the bridge's chain id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_chains_trace_is_rejected_and_slashed() {
    let mut rollup = Rollup::start(SettlementMode::Native, Some(4242), false).await;
    let last = rollup.transfers(1).await.max(2);
    let proposal = Proposal::new(&rollup.trace(1, last).await, DataPath::Blobs).unwrap();
    assert_rejected(&rollup.propose(&proposal).await);
    rollup.stop().await;
}

/// With anyone bonded allowed to propose, a sender without a bond is refused; bonded, its
/// batch settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbonded_sender_is_refused() {
    let mut rollup = Rollup::start(SettlementMode::Native, None, true).await;
    let last = rollup.transfers(1).await.max(2);
    let proposal = Proposal::new(&rollup.trace(1, last).await, DataPath::Calldata).unwrap();
    let stranger = dev_signer(3);
    let bridge = rollup.bridge_as(&stranger);
    let refused =
        bridge.submitBatch(proposal.batch.clone(), proposal.inline.clone()).call().await.unwrap_err();
    let refused = refused.as_decoded_interface_error::<BridgeRevert>().unwrap();
    assert!(
        matches!(&refused, BridgeRevert::NotProposer(e) if e.sender == stranger.address()),
        "{refused:?}"
    );
    let bond = bridge.proposerBond().call().await.unwrap();
    assert!(bridge.bond().value(bond).send().await.unwrap().get_receipt().await.unwrap().status());
    assert!(rollup.propose_as(&stranger, &proposal).await.status());
    assert_eq!(rollup.head().await, rollup.l2_block(last).await);
    rollup.stop().await;
}

/// A signed blob transaction from `signer` to the bridge calling `input` with `value`,
/// carrying `blobs`.
fn blob_call(
    rollup: &Rollup,
    signer: &PrivateKeySigner,
    nonce: u64,
    fees: BlobFees,
    input: Bytes,
    value: U256,
    blobs: &[Vec<u8>],
) -> (B256, Bytes) {
    let sidecar = build_sidecar(
        blobs.iter().map(|blob| Blob::from_slice(blob)).collect(),
        rollup.settings.sidecar_form,
    )
    .unwrap();
    let mut tx = TxEip4844 {
        chain_id: rollup.settings.l1_chain_id,
        nonce,
        gas_limit: 10_000_000,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: rollup.bridge,
        value,
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: fees.max_fee_per_blob_gas,
        input,
    };
    let signature = signer.sign_transaction_sync(&mut tx).unwrap();
    let signed =
        TxEip4844Variant::TxEip4844WithSidecar(TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar))
            .into_signed(signature);
    let hash = *signed.hash();
    (hash, TxEnvelope::Eip4844(signed).encoded_2718().into())
}

/// Challenges claim `claim_id` made for `trace` with `proposal`'s blobs, from `challenger`.
pub(crate) async fn challenge(
    rollup: &Rollup,
    challenger: &PrivateKeySigner,
    claim_id: u64,
    trace: &TraceResponse,
    proposal: &Proposal,
) -> TransactionReceipt {
    let bond = rollup.bridge_as(challenger).challengeBond().call().await.unwrap();
    let input = NativeRollupBridge::challengeCall {
        claimId: U256::from(claim_id),
        details: claim_details_of(trace),
        trace: Bytes::new(),
    }
    .abi_encode();
    let nonce = rollup.l1.get_transaction_count(challenger.address()).pending().await.unwrap();
    let (hash, raw) =
        blob_call(rollup, challenger, nonce, rollup.fees().await, input.into(), bond, &proposal.blobs);
    let _ = rollup.l1.send_raw_transaction(&raw).await.unwrap();
    wait_receipt(&rollup.l1, hash).await
}

/// Optimistic mode: a false claim challenged with the same blobs is removed with the claim
/// built on it; the challenger gets its bond back and half the proposer's, the proposer's bond
/// is gone; the honest claim before them stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_claim_is_challenged_and_removed_with_its_descendants() {
    let mut rollup = Rollup::start(SettlementMode::Optimistic, None, false).await;
    let a = rollup.transfers(1).await.max(2);
    let honest = Proposal::new(&rollup.trace(1, a).await, DataPath::Blobs).unwrap();
    assert!(rollup.propose(&honest).await.status());
    let b = rollup.transfers(1).await.max(a + 1);
    let false_trace = rollup.trace(a + 1, b).await;
    let mut false_claim = Proposal::new(&false_trace, DataPath::Blobs).unwrap();
    false_claim.batch.postStateRoot = B256::repeat_byte(0xfa);
    assert!(rollup.propose(&false_claim).await.status());
    let c = rollup.transfers(1).await.max(b + 1);
    let descendant = Proposal::new(&rollup.trace(b + 1, c).await, DataPath::Blobs).unwrap();
    assert!(rollup.propose(&descendant).await.status());
    let bridge = rollup.bridge_as(&rollup.proposer);
    assert_eq!(bridge.nextClaim().call().await.unwrap(), U256::from(3u64));

    let challenger = dev_signer(4);
    let proposer_bond = rollup.bond().await;
    let receipt = challenge(&rollup, &challenger, 1, &false_trace, &false_claim).await;
    assert!(receipt.status(), "the challenge reverted");
    let judged = receipt.decoded_log::<NativeRollupBridge::ClaimChallenged>().unwrap();
    assert!(!judged.data.valid);
    let removed = receipt.decoded_log::<NativeRollupBridge::ClaimsRemoved>().unwrap();
    assert_eq!((removed.data.fromClaimId, removed.data.count), (U256::from(1u64), U256::from(2u64)));
    assert_eq!(bridge.nextClaim().call().await.unwrap(), U256::from(1u64));
    assert_eq!(rollup.bond().await, U256::ZERO);
    let challenge_bond = bridge.challengeBond().call().await.unwrap();
    assert_eq!(
        bridge.credits(challenger.address()).call().await.unwrap(),
        challenge_bond + proposer_bond / U256::from(2u64)
    );
    let paid =
        rollup.bridge_as(&challenger).withdrawCredit().send().await.unwrap().get_receipt().await.unwrap();
    assert!(paid.status());
    assert_eq!(bridge.credits(challenger.address()).call().await.unwrap(), U256::ZERO);
    // A challenge with other blobs than the claim's is refused.
    let refused = challenge(&rollup, &challenger, 0, &false_trace, &descendant).await;
    assert!(!refused.status());

    // The honest claim stands after the window.
    wait_l1_time(&rollup, WINDOW + 1).await;
    rollup.settle_claims().await;
    assert_eq!(rollup.head().await, rollup.l2_block(a).await);
    rollup.stop().await;
}

/// Optimistic mode: a true claim survives a challenge (the challenger's bond goes to the
/// proposer, the claim stands at once); an unchallenged claim settles after the window, not
/// before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_true_claim_survives_a_challenge_and_an_unchallenged_one_settles_after_the_window() {
    let mut rollup = Rollup::start(SettlementMode::Optimistic, None, false).await;
    let a = rollup.transfers(1).await.max(2);
    let trace = rollup.trace(1, a).await;
    let claim = Proposal::new(&trace, DataPath::Blobs).unwrap();
    assert!(rollup.propose(&claim).await.status());
    let challenger = dev_signer(4);
    let receipt = challenge(&rollup, &challenger, 0, &trace, &claim).await;
    assert!(receipt.status());
    assert!(receipt.decoded_log::<NativeRollupBridge::ClaimChallenged>().unwrap().data.valid);
    let bridge = rollup.bridge_as(&rollup.proposer);
    let challenge_bond = bridge.challengeBond().call().await.unwrap();
    assert_eq!(bridge.credits(rollup.proposer.address()).call().await.unwrap(), challenge_bond);
    rollup.settle_claims().await;
    assert_eq!(rollup.head().await, rollup.l2_block(a).await);

    let b = rollup.transfers(1).await.max(a + 1);
    let unchallenged = Proposal::new(&rollup.trace(a + 1, b).await, DataPath::Calldata).unwrap();
    assert!(rollup.propose(&unchallenged).await.status());
    rollup.settle_claims().await;
    assert_eq!(rollup.head().await.0, a, "a claim stood before its window was over");
    wait_l1_time(&rollup, WINDOW + 1).await;
    rollup.settle_claims().await;
    assert_eq!(rollup.head().await, rollup.l2_block(b).await);
    rollup.stop().await;
}

/// Waits until the L1's newest block is `seconds` later than it is now.
pub(crate) async fn wait_l1_time(rollup: &Rollup, seconds: u64) {
    let now = rollup.l1.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let latest =
            rollup.l1.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp;
        if latest >= now + seconds {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the L1's clock did not move {seconds} s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
