//! Contract codes by hash, analysed once and shared by every call the RPC simulates.

use alloy_primitives::{B256, map::B256Map};
use parking_lot::Mutex;
use revm::bytecode::Bytecode;

/// Bytes of code [`Codes`] holds before it starts over.
const BUDGET_BYTES: usize = 64 << 20;

/// Analysed codes (with their jump tables) by code hash. A code never changes under its hash,
/// so nothing held goes stale; when the held bytes pass [`BUDGET_BYTES`] the cache starts over.
#[derive(Debug, Default)]
pub(super) struct Codes {
    inner: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    bytes: usize,
    codes: B256Map<Bytecode>,
}

impl Codes {
    /// The code under `hash`, if held.
    pub(super) fn get(&self, hash: &B256) -> Option<Bytecode> {
        self.inner.lock().codes.get(hash).cloned()
    }

    /// Holds `code` under `hash`.
    pub(super) fn insert(&self, hash: B256, code: Bytecode) {
        let mut held = self.inner.lock();
        if held.bytes + code.len() > BUDGET_BYTES {
            *held = Held::default();
        }
        held.bytes += code.len();
        held.codes.insert(hash, code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, keccak256};

    #[test]
    fn starts_over_past_its_budget() {
        let codes = Codes::default();
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
