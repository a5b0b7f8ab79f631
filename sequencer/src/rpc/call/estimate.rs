//! `eth_estimateGas`: the least gas limit with which a request succeeds, by a binary search over
//! runs of the call.

use super::{Mode, Simulator, failure, request::request_input};
use crate::rpc::error::RpcError;
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_primitives::{Address, KECCAK256_EMPTY, TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use revm::{
    Database,
    context::result::{ExecutionResult, HaltReason, InvalidTransaction},
    primitives::eip7825::TX_GAS_LIMIT_CAP,
};

/// The gas of a plain transfer.
const TRANSFER_GAS: u64 = 21_000;

impl Simulator {
    /// The least gas limit with which `request` succeeds; a request that fails even with the
    /// most gas allowed returns its failure (revert data included).
    pub(super) fn estimate(&mut self, request: &TransactionRequest) -> Result<u64, RpcError> {
        let cap = self.env.block.gas_limit.min(TX_GAS_LIMIT_CAP);
        let mut hi = request.gas.unwrap_or(cap).min(cap);
        // A priced request cannot use more gas than its sender can pay for, after its value and
        // its blobs at their fee cap (geth's).
        let fee = request.max_fee_per_gas.or(request.gas_price).unwrap_or_default();
        if fee > 0 {
            let balance = self.balance(request.from.unwrap_or_default())?;
            let blobs = request.blob_versioned_hashes.as_ref().map_or(0, Vec::len);
            let blob_fees = U256::from(request.max_fee_per_blob_gas.unwrap_or_default())
                * U256::from(DATA_GAS_PER_BLOB)
                * U256::from(blobs);
            let spendable =
                balance.saturating_sub(request.value.unwrap_or_default()).saturating_sub(blob_fees);
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
        let used = match first {
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
            Ok(result) => Ok(result.is_success()),
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
}

fn is_out_of_gas(reason: &HaltReason) -> bool {
    matches!(reason, HaltReason::OutOfGas(_))
}
