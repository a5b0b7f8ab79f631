//! Transactions waiting for a block: per sender, by nonce; handed to the builder by effective tip.
//!
//! This is the node core's pool: admission checks that need no state happen on the RPC thread
//! (decoding, signature recovery, chain id, type), and the builder asks for the best
//! transactions under the next base fee. Limits, replacement and eviction policy of a public
//! endpoint are the production pool's (issue 3).

use alloy_consensus::{Transaction, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};

/// Why the pool refused a transaction. Messages are the ones wallets match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The same transaction is already pending.
    #[error("already known")]
    AlreadyKnown,
    /// A transaction with this nonce is pending and the new one does not pay more.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The nonce is below the sender's account nonce.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// The account's nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
}

/// The pool. Shared between the RPC (adds) and the builder (takes, prunes).
#[derive(Debug, Default)]
pub struct Mempool {
    inner: Mutex<Pool>,
}

#[derive(Debug, Default)]
struct Pool {
    by_sender: HashMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>,
    by_hash: HashMap<B256, (Address, u64)>,
}

/// Percentage by which a replacement must raise both fee fields.
const REPLACEMENT_BUMP_PERCENT: u128 = 10;

impl Mempool {
    /// Adds a recovered transaction whose sender's account nonce is `account_nonce`.
    pub fn add(&self, tx: Recovered<TxEnvelope>, account_nonce: u64) -> Result<B256, PoolError> {
        let hash = *tx.inner().tx_hash();
        let sender = tx.signer();
        let nonce = tx.inner().nonce();
        if nonce < account_nonce {
            return Err(PoolError::NonceTooLow { expected: account_nonce, got: nonce });
        }
        let mut pool = self.inner.lock();
        if pool.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let queue = pool.by_sender.entry(sender).or_default();
        if let Some(existing) = queue.get(&nonce) {
            let bumped = |old: u128| old + old * REPLACEMENT_BUMP_PERCENT / 100;
            let (old, new) = (existing.inner(), tx.inner());
            let old_tip = old.max_priority_fee_per_gas().unwrap_or(old.max_fee_per_gas());
            let new_tip = new.max_priority_fee_per_gas().unwrap_or(new.max_fee_per_gas());
            if new.max_fee_per_gas() < bumped(old.max_fee_per_gas()) || new_tip < bumped(old_tip) {
                return Err(PoolError::ReplacementUnderpriced);
            }
            let replaced = *existing.inner().tx_hash();
            pool.by_hash.remove(&replaced);
        }
        pool.by_sender.entry(sender).or_default().insert(nonce, tx);
        pool.by_hash.insert(hash, (sender, nonce));
        Ok(hash)
    }

    /// Transactions to try in the next block: for each sender, the run of consecutive nonces
    /// starting at its account nonce (`nonce_of`); across senders, by effective tip under
    /// `base_fee`, highest first. Transactions that cannot pay `base_fee` wait.
    pub fn best(
        &self,
        base_fee: u64,
        mut nonce_of: impl FnMut(Address) -> u64,
    ) -> Vec<Recovered<TxEnvelope>> {
        let pool = self.inner.lock();
        let mut lanes: Vec<Vec<&Recovered<TxEnvelope>>> = Vec::new();
        for (sender, queue) in &pool.by_sender {
            let first = nonce_of(*sender);
            let lane: Vec<_> = (first..)
                .zip(queue.range(first..))
                .take_while(|(expected, (nonce, tx))| {
                    *nonce == expected && tx.inner().effective_tip_per_gas(base_fee).is_some()
                })
                .map(|(_, (_, tx))| tx)
                .collect();
            if !lane.is_empty() {
                lanes.push(lane);
            }
        }
        // Merge the lanes: repeatedly take the head with the highest tip. A sender's later
        // nonce never overtakes its earlier one.
        let tip = |tx: &Recovered<TxEnvelope>| tx.inner().effective_tip_per_gas(base_fee).unwrap_or_default();
        let mut heads: std::collections::BinaryHeap<(u128, std::cmp::Reverse<usize>, usize)> =
            lanes.iter().enumerate().map(|(lane, txs)| (tip(txs[0]), std::cmp::Reverse(lane), 0)).collect();
        let mut best = Vec::new();
        while let Some((_, std::cmp::Reverse(lane), position)) = heads.pop() {
            best.push(lanes[lane][position].clone());
            if let Some(next) = lanes[lane].get(position + 1) {
                heads.push((tip(next), std::cmp::Reverse(lane), position + 1));
            }
        }
        best
    }

    /// Every sender with pooled transactions.
    pub fn senders(&self) -> Vec<Address> {
        self.inner.lock().by_sender.keys().copied().collect()
    }

    /// Drops transactions whose nonce the chain has passed (included or replaced on chain).
    pub fn prune(&self, mut nonce_of: impl FnMut(Address) -> u64) {
        let mut pool = self.inner.lock();
        let Pool { by_sender, by_hash } = &mut *pool;
        by_sender.retain(|sender, queue| {
            let next = nonce_of(*sender);
            let kept = queue.split_off(&next);
            for tx in queue.values() {
                by_hash.remove(tx.inner().tx_hash());
            }
            *queue = kept;
            !queue.is_empty()
        });
    }

    /// Removes one transaction (the builder found it invalid).
    pub fn remove(&self, hash: &B256) {
        let mut pool = self.inner.lock();
        if let Some((sender, nonce)) = pool.by_hash.remove(hash)
            && let Some(queue) = pool.by_sender.get_mut(&sender)
        {
            queue.remove(&nonce);
            if queue.is_empty() {
                pool.by_sender.remove(&sender);
            }
        }
    }

    /// The next nonce of `sender` counting its pending run: for `eth_getTransactionCount` at
    /// `pending`.
    pub fn pending_nonce(&self, sender: Address, account_nonce: u64) -> u64 {
        let pool = self.inner.lock();
        let mut next = account_nonce;
        if let Some(queue) = pool.by_sender.get(&sender) {
            while queue.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Recovered<TxEnvelope>> {
        let pool = self.inner.lock();
        let (sender, nonce) = pool.by_hash.get(hash)?;
        pool.by_sender.get(sender)?.get(nonce).cloned()
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.inner.lock().by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{Signature, TxKind, U256};

    /// A transaction from `sender` (signature not checked: the pool trusts admission's recovery).
    fn tx(sender: u8, nonce: u64, max_fee: u128, tip: u128) -> Recovered<TxEnvelope> {
        let tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::ZERO),
            value: U256::from(sender),
            ..Default::default()
        };
        let signed = tx.into_signed(Signature::test_signature());
        Recovered::new_unchecked(TxEnvelope::from(signed), Address::repeat_byte(sender))
    }

    #[test]
    fn best_orders_by_tip_and_keeps_each_senders_nonces_in_order() {
        let pool = Mempool::default();
        pool.add(tx(1, 0, 100, 1), 0).unwrap();
        pool.add(tx(1, 1, 100, 50), 0).unwrap();
        pool.add(tx(2, 0, 100, 10), 0).unwrap();
        pool.add(tx(3, 5, 100, 90), 0).unwrap(); // nonce gap: waits
        let best = pool.best(10, |_| 0);
        let order: Vec<(u8, u64)> = best.iter().map(|t| (t.signer().0[0], t.inner().nonce())).collect();
        assert_eq!(order, vec![(2, 0), (1, 0), (1, 1)]);
    }

    #[test]
    fn transactions_below_the_base_fee_wait() {
        let pool = Mempool::default();
        pool.add(tx(1, 0, 5, 1), 0).unwrap();
        assert!(pool.best(10, |_| 0).is_empty());
        assert_eq!(pool.best(5, |_| 0).len(), 1);
    }

    #[test]
    fn replacement_needs_a_ten_percent_bump_of_both_fees() {
        let pool = Mempool::default();
        let first = pool.add(tx(1, 0, 100, 10), 0).unwrap();
        assert_eq!(pool.add(tx(1, 0, 109, 20), 0), Err(PoolError::ReplacementUnderpriced));
        assert_eq!(pool.add(tx(1, 0, 200, 10), 0), Err(PoolError::ReplacementUnderpriced));
        let second = pool.add(tx(1, 0, 110, 11), 0).unwrap();
        assert!(pool.get(&first).is_none());
        assert!(pool.get(&second).is_some());
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.add(tx(1, 0, 110, 11), 0), Err(PoolError::AlreadyKnown));
    }

    #[test]
    fn nonce_below_the_account_is_refused_and_pending_nonce_counts_the_run() {
        let pool = Mempool::default();
        assert_eq!(pool.add(tx(1, 2, 100, 1), 3), Err(PoolError::NonceTooLow { expected: 3, got: 2 }));
        pool.add(tx(1, 3, 100, 1), 3).unwrap();
        pool.add(tx(1, 4, 100, 1), 3).unwrap();
        pool.add(tx(1, 6, 100, 1), 3).unwrap();
        assert_eq!(pool.pending_nonce(Address::repeat_byte(1), 3), 5);
    }

    #[test]
    fn prune_drops_what_the_chain_passed() {
        let pool = Mempool::default();
        pool.add(tx(1, 0, 100, 1), 0).unwrap();
        pool.add(tx(1, 1, 100, 1), 0).unwrap();
        pool.prune(|_| 1);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.best(1, |_| 1).len(), 1);
        pool.prune(|_| 2);
        assert!(pool.is_empty());
    }
}
