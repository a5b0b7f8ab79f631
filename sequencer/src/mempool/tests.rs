use super::{pool::ENTRY_OVERHEAD_BYTES, validation::cost, *};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip7702, TxLegacy};
use alloy_eips::eip7702::Authorization;
use alloy_primitives::{Bytes, Signature, TxKind};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::time::Duration;

const BASE_FEE: u64 = 10;
const CHAIN_ID: u64 = 1;

fn head() -> PoolHead {
    PoolHead { base_fee: BASE_FEE, gas_limit: 30_000_000, blob_base_fee: 1 }
}

fn pool_with(config: PoolConfig) -> Mempool {
    Mempool::new(config, &ChainConfig::l2(CHAIN_ID), head())
}

fn pool() -> Mempool {
    pool_with(PoolConfig::default())
}

fn sender(byte: u8) -> Address {
    Address::repeat_byte(byte)
}

/// A sender at `nonce` with more funds than any test spends.
fn rich(nonce: u64) -> SenderState {
    SenderState { nonce, balance: U256::from(10u64).pow(U256::from(30u64)), has_code: false }
}

fn eip1559(from: Address, nonce: u64, max_fee: u128, tip: u128) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::ZERO),
        // Distinct per sender: the test signature is shared, so the hash must differ by content.
        value: U256::from(u16::from_be_bytes([from.0[18], from.0[19]])),
        ..Default::default()
    };
    // The signature is not checked: the pool trusts the RPC's recovery.
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(Signature::test_signature())), from)
}

fn tx(from: u8, nonce: u64, max_fee: u128, tip: u128) -> Recovered<TxEnvelope> {
    eip1559(sender(from), nonce, max_fee, tip)
}

fn with(from: u8, nonce: u64, edit: impl FnOnce(&mut TxEip1559)) -> Recovered<TxEnvelope> {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::ZERO),
        value: U256::from(from),
        ..Default::default()
    };
    edit(&mut tx);
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(Signature::test_signature())), sender(from))
}

/// An EIP-7702 transaction from `from` carrying one authorization signed by each of `authorities`.
fn set_code(from: Address, nonce: u64, authorities: &[&PrivateKeySigner]) -> Recovered<TxEnvelope> {
    let authorization_list = authorities
        .iter()
        .map(|signer| {
            let auth = Authorization {
                chain_id: U256::from(CHAIN_ID),
                address: Address::repeat_byte(0xde),
                nonce: 0,
            };
            let signature = signer.sign_hash_sync(&auth.signature_hash()).unwrap();
            auth.into_signed(signature)
        })
        .collect();
    let tx = TxEip7702 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 100,
        max_priority_fee_per_gas: 1,
        to: from,
        authorization_list,
        ..Default::default()
    };
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(Signature::test_signature())), from)
}

fn order(txs: &[Recovered<TxEnvelope>]) -> Vec<(u8, u64)> {
    txs.iter().map(|t| (t.signer().0[0], t.inner().nonce())).collect()
}

/// The clock of the lifetime tests: moves only when told.
#[derive(Debug)]
struct TestClock(Mutex<Instant>);

impl Clock for TestClock {
    fn now(&self) -> Instant {
        *self.0.lock()
    }
}

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock() += by;
    }
}

/// Re-validates `pool` with each pooled sender's state from `state`, read before locking as the
/// builder does.
fn revalidate(
    pool: &Mempool,
    head: PoolHead,
    sealed: impl IntoIterator<Item = (Address, SenderState)>,
    mut state: impl FnMut(Address) -> Result<SenderState, std::convert::Infallible>,
) {
    let states = pool.senders().into_iter().map(|sender| (sender, state(sender).unwrap())).collect();
    pool.revalidate(head, sealed, &states);
}

fn no_state_errors(
    state: SenderState,
) -> impl FnMut(Address) -> Result<SenderState, std::convert::Infallible> {
    move |_| Ok(state)
}

#[test]
fn a_nonce_gap_waits_in_queued_and_is_promoted_when_filled() {
    let pool = pool();
    pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    let gapped = pool.add(tx(1, 2, 100, 1), rich(0)).unwrap();
    pool.add(tx(1, 3, 100, 1), rich(0)).unwrap();
    assert_eq!(pool.size().pending, 1);
    assert_eq!(pool.size().queued, 2);
    assert_eq!(pool.is_pending(&gapped), Some(false));
    assert_eq!(order(&pool.best(BASE_FEE)), vec![(1, 0)]);
    assert_eq!(pool.pending_nonce(sender(1), 0), 1);
    let content = pool.content();
    assert_eq!(content.pending[&sender(1)].keys().copied().collect::<Vec<_>>(), vec![0]);
    assert_eq!(content.queued[&sender(1)].keys().copied().collect::<Vec<_>>(), vec![2, 3]);

    pool.add(tx(1, 1, 100, 1), rich(0)).unwrap();
    assert_eq!((pool.size().pending, pool.size().queued), (4, 0));
    assert_eq!(pool.is_pending(&gapped), Some(true));
    assert_eq!(order(&pool.best(BASE_FEE)), vec![(1, 0), (1, 1), (1, 2), (1, 3)]);
    assert_eq!(pool.pending_nonce(sender(1), 0), 4);
}

#[test]
fn best_orders_by_effective_tip_under_the_base_fee() {
    let pool = pool();
    pool.add(tx(1, 0, 100, 50), rich(0)).unwrap(); // effective tip 50
    pool.add(tx(1, 1, 100, 5), rich(0)).unwrap(); // 5, after its sender's nonce 0
    pool.add(tx(2, 0, 30, 25), rich(0)).unwrap(); // capped by the fee: 30 - 10 = 20
    pool.add(tx(3, 0, 100, 30), rich(0)).unwrap(); // 30
    // A sender whose next transaction cannot pay the base fee waits, without blocking others.
    pool.add(tx(4, 0, 9, 9), rich(0)).unwrap();
    pool.add(tx(4, 1, 1_000, 100), rich(0)).unwrap();
    assert_eq!(order(&pool.best(BASE_FEE)), vec![(1, 0), (3, 0), (2, 0), (1, 1)]);
    // Under a lower base fee sender 4 runs, its later nonce after its first.
    assert_eq!(order(&pool.best(1)), vec![(1, 0), (3, 0), (2, 0), (4, 0), (4, 1), (1, 1)]);
}

#[test]
fn replacement_needs_a_ten_percent_bump_of_both_fees() {
    let pool = pool();
    let first = pool.add(tx(1, 0, 1_000, 100), rich(0)).unwrap();
    assert_eq!(pool.add(tx(1, 0, 1_090, 110), rich(0)), Err(PoolError::ReplacementUnderpriced));
    assert_eq!(pool.add(tx(1, 0, 1_100, 109), rich(0)), Err(PoolError::ReplacementUnderpriced));
    assert_eq!(pool.add(tx(1, 0, 2_000, 100), rich(0)), Err(PoolError::ReplacementUnderpriced));
    let second = pool.add(tx(1, 0, 1_100, 110), rich(0)).unwrap();
    assert!(pool.get(&first).is_none());
    assert!(pool.get(&second).is_some());
    assert_eq!(pool.len(), 1);
    assert_eq!(pool.take_removed(), vec![first]);
    assert_eq!(pool.add(tx(1, 0, 1_100, 110), rich(0)), Err(PoolError::AlreadyKnown));
    // Queued transactions are replaced by the same rule.
    pool.add(tx(1, 5, 1_000, 100), rich(0)).unwrap();
    assert_eq!(pool.add(tx(1, 5, 1_099, 110), rich(0)), Err(PoolError::ReplacementUnderpriced));
    pool.add(tx(1, 5, 1_100, 110), rich(0)).unwrap();
    assert_eq!(pool.len(), 2);
    // A legacy transaction's gas price is both of its fee fields.
    let legacy = |price: u128| {
        let tx = TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce: 0,
            gas_price: price,
            gas_limit: 21_000,
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(Signature::test_signature())), sender(2))
    };
    pool.add(legacy(100), rich(0)).unwrap();
    assert_eq!(pool.add(legacy(109), rich(0)), Err(PoolError::ReplacementUnderpriced));
    pool.add(legacy(110), rich(0)).unwrap();
}

#[test]
fn messages_start_with_what_wallets_match_on() {
    let small = PoolConfig { min_tip_wei: 2, ..PoolConfig::default() };
    let pool = pool_with(small);
    let cases: Vec<(Recovered<TxEnvelope>, SenderState, &str)> = vec![
        (with(1, 0, |t| t.chain_id = 5), rich(0), "invalid chain id"),
        (with(1, 0, |t| t.gas_limit = 30_000_001), rich(0), "exceeds block gas limit"),
        (with(1, 0, |t| t.gas_limit = 20_999), rich(0), "intrinsic gas too low"),
        (with(1, 0, |t| t.input = Bytes::from(vec![1u8; 100])), rich(0), "intrinsic gas too low"),
        (
            // 100 non-zero bytes: 22,600 gas intrinsic, but an EIP-7623 floor of 25,000.
            with(1, 0, |t| {
                t.input = Bytes::from(vec![1u8; 100]);
                t.gas_limit = 24_000;
            }),
            rich(0),
            "insufficient gas for floor data gas cost",
        ),
        (with(1, 0, |t| t.gas_limit = 20_000_000), rich(0), "transaction gas limit too high (cap: 16777216"),
        (unprotected(1, 0), rich(0), "only replay-protected (EIP-155) transactions allowed over RPC"),
        (
            with(1, 0, |t| {
                t.input = Bytes::from(vec![0u8; 129 * 1024]);
                t.gas_limit = 29_000_000;
            }),
            rich(0),
            "oversized data",
        ),
        (with(1, 0, |t| t.max_priority_fee_per_gas = 1), rich(0), "transaction underpriced"),
        (
            with(1, 0, |t| t.max_priority_fee_per_gas = 101),
            rich(0),
            "max priority fee per gas higher than max fee",
        ),
        (with(1, 3, |t| t.max_priority_fee_per_gas = 2), rich(4), "nonce too low"),
        (
            with(1, 0, |t| t.max_priority_fee_per_gas = 2),
            SenderState { nonce: 0, balance: U256::from(21_000u64 * 100 - 1), has_code: false },
            "insufficient funds for gas * price + value",
        ),
    ];
    for (tx, state, expected) in cases {
        let error = pool.add(tx, state).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{error} should start with {expected}");
    }
    assert!(pool.is_empty());
    pool.add(with(1, 0, |t| t.max_priority_fee_per_gas = 2), rich(0)).unwrap();
}

/// A legacy transaction signed without a chain id (before EIP-155).
fn unprotected(from: u8, nonce: u64) -> Recovered<TxEnvelope> {
    let tx = TxLegacy {
        chain_id: None,
        nonce,
        gas_price: 100,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::from(from),
        ..Default::default()
    };
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(Signature::test_signature())), sender(from))
}

#[test]
fn unprotected_transactions_only_when_the_operator_allows_them() {
    let pool = pool_with(PoolConfig { allow_unprotected_txs: true, ..PoolConfig::default() });
    pool.add(unprotected(1, 0), rich(0)).unwrap();
    assert_eq!(pool.size().pending, 1);
}

#[test]
fn funds_cover_the_pending_transactions_before_a_new_one() {
    let pool = pool();
    // The balance covers two and a half.
    let one = cost(tx(1, 0, 100, 1).inner());
    let state = SenderState { nonce: 0, balance: one * U256::from(5u64) / U256::from(2u64), has_code: false };
    pool.add(tx(1, 0, 100, 1), state).unwrap();
    pool.add(tx(1, 1, 100, 1), state).unwrap();
    let error = pool.add(tx(1, 2, 100, 1), state).unwrap_err();
    assert!(matches!(error, PoolError::InsufficientFunds { .. }), "{error}");
    // A replacement counts its own cost instead of the old one's: a raise that fits is taken,
    // one that does not is refused.
    pool.add(tx(1, 1, 110, 2), state).unwrap();
    let error = pool.add(tx(1, 1, 200, 3), state).unwrap_err();
    assert!(matches!(error, PoolError::InsufficientFunds { .. }), "{error}");
}

#[test]
fn a_sender_holds_at_most_its_share() {
    let pool = pool_with(PoolConfig { max_per_sender: 3, ..PoolConfig::default() });
    for nonce in 0..3 {
        pool.add(tx(1, nonce, 100, 1), rich(0)).unwrap();
    }
    assert_eq!(
        pool.add(tx(1, 3, 100, 1), rich(0)),
        Err(PoolError::AccountLimitExceeded { pooled: 3, max: 3 })
    );
    assert!(
        pool.add(tx(1, 3, 100, 1), rich(0)).unwrap_err().to_string().starts_with("account limit exceeded")
    );
    // Replacing stays possible, and another sender is not affected.
    pool.add(tx(1, 2, 110, 2), rich(0)).unwrap();
    pool.add(tx(2, 0, 100, 1), rich(0)).unwrap();
}

#[test]
fn a_sender_at_its_limit_keeps_its_lowest_nonces() {
    // A batch admitted out of order: nonces 5, 9 and 7 queue behind a gap from 0.
    let pool = pool_with(PoolConfig { max_per_sender: 3, ..PoolConfig::default() });
    let nine = pool.add(tx(1, 9, 100, 1), rich(0)).unwrap();
    pool.add(tx(1, 5, 100, 1), rich(0)).unwrap();
    let seven = pool.add(tx(1, 7, 100, 1), rich(0)).unwrap();
    pool.take_removed();
    // Nonce 0 fills the gap at the front: the highest queued one (9) makes room.
    pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    assert_eq!(pool.take_removed(), vec![nine]);
    // Nonce 1 runs on: 7 makes room. Then 8 is above every queued one left: refused.
    pool.add(tx(1, 1, 100, 1), rich(0)).unwrap();
    assert_eq!(pool.take_removed(), vec![seven]);
    assert!(matches!(pool.add(tx(1, 8, 100, 1), rich(0)), Err(PoolError::AccountLimitExceeded { .. })));
    // Pending transactions are never displaced: with 0, 1 and 2 pending, 3 is refused.
    pool.add(tx(1, 2, 100, 1), rich(0)).unwrap();
    assert_eq!(pool.size().pending, 3);
    assert!(matches!(pool.add(tx(1, 3, 100, 1), rich(0)), Err(PoolError::AccountLimitExceeded { .. })));
}

#[test]
fn a_newcomer_refused_for_a_full_pool_displaces_nothing() {
    // Sender 1 is at its limit with two queued transactions; the pending pool is full of
    // better payers. Its nonce 0 would displace nonce 9, but is itself the cheapest pending.
    let pool = pool_with(PoolConfig { max_per_sender: 2, max_pending: 2, ..PoolConfig::default() });
    let nine = pool.add(tx(1, 9, 100, 1), rich(0)).unwrap();
    let five = pool.add(tx(1, 5, 100, 1), rich(0)).unwrap();
    pool.add(tx(2, 0, 100, 5), rich(0)).unwrap();
    pool.add(tx(3, 0, 100, 6), rich(0)).unwrap();
    pool.take_removed();
    assert_eq!(pool.add(tx(1, 0, 100, 1), rich(0)), Err(PoolError::PoolFull));
    // Nothing the RPC acknowledged is lost for a transaction it refused.
    assert!(pool.get(&nine).is_some() && pool.get(&five).is_some());
    assert!(pool.take_removed().is_empty());
    assert_eq!((pool.size().pending, pool.size().queued), (2, 2));
}

#[test]
fn a_full_pending_pool_evicts_the_cheapest_or_refuses_the_newcomer() {
    let pool = pool_with(PoolConfig { max_pending: 3, ..PoolConfig::default() });
    let cheapest = pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    pool.add(tx(2, 0, 100, 2), rich(0)).unwrap();
    pool.add(tx(3, 0, 100, 3), rich(0)).unwrap();
    let better = pool.add(tx(4, 0, 100, 5), rich(0)).unwrap();
    assert_eq!(pool.size().pending, 3);
    assert!(pool.get(&cheapest).is_none() && pool.get(&better).is_some());
    assert_eq!(pool.take_removed(), vec![cheapest]);
    let error = pool.add(tx(5, 0, 100, 1), rich(0)).unwrap_err();
    assert_eq!(error, PoolError::PoolFull);
    assert!(error.to_string().contains("txpool is full"), "{error}");
    assert_eq!(pool.size().pending, 3);
    // Only a sender's last pending transaction can go, never one that would open a gap: (1, 0)
    // pays least but (1, 1) follows it, so the cheapest last one, (2, 0), goes.
    let pool = pool_with(PoolConfig { max_pending: 3, ..PoolConfig::default() });
    pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    pool.add(tx(1, 1, 100, 9), rich(0)).unwrap();
    pool.add(tx(2, 0, 100, 5), rich(0)).unwrap();
    pool.add(tx(3, 0, 100, 6), rich(0)).unwrap();
    assert_eq!(order(&pool.best(BASE_FEE)), vec![(3, 0), (1, 0), (1, 1)]);
}

#[test]
fn a_newcomer_paying_the_cheapest_price_evicts_no_one_whatever_the_addresses() {
    // Both orders of addresses: the price key's tie-break by sender must not decide.
    for (pooled, newcomer) in [(1u8, 9u8), (9, 1)] {
        let pool = pool_with(PoolConfig { max_pending: 2, ..PoolConfig::default() });
        let cheapest = pool.add(tx(pooled, 0, 100, 1), rich(0)).unwrap();
        pool.add(tx(5, 0, 100, 3), rich(0)).unwrap();
        pool.take_removed();
        let error = pool.add(tx(newcomer, 0, 100, 1), rich(0)).unwrap_err();
        assert_eq!(error, PoolError::PoolFull, "sender {newcomer} against {pooled}");
        assert!(error.to_string().contains("no more than the cheapest"), "{error}");
        assert!(pool.get(&cheapest).is_some(), "sender {pooled}'s transaction was evicted");
        assert!(pool.take_removed().is_empty());
        // One wei more per gas of tip does push it out.
        pool.add(tx(newcomer, 0, 100, 2), rich(0)).unwrap();
        assert!(pool.get(&cheapest).is_none());
    }
}

#[test]
fn a_full_queue_evicts_queued_transactions_only() {
    let pool = pool_with(PoolConfig { max_queued: 2, ..PoolConfig::default() });
    pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    let cheap = pool.add(tx(2, 1, 100, 2), rich(0)).unwrap();
    pool.add(tx(3, 1, 100, 3), rich(0)).unwrap();
    pool.add(tx(4, 1, 100, 4), rich(0)).unwrap();
    assert_eq!(pool.size(), PoolSize { pending: 1, queued: 2, bytes: pool.size().bytes });
    assert!(pool.get(&cheap).is_none());
    assert_eq!(pool.add(tx(5, 1, 100, 1), rich(0)), Err(PoolError::PoolFull));
    // The cheap pending transaction was never at risk.
    assert_eq!(order(&pool.best(BASE_FEE)), vec![(1, 0)]);
}

#[test]
fn the_byte_limit_evicts_queued_before_pending() {
    let one = tx(1, 0, 100, 1).inner().encode_2718_len() + ENTRY_OVERHEAD_BYTES;
    let pool = pool_with(PoolConfig { max_bytes: 3 * one, ..PoolConfig::default() });
    pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    pool.add(tx(2, 0, 100, 2), rich(0)).unwrap();
    let queued = pool.add(tx(3, 1, 100, 50), rich(0)).unwrap();
    pool.add(tx(4, 0, 100, 3), rich(0)).unwrap();
    assert!(pool.get(&queued).is_none(), "the queued one goes first, even though it pays more");
    assert!(pool.size().bytes <= 3 * one);
    pool.add(tx(5, 0, 100, 4), rich(0)).unwrap();
    assert_eq!(order(&pool.best(BASE_FEE)), vec![(5, 0), (4, 0), (2, 0)]);
    // A transaction over the per-transaction size limit is refused outright.
    let big = with(6, 0, |t| {
        t.input = Bytes::from(vec![0u8; 128 * 1024]);
        t.gas_limit = 29_000_000;
    });
    assert!(matches!(pool.add(big, rich(0)), Err(PoolError::OversizedData { .. })));
}

#[test]
fn a_refused_replacement_leaves_the_original_pooled() {
    let one = tx(1, 0, 100, 1).inner().encode_2718_len() + ENTRY_OVERHEAD_BYTES;
    let pool = pool_with(PoolConfig { max_bytes: 2 * one + 10, ..PoolConfig::default() });
    let original = pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    pool.add(tx(2, 0, 100, 5), rich(0)).unwrap();
    // A valid bump, but larger than the room left and cheaper than the other sender's.
    let bigger = with(1, 0, |t| {
        t.max_fee_per_gas = 110;
        t.max_priority_fee_per_gas = 2;
        t.input = Bytes::from(vec![0u8; 64]);
        t.gas_limit = 100_000;
    });
    assert_eq!(pool.add(bigger, rich(0)), Err(PoolError::PoolFull));
    assert!(pool.get(&original).is_some());
    assert_eq!(pool.size().pending, 2);
    assert!(pool.take_removed().is_empty());
}

#[test]
fn queued_transactions_of_an_idle_sender_expire() {
    let clock = Arc::new(TestClock(Mutex::new(Instant::now())));
    let pool = Mempool::with_clock(PoolConfig::default(), &ChainConfig::l2(CHAIN_ID), head(), clock.clone());
    pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    let idle = pool.add(tx(1, 5, 100, 1), rich(0)).unwrap();
    clock.advance(Duration::from_secs(2 * 3600));
    let active = pool.add(tx(2, 5, 100, 1), rich(0)).unwrap();
    clock.advance(Duration::from_secs(3600 + 1));
    revalidate(&pool, head(), [], no_state_errors(rich(0)));
    assert!(pool.get(&idle).is_none(), "queued for over 3 h");
    assert!(pool.get(&active).is_some(), "its sender sent something 1 h ago");
    assert_eq!((pool.size().pending, pool.size().queued), (1, 1), "pending transactions do not expire");
    assert!(pool.take_removed().contains(&idle));
}

#[test]
fn admission_uses_the_sealed_block_while_the_rpc_reads_the_one_before() {
    let pool = pool();
    for nonce in 0..2 {
        pool.add(tx(1, nonce, 100, 1), rich(0)).unwrap();
    }
    // The builder sealed a block with both: the pool forgets them and sender 1.
    revalidate(&pool, head(), [(sender(1), rich(2))], no_state_errors(rich(2)));
    assert_eq!(pool.size().pending + pool.size().queued, 0);
    // The RPC, before the block is committed, still reads nonce 0.
    let next = pool.add(tx(1, 2, 100, 1), rich(0)).unwrap();
    assert_eq!(pool.is_pending(&next), Some(true), "nonce 2 is next after the sealed block");
    let error = pool.add(tx(1, 1, 200, 2), rich(0)).unwrap_err();
    assert!(matches!(error, PoolError::NonceTooLow { expected: 2, got: 1 }), "{error}");
    // The next block moves on: its own changes only.
    revalidate(&pool, head(), [], no_state_errors(rich(2)));
    let gapped = pool.add(tx(2, 1, 100, 1), rich(0)).unwrap();
    assert_eq!(pool.is_pending(&gapped), Some(false));
}

#[test]
fn revalidation_follows_the_new_state() {
    let pool = pool();
    for nonce in 0..3 {
        pool.add(tx(1, nonce, 100, 1), rich(0)).unwrap();
    }
    let waiting = pool.add(tx(2, 3, 100, 1), rich(0)).unwrap();
    pool.add(tx(3, 0, 100, 1), rich(0)).unwrap();
    let costly = pool.add(tx(3, 1, 1_000, 1), rich(0)).unwrap();
    let big = pool.add(with(4, 0, |t| t.gas_limit = 1_000_000), rich(0)).unwrap();
    // A block included sender 1's nonces 0 and 1 and sender 2's 0..3; sender 3 spent most of
    // its funds elsewhere; the gas limit fell.
    let after = |address: Address| -> Result<SenderState, std::convert::Infallible> {
        Ok(match address.0[0] {
            1 => rich(2),
            2 => rich(3),
            3 => SenderState { nonce: 0, balance: U256::from(3_000_000u64), has_code: false },
            _ => rich(0),
        })
    };
    revalidate(&pool, PoolHead { base_fee: BASE_FEE, gas_limit: 500_000, blob_base_fee: 1 }, [], after);
    assert_eq!(pool.pending_nonce(sender(1), 2), 3);
    assert_eq!(pool.is_pending(&waiting), Some(true), "the gap filled on chain");
    assert!(pool.get(&costly).is_none(), "costs more than the balance");
    assert!(pool.get(&big).is_none(), "more gas than a block holds");
    assert_eq!(pool.size().pending, 3);
    assert_eq!(pool.take_removed().len(), 4);

    // Funds that cover only the first of two: the second waits in queued.
    let pool = self::pool();
    pool.add(tx(1, 0, 100, 1), rich(0)).unwrap();
    let second = pool.add(tx(1, 1, 100, 1), rich(0)).unwrap();
    let poorer = SenderState { nonce: 0, balance: U256::from(3_000_000u64), has_code: false };
    revalidate(&pool, head(), [], no_state_errors(poorer));
    assert_eq!(pool.is_pending(&second), Some(false));
    assert_eq!(pool.pending_nonce(sender(1), 0), 1);
    // The builder found the first invalid: the second stays queued behind the gap.
    let first = *pool.best(BASE_FEE)[0].inner().tx_hash();
    pool.remove(&first);
    assert!(pool.best(BASE_FEE).is_empty());
    assert_eq!(pool.size().queued, 1);
}

#[test]
fn a_delegated_account_has_one_transaction_in_flight() {
    let pool = pool();
    let delegated = SenderState { has_code: true, ..rich(0) };
    assert_eq!(pool.add(tx(1, 1, 100, 1), delegated), Err(PoolError::GappedNonceFromDelegated));
    pool.add(tx(1, 0, 100, 1), delegated).unwrap();
    assert_eq!(pool.add(tx(1, 1, 100, 1), delegated), Err(PoolError::InflightTxLimitReached));
    assert!(
        pool.add(tx(1, 1, 100, 1), delegated)
            .unwrap_err()
            .to_string()
            .starts_with("in-flight transaction limit reached for delegated accounts")
    );
    // Replacing the one in flight is allowed.
    pool.add(tx(1, 0, 110, 2), delegated).unwrap();
    assert_eq!(pool.len(), 1);
}

#[test]
fn a_pooled_authorization_limits_its_authority_and_needs_a_quiet_authority() {
    let authority = PrivateKeySigner::random();
    let busy = PrivateKeySigner::random();
    let pool = pool();
    // The busy account has two pooled transactions: no authorization of it is admitted.
    pool.add(eip1559(busy.address(), 0, 100, 1), rich(0)).unwrap();
    pool.add(eip1559(busy.address(), 1, 100, 1), rich(0)).unwrap();
    assert_eq!(
        pool.add(set_code(sender(1), 0, &[&busy]), rich(0)),
        Err(PoolError::AuthorityReserved { authority: busy.address() })
    );
    // One pooled transaction of the authority is fine.
    pool.add(eip1559(authority.address(), 0, 100, 1), rich(0)).unwrap();
    pool.add(set_code(sender(1), 0, &[&authority]), rich(0)).unwrap();
    // From now on the authority, though not delegated yet, is held to one in flight.
    assert_eq!(
        pool.add(eip1559(authority.address(), 1, 100, 1), rich(0)),
        Err(PoolError::InflightTxLimitReached)
    );
    // An authorization with no valid signature names nobody and restricts nobody.
    let set_code_without_authority = {
        let mut tx = set_code(sender(2), 0, &[&authority]);
        if let TxEnvelope::Eip7702(signed) = tx.inner() {
            let mut unsigned = signed.tx().clone();
            unsigned.authorization_list[0] = Authorization {
                chain_id: U256::from(CHAIN_ID),
                address: Address::repeat_byte(0xde),
                nonce: 0,
            }
            .into_signed(Signature::new(U256::ZERO, U256::ZERO, false));
            tx = Recovered::new_unchecked(
                TxEnvelope::from(unsigned.into_signed(Signature::test_signature())),
                sender(2),
            );
        }
        tx
    };
    pool.add(set_code_without_authority, rich(0)).unwrap();
    pool.add(tx(2, 1, 100, 1), rich(0)).unwrap();
    // Once the set-code transaction leaves the pool (included: its sender's nonce moved), the
    // authority is free again unless the chain delegated it.
    let after = |address: Address| -> Result<SenderState, std::convert::Infallible> {
        Ok(if address == sender(1) || address == authority.address() { rich(1) } else { rich(0) })
    };
    revalidate(&pool, head(), [], after);
    pool.add(eip1559(authority.address(), 1, 100, 1), rich(1)).unwrap();
    pool.add(eip1559(authority.address(), 2, 100, 1), rich(1)).unwrap();
    let delegated_now = SenderState { has_code: true, ..rich(1) };
    assert_eq!(
        pool.add(eip1559(authority.address(), 3, 100, 1), delegated_now),
        Err(PoolError::InflightTxLimitReached)
    );
}

#[test]
fn a_set_code_transaction_needs_an_authorization() {
    let pool = pool();
    assert_eq!(pool.add(set_code(sender(1), 0, &[]), rich(0)), Err(PoolError::EmptyAuthorizationList));
}

/// 50,000 transactions from 5,000 senders, with gaps and random fees, at a small pool: the
/// limits hold after every single admission, and every refusal says why.
#[test]
fn memory_stays_bounded_under_a_burst() {
    let config = PoolConfig {
        max_pending: 1_000,
        max_queued: 200,
        max_per_sender: 16,
        max_bytes: 600 * 1024,
        ..PoolConfig::default()
    };
    let pool = pool_with(config.clone());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut refusals: HashMap<String, usize> = HashMap::new();
    let mut admitted = 0;
    for i in 0..50_000u64 {
        let from = Address::left_padding_from(&(i % 5_000).to_be_bytes());
        // Mostly in order, sometimes with a gap or a duplicate nonce.
        let nonce = i / 5_000 + random() % 3 / 2;
        let tip = u128::from(random() % 1_000);
        match pool.add(eip1559(from, nonce, 2_000, tip), rich(0)) {
            Ok(_) => admitted += 1,
            Err(error) => {
                let message = error.to_string();
                let kind = message.split(':').next().unwrap_or_default().to_owned();
                *refusals.entry(kind).or_default() += 1;
            }
        }
        let size = pool.size();
        assert!(size.pending <= config.max_pending, "{size:?} after tx {i}");
        assert!(size.queued <= config.max_queued, "{size:?} after tx {i}");
        assert!(size.bytes <= config.max_bytes, "{size:?} after tx {i}");
        assert_eq!(pool.len(), size.pending + size.queued);
    }
    let allowed =
        ["transaction underpriced", "replacement transaction underpriced", "account limit exceeded"];
    for kind in refusals.keys() {
        assert!(allowed.contains(&kind.as_str()), "unexpected refusal {kind}: {refusals:?}");
    }
    assert!(refusals.get("transaction underpriced").copied().unwrap_or_default() > 1_000, "{refusals:?}");
    // The pool kept taking better-paying transactions, evicting cheaper ones; every admitted
    // transaction is either still pooled or reported as removed (for the store to forget).
    assert!(admitted > 2 * (config.max_pending + config.max_queued), "{admitted}");
    assert_eq!(pool.take_removed().len() + pool.len(), admitted);
    // What the builder gets is consistent with the counts.
    assert!(pool.best(BASE_FEE).len() <= pool.size().pending);
}

/// The pool's invariants under random sequences of admissions, replacements, blocks (the
/// builder pulling from [`BestTransactions`], then the chain event with advanced nonces and
/// changed balances), removals and idle time, at limits small enough that every rule binds.
mod properties {
    use super::{super::validation::is_enough_bump, *};
    use proptest::{prelude::*, sample::Index};
    use std::collections::{BTreeSet, HashSet};

    const SENDERS: u8 = 4;
    const LIFETIME: Duration = Duration::from_secs(60);
    /// The most one test transaction costs (gas 21,000 at the highest fee cap, plus its value).
    const UNIT: u64 = 21_000 * 40;

    fn config() -> PoolConfig {
        PoolConfig {
            max_pending: 6,
            max_queued: 4,
            max_per_sender: 4,
            // About eight test transactions: fewer than the counts allow, so bytes bind too.
            max_bytes: 8 * (ENTRY_OVERHEAD_BYTES + 116),
            queued_lifetime_ms: LIFETIME.as_millis() as u64,
            ..PoolConfig::default()
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A transaction `offset` nonces past the sender's account nonce.
        Add { sender: u8, offset: u64, fee: u128, tip: u128, ready: bool },
        /// A transaction at the nonce of a pooled one, its fees raised by `bump` percent.
        Replace { pick: Index, bump: u128 },
        /// The builder pulls a block (each pulled transaction: 0 included, 1 skipped for the
        /// block, 2 found invalid and removed), then the chain moves: balances change by
        /// `funding` units, a sender's nonce may advance outside the pool.
        Block { outcomes: Vec<u8>, base_fee: u64, funding: Vec<(u8, i64)>, external: Option<u8> },
        /// Time passes beyond the queued lifetime.
        Idle,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (1..=SENDERS, 0u64..5, 8u128..=40, 0u128..=40, prop::bool::weighted(0.2))
                .prop_map(|(sender, offset, fee, tip, ready)| Op::Add { sender, offset, fee, tip: tip.min(fee), ready }),
            2 => (any::<Index>(), 0u128..=25).prop_map(|(pick, bump)| Op::Replace { pick, bump }),
            2 => (
                prop::collection::vec(prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)], 1..8),
                5u64..=20,
                prop::collection::vec((1..=SENDERS, -3i64..=4), 0..3),
                prop::option::weighted(0.1, 1..=SENDERS),
            )
                .prop_map(|(outcomes, base_fee, funding, external)| Op::Block { outcomes, base_fee, funding, external }),
            1 => Just(Op::Idle),
        ]
    }

    /// What the test knows: the chain's accounts and what the pool was handed.
    struct Model {
        pool: Mempool,
        clock: Arc<TestClock>,
        config: PoolConfig,
        chain: BTreeMap<Address, SenderState>,
        head: PoolHead,
        /// Pooled transactions as of the last step.
        pooled: HashMap<B256, Recovered<TxEnvelope>>,
        /// When each sender last had a transaction admitted.
        last_admitted: HashMap<Address, Instant>,
        /// Every hash ever reported removed (a hash is reported once per admission).
        reported: HashSet<B256>,
    }

    /// Why a transaction may leave the pool in one step.
    #[derive(Default)]
    struct Reasons {
        included: HashSet<B256>,
        invalid: HashSet<B256>,
        /// The admitted transaction's sender and nonce: it replaces a pooled one at the same
        /// nonce, and at the sender's limit displaces one of its higher queued ones.
        admitted: Option<(Address, u64, B256)>,
        block: bool,
    }

    fn transaction(from: Address, nonce: u64, fee: u128, tip: u128) -> Recovered<TxEnvelope> {
        eip1559(from, nonce, fee, tip)
    }

    impl Model {
        fn new(balances: &[u64]) -> Self {
            let clock = Arc::new(TestClock(Mutex::new(Instant::now())));
            let config = config();
            let pool = Mempool::with_clock(config.clone(), &ChainConfig::l2(CHAIN_ID), head(), clock.clone());
            let chain = (1..=SENDERS)
                .zip(balances)
                .map(|(byte, units)| {
                    (
                        sender(byte),
                        SenderState { nonce: 0, balance: U256::from(units * UNIT), has_code: false },
                    )
                })
                .collect();
            Self {
                pool,
                clock,
                config,
                chain,
                head: head(),
                pooled: HashMap::new(),
                last_admitted: HashMap::new(),
                reported: HashSet::new(),
            }
        }

        fn admit(&mut self, tx: Recovered<TxEnvelope>, ready: bool) -> (Result<B256, PoolError>, Reasons) {
            let from = tx.signer();
            let nonce = tx.inner().nonce();
            let state = self.chain[&from];
            let old =
                self.pooled.values().find(|p| p.signer() == from && p.inner().nonce() == nonce).cloned();
            let result =
                if ready { self.pool.add_ready(tx.clone(), state) } else { self.pool.add(tx.clone(), state) };
            if let Some(old) = old.filter(|old| old.inner().tx_hash() != tx.inner().tx_hash()) {
                let bumped = is_enough_bump(old.inner(), tx.inner(), self.config.price_bump_percent);
                match &result {
                    Ok(_) => assert!(bumped, "a replacement without the bump was admitted"),
                    // Only if executable next, which is decided first (EIP-7966).
                    Err(error) if !bumped && ready => assert!(
                        matches!(error, PoolError::ReplacementUnderpriced | PoolError::NonceGap { .. }),
                        "{error}"
                    ),
                    Err(error) if !bumped => assert_eq!(error, &PoolError::ReplacementUnderpriced),
                    Err(_) => {}
                }
            }
            let mut reasons = Reasons::default();
            if let Ok(hash) = &result {
                self.last_admitted.insert(from, self.clock.now());
                self.reported.remove(hash);
                reasons.admitted = Some((from, nonce, *hash));
            }
            (result, reasons)
        }

        /// The builder's block, then the chain event.
        fn block(
            &mut self,
            outcomes: &[u8],
            base_fee: u64,
            funding: &[(u8, i64)],
            external: Option<u8>,
        ) -> Reasons {
            let mut reasons = Reasons { block: true, ..Reasons::default() };
            let before = self.pool.content();
            let mut best = self.pool.best_transactions(self.head.base_fee);
            let mut next_nonce: HashMap<Address, u64> = HashMap::new();
            let mut marked: HashSet<Address> = HashSet::new();
            let mut yielded: HashMap<Address, Vec<u64>> = HashMap::new();
            let mut pulled = 0;
            while let Some(tx) = best.next() {
                let from = tx.signer();
                let nonce = tx.inner().nonce();
                assert!(!marked.contains(&from), "a skipped sender's transaction was yielded");
                let expected = next_nonce.entry(from).or_insert(self.chain[&from].nonce);
                assert_eq!(nonce, *expected, "a sender's nonces out of order");
                *expected += 1;
                assert!(tx.inner().effective_tip_per_gas(self.head.base_fee).is_some());
                yielded.entry(from).or_default().push(nonce);
                match outcomes.get(pulled % outcomes.len()).copied().unwrap_or_default() {
                    0 => {
                        let state = self.chain.get_mut(&from).unwrap();
                        let price = tx.inner().effective_gas_price(Some(self.head.base_fee));
                        let paid = U256::from(21_000u128 * price) + tx.inner().value();
                        state.nonce += 1;
                        state.balance = state.balance.saturating_sub(paid);
                        reasons.included.insert(*tx.inner().tx_hash());
                    }
                    outcome => {
                        best.mark_invalid(from);
                        marked.insert(from);
                        if outcome == 2 {
                            self.pool.remove(tx.inner().tx_hash());
                            reasons.invalid.insert(*tx.inner().tx_hash());
                        }
                    }
                }
                pulled += 1;
            }
            // Unmarked senders got their whole executable run.
            for (from, txs) in &before.pending {
                if marked.contains(from) {
                    continue;
                }
                let run: Vec<u64> = txs
                    .values()
                    .take_while(|tx| tx.inner().effective_tip_per_gas(self.head.base_fee).is_some())
                    .map(|tx| tx.inner().nonce())
                    .collect();
                assert_eq!(yielded.remove(from).unwrap_or_default(), run, "the run of {from}");
            }
            assert!(
                yielded.keys().all(|from| marked.contains(from)),
                "yielded what was not pending: {yielded:?}"
            );
            for (byte, units) in funding {
                let state = self.chain.get_mut(&sender(*byte)).unwrap();
                let delta = U256::from(units.unsigned_abs() * UNIT);
                state.balance =
                    if *units < 0 { state.balance.saturating_sub(delta) } else { state.balance + delta };
            }
            if let Some(byte) = external {
                self.chain.get_mut(&sender(byte)).unwrap().nonce += 1;
            }
            self.head = PoolHead { base_fee, ..self.head };
            let mut reader = Chain(&self.chain);
            let (update, _) =
                maintain::read_canonical_update(&self.pool, &mut reader, self.head, &[]).unwrap();
            // Every changed account is in `changed` as the producer hands it.
            let update =
                CanonicalUpdate { changed: self.chain.iter().map(|(a, s)| (*a, *s)).collect(), ..update };
            let removed = self.pool.on_block_sealed(update);
            self.check(removed, &reasons);
            reasons
        }

        /// The invariants, after a step whose removals `reasons` may explain.
        fn check(&mut self, removed: Vec<B256>, reasons: &Reasons) {
            let content = self.pool.content();
            let size = self.pool.size();
            let now = self.clock.now();
            let mut after: HashMap<B256, Recovered<TxEnvelope>> = HashMap::new();
            let mut bytes = 0;
            let (mut pending, mut queued) = (0, 0);
            let senders: BTreeSet<Address> =
                content.pending.keys().chain(content.queued.keys()).copied().collect();
            for from in senders {
                let state = self.chain[&from];
                let mut txs: BTreeMap<u64, (bool, &Recovered<TxEnvelope>)> = BTreeMap::new();
                for (nonce, tx) in content.pending.get(&from).into_iter().flatten() {
                    txs.insert(*nonce, (true, tx));
                }
                for (nonce, tx) in content.queued.get(&from).into_iter().flatten() {
                    assert!(
                        txs.insert(*nonce, (false, tx)).is_none(),
                        "{from} {nonce} both pending and queued"
                    );
                }
                assert!(txs.len() <= self.config.max_per_sender, "{from} holds {}", txs.len());
                // Pending: exactly the consecutive nonces from the account nonce that the
                // balance covers.
                let (mut next, mut spent) = (state.nonce, U256::ZERO);
                for (nonce, (is_pending, tx)) in &txs {
                    assert!(*nonce >= state.nonce, "{from} keeps nonce {nonce} below {}", state.nonce);
                    let total = spent + cost(tx.inner());
                    let executable = *nonce == next && total <= state.balance;
                    assert_eq!(*is_pending, executable, "{from} nonce {nonce} at {state:?}");
                    if executable {
                        next += 1;
                        spent = total;
                        pending += 1;
                    } else {
                        queued += 1;
                    }
                    bytes += tx.inner().encode_2718_len() + ENTRY_OVERHEAD_BYTES;
                    after.insert(*tx.inner().tx_hash(), (*tx).clone());
                }
            }
            assert_eq!(size, PoolSize { pending, queued, bytes });
            assert!(size.pending <= self.config.max_pending, "{size:?}");
            assert!(size.queued <= self.config.max_queued, "{size:?}");
            assert!(size.bytes <= self.config.max_bytes, "{size:?}");
            assert_eq!(self.pool.len(), pending + queued);

            // Nothing leaves except by a rule, and what leaves is reported, once.
            let removed_set: HashSet<B256> = removed.iter().copied().collect();
            assert_eq!(removed_set.len(), removed.len(), "a hash reported twice in one step");
            let gone: HashSet<B256> =
                self.pooled.keys().filter(|h| !after.contains_key(*h)).copied().collect();
            assert_eq!(removed_set, gone, "removed hashes and the pool's contents disagree");
            if let Some((_, _, hash)) = reasons.admitted {
                assert!(after.contains_key(&hash), "an admitted transaction is neither pooled nor reported");
            }
            let at_limit = size.pending == self.config.max_pending
                || size.queued == self.config.max_queued
                || size.bytes + ENTRY_OVERHEAD_BYTES + 200 > self.config.max_bytes;
            for hash in &removed {
                assert!(self.reported.insert(*hash), "{hash} reported removed twice");
                let tx = &self.pooled[hash];
                let from = tx.signer();
                let nonce = tx.inner().nonce();
                let state = self.chain[&from];
                let included = reasons.included.contains(hash);
                let invalid = reasons.invalid.contains(hash);
                let replaced = reasons.admitted.is_some_and(|(s, n, _)| (s, n) == (from, nonce));
                let passed = nonce < state.nonce;
                let unpayable = reasons.block && cost(tx.inner()) > state.balance;
                let expired = reasons.block
                    && self
                        .last_admitted
                        .get(&from)
                        .is_none_or(|at| now.saturating_duration_since(*at) > LIFETIME);
                let displaced = reasons.admitted.is_some_and(|(s, n, _)| s == from && nonce > n);
                assert!(
                    included
                        || invalid
                        || replaced
                        || passed
                        || unpayable
                        || expired
                        || displaced
                        || at_limit,
                    "{from} nonce {nonce} left the pool by no rule ({size:?}, {state:?})"
                );
            }
            self.pooled = after;
        }
    }

    /// The chain's accounts as the producer's state would read them.
    struct Chain<'a>(&'a BTreeMap<Address, SenderState>);

    impl maintain::AccountReader for Chain<'_> {
        type Error = std::convert::Infallible;

        fn prefetch(&mut self, _: Vec<Address>) -> Result<Vec<Address>, Self::Error> {
            Ok(Vec::new())
        }

        fn account(&mut self, address: Address) -> Result<Option<AccountState>, Self::Error> {
            Ok(self.0.get(&address).map(|state| AccountState {
                nonce: state.nonce,
                balance: state.balance,
                ..AccountState::default()
            }))
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn the_pool_keeps_its_invariants(
            balances in prop::collection::vec(0u64..8, SENDERS as usize),
            ops in prop::collection::vec(op(), 1..50),
        ) {
            let mut model = Model::new(&balances);
            for op in ops {
                match op {
                    Op::Add { sender: byte, offset, fee, tip, ready } => {
                        let from = sender(byte);
                        let tx = transaction(from, model.chain[&from].nonce + offset, fee, tip);
                        let (result, reasons) = model.admit(tx, ready);
                        let removed = model.pool.take_removed();
                        if result.is_err() {
                            prop_assert!(removed.is_empty(), "a refused admission removed {removed:?}");
                        }
                        model.check(removed, &reasons);
                    }
                    Op::Replace { pick, bump } => {
                        if model.pooled.is_empty() {
                            continue;
                        }
                        let mut hashes: Vec<&B256> = model.pooled.keys().collect();
                        hashes.sort();
                        let old = model.pooled[hashes[pick.index(hashes.len())]].clone();
                        let raise = |value: u128| value * (100 + bump) / 100;
                        let (fee, tip) = (old.inner().max_fee_per_gas(), old.inner().priority_fee_or_price());
                        let tx = transaction(old.signer(), old.inner().nonce(), raise(fee), raise(tip));
                        let (result, reasons) = model.admit(tx, false);
                        let removed = model.pool.take_removed();
                        if result.is_err() {
                            prop_assert!(removed.is_empty(), "a refused replacement removed {removed:?}");
                        }
                        model.check(removed, &reasons);
                    }
                    Op::Block { outcomes, base_fee, funding, external } => {
                        model.block(&outcomes, base_fee, &funding, external);
                    }
                    Op::Idle => {
                        model.clock.advance(LIFETIME + Duration::from_secs(1));
                        let removed = model.pool.take_removed();
                        prop_assert!(removed.is_empty(), "time alone removed {removed:?}");
                    }
                }
            }
        }
    }
}

/// A blob transaction from `from` in network form, carrying one blob per byte of `blobs`, each
/// filled with it, with EIP-4844 blob proofs; its tip is a tenth of `max_fee` and its blob fee
/// cap is `max_fee`.
fn blob_tx(from: u8, nonce: u64, max_fee: u128, blobs: &[u8]) -> Recovered<TxEnvelope> {
    use alloy_consensus::{TxEip4844, TxEip4844Variant, TxEip4844WithSidecar};
    use alloy_eips::{
        eip4844::{Blob, BlobTransactionSidecar, env_settings::EnvKzgSettings},
        eip7594::BlobTransactionSidecarVariant,
    };
    let blobs = blobs.iter().map(|byte| Blob::repeat_byte(*byte)).collect();
    let sidecar = BlobTransactionSidecar::try_from_blobs_with_settings(blobs, EnvKzgSettings::Default.get())
        .expect("blobs of small bytes are field elements");
    let tx = TxEip4844 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: max_fee / 10,
        // Distinct per sender: the test signature is shared, so the hash must differ by content.
        to: sender(from),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: max_fee,
        ..Default::default()
    };
    let tx = TxEip4844WithSidecar::from_tx_and_sidecar(tx, BlobTransactionSidecarVariant::Eip4844(sidecar));
    let signed = TxEip4844Variant::TxEip4844WithSidecar(tx).into_signed(Signature::test_signature());
    Recovered::new_unchecked(TxEnvelope::from(signed), sender(from))
}

#[test]
fn a_pooled_blob_is_found_while_any_pooled_transaction_carries_it() {
    let chain = ChainConfig::l1(CHAIN_ID, revm::primitives::hardfork::SpecId::OSAKA);
    let pool = Mempool::new(PoolConfig::default(), &chain, head());
    let first = blob_tx(1, 0, 100, &[7]);
    let hash = first.blob_versioned_hashes().unwrap()[0];
    pool.add(first, rich(0)).unwrap();
    // A second sender posts the same blob, then replaces its transaction by one carrying
    // another: the first sender's transaction still carries the blob.
    pool.add(blob_tx(2, 0, 100, &[7]), rich(0)).unwrap();
    pool.add(blob_tx(2, 0, 200, &[8]), rich(0)).unwrap();
    assert_eq!(pool.blob(&hash), Some(Bytes::from(vec![7u8; 131_072])));
    pool.add(blob_tx(1, 0, 200, &[9]), rich(0)).unwrap();
    assert_eq!(pool.blob(&hash), None);
}
