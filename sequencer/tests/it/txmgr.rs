//! The batcher's L1 transaction manager against real L1s: Anvil (mining only when a test says
//! so, so that a transaction stays out of blocks as long as a test needs) and the project's
//! dev L1 (geth's pool rules, blob transactions).

use crate::{
    anvil::{Anvil, anvil_with},
    support::{dev_signer, launch_l1, sign},
};
use alloy_consensus::{Transaction, TxEip1559};
use alloy_eips::eip4844::{Blob, DATA_GAS_PER_BLOB};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer_local::PrivateKeySigner;
use batcher::{
    BlobFees, SidecarForm, build_sidecar,
    txmgr::{
        PriorSend, RejectionClass, TxCandidate, TxEvent, TxManager, TxManagerConfig, TxManagerError,
        WaitReason,
    },
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sequencer::mempool::PoolError;
use std::time::{Duration, Instant};
use tokio::{sync::mpsc, task::JoinHandle};

/// How long any one wait of these tests may take before it fails: generous, for a slow CI
/// machine; the tests pass in a few seconds.
const DEADLINE: Duration = Duration::from_secs(60);

/// A manager's settings for a test: quick polls and retries; no bump before five seconds
/// without a block (a test of bumps shortens it).
fn test_config() -> TxManagerConfig {
    TxManagerConfig {
        resubmission_timeout_ms: 5_000,
        receipt_poll_interval_ms: 50,
        confirmations: 2,
        network_timeout_ms: 10_000,
        retry_delay_ms: 200,
        ..TxManagerConfig::default()
    }
}

/// A manager on `node`'s L1 for `signer`, its metrics in a registry of its own.
async fn manager(
    url: &str,
    signer: PrivateKeySigner,
    config: TxManagerConfig,
) -> (TxManager, PrometheusHandle) {
    let provider = ProviderBuilder::default().connect_http(url.parse().unwrap());
    let chain_id = provider.get_chain_id().await.unwrap();
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let manager =
        metrics::with_local_recorder(&recorder, || TxManager::new(provider, signer, chain_id, config))
            .unwrap();
    (manager, handle)
}

/// The value of the metric line starting with `series` (name and labels), 0 if absent.
fn metric(handle: &PrometheusHandle, series: &str) -> f64 {
    handle
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// A send under way in its own task, and the events it reports.
struct Sending {
    task: JoinHandle<Result<TransactionReceipt, TxManagerError>>,
    events: mpsc::UnboundedReceiver<TxEvent>,
    /// Every event received so far.
    seen: Vec<TxEvent>,
}

/// Starts sending `candidate` (resuming `prior`) with `manager`.
fn start(manager: &TxManager, candidate: TxCandidate, prior: Option<PriorSend>) -> Sending {
    let (sender, events) = mpsc::unbounded_channel();
    let manager = manager.clone();
    let task = tokio::spawn(async move {
        let observer = move |event: &TxEvent| {
            sender.send(event.clone()).ok();
        };
        manager.send(candidate, prior, &observer).await
    });
    Sending { task, events, seen: Vec::new() }
}

impl Sending {
    /// Waits for an event matching `wanted`, calling `meanwhile` (e.g. mining a block) every
    /// 100 ms while none has come.
    async fn until_with<F>(&mut self, wanted: impl Fn(&TxEvent) -> bool, mut meanwhile: F) -> TxEvent
    where
        F: AsyncFnMut(),
    {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout(Duration::from_millis(100), self.events.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if wanted(&event) {
                        return event;
                    }
                }
                Ok(None) => panic!("the send ended without the event; events: {:?}", self.seen),
                Err(_) => meanwhile().await,
            }
            assert!(Instant::now() < deadline, "no such event within {DEADLINE:?}; events: {:?}", self.seen);
        }
    }

    /// Waits for an event matching `wanted`.
    async fn until(&mut self, wanted: impl Fn(&TxEvent) -> bool) -> TxEvent {
        self.until_with(wanted, async || {}).await
    }

    /// Mines a block on `node` every 100 ms until the send is confirmed; answers its receipt.
    async fn mine_until_confirmed(mut self, node: &RootProvider) -> (TransactionReceipt, Vec<TxEvent>) {
        self.until_with(|event| matches!(event, TxEvent::Confirmed { .. }), async || mine(node).await).await;
        self.finish().await
    }

    /// Waits for the send to end; answers its receipt and every event it reported.
    async fn finish(mut self) -> (TransactionReceipt, Vec<TxEvent>) {
        let receipt = tokio::time::timeout(DEADLINE, self.task).await.unwrap().unwrap().unwrap();
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
        (receipt, self.seen)
    }
}

/// What a restarted batcher would have stored of these events.
fn prior_of(events: &[TxEvent]) -> Option<PriorSend> {
    let mut prior = None;
    for event in events {
        PriorSend::record(&mut prior, event);
    }
    prior
}

/// The events' kinds, in order, for sequence assertions.
fn kinds(events: &[TxEvent]) -> Vec<&'static str> {
    events
        .iter()
        .map(|event| match event {
            TxEvent::Signed { .. } => "signed",
            TxEvent::Sent { .. } => "sent",
            TxEvent::Bumped { .. } => "bumped",
            TxEvent::Included { .. } => "included",
            TxEvent::Reorged { .. } => "reorged",
            TxEvent::Confirmed { .. } => "confirmed",
            TxEvent::Waiting { .. } => "waiting",
            TxEvent::Failed { .. } => "failed",
        })
        .collect()
}

/// Anvil at `hardfork` that mines only when told (`evm_mine`).
fn paused_anvil(hardfork: &str) -> (Anvil, RootProvider) {
    let node = anvil_with(hardfork, &["--no-mining"]);
    let provider = ProviderBuilder::default().connect_http(node.url.parse().unwrap());
    (node, provider)
}

/// Mines one block on Anvil.
async fn mine(node: &RootProvider) {
    let _: String = node.raw_request("evm_mine".into(), ()).await.unwrap();
}

/// Sets `address`'s balance on Anvil.
async fn set_balance(node: &RootProvider, address: Address, wei: U256) {
    let _: () = node.raw_request("anvil_setBalance".into(), (address, wei)).await.unwrap();
}

/// A call to an address without code.
fn calldata_candidate() -> TxCandidate {
    TxCandidate::call(Address::repeat_byte(0xb1), Bytes::from_static(b"a batch in calldata"), 100_000)
}

/// A call carrying two blobs, with the proofs of `form`.
fn blob_candidate(form: SidecarForm) -> TxCandidate {
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (blobs, _) = trace_builder::blob::trace_to_blobs(&payload, trace_builder::blob::Codec::None).unwrap();
    let sidecar = build_sidecar(blobs.iter().map(|blob| Blob::from_slice(blob)).collect(), form).unwrap();
    TxCandidate { sidecar: Some(sidecar), ..calldata_candidate() }
}

/// Whether `new` raises every fee of `old` by `percent` (the blob fee too when `blobs`).
fn bumped_by(old: BlobFees, new: BlobFees, percent: u128, blobs: bool) -> bool {
    let raised = |old: u128, new: u128| new * 100 >= old * (100 + percent) && new > old;
    raised(old.max_fee_per_gas, new.max_fee_per_gas)
        && raised(old.max_priority_fee_per_gas, new.max_priority_fee_per_gas)
        && (!blobs || raised(old.max_fee_per_blob_gas, new.max_fee_per_blob_gas))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_confirms_calldata_and_blob_transactions_on_anvil() {
    let (node, l1) = paused_anvil("osaka");
    let (manager, metrics) = manager(&node.url, dev_signer(0), test_config()).await;

    let (receipt, events) = start(&manager, calldata_candidate(), None).mine_until_confirmed(&l1).await;
    assert!(receipt.status());
    assert_eq!(kinds(&events), ["signed", "sent", "included", "confirmed"]);
    let head = l1.get_block_number().await.unwrap();
    assert!(head >= receipt.block_number.unwrap() + 2, "confirmed before two blocks were on top");

    let (receipt, events) =
        start(&manager, blob_candidate(SidecarForm::Eip7594), None).mine_until_confirmed(&l1).await;
    assert!(receipt.status());
    assert_eq!(receipt.blob_gas_used, Some(2 * DATA_GAS_PER_BLOB));
    assert_eq!(kinds(&events), ["signed", "sent", "included", "confirmed"]);
    let TxEvent::Signed { nonce, fees, .. } = events[0] else { unreachable!() };
    assert_eq!(nonce, 1, "the second send takes the next nonce");
    assert!(fees.max_fee_per_blob_gas > 0);

    assert_eq!(metric(&metrics, "batcher_txmgr_sent_total"), 2.0);
    assert_eq!(metric(&metrics, "batcher_txmgr_confirmed_total"), 2.0);
    assert_eq!(metric(&metrics, "batcher_txmgr_bumps_total"), 0.0);
    assert!(metric(&metrics, "batcher_txmgr_balance_wei") > 0.0);
    assert!(metric(&metrics, "batcher_txmgr_fees_paid_wei_total{kind=\"blob\"}") > 0.0);
    assert_eq!(metric(&metrics, "batcher_txmgr_in_flight"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_confirms_calldata_and_blob_transactions_on_the_dev_l1() {
    let dir = tempfile::tempdir().unwrap();
    let l1_node = launch_l1(dir.path()).await;
    let url = format!("http://{}", l1_node.rpc_addr);
    let manager = TxManager::connect_http(url.parse().unwrap(), dev_signer(0), test_config()).await.unwrap();
    assert_eq!(manager.chain_id(), crate::support::DEV_L1_CHAIN_ID);

    let (receipt, events) = start(&manager, calldata_candidate(), None).finish().await;
    assert!(receipt.status());
    assert_eq!(kinds(&events), ["signed", "sent", "included", "confirmed"]);
    let (receipt, events) = start(&manager, blob_candidate(SidecarForm::Eip7594), None).finish().await;
    assert!(receipt.status());
    assert_eq!(receipt.blob_gas_used, Some(2 * DATA_GAS_PER_BLOB));
    assert_eq!(kinds(&events), ["signed", "sent", "included", "confirmed"]);
}

/// geth's blob pool rule on the dev L1: a sender's pooled transactions are all blob or all
/// non-blob. A blob transaction sent while a non-blob one of the same sender is pooled waits
/// for it to leave the pool, then goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_waits_out_a_pooled_transaction_of_the_other_kind_on_the_dev_l1() {
    let dir = tempfile::tempdir().unwrap();
    let l1_node = launch_l1(dir.path()).await;
    let url = format!("http://{}", l1_node.rpc_addr);
    let l1: RootProvider = ProviderBuilder::default().connect_http(url.parse().unwrap());
    let signer = dev_signer(0);
    // A transfer from the same sender that pays below the base fee: it stays pooled until the
    // base fee of the empty blocks drops under it (about ten blocks of 200 ms).
    let base_fee =
        l1.get_fee_history(1, Default::default(), &[]).await.unwrap().next_block_base_fee().unwrap();
    let nonce = l1.get_transaction_count(signer.address()).await.unwrap();
    let transfer = TxEip1559 {
        chain_id: crate::support::DEV_L1_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: base_fee * 3 / 10,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let _ = l1.send_raw_transaction(&sign(&signer, transfer)).await.unwrap();

    let manager = TxManager::connect_http(url.parse().unwrap(), signer, test_config()).await.unwrap();
    let mut sending = start(&manager, blob_candidate(SidecarForm::Eip7594), None);
    sending.until(|event| matches!(event, TxEvent::Waiting { reason: WaitReason::AddressReserved })).await;
    let (receipt, events) = sending.finish().await;
    assert!(receipt.status());
    assert_eq!(kinds(&events), ["signed", "waiting", "sent", "included", "confirmed"]);
    let mined = l1.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!(mined.inner.nonce(), nonce + 1);
}

/// A transaction that no block takes is replaced after the resubmission timeout with fees at
/// least 10% higher (100% on all three fees of a blob transaction), and the replacement lands.
async fn stuck_transaction_is_bumped(candidate: TxCandidate, percent: u128) {
    let blobs = candidate.has_blobs();
    let (node, l1) = paused_anvil("osaka");
    let config = TxManagerConfig { resubmission_timeout_ms: 1_000, ..test_config() };
    let (manager, metrics) = manager(&node.url, dev_signer(0), config).await;
    let mut sending = start(&manager, candidate, None);
    let TxEvent::Signed { fees: first, .. } =
        sending.until(|event| matches!(event, TxEvent::Signed { .. })).await
    else {
        unreachable!()
    };
    let TxEvent::Bumped { hash, fees, .. } =
        sending.until(|event| matches!(event, TxEvent::Bumped { .. })).await
    else {
        unreachable!()
    };
    assert!(bumped_by(first, fees, percent, blobs), "{first:?} bumped to {fees:?}");
    let (receipt, events) = sending.mine_until_confirmed(&l1).await;
    // A replacement landed (the first, or a later one if the block came late).
    let bumps: Vec<B256> = events
        .iter()
        .filter_map(|event| match event {
            TxEvent::Bumped { hash, .. } => Some(*hash),
            _ => None,
        })
        .collect();
    assert_eq!(bumps.first(), Some(&hash));
    assert!(bumps.contains(&receipt.transaction_hash), "{bumps:?}: {:?}", receipt.transaction_hash);
    assert!(metric(&metrics, "batcher_txmgr_bumps_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_bumps_a_stuck_calldata_transaction_by_ten_percent() {
    stuck_transaction_is_bumped(calldata_candidate(), 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_bumps_a_stuck_blob_transaction_by_a_hundred_percent() {
    stuck_transaction_is_bumped(blob_candidate(SidecarForm::Eip7594), 100).await;
}

/// A bump that would pass the fee cap does not happen: the send says it waits, the gauge
/// shows it, and the transaction already sent lands once blocks come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_waits_at_the_fee_cap_then_lands() {
    let (node, l1) = paused_anvil("osaka");
    let config = TxManagerConfig { resubmission_timeout_ms: 1_000, ..test_config() };
    let (probe, _) = manager(&node.url, dev_signer(0), config.clone()).await;
    let offer = probe.fee_quote().await.unwrap().offer(u128::from(config.min_tip_wei), false);
    // Room for the first offer, not for a 10% bump of it.
    let cap = offer.max_fee_per_gas * 105 / 100;
    let config = TxManagerConfig { max_fee_per_gas_cap_wei: cap as u64, ..config };
    let (manager, metrics) = manager(&node.url, dev_signer(0), config).await;

    let mut sending = start(&manager, calldata_candidate(), None);
    let TxEvent::Signed { hash, fees, .. } =
        sending.until(|event| matches!(event, TxEvent::Signed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(fees, offer);
    let TxEvent::Waiting { reason: WaitReason::FeeCap { needed, max_fee_per_gas_cap, .. } } =
        sending.until(|event| matches!(event, TxEvent::Waiting { .. })).await
    else {
        panic!("not waiting at the fee cap: {:?}", sending.seen)
    };
    assert_eq!(max_fee_per_gas_cap, cap);
    assert!(needed.max_fee_per_gas > cap);
    assert_eq!(metric(&metrics, "batcher_txmgr_waiting_fee_cap"), 1.0);

    let (receipt, events) = sending.mine_until_confirmed(&l1).await;
    assert_eq!(receipt.transaction_hash, hash);
    assert!(!kinds(&events).contains(&"bumped"));
    assert_eq!(metric(&metrics, "batcher_txmgr_waiting_fee_cap"), 0.0);
    assert_eq!(metric(&metrics, "batcher_txmgr_bumps_total"), 0.0);
}

/// A sender that cannot pay gets a typed wait and a metric, not a crash loop, and its
/// transaction goes once it is funded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_waits_for_funds_then_sends() {
    let (node, l1) = paused_anvil("osaka");
    let signer = PrivateKeySigner::random();
    set_balance(&l1, signer.address(), U256::from(1)).await;
    let (manager, metrics) = manager(&node.url, signer.clone(), test_config()).await;

    let mut sending = start(&manager, calldata_candidate(), None);
    let TxEvent::Waiting { reason: WaitReason::InsufficientFunds { balance, cost } } = sending
        .until(|event| matches!(event, TxEvent::Waiting { reason: WaitReason::InsufficientFunds { .. } }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(balance, U256::from(1));
    assert!(cost >= U256::from(100_000u64) * U256::from(1_000_000_000u64));
    assert_eq!(metric(&metrics, "batcher_txmgr_waiting_funds"), 1.0);
    assert!(metric(&metrics, "batcher_txmgr_errors_total{class=\"insufficient_funds\"}") >= 1.0);
    assert!(!sending.task.is_finished());

    set_balance(&l1, signer.address(), U256::from(10u128.pow(18))).await;
    let (receipt, events) = sending.mine_until_confirmed(&l1).await;
    assert!(receipt.status());
    assert_eq!(kinds(&events), ["signed", "waiting", "sent", "included", "confirmed"]);
    assert_eq!(metric(&metrics, "batcher_txmgr_waiting_funds"), 0.0);
    assert!(metric(&metrics, "batcher_txmgr_balance_wei") > 0.0);
}

/// A batcher restarted after it broadcast a transaction resumes the send from what it stored:
/// the same transaction again ("already known" to the pool), one transaction at the nonce.
/// Then a nonce taken out of band while a send waits in the pool: the send finds no receipt of
/// its own at its nonce, and signs at the next one. Last, a send resumed after its transaction was
/// mined finds the receipt and sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_resumes_a_send_and_follows_a_nonce_taken_out_of_band() {
    let (node, l1) = paused_anvil("osaka");
    let signer = dev_signer(0);
    let (before, before_metrics) = manager(&node.url, signer.clone(), test_config()).await;
    let mut crashed = start(&before, calldata_candidate(), None);
    crashed.until(|event| matches!(event, TxEvent::Sent { .. })).await;
    crashed.task.abort();
    let prior = prior_of(&crashed.seen).unwrap();
    assert_eq!((prior.nonce, prior.hashes.len()), (0, 1));

    let (after, _) = manager(&node.url, signer.clone(), test_config()).await;
    let (receipt, events) =
        start(&after, calldata_candidate(), Some(prior.clone())).mine_until_confirmed(&l1).await;
    assert_eq!(receipt.transaction_hash, prior.hashes[0]);
    assert_eq!(kinds(&events), ["sent", "included", "confirmed"], "resumed without signing anew");
    assert_eq!(l1.get_transaction_count(signer.address()).await.unwrap(), 1);

    // Nonce 1, which a send of the first manager waits at in the pool, taken by a transfer it
    // does not know of (a replacement at higher fees).
    let mut waiting = start(&before, calldata_candidate(), None);
    waiting.until(|event| matches!(event, TxEvent::Sent { .. })).await;
    let transfer = TxEip1559 {
        chain_id: before.chain_id(),
        nonce: 1,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 5_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let _ = l1.send_raw_transaction(&sign(&signer, transfer)).await.unwrap();
    mine(&l1).await;
    let (receipt, events) = waiting.mine_until_confirmed(&l1).await;
    let nonces: Vec<u64> = events
        .iter()
        .filter_map(|event| match event {
            TxEvent::Signed { nonce, .. } => Some(*nonce),
            _ => None,
        })
        .collect();
    assert_eq!(nonces, [1, 2]);
    let mined = l1.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!(mined.inner.nonce(), 2);
    assert!(metric(&before_metrics, "batcher_txmgr_errors_total{class=\"nonce_too_low\"}") >= 1.0);

    // Resumed once mined: the receipt is found, nothing is sent.
    let (again, _) = manager(&node.url, signer.clone(), test_config()).await;
    let (found, events) =
        start(&again, calldata_candidate(), prior_of(&events)).mine_until_confirmed(&l1).await;
    assert_eq!(found.transaction_hash, receipt.transaction_hash);
    assert_eq!(kinds(&events), ["included", "confirmed"]);
    assert_eq!(l1.get_transaction_count(signer.address()).await.unwrap(), 3);
}

/// A transaction whose block is reorged out before its confirmations is reported reorged,
/// sent again at the same nonce, and confirmed in the new chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_sends_again_what_a_reorg_took_out() {
    let (node, l1) = paused_anvil("osaka");
    let (manager, metrics) =
        manager(&node.url, dev_signer(0), TxManagerConfig { confirmations: 3, ..test_config() }).await;
    let mut sending = start(&manager, calldata_candidate(), None);
    sending.until(|event| matches!(event, TxEvent::Sent { .. })).await;
    mine(&l1).await;
    let TxEvent::Included { block_number, block_hash, .. } =
        sending.until(|event| matches!(event, TxEvent::Included { .. })).await
    else {
        unreachable!()
    };
    // The block with the transaction replaced by an empty one.
    let _: () = l1.raw_request("anvil_reorg".into(), (1u64, Vec::<()>::new())).await.unwrap();
    let reorged = sending.until(|event| matches!(event, TxEvent::Reorged { .. })).await;
    assert!(
        matches!(reorged, TxEvent::Reorged { block_number: n, block_hash: h, .. } if n == block_number && h == block_hash)
    );

    let (receipt, events) = sending.mine_until_confirmed(&l1).await;
    assert_ne!(receipt.block_hash, Some(block_hash));
    // Sent again (reported `sent`, unless a block took it from Anvil's pool first), included
    // again, confirmed; at the same nonce.
    let after: Vec<_> = kinds(&events)
        .into_iter()
        .skip_while(|kind| *kind != "reorged")
        .filter(|kind| *kind != "sent")
        .collect();
    assert_eq!(after, ["reorged", "included", "confirmed"]);
    let mined = l1.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!(mined.nonce(), 0);
    assert_eq!(metric(&metrics, "batcher_txmgr_reorgs_total"), 1.0);
    assert_eq!(metric(&metrics, "batcher_txmgr_confirmed_total"), 1.0);
}

/// A reorganisation deeper than the confirmations takes a confirmed transaction out of the
/// chain while the next send waits in Anvil's pool: that send's transaction now waits behind a
/// free nonce, which no block would ever fill, so it is signed again at the L1's nonce and
/// confirmed there; a send after that takes the nonce after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_signs_again_below_a_nonce_a_reorg_freed() {
    let (node, l1) = paused_anvil("osaka");
    let (manager, metrics) = manager(&node.url, dev_signer(0), test_config()).await;
    let (first, _) = start(&manager, calldata_candidate(), None).mine_until_confirmed(&l1).await;
    let first_block = first.block_number.unwrap();

    let mut sending = start(&manager, calldata_candidate(), None);
    let TxEvent::Signed { nonce, .. } = sending.until(|event| matches!(event, TxEvent::Signed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(nonce, 1);
    sending.until(|event| matches!(event, TxEvent::Sent { .. })).await;
    let head = l1.get_block_number().await.unwrap();
    let _: () =
        l1.raw_request("anvil_reorg".into(), (head - first_block + 1, Vec::<()>::new())).await.unwrap();
    assert_eq!(l1.get_transaction_count(dev_signer(0).address()).await.unwrap(), 0);

    // Blocks go on (Anvil drops the transaction it can no longer include when it mines).
    let TxEvent::Signed { nonce, .. } =
        sending.until_with(|event| matches!(event, TxEvent::Signed { .. }), async || mine(&l1).await).await
    else {
        unreachable!()
    };
    assert_eq!(nonce, 0, "not signed again at the freed nonce");
    let (receipt, _) = sending.mine_until_confirmed(&l1).await;
    assert!(receipt.status());
    let mined = l1.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!(mined.nonce(), 0);
    assert!(metric(&metrics, "batcher_txmgr_errors_total{class=\"nonce_too_high\"}") >= 1.0);

    // The next send reads the nonce from the L1 again.
    let (receipt, events) = start(&manager, calldata_candidate(), None).mine_until_confirmed(&l1).await;
    assert!(receipt.status());
    let TxEvent::Signed { nonce, .. } = events[0] else { unreachable!() };
    let used = l1.get_transaction_count(dev_signer(0).address()).await.unwrap();
    assert_eq!(nonce + 1, used, "the next send did not take the L1's next nonce");
}

/// A transaction no block can take fails with a typed error; the next send takes its nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txmgr_fails_a_transaction_no_block_takes_and_reuses_its_nonce() {
    let (node, l1) = paused_anvil("osaka");
    let (manager, metrics) = manager(&node.url, dev_signer(0), test_config()).await;
    for (gas_limit, class) in
        [(20_000, RejectionClass::IntrinsicGasTooLow), (1 << 40, RejectionClass::ExceedsBlockGasLimit)]
    {
        let candidate = TxCandidate { gas_limit, ..calldata_candidate() };
        let sending = start(&manager, candidate, None);
        let error = tokio::time::timeout(DEADLINE, sending.task).await.unwrap().unwrap().unwrap_err();
        match &error {
            TxManagerError::Rejected { rejection, nonce, .. } => {
                assert_eq!((rejection.class, *nonce), (class, 0), "{error}");
            }
            other => panic!("{other}"),
        }
        assert!(!error.is_retryable());
    }
    assert_eq!(metric(&metrics, "batcher_txmgr_errors_total{class=\"intrinsic_gas_too_low\"}"), 1.0);
    let (_, events) = start(&manager, calldata_candidate(), None).mine_until_confirmed(&l1).await;
    assert!(matches!(events[0], TxEvent::Signed { nonce: 0, .. }));
}

/// Each refusal of this project's node (its L1 role) falls in the class the manager handles
/// it by.
#[test]
fn the_dev_l1_refusals_have_their_classes() {
    use RejectionClass::*;
    let cases = [
        (PoolError::AlreadyKnown, AlreadyKnown),
        (PoolError::ReplacementUnderpriced, ReplacementUnderpriced),
        (PoolError::NonceTooLow { expected: 5, got: 3 }, NonceTooLow),
        (PoolError::NonceGap { expected: 5, got: 7 }, NonceTooHigh),
        (PoolError::NonceMax, Invalid),
        (PoolError::Underpriced { tip: 0, min: 1 }, Underpriced),
        (PoolError::PoolFull, Underpriced),
        (
            PoolError::InsufficientFunds { balance: U256::from(1), queued: U256::ZERO, cost: U256::from(2) },
            InsufficientFunds,
        ),
        (PoolError::ExceedsBlockGasLimit { gas: 2, limit: 1 }, ExceedsBlockGasLimit),
        (PoolError::IntrinsicGasTooLow { gas: 1, needed: 21_000 }, IntrinsicGasTooLow),
        (PoolError::FloorDataGas { gas: 21_000, needed: 22_000 }, IntrinsicGasTooLow),
        (PoolError::GasLimitTooHigh { gas: 2, cap: 1 }, ExceedsBlockGasLimit),
        (PoolError::Unprotected, Invalid),
        (PoolError::OversizedData { size: 2, limit: 1 }, Invalid),
        (PoolError::InvalidChainId { expected: 900, got: 1 }, Invalid),
        (PoolError::TxTypeNotSupported, Invalid),
        (PoolError::BlobTxWithoutBlobs, Invalid),
        (PoolError::TooManyBlobs { have: 7, max: 6 }, Invalid),
        (PoolError::MissingSidecar, Invalid),
        (PoolError::InvalidSidecar("proof".into()), Invalid),
        (PoolError::BlobFeeCapTooLow { cap: 1, blob_base_fee: 2 }, Underpriced),
        (PoolError::AlreadyReserved, AddressReserved),
        (PoolError::TipAboveFeeCap, Invalid),
        (PoolError::InitCodeTooLarge { size: 2, limit: 1 }, Invalid),
        (PoolError::AccountLimitExceeded { pooled: 16, max: 16 }, Unknown),
    ];
    for (error, class) in cases {
        assert_eq!(RejectionClass::of_message(&error.to_string()), class, "{error}");
    }
}
