//! The chain's genesis: a geth genesis JSON file turned into block 0, its state and trie nodes.

use crate::{
    error::GenesisError,
    store::{BlockRecord, TransactionRecord},
};
use alloy_consensus::{
    Header,
    constants::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, KECCAK_EMPTY},
};
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH};
use alloy_primitives::{B256, Bytes, U256, keccak256, map::B256Map};
use std::path::Path;
use trace_builder::{
    AccountChange, AccountState, StateChanges,
    state_trie::StateTrie,
    trie::{CommittedNode, Location},
};

/// The dev chain's genesis (config/dev-genesis.json), built into the binary.
pub const DEV_GENESIS_JSON: &str = include_str!("../../config/dev-genesis.json");

/// The mnemonic whose accounts 0..9 the dev genesis funds, as other dev nodes do.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// A chain's genesis block and state, ready to be committed as block 0.
#[derive(Clone, Debug)]
pub struct ChainGenesis {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The genesis header.
    pub header: Header,
    /// `keccak256(rlp(header))`.
    pub hash: B256,
    /// The allocation as state changes from the empty state.
    pub state: StateChanges,
    /// Trie nodes of the genesis state.
    pub trie_nodes: Vec<CommittedNode>,
}

impl ChainGenesis {
    /// Reads a geth genesis JSON file.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| GenesisError::Read { path: path.to_owned(), source })?;
        Self::from_json(&text)
    }

    /// The built-in dev genesis.
    pub fn dev() -> Result<Self, GenesisError> {
        Self::from_json(DEV_GENESIS_JSON)
    }

    /// Parses geth genesis JSON and builds the genesis block.
    ///
    /// The L2 runs one fork from genesis on (DESIGN.md: the newest L1 fork), so the genesis must
    /// activate every fork up to Osaka at time 0.
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        Self::from_genesis(serde_json::from_str(text)?)
    }

    /// Builds the genesis block of a parsed geth genesis.
    pub fn from_genesis(genesis: alloy_genesis::Genesis) -> Result<Self, GenesisError> {
        let config = &genesis.config;
        for (name, time) in [
            ("shanghaiTime", config.shanghai_time),
            ("cancunTime", config.cancun_time),
            ("pragueTime", config.prague_time),
            ("osakaTime", config.osaka_time),
        ] {
            if time != Some(0) {
                return Err(GenesisError::Unsupported(format!(
                    "config.{name} must be 0: the chain runs the Osaka rules from genesis on"
                )));
            }
        }
        if config.chain_id == 0 {
            return Err(GenesisError::Unsupported("config.chainId must be set and non-zero".into()));
        }
        if genesis.extra_data.len() > 32 {
            return Err(GenesisError::Unsupported(format!(
                "extraData has {} bytes, at most 32 allowed",
                genesis.extra_data.len()
            )));
        }

        let mut state = StateChanges::default();
        for (address, account) in &genesis.alloc {
            let code = account.code.clone().unwrap_or_default();
            let code_hash = if code.is_empty() { KECCAK_EMPTY } else { keccak256(&code) };
            if !code.is_empty() {
                state.codes.insert(code_hash, code);
            }
            let storage = account
                .storage
                .iter()
                .flatten()
                .filter(|(_, value)| !value.is_zero())
                .map(|(slot, value)| (U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0)))
                .collect();
            state.accounts.insert(
                *address,
                AccountChange {
                    info: Some(AccountState {
                        nonce: account.nonce.unwrap_or_default(),
                        balance: account.balance,
                        code_hash,
                    }),
                    storage_wiped: false,
                    storage,
                },
            );
        }
        let mut trie = StateTrie::new(B256Map::<Bytes>::default(), EMPTY_ROOT_HASH);
        trie.update(&state)?;
        // The genesis block's nodes are the first a store holds.
        let (state_root, trie_nodes) = trie.commit_located(Location::MIN);

        let base_fee = genesis.base_fee_per_gas.map_or(INITIAL_BASE_FEE, |fee| fee as u64);
        let header = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: genesis.coinbase,
            state_root,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Default::default(),
            difficulty: genesis.difficulty,
            number: 0,
            gas_limit: genesis.gas_limit,
            gas_used: 0,
            timestamp: genesis.timestamp,
            extra_data: genesis.extra_data.clone(),
            mix_hash: genesis.mix_hash,
            nonce: genesis.nonce.into(),
            base_fee_per_gas: Some(base_fee),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(genesis.blob_gas_used.unwrap_or_default()),
            excess_blob_gas: Some(genesis.excess_blob_gas.unwrap_or_default()),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            block_access_list_hash: None,
            slot_number: None,
        };
        let hash = header.hash_slow();
        Ok(Self { chain_id: config.chain_id, header, hash, state, trie_nodes })
    }

    /// Block 0 as the store writes it.
    pub fn block_record(&self) -> BlockRecord {
        BlockRecord {
            header: self.header.clone(),
            hash: self.hash,
            transactions: Vec::<TransactionRecord>::new(),
            changes: self.state.clone(),
            access: Default::default(),
            trie_nodes: self.trie_nodes.clone(),
        }
    }
}
