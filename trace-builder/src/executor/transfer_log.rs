//! A transaction's logs with its ETH transfers among them, in execution order, for
//! `eth_simulateV1`'s `traceTransfers`: each transfer of ether (a call or creation with value,
//! a SELFDESTRUCT sending a balance) appears as the ERC-20 `Transfer(from, to, value)` log of
//! the pseudo-token at [`TRANSFER_LOG_ADDRESS`]. What a reverted frame did is dropped with it.
//!
//! The executor runs it only when asked ([`BlockExecutor::execute_transaction_tracing_transfers`]);
//! blocks the chain seals never call its hooks.
//!
//! [`BlockExecutor::execute_transaction_tracing_transfers`]: super::BlockExecutor::execute_transaction_tracing_transfers

use alloy_primitives::{Address, B256, Log, LogData, U256, address, b256};
use revm::{
    Inspector,
    context_interface::ContextTr,
    interpreter::{CallInputs, CallOutcome, CreateInputs, CreateOutcome, interpreter::EthInterpreter},
};

/// The pseudo-token whose `Transfer` logs stand for ether moving.
pub const TRANSFER_LOG_ADDRESS: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");
/// `keccak256("Transfer(address,address,uint256)")`.
const TRANSFER_TOPIC: B256 = b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// Collects one transaction's logs and transfers while it runs.
#[derive(Debug, Default)]
pub struct TransferLog {
    logs: Vec<Log>,
    /// Per open frame: how many logs there were when it started, and for a creation with value
    /// the index of its transfer, whose recipient is known only when the frame ends.
    frames: Vec<(usize, Option<usize>)>,
}

impl TransferLog {
    /// The logs collected, leaving the collector empty for the next transaction.
    pub(super) fn take(&mut self) -> Vec<Log> {
        self.frames.clear();
        std::mem::take(&mut self.logs)
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) -> usize {
        let topics = vec![TRANSFER_TOPIC, from.into_word(), to.into_word()];
        let data = LogData::new_unchecked(topics, value.to_be_bytes_vec().into());
        self.logs.push(Log { address: TRANSFER_LOG_ADDRESS, data });
        self.logs.len() - 1
    }

    /// Ends the innermost frame: what it logged stays only if it succeeded.
    fn end_frame(&mut self, succeeded: bool) -> Option<usize> {
        let (start, transfer) = self.frames.pop()?;
        if !succeeded {
            self.logs.truncate(start);
            return None;
        }
        transfer
    }
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for TransferLog {
    fn log(&mut self, _context: &mut CTX, log: Log) {
        self.logs.push(log);
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.frames.push((self.logs.len(), None));
        if let Some(value) = inputs.value.transfer().filter(|value| !value.is_zero()) {
            self.transfer(inputs.caller, inputs.target_address, value);
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.end_frame(outcome.result.result.is_ok());
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        let start = self.logs.len();
        // The new address is known once the frame has run; the place is kept now, so that the
        // transfer comes before what the init code logs.
        let transfer = (!inputs.value().is_zero())
            .then(|| self.transfer(inputs.caller(), Address::ZERO, inputs.value()));
        self.frames.push((start, transfer));
        None
    }

    fn create_end(&mut self, _context: &mut CTX, _inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        if let Some(index) = self.end_frame(outcome.result.result.is_ok())
            && let Some(created) = outcome.address
        {
            let log = &mut self.logs[index];
            let mut topics = log.data.topics().to_vec();
            topics[2] = created.into_word();
            log.data = LogData::new_unchecked(topics, log.data.data.clone());
        }
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        if !value.is_zero() {
            self.transfer(contract, target, value);
        }
    }
}
