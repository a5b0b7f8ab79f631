//! The eth namespace's calls: a transaction request executed on revm over the state of a block
//! (read through the trie at the block's state root), with geth's state and block overrides,
//! never committed.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | `eth_call`, the `EthCallApi` trait, and the [`Simulator`] that runs a request's calls |
//! | `estimate.rs` | `eth_estimateGas`'s search |
//! | `access_list.rs` | `eth_createAccessList` (revm-inspectors' `AccessListInspector`) |
//! | `simulate.rs` | `eth_simulateV1`, blocks of calls through the block executor |
//! | `limits.rs` | the gas cap, and the [`Budget`] that stops a run at its deadline or the node's stop |
//! | `state.rs` | [`CallState`], the block's state as the store serves it, and its typed error |
//! | `overrides.rs` | which state overrides the node refuses, and the precompiles they move |
//! | `request.rs` | a transaction request as revm's transaction |
//! | `blobs.rs` | [`HeldBlobs`], the blobs EXECUTE's blob mode reads in calls on the dev L1 |
//!
//! Every call runs in the block's environment as trace-builder's [`EvmEnv`] builds it (the block
//! executor's own), with alloy-evm's block and state overrides on top.
//!
//! On the dev L1 a request that names `blobVersionedHashes` runs as a blob transaction: BLOBHASH
//! reads them, and EXECUTE's blob mode reads the blobs they name that the node holds, pooled or
//! stored, so that a client can check a batch it posted in blobs with one `eth_call`.
//!
//! A wallet's call (a balance, an allowance, a quote) reads a few hot accounts and runs a few
//! hundred instructions, and its estimate is a few such runs. `eth_call` and `eth_estimateGas`
//! first run on the RPC's own thread from what is in memory (cached trie nodes and codes), for
//! at most [`IN_MEMORY_TIME`]; one that needs the database or more time starts again on a
//! blocking thread. Handing every call to a blocking thread costs two thread wake-ups, more
//! than the call itself, and under a flood of heavy calls it would queue a wallet's estimate
//! behind them.
//!
//! On blocking threads, a request's runs (one for `eth_call`, a search's worth for
//! `eth_estimateGas`) stop together after the call timeout (`rpc.call_timeout_ms`, 5 s by
//! default), and at most half the cores run them at once (see [`Executions`]); they stop too
//! when the node stops.

mod access_list;
mod blobs;
mod estimate;
mod limits;
mod overrides;
mod request;
mod simulate;
mod state;

pub use limits::RPC_GAS_CAP;
pub use overrides::PrecompileMoveError;
pub(in crate::rpc) use request::{refuse_blobs, request_input};
pub use simulate::EthSimulateApiServer;
pub use state::CallStateError;

use super::{
    error::{RpcError, precheck_message},
    eth::EthRpc,
    executions::{Executions, client_of},
};
use alloy_eips::{BlockId, eip2930::AccessListResult};
use alloy_evm::overrides::{StateOverrideError, apply_block_overrides, apply_state_overrides};
use alloy_primitives::{Bytes, U64};
use alloy_rpc_types_eth::{BlockOverrides, TransactionRequest, state::StateOverride};
use blobs::HeldBlobs;
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use limits::{Budget, IN_MEMORY_TIME, IN_MEMORY_TIME_SATURATED};
use overrides::{check_overrides, precompile_overrides};
use request::{tx_env, unpriced_blobs};
use revm::{
    InspectEvm, Inspector,
    context::result::{EVMError, ExecutionResult},
    database::State,
    handler::MainnetContext,
    inspector::NoOpInspector,
};
use state::{CallDb, CallState};
use std::{
    sync::{Arc, atomic::Ordering},
    time::Instant,
};
use trace_builder::{EvmEnv, PrecompileOverrides, precompile::BlobSource};

/// Calls that simulate transactions.
#[rpc(server, namespace = "eth")]
pub trait EthCallApi {
    /// Executes a call on the state of a block and returns its output; nothing is committed.
    #[method(name = "call", with_extensions)]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> Result<Bytes, RpcError>;

    /// The least gas with which the transaction succeeds (binary search).
    #[method(name = "estimateGas", with_extensions)]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> Result<U64, RpcError>;

    /// The EIP-2930 access list the transaction would use, and its gas with that list.
    #[method(name = "createAccessList", with_extensions)]
    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> Result<AccessListResult, RpcError>;
}

#[async_trait]
impl EthCallApiServer for EthRpc {
    async fn call(
        &self,
        ext: &jsonrpsee::Extensions,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> Result<Bytes, RpcError> {
        let mut simulator = self.simulator(block, state_overrides, block_overrides).await?;
        let gas = request.gas.unwrap_or(RPC_GAS_CAP).min(RPC_GAS_CAP);
        if let Some(result) = simulator.in_memory(|simulator| simulator.run(&request, gas, RPC_GAS_CAP)) {
            return call_output(result?);
        }
        self.executions
            .run(client_of(ext), move || {
                call_output(simulator.reading_database()?.run(&request, gas, RPC_GAS_CAP)?)
            })
            .await
    }

    async fn estimate_gas(
        &self,
        ext: &jsonrpsee::Extensions,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> Result<U64, RpcError> {
        let mut simulator = self.simulator(block, state_overrides, block_overrides).await?;
        // A wallet's estimate (a transfer, a token transfer) is a few short runs: from memory.
        if let Some(estimate) = simulator.in_memory(|simulator| simulator.estimate(&request)) {
            return estimate.map(U64::from);
        }
        self.executions
            .run(client_of(ext), move || simulator.reading_database()?.estimate(&request).map(U64::from))
            .await
    }

    async fn create_access_list(
        &self,
        ext: &jsonrpsee::Extensions,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> Result<AccessListResult, RpcError> {
        let simulator = self.simulator(block, state_overrides, None).await?;
        self.executions.run(client_of(ext), move || simulator.reading_database()?.access_list(request)).await
    }
}

impl EthRpc {
    /// A simulator for one request's calls on `block`'s state, with its overrides, starting out
    /// in memory.
    async fn simulator(
        &self,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> Result<Simulator, RpcError> {
        let block = self.resolve_required(block).await?;
        let overrides = state_overrides.unwrap_or_default();
        check_overrides(&overrides)?;
        let precompiles =
            precompile_overrides(&overrides, self.chain.spec).map_err(RpcError::InvalidOverride)?;
        // The in-memory try stops at costly precompile calls by their addresses; with precompiles
        // moved it could not tell them, so such requests run on a blocking thread.
        let precompiles_moved = !precompiles.is_empty();
        let in_memory_time =
            if self.executions.saturated() { IN_MEMORY_TIME_SATURATED } else { IN_MEMORY_TIME };
        let mut state = State::builder().with_database(CallState::new(self, &block)).build();
        // The block's own environment, as its transactions ran in it, with the overrides on top
        // (overridden block hashes go to the state, for BLOCKHASH).
        let mut env = EvmEnv::new(&self.chain, &block.header);
        if let Some(overrides) = block_overrides {
            apply_block_overrides(*overrides, &mut state, &mut env.block);
        }
        // As geth, reth and Anvil: a call or an estimate for a transaction the wallet queues
        // behind others (a higher nonce) or replaces (a lower one) runs on the current state,
        // may come from a contract, and may ask for more gas than the block has.
        env.cfg.disable_nonce_check = true;
        env.cfg.disable_eip3607 = true;
        env.cfg.disable_block_gas_limit = true;
        let blobs = self.chain.blob_transactions.then(|| {
            Arc::new(HeldBlobs::new(
                self.mempool.clone(),
                self.store.clone(),
                tokio::runtime::Handle::current(),
            ))
        });
        let mut simulator = Simulator {
            env,
            precompiles,
            blobs,
            state,
            overrides: (!overrides.is_empty()).then_some(overrides),
            mode: Mode::InMemory { until: Instant::now() + in_memory_time, fell_short: precompiles_moved },
            executions: self.executions.clone(),
        };
        simulator.apply_overrides()?;
        Ok(simulator)
    }
}

/// Runs a request's calls on one block's state; owns the state so that runs share its caches.
struct Simulator {
    /// The block's environment with the request's block overrides, checks relaxed as for calls.
    env: EvmEnv,
    /// Precompiles the state overrides moved or replaced.
    precompiles: PrecompileOverrides,
    /// The blobs the node holds, on a chain that takes blob transactions (the dev L1): requests
    /// that name versioned hashes run as blob transactions there, and EXECUTE reads them.
    blobs: Option<Arc<HeldBlobs>>,
    state: CallDb,
    /// The request's state overrides while not yet applied to `state` (memory fell short).
    overrides: Option<StateOverride>,
    mode: Mode,
    /// Runs on a blocking thread stop too when the node stops.
    executions: Executions,
}

/// Where a simulator's runs execute, and until when, all together.
enum Mode {
    /// On the RPC's own thread, from memory; once a run needs the database or more time, it
    /// fell short and every later run fails at once.
    InMemory { until: Instant, fell_short: bool },
    /// On a blocking thread, reading the database; `stopped` once a run was stopped (the time
    /// was up, or the node stops).
    Blocking { until: Instant, stopped: bool },
}

impl Simulator {
    /// What `work` answers from memory, within [`IN_MEMORY_TIME`] ([`IN_MEMORY_TIME_SATURATED`]
    /// while calls wait to execute) from the simulator's creation; `None` when it needs more,
    /// and it is to start again [`Simulator::reading_database`].
    fn in_memory<T>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, RpcError>,
    ) -> Option<Result<T, RpcError>> {
        let answer = work(self);
        (!self.fell_short()).then_some(answer)
    }

    fn fell_short(&self) -> bool {
        matches!(self.mode, Mode::InMemory { fell_short: true, .. })
    }

    /// This simulator reading the database for what is not in memory: only for a blocking
    /// thread. What it read from memory stays; its runs have the call timeout from now,
    /// together.
    fn reading_database(mut self) -> Result<Self, RpcError> {
        self.state.database.read_database();
        self.mode = Mode::Blocking { until: Instant::now() + self.executions.timeout(), stopped: false };
        self.apply_overrides()?;
        Ok(self)
    }

    /// Applies the request's state overrides to the state, by alloy-evm's rules (reth's): the
    /// fields an override sets on the account as it stands, its storage replaced (`state`) or
    /// patched (`stateDiff`). When memory falls short they stay pending, for
    /// [`Simulator::reading_database`]; applying them again over a partial first try gives the
    /// same state.
    fn apply_overrides(&mut self) -> Result<(), RpcError> {
        let Some(overrides) = self.overrides.take() else { return Ok(()) };
        match apply_state_overrides(overrides.clone(), &mut self.state) {
            Ok(()) => Ok(()),
            Err(StateOverrideError::InvalidBytecode(error)) => Err(RpcError::InvalidCodeOverride(error)),
            Err(error @ StateOverrideError::BothStateAndStateDiff(_)) => {
                Err(RpcError::InvalidParams(error.to_string()))
            }
            Err(StateOverrideError::Database(error)) => {
                self.overrides = Some(overrides);
                match self.read_failure(error) {
                    RpcError::FellShort => Ok(()),
                    error => Err(error),
                }
            }
        }
    }

    /// Runs `request` with `gas` gas, under a per-transaction cap of `gas_cap`, within the
    /// mode's time.
    fn run(
        &mut self,
        request: &TransactionRequest,
        gas: u64,
        gas_cap: u64,
    ) -> Result<ExecutionResult, RpcError> {
        self.run_inspected(request, gas, gas_cap, &mut NoOpInspector)
    }

    /// [`Simulator::run`] with `inspector` looking on.
    fn run_inspected<I>(
        &mut self,
        request: &TransactionRequest,
        gas: u64,
        gas_cap: u64,
        inspector: &mut I,
    ) -> Result<ExecutionResult, RpcError>
    where
        I: for<'a> Inspector<MainnetContext<&'a mut CallDb>>,
    {
        let mut budget = match self.mode {
            Mode::InMemory { fell_short: true, .. } => return Err(RpcError::FellShort),
            Mode::InMemory { until, .. } => Budget::new(until)
                .in_memory(self.env.precompiles(), self.env.execute.map(|execute| execute.address)),
            Mode::Blocking { until, .. } => Budget::new(until).stopped_by(self.executions.clone()),
        };
        let result = self.execute(request, gas, gas_cap, &mut budget, inspector);
        let state = &self.state.database;
        match &mut self.mode {
            Mode::InMemory { fell_short, .. } if budget.exhausted || state.missed => {
                *fell_short = true;
                Err(RpcError::FellShort)
            }
            Mode::Blocking { stopped, .. } if budget.exhausted && self.executions.stopping() => {
                *stopped = true;
                Err(RpcError::ExecutionAborted)
            }
            Mode::Blocking { stopped, .. } if budget.exhausted || state.timed_out.load(Ordering::Relaxed) => {
                *stopped = true;
                Err(RpcError::ExecutionTimeout(self.executions.timeout()))
            }
            _ => result,
        }
    }

    /// The error of a state read outside a run: memory fell short (the request starts again
    /// on a blocking thread), the time is up, or the store failed.
    fn read_failure(&mut self, error: impl Into<RpcError>) -> RpcError {
        if self.state.database.missed {
            if let Mode::InMemory { fell_short, .. } = &mut self.mode {
                *fell_short = true;
            }
            return RpcError::FellShort;
        }
        if self.state.database.timed_out.load(Ordering::Relaxed) {
            return RpcError::ExecutionTimeout(self.executions.timeout());
        }
        error.into()
    }

    /// [`Simulator::run_inspected`] within `budget`.
    fn execute<I>(
        &mut self,
        request: &TransactionRequest,
        gas: u64,
        gas_cap: u64,
        budget: &mut Budget,
        inspector: &mut I,
    ) -> Result<ExecutionResult, RpcError>
    where
        I: for<'a> Inspector<MainnetContext<&'a mut CallDb>>,
    {
        let mut env = self.env.clone();
        env.cfg.tx_gas_limit_cap = Some(gas_cap);
        // An unpriced call runs whatever the base fee, as in geth.
        env.cfg.disable_base_fee = request.gas_price.is_none() && request.max_fee_per_gas.is_none();
        let base_fee = env.block.basefee;
        let tx = tx_env(request, gas, env.cfg.chain_id, self.blobs.is_some())?;
        if unpriced_blobs(&tx)
            && let Some(blob_fee) = &mut env.block.blob_excess_gas_and_price
        {
            blob_fee.blob_gasprice = 0;
        }
        // EXECUTE reads the store for its blobs: only on a blocking thread, where it runs.
        let blobs = match self.mode {
            Mode::Blocking { .. } => self.blobs.clone().map(|blobs| blobs as Arc<dyn BlobSource>),
            Mode::InMemory { .. } => None,
        };
        let outcome = env
            .into_evm_with_blobs(&mut self.state, (budget, inspector), self.precompiles.clone(), blobs)
            .inspect_tx(tx);
        if let Some(error) = self.blobs.as_ref().and_then(|blobs| blobs.take_failure()) {
            return Err(error.into());
        }
        let state = &self.state.database;
        match outcome {
            Ok(outcome) => Ok(outcome.result),
            Err(EVMError::Transaction(reason)) => Err(RpcError::Rejected {
                message: precheck_message(&reason, request, base_fee),
                reason: Box::new(reason),
            }),
            Err(EVMError::Header(reason)) => Err(RpcError::InvalidBlock(reason)),
            // A read memory could not serve: the run starts again on a blocking thread and this
            // outcome is discarded, so there is nothing to report.
            Err(_) if state.missed => Err(RpcError::FellShort),
            Err(_) if state.timed_out.load(Ordering::Relaxed) => {
                Err(RpcError::ExecutionTimeout(self.executions.timeout()))
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// What `eth_call` answers for a run: its output, or its failure.
fn call_output(result: ExecutionResult) -> Result<Bytes, RpcError> {
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        other => Err(failure(other)),
    }
}

/// The error of a call that did not succeed: its revert data, or why it halted.
fn failure(result: ExecutionResult) -> RpcError {
    match result {
        ExecutionResult::Revert { output, .. } => RpcError::Reverted(output),
        ExecutionResult::Halt { reason, .. } => RpcError::Halted(reason),
        ExecutionResult::Success { .. } => RpcError::Succeeded,
    }
}
