//! The bridge contract on L1 (`batcher/contracts/NativeRollupBridge.sol`, reference in
//! docs/bridge.md): its `sol!` bindings over the committed artifact, its deployment, and the
//! batch a proposer sends it, built from the L2's `rollup_getTrace` answer.

use crate::rollup_api::TraceResponse;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionReceipt;
use std::fmt;

alloy_sol_types::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    #[allow(missing_docs, clippy::too_many_arguments)]
    NativeRollupBridge,
    "contracts/artifacts/NativeRollupBridge.json"
);

pub use NativeRollupBridge::{
    Batch, ClaimDetails, NativeRollupBridgeErrors as BridgeRevert, NativeRollupBridgeInstance,
};

/// How the bridge settles batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettlementMode {
    /// EXECUTE judges every batch when it is submitted.
    #[default]
    Native,
    /// Claims stand after a challenge window unless EXECUTE judges a challenge false.
    Optimistic,
}

impl SettlementMode {
    /// The contract's `Mode` value.
    fn as_u8(self) -> u8 {
        match self {
            Self::Native => 0,
            Self::Optimistic => 1,
        }
    }

    /// The mode a bridge's `mode()` answers, if it is one.
    pub fn from_contract(value: u8) -> Option<Self> {
        [Self::Native, Self::Optimistic].into_iter().find(|mode| mode.as_u8() == value)
    }
}

impl std::str::FromStr for SettlementMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "native" => Ok(Self::Native),
            "optimistic" => Ok(Self::Optimistic),
            other => Err(format!("unknown settlement mode `{other}`: native or optimistic")),
        }
    }
}

impl fmt::Display for SettlementMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Native => "native",
            Self::Optimistic => "optimistic",
        })
    }
}

/// What a bridge is deployed with: its rules, fixed for its lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeParameters {
    /// The L2's chain id.
    pub chain_id: u64,
    /// EXECUTE's address on the L1.
    pub execute: Address,
    /// How batches settle.
    pub mode: SettlementMode,
    /// The only proposer, or `None` for anyone bonded.
    pub sequencer: Option<Address>,
    /// The bond a proposer must hold, in wei.
    pub proposer_bond: U256,
    /// The bond a challenger sends, in wei (optimistic mode).
    pub challenge_bond: U256,
    /// Seconds a claim can be challenged (optimistic mode).
    pub challenge_window: u64,
    /// Seconds between asking for a bond back and getting it (at least the window).
    pub bond_withdrawal_delay: u64,
    /// How many settlements' state roots the bridge keeps (its history ring).
    pub history: u64,
    /// The L2 genesis block's hash.
    pub genesis_block_hash: B256,
    /// The L2 genesis state root.
    pub genesis_state_root: B256,
}

/// Why the bridge could not be deployed or called.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The bridge refused the call with one of its errors.
    #[error("the bridge refused: {0:?}")]
    Refused(BridgeRevert),
    /// The call or the transaction failed otherwise (transport, gas, a revert without data).
    #[error(transparent)]
    Call(#[from] alloy_contract::Error),
    /// The transaction was sent but its receipt could not be had.
    #[error(transparent)]
    Receipt(#[from] alloy_provider::PendingTransactionError),
    /// The transaction was included and reverted.
    #[error("transaction {0} reverted")]
    Reverted(B256),
    /// The deployment left no contract address.
    #[error("the deployment left no contract")]
    NotDeployed,
}

impl BridgeError {
    /// The bridge's own error, when it refused a call with one.
    pub fn revert(&self) -> Option<&BridgeRevert> {
        match self {
            Self::Refused(revert) => Some(revert),
            _ => None,
        }
    }
}

/// Turns a contract error into the bridge's own refusal where it is one.
pub fn refusal(error: alloy_contract::Error) -> BridgeError {
    match error.as_decoded_interface_error::<BridgeRevert>() {
        Some(revert) => BridgeError::Refused(revert),
        None => BridgeError::Call(error),
    }
}

/// Deploys a bridge with `parameters` from the provider's default sender and waits for it.
pub async fn deploy<P: Provider>(provider: P, parameters: &BridgeParameters) -> Result<Address, BridgeError> {
    let deployment = NativeRollupBridge::deploy_builder(
        provider,
        parameters.chain_id,
        parameters.execute,
        parameters.mode.as_u8(),
        parameters.sequencer.unwrap_or_default(),
        parameters.proposer_bond,
        parameters.challenge_bond,
        parameters.challenge_window,
        parameters.bond_withdrawal_delay,
        U256::from(parameters.history),
        parameters.genesis_block_hash,
        parameters.genesis_state_root,
    );
    // A refusal (EXECUTE missing in native mode, bad parameters) shows at estimation.
    deployment.estimate_gas().await.map_err(refusal)?;
    let receipt = succeeded(deployment.send().await.map_err(refusal)?.get_receipt().await?)?;
    receipt.contract_address.ok_or(BridgeError::NotDeployed)
}

/// `receipt`, or [`BridgeError::Reverted`] if its transaction reverted.
pub fn succeeded(receipt: TransactionReceipt) -> Result<TransactionReceipt, BridgeError> {
    if receipt.status() { Ok(receipt) } else { Err(BridgeError::Reverted(receipt.transaction_hash)) }
}

/// Ring positions one `prewarmHistory` transaction covers: a slot for each position's state
/// root and one for every four positions' numbers, about 12.5 million gas, under the 16.7
/// million one transaction may use since Osaka (EIP-7825).
pub const PREWARM_POSITIONS_PER_TX: u64 = 448;

/// Writes a placeholder into every slot of `bridge`'s history ring that no settlement wrote yet
/// (`prewarmHistory`, [`PREWARM_POSITIONS_PER_TX`] positions a transaction), so that no
/// settlement pays for a fresh storage slot: about 27,800 gas a position, once. Returns the
/// gas the transactions used.
pub async fn prewarm_history<P: Provider>(
    provider: P,
    bridge: Address,
    history: u64,
) -> Result<u64, BridgeError> {
    let contract = NativeRollupBridge::new(bridge, provider);
    let mut gas = 0;
    for from in (0..history).step_by(PREWARM_POSITIONS_PER_TX as usize) {
        let to = (from + PREWARM_POSITIONS_PER_TX).min(history);
        let pending =
            contract.prewarmHistory(U256::from(from), U256::from(to)).send().await.map_err(refusal)?;
        gas += succeeded(pending.get_receipt().await?)?.gas_used;
    }
    Ok(gas)
}

/// The batch a proposer sends for `trace` (an answer of `rollup_getTrace`), and the bytes it
/// sends as `trace`: the trace itself in calldata mode, nothing in blob mode (the blobs carry it).
pub fn batch_of(trace: &TraceResponse) -> Batch {
    let bindings = &trace.bindings;
    Batch {
        parentBlockHash: bindings.parent_block_hash,
        lastNumber: bindings.last_number.to(),
        lastBlockHash: bindings.last_block_hash,
        lastTimestamp: bindings.last_timestamp.to(),
        postStateRoot: trace.post_state_root,
        gasUsed: U256::from(trace.gas_used.to::<u64>()),
        anchors: bindings.anchors.iter().map(|anchor| anchor.number.to()).collect(),
    }
}

/// What a challenger sends back of a claim made for `trace`.
pub fn claim_details_of(trace: &TraceResponse) -> ClaimDetails {
    let bindings = &trace.bindings;
    ClaimDetails {
        gasUsed: U256::from(trace.gas_used.to::<u64>()),
        lastTimestamp: bindings.last_timestamp.to(),
        anchors: bindings
            .anchors
            .iter()
            .map(|anchor| IExecute::L1Anchor { number: anchor.number.to(), blockHash: anchor.hash })
            .collect(),
    }
}

/// The empty `trace` argument of a blob-mode submission.
pub fn in_blobs() -> Bytes {
    Bytes::new()
}
