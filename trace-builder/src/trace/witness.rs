//! Witness collection: replay a batch's recorded reads and writes on the one trie over the
//! pre-state, recording every node it loads.
//!
//! The verifier executes each block over a [`StateTrie`] opened at the pre-state root (reads
//! through the trie as revm asks for them), then applies the block's changes to the same trie
//! and hashes it, block after block. The builder here performs the same trie operations — the
//! block's reads ([`StateAccess`]), then its changes ([`StateChanges`]) — on a trie whose store
//! records what it hands out. Reads do not change the trie and the order of reads within a
//! block does not change which nodes they load, so the recorded set is exactly the set of
//! pre-state nodes the verifier will load: nothing is missing and nothing is spare. Nodes the
//! batch creates are held in memory and never recorded.

use crate::{
    state::{StateAccess, StateChanges},
    state_trie::StateTrie,
    trie::{NodeStore, RecordingStore, TrieError},
};
use alloy_primitives::{B256, Bytes};
use std::{collections::BTreeSet, sync::Arc};

/// Collects the witness of a batch, block by block, without re-executing it.
#[derive(Debug)]
pub struct WitnessBuilder<S> {
    recording: Arc<RecordingStore<S>>,
    trie: StateTrie<Arc<RecordingStore<S>>>,
    /// Codes the batch loaded that an earlier block of the batch had not deployed.
    codes: BTreeSet<B256>,
    /// Codes the batch deployed so far.
    deployed: BTreeSet<B256>,
    /// Block numbers BLOCKHASH (or a system call) asked for.
    block_hashes: BTreeSet<u64>,
}

/// What a batch needs from its pre-state, as [`WitnessBuilder::finish`] returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessNeeds {
    /// The pre-state trie nodes the batch reads, sorted by hash: the witness's `nodes`.
    pub nodes: Vec<Bytes>,
    /// Hashes of the pre-existing codes the batch loads: the witness's `codes`, once fetched.
    pub codes: BTreeSet<B256>,
    /// Numbers of the blocks whose hashes the batch reads; those before the batch decide how
    /// many ancestor headers the trace carries.
    pub block_hashes: BTreeSet<u64>,
    /// The state root after the last block.
    pub post_state_root: B256,
}

impl WitnessNeeds {
    /// The number of the oldest ancestor header a trace of the batch carries: the parent's
    /// (`parent_number`), or that of the oldest block before the batch whose hash it reads.
    pub fn oldest_ancestor(&self, parent_number: u64) -> u64 {
        self.block_hashes.first().map_or(parent_number, |&oldest| oldest.min(parent_number))
    }
}

impl<S: NodeStore> WitnessBuilder<S> {
    /// A builder for a batch whose pre-state has root `pre_state_root` and nodes in `store`.
    pub fn new(store: S, pre_state_root: B256) -> Self {
        let recording = Arc::new(RecordingStore::new(store));
        Self {
            trie: StateTrie::new(recording.clone(), pre_state_root),
            recording,
            codes: BTreeSet::new(),
            deployed: BTreeSet::new(),
            block_hashes: BTreeSet::new(),
        }
    }

    /// Replays the next block of the batch — what it read, then what it changed, as the
    /// executor recorded them — and returns the state root after it.
    pub fn add_block(&mut self, access: &StateAccess, changes: &StateChanges) -> Result<B256, TrieError> {
        for &address in &access.accounts {
            self.trie.account(address)?;
        }
        for (&address, slots) in &access.storage {
            for &slot in slots {
                self.trie.storage(address, slot)?;
            }
        }
        self.codes.extend(access.codes.iter().filter(|hash| !self.deployed.contains(*hash)));
        self.block_hashes.extend(&access.block_hashes);
        let root = self.trie.apply(changes)?;
        self.deployed.extend(changes.codes.keys());
        Ok(root)
    }

    /// The batch's needs.
    pub fn finish(mut self) -> WitnessNeeds {
        let post_state_root = self.trie.root_hash();
        let mut nodes: Vec<(B256, Bytes)> = self.recording.take().into_iter().collect();
        nodes.sort_unstable_by_key(|(hash, _)| *hash);
        WitnessNeeds {
            nodes: nodes.into_iter().map(|(_, node)| node).collect(),
            codes: self.codes,
            block_hashes: self.block_hashes,
            post_state_root,
        }
    }
}
