//! The pool's admission rules that do not depend on the pool's contents: the stateless checks
//! the RPC runs before recovering the sender, the cost of a transaction, the replacement bump,
//! and geth's rules for EIP-7702 authorizations (given what the pool holds of the accounts
//! concerned).

use super::{PoolConfig, PoolError, SenderState, blobs};
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, U256};
use revm::{
    context_interface::cfg::GasParams,
    primitives::{eip7825::TX_GAS_LIMIT_CAP, hardfork::SpecId},
};
use trace_builder::chain::ChainConfig;

/// Largest init code of a contract creation (EIP-3860, up to Osaka).
pub(super) const MAX_INITCODE_SIZE: usize = revm::primitives::eip3860::MAX_INITCODE_SIZE;

/// `gas_limit * max_fee_per_gas + value`: the most a transaction can take from its sender.
pub(super) fn cost(tx: &TxEnvelope) -> U256 {
    U256::from(tx.gas_limit()).saturating_mul(U256::from(tx.max_fee_per_gas())).saturating_add(tx.value())
}

/// The checks that need neither the sender nor the state: type, chain id, size, gas limit
/// against the block's and the intrinsic cost, fee fields, minimum tip.
pub(super) fn validate_stateless(
    config: &PoolConfig,
    chain: &ChainConfig,
    block_gas_limit: u64,
    tx: &TxEnvelope,
) -> Result<(), PoolError> {
    let (chain_id, spec) = (chain.chain_id, chain.spec);
    // A blob transaction's size limit is its size in a block: its blobs are limited by count.
    let size = if tx.is_eip4844() {
        blobs::validate(chain, tx)?;
        blobs::without_sidecar(tx).encode_2718_len()
    } else {
        tx.encode_2718_len()
    };
    if size > config.max_tx_bytes {
        return Err(PoolError::OversizedData { size, limit: config.max_tx_bytes });
    }
    match tx.chain_id() {
        Some(got) if got != chain_id => return Err(PoolError::InvalidChainId { expected: chain_id, got }),
        None if !config.allow_unprotected_txs => return Err(PoolError::Unprotected),
        _ => {}
    }
    if tx.is_create() && tx.input().len() > MAX_INITCODE_SIZE {
        return Err(PoolError::InitCodeTooLarge { size: tx.input().len(), limit: MAX_INITCODE_SIZE });
    }
    if tx.gas_limit() > block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit { gas: tx.gas_limit(), limit: block_gas_limit });
    }
    if spec.is_enabled_in(SpecId::OSAKA) && tx.gas_limit() > TX_GAS_LIMIT_CAP {
        return Err(PoolError::GasLimitTooHigh { gas: tx.gas_limit(), cap: TX_GAS_LIMIT_CAP });
    }
    let tip = tx.priority_fee_or_price();
    if tip > tx.max_fee_per_gas() {
        return Err(PoolError::TipAboveFeeCap);
    }
    if tx.nonce() == u64::MAX {
        return Err(PoolError::NonceMax);
    }
    let (accounts, slots) = tx
        .access_list()
        .map(|list| (list.len() as u64, list.iter().map(|item| item.storage_keys.len() as u64).sum()))
        .unwrap_or_default();
    let authorizations = tx.authorization_list().map_or(0, |list| list.len() as u64);
    let gas = GasParams::new_spec(spec).initial_tx_gas(
        tx.input(),
        tx.is_create(),
        accounts,
        slots,
        authorizations,
        None,
    );
    let intrinsic = gas.initial_regular_gas.saturating_add(gas.initial_state_gas);
    if tx.gas_limit() < intrinsic {
        return Err(PoolError::IntrinsicGasTooLow { gas: tx.gas_limit(), needed: intrinsic });
    }
    if tx.gas_limit() < gas.floor_gas {
        return Err(PoolError::FloorDataGas { gas: tx.gas_limit(), needed: gas.floor_gas });
    }
    if tip < u128::from(config.min_tip_wei) {
        return Err(PoolError::Underpriced { tip, min: u128::from(config.min_tip_wei) });
    }
    if tx.is_eip7702() && authorizations == 0 {
        return Err(PoolError::EmptyAuthorizationList);
    }
    Ok(())
}

/// Whether `new` raises both fee fields of `old` (and, between blob transactions, the blob fee
/// cap) by at least `bump_percent`, and strictly.
pub(super) fn is_enough_bump(old: &TxEnvelope, new: &TxEnvelope, bump_percent: u64) -> bool {
    let raised = |old: u128, new: u128| {
        let threshold =
            U256::from(old).saturating_mul(U256::from(100 + u128::from(bump_percent))) / U256::from(100);
        new > old && U256::from(new) >= threshold
    };
    let blob_fee = match (old.max_fee_per_blob_gas(), new.max_fee_per_blob_gas()) {
        (Some(old), Some(new)) => raised(old, new),
        _ => true,
    };
    raised(old.max_fee_per_gas(), new.max_fee_per_gas())
        && raised(old.priority_fee_or_price(), new.priority_fee_or_price())
        && blob_fee
}

/// What the pool holds that geth's `validateAuth` looks at, for one admission.
#[derive(Clone, Copy, Debug)]
pub(super) struct AuthorizationContext {
    /// The sender is delegated (has code) or signed an authorization some pooled transaction
    /// carries.
    pub delegated: bool,
    /// The sender's pending transactions.
    pub pending: usize,
    /// A pending transaction of the sender has the new one's nonce (it would be replaced).
    pub replaces_pending: bool,
}

/// geth's `validateAuth`: a delegated sender, or one whose authorization is pooled, may have
/// one executable transaction in flight, at its next nonce; an authorization may not name an
/// account with more than one pooled transaction (`pooled` counts an account's pooled ones).
pub(super) fn check_authorizations(
    context: AuthorizationContext,
    nonce: u64,
    state: &SenderState,
    authorities: &[Address],
    pooled: impl Fn(&Address) -> usize,
) -> Result<(), PoolError> {
    if context.delegated {
        if context.pending == 0 {
            if nonce != state.nonce {
                return Err(PoolError::GappedNonceFromDelegated);
            }
        } else if !context.replaces_pending {
            return Err(PoolError::InflightTxLimitReached);
        }
    }
    for authority in authorities {
        if pooled(authority) > 1 {
            return Err(PoolError::AuthorityReserved { authority: *authority });
        }
    }
    Ok(())
}
