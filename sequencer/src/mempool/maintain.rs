//! What the pool does when the chain moves (reth's `maintain.rs`, driven in line): the block
//! producer, having sealed a block, reads what the pool needs of the new state with
//! [`read_canonical_update`] and hands it to [`Mempool::on_block_sealed`], which applies the
//! pool's rules. The read happens here, without the pool's lock; the pool never reads the
//! state itself.

use super::{Mempool, PoolHead, SenderState};
use alloy_primitives::Address;
use std::collections::HashMap;
use trace_builder::AccountState;

/// A sealed block as the pool sees it.
#[derive(Clone, Debug)]
pub struct CanonicalUpdate {
    /// The head after the block: the next block's base fee and gas limit.
    pub head: PoolHead,
    /// The states the block gave the accounts it changed: admissions of their senders use
    /// them while the RPC still reads the state before the block.
    pub changed: HashMap<Address, SenderState>,
    /// Every pooled sender's state after the block. A sender admitted after this was read
    /// keeps the state it was admitted with, which is at least as new.
    pub senders: HashMap<Address, SenderState>,
}

/// Where the pool's maintenance reads accounts: the producer's view of the latest state.
pub trait AccountReader {
    /// Why a read failed.
    type Error;

    /// Loads `addresses` in bulk ahead of [`AccountReader::account`]; returns the ones that were
    /// not loaded before.
    fn prefetch(&mut self, addresses: Vec<Address>) -> Result<Vec<Address>, Self::Error>;

    /// The account at `address` (`None`: absent).
    fn account(&mut self, address: Address) -> Result<Option<AccountState>, Self::Error>;
}

/// Reads what `pool` needs to move to a block sealed with `head` that changed the accounts
/// `changed`: every pooled sender's state, from `reader`, taking the pool's lock only to list
/// the senders (never while reading). Returns the update and the accounts `reader` loaded
/// for it (the producer warms their trie paths with the next block's).
pub fn read_canonical_update<R: AccountReader>(
    pool: &Mempool,
    reader: &mut R,
    head: PoolHead,
    changed: &[(Address, Option<AccountState>)],
) -> Result<(CanonicalUpdate, Vec<Address>), R::Error> {
    let senders = pool.senders();
    let loaded = reader.prefetch(senders.clone())?;
    let senders = senders
        .into_iter()
        .map(|sender| Ok((sender, SenderState::from_account(reader.account(sender)?.as_ref()))))
        .collect::<Result<HashMap<_, _>, R::Error>>()?;
    let changed = changed
        .iter()
        .map(|(address, account)| (*address, SenderState::from_account(account.as_ref())))
        .collect();
    Ok((CanonicalUpdate { head, changed, senders }, loaded))
}
