//! A Bloom filter over the addresses of the flat `accounts` table: a read of an account the
//! state does not hold (a wallet's fresh address, an explorer's guess) is answered from memory
//! instead of a database round trip.

use alloy_primitives::Address;
use std::{
    hash::{BuildHasher, RandomState},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// Bits per account the filter is sized for: about 1% false positives with
/// [`HASHES`] hash functions.
const BITS_PER_ACCOUNT: u64 = 10;
/// Hash functions per address.
const HASHES: u64 = 7;
/// Accounts a filter is sized for beyond the state it starts with: the state may quadruple
/// before false positives pass 1%; past that they grow, and reads stay exact (a positive is
/// checked in the database).
const GROWTH: u64 = 4;
/// Fewest accounts a filter is sized for.
const MIN_ACCOUNTS: u64 = 1 << 20;

/// The set of addresses that may have an account in the latest state. "No" is certain; "maybe"
/// needs the database. Addresses are only ever added (an account deleted later stays a "maybe"),
/// before the block that creates them commits, so a reader never misses an account a committed
/// block holds. Lock-free; cheap to clone.
#[derive(Clone, Debug)]
pub struct AccountFilter {
    bits: Arc<[AtomicU64]>,
    /// Seeds of the two hashes the probes derive from, random per process so that no one can
    /// choose addresses that collide.
    hashers: (RandomState, RandomState),
}

impl AccountFilter {
    /// A filter sized for `accounts` and growth, in at most `max_bytes` (at least 8 bytes).
    pub fn with_capacity(accounts: u64, max_bytes: usize) -> Self {
        let wanted_bits = accounts.saturating_mul(GROWTH).max(MIN_ACCOUNTS).saturating_mul(BITS_PER_ACCOUNT);
        let words = usize::try_from(wanted_bits.div_ceil(64)).unwrap_or(usize::MAX).min(max_bytes / 8).max(1);
        Self {
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            hashers: (RandomState::new(), RandomState::new()),
        }
    }

    /// Bytes the filter occupies.
    pub fn bytes(&self) -> usize {
        self.bits.len() * 8
    }

    /// Adds `address`.
    pub fn insert(&self, address: &Address) {
        for (word, mask) in self.probes(address) {
            if let Some(word) = self.bits.get(word) {
                word.fetch_or(mask, Ordering::Release);
            }
        }
    }

    /// Whether `address` may have an account; `false` is certain.
    pub fn may_contain(&self, address: &Address) -> bool {
        self.probes(address).all(|(word, mask)| {
            self.bits.get(word).is_some_and(|bits| bits.load(Ordering::Acquire) & mask != 0)
        })
    }

    /// The word and bit of each probe of `address` (Kirsch–Mitzenmacher double hashing).
    fn probes(&self, address: &Address) -> impl Iterator<Item = (usize, u64)> {
        let h1 = self.hashers.0.hash_one(address);
        // Odd, so that the probes of one address are distinct bits.
        let h2 = self.hashers.1.hash_one(address) | 1;
        let bits = self.bits.len() as u64 * 64;
        (0..HASHES).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % bits;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_every_inserted_address_and_few_others() {
        let filter = AccountFilter::with_capacity(10_000, 1 << 20);
        let address = |i: u64| Address::from_word(alloy_primitives::keccak256(i.to_be_bytes()));
        for i in 0..10_000 {
            filter.insert(&address(i));
        }
        assert!((0..10_000).all(|i| filter.may_contain(&address(i))));
        let false_positives = (10_000..110_000).filter(|i| filter.may_contain(&address(*i))).count();
        assert!(false_positives < 1_000, "{false_positives} of 100,000 absent addresses pass");
    }

    #[test]
    fn a_tiny_budget_stays_correct() {
        let filter = AccountFilter::with_capacity(1_000_000, 0);
        assert_eq!(filter.bytes(), 8);
        filter.insert(&Address::repeat_byte(1));
        assert!(filter.may_contain(&Address::repeat_byte(1)));
    }
}
