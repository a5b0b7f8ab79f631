//! Everything pure of the native rollup: the block executor (L1 rules on revm), the
//! Merkle-Patricia trie, state changes and accesses, the trace format and the stateless EXECUTE
//! verifier. It depends on nothing of the daemon, so that an L1 node can embed it.
//!
//! With `default-features = false` the library is only that: its dependencies are the executor's
//! (revm, alloy's consensus types), the trie's and the codecs' (RLP, zstd). Features:
//! - `cli` (default): the `trace-builder` command and its ethereum/tests harness, with clap and
//!   serde; it turns on `test-utils`.
//! - `test-utils`: the `memory_state` module, an in-memory state for tests, benches and the harness.
#![warn(missing_docs)]

pub mod bindings;
pub mod blob;
pub mod chain;
pub mod error;
pub mod executor;
#[cfg(any(test, feature = "test-utils"))]
pub mod memory_state;
pub mod precompile;
pub mod precompile_overrides;
pub mod state;
pub mod state_trie;
pub mod trace;
pub mod trie;
pub mod trie_database;
pub mod verifier;

pub use bindings::{Bindings, L1Anchor};
pub use chain::ChainConfig;
pub use error::{ExecutionError, TransactionError};
pub use executor::{
    BlockExecutor, BlockInputs, EvmEnv, ExecutedBlock, Simulation, TRANSFER_LOG_ADDRESS, TxOutcome,
    seal_header,
};
pub use precompile_overrides::{OverriddenPrecompiles, PrecompileOverrides};
pub use state::{AccountChange, AccountState, StateAccess, StateChanges};
pub use state_trie::{AccountProof, StateTrie, StorageProof, TrieAccount, state_root_of};
pub use trace::{Trace, TraceBlock, Witness, WitnessBuilder};
pub use trie::{EMPTY_ROOT_HASH, NodeStore, RecordingStore, StoreError, Trie, TrieError, ordered_trie_root};
pub use verifier::{InvalidTrace, TraceRules, Verifier, execute};
