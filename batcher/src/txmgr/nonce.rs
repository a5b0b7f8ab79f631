//! The sender's next nonce, kept locally so that concurrent sends never sign the same one.

use parking_lot::Mutex;

/// The next nonce to hand out: unknown until read from the L1's pending nonce, then counted
/// up locally while sends are under way; forgotten (and read again) after a nonce error and
/// whenever the last send under way ends, so that a transaction a reorganisation took out of
/// the chain after its send was over leaves no gap before the next one. The lock is held only
/// to read and update the count, never across an L1 request.
#[derive(Debug, Default)]
pub(crate) struct NonceTracker {
    state: Mutex<NonceState>,
}

#[derive(Debug, Default)]
struct NonceState {
    /// The next nonce, when known.
    next: Option<u64>,
    /// The least next nonce: one past the nonces of resumed sends, which the L1's pending
    /// nonce may not count if their transactions left its pool.
    floor: u64,
    /// Sends under way.
    sends: usize,
}

impl NonceTracker {
    /// Hands out the next nonce if it is known.
    pub(crate) fn take_known(&self) -> Option<u64> {
        let mut state = self.state.lock();
        let nonce = state.next?;
        state.next = Some(nonce.saturating_add(1));
        Some(nonce)
    }

    /// Hands out the next nonce, starting from the L1's `pending` nonce if it is not known
    /// (another send may have learnt it since `pending` was read: its count wins).
    pub(crate) fn take_from(&self, pending: u64) -> u64 {
        let mut state = self.state.lock();
        let nonce = state.next.unwrap_or(pending.max(state.floor));
        state.next = Some(nonce.saturating_add(1));
        nonce
    }

    /// Marks `nonce` as used by a resumed send: no later send is handed it.
    pub(crate) fn reserve(&self, nonce: u64) {
        let mut state = self.state.lock();
        let after = nonce.saturating_add(1);
        state.floor = state.floor.max(after);
        if let Some(next) = state.next.as_mut() {
            *next = (*next).max(after);
        }
    }

    /// Forgets the next nonce: the next send reads the L1's pending nonce again.
    pub(crate) fn reset(&self) {
        let mut state = self.state.lock();
        state.next = None;
        state.floor = 0;
    }

    /// A send starts.
    pub(crate) fn begin(&self) {
        self.state.lock().sends += 1;
    }

    /// A send ends: when it was the last under way, the count is forgotten (every nonce it
    /// handed out is in a block, in the L1's pool, or free again).
    pub(crate) fn end(&self) {
        let mut state = self.state.lock();
        state.sends = state.sends.saturating_sub(1);
        if state.sends == 0 {
            state.next = None;
            state.floor = 0;
        }
    }

    /// Whether exactly one send is under way: the caller's, which then knows that no other
    /// send holds a nonce below its own.
    pub(crate) fn alone(&self) -> bool {
        self.state.lock().sends == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_count_up_from_the_pending_nonce_and_are_read_again_after_a_reset() {
        let nonces = NonceTracker::default();
        assert_eq!(nonces.take_known(), None);
        assert_eq!(nonces.take_from(7), 7);
        // Another send read an older pending nonce meanwhile: the local count wins.
        assert_eq!(nonces.take_from(5), 8);
        assert_eq!(nonces.take_known(), Some(9));
        nonces.reset();
        assert_eq!(nonces.take_known(), None);
        assert_eq!(nonces.take_from(4), 4);
    }

    #[test]
    fn the_count_is_forgotten_when_the_last_send_ends() {
        let nonces = NonceTracker::default();
        nonces.begin();
        assert!(nonces.alone());
        assert_eq!(nonces.take_from(3), 3);
        nonces.begin();
        assert!(!nonces.alone());
        assert_eq!(nonces.take_known(), Some(4));
        // One of two ends: the other still holds its nonce, the count stays.
        nonces.end();
        assert_eq!(nonces.take_known(), Some(5));
        nonces.end();
        assert_eq!(nonces.take_known(), None);
        // A reset during a send keeps the count of sends.
        nonces.begin();
        nonces.reset();
        assert!(nonces.alone());
    }

    #[test]
    fn a_resumed_nonce_is_never_handed_out_again() {
        let nonces = NonceTracker::default();
        nonces.reserve(12);
        assert_eq!(nonces.take_from(12), 13);
        nonces.reserve(20);
        assert_eq!(nonces.take_known(), Some(21));
    }
}
