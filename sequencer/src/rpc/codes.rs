//! Contract codes by hash, analysed once and shared by every call the RPC simulates.

use alloy_primitives::{B256, map::B256Map};
use parking_lot::Mutex;
use revm::bytecode::Bytecode;

/// Analysed codes (with their jump tables) by code hash. A code never changes under its hash,
/// so nothing held goes stale; when the held bytes would pass the budget
/// (`database.rpc_code_cache_mib`) the cache starts over.
#[derive(Debug)]
pub(super) struct Codes {
    inner: Mutex<Held>,
    budget_bytes: usize,
    /// Bytes of code held (`sequencer_rpc_code_cache_bytes`).
    bytes: metrics::Gauge,
}

#[derive(Debug, Default)]
struct Held {
    bytes: usize,
    codes: B256Map<Bytecode>,
}

impl Codes {
    /// An empty cache that holds at most `budget_bytes` of code.
    pub(super) fn new(budget_bytes: usize) -> Self {
        Self {
            inner: Mutex::default(),
            budget_bytes,
            bytes: metrics::gauge!("sequencer_rpc_code_cache_bytes"),
        }
    }

    /// The code under `hash`, if held.
    pub(super) fn get(&self, hash: &B256) -> Option<Bytecode> {
        self.inner.lock().codes.get(hash).cloned()
    }

    /// Holds `code` under `hash`.
    pub(super) fn insert(&self, hash: B256, code: Bytecode) {
        let mut held = self.inner.lock();
        let len = code.len();
        if held.bytes + len > self.budget_bytes {
            *held = Held::default();
        }
        if len > self.budget_bytes {
            return;
        }
        if let Some(replaced) = held.codes.insert(hash, code) {
            held.bytes -= replaced.len();
        }
        held.bytes += len;
        self.bytes.set(held.bytes as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, keccak256};

    #[test]
    fn starts_over_past_its_budget() {
        const BUDGET_BYTES: usize = 1 << 20;
        let codes = Codes::new(BUDGET_BYTES);
        let big = Bytecode::new_raw(Bytes::from(vec![0x5b; BUDGET_BYTES / 2]));
        let first = keccak256([1]);
        codes.insert(first, big.clone());
        assert_eq!(codes.get(&first), Some(big.clone()));
        codes.insert(keccak256([2]), big.clone());
        codes.insert(keccak256([3]), big);
        assert_eq!(codes.get(&first), None, "the third half-budget code starts the cache over");
        assert!(codes.get(&keccak256([3])).is_some());
    }
}
