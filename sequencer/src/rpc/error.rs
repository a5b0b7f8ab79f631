//! The RPC's one error type, [`RpcError`], and the one place it becomes a JSON-RPC error object
//! (`From<RpcError> for ErrorObjectOwned`).
//!
//! Each variant keeps what failed as a typed value (a store, trie or execution error, the EVM's
//! reason for refusing a transaction, a pool refusal); its `Display` is the message the node
//! answers, in geth's words where geth has them, since wallets and libraries sort errors by
//! matching them. Codes are jsonrpsee's constants where JSON-RPC defines one, and geth's and the
//! execution-apis' own (-32000, -38xxx, 3 for a revert, EIP-7966's 4 and 6) otherwise.

use super::{
    call::{CallStateError, PrecompileMoveError},
    executions::QUEUE_TIMEOUT,
};
use crate::{batch_trace::TraceError, error::StoreError, mempool::PoolError};
use alloy_eips::eip2718::Eip2718Error;
use alloy_primitives::{B256, Bytes, U64, U256};
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::types::{
    ErrorObject, ErrorObjectOwned,
    error::{CALL_EXECUTION_FAILED_CODE, INTERNAL_ERROR_CODE, INVALID_PARAMS_CODE},
};
use revm::{
    bytecode::BytecodeDecodeError,
    context::result::{EVMError, HaltReason, InvalidHeader, InvalidTransaction},
    database_interface::bal::EvmDatabaseError,
};
use std::time::Duration;
use trace_builder::{ExecutionError, TransactionError, TrieError};

/// Why an RPC request failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    // Requests the node refuses (-32602).
    /// A parameter the node refuses, with why.
    #[error("{0}")]
    InvalidParams(String),
    /// Raw transaction bytes that do not decode.
    #[error("invalid transaction: {0}")]
    UndecodableTransaction(#[source] Eip2718Error),
    /// A `movePrecompileToAddress` override `eth_call` and the like refuse.
    #[error("{0}")]
    InvalidOverride(#[source] PrecompileMoveError),
    /// A code override that does not decode (an EIP-7702 delegation that is not one).
    #[error("invalid code override: {0}")]
    InvalidCodeOverride(#[source] BytecodeDecodeError),

    // What geth answers with a server error (-32000).
    /// The block the request names is not stored.
    #[error("header not found")]
    HeaderNotFound,
    /// The block hash a log filter names is not stored.
    #[error("unknown block")]
    UnknownBlock,
    /// No installed filter has this id (or it expired).
    #[error("filter not found")]
    FilterNotFound,
    /// The pool refused the transaction (a nonce gap is EIP-7966's code 6).
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The transaction's signature recovers no sender.
    #[error("invalid sender: bad signature")]
    InvalidSender,
    /// The EVM refused the call's transaction before running it; `message` is geth's wording,
    /// which names the request's sender and fees.
    #[error("{message}")]
    Rejected {
        /// The EVM's reason.
        reason: Box<InvalidTransaction>,
        /// geth's words for it.
        message: String,
    },
    /// The block environment of a call is invalid.
    #[error("{0}")]
    InvalidBlock(InvalidHeader),
    /// The call reverted, with its revert data (code 3 when there is any).
    #[error("{}", reverted_message(.0))]
    Reverted(Bytes),
    /// The call halted (out of gas, invalid opcode...).
    #[error("{}", halt_message(.0))]
    Halted(HaltReason),
    /// A failure was asked for a run that succeeded; never expected.
    #[error("succeeded")]
    Succeeded,
    /// The estimate's search found no gas limit up to this cap with which the call succeeds.
    #[error("gas required exceeds allowance ({0})")]
    GasRequiredExceedsAllowance(u64),
    /// The request's value is more than the sender has.
    #[error("insufficient funds for transfer")]
    InsufficientFundsForTransfer,
    /// `eth_createAccessList` found no fixed point.
    #[error("access list did not settle")]
    AccessListUnsettled,
    /// The request names blob versioned hashes on the L2, which takes no blob transaction.
    #[error("transaction type not supported: blob transactions are not accepted on L2")]
    BlobTransactionsUnsupported,
    /// The request names blob versioned hashes for a method that builds its transactions
    /// without a sidecar (on the dev L1: `eth_simulateV1`, `eth_fillTransaction`).
    #[error("transaction type not supported: {0} takes no blob transaction")]
    BlobTransactionsUnsupportedBy(&'static str),
    /// A run on the RPC's own thread needed the database or more time; never answered, the
    /// request starts again on a blocking thread.
    #[error("needs the database or more time")]
    FellShort,
    /// The request's execution ran out of the call timeout (geth's words: `5s`, `1.5s`).
    #[error("execution aborted (timeout = {}s)", .0.as_secs_f64())]
    ExecutionTimeout(Duration),
    /// The node is stopping: the execution was refused or stopped.
    #[error("execution aborted: the node is shutting down")]
    ExecutionAborted,
    /// No execution became free within the queue's wait.
    #[error("server busy: no call could start executing within {}s", QUEUE_TIMEOUT.as_secs())]
    ServerBusy,
    /// The node stopped while a request waited for its transaction's receipt.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// `eth_feeHistory`'s newest block is past the head.
    #[error("request beyond head block: requested {requested}, head {head}")]
    BeyondHead {
        /// The block asked for.
        requested: u64,
        /// The head.
        head: u64,
    },
    /// More reward percentiles than one `eth_feeHistory` takes.
    #[error("invalid reward percentile: over the query limit {0}")]
    TooManyRewardPercentiles(usize),
    /// A reward percentile outside [0, 100].
    #[error("invalid reward percentile: {0}")]
    RewardPercentileOutOfRange(f64),
    /// Reward percentiles not strictly increasing.
    #[error("invalid reward percentile: {after} after {before}")]
    RewardPercentilesUnordered {
        /// The earlier percentile.
        before: f64,
        /// The one after it, not larger.
        after: f64,
    },
    /// Installing the filter would pass the bound on held addresses and topics.
    #[error(
        "too many filter criteria installed: {held} addresses and topics are held, at most {limit}; \
         uninstall filters or name fewer"
    )]
    TooManyFilterCriteria {
        /// Criteria held now.
        held: usize,
        /// The bound.
        limit: usize,
    },
    /// As many filters are installed as the node keeps.
    #[error("too many filters installed (limit {0})")]
    TooManyFilters(usize),

    // EIP-7966 (`eth_sendRawTransactionSync`).
    /// Pooled, but not included within the request's timeout (code 4, the hash in `data`).
    #[error("the transaction was added to the pool but not included within {} ms", .timeout.as_millis())]
    NotIncluded {
        /// The pooled transaction.
        hash: B256,
        /// How long the request waited.
        timeout: Duration,
    },

    // `eth_simulateV1`'s codes (execution-apis).
    /// A simulated call its block refused before running it; the code follows the reason.
    #[error("{message}")]
    SimulationRejected {
        /// The EVM's reason.
        reason: Box<InvalidTransaction>,
        /// geth's words for it.
        message: String,
    },
    /// A simulated call asks for more gas than its block has left (-38015).
    #[error("block gas limit reached: the call asks for {gas_limit}, the block has {available} left")]
    BlockGasLimitReached {
        /// The call's gas limit.
        gas_limit: u64,
        /// Gas left in the block.
        available: u64,
    },
    /// Simulated block numbers that do not increase (-38020).
    #[error("block numbers must increase: {number} after {parent}")]
    BlockNumberOrder {
        /// The block's number.
        number: u64,
        /// The number before it.
        parent: u64,
    },
    /// Simulated block times that do not increase (-38021).
    #[error("block timestamps must increase: {timestamp} after {parent}")]
    BlockTimeOrder {
        /// The block's time.
        timestamp: u64,
        /// The time before it.
        parent: u64,
    },
    /// Simulated block times past `u64` (-38021).
    #[error("block timestamps overflow")]
    BlockTimeOverflow,
    /// A `movePrecompileToAddress` override a simulation refuses, under the spec's codes.
    #[error("{0}")]
    SimulationOverride(#[source] PrecompileMoveError),
    /// A simulation past the node's limits (-38026).
    #[error("{0}")]
    ClientLimit(String),

    // The node's own failures (-32603), logged.
    /// The store failed.
    #[error("internal error: {0}")]
    Store(#[from] StoreError),
    /// The state trie failed.
    #[error("internal error: {0}")]
    Trie(#[from] TrieError),
    /// A call's state could not be read (a read past the call timeout is
    /// [`RpcError::ExecutionTimeout`]).
    #[error("internal error: {0}")]
    CallState(CallStateError),
    /// The EVM failed otherwise than by refusing the transaction.
    #[error("internal error: {0}")]
    Evm(Box<EVMError<EvmDatabaseError<CallStateError>>>),
    /// The block executor failed.
    #[error("internal error: {0}")]
    Execution(#[from] ExecutionError),
    /// A simulated block refused a call for a reason a call cannot have.
    #[error("internal error: {0}")]
    Transaction(TransactionError),
    /// `rollup_getTrace` failed for a reason other than its range.
    #[error("internal error: {0}")]
    Trace(TraceError),
    /// The requested trace range is not one the node can trace (-32602).
    #[error("{0}")]
    TraceRange(TraceError),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// An answer could not be serialised.
    #[error("internal error: {0}")]
    Json(#[from] serde_json::Error),
    /// A mined transaction with logs whose logs are not stored.
    #[error("internal error: the logs of transaction {0} are not stored")]
    MissingLogs(B256),
    /// The genesis block is not stored.
    #[error("internal error: the genesis block is not stored")]
    MissingGenesis,
    /// The bridge settled a block this node does not hold, or with another state root.
    #[error("internal error: {0}")]
    SettlementMismatch(String),

    // `rollup_getWithdrawalProof`.
    /// The node follows no bridge that its genesis's L2 bridge carries messages for.
    #[error("no messaging: this node follows no bridge whose messages its genesis's L2 bridge carries")]
    NoMessaging,
}

/// Internal failures, which are logged where they become a response.
fn is_internal(error: &RpcError) -> bool {
    matches!(
        error,
        RpcError::Store(_)
            | RpcError::Trie(_)
            | RpcError::CallState(_)
            | RpcError::Evm(_)
            | RpcError::Execution(_)
            | RpcError::Transaction(_)
            | RpcError::Trace(_)
            | RpcError::Task(_)
            | RpcError::Json(_)
            | RpcError::MissingLogs(_)
            | RpcError::MissingGenesis
            | RpcError::SettlementMismatch(_)
    )
}

/// execution-apis' codes of `eth_simulateV1`.
mod simulate_code {
    pub(super) const NONCE_TOO_LOW: i32 = -38010;
    pub(super) const NONCE_TOO_HIGH: i32 = -38011;
    pub(super) const BASE_FEE_TOO_LOW: i32 = -38012;
    pub(super) const INTRINSIC_GAS: i32 = -38013;
    pub(super) const INSUFFICIENT_FUNDS: i32 = -38014;
    pub(super) const BLOCK_GAS_LIMIT: i32 = -38015;
    pub(super) const BLOCK_NUMBER_ORDER: i32 = -38020;
    pub(super) const BLOCK_TIME_ORDER: i32 = -38021;
    pub(super) const MOVED_TO_ITSELF: i32 = -38022;
    pub(super) const MOVED_TO_SAME_ADDRESS: i32 = -38023;
    pub(super) const SENDER_NOT_EOA: i32 = -38024;
    pub(super) const INIT_CODE_SIZE: i32 = -38025;
    pub(super) const CLIENT_LIMIT: i32 = -38026;
}

/// JSON-RPC code of a reverted call with revert data (geth's).
const EXECUTION_REVERTED_CODE: i32 = 3;
/// EIP-7966: pooled, not included in time.
const NOT_INCLUDED_CODE: i32 = 4;
/// EIP-7966: not pooled, the nonce is past the sender's next.
const NONCE_GAP_CODE: i32 = 6;

impl From<RpcError> for ErrorObjectOwned {
    fn from(error: RpcError) -> Self {
        use RpcError::*;
        if is_internal(&error) {
            tracing::warn!(target: "rpc", %error, "internal error");
        }
        let message = error.to_string();
        let (code, data) = match error {
            InvalidParams(_)
            | UndecodableTransaction(_)
            | InvalidOverride(_)
            | InvalidCodeOverride(_)
            | TraceRange(_) => (INVALID_PARAMS_CODE, None),
            Pool(PoolError::NonceGap { expected, .. }) => {
                (NONCE_GAP_CODE, Some(serde_json::json!(U64::from(expected))))
            }
            Reverted(output) if !output.is_empty() => {
                (EXECUTION_REVERTED_CODE, Some(serde_json::json!(output)))
            }
            NotIncluded { hash, .. } => (NOT_INCLUDED_CODE, Some(serde_json::json!(hash))),
            SimulationRejected { reason, .. } => (simulation_code(&reason), None),
            BlockGasLimitReached { .. } => (simulate_code::BLOCK_GAS_LIMIT, None),
            BlockNumberOrder { .. } => (simulate_code::BLOCK_NUMBER_ORDER, None),
            BlockTimeOrder { .. } | BlockTimeOverflow => (simulate_code::BLOCK_TIME_ORDER, None),
            SimulationOverride(refused) => (
                match refused {
                    PrecompileMoveError::ToItself(_) => simulate_code::MOVED_TO_ITSELF,
                    PrecompileMoveError::SameDestination(_)
                    | PrecompileMoveError::DestinationOverridden(_) => simulate_code::MOVED_TO_SAME_ADDRESS,
                    PrecompileMoveError::NotAPrecompile(_) => INVALID_PARAMS_CODE,
                },
                None,
            ),
            ClientLimit(_) => (simulate_code::CLIENT_LIMIT, None),
            Store(_)
            | Trie(_)
            | CallState(_)
            | Evm(_)
            | Execution(_)
            | Transaction(_)
            | Trace(_)
            | Task(_)
            | Json(_)
            | MissingLogs(_)
            | MissingGenesis
            | SettlementMismatch(_) => (INTERNAL_ERROR_CODE, None),
            HeaderNotFound
            | NoMessaging
            | UnknownBlock
            | FilterNotFound
            | Pool(_)
            | InvalidSender
            | Rejected { .. }
            | InvalidBlock(_)
            | Reverted(_)
            | Halted(_)
            | Succeeded
            | GasRequiredExceedsAllowance(_)
            | InsufficientFundsForTransfer
            | AccessListUnsettled
            | BlobTransactionsUnsupported
            | BlobTransactionsUnsupportedBy(_)
            | FellShort
            | ExecutionTimeout(_)
            | ExecutionAborted
            | ServerBusy
            | ShuttingDown
            | BeyondHead { .. }
            | TooManyRewardPercentiles(_)
            | RewardPercentileOutOfRange(_)
            | RewardPercentilesUnordered { .. }
            | TooManyFilterCriteria { .. }
            | TooManyFilters(_) => (CALL_EXECUTION_FAILED_CODE, None),
        };
        ErrorObject::owned(code, message, data)
    }
}

impl From<TraceError> for RpcError {
    fn from(error: TraceError) -> Self {
        match error {
            TraceError::Range { .. } => Self::TraceRange(error),
            other => Self::Trace(other),
        }
    }
}

impl From<CallStateError> for RpcError {
    fn from(error: CallStateError) -> Self {
        match error {
            CallStateError::Timeout(timeout) => Self::ExecutionTimeout(timeout),
            other => Self::CallState(other),
        }
    }
}

impl From<EvmDatabaseError<CallStateError>> for RpcError {
    fn from(error: EvmDatabaseError<CallStateError>) -> Self {
        EVMError::Database(error).into()
    }
}

impl From<EVMError<EvmDatabaseError<CallStateError>>> for RpcError {
    fn from(error: EVMError<EvmDatabaseError<CallStateError>>) -> Self {
        match error {
            EVMError::Database(EvmDatabaseError::Database(error)) => error.into(),
            other => Self::Evm(Box::new(other)),
        }
    }
}

/// The code of a simulated call its block refused: the spec's where it has one.
fn simulation_code(reason: &InvalidTransaction) -> i32 {
    match reason {
        InvalidTransaction::NonceTooLow { .. } => simulate_code::NONCE_TOO_LOW,
        InvalidTransaction::NonceTooHigh { .. } => simulate_code::NONCE_TOO_HIGH,
        InvalidTransaction::GasPriceLessThanBasefee => simulate_code::BASE_FEE_TOO_LOW,
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => simulate_code::INTRINSIC_GAS,
        InvalidTransaction::LackOfFundForMaxFee { .. } => simulate_code::INSUFFICIENT_FUNDS,
        InvalidTransaction::RejectCallerWithCode => simulate_code::SENDER_NOT_EOA,
        InvalidTransaction::CreateInitCodeSizeLimit => simulate_code::INIT_CODE_SIZE,
        _ => CALL_EXECUTION_FAILED_CODE,
    }
}

/// geth's message of a revert: with the reason when the data is an `Error(string)`.
fn reverted_message(output: &Bytes) -> String {
    match revert_reason(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_data_follow_the_variant() {
        let object = ErrorObjectOwned::from(RpcError::Pool(PoolError::NonceGap { expected: 7, got: 9 }));
        assert_eq!(object.code(), NONCE_GAP_CODE);
        assert_eq!(object.data().map(|data| data.get()), Some(r#""0x7""#));
        let object = ErrorObjectOwned::from(RpcError::Reverted(Bytes::new()));
        assert_eq!((object.code(), object.message()), (CALL_EXECUTION_FAILED_CODE, "execution reverted"));
        let object = ErrorObjectOwned::from(RpcError::Reverted(Bytes::from_static(&[1])));
        assert_eq!(object.code(), EXECUTION_REVERTED_CODE);
        let object = ErrorObjectOwned::from(RpcError::ExecutionTimeout(Duration::from_millis(1500)));
        assert_eq!(object.message(), "execution aborted (timeout = 1.5s)");
        let object = ErrorObjectOwned::from(RpcError::MissingGenesis);
        assert_eq!(object.code(), INTERNAL_ERROR_CODE);
    }

    #[test]
    fn a_state_read_past_the_deadline_is_a_timeout() {
        let timeout = Duration::from_secs(5);
        let error = RpcError::from(EvmDatabaseError::Database(CallStateError::Timeout(timeout)));
        assert!(matches!(error, RpcError::ExecutionTimeout(t) if t == timeout), "{error:?}");
        let error = RpcError::from(EvmDatabaseError::Database(CallStateError::MissingCode(B256::ZERO)));
        assert!(matches!(error, RpcError::CallState(CallStateError::MissingCode(_))), "{error:?}");
    }

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
}
