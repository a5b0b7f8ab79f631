//! Everything pure of the native rollup: the block executor (L1 rules on revm), the
//! Merkle-Patricia trie, state changes and accesses, the trace format and the stateless EXECUTE
//! verifier. It depends on nothing of the daemon, so that an L1 node can embed it.
#![warn(missing_docs)]

pub mod blob;
pub mod blockchain_test;
pub mod chain;
pub mod error;
pub mod executor;
pub mod precompile;
pub mod precompile_overrides;
pub mod state;
pub mod state_trie;
pub mod trace;
pub mod trie;
pub mod trie_database;
pub mod verifier;

pub use chain::ChainConfig;
pub use error::{ExecutionError, TransactionError};
pub use executor::{
    BlockExecutor, BlockInputs, ExecutedBlock, Simulation, TRANSFER_LOG_ADDRESS, TxOutcome, seal_header,
};
pub use precompile_overrides::{OverriddenPrecompiles, PrecompileOverrides};
pub use state::{AccountChange, AccountState, StateAccess, StateChanges};
pub use state_trie::{AccountProof, StateTrie, StorageProof, TrieAccount, state_root_of};
pub use trace::{Trace, TraceBlock, Witness, WitnessBuilder};
pub use trie::{EMPTY_ROOT_HASH, NodeStore, RecordingStore, StoreError, Trie, TrieError, ordered_trie_root};
pub use verifier::{InvalidTrace, TraceRules, Verifier, execute};
