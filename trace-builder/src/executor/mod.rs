//! The one block executor (docs/architecture.md, "Decisions and their reasons"): given a state
//! view and a block's inputs it runs Ethereum's rules — system calls, transactions on revm,
//! receipts, fees, withdrawals, requests — and returns the receipts, what the block changed
//! and what it read. The sequencer's builder and the stateless verifier both call it; neither
//! has a second copy of any rule.
//!
//! ```text
//! BlockExecutor::new(db, chain, parent, inputs)   header rules, EIP-2935 / EIP-4788 calls
//!   .execute_transaction(tx) ...                  one receipt per included transaction
//!   .finish()                                     withdrawals, EIP-7002 / EIP-7251 requests
//! seal_header(chain, parent, inputs, executed, transactions_root, state_root)
//! ```
//!
//! Every block runs in the revm environment [`EvmEnv::new`] builds from the chain config and the
//! block's header; calls on a block's state (the sequencer's `eth_call`) build theirs there too.

mod block_state;
mod env;
mod header;
mod system_calls;
mod transaction;
mod transfer_log;

pub use env::{ChainEvm, EvmEnv};
pub use header::seal_header;
pub use transaction::tx_env;
pub use transfer_log::{TRANSFER_LOG_ADDRESS, TransferLog};

use crate::{
    chain::ChainConfig,
    error::{ExecutionError, InputError, TransactionError},
    precompile::BlobSource,
    precompile_overrides::PrecompileOverrides,
    state::{StateAccess, StateChanges},
};
use alloy_consensus::{
    Header, Receipt, ReceiptEnvelope, Transaction as _, TxEnvelope, transaction::Recovered,
};
use alloy_eips::{eip2718::Encodable2718, eip4895::Withdrawal, eip7685::Requests};
use alloy_primitives::{Address, B256, Bytes};
use block_state::BlockState;
use revm::{
    Database, ExecuteCommitEvm, InspectCommitEvm,
    context::{
        JournalTr,
        result::{EVMError, ExecutionResult, HaltReason},
    },
    primitives::hardfork::SpecId,
};
use std::sync::Arc;

/// The EVM the executor drives: revm's mainnet EVM over the block's state layer, with the
/// precompiles a simulation's overrides may move. Its inspector runs only for
/// [`BlockExecutor::execute_transaction_tracing_transfers`]: sealing a block never calls it.
type BlockEvm<DB> = ChainEvm<BlockState<DB>, TransferLog>;

/// The smallest gas limit a block may have.
const MIN_GAS_LIMIT: u64 = 5_000;
/// A block's gas limit moves by less than the parent's divided by this.
const GAS_LIMIT_BOUND_DIVISOR: u64 = 1_024;
/// The longest header extra data.
const MAX_EXTRA_DATA: usize = 32;

/// The free inputs of a block header, chosen by whoever builds the block. Every other header
/// field is derived from the parent (parent hash, base fee, excess blob gas) or from executing
/// the block (gas used, roots, bloom, requests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInputs {
    /// Block number: the parent's plus one.
    pub number: u64,
    /// Seconds since the Unix epoch; after the parent's.
    pub timestamp: u64,
    /// Recipient of the priority fees (COINBASE).
    pub beneficiary: Address,
    /// Gas limit: within the parent's ± parent / 1024 (exclusive), at least 5000.
    pub gas_limit: u64,
    /// PREVRANDAO, the header's mix hash.
    pub prev_randao: B256,
    /// Header extra data, at most 32 bytes.
    pub extra_data: Bytes,
    /// EIP-4788 parent beacon block root; on the L2, the root of the L1 anchor block.
    pub parent_beacon_block_root: B256,
    /// EIP-4895 withdrawals (Shanghai on), credited after the transactions. L1 blocks carry
    /// them; the L2 passes an empty list.
    pub withdrawals: Vec<Withdrawal>,
}

/// What one included transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// Hash of the transaction.
    pub hash: B256,
    /// Its receipt: status, cumulative gas used in the block, logs and their bloom.
    pub receipt: ReceiptEnvelope,
    /// Whether it succeeded; a reverted or halted transaction is still included and pays.
    pub success: bool,
    /// Gas it used, after refunds (and at least the EIP-7623 calldata floor).
    pub gas_used: u64,
    /// Gas its execution spent before refunds: the least limit it could have run with is at
    /// least this.
    pub gas_spent: u64,
    /// Blob gas it used (EIP-4844), zero for other types.
    pub blob_gas_used: u64,
    /// Price per gas it paid: the base fee plus its effective priority fee.
    pub effective_gas_price: u128,
    /// Price per blob gas it paid, for a blob transaction.
    pub blob_gas_price: Option<u128>,
    /// For a contract creation, the address of the contract (from sender and nonce), whether
    /// or not the creation succeeded, as in the receipt of `eth_getTransactionReceipt`.
    pub contract_address: Option<Address>,
    /// The return data, or the revert data; empty after a halt.
    pub output: Bytes,
    /// Why execution halted (out of gas, an invalid opcode...), for a transaction that
    /// failed without reverting.
    pub halt: Option<HaltReason>,
}

/// How a simulated block (`eth_simulateV1`) departs from the L1 rules. Its inputs are free
/// (any gas limit, any later timestamp, block numbers may skip), and its fees may be set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Simulation {
    /// Checks every transaction as a real block would: nonce, fee cap against the base fee,
    /// a sender without code. Off, transactions run as `eth_call` runs them, and the base fee
    /// is zero unless set.
    pub validation: bool,
    /// The block's base fee, instead of the one its parent implies.
    pub base_fee: Option<u64>,
    /// The block's blob base fee, instead of the one its parent implies.
    pub blob_base_fee: Option<u128>,
    /// Precompiles the block's state overrides moved or replaced.
    pub precompiles: PrecompileOverrides,
}

/// A block's execution, ready to be sealed with [`seal_header`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutedBlock {
    /// One receipt per included transaction, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Gas used by all transactions (the header's `gas_used`).
    pub gas_used: u64,
    /// Blob gas used by all transactions (the header's `blob_gas_used`).
    pub blob_gas_used: u64,
    /// The base fee the block ran under (the header's `base_fee_per_gas`).
    pub base_fee: u64,
    /// The excess blob gas the block ran under (the header's `excess_blob_gas`), zero before
    /// Cancun.
    pub excess_blob_gas: u64,
    /// The EIP-7685 requests of the block (their hash is the header's `requests_hash`), empty
    /// before Prague.
    pub requests: Requests,
    /// The block's net change to the state, system calls and withdrawals included.
    pub changes: StateChanges,
    /// Every piece of pre-state the block read.
    pub access: StateAccess,
}

/// Runs one block over a state view `DB`: create it with [`BlockExecutor::new`] (header rules,
/// pre-block system calls), feed it transactions with [`BlockExecutor::execute_transaction`],
/// then [`BlockExecutor::finish`] it.
///
/// `DB` is read, never written: the block's writes stay in the executor and come out as
/// [`ExecutedBlock::changes`]. What the executor reads from `DB` comes out as
/// [`ExecutedBlock::access`].
pub struct BlockExecutor<DB: Database> {
    evm: BlockEvm<DB>,
    chain: ChainConfig,
    number: u64,
    gas_limit: u64,
    base_fee: u64,
    excess_blob_gas: u64,
    blob_gas_price: Option<u128>,
    withdrawals: Vec<Withdrawal>,
    gas_used: u64,
    blob_gas_used: u64,
    /// Encoded size of the included transactions (EIP-7934).
    transactions_size: usize,
    receipts: Vec<ReceiptEnvelope>,
}

impl<DB: Database> std::fmt::Debug for BlockExecutor<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockExecutor")
            .field("number", &self.number)
            .field("spec", &self.chain.spec)
            .field("gas_used", &self.gas_used)
            .field("transactions", &self.receipts.len())
            .finish_non_exhaustive()
    }
}

impl<DB: Database> BlockExecutor<DB> {
    /// Starts a block on top of `parent` whose state `db` serves: checks `inputs` against
    /// the parent (L1 header rules), derives the base fee and excess blob gas from the parent,
    /// and runs the pre-block system calls (EIP-2935 with the parent's hash from Prague,
    /// EIP-4788 with the parent beacon block root from Cancun). The inputs' withdrawals are
    /// credited by [`BlockExecutor::finish`], after the transactions.
    pub fn new(
        db: DB,
        chain: &ChainConfig,
        parent: &Header,
        inputs: &BlockInputs,
    ) -> Result<Self, ExecutionError> {
        Self::start(db, chain, parent, inputs, None, None)
    }

    /// [`BlockExecutor::new`] on a chain with EXECUTE, whose blob mode reads the blobs of the
    /// block's transactions from `blobs`.
    pub fn with_blobs(
        db: DB,
        chain: &ChainConfig,
        parent: &Header,
        inputs: &BlockInputs,
        blobs: Arc<dyn BlobSource>,
    ) -> Result<Self, ExecutionError> {
        Self::start(db, chain, parent, inputs, None, Some(blobs))
    }

    /// Starts a simulated block: as [`BlockExecutor::new`] (system calls included), without
    /// the header rules on `inputs`, and with `simulation`'s departures from the L1 rules.
    pub fn simulating(
        db: DB,
        chain: &ChainConfig,
        parent: &Header,
        inputs: &BlockInputs,
        simulation: &Simulation,
    ) -> Result<Self, ExecutionError> {
        Self::start(db, chain, parent, inputs, Some(simulation), None)
    }

    fn start(
        db: DB,
        chain: &ChainConfig,
        parent: &Header,
        inputs: &BlockInputs,
        simulation: Option<&Simulation>,
        blobs: Option<Arc<dyn BlobSource>>,
    ) -> Result<Self, ExecutionError> {
        let number = inputs.number;
        chain.check_supported().map_err(|spec| ExecutionError::UnsupportedSpec { number, spec })?;
        if simulation.is_none() {
            check_inputs(chain, parent, inputs)
                .map_err(|reason| ExecutionError::InvalidInputs { number, reason })?;
        }

        let validation = simulation.is_none_or(|simulation| simulation.validation);
        let base_fee = match simulation.and_then(|simulation| simulation.base_fee) {
            Some(base_fee) => base_fee,
            None if validation => chain.next_base_fee(parent),
            None => 0,
        };
        let cancun = chain.spec.is_enabled_in(SpecId::CANCUN);
        let excess_blob_gas = if cancun { chain.next_excess_blob_gas(parent) } else { 0 };
        // The fields of the block's header the EVM sees; the rest come from its execution.
        let context = Header {
            number,
            timestamp: inputs.timestamp,
            beneficiary: inputs.beneficiary,
            gas_limit: inputs.gas_limit,
            mix_hash: inputs.prev_randao,
            base_fee_per_gas: Some(base_fee),
            excess_blob_gas: Some(excess_blob_gas),
            ..Header::default()
        };
        let mut env = EvmEnv::new(chain, &context);
        if let Some(simulation) = simulation {
            if !validation {
                env.cfg.disable_nonce_check = true;
                env.cfg.disable_base_fee = true;
            }
            // A simulation may send from a contract (a multisig, a smart account) even with
            // validation, as geth's does: EIP-3607 only binds real blocks.
            env.cfg.disable_eip3607 = true;
            if let (Some(blob_base_fee), Some(blob)) =
                (simulation.blob_base_fee, env.block.blob_excess_gas_and_price.as_mut())
            {
                blob.blob_gasprice = blob_base_fee;
            }
        }
        let blob_gas_price = env.block.blob_excess_gas_and_price.map(|blob| blob.blob_gasprice);
        let precompiles = simulation.map(|simulation| simulation.precompiles.clone()).unwrap_or_default();
        let mut evm =
            env.into_evm_with_blobs(BlockState::new(db), TransferLog::default(), precompiles, blobs);
        system_calls::pre_block(
            &mut evm,
            chain.spec,
            number,
            parent.hash_slow(),
            inputs.parent_beacon_block_root,
        )?;
        Ok(Self {
            evm,
            chain: chain.clone(),
            number,
            gas_limit: inputs.gas_limit,
            base_fee,
            excess_blob_gas,
            blob_gas_price,
            withdrawals: inputs.withdrawals.clone(),
            gas_used: 0,
            blob_gas_used: 0,
            transactions_size: 0,
            receipts: Vec::new(),
        })
    }

    /// Executes `tx` and includes it in the block, returning its outcome (a reverted
    /// transaction is included: it pays and bumps its nonce).
    ///
    /// A transaction the L1 rules reject returns an error and leaves the state and the block
    /// exactly as they were: it does not fit the gas, blob gas or bytes the block has left, or
    /// revm finds it invalid (nonce, balance, intrinsic gas, fee below the base fee, chain id,
    /// blob count or fee, type not active in the fork, EIP-7825 gas cap...). A builder skips
    /// it; a verifier rejects the block. The sender is taken from `tx` as recovered.
    pub fn execute_transaction(&mut self, tx: &Recovered<TxEnvelope>) -> Result<TxOutcome, TransactionError> {
        self.execute(tx, false)
    }

    /// [`BlockExecutor::execute_transaction`], also returning the transaction's logs with its
    /// ether transfers among them as `Transfer` logs (see [`TransferLog`]), for simulations.
    /// A failed transaction has none.
    pub fn execute_transaction_tracing_transfers(
        &mut self,
        tx: &Recovered<TxEnvelope>,
    ) -> Result<(TxOutcome, Vec<alloy_primitives::Log>), TransactionError> {
        let outcome = self.execute(tx, true)?;
        let logs = self.evm.inspector.take();
        let logs = if outcome.success { logs } else { Vec::new() };
        Ok((outcome, logs))
    }

    fn execute(
        &mut self,
        tx: &Recovered<TxEnvelope>,
        trace_transfers: bool,
    ) -> Result<TxOutcome, TransactionError> {
        let envelope = tx.inner();
        let hash = *envelope.tx_hash();
        let available = self.gas_limit.saturating_sub(self.gas_used);
        if envelope.gas_limit() > available {
            return Err(TransactionError::BlockGasExhausted {
                hash,
                gas_limit: envelope.gas_limit(),
                available,
            });
        }
        let blob_gas = envelope.blob_gas_used().unwrap_or_default();
        let blob_available = self.chain.max_blob_gas_per_block().saturating_sub(self.blob_gas_used);
        if blob_gas > blob_available {
            return Err(TransactionError::BlobGasExhausted { hash, blob_gas, available: blob_available });
        }
        // The transactions alone must fit the block size limit; the header and the rest of the
        // body are checked by whoever holds the whole block.
        let size = envelope.encode_2718_len();
        if let Some(max) = self.chain.max_rlp_block_size() {
            let available = max.saturating_sub(self.transactions_size);
            if size > available {
                return Err(TransactionError::BlockSizeExceeded { hash, size, available });
            }
        }

        let result = if trace_transfers {
            self.evm.inspector.take();
            self.evm.inspect_tx_commit(tx_env(tx))
        } else {
            self.evm.transact_commit(tx_env(tx))
        };
        let result = result.map_err(|error| {
            // The rejected transaction's reads are not the block's.
            self.evm.ctx.journaled_state.database.discard_pending();
            match error {
                EVMError::Transaction(reason) => TransactionError::Invalid { hash, reason },
                EVMError::Database(error) => TransactionError::Database { hash, reason: error.to_string() },
                other => TransactionError::Evm { hash, reason: other.to_string() },
            }
        })?;

        let gas_used = result.tx_gas_used();
        let gas_spent = result.gas().total_gas_spent();
        // Cannot overflow: gas used is at most the transaction's limit, checked above.
        self.gas_used = self.gas_used.saturating_add(gas_used);
        self.blob_gas_used = self.blob_gas_used.saturating_add(blob_gas);
        self.transactions_size = self.transactions_size.saturating_add(size);
        let success = result.is_success();
        let output = result.output().cloned().unwrap_or_default();
        let halt = match &result {
            ExecutionResult::Halt { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        let receipt =
            Receipt { status: success.into(), cumulative_gas_used: self.gas_used, logs: result.into_logs() };
        let receipt = ReceiptEnvelope::from_typed(envelope.tx_type(), receipt.with_bloom());
        self.receipts.push(receipt.clone());
        Ok(TxOutcome {
            hash,
            receipt,
            success,
            gas_used,
            gas_spent,
            blob_gas_used: blob_gas,
            effective_gas_price: envelope.effective_gas_price(Some(self.base_fee)),
            blob_gas_price: self.blob_gas_price.filter(|_| blob_gas > 0),
            contract_address: envelope.is_create().then(|| tx.signer().create(envelope.nonce())),
            output,
            halt,
        })
    }

    /// The nonce of `address` after the transactions executed so far: what a simulated call
    /// without a nonce takes, as geth reads it from the state before each call.
    pub fn nonce(&mut self, address: Address) -> Result<u64, ExecutionError> {
        let number = self.number;
        let account = self
            .evm
            .ctx
            .journaled_state
            .database
            .basic(address)
            .map_err(|error| ExecutionError::Database { number, reason: error.to_string() })?;
        Ok(account.map_or(0, |account| account.nonce))
    }

    /// The block's number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The base fee the block runs under.
    pub fn base_fee(&self) -> u64 {
        self.base_fee
    }

    /// Gas the included transactions used so far.
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// Gas the block has left for transactions.
    pub fn gas_available(&self) -> u64 {
        self.gas_limit.saturating_sub(self.gas_used)
    }

    /// Ends the block: credits the withdrawals (EIP-4895; an account left empty is removed as
    /// EIP-161 says), runs the post-block system calls and collects the EIP-7685 requests
    /// (EIP-7002 withdrawal and EIP-7251 consolidation requests from Prague; EIP-6110 deposit
    /// requests are not collected, see the module `system_calls`), and returns the block's
    /// receipts, changes and accesses.
    pub fn finish(mut self) -> Result<ExecutedBlock, ExecutionError> {
        let number = self.number;
        if !self.withdrawals.is_empty() {
            let journal = &mut self.evm.ctx.journaled_state;
            for withdrawal in std::mem::take(&mut self.withdrawals) {
                journal
                    .balance_incr(withdrawal.address, withdrawal.amount_wei())
                    .map_err(|error| ExecutionError::Database { number, reason: error.to_string() })?;
            }
            self.evm.commit_inner();
        }
        let requests = system_calls::post_block(&mut self.evm, self.chain.spec, number)?;
        let (changes, access) = self.evm.ctx.journaled_state.database.into_outcome();
        Ok(ExecutedBlock {
            receipts: self.receipts,
            gas_used: self.gas_used,
            blob_gas_used: self.blob_gas_used,
            base_fee: self.base_fee,
            excess_blob_gas: self.excess_blob_gas,
            requests,
            changes,
            access,
        })
    }
}

/// The L1 header rules on the free inputs, relative to the parent.
fn check_inputs(chain: &ChainConfig, parent: &Header, inputs: &BlockInputs) -> Result<(), InputError> {
    if parent.number.checked_add(1) != Some(inputs.number) {
        return Err(InputError::Number { parent: parent.number, number: inputs.number });
    }
    if inputs.timestamp <= parent.timestamp {
        return Err(InputError::Timestamp { parent: parent.timestamp, timestamp: inputs.timestamp });
    }
    let bound = parent.gas_limit / GAS_LIMIT_BOUND_DIVISOR;
    if inputs.gas_limit.abs_diff(parent.gas_limit) >= bound || inputs.gas_limit < MIN_GAS_LIMIT {
        return Err(InputError::GasLimit { parent: parent.gas_limit, gas_limit: inputs.gas_limit });
    }
    if inputs.extra_data.len() > MAX_EXTRA_DATA {
        return Err(InputError::ExtraData(inputs.extra_data.len()));
    }
    if !inputs.withdrawals.is_empty() && !chain.spec.is_enabled_in(SpecId::SHANGHAI) {
        return Err(InputError::WithdrawalsBeforeShanghai);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
