//! What bounds a call: the gas cap, and the time it may run ([`Budget`]) on the RPC's own thread
//! or on a blocking one.

use crate::rpc::executions::Executions;
use alloy_primitives::Address;
use revm::{
    Inspector,
    interpreter::{CallInputs, CallOutcome, InstructionResult, Interpreter, InterpreterTypes},
    precompile::Precompiles,
};
use std::time::{Duration, Instant};

/// The most gas one `eth_call` may use (geth's default RPC gas cap).
pub const RPC_GAS_CAP: u64 = 50_000_000;
/// How long an `eth_call` may run on the RPC's own thread before it starts again on a blocking
/// thread.
pub(super) const IN_MEMORY_TIME: Duration = Duration::from_millis(2);
/// The same while calls wait for the blocking threads: a flood of heavy calls then costs the
/// RPC's threads little each, so that the tasks queued behind them (other clients' requests, the
/// database pool's own) are not held up for seconds. A wallet's read still fits.
pub(super) const IN_MEMORY_TIME_SATURATED: Duration = Duration::from_micros(100);

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

/// Stops a run past its deadline, when the node stops, and, on the RPC's own thread, at a
/// precompile call given more than [`IN_MEMORY_PRECOMPILE_GAS`] and at any call to EXECUTE (it
/// verifies a trace, and in blob mode reads blobs from the database). Once stopped, every
/// instruction and call fails at once, so the run unwinds quickly; its outcome is discarded.
#[derive(Debug)]
pub(super) struct Budget {
    deadline: Instant,
    steps: u32,
    /// The running frame's gas left at the last look at the clock (or the first step).
    gas_at_look: Option<u64>,
    /// On the RPC's own thread: the precompiles whose costly calls stop the run.
    precompiles: Option<&'static Precompiles>,
    /// On the RPC's own thread: EXECUTE's address, on a chain that has it; any call to it stops
    /// the run.
    execute: Option<Address>,
    /// On a blocking thread: the executions whose stop stops the run.
    executions: Option<Executions>,
    pub(super) exhausted: bool,
}

impl Budget {
    pub(super) fn new(deadline: Instant) -> Self {
        Self {
            deadline,
            steps: 0,
            gas_at_look: None,
            precompiles: None,
            execute: None,
            executions: None,
            exhausted: false,
        }
    }

    /// This budget for a run on the RPC's own thread, under a fork with `precompiles` and,
    /// on the dev L1, EXECUTE at `execute`.
    pub(super) fn in_memory(self, precompiles: &'static Precompiles, execute: Option<Address>) -> Self {
        Self { precompiles: Some(precompiles), execute, ..self }
    }

    /// This budget, ending too when `executions` stop.
    pub(super) fn stopped_by(self, executions: Executions) -> Self {
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
        let costly_precompile = inputs.gas_limit > IN_MEMORY_PRECOMPILE_GAS
            && self.precompiles.is_some_and(|precompiles| precompiles.contains(&inputs.bytecode_address));
        if costly_precompile || self.execute == Some(inputs.bytecode_address) {
            self.exhausted = true;
        }
        self.exhausted.then(|| CallOutcome::new_oog(inputs.gas_limit, inputs.return_memory_offset.clone(), 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Header;
    use alloy_primitives::{Address, Bytes, TxKind, keccak256};
    use revm::{InspectEvm, bytecode::Bytecode, context::TxEnv, state::AccountInfo};
    use trace_builder::{ChainConfig, EvmEnv, PrecompileOverrides};

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
        let header = Header { gas_limit: RPC_GAS_CAP, ..Header::default() };
        let mut env = EvmEnv::new(&ChainConfig::l2(1), &header);
        env.cfg.tx_gas_limit_cap = Some(RPC_GAS_CAP);
        let tx = TxEnv {
            caller: Address::repeat_byte(1),
            kind: TxKind::Call(looping),
            gas_limit: RPC_GAS_CAP,
            ..Default::default()
        };
        let outcome = env.into_evm(db, budget, PrecompileOverrides::default()).inspect_tx(tx);
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
    fn a_call_to_execute_stops_a_run_on_the_rpcs_thread() {
        use revm::database::{CacheDB, EmptyDB};
        use trace_builder::precompile::{DEFAULT_EXECUTE_ADDRESS, ExecuteSettings};
        let chain =
            ChainConfig::dev_l1(1, revm::primitives::hardfork::SpecId::OSAKA, ExecuteSettings::default());
        let env = EvmEnv::new(&chain, &Header { gas_limit: RPC_GAS_CAP, ..Header::default() });
        let deadline = Instant::now() + Duration::from_secs(3600);
        let mut budget = Budget::new(deadline).in_memory(env.precompiles(), Some(DEFAULT_EXECUTE_ADDRESS));
        // Less gas than a costly precompile call: EXECUTE stops the run whatever its gas.
        let tx = TxEnv {
            caller: Address::repeat_byte(1),
            kind: TxKind::Call(DEFAULT_EXECUTE_ADDRESS),
            gas_limit: IN_MEMORY_PRECOMPILE_GAS / 2,
            chain_id: Some(1),
            ..Default::default()
        };
        let outcome = env
            .into_evm(CacheDB::<EmptyDB>::default(), &mut budget, PrecompileOverrides::default())
            .inspect_tx(tx);
        assert!(!outcome.unwrap().result.is_success());
        assert!(budget.exhausted);
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
