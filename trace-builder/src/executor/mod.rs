//! The one block executor (DESIGN.md, "One executor, one trie, two contexts"): given a state
//! view and a block's inputs it runs Ethereum's rules — system calls, transactions on revm,
//! receipts, fees, withdrawals, requests — and returns the receipts, what the block changed and
//! what it read. The sequencer's builder and the stateless verifier both call it.

mod block_state;
mod header;
mod transaction;

pub use block_state::BlockState;
pub use header::seal_header;
pub use transaction::tx_env;

use crate::{
    chain::ChainConfig,
    error::{ExecutionError, TransactionError},
    state::{StateAccess, StateChanges},
};
use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope, TxType,
    transaction::Recovered,
};
use alloy_eips::{
    eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS, eip4895::Withdrawal,
    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
    eip7685::Requests,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use revm::{
    Context, Database, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext, SystemCallCommitEvm,
    context::{BlockEnv, CfgEnv, result::ExecutionResult},
    context_interface::block::BlobExcessGasAndPrice,
    handler::{MainnetContext, MainnetEvm},
    primitives::hardfork::SpecId,
};

/// The free inputs of a block header; everything else is derived from the parent and from
/// executing the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInputs {
    /// Block number: the parent's plus one.
    pub number: u64,
    /// Seconds since the epoch; greater than the parent's.
    pub timestamp: u64,
    /// Recipient of priority fees.
    pub beneficiary: Address,
    /// Gas limit, within the parent's ± 1/1024.
    pub gas_limit: u64,
    /// PREVRANDAO (header mix hash).
    pub prev_randao: B256,
    /// Header extra data, at most 32 bytes.
    pub extra_data: Bytes,
    /// EIP-4788 parent beacon block root; on the L2, the L1 anchor.
    pub parent_beacon_block_root: B256,
    /// EIP-4895 withdrawals credited after the transactions (the L2 has none).
    pub withdrawals: Vec<Withdrawal>,
}

/// What one included transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// Hash of the transaction.
    pub hash: B256,
    /// Whether it succeeded (false: reverted or halted; it is still included).
    pub success: bool,
    /// Gas it used.
    pub gas_used: u64,
    /// Blob gas it used.
    pub blob_gas_used: u64,
    /// Address of the contract it created.
    pub contract_address: Option<Address>,
    /// Price per gas it paid.
    pub effective_gas_price: u128,
    /// Revert data or return data.
    pub output: Bytes,
}

/// A block's execution, ready to be sealed.
#[derive(Clone, Debug)]
pub struct ExecutedBlock {
    /// One receipt per transaction, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// Blob gas used by all transactions.
    pub blob_gas_used: u64,
    /// Base fee the block ran under.
    pub base_fee: u64,
    /// Excess blob gas the block ran under.
    pub excess_blob_gas: u64,
    /// EIP-7685 requests of the block.
    pub requests: Requests,
    /// Withdrawals credited.
    pub withdrawals: Vec<Withdrawal>,
    /// What the block changed.
    pub changes: StateChanges,
    /// What the block read.
    pub access: StateAccess,
}

/// Runs one block over a state view `DB`. Create it with [`BlockExecutor::new`] (pre-block
/// system calls), feed it transactions, then [`BlockExecutor::finish`] it.
pub struct BlockExecutor<DB: Database> {
    evm: MainnetEvm<MainnetContext<BlockState<DB>>>,
    number: u64,
    gas_limit: u64,
    max_blob_gas: u64,
    base_fee: u64,
    excess_blob_gas: u64,
    withdrawals: Vec<Withdrawal>,
    gas_used: u64,
    blob_gas_used: u64,
    receipts: Vec<ReceiptEnvelope>,
    spec: SpecId,
}

impl<DB: Database> std::fmt::Debug for BlockExecutor<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockExecutor")
            .field("number", &self.number)
            .field("gas_used", &self.gas_used)
            .field("transactions", &self.receipts.len())
            .finish_non_exhaustive()
    }
}

impl<DB: Database> BlockExecutor<DB> {
    /// Checks the inputs against the parent (L1 header rules) and runs the pre-block system
    /// calls: EIP-2935 (parent hash) and EIP-4788 (parent beacon block root).
    pub fn new(
        db: DB,
        chain: &ChainConfig,
        parent: &Header,
        inputs: &BlockInputs,
    ) -> Result<Self, ExecutionError> {
        let number = inputs.number;
        let invalid = |reason: String| ExecutionError::InvalidHeader { number, reason };
        if Some(number) != parent.number.checked_add(1) {
            return Err(invalid(format!(
                "number after parent {} must be {}",
                parent.number,
                parent.number + 1
            )));
        }
        if inputs.timestamp <= parent.timestamp {
            return Err(invalid(format!(
                "timestamp {} not after parent's {}",
                inputs.timestamp, parent.timestamp
            )));
        }
        let max_delta = parent.gas_limit / 1024;
        if inputs.gas_limit.abs_diff(parent.gas_limit) >= max_delta || inputs.gas_limit < 5_000 {
            return Err(invalid(format!(
                "gas limit {} not within parent's {} ± {}",
                inputs.gas_limit, parent.gas_limit, max_delta
            )));
        }
        if inputs.extra_data.len() > 32 {
            return Err(invalid(format!("extra data of {} bytes, at most 32", inputs.extra_data.len())));
        }
        let base_fee = chain.next_base_fee(parent);
        let excess_blob_gas = chain.next_excess_blob_gas(parent);
        let block = BlockEnv {
            number: U256::from(number),
            beneficiary: inputs.beneficiary,
            timestamp: U256::from(inputs.timestamp),
            gas_limit: inputs.gas_limit,
            basefee: base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(inputs.prev_randao),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
                excess_blob_gas,
                chain.blob.update_fraction as u64,
            )),
            slot_num: 0,
        };
        let mut cfg = CfgEnv::default();
        cfg.set_spec_and_mainnet_gas_params(chain.spec);
        cfg.chain_id = chain.chain_id;
        let mut evm =
            Context::mainnet().with_block(block).with_cfg(cfg).with_db(BlockState::new(db)).build_mainnet();
        let system_call =
            |evm: &mut MainnetEvm<MainnetContext<BlockState<DB>>>, contract: Address, data: B256| {
                evm.system_call_commit(contract, data.0.into())
                    .map(|_| ())
                    .map_err(|e| ExecutionError::SystemCall { number, contract, reason: e.to_string() })
            };
        if chain.spec.is_enabled_in(SpecId::PRAGUE) {
            system_call(&mut evm, HISTORY_STORAGE_ADDRESS, parent.hash_slow())?;
        }
        if chain.spec.is_enabled_in(SpecId::CANCUN) {
            system_call(&mut evm, BEACON_ROOTS_ADDRESS, inputs.parent_beacon_block_root)?;
        }
        Ok(Self {
            evm,
            number,
            gas_limit: inputs.gas_limit,
            max_blob_gas: chain.max_blob_gas_per_block(),
            base_fee,
            excess_blob_gas,
            withdrawals: inputs.withdrawals.clone(),
            gas_used: 0,
            blob_gas_used: 0,
            receipts: Vec::new(),
            spec: chain.spec,
        })
    }

    /// Executes one transaction and includes it. An error leaves the state and the block as
    /// they were: the builder skips the transaction, a verifier rejects the block.
    pub fn execute_transaction(&mut self, tx: &Recovered<TxEnvelope>) -> Result<TxOutcome, TransactionError> {
        let hash = *tx.inner().tx_hash();
        let available = self.gas_limit - self.gas_used;
        if tx.inner().gas_limit() > available {
            return Err(TransactionError::BlockGasExhausted {
                hash,
                gas_limit: tx.inner().gas_limit(),
                available,
            });
        }
        let blob_gas = tx.inner().blob_gas_used().unwrap_or_default();
        let blob_available = self.max_blob_gas - self.blob_gas_used;
        if blob_gas > blob_available {
            return Err(TransactionError::BlobGasExhausted { hash, blob_gas, available: blob_available });
        }
        let outcome = self.evm.transact(tx_env(tx)).map_err(|error| match error {
            revm::context::result::EVMError::Database(e) => {
                TransactionError::Database { hash, reason: e.to_string() }
            }
            other => TransactionError::Invalid { hash, reason: other.to_string() },
        })?;
        self.evm.commit(outcome.state);
        let result = outcome.result;
        let gas_used = result.tx_gas_used();
        self.gas_used += gas_used;
        self.blob_gas_used += blob_gas;
        let success = result.is_success();
        let contract_address = result.created_address();
        let output = match &result {
            ExecutionResult::Success { output, .. } => output.data().clone(),
            ExecutionResult::Revert { output, .. } => output.clone(),
            ExecutionResult::Halt { .. } => Bytes::new(),
        };
        let receipt = Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: self.gas_used,
            logs: result.into_logs(),
        };
        let tx_type = tx.inner().tx_type();
        self.receipts.push(ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::from(receipt)));
        Ok(TxOutcome {
            hash,
            success,
            gas_used,
            blob_gas_used: blob_gas,
            contract_address: contract_address.filter(|_| tx_type != TxType::Eip7702 || success),
            effective_gas_price: tx.inner().effective_gas_price(Some(self.base_fee)),
            output,
        })
    }

    /// Gas the included transactions used so far.
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// Credits withdrawals, runs the post-block system calls (EIP-7002, EIP-7251) and collects
    /// the block's requests. Deposit requests (EIP-6110) come from the beacon deposit contract's
    /// logs, which an L2 does not have; a chain that needs them is out of scope.
    pub fn finish(mut self) -> Result<ExecutedBlock, ExecutionError> {
        let number = self.number;
        for withdrawal in &self.withdrawals {
            self.evm
                .ctx
                .journaled_state
                .database
                .increment_balance(withdrawal.address, withdrawal.amount_wei())
                .map_err(|e| ExecutionError::Database { number, reason: e.to_string() })?;
        }
        let mut requests = Requests::default();
        if self.spec.is_enabled_in(SpecId::PRAGUE) {
            for (request_type, contract) in [
                (0x01u8, WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS),
                (0x02, CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS),
            ] {
                let result = self
                    .evm
                    .system_call_commit(contract, Bytes::new())
                    .map_err(|e| ExecutionError::SystemCall { number, contract, reason: e.to_string() })?;
                let ExecutionResult::Success { output, .. } = result else {
                    return Err(ExecutionError::SystemCall {
                        number,
                        contract,
                        reason: format!("{result:?}"),
                    });
                };
                let data = output.into_data();
                if !data.is_empty() {
                    requests.push_request_with_type(request_type, data);
                }
            }
        }
        let (changes, access) = self.evm.ctx.journaled_state.database.into_outcome();
        Ok(ExecutedBlock {
            receipts: self.receipts,
            gas_used: self.gas_used,
            blob_gas_used: self.blob_gas_used,
            base_fee: self.base_fee,
            excess_blob_gas: self.excess_blob_gas,
            requests,
            withdrawals: self.withdrawals,
            changes,
            access,
        })
    }
}
