//! Fee suggestions and history: `eth_gasPrice`, `eth_maxPriorityFeePerGas`, `eth_feeHistory`
//! `eth_baseFee` and `eth_blobBaseFee`, from the sealed blocks.

use super::{error::RpcError, eth::EthRpc, executions::client_of};
use crate::store::{BlockReader, TransactionReader};
use alloy_consensus::Transaction as _;
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{U64, U256};
use alloy_rpc_types_eth::FeeHistory;
use jsonrpsee::{core::async_trait, proc_macros::rpc};

/// The most blocks one `eth_feeHistory` call covers (geth's limit).
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;
/// The most blocks an `eth_feeHistory` call may ask for and still read at once, as a wallet's
/// does (a few blocks); one that asks for more waits its turn with the heavy calls
/// ([`super::Executions`]).
const FEE_HISTORY_BLOCKS_AT_ONCE: u64 = 32;
/// The most reward percentiles one `eth_feeHistory` call asks for (geth's).
const MAX_REWARD_PERCENTILES: usize = 100;
/// Blocks the tip suggestion looks back over.
const TIP_SAMPLE_BLOCKS: u64 = 20;
/// The percentile of recent effective tips that `eth_maxPriorityFeePerGas` suggests (geth's).
const TIP_PERCENTILE: f64 = 60.0;
/// The tip suggested when recent blocks hold no transactions: 0.001 gwei. The pool takes any
/// tip at or above its minimum; this one keeps ordering meaningful without overpaying.
const DEFAULT_TIP: u128 = 1_000_000;

/// Fee methods.
#[rpc(server, namespace = "eth")]
pub trait EthFeesApi {
    /// A gas price for a legacy transaction: the next base fee plus a suggested tip.
    #[method(name = "gasPrice")]
    async fn gas_price(&self) -> Result<U256, RpcError>;
    /// A priority fee for an EIP-1559 transaction.
    #[method(name = "maxPriorityFeePerGas")]
    async fn max_priority_fee_per_gas(&self) -> Result<U256, RpcError>;
    /// Base fees, gas use and reward percentiles of recent blocks.
    #[method(name = "feeHistory", with_extensions)]
    async fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> Result<FeeHistory, RpcError>;
    /// The blob base fee of the next block.
    #[method(name = "blobBaseFee")]
    async fn blob_base_fee(&self) -> Result<U256, RpcError>;
    /// The base fee per gas of the next block.
    #[method(name = "baseFee")]
    async fn base_fee(&self) -> Result<U256, RpcError>;
}

#[async_trait]
impl EthFeesApiServer for EthRpc {
    async fn gas_price(&self) -> Result<U256, RpcError> {
        Ok(U256::from(self.next_base_fee()) + U256::from(self.suggested_tip().await?))
    }

    async fn max_priority_fee_per_gas(&self) -> Result<U256, RpcError> {
        Ok(U256::from(self.suggested_tip().await?))
    }

    async fn fee_history(
        &self,
        ext: &jsonrpsee::Extensions,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> Result<FeeHistory, RpcError> {
        let count = block_count.to::<u64>().min(MAX_FEE_HISTORY_BLOCKS);
        let head = self.head.borrow().number;
        let newest = self.tag_number(newest_block);
        if newest > head {
            return Err(RpcError::BeyondHead { requested: newest, head });
        }
        // As geth: percentiles in [0, 100], strictly increasing; none asked, no rewards.
        let reward_percentiles = reward_percentiles.filter(|percentiles| !percentiles.is_empty());
        if let Some(percentiles) = &reward_percentiles {
            if percentiles.len() > MAX_REWARD_PERCENTILES {
                return Err(RpcError::TooManyRewardPercentiles(MAX_REWARD_PERCENTILES));
            }
            if let Some(p) = percentiles.iter().find(|p| !(0.0..=100.0).contains(*p)) {
                return Err(RpcError::RewardPercentileOutOfRange(*p));
            }
            if let Some(pair) = percentiles.windows(2).find(|pair| pair[0] >= pair[1]) {
                let (before, after) = (pair[0], pair[1]);
                return Err(RpcError::RewardPercentilesUnordered { before, after });
            }
        }
        if count == 0 {
            return Ok(FeeHistory::default());
        }
        // Up to 1,024 blocks of reads, and of transactions with percentiles: admitted as a heavy
        // call, held until the answer is built.
        let _permit = if count > FEE_HISTORY_BLOCKS_AT_ONCE {
            Some(self.executions.permit(client_of(ext)).await?)
        } else {
            None
        };
        let oldest = newest.saturating_sub(count - 1);
        let chain = &self.chain;
        let mut history = FeeHistory { oldest_block: oldest, ..FeeHistory::default() };
        let mut rewards = Vec::new();
        let mut last = None;
        for number in oldest..=newest {
            let Some(header) = self.store.header_by_number(number).await? else { break };
            let base_fee = header.base_fee_per_gas.unwrap_or_default();
            history.base_fee_per_gas.push(u128::from(base_fee));
            history.gas_used_ratio.push(header.gas_used as f64 / header.gas_limit.max(1) as f64);
            history
                .base_fee_per_blob_gas
                .push(chain.blob_base_fee(header.excess_blob_gas.unwrap_or_default()));
            history.blob_gas_used_ratio.push(
                header.blob_gas_used.unwrap_or_default() as f64
                    / chain.max_blob_gas_per_block().max(1) as f64,
            );
            if let Some(percentiles) = &reward_percentiles {
                rewards.push(self.block_rewards(number, base_fee, percentiles).await?);
            }
            last = Some(header);
        }
        // One more entry each: the block after the newest.
        if let Some(last) = last {
            history.base_fee_per_gas.push(u128::from(chain.next_base_fee(&last)));
            history.base_fee_per_blob_gas.push(chain.blob_base_fee(chain.next_excess_blob_gas(&last)));
        }
        history.reward = reward_percentiles.map(|_| rewards);
        Ok(history)
    }

    async fn blob_base_fee(&self) -> Result<U256, RpcError> {
        let excess_blob_gas = self.chain.next_excess_blob_gas(&self.head.borrow().header);
        Ok(U256::from(self.chain.blob_base_fee(excess_blob_gas)))
    }

    async fn base_fee(&self) -> Result<U256, RpcError> {
        Ok(U256::from(self.next_base_fee()))
    }
}

impl EthRpc {
    /// The base fee of the block after the head.
    pub(super) fn next_base_fee(&self) -> u64 {
        self.chain.next_base_fee(&self.head.borrow().header)
    }

    /// The 60th percentile of the effective tips paid in the last blocks.
    pub(super) async fn suggested_tip(&self) -> Result<u128, RpcError> {
        let head = self.head.borrow().number;
        let mut tips = Vec::new();
        for number in head.saturating_sub(TIP_SAMPLE_BLOCKS - 1)..=head {
            let Some(header) = self.store.header_by_number(number).await? else { continue };
            let base_fee = header.base_fee_per_gas.unwrap_or_default();
            for tx in self.store.block_transactions(number).await? {
                tips.push(tx.transaction.effective_tip_per_gas(base_fee).unwrap_or_default());
            }
        }
        if tips.is_empty() {
            return Ok(DEFAULT_TIP);
        }
        tips.sort_unstable();
        let index = ((tips.len() - 1) as f64 * TIP_PERCENTILE / 100.0) as usize;
        Ok(tips[index])
    }

    /// The effective tips at `percentiles` of block `number`'s gas, as geth computes them:
    /// transactions sorted by tip, each weighted by the gas it used.
    async fn block_rewards(
        &self,
        number: u64,
        base_fee: u64,
        percentiles: &[f64],
    ) -> Result<Vec<u128>, RpcError> {
        let transactions = self.store.block_transactions(number).await?;
        if transactions.is_empty() {
            return Ok(vec![0; percentiles.len()]);
        }
        let mut by_tip: Vec<(u128, u64)> = transactions
            .iter()
            .map(|tx| {
                (tx.transaction.effective_tip_per_gas(base_fee).unwrap_or_default(), tx.record.gas_used)
            })
            .collect();
        by_tip.sort_unstable();
        let total: u64 = by_tip.iter().map(|(_, gas)| gas).sum();
        let mut rewards = Vec::with_capacity(percentiles.len());
        let mut index = 0;
        let mut cumulative = by_tip[0].1;
        for percentile in percentiles {
            let threshold = (total as f64 * percentile / 100.0) as u64;
            while cumulative < threshold && index + 1 < by_tip.len() {
                index += 1;
                cumulative += by_tip[index].1;
            }
            rewards.push(by_tip[index].0);
        }
        Ok(rewards)
    }
}
