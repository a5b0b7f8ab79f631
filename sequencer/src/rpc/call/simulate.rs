//! `eth_simulateV1`: a sequence of blocks of calls, each block on the state the one before it
//! left, with block and state overrides, never committed.
//!
//! Each simulated block runs through the block executor that seals the chain's real blocks
//! (system calls included), in its simulation mode: free header inputs and, unless `validation`
//! is asked for, calls checked as `eth_call` checks them. Calls become transactions signed
//! with an empty signature, as geth builds them, so that every block has real transaction,
//! receipt and state roots and a real hash. The state root comes from the trie at the base
//! block with every simulated block's changes applied in memory. With `traceTransfers`, each
//! call's logs also show the ether it moved, as `Transfer` logs of the pseudo-token
//! 0xEeee…EeeE, in execution order.

use super::{
    limits::RPC_GAS_CAP,
    overrides::{check_overrides, precompile_overrides},
    request::{refuse_blobs, request_input},
    state::CallState,
};
use crate::{
    rpc::{
        convert,
        error::{RpcError, halt_message, precheck_message, revert_reason},
        eth::EthRpc,
        executions::client_of,
    },
    store::DbNodeStore,
};
use alloy_consensus::{
    Header, SignableTransaction, Transaction as _, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy,
    constants::KECCAK_EMPTY, transaction::Recovered,
};
use alloy_eips::{BlockId, eip2718::Encodable2718};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256, map::HashMap};
use alloy_rpc_types_eth::{
    Block, BlockOverrides, BlockTransactions, Log, Transaction, TransactionRequest,
    simulate::{SimBlock, SimCallResult, SimulateError, SimulatePayload, SimulatedBlock},
    state::StateOverride,
};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use revm::{
    Database, bytecode::Bytecode, context::result::InvalidTransaction, primitives::eip7825::TX_GAS_LIMIT_CAP,
    state::AccountInfo,
};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use trace_builder::{
    AccountChange, AccountState, BlockExecutor, BlockInputs, ChainConfig, Simulation, StateChanges,
    StateTrie, TransactionError, ordered_trie_root, seal_header,
};

/// Most blocks one call simulates, gaps between block numbers included (the spec's suggestion:
/// BLOCKHASH's window).
const MAX_BLOCKS: u64 = 256;
/// Most calls one simulation runs, over all its blocks.
const MAX_CALLS: usize = 1_000;
/// Seconds between simulated blocks whose time is not set (geth's).
const BLOCK_TIME_STEP: u64 = 12;

/// The spec's codes of a call's failure in its result (the codes of a simulation that cannot
/// run are [`RpcError`]'s).
mod code {
    /// A call that halted (out of gas, invalid opcode...).
    pub(super) const VM_ERROR: i32 = -32015;
    /// A call that reverted.
    pub(super) const REVERTED: i32 = 3;
}

/// `eth_simulateV1`.
#[rpc(server, namespace = "eth")]
pub trait EthSimulateApi {
    /// Runs blocks of calls on a block's state, each block on the last one's; returns the
    /// blocks as they would be sealed, with each call's result.
    #[method(name = "simulateV1", with_extensions)]
    async fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> Result<Vec<SimulatedBlock<Block>>, RpcError>;
}

#[async_trait]
impl EthSimulateApiServer for EthRpc {
    async fn simulate_v1(
        &self,
        ext: &jsonrpsee::Extensions,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> Result<Vec<SimulatedBlock<Block>>, RpcError> {
        check_payload(&payload)?;
        let base = self.resolve_required(block).await?;
        let mut state = CallState::new(self, &base);
        let (chain, trie) = (self.chain.clone(), StateTrie::new(self.nodes.clone(), base.header.state_root));
        self.executions
            .run(client_of(ext), move || {
                // The call timeout runs from here, once admitted.
                state.read_database();
                let simulator = Simulator {
                    timed_out: state.timed_out(),
                    timeout: state.timeout(),
                    chain,
                    state: Overlay::new(state),
                    trie,
                    gas_left: RPC_GAS_CAP,
                };
                simulator.run(payload, base.header)
            })
            .await
    }
}

/// Refuses what the simulation does not run: too much, or options it does not have.
fn check_payload(payload: &SimulatePayload) -> Result<(), RpcError> {
    if payload.block_state_calls.len() as u64 > MAX_BLOCKS {
        return Err(RpcError::ClientLimit(format!("too many blocks: at most {MAX_BLOCKS}")));
    }
    let calls: usize = payload.block_state_calls.iter().map(|block| block.calls.len()).sum();
    if calls > MAX_CALLS {
        return Err(RpcError::ClientLimit(format!("too many calls: {calls}, at most {MAX_CALLS}")));
    }
    for overrides in payload.block_state_calls.iter().filter_map(|block| block.state_overrides.as_ref()) {
        check_overrides(overrides)?;
    }
    Ok(())
}

/// One simulation: the state the blocks run on, the trie that roots it, and the gas left.
struct Simulator {
    chain: Arc<ChainConfig>,
    state: Overlay<CallState>,
    trie: StateTrie<DbNodeStore>,
    /// Gas all calls together may still use (the RPC gas cap).
    gas_left: u64,
    /// Set when the state's reads found the time up.
    timed_out: Arc<AtomicBool>,
    /// The call timeout, for the message of a simulation that ran out of it.
    timeout: Duration,
}

impl Simulator {
    fn run(mut self, payload: SimulatePayload, base: Header) -> Result<Vec<SimulatedBlock<Block>>, RpcError> {
        let mut parent = base.clone();
        // BLOCKHASH in the first simulated block sees the base block, as in a real one.
        self.state.block_hashes.insert(base.number, base.hash_slow());
        let mut blocks = Vec::with_capacity(payload.block_state_calls.len());
        let options = Options {
            validation: payload.validation,
            trace_transfers: payload.trace_transfers,
            full_transactions: payload.return_full_transactions,
        };
        for sim_block in payload.block_state_calls {
            let overrides = sim_block.block_overrides.clone().unwrap_or_default();
            let number = match overrides.number {
                Some(number) => u64::try_from(number).unwrap_or(u64::MAX),
                None => parent.number + 1,
            };
            if number <= parent.number {
                return Err(RpcError::BlockNumberOrder { number, parent: parent.number });
            }
            if number - base.number > MAX_BLOCKS {
                return Err(RpcError::ClientLimit(format!(
                    "too many blocks: at most {MAX_BLOCKS} after the base block"
                )));
            }
            // Numbers skipped are empty blocks, as geth fills them.
            while parent.number + 1 < number {
                let filler = self.block(&parent, SimBlock::default(), &options)?;
                parent = filler.inner.header.inner.clone();
                blocks.push(filler);
            }
            let block = self.block(&parent, sim_block, &options)?;
            parent = block.inner.header.inner.clone();
            blocks.push(block);
        }
        Ok(blocks)
    }

    /// Runs one block on top of `parent`: its state overrides, then its calls.
    fn block(
        &mut self,
        parent: &Header,
        sim_block: SimBlock,
        options: &Options,
    ) -> Result<SimulatedBlock<Block>, RpcError> {
        let overrides = sim_block.block_overrides.unwrap_or_default();
        let inputs = inputs(parent, &overrides)?;
        if let Some(hashes) = &overrides.block_hash {
            self.state.block_hashes.extend(hashes);
        }
        let state_overrides = sim_block.state_overrides.unwrap_or_default();
        let simulation = Simulation {
            validation: options.validation,
            base_fee: overrides.base_fee.map(|fee| u64::try_from(fee).unwrap_or(u64::MAX)),
            blob_base_fee: overrides.blob_base_fee.map(|fee| u128::try_from(fee).unwrap_or(u128::MAX)),
            // For this block only, as geth moves them.
            precompiles: precompile_overrides(&state_overrides, self.chain.spec)
                .map_err(RpcError::SimulationOverride)?,
        };
        let overridden = self.state_overrides(state_overrides)?;
        self.state.apply(&overridden);
        self.trie.update(&overridden)?;

        let mut executor =
            BlockExecutor::simulating(&mut self.state, &self.chain, parent, &inputs, &simulation)
                .map_err(|error| state_failure(&self.timed_out, self.timeout, error))?;
        let mut transactions = Vec::with_capacity(sim_block.calls.len());
        let mut results = Vec::with_capacity(sim_block.calls.len());
        for request in sim_block.calls {
            // A call without a nonce takes the sender's as the calls before left it (an
            // authorization or a CREATE of the sender's may have moved it more than one).
            let nonce = executor
                .nonce(request.from.unwrap_or_default())
                .map_err(|error| state_failure(&self.timed_out, self.timeout, error))?;
            let wanted = request.gas.unwrap_or_else(|| executor.gas_available().min(TX_GAS_LIMIT_CAP));
            if request.gas.is_some_and(|gas| gas > self.gas_left) {
                return Err(RpcError::ClientLimit(format!(
                    "the calls used up the simulation's gas ({RPC_GAS_CAP}): {} gas left, {wanted} wanted",
                    self.gas_left
                )));
            }
            let gas = wanted.min(self.gas_left);
            refuse_blobs(&request, &self.chain, "eth_simulateV1")?;
            let tx = transaction(&request, nonce, gas, self.chain.chain_id)?;
            let base_fee = executor.base_fee();
            let (timed_out, timeout) = (self.timed_out.clone(), self.timeout);
            let refused = |error| match error {
                _ if timed_out.load(Ordering::Relaxed) => RpcError::ExecutionTimeout(timeout),
                // The call had too little gas only because the calls before it used the cap up.
                TransactionError::Invalid {
                    reason:
                        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
                        | InvalidTransaction::GasFloorMoreThanGasLimit { .. },
                    ..
                } if gas < wanted => RpcError::ClientLimit(format!(
                    "the calls used up the simulation's gas ({RPC_GAS_CAP}): {gas} gas left, {wanted} wanted"
                )),
                error => refused(error, &request, base_fee),
            };
            let (outcome, traced) = if options.trace_transfers {
                let (outcome, logs) = executor.execute_transaction_tracing_transfers(&tx).map_err(refused)?;
                (outcome, Some(logs))
            } else {
                (executor.execute_transaction(&tx).map_err(refused)?, None)
            };
            self.gas_left = self.gas_left.saturating_sub(outcome.gas_used);
            results.push(call_result(outcome, traced));
            transactions.push(tx);
        }
        let executed =
            executor.finish().map_err(|error| state_failure(&self.timed_out, self.timeout, error))?;
        self.state.apply(&executed.changes);
        self.trie.update(&executed.changes)?;
        let state_root = self.trie.root_hash();
        let encoded: Vec<Vec<u8>> = transactions.iter().map(|tx| tx.inner().encoded_2718()).collect();
        let header =
            seal_header(&self.chain, parent, &inputs, &executed, ordered_trie_root(&encoded), state_root);
        let hash = header.hash_slow();
        self.state.block_hashes.insert(header.number, hash);

        // The logs' places, now that the block has a hash.
        let mut log_index = 0;
        for (index, (result, tx)) in results.iter_mut().zip(&transactions).enumerate() {
            for log in &mut result.logs {
                log.block_hash = Some(hash);
                log.block_number = Some(header.number);
                log.block_timestamp = Some(header.timestamp);
                log.transaction_hash = Some(*tx.inner().tx_hash());
                log.transaction_index = Some(index as u64);
                log.log_index = Some(log_index);
                log_index += 1;
            }
        }
        let body_size = encoded.iter().map(Vec::len).sum();
        let transactions = if options.full_transactions {
            BlockTransactions::Full(
                transactions
                    .into_iter()
                    .enumerate()
                    .map(|(index, tx)| Transaction {
                        effective_gas_price: Some(tx.inner().effective_gas_price(header.base_fee_per_gas)),
                        inner: tx,
                        block_hash: Some(hash),
                        block_number: Some(header.number),
                        transaction_index: Some(index as u64),
                        block_timestamp: Some(header.timestamp),
                    })
                    .collect(),
            )
        } else {
            BlockTransactions::Hashes(transactions.iter().map(|tx| *tx.inner().tx_hash()).collect())
        };
        Ok(SimulatedBlock { inner: convert::block_of(header, hash, transactions, body_size), calls: results })
    }

    /// A block's state overrides as changes to the state before it: the fields they set on
    /// the account as it stands, its storage replaced (`state`) or patched (`stateDiff`).
    fn state_overrides(&mut self, overrides: StateOverride) -> Result<StateChanges, RpcError> {
        let mut changes = StateChanges::default();
        for (address, account) in overrides {
            let current = self
                .state
                .basic(address)
                .map_err(|error| state_failure(&self.timed_out, self.timeout, error))?
                .unwrap_or_default();
            let mut info = AccountState {
                nonce: current.nonce,
                balance: current.balance,
                code_hash: if current.code_hash.is_zero() { KECCAK_EMPTY } else { current.code_hash },
            };
            if let Some(balance) = account.balance {
                info.balance = balance;
            }
            if let Some(nonce) = account.nonce {
                info.nonce = nonce;
            }
            if let Some(code) = account.code {
                info.code_hash = if code.is_empty() { KECCAK_EMPTY } else { keccak256(&code) };
                if !code.is_empty() {
                    changes.codes.insert(info.code_hash, code);
                }
            }
            let storage_wiped = account.state.is_some();
            let storage: BTreeMap<U256, U256> = account
                .state
                .or(account.state_diff)
                .into_iter()
                .flatten()
                .map(|(slot, value)| (U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0)))
                .collect();
            changes.accounts.insert(address, AccountChange { info: Some(info), storage_wiped, storage });
        }
        Ok(changes)
    }
}

/// The header inputs of a simulated block after `parent`: the overrides, or the parent's gas
/// limit and coinbase (an override carries on to the next blocks, as in geth), and a time one
/// step after the parent's.
fn inputs(parent: &Header, overrides: &BlockOverrides) -> Result<BlockInputs, RpcError> {
    let number = parent.number + 1;
    let timestamp = match overrides.time {
        Some(time) => time,
        None => parent.timestamp.checked_add(BLOCK_TIME_STEP).ok_or(RpcError::BlockTimeOverflow)?,
    };
    if timestamp <= parent.timestamp {
        return Err(RpcError::BlockTimeOrder { timestamp, parent: parent.timestamp });
    }
    if overrides.difficulty.is_some() {
        return Err(RpcError::InvalidParams("a difficulty override does not apply after the Merge".into()));
    }
    Ok(BlockInputs {
        number,
        timestamp,
        beneficiary: overrides.coinbase.unwrap_or(parent.beneficiary),
        gas_limit: overrides.gas_limit.unwrap_or(parent.gas_limit),
        prev_randao: overrides.random.unwrap_or_default(),
        extra_data: Bytes::new(),
        parent_beacon_block_root: overrides.beacon_root.unwrap_or_default(),
        withdrawals: Vec::new(),
    })
}

/// A call as a transaction from its sender, signed with an empty signature: a legacy or
/// EIP-2930 transaction when it names a gas price, EIP-7702 when it carries authorizations,
/// EIP-1559 otherwise.
fn transaction(
    request: &TransactionRequest,
    nonce: u64,
    gas_limit: u64,
    chain_id: u64,
) -> Result<Recovered<TxEnvelope>, RpcError> {
    let input = request_input(request)?;
    let nonce = request.nonce.unwrap_or(nonce);
    let to = request.to.unwrap_or(TxKind::Create);
    let value = request.value.unwrap_or_default();
    let access_list = request.access_list.clone().unwrap_or_default();
    let signature = Signature::new(U256::ZERO, U256::ZERO, false);
    let envelope: TxEnvelope = if let Some(gas_price) = request.gas_price {
        if request.access_list.is_some() {
            let tx = TxEip2930 { chain_id, nonce, gas_price, gas_limit, to, value, access_list, input };
            tx.into_signed(signature).into()
        } else {
            let tx = TxLegacy { chain_id: Some(chain_id), nonce, gas_price, gas_limit, to, value, input };
            tx.into_signed(signature).into()
        }
    } else if let Some(authorization_list) = request.authorization_list.clone() {
        let TxKind::Call(to) = to else {
            return Err(RpcError::InvalidParams("an EIP-7702 call needs a recipient".into()));
        };
        let tx = TxEip7702 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: request.max_fee_per_gas.unwrap_or_default(),
            max_priority_fee_per_gas: request.max_priority_fee_per_gas.unwrap_or_default(),
            to,
            value,
            access_list,
            authorization_list,
            input,
        };
        tx.into_signed(signature).into()
    } else {
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: request.max_fee_per_gas.unwrap_or_default(),
            max_priority_fee_per_gas: request.max_priority_fee_per_gas.unwrap_or_default(),
            to,
            value,
            access_list,
            input,
        };
        tx.into_signed(signature).into()
    };
    Ok(Recovered::new_unchecked(envelope, request.from.unwrap_or_default()))
}

/// A read of the simulation's state that failed: its time (`timeout`) was up (`timed_out`, see
/// [`CallState::timed_out`]), or the store failed. The block executor hands on its state's
/// errors as text, so the flag, not the error, tells a timeout.
fn state_failure(timed_out: &AtomicBool, timeout: Duration, error: impl Into<RpcError>) -> RpcError {
    if timed_out.load(Ordering::Relaxed) { RpcError::ExecutionTimeout(timeout) } else { error.into() }
}

/// What a simulation asks of every block beyond its calls.
struct Options {
    /// Transactions checked as a real block checks them.
    validation: bool,
    /// Ether transfers reported among the logs, as `Transfer` logs.
    trace_transfers: bool,
    /// Blocks with whole transactions, not their hashes.
    full_transactions: bool,
}

/// A call's result: success with its output and logs (the `traced` ones, transfers included,
/// when traced), or its revert or halt.
fn call_result(
    outcome: trace_builder::TxOutcome,
    traced: Option<Vec<alloy_primitives::Log>>,
) -> SimCallResult {
    let logs = traced
        .unwrap_or_else(|| outcome.receipt.logs().to_vec())
        .into_iter()
        .map(|log| Log { inner: log, ..Default::default() })
        .collect();
    let error = match (&outcome.halt, outcome.success) {
        (_, true) => None,
        (Some(reason), false) => Some(SimulateError {
            code: code::VM_ERROR,
            message: format!("vm execution error: {}", halt_message(reason)),
            data: None,
        }),
        (None, false) => Some(SimulateError {
            code: code::REVERTED,
            message: match revert_reason(&outcome.output) {
                Some(reason) => format!("execution reverted: {reason}"),
                None => "execution reverted".to_string(),
            },
            data: Some(outcome.output.clone()),
        }),
    };
    SimCallResult {
        // As geth: a failed call's data is its error's, not a return value.
        return_data: if outcome.success { outcome.output } else { Bytes::new() },
        logs: if outcome.success { logs } else { Vec::new() },
        gas_used: outcome.gas_used,
        max_used_gas: Some(outcome.gas_spent),
        status: outcome.success,
        error,
    }
}

/// A call the block refused before running it, in geth's words (its code follows the reason).
fn refused(refusal: TransactionError, request: &TransactionRequest, base_fee: u64) -> RpcError {
    match refusal {
        TransactionError::Invalid { reason, .. } => RpcError::SimulationRejected {
            message: precheck_message(&reason, request, base_fee),
            reason: Box::new(reason),
        },
        TransactionError::BlockGasExhausted { gas_limit, available, .. } => {
            RpcError::BlockGasLimitReached { gas_limit, available }
        }
        other => RpcError::Transaction(other),
    }
}

/// A state with the simulated blocks' changes on top: what they set is read here, the rest
/// from `base`.
struct Overlay<DB> {
    base: DB,
    /// Accounts the blocks changed; `None` for one they deleted.
    accounts: HashMap<Address, Option<AccountState>>,
    /// Storage the blocks wrote, and whether they cleared the account's storage first.
    storage: HashMap<Address, (bool, HashMap<U256, U256>)>,
    codes: HashMap<B256, Bytes>,
    /// Hashes of the simulated blocks, for BLOCKHASH.
    block_hashes: HashMap<u64, B256>,
}

impl<DB> Overlay<DB> {
    fn new(base: DB) -> Self {
        Self {
            base,
            accounts: HashMap::default(),
            storage: HashMap::default(),
            codes: HashMap::default(),
            block_hashes: HashMap::default(),
        }
    }

    fn apply(&mut self, changes: &StateChanges) {
        for (address, change) in &changes.accounts {
            self.accounts.insert(*address, change.info.clone());
            if change.info.is_none() || change.storage_wiped {
                self.storage.insert(*address, (true, HashMap::default()));
            }
            let slots = &mut self.storage.entry(*address).or_default().1;
            slots.extend(change.storage.iter().map(|(slot, value)| (*slot, *value)));
        }
        self.codes.extend(changes.codes.iter().map(|(hash, code)| (*hash, code.clone())));
    }
}

impl<DB: Database> Database for Overlay<DB> {
    type Error = DB::Error;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        match self.accounts.get(&address) {
            Some(account) => Ok(account.clone().map(AccountInfo::from)),
            None => self.base.basic(address),
        }
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        match self.codes.get(&code_hash) {
            // Code an override set may be anything: what does not parse runs as legacy code
            // (and fails at its first byte, 0xEF).
            Some(code) => Ok(Bytecode::new_raw_checked(code.clone())
                .unwrap_or_else(|_| Bytecode::new_legacy(code.clone()))),
            None => self.base.code_by_hash(code_hash),
        }
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        match self.storage.get(&address) {
            Some((_, slots)) if slots.contains_key(&index) => Ok(slots[&index]),
            Some((true, _)) => Ok(U256::ZERO),
            _ => self.base.storage(address, index),
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        match self.block_hashes.get(&number) {
            Some(hash) => Ok(*hash),
            None => self.base.block_hash(number),
        }
    }
}
