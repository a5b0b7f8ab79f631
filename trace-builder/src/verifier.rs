//! EXECUTE: stateless re-execution of a trace (docs/trace-format.md).
//!
//! [`execute`] accepts a trace exactly when its witness proves the pre-state root, every block
//! re-executes under the L1 rules through the one block executor, and the resulting state root
//! and summed gas equal the claimed ones; it then returns the hash of the last block it sealed,
//! which an L1 or a bridge keeps to bind the L2 headers, not only the L2 state. It holds no
//! state, reads no database or network, and any malformed, incomplete or dishonest input makes it
//! return the reason, never panic.
//!
//! The steps are those of a stateless block validator: check the ancestor headers (the BLOCKHASH
//! window), build a database over the witness (a [`StateTrie`] over its nodes, its codes), execute
//! each block and apply its changes to the trie, compare the final root and gas with the claims.
//!
//! Work and memory are bounded by the input: the trace's size is capped, every list is decoded
//! from bytes that are present, each transaction's gas is capped by EIP-7825 and the block gas
//! limit, and re-execution stops as soon as the gas used passes the claimed total.

use crate::{
    bindings::{BindingMismatch, Bindings},
    chain::ChainConfig,
    error::ExecutionError,
    executor::{BlockExecutor, seal_header},
    state_trie::StateTrie,
    trace::{Trace, TraceBlock, TraceDecodeError},
    trie::{NodeStore, StoreError, TrieError, ordered_trie_root},
    trie_database::TrieDatabase,
};
use alloy_consensus::{Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{B256, Bytes, keccak256, map::B256Map};
use std::collections::BTreeMap;

/// The largest trace a verifier accepts by default: 16 MiB, far above what a batch can carry in
/// L1 calldata or blobs.
pub const DEFAULT_MAX_TRACE_SIZE: usize = 16 * 1024 * 1024;

/// BLOCKHASH reaches 256 blocks back; more ancestors than that (plus the parent) are useless.
pub const MAX_ANCESTORS: usize = 257;

/// Which chain rules a trace is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceRules {
    /// An L2 batch (EIP-8079): no blob transactions, no withdrawals.
    L2,
    /// An L1 chain segment, as ethereum/tests run it: blob transactions and withdrawals allowed.
    L1,
}

/// A stateless verifier of traces for one chain.
#[derive(Clone, Debug)]
pub struct Verifier {
    chain: ChainConfig,
    rules: TraceRules,
    max_trace_size: usize,
}

/// What an accepted trace proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBatch {
    /// The sealed header of every block of the batch, oldest first.
    pub headers: Vec<Header>,
    /// The hash of the last sealed header (the batch's head): the L2 block hash a bridge binds
    /// beside the state root.
    pub head_hash: B256,
    /// Gas used by the whole batch.
    pub gas_used: u64,
    /// The state root after the batch.
    pub post_state_root: B256,
}

/// Why a trace does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTrace {
    /// The trace is larger than the verifier accepts.
    #[error("trace of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a trace.
    #[error(transparent)]
    Decode(#[from] TraceDecodeError),
    /// The trace is for another chain.
    #[error("trace is for chain {got}, this verifier checks chain {expected}")]
    ChainId {
        /// The verifier's chain.
        expected: u64,
        /// The trace's.
        got: u64,
    },
    /// The trace has no blocks.
    #[error("trace has no blocks")]
    NoBlocks,
    /// The trace has no parent header, or more ancestors than BLOCKHASH can reach.
    #[error("trace has {0} ancestor headers; it needs 1 to {MAX_ANCESTORS}")]
    AncestorCount(usize),
    /// An ancestor header is not the parent of the one before it.
    #[error("ancestor header {number} is not the parent of block {child}")]
    AncestorChain {
        /// The ancestor's number.
        number: u64,
        /// The number of the block it should be the parent of.
        child: u64,
    },
    /// The parent's state root is not the claimed pre-state root.
    #[error("pre-state root {claimed} is not the parent's state root {parent}")]
    PreStateRoot {
        /// Claimed.
        claimed: B256,
        /// In the parent header.
        parent: B256,
    },
    /// Witness nodes or codes are not sorted by hash without duplicates.
    #[error("witness {0} are not sorted by hash without duplicates")]
    WitnessOrder(&'static str),
    /// A block carries deposits, which this trace version does not define.
    #[error("block {0}: deposits are not supported by trace version 1")]
    Deposits(u64),
    /// An L2 block carries withdrawals.
    #[error("block {0}: an L2 block has no withdrawals")]
    Withdrawals(u64),
    /// A transaction does not decode, has no valid signature, or is a type the rules forbid.
    #[error("block {number}, transaction {index}: {reason}")]
    Transaction {
        /// Block number.
        number: u64,
        /// Index in the block.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A block does not execute (its inputs break the header rules, a transaction is invalid
    /// in the state, or the witness lacks something the block reads).
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    /// Applying a block's changes to the witness's trie failed (an incomplete witness).
    #[error("block {number}: state update failed: {error}")]
    StateUpdate {
        /// Block number.
        number: u64,
        /// The trie's error.
        error: TrieError,
    },
    /// The batch used more gas than claimed.
    #[error("the batch uses more gas than the claimed {claimed}")]
    GasExceeded {
        /// Claimed.
        claimed: u64,
    },
    /// The batch used another amount of gas than claimed.
    #[error("the batch used {used} gas, not the claimed {claimed}")]
    GasUsed {
        /// Claimed.
        claimed: u64,
        /// Used.
        used: u64,
    },
    /// The state root after the batch is not the claimed post-state root.
    #[error("post-state root {computed} is not the claimed {claimed}")]
    PostStateRoot {
        /// Claimed.
        claimed: B256,
        /// Computed.
        computed: B256,
    },
    /// EXECUTE's claimed gas does not fit 64 bits.
    #[error("the claimed gas does not fit 64 bits")]
    GasClaim,
    /// In blob mode, the blobs cannot be read or do not carry a trace.
    #[error("blobs: {0}")]
    Blobs(String),
    /// The trace disagrees with a binding of EXECUTE's bound form.
    #[error("the trace disagrees with the bound {0}")]
    Binding(BindingMismatch),
}

/// EXECUTE on an L2 trace of the chain `chain`: `Ok` exactly when `trace` takes the state from
/// `pre_state_root` to `post_state_root` using `gas_used` gas, with the hash of the batch's last
/// block as the verifier sealed it; otherwise why not. The precompile's `bool` is `.is_ok()`.
/// Pure: no database, no network, no global state.
pub fn execute(
    chain: &ChainConfig,
    pre_state_root: B256,
    post_state_root: B256,
    trace: &[u8],
    gas_used: u64,
) -> Result<B256, InvalidTrace> {
    Verifier::new(chain.clone(), TraceRules::L2)
        .verify(pre_state_root, post_state_root, trace, gas_used)
        .map(|batch| batch.head_hash)
}

impl Verifier {
    /// A verifier of `chain`'s traces under `rules`, accepting traces up to
    /// [`DEFAULT_MAX_TRACE_SIZE`].
    pub fn new(chain: ChainConfig, rules: TraceRules) -> Self {
        Self { chain, rules, max_trace_size: DEFAULT_MAX_TRACE_SIZE }
    }

    /// The same verifier with another size limit.
    pub fn with_max_trace_size(mut self, max_trace_size: usize) -> Self {
        self.max_trace_size = max_trace_size;
        self
    }

    /// The chain this verifier checks.
    pub fn chain(&self) -> &ChainConfig {
        &self.chain
    }

    /// Checks that `trace` takes the state from `pre_state_root` to `post_state_root` using
    /// `gas_used` gas.
    pub fn verify(
        &self,
        pre_state_root: B256,
        post_state_root: B256,
        trace: &[u8],
        gas_used: u64,
    ) -> Result<VerifiedBatch, InvalidTrace> {
        if trace.len() > self.max_trace_size {
            return Err(InvalidTrace::TooLarge { size: trace.len(), limit: self.max_trace_size });
        }
        let trace = Trace::decode(trace)?;
        self.verify_decoded(pre_state_root, post_state_root, &trace, gas_used)
    }

    /// [`Verifier::verify`], and the trace agrees with `bindings` (EXECUTE's bound form).
    pub fn verify_bound(
        &self,
        pre_state_root: B256,
        post_state_root: B256,
        trace: &Trace,
        gas_used: u64,
        bindings: &Bindings,
    ) -> Result<VerifiedBatch, InvalidTrace> {
        if trace.chain_id != bindings.chain_id {
            return Err(InvalidTrace::Binding(BindingMismatch::ChainId));
        }
        let batch = self.verify_decoded(pre_state_root, post_state_root, trace, gas_used)?;
        bindings.check(trace, &batch)?;
        Ok(batch)
    }

    /// [`Verifier::verify`] on a trace already decoded (the size limit is the caller's).
    pub fn verify_decoded(
        &self,
        pre_state_root: B256,
        post_state_root: B256,
        trace: &Trace,
        gas_used: u64,
    ) -> Result<VerifiedBatch, InvalidTrace> {
        let batch = self.reexecute(pre_state_root, trace, Some(gas_used))?;
        if batch.gas_used != gas_used {
            return Err(InvalidTrace::GasUsed { claimed: gas_used, used: batch.gas_used });
        }
        if batch.post_state_root != post_state_root {
            return Err(InvalidTrace::PostStateRoot {
                claimed: post_state_root,
                computed: batch.post_state_root,
            });
        }
        Ok(batch)
    }

    /// Re-executes a decoded trace on top of `pre_state_root` and returns what it led to.
    /// With `gas_limit`, stops as soon as the batch has used more gas than that.
    pub fn reexecute(
        &self,
        pre_state_root: B256,
        trace: &Trace,
        gas_limit: Option<u64>,
    ) -> Result<VerifiedBatch, InvalidTrace> {
        if trace.chain_id != self.chain.chain_id {
            return Err(InvalidTrace::ChainId { expected: self.chain.chain_id, got: trace.chain_id });
        }
        if trace.blocks.is_empty() {
            return Err(InvalidTrace::NoBlocks);
        }
        let block_hashes = ancestor_hashes(&trace.ancestors)?;
        let Some(parent) = trace.ancestors.first() else {
            return Err(InvalidTrace::AncestorCount(0));
        };
        if parent.state_root != pre_state_root {
            return Err(InvalidTrace::PreStateRoot { claimed: pre_state_root, parent: parent.state_root });
        }
        let nodes = WitnessNodes(by_hash(&trace.witness.nodes).ok_or(InvalidTrace::WitnessOrder("nodes"))?);
        let codes = by_hash(&trace.witness.codes).ok_or(InvalidTrace::WitnessOrder("codes"))?;
        let mut db = TrieDatabase { trie: StateTrie::new(&nodes, pre_state_root), codes, block_hashes };

        let mut parent = parent.clone();
        let mut head_hash = B256::ZERO;
        let mut headers = Vec::with_capacity(trace.blocks.len());
        let mut gas_used = 0u64;
        for block in &trace.blocks {
            let header = self.reexecute_block(&mut db, &parent, block, &mut gas_used, gas_limit)?;
            head_hash = header.hash_slow();
            db.block_hashes.insert(header.number, head_hash);
            headers.push(header.clone());
            parent = header;
        }
        // `blocks` is not empty, so `head_hash` is the last sealed header's.
        Ok(VerifiedBatch { post_state_root: parent.state_root, headers, head_hash, gas_used })
    }

    /// Re-executes one block on `db` and returns its sealed header.
    fn reexecute_block(
        &self,
        db: &mut TrieDatabase<&WitnessNodes>,
        parent: &Header,
        block: &TraceBlock,
        gas_used: &mut u64,
        gas_limit: Option<u64>,
    ) -> Result<Header, InvalidTrace> {
        let number = parent.number.saturating_add(1);
        if !block.deposits.is_empty() {
            return Err(InvalidTrace::Deposits(number));
        }
        if self.rules == TraceRules::L2 && !block.withdrawals.is_empty() {
            return Err(InvalidTrace::Withdrawals(number));
        }
        let inputs = block.inputs(number);
        let mut executor = BlockExecutor::new(&mut *db, &self.chain, parent, &inputs)?;
        for (index, raw) in block.transactions.iter().enumerate() {
            let invalid = |reason: String| InvalidTrace::Transaction { number, index, reason };
            let tx = TxEnvelope::decode_2718_exact(raw).map_err(|error| invalid(error.to_string()))?;
            if self.rules == TraceRules::L2 && tx.is_eip4844() {
                return Err(invalid("blob transactions are not allowed on the L2".into()));
            }
            let tx = tx.try_into_recovered().map_err(|error| invalid(error.to_string()))?;
            let outcome = executor.execute_transaction(&tx).map_err(|error| invalid(error.to_string()))?;
            *gas_used = gas_used.saturating_add(outcome.gas_used);
            if let Some(claimed) = gas_limit
                && *gas_used > claimed
            {
                return Err(InvalidTrace::GasExceeded { claimed });
            }
        }
        let executed = executor.finish()?;
        let state_root =
            db.trie.apply(&executed.changes).map_err(|error| InvalidTrace::StateUpdate { number, error })?;
        db.codes.extend(executed.changes.codes.iter().map(|(hash, code)| (*hash, code.clone())));
        let transactions_root = ordered_trie_root(&block.transactions);
        Ok(seal_header(&self.chain, parent, &inputs, &executed, transactions_root, state_root))
    }
}

/// The witness's nodes, keyed by the hashes the verifier computed: the trie need not hash them
/// again when it loads them.
#[derive(Debug)]
struct WitnessNodes(B256Map<Bytes>);

impl NodeStore for WitnessNodes {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self.0.get(hash).cloned())
    }

    fn content_addressed(&self) -> bool {
        true
    }
}

/// The hashes of the ancestor headers by number, after checking that each is the parent of the
/// one before it.
fn ancestor_hashes(ancestors: &[Header]) -> Result<BTreeMap<u64, B256>, InvalidTrace> {
    if ancestors.is_empty() || ancestors.len() > MAX_ANCESTORS {
        return Err(InvalidTrace::AncestorCount(ancestors.len()));
    }
    let mut hashes = BTreeMap::new();
    let mut child: Option<&Header> = None;
    for header in ancestors {
        let hash = header.hash_slow();
        if let Some(child) = child
            && (child.parent_hash != hash || child.number != header.number.saturating_add(1))
        {
            return Err(InvalidTrace::AncestorChain { number: header.number, child: child.number });
        }
        hashes.insert(header.number, hash);
        child = Some(header);
    }
    Ok(hashes)
}

/// The items keyed by their hash, or `None` when they are not strictly sorted by hash.
fn by_hash(items: &[Bytes]) -> Option<B256Map<Bytes>> {
    let mut map = B256Map::with_capacity_and_hasher(items.len(), Default::default());
    let mut previous: Option<B256> = None;
    for item in items {
        let hash = keccak256(item);
        if previous.is_some_and(|previous| previous >= hash) {
            return None;
        }
        previous = Some(hash);
        map.insert(hash, item.clone());
    }
    Some(map)
}
