//! Runner for ethereum/tests BlockchainTests: builds the `pre` state into the trie, runs every
//! block's RLP through the block executor and checks the sealed header (and with it the state,
//! transactions, receipts and withdrawals roots, bloom, gas), the post state and the last block
//! hash.

use crate::{
    chain::ChainConfig,
    executor::{BlockExecutor, BlockInputs, seal_header},
    state::{AccountChange, AccountState, StateChanges},
    state_trie::StateTrie,
    trie::{EMPTY_ROOT_HASH, ordered_trie_root},
    trie_database::TrieDatabase,
};
use alloy_consensus::{Block, Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, map::B256Map};
use alloy_rlp::Decodable;
use revm::primitives::{KECCAK_EMPTY, hardfork::SpecId};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One test of a BlockchainTests file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockchainTest {
    /// Fork name, e.g. `Cancun`.
    pub network: String,
    /// State before the genesis block.
    pub pre: BTreeMap<Address, FixtureAccount>,
    /// RLP of the genesis block.
    #[serde(rename = "genesisRLP")]
    pub genesis_rlp: Bytes,
    /// Blocks in order.
    pub blocks: Vec<FixtureBlock>,
    /// Expected accounts after the last valid block.
    #[serde(default)]
    pub post_state: Option<BTreeMap<Address, FixtureAccount>>,
    /// Hash of the last valid block.
    pub lastblockhash: B256,
}

/// An account of `pre` or `postState`.
#[derive(Debug, Deserialize)]
pub struct FixtureAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Code.
    pub code: Bytes,
    /// Nonce.
    pub nonce: U256,
    /// Storage.
    pub storage: BTreeMap<U256, U256>,
}

/// A block of the test.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBlock {
    /// The block's RLP.
    pub rlp: Bytes,
    /// Set when the block must be rejected.
    #[serde(default)]
    pub expect_exception: Option<String>,
}

/// Parses a BlockchainTests JSON file: test name → test.
pub fn parse_file(json: &str) -> Result<BTreeMap<String, BlockchainTest>, serde_json::Error> {
    serde_json::from_str(json)
}

/// The spec of a fixture network name.
pub fn spec_of(network: &str) -> Option<SpecId> {
    Some(match network {
        "Shanghai" => SpecId::SHANGHAI,
        "Cancun" => SpecId::CANCUN,
        "Prague" => SpecId::PRAGUE,
        "Osaka" => SpecId::OSAKA,
        _ => return None,
    })
}

/// Runs one test; `Err` says what differs.
pub fn run(test: &BlockchainTest) -> Result<(), String> {
    let spec = spec_of(&test.network).ok_or_else(|| format!("unsupported network {}", test.network))?;
    let chain = ChainConfig::l1(1, spec);

    let mut pre = StateChanges::default();
    let mut codes = B256Map::default();
    for (address, account) in &test.pre {
        let code_hash = if account.code.is_empty() { KECCAK_EMPTY } else { keccak256(&account.code) };
        if !account.code.is_empty() {
            codes.insert(code_hash, account.code.clone());
        }
        pre.accounts.insert(
            *address,
            AccountChange {
                info: Some(AccountState { nonce: account.nonce.to(), balance: account.balance, code_hash }),
                storage_wiped: false,
                storage: account
                    .storage
                    .iter()
                    .filter(|(_, v)| !v.is_zero())
                    .map(|(k, v)| (*k, *v))
                    .collect(),
            },
        );
    }
    let mut trie = StateTrie::new(B256Map::<Bytes>::default(), EMPTY_ROOT_HASH);
    trie.apply(&pre).map_err(|e| e.to_string())?;
    let genesis = Block::<TxEnvelope>::decode(&mut test.genesis_rlp.as_ref())
        .map_err(|e| format!("genesis RLP: {e}"))?;
    let root = trie.root_hash();
    if root != genesis.header.state_root {
        return Err(format!("genesis state root {root}, expected {}", genesis.header.state_root));
    }

    let mut db = TrieDatabase::new(trie);
    db.codes = codes;
    let mut parent = genesis.header.clone();
    db.block_hashes.insert(0, parent.hash_slow());
    for (index, block) in test.blocks.iter().enumerate() {
        match run_block(&chain, &mut db, &parent, &block.rlp) {
            Ok(header) if block.expect_exception.is_none() => {
                db.block_hashes.insert(header.number, header.hash_slow());
                parent = header;
            }
            Ok(_) => {
                return Err(format!("block {index} was accepted, expected {:?}", block.expect_exception));
            }
            Err(_) if block.expect_exception.is_some() => {}
            Err(reason) => return Err(format!("block {index}: {reason}")),
        }
    }
    let last = parent.hash_slow();
    if last != test.lastblockhash {
        return Err(format!("last block hash {last}, expected {}", test.lastblockhash));
    }
    for (address, expected) in test.post_state.iter().flatten() {
        let account = db.trie.account(*address).map_err(|e| e.to_string())?.unwrap_or_default();
        let code_hash = if expected.code.is_empty() { KECCAK_EMPTY } else { keccak256(&expected.code) };
        if account.balance != expected.balance
            || U256::from(account.nonce) != expected.nonce
            || account.code_hash != code_hash
        {
            return Err(format!("post state of {address}: got {account:?}, expected {expected:?}"));
        }
        for (slot, value) in &expected.storage {
            let got = db.trie.storage(*address, *slot).map_err(|e| e.to_string())?;
            if got != *value {
                return Err(format!("post state of {address} slot {slot}: got {got}, expected {value}"));
            }
        }
    }
    Ok(())
}

/// Executes one block's RLP on top of `parent`; returns our sealed header when it equals the
/// block's own. On error the database may hold a partial block: callers stop or discard.
fn run_block<S: crate::trie::NodeStore + Clone>(
    chain: &ChainConfig,
    db: &mut TrieDatabase<S>,
    parent: &Header,
    rlp: &[u8],
) -> Result<Header, String> {
    let block = Block::<TxEnvelope>::decode(&mut &rlp[..]).map_err(|e| format!("RLP: {e}"))?;
    let header = &block.header;
    let inputs = BlockInputs {
        number: header.number,
        timestamp: header.timestamp,
        beneficiary: header.beneficiary,
        gas_limit: header.gas_limit,
        prev_randao: header.mix_hash,
        extra_data: header.extra_data.clone(),
        parent_beacon_block_root: header.parent_beacon_block_root.unwrap_or_default(),
        withdrawals: block.body.withdrawals.clone().map(|w| w.into_inner()).unwrap_or_default(),
    };
    let mut executor = BlockExecutor::new(&mut *db, chain, parent, &inputs).map_err(|e| e.to_string())?;
    let mut raw = Vec::with_capacity(block.body.transactions.len());
    for tx in &block.body.transactions {
        let recovered = tx.clone().try_into_recovered().map_err(|e| format!("sender recovery: {e}"))?;
        executor.execute_transaction(&recovered).map_err(|e| e.to_string())?;
        raw.push(tx.encoded_2718());
    }
    let executed = executor.finish().map_err(|e| e.to_string())?;
    let state_root = db.trie.apply(&executed.changes).map_err(|e| e.to_string())?;
    db.codes.extend(executed.changes.codes.clone());
    let sealed = seal_header(chain, parent, &inputs, &executed, ordered_trie_root(&raw), state_root);
    if sealed != *header {
        return Err(header_difference(&sealed, header));
    }
    Ok(sealed)
}

/// Names the fields in which our header differs from the expected one.
fn header_difference(ours: &Header, expected: &Header) -> String {
    let mut fields = Vec::new();
    macro_rules! compare {
        ($($field:ident),*) => {$(
            if ours.$field != expected.$field {
                fields.push(format!("{}: ours {:?}, expected {:?}", stringify!($field), ours.$field, expected.$field));
            }
        )*};
    }
    compare!(
        parent_hash,
        state_root,
        transactions_root,
        receipts_root,
        logs_bloom,
        gas_used,
        gas_limit,
        base_fee_per_gas,
        withdrawals_root,
        blob_gas_used,
        excess_blob_gas,
        requests_hash,
        extra_data,
        mix_hash
    );
    format!("sealed header differs: {}", fields.join("; "))
}
