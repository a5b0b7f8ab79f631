//! Account state at a block: balances, nonces, code, storage and EIP-1186 proofs. The head's
//! accounts are read from the flat tables (and the RPC's cache of the head's accounts); older
//! blocks' through the trie at their state root, on a blocking thread.

use super::{error::RpcError, eth::EthRpc, executions::blocking};
use crate::store::StateReader;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use jsonrpsee::{core::async_trait, proc_macros::rpc};
use std::collections::BTreeMap;
use trace_builder::state_trie::StateTrie;

/// The most slots one `eth_getStorageValues` call reads, over all its accounts.
const MAX_STORAGE_VALUES: usize = 1024;

/// Account state.
#[rpc(server, namespace = "eth")]
pub trait EthStateApi {
    /// Balance of an account at a block.
    #[method(name = "getBalance")]
    async fn balance(&self, address: Address, block: Option<BlockId>) -> Result<U256, RpcError>;
    /// Nonce of an account at a block (`pending` counts pooled transactions).
    #[method(name = "getTransactionCount")]
    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> Result<U256, RpcError>;
    /// Code of an account at a block.
    #[method(name = "getCode")]
    async fn code(&self, address: Address, block: Option<BlockId>) -> Result<Bytes, RpcError>;
    /// A storage slot at a block.
    #[method(name = "getStorageAt")]
    async fn storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> Result<B256, RpcError>;
    /// Many storage slots of many accounts at one block: per account, the values in the order
    /// of its slots.
    #[method(name = "getStorageValues")]
    async fn storage_values(
        &self,
        requests: BTreeMap<Address, Vec<U256>>,
        block: Option<BlockId>,
    ) -> Result<BTreeMap<Address, Vec<B256>>, RpcError>;
    /// EIP-1186 account and storage proofs at a block.
    #[method(name = "getProof")]
    async fn proof(
        &self,
        address: Address,
        slots: Vec<alloy_serde::JsonStorageKey>,
        block: Option<BlockId>,
    ) -> Result<EIP1186AccountProofResponse, RpcError>;
}

#[async_trait]
impl EthStateApiServer for EthRpc {
    async fn balance(&self, address: Address, block: Option<BlockId>) -> Result<U256, RpcError> {
        let block = self.resolve_required(block).await?;
        Ok(self.account_at(address, &block).await?.map(|a| a.balance).unwrap_or_default())
    }

    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> Result<U256, RpcError> {
        let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        let block = self.resolve_required(block).await?;
        let nonce = self.account_at(address, &block).await?.map(|a| a.nonce).unwrap_or_default();
        let nonce = if pending { self.mempool.pending_nonce(address, nonce) } else { nonce };
        Ok(U256::from(nonce))
    }

    async fn code(&self, address: Address, block: Option<BlockId>) -> Result<Bytes, RpcError> {
        let block = self.resolve_required(block).await?;
        let Some(account) = self.account_at(address, &block).await? else { return Ok(Bytes::new()) };
        if account.code_hash == alloy_consensus::constants::KECCAK_EMPTY {
            return Ok(Bytes::new());
        }
        Ok(self.store.code(account.code_hash).await?.unwrap_or_default())
    }

    async fn storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> Result<B256, RpcError> {
        let block = self.resolve_required(block).await?;
        let value = if block.is_head {
            self.store.storage(address, slot).await?
        } else {
            let nodes = self.nodes.clone();
            let root = block.header.state_root;
            blocking(move || StateTrie::new(nodes, root).storage(address, slot)).await?
        };
        Ok(B256::from(value))
    }

    async fn storage_values(
        &self,
        requests: BTreeMap<Address, Vec<U256>>,
        block: Option<BlockId>,
    ) -> Result<BTreeMap<Address, Vec<B256>>, RpcError> {
        let slots: usize = requests.values().map(Vec::len).sum();
        if slots > MAX_STORAGE_VALUES {
            return Err(RpcError::InvalidParams(format!(
                "too many slots: {slots}, at most {MAX_STORAGE_VALUES} per call"
            )));
        }
        // All through the trie at the block's state root, even at the head: the flat tables
        // move on as blocks are sealed, and one answer must not mix two blocks.
        let block = self.resolve_required(block).await?;
        let mut trie = StateTrie::new(self.nodes.clone(), block.header.state_root);
        let values = blocking(move || {
            requests
                .into_iter()
                .map(|(address, slots)| {
                    let read = slots.into_iter().map(|slot| trie.storage(address, slot).map(B256::from));
                    Ok((address, read.collect::<Result<_, _>>()?))
                })
                .collect::<Result<_, trace_builder::TrieError>>()
        })
        .await?;
        Ok(values)
    }

    async fn proof(
        &self,
        address: Address,
        slots: Vec<alloy_serde::JsonStorageKey>,
        block: Option<BlockId>,
    ) -> Result<EIP1186AccountProofResponse, RpcError> {
        let block = self.resolve_required(block).await?;
        let nodes = self.nodes.clone();
        let root = block.header.state_root;
        // A key shorter than 32 bytes (`0x0`) is the number it spells, as geth reads it; the
        // answer names each key as it was asked.
        let keys: Vec<U256> = slots.iter().map(|slot| U256::from_be_bytes(slot.as_b256().0)).collect();
        let proof = blocking(move || StateTrie::new(nodes, root).proof(address, &keys)).await?;
        let account = proof.account.unwrap_or_default();
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: if proof.account.is_some() {
                account.code_hash
            } else {
                alloy_consensus::constants::KECCAK_EMPTY
            },
            nonce: account.nonce,
            storage_hash: if proof.account.is_some() {
                account.storage_root
            } else {
                alloy_consensus::constants::EMPTY_ROOT_HASH
            },
            account_proof: proof.account_proof,
            storage_proof: proof
                .storage
                .into_iter()
                .zip(slots)
                .map(|(storage, slot)| EIP1186StorageProof {
                    key: slot,
                    value: storage.value,
                    proof: storage.proof,
                })
                .collect(),
        })
    }
}
