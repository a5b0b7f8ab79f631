//! `eth_call`, `eth_estimateGas` and `eth_createAccessList`: a transaction request executed on
//! revm over the state of a block (read through the trie at the block's state root), with
//! geth's state and block overrides, never committed.
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

use super::{
    codes::Codes,
    error::RpcError,
    eth::{EthRpc, HeadAccounts, HeadChanges, ResolvedBlock},
    executions::{Executions, client_of},
};
use crate::store::{DbNodeStore, Store};
use alloy_consensus::Header;
use alloy_eips::{
    BlockId,
    eip2930::{AccessList, AccessListItem, AccessListResult},
};
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, TxKind, U64, U256, keccak256, map::B256Map};
use alloy_rpc_types_eth::{BlockOverrides, TransactionRequest, state::StateOverride};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use revm::{
    Context,
    Database,
    InspectEvm,
    Inspector,
    MainBuilder,
    MainContext,
    bytecode::Bytecode,
    context::{
        BlockEnv, CfgEnv, TxEnv,
        either::Either,
        result::{ExecutionResult, HaltReason, InvalidTransaction},
    },
    context_interface::block::BlobExcessGasAndPrice,
    database_interface::DBErrorMarker,
    interpreter::{CallInputs, CallOutcome, InstructionResult, Interpreter, InterpreterTypes},
    precompile::{PrecompileSpecId, Precompiles},
    // EIP-7825: the most gas one transaction may use from Osaka on; estimates stay below it.
    primitives::eip7825::TX_GAS_LIMIT_CAP,
    state::AccountInfo,
};
use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use trace_builder::{ChainConfig, OverriddenPrecompiles, PrecompileOverrides, StateTrie};

/// The most gas one `eth_call` may use (geth's default RPC gas cap).
pub const RPC_GAS_CAP: u64 = 50_000_000;
/// The gas of a plain transfer.
const TRANSFER_GAS: u64 = 21_000;
/// How long an `eth_call` may run on the RPC's own thread before it starts again on a blocking
/// thread.
const IN_MEMORY_TIME: Duration = Duration::from_millis(2);
/// The same while calls wait for the blocking threads: a flood of heavy calls then costs the
/// RPC's threads little each, so that the tasks queued behind them (other clients' requests, the
/// database pool's own) are not held up for seconds. A wallet's read still fits.
const IN_MEMORY_TIME_SATURATED: Duration = Duration::from_micros(100);
/// A read of a call's state that failed: its time (`timeout`) was up (`timed_out`, see
/// [`CallState::timed_out`]), or the store failed.
pub(super) fn state_failure(
    timed_out: &AtomicBool,
    timeout: Duration,
    error: impl Into<RpcError>,
) -> RpcError {
    if timed_out.load(Ordering::Relaxed) { RpcError::ExecutionTimeout(timeout) } else { error.into() }
}

/// Instructions between two looks at the clock while a call runs.
const CLOCK_EVERY_STEPS: u32 = 64;
/// Gas between two looks at the clock, whatever the instructions: one instruction can take long
/// (`KECCAK256` over 256 KiB of memory costs 49k gas and half a millisecond), and gas is what
/// roughly follows time. At most about 100 µs pass between two looks.
const CLOCK_EVERY_GAS: u64 = 10_000;
/// Most gas a precompile call may be given on the RPC's own thread: one instruction that runs a
/// precompile can take milliseconds (a pairing check with many pairs), so a call that gives one
/// more starts again on a blocking thread.
const IN_MEMORY_PRECOMPILE_GAS: u64 = 200_000;

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
        if let Some(outcome) = simulator.in_memory(|simulator| simulator.run(&request, gas, RPC_GAS_CAP)) {
            return call_output(outcome?);
        }
        self.executions
            .run(client_of(ext), move || {
                call_output(simulator.reading_database().run(&request, gas, RPC_GAS_CAP)?)
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
            .run(client_of(ext), move || simulator.reading_database().estimate(&request).map(U64::from))
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
        self.executions.run(client_of(ext), move || simulator.reading_database().access_list(request)).await
    }
}

impl EthRpc {
    async fn simulator(
        &self,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> Result<Simulator, RpcError> {
        let block = self.resolve_required(block).await?;
        let overrides = state_overrides.unwrap_or_default();
        check_overrides(&overrides)?;
        let chain = self.chain.clone();
        let precompiles = precompile_overrides(&overrides, chain.spec).map_err(RpcError::InvalidOverride)?;
        // The in-memory try stops at costly precompile calls by their addresses; with precompiles
        // moved it could not tell them, so such requests run on a blocking thread.
        let precompiles_moved = !precompiles.is_empty();
        let in_memory_time =
            if self.executions.saturated() { IN_MEMORY_TIME_SATURATED } else { IN_MEMORY_TIME };
        Ok(Simulator {
            chain,
            precompiles,
            block: block_env(&block.header, block_overrides.as_deref()),
            state: CallState::new(self, &block, overrides),
            mode: Mode::InMemory { until: Instant::now() + in_memory_time, fell_short: precompiles_moved },
            executions: self.executions.clone(),
        })
    }
}

/// Runs requests on one block's state; owns the state so that runs share its caches.
struct Simulator {
    chain: Arc<ChainConfig>,
    /// Precompiles the state overrides moved or replaced.
    precompiles: PrecompileOverrides,
    block: BlockEnv,
    state: CallState,
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

/// One simulated run.
struct Outcome {
    result: ExecutionResult,
    /// Addresses and slots the run touched.
    touched: Vec<(Address, BTreeSet<B256>)>,
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
    /// thread. Its runs have the call timeout from now, together.
    fn reading_database(self) -> Self {
        Self {
            state: self.state.reading_database(),
            mode: Mode::Blocking { until: Instant::now() + self.executions.timeout(), stopped: false },
            ..self
        }
    }

    /// Runs `request` with `gas` gas, under a per-transaction cap of `gas_cap`, within the
    /// mode's time.
    fn run(&mut self, request: &TransactionRequest, gas: u64, gas_cap: u64) -> Result<Outcome, RpcError> {
        let mut budget = match self.mode {
            Mode::InMemory { fell_short: true, .. } => return Err(RpcError::FellShort),
            Mode::InMemory { until, .. } => Budget::new(until)
                .in_memory(Precompiles::new(PrecompileSpecId::from_spec_id(self.chain.spec))),
            Mode::Blocking { until, .. } => Budget::new(until).stopped_by(self.executions.clone()),
        };
        let outcome = self.execute(request, gas, gas_cap, &mut budget);
        match &mut self.mode {
            Mode::InMemory { fell_short, .. } if budget.exhausted || self.state.missed => {
                *fell_short = true;
                Err(RpcError::FellShort)
            }
            Mode::Blocking { stopped, .. } if budget.exhausted && self.executions.stopping() => {
                *stopped = true;
                Err(RpcError::ExecutionAborted)
            }
            Mode::Blocking { stopped, .. }
                if budget.exhausted || self.state.timed_out.load(Ordering::Relaxed) =>
            {
                *stopped = true;
                Err(RpcError::ExecutionTimeout(self.executions.timeout()))
            }
            _ => outcome,
        }
    }

    /// Whether `request` sends no data to an account without code.
    fn is_plain_transfer(&mut self, request: &TransactionRequest) -> Result<bool, RpcError> {
        let Some(TxKind::Call(to)) = request.to else { return Ok(false) };
        if !request_input(request)?.is_empty() {
            return Ok(false);
        }
        match self.state.basic(to) {
            Ok(account) => Ok(account.is_none_or(|account| account.code_hash == KECCAK256_EMPTY)),
            Err(error) => Err(self.read_failure(error)),
        }
    }

    /// The balance of `address`, for the estimate's checks.
    fn balance(&mut self, address: Address) -> Result<U256, RpcError> {
        match self.state.basic(address) {
            Ok(account) => Ok(account.map(|account| account.balance).unwrap_or_default()),
            Err(error) => Err(self.read_failure(error)),
        }
    }

    /// The error of a state read outside a run: memory fell short (the request starts again
    /// on a blocking thread), the time is up, or the store failed.
    fn read_failure(&mut self, error: CallStateError) -> RpcError {
        if self.state.missed {
            if let Mode::InMemory { fell_short, .. } = &mut self.mode {
                *fell_short = true;
            }
            return RpcError::FellShort;
        }
        state_failure(&self.state.timed_out, self.executions.timeout(), error)
    }

    /// [`Simulator::run`] within `budget`.
    fn execute(
        &mut self,
        request: &TransactionRequest,
        gas: u64,
        gas_cap: u64,
        budget: &mut Budget,
    ) -> Result<Outcome, RpcError> {
        let priced = request.gas_price.is_some() || request.max_fee_per_gas.is_some();
        let mut cfg = CfgEnv::new_with_spec(self.chain.spec);
        cfg.chain_id = self.chain.chain_id;
        cfg.tx_gas_limit_cap = Some(gas_cap);
        // As geth, reth and Anvil: a call or an estimate for a transaction the wallet queues
        // behind others (a higher nonce) or replaces (a lower one) runs on the current state.
        cfg.disable_nonce_check = true;
        cfg.disable_eip3607 = true;
        cfg.disable_block_gas_limit = true;
        cfg.disable_base_fee = !priced;
        let tx = tx_env(request, gas, self.chain.chain_id)?;
        let context =
            Context::mainnet().with_block(self.block.clone()).with_cfg(cfg).with_db(&mut self.state);
        let precompiles = OverriddenPrecompiles::new(self.chain.spec, self.precompiles.clone());
        let outcome =
            context.build_mainnet_with_inspector(budget).with_precompiles(precompiles).inspect_tx(tx);
        let outcome = outcome.map_err(|error| match error {
            revm::context::result::EVMError::Transaction(reason) => RpcError::Rejected {
                message: precheck_message(&reason, request, self.block.basefee),
                reason: Box::new(reason),
            },
            revm::context::result::EVMError::Header(reason) => RpcError::InvalidBlock(reason),
            // A read memory could not serve: the run starts again on a blocking thread and this
            // outcome is discarded, so there is nothing to report.
            _ if self.state.missed => RpcError::FellShort,
            _ if self.state.timed_out.load(Ordering::Relaxed) => {
                RpcError::ExecutionTimeout(self.executions.timeout())
            }
            other => other.into(),
        })?;
        let touched = outcome
            .state
            .iter()
            .map(|(address, account)| {
                (*address, account.storage.keys().map(|slot| B256::from(slot.to_be_bytes())).collect())
            })
            .collect();
        Ok(Outcome { result: outcome.result, touched })
    }

    /// The least gas limit with which `request` succeeds; a request that fails even with the
    /// most gas allowed returns its failure (revert data included).
    fn estimate(&mut self, request: &TransactionRequest) -> Result<u64, RpcError> {
        let cap = self.block.gas_limit.min(TX_GAS_LIMIT_CAP);
        let mut hi = request.gas.unwrap_or(cap).min(cap);
        // A priced request cannot use more gas than its sender can pay for.
        let fee = request.max_fee_per_gas.or(request.gas_price).unwrap_or_default();
        if fee > 0 {
            let balance = self.balance(request.from.unwrap_or_default())?;
            let spendable = balance.saturating_sub(request.value.unwrap_or_default());
            let affordable = spendable / U256::from(fee);
            hi = hi.min(u64::try_from(affordable).unwrap_or(u64::MAX));
        }
        let value = request.value.unwrap_or_default();
        if value > U256::ZERO {
            let balance = self.balance(request.from.unwrap_or_default())?;
            if value > balance {
                return Err(RpcError::InsufficientFundsForTransfer);
            }
        }
        // A plain transfer to an account without code needs 21,000 if it succeeds with that:
        // one run instead of a search (as geth; the run, not the shape, decides, since an
        // access list or an authorization costs more).
        if self.is_plain_transfer(request)?
            && hi >= TRANSFER_GAS
            && self.succeeds(request, TRANSFER_GAS, cap)?
        {
            return Ok(TRANSFER_GAS);
        }
        let first = self.run(request, hi, cap).map_err(|error| match error {
            RpcError::Rejected { reason, .. }
                if matches!(*reason, InvalidTransaction::CallGasCostMoreThanGasLimit { .. }) =>
            {
                RpcError::GasRequiredExceedsAllowance(hi)
            }
            error => error,
        })?;
        let used = match first.result {
            // Before refunds: the limit must cover what execution spent, refunds come after.
            ExecutionResult::Success { gas, .. } => gas.total_gas_spent(),
            ExecutionResult::Halt { reason, .. } if is_out_of_gas(&reason) => {
                return Err(RpcError::GasRequiredExceedsAllowance(hi));
            }
            other => return Err(failure(other)),
        };
        // Refunds and the 63/64 rule make the least limit larger than the gas used; start the
        // search just above what was used, and try a close guess first.
        let mut lo = used.saturating_sub(1);
        let guess = (used.saturating_add(2_300)).saturating_mul(64) / 63;
        if guess < hi && self.succeeds(request, guess, cap)? {
            hi = guess;
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if self.succeeds(request, mid, cap)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    fn succeeds(&mut self, request: &TransactionRequest, gas: u64, cap: u64) -> Result<bool, RpcError> {
        match self.run(request, gas, cap) {
            Ok(outcome) => Ok(outcome.result.is_success()),
            // Too little gas to cover the intrinsic cost (a refusal of the transaction) is a
            // failure, not an error; a run that was stopped (its time is up, the node stops)
            // says nothing about the gas, and the search ends with its error rather than with
            // its upper bound.
            Err(RpcError::Rejected { .. } | RpcError::InvalidBlock(_)) if !self.stopped() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Whether a run was stopped: memory fell short, the time was up, or the node stops.
    fn stopped(&self) -> bool {
        match self.mode {
            Mode::InMemory { fell_short, .. } => fell_short,
            Mode::Blocking { stopped, .. } => stopped,
        }
    }

    /// Runs `request` until the set of accounts and slots it touches stops changing, as geth
    /// does, and returns that set without the sender, the recipient and the precompiles.
    fn access_list(mut self, mut request: TransactionRequest) -> Result<AccessListResult, RpcError> {
        let gas = request.gas.unwrap_or(self.block.gas_limit.min(TX_GAS_LIMIT_CAP)).min(RPC_GAS_CAP);
        let from = request.from.unwrap_or_default();
        let to = match request.to {
            Some(TxKind::Call(to)) => to,
            _ => from.create(request.nonce.unwrap_or_else(|| {
                self.state.basic(from).ok().flatten().map(|account| account.nonce).unwrap_or_default()
            })),
        };
        let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(self.chain.spec));
        let mut list = request.access_list.clone().unwrap_or_default();
        for _ in 0..8 {
            request.access_list = Some(list.clone());
            let outcome = self.run(&request, gas, gas.max(TX_GAS_LIMIT_CAP))?;
            let next = AccessList(
                outcome
                    .touched
                    .iter()
                    // As geth's tracer: the sender, the recipient, the precompiles and the
                    // coinbase are warm anyway, so they are listed only for their slots.
                    .filter(|(address, slots)| {
                        let warm = *address == from
                            || *address == to
                            || precompiles.contains(address)
                            || *address == self.block.beneficiary;
                        !(warm && slots.is_empty())
                    })
                    .map(|(address, slots)| AccessListItem {
                        address: *address,
                        storage_keys: slots.iter().copied().collect(),
                    })
                    .collect(),
            );
            let mut next = next;
            next.0.sort_by_key(|item| item.address);
            if next == list {
                let error =
                    (!outcome.result.is_success()).then(|| failure(outcome.result.clone()).to_string());
                return Ok(AccessListResult {
                    access_list: list,
                    gas_used: U256::from(outcome.result.tx_gas_used()),
                    error,
                });
            }
            list = next;
        }
        Err(RpcError::AccessListUnsettled)
    }
}

/// Stops a run past its deadline, when the node stops, and, on the RPC's own thread, at a
/// precompile call given more than [`IN_MEMORY_PRECOMPILE_GAS`]. Once stopped, every
/// instruction and call fails at once, so the run unwinds quickly; its outcome is discarded.
#[derive(Debug)]
struct Budget {
    deadline: Instant,
    steps: u32,
    /// The running frame's gas left at the last look at the clock (or the first step).
    gas_at_look: Option<u64>,
    /// On the RPC's own thread: the precompiles whose costly calls stop the run.
    precompiles: Option<&'static Precompiles>,
    /// On a blocking thread: the executions whose stop stops the run.
    executions: Option<Executions>,
    exhausted: bool,
}

impl Budget {
    fn new(deadline: Instant) -> Self {
        Self { deadline, steps: 0, gas_at_look: None, precompiles: None, executions: None, exhausted: false }
    }

    /// This budget for a run on the RPC's own thread.
    fn in_memory(self, precompiles: &'static Precompiles) -> Self {
        Self { precompiles: Some(precompiles), ..self }
    }

    /// This budget, ending too when `executions` stop.
    fn stopped_by(self, executions: Executions) -> Self {
        Self { executions: Some(executions), ..self }
    }

    /// Looks at the clock and the node's stop every [`CLOCK_EVERY_STEPS`] instructions or
    /// [`CLOCK_EVERY_GAS`] gas, whichever comes first; `gas_left` is the running frame's. (A
    /// frame that starts or returns changes the gas left too, and costs one more look.)
    fn tick(&mut self, gas_left: u64) {
        self.steps = self.steps.wrapping_add(1);
        let gas_at_look = *self.gas_at_look.get_or_insert(gas_left);
        if !self.steps.is_multiple_of(CLOCK_EVERY_STEPS) && gas_at_look.abs_diff(gas_left) < CLOCK_EVERY_GAS {
            return;
        }
        self.gas_at_look = Some(gas_left);
        if Instant::now() >= self.deadline || self.executions.as_ref().is_some_and(Executions::stopping) {
            self.exhausted = true;
        }
    }
}

impl<CTX, INTR: InterpreterTypes> Inspector<CTX, INTR> for Budget {
    fn step(&mut self, interp: &mut Interpreter<INTR>, _context: &mut CTX) {
        self.tick(interp.gas.remaining());
        if self.exhausted {
            interp.halt(InstructionResult::OutOfGas);
        }
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        if inputs.gas_limit > IN_MEMORY_PRECOMPILE_GAS
            && self.precompiles.is_some_and(|precompiles| precompiles.contains(&inputs.bytecode_address))
        {
            self.exhausted = true;
        }
        self.exhausted.then(|| CallOutcome::new_oog(inputs.gas_limit, inputs.return_memory_offset.clone(), 0))
    }
}

/// What `eth_call` answers for a run: its output, or its failure.
fn call_output(outcome: Outcome) -> Result<Bytes, RpcError> {
    match outcome.result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        other => Err(failure(other)),
    }
}

fn is_out_of_gas(reason: &HaltReason) -> bool {
    matches!(reason, HaltReason::OutOfGas(_))
}

/// The error of a call that did not succeed: its revert data, or why it halted.
fn failure(result: ExecutionResult) -> RpcError {
    match result {
        ExecutionResult::Revert { output, .. } => RpcError::Reverted(output),
        ExecutionResult::Halt { reason, .. } => RpcError::Halted(reason),
        ExecutionResult::Success { .. } => RpcError::Succeeded,
    }
}

/// A halt as geth words it, so that tools matching geth's messages understand it.
pub(super) fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".to_string(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".to_string(),
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection".to_string()
        }
        HaltReason::CallTooDeep => "max call depth exceeded".to_string(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".to_string(),
        HaltReason::CreateCollision => "contract address collision".to_string(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".to_string(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".to_string(),
        other => other.to_string(),
    }
}

/// A transaction the EVM refused before running it, in geth's words: wallets and libraries
/// (viem, ethers) sort errors by matching them.
pub(super) fn precheck_message(
    reason: &InvalidTransaction,
    request: &TransactionRequest,
    base_fee: u64,
) -> String {
    let from = request.from.unwrap_or_default();
    match reason {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: address {from} have {balance} want {fee}")
        }
        InvalidTransaction::NonceTooHigh { tx, state } => {
            format!("nonce too high: address {from}, tx: {tx} state: {state}")
        }
        InvalidTransaction::NonceTooLow { tx, state } => {
            format!("nonce too low: address {from}, tx: {tx} state: {state}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => format!(
            "max fee per gas less than block base fee: address {from}, maxFeePerGas: {}, baseFee: {base_fee}",
            request.max_fee_per_gas.or(request.gas_price).unwrap_or_default()
        ),
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => format!(
            "max priority fee per gas higher than max fee per gas: address {from}, maxPriorityFeePerGas: {}, maxFeePerGas: {}",
            request.max_priority_fee_per_gas.unwrap_or_default(),
            request.max_fee_per_gas.unwrap_or_default()
        ),
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}")
        }
        InvalidTransaction::GasFloorMoreThanGasLimit { gas_floor, gas_limit } => {
            format!("insufficient gas for floor data gas cost: have {gas_limit}, want {gas_floor}")
        }
        InvalidTransaction::TxGasLimitGreaterThanCap { gas_limit, cap } => {
            format!("transaction gas limit too high (cap: {cap}, tx: {gas_limit})")
        }
        InvalidTransaction::CreateInitCodeSizeLimit => "max initcode size exceeded".to_string(),
        InvalidTransaction::InvalidChainId => "invalid chain id".to_string(),
        InvalidTransaction::EmptyAuthorizationList => "EIP-7702 transaction with empty auth list".to_string(),
        other => other.to_string(),
    }
}

/// The message of an `Error(string)` revert.
pub(super) fn revert_reason(output: &[u8]) -> Option<String> {
    let data = output.strip_prefix(&[0x08, 0xc3, 0x79, 0xa0])?;
    let offset = usize::try_from(U256::from_be_slice(data.get(..32)?)).ok()?;
    let len = usize::try_from(U256::from_be_slice(data.get(offset..offset.checked_add(32)?)?)).ok()?;
    let start = offset.checked_add(32)?;
    String::from_utf8(data.get(start..start.checked_add(len)?)?.to_vec()).ok()
}

/// The block environment of a call on `header`'s state: the block's own context, with the
/// overrides applied.
fn block_env(header: &Header, overrides: Option<&BlockOverrides>) -> BlockEnv {
    let excess_blob_gas = header.excess_blob_gas.unwrap_or_default();
    let mut block = BlockEnv {
        number: U256::from(header.number),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        gas_limit: header.gas_limit,
        basefee: header.base_fee_per_gas.unwrap_or_default(),
        difficulty: U256::ZERO,
        prevrandao: Some(header.mix_hash),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice {
            excess_blob_gas,
            blob_gasprice: ChainConfig::l2(0).blob_base_fee(excess_blob_gas),
        }),
        slot_num: 0,
    };
    if let Some(overrides) = overrides {
        if let Some(number) = overrides.number {
            block.number = number;
        }
        if let Some(time) = overrides.time {
            block.timestamp = U256::from(time);
        }
        if let Some(gas_limit) = overrides.gas_limit {
            block.gas_limit = gas_limit;
        }
        if let Some(coinbase) = overrides.coinbase {
            block.beneficiary = coinbase;
        }
        if let Some(random) = overrides.random {
            block.prevrandao = Some(random);
        }
        if let Some(base_fee) = overrides.base_fee {
            block.basefee = u64::try_from(base_fee).unwrap_or(u64::MAX);
        }
        if let Some(blob_base_fee) = overrides.blob_base_fee {
            let excess_blob_gas =
                block.blob_excess_gas_and_price.map(|blob| blob.excess_blob_gas).unwrap_or_default();
            block.blob_excess_gas_and_price = Some(BlobExcessGasAndPrice {
                excess_blob_gas,
                blob_gasprice: u128::try_from(blob_base_fee).unwrap_or(u128::MAX),
            });
        }
    }
    block
}

/// Refuses state overrides the node does not apply: an account whose storage is both replaced
/// and patched.
pub(super) fn check_overrides(overrides: &StateOverride) -> Result<(), RpcError> {
    if overrides.values().any(|account| account.state.is_some() && account.state_diff.is_some()) {
        return Err(RpcError::InvalidParams("an account override has both state and stateDiff".into()));
    }
    Ok(())
}

/// A `movePrecompileToAddress` override the node refuses.
#[derive(Debug, thiserror::Error)]
pub enum PrecompileMoveError {
    /// Only a precompile moves.
    #[error("account {0} is not a precompile")]
    NotAPrecompile(Address),
    /// A precompile moved to its own address.
    #[error("account {0} is moved to itself")]
    ToItself(Address),
    /// Two precompiles moved to one address.
    #[error("more than one precompile is moved to {0}")]
    SameDestination(Address),
    /// A precompile moved to an address the overrides set too.
    #[error("account {0} is already overridden")]
    DestinationOverridden(Address),
}

/// The precompiles `overrides` move or replace, as geth applies them: a precompile moves from
/// a precompile's address to one the overrides leave alone, and any override at a precompile's
/// address makes it an ordinary account there, whose code then runs.
pub(super) fn precompile_overrides(
    overrides: &StateOverride,
    spec: revm::primitives::hardfork::SpecId,
) -> Result<PrecompileOverrides, PrecompileMoveError> {
    let forked = Precompiles::new(PrecompileSpecId::from_spec_id(spec));
    let mut precompiles = PrecompileOverrides::default();
    let mut destinations = std::collections::HashSet::new();
    // In address order, so that a request with several faults always gets the same error.
    let mut accounts: Vec<_> = overrides.iter().collect();
    accounts.sort_unstable_by_key(|(address, _)| **address);
    for (address, account) in accounts {
        let is_precompile = forked.contains(address);
        match account.move_precompile_to {
            Some(_) if !is_precompile => return Err(PrecompileMoveError::NotAPrecompile(*address)),
            Some(to) if to == *address => return Err(PrecompileMoveError::ToItself(to)),
            Some(to) if !destinations.insert(to) => return Err(PrecompileMoveError::SameDestination(to)),
            Some(to) if overrides.contains_key(&to) => {
                return Err(PrecompileMoveError::DestinationOverridden(to));
            }
            Some(to) => precompiles.move_precompile(*address, to),
            None if is_precompile => precompiles.vacate(*address),
            None => {}
        }
    }
    Ok(precompiles)
}

/// The input of a request that names a kind of transaction the L2 runs: blob transactions are
/// not, and `data` and `input` must agree when both are given.
pub(super) fn request_input(request: &TransactionRequest) -> Result<Bytes, RpcError> {
    if request.blob_versioned_hashes.as_ref().is_some_and(|hashes| !hashes.is_empty()) {
        return Err(RpcError::BlobTransactionsUnsupported);
    }
    Ok(request
        .input
        .clone()
        .try_into_unique_input()
        .map_err(|_| RpcError::InvalidParams(r#"both "data" and "input" are set and not equal"#.into()))?
        .unwrap_or_default())
}

/// revm's transaction for a request, with `gas` gas, on chain `chain_id` unless it names one.
fn tx_env(request: &TransactionRequest, gas: u64, chain_id: u64) -> Result<TxEnv, RpcError> {
    let input = request_input(request)?;
    let authorization_list: Vec<_> =
        request.authorization_list.iter().flatten().cloned().map(Either::Left).collect();
    let tx_type = if !authorization_list.is_empty() {
        4
    } else if request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some() {
        2
    } else if request.access_list.is_some() {
        1
    } else {
        0
    };
    Ok(TxEnv {
        tx_type,
        caller: request.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price: request.max_fee_per_gas.or(request.gas_price).unwrap_or_default(),
        kind: request.to.unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: input,
        nonce: request.nonce.unwrap_or_default(),
        chain_id: Some(request.chain_id.unwrap_or(chain_id)),
        access_list: request.access_list.clone().unwrap_or_default(),
        gas_priority_fee: request.max_priority_fee_per_gas,
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list,
    })
}

/// A block's state for calls: accounts and storage through the trie at its state root (accounts
/// the RPC holds for the head from memory), codes and ancestor hashes from the store, and the
/// request's overrides on top.
///
/// It starts out serving only what is in memory (cached trie nodes and codes), which any thread
/// may do; a read that needs the database fails and sets `missed`. Once
/// [`CallState::reading_database`] it reads the database synchronously, on a blocking thread.
pub(super) struct CallState {
    trie: StateTrie<DbNodeStore>,
    nodes: DbNodeStore,
    root: B256,
    store: Store,
    codes: Arc<Codes>,
    /// The RPC's accounts of the head, when the block is the head.
    head: Option<(Arc<HeadAccounts>, HeadChanges)>,
    runtime: tokio::runtime::Handle,
    number: u64,
    overrides: StateOverride,
    override_codes: B256Map<Bytes>,
    in_memory: bool,
    missed: bool,
    /// Reading the database: when reads stop, and whether they did. Runs that read much
    /// (`eth_simulateV1`'s blocks, on no inspector's clock) stop there too.
    deadline: Option<Instant>,
    /// How long reads may go on once they read the database.
    timeout: Duration,
    timed_out: Arc<AtomicBool>,
}

/// A read the call's state could not serve.
#[derive(Debug, thiserror::Error)]
#[error("state unavailable: {0}")]
pub struct CallStateError(String);

impl DBErrorMarker for CallStateError {}

impl CallState {
    /// The state of `block` as `rpc` reads it, serving what is in memory.
    pub(super) fn new(rpc: &EthRpc, block: &ResolvedBlock, overrides: StateOverride) -> Self {
        let header = &block.header;
        let nodes = rpc.nodes.in_memory();
        let override_codes = overrides
            .values()
            .filter_map(|account| account.code.clone())
            .map(|code| (keccak256(&code), code))
            .collect();
        Self {
            trie: StateTrie::new(nodes.clone(), header.state_root),
            nodes,
            root: header.state_root,
            store: rpc.store.clone(),
            codes: rpc.codes.clone(),
            head: rpc.head_changes(block).map(|head| (rpc.head_accounts.clone(), head)),
            runtime: tokio::runtime::Handle::current(),
            number: header.number,
            overrides,
            override_codes,
            in_memory: true,
            missed: false,
            deadline: None,
            timeout: rpc.executions.timeout(),
            timed_out: Arc::default(),
        }
    }

    /// The same state, read from the database where memory lacks it, for the call timeout from
    /// now.
    pub(super) fn reading_database(self) -> Self {
        let nodes = self.nodes.reading_database();
        Self {
            trie: StateTrie::new(nodes.clone(), self.root),
            nodes,
            in_memory: false,
            missed: false,
            deadline: Some(Instant::now() + self.timeout),
            ..self
        }
    }

    /// Set once a read found the time up; shared, so that it can be read while an executor
    /// holds the state.
    pub(super) fn timed_out(&self) -> Arc<AtomicBool> {
        self.timed_out.clone()
    }

    /// How long reads may go on once they read the database.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Refuses a read past the deadline.
    fn check_deadline(&self) -> Result<(), CallStateError> {
        if self.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            self.timed_out.store(true, Ordering::Relaxed);
            return Err(CallStateError(RpcError::ExecutionTimeout(self.timeout).to_string()));
        }
        Ok(())
    }

    /// `error` as the call's state error, noting a read memory could not serve.
    fn read_error(&mut self, error: impl std::fmt::Display) -> CallStateError {
        self.missed |= self.in_memory;
        CallStateError(error.to_string())
    }
}

impl Database for CallState {
    type Error = CallStateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let held = self.head.as_ref().and_then(|(accounts, head)| accounts.get(head, &address));
        let account = match held {
            Some(account) => account,
            None => {
                self.check_deadline()?;
                match self.trie.account(address) {
                    Ok(account) => account.map(trace_builder::AccountState::from),
                    Err(error) => return Err(self.read_error(error)),
                }
            }
        };
        let Some(overrides) = self.overrides.get(&address) else {
            return Ok(account.map(AccountInfo::from));
        };
        let mut info = account.map(AccountInfo::from).unwrap_or_default();
        if let Some(balance) = overrides.balance {
            info.balance = balance;
        }
        if let Some(nonce) = overrides.nonce {
            info.nonce = nonce;
        }
        if let Some(code) = &overrides.code {
            info.code_hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(code) };
            info.code = None;
        }
        Ok(Some(info))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.override_codes.get(&code_hash) {
            return Bytecode::new_raw_checked(code.clone()).map_err(|e| CallStateError(e.to_string()));
        }
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code);
        }
        if self.in_memory {
            return Err(self.read_error(format!("code {code_hash} is not in memory")));
        }
        self.check_deadline()?;
        let code = self
            .runtime
            .block_on(self.store.code(code_hash))
            .map_err(|e| CallStateError(e.to_string()))?
            .ok_or_else(|| CallStateError(format!("missing code {code_hash}")))?;
        let code = Bytecode::new_raw_checked(code).map_err(|e| CallStateError(e.to_string()))?;
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(overrides) = self.overrides.get(&address) {
            let slot = B256::from(index.to_be_bytes());
            if let Some(state) = &overrides.state {
                return Ok(state.get(&slot).map(|value| U256::from_be_bytes(value.0)).unwrap_or_default());
            }
            if let Some(value) = overrides.state_diff.as_ref().and_then(|diff| diff.get(&slot)) {
                return Ok(U256::from_be_bytes(value.0));
            }
        }
        self.check_deadline()?;
        match self.trie.storage(address, index) {
            Ok(value) => Ok(value),
            Err(error) => Err(self.read_error(error)),
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        if number >= self.number {
            return Ok(B256::ZERO);
        }
        if self.in_memory {
            return Err(self.read_error(format!("the hash of block {number} is not in memory")));
        }
        self.check_deadline()?;
        let hash = self
            .runtime
            .block_on(self.store.block_hash(number))
            .map_err(|e| CallStateError(e.to_string()))?;
        Ok(hash.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_reasons_decode() {
        // Error("nope")
        let output = alloy_primitives::hex!(
            "08c379a0"
            "0000000000000000000000000000000000000000000000000000000000000020"
            "0000000000000000000000000000000000000000000000000000000000000004"
            "6e6f706500000000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(revert_reason(&output).as_deref(), Some("nope"));
        assert_eq!(revert_reason(&[0x08, 0xc3, 0x79, 0xa0, 1]), None);
        assert_eq!(revert_reason(&[]), None);
    }

    /// JUMPDEST PUSH0 JUMP: 50M gas keep it going for millions of steps.
    const CHEAP_LOOP: &[u8] = &[0x5b, 0x5f, 0x56];
    /// JUMPDEST, KECCAK256 over 256 KiB, POP, PUSH0 JUMP: 49k gas and half a millisecond a
    /// round.
    const HASHING_LOOP: &[u8] = &[0x5b, 0x62, 0x04, 0x00, 0x00, 0x5f, 0x20, 0x50, 0x5f, 0x56];

    /// Runs `code` with 50M gas within `budget`.
    fn run_loop(code: &'static [u8], budget: &mut Budget) {
        use revm::database::{CacheDB, EmptyDB};
        let code = Bytes::from_static(code);
        let looping = Address::repeat_byte(0x10);
        let mut db = CacheDB::<EmptyDB>::default();
        db.insert_account_info(
            looping,
            AccountInfo {
                code_hash: keccak256(&code),
                code: Some(Bytecode::new_raw(code)),
                ..Default::default()
            },
        );
        let mut cfg = CfgEnv::new_with_spec(ChainConfig::l2(1).spec);
        cfg.tx_gas_limit_cap = Some(RPC_GAS_CAP);
        let tx = TxEnv {
            caller: Address::repeat_byte(1),
            kind: TxKind::Call(looping),
            gas_limit: RPC_GAS_CAP,
            ..Default::default()
        };
        let outcome =
            Context::mainnet().with_cfg(cfg).with_db(db).build_mainnet_with_inspector(budget).inspect_tx(tx);
        assert!(!outcome.unwrap().result.is_success());
    }

    #[test]
    fn a_run_past_its_deadline_stops() {
        let mut budget = Budget::new(Instant::now());
        run_loop(CHEAP_LOOP, &mut budget);
        assert!(budget.exhausted);
        // It stopped at the first look at the clock, not when the gas ran out.
        assert_eq!(budget.steps, CLOCK_EVERY_STEPS);
    }

    #[test]
    fn costly_instructions_bring_the_clock_look_forward() {
        let mut budget = Budget::new(Instant::now());
        run_loop(HASHING_LOOP, &mut budget);
        assert!(budget.exhausted);
        // The first hash (the 4th instruction) alone costs more than CLOCK_EVERY_GAS: the
        // instruction after it looks at the clock, not the 64th, 15 hashes later.
        assert_eq!(budget.steps, 5);
    }

    #[test]
    fn a_run_stops_when_the_node_stops() {
        let executions = Executions::new(1);
        executions.stop();
        let mut budget = Budget::new(Instant::now() + Duration::from_secs(3600)).stopped_by(executions);
        run_loop(CHEAP_LOOP, &mut budget);
        assert!(budget.exhausted);
        assert_eq!(budget.steps, CLOCK_EVERY_STEPS);
    }
}
