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
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, map::B256Map};
use batcher::messages::{L1_BRIDGE_SLOT, L2_BRIDGE_ADDRESS, L2_BRIDGE_SUPPLY, l2_bridge_code};
use revm::primitives::hardfork::SpecId;
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

/// The lowest genesis gas limit (geth's `MinGasLimit`).
const MIN_GAS_LIMIT: u64 = 5_000;
/// The highest genesis gas limit (geth's `MaxGasLimit`, 2^63-1).
const MAX_GAS_LIMIT: u64 = i64::MAX as u64;
/// The latest genesis timestamp: each block's is at least its parent's plus one, so a timestamp
/// near 2^64 would overflow; 2^63-1 leaves room for any chain's lifetime.
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Why genesis code cannot be an account's code, if it cannot: from Prague on the only code
/// starting with 0xef is an EIP-7702 delegation, exactly `0xef0100 ‖ address` (23 bytes). EIP-3541
/// keeps any other such code from being deployed, and revm panics on loading a malformed
/// delegation.
fn invalid_code(code: &[u8]) -> Option<String> {
    const DELEGATION: [u8; 3] = [0xef, 0x01, 0x00];
    match code {
        [0xef, ..] if code.starts_with(&DELEGATION) && code.len() != 23 => Some(format!(
            "an EIP-7702 delegation (0xef0100 ‖ address) is 23 bytes, this code is {}",
            code.len()
        )),
        [0xef, ..] if !code.starts_with(&DELEGATION) => Some(
            "code starting with 0xef is only an EIP-7702 delegation (0xef0100 ‖ address, 23 bytes)".into(),
        ),
        _ => None,
    }
}

/// The genesis config's section for the rollup: `config.rollup`.
const ROLLUP_KEY: &str = "rollup";
/// `config.rollup.l1Bridge`: the L1 bridge whose messages the L2 bridge predeploy delivers.
const L1_BRIDGE_KEY: &str = "l1Bridge";

/// The L1 bridge `config.rollup.l1Bridge` names, if the genesis has the key.
fn l1_bridge_of(config: &alloy_genesis::ChainConfig) -> Result<Option<Address>, GenesisError> {
    let Some(rollup) = config.extra_fields.get(ROLLUP_KEY) else {
        return Ok(None);
    };
    let invalid = |reason: &str| GenesisError::Invalid {
        key: format!("config.{ROLLUP_KEY}.{L1_BRIDGE_KEY}"),
        reason: reason.to_owned(),
    };
    let address = rollup.get(L1_BRIDGE_KEY).ok_or_else(|| invalid("missing: the L1 bridge's address"))?;
    let address: Address = serde_json::from_value(address.clone()).map_err(|_| invalid("not an address"))?;
    if address.is_zero() {
        return Err(invalid("the zero address: no bridge is there"));
    }
    Ok(Some(address))
}

/// Adds the L2 bridge predeploy to `alloc`: its code, the L2's ETH supply, and `l1Bridge`.
fn install_l2_bridge(
    alloc: &mut std::collections::BTreeMap<Address, alloy_genesis::GenesisAccount>,
    l1_bridge: Address,
) -> Result<(), GenesisError> {
    if alloc.contains_key(&L2_BRIDGE_ADDRESS) {
        return Err(GenesisError::Invalid {
            key: format!("alloc.{L2_BRIDGE_ADDRESS}"),
            reason: format!(
                "the L2 bridge predeploy's address: config.{ROLLUP_KEY}.{L1_BRIDGE_KEY} installs it, the alloc must not hold it"
            ),
        });
    }
    let storage = [(B256::from(L1_BRIDGE_SLOT), l1_bridge.into_word())].into_iter().collect();
    alloc.insert(
        L2_BRIDGE_ADDRESS,
        alloy_genesis::GenesisAccount::default()
            .with_balance(L2_BRIDGE_SUPPLY)
            .with_code(Some(l2_bridge_code()))
            .with_storage(Some(storage)),
    );
    Ok(())
}

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
    /// The L1 bridge whose messages the L2 bridge predeploy delivers (`config.rollup.l1Bridge`);
    /// `None`: the genesis has no L2 bridge.
    pub l1_bridge: Option<Address>,
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

    /// The built-in dev genesis with the L2 bridge predeploy for the L1 bridge at `l1_bridge`
    /// (docs/messaging.md), or without it when `None`.
    pub fn dev_with_bridge(l1_bridge: Option<Address>) -> Result<Self, GenesisError> {
        let mut genesis: alloy_genesis::Genesis = serde_json::from_str(DEV_GENESIS_JSON)?;
        if let Some(l1_bridge) = l1_bridge {
            genesis
                .config
                .extra_fields
                .insert(ROLLUP_KEY.into(), serde_json::json!({ L1_BRIDGE_KEY: l1_bridge.to_checksum(None) }));
        }
        Self::from_genesis(genesis)
    }

    /// The built-in dev L1 genesis: the dev genesis's accounts and system contracts, on chain
    /// `chain_id`, with the forks up to `spec`.
    pub fn dev_l1(chain_id: u64, spec: SpecId) -> Result<Self, GenesisError> {
        let mut genesis: alloy_genesis::Genesis = serde_json::from_str(DEV_GENESIS_JSON)?;
        genesis.config.chain_id = chain_id;
        if !spec.is_enabled_in(SpecId::OSAKA) {
            genesis.config.osaka_time = None;
        }
        Self::from_genesis_at(genesis, spec)
    }

    /// Reads a geth genesis JSON file of a chain that runs `spec` from genesis on.
    pub fn load_at(path: &Path, spec: SpecId) -> Result<Self, GenesisError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| GenesisError::Read { path: path.to_owned(), source })?;
        Self::from_genesis_at(serde_json::from_str(&text)?, spec)
    }

    /// Parses geth genesis JSON and builds the genesis block.
    ///
    /// The L2 runs one fork from genesis on (docs/architecture.md: the newest L1 fork), so the genesis must
    /// activate every fork up to Osaka at time 0.
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        Self::from_genesis(serde_json::from_str(text)?)
    }

    /// Builds the genesis block of a parsed geth genesis.
    pub fn from_genesis(genesis: alloy_genesis::Genesis) -> Result<Self, GenesisError> {
        Self::from_genesis_at(genesis, SpecId::OSAKA)
    }

    /// Builds the genesis block of a parsed geth genesis of a chain that runs `spec` (Prague or
    /// Osaka) from genesis on: every fork up to it at time 0, none after it.
    pub fn from_genesis_at(mut genesis: alloy_genesis::Genesis, spec: SpecId) -> Result<Self, GenesisError> {
        let l1_bridge = l1_bridge_of(&genesis.config)?;
        if let Some(l1_bridge) = l1_bridge {
            install_l2_bridge(&mut genesis.alloc, l1_bridge)?;
        }
        let config = &genesis.config;
        for (name, fork, time) in [
            ("shanghaiTime", SpecId::SHANGHAI, config.shanghai_time),
            ("cancunTime", SpecId::CANCUN, config.cancun_time),
            ("pragueTime", SpecId::PRAGUE, config.prague_time),
            ("osakaTime", SpecId::OSAKA, config.osaka_time),
        ] {
            let enabled = spec.is_enabled_in(fork);
            if enabled && time != Some(0) {
                return Err(GenesisError::Unsupported(format!(
                    "config.{name} must be 0: the chain runs the {spec:?} rules from genesis on"
                )));
            }
            if !enabled && time.is_some() {
                return Err(GenesisError::Unsupported(format!(
                    "config.{name} must be absent: the chain runs the {spec:?} rules for good"
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

        let invalid = |key: String, reason: String| GenesisError::Invalid { key, reason };
        if !(MIN_GAS_LIMIT..=MAX_GAS_LIMIT).contains(&genesis.gas_limit) {
            return Err(invalid(
                "gasLimit".into(),
                format!("{} is outside {MIN_GAS_LIMIT}..={MAX_GAS_LIMIT} (geth's bounds)", genesis.gas_limit),
            ));
        }
        if genesis.timestamp > MAX_TIMESTAMP {
            return Err(invalid(
                "timestamp".into(),
                format!(
                    "{} is over {MAX_TIMESTAMP}: the blocks after it count up from it",
                    genesis.timestamp
                ),
            ));
        }
        let base_fee = match genesis.base_fee_per_gas {
            None => INITIAL_BASE_FEE,
            Some(fee) => u64::try_from(fee).map_err(|_| {
                invalid(
                    "baseFeePerGas".into(),
                    format!("{fee} does not fit in 64 bits, as a block's base fee must"),
                )
            })?,
        };

        let mut state = StateChanges::default();
        for (address, account) in &genesis.alloc {
            let code = account.code.clone().unwrap_or_default();
            if let Some(reason) = invalid_code(&code) {
                return Err(invalid(format!("alloc.{address}.code"), reason));
            }
            if account.nonce == Some(u64::MAX) {
                return Err(invalid(
                    format!("alloc.{address}.nonce"),
                    "2^64-1 is over the EIP-2681 limit: an account's nonce is below it".into(),
                ));
            }
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
        Ok(Self { chain_id: config.chain_id, header, hash, state, trie_nodes, l1_bridge })
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
            blobs: Vec::new(),
            // The genesis block is not anchored.
            anchor: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ACCOUNT: &str = "0x00000000000000000000000000000000000000aa";

    /// An edit of the genesis JSON.
    type Edit = Box<dyn FnOnce(&mut Value)>;

    /// The dev genesis with `edit` applied.
    fn genesis(edit: impl FnOnce(&mut Value)) -> Result<ChainGenesis, GenesisError> {
        let mut json: Value = serde_json::from_str(DEV_GENESIS_JSON).unwrap();
        edit(&mut json);
        ChainGenesis::from_json(&json.to_string())
    }

    fn with_account(account: Value) -> impl FnOnce(&mut Value) {
        move |json| {
            json["alloc"][ACCOUNT] = account;
        }
    }

    #[test]
    fn the_dev_genesis_and_valid_edge_values_load() {
        ChainGenesis::dev().unwrap();
        let delegation = format!("0xef0100{}", "11".repeat(20));
        for edit in [
            with_account(json!({"balance": "0x1", "code": delegation})),
            with_account(json!({"balance": "0x1", "code": "0x6001", "nonce": "0xfffffffffffffffe"})),
        ] {
            genesis(edit).unwrap();
        }
        let header = genesis(|json| {
            json["baseFeePerGas"] = json!("0xffffffffffffffff");
            json["gasLimit"] = json!("0x7fffffffffffffff");
            json["timestamp"] = json!("0x7fffffffffffffff");
        })
        .unwrap()
        .header;
        assert_eq!(header.base_fee_per_gas, Some(u64::MAX));
    }

    #[test]
    fn a_genesis_that_would_panic_or_truncate_is_refused_naming_the_key() {
        let account: alloy_primitives::Address = ACCOUNT.parse().unwrap();
        let alloc = |field: &str| format!("alloc.{account}.{field}");
        let cases: Vec<(&str, Edit, String)> = vec![
            (
                "a delegation of 22 bytes",
                Box::new(with_account(
                    json!({"balance": "0x0", "code": format!("0xef0100{}", "11".repeat(19))}),
                )),
                alloc("code"),
            ),
            (
                "a delegation of 24 bytes",
                Box::new(with_account(
                    json!({"balance": "0x0", "code": format!("0xef0100{}", "11".repeat(21))}),
                )),
                alloc("code"),
            ),
            (
                "a bare magic",
                Box::new(with_account(json!({"balance": "0x0", "code": "0xef01"}))),
                alloc("code"),
            ),
            ("0xef", Box::new(with_account(json!({"balance": "0x0", "code": "0xef"}))), alloc("code")),
            (
                "an EOF container",
                Box::new(with_account(json!({"balance": "0x0", "code": "0xef0001010004"}))),
                alloc("code"),
            ),
            (
                "a delegation of another version",
                Box::new(with_account(
                    json!({"balance": "0x0", "code": format!("0xef0101{}", "11".repeat(20))}),
                )),
                alloc("code"),
            ),
            (
                "a nonce of 2^64-1",
                Box::new(with_account(json!({"balance": "0x0", "nonce": "0xffffffffffffffff"}))),
                alloc("nonce"),
            ),
            (
                "a base fee of 2^64",
                Box::new(|json: &mut Value| json["baseFeePerGas"] = json!("0x10000000000000000")),
                "baseFeePerGas".into(),
            ),
            (
                "a gas limit of 0",
                Box::new(|json: &mut Value| json["gasLimit"] = json!("0x0")),
                "gasLimit".into(),
            ),
            (
                "a gas limit of 2^63",
                Box::new(|json: &mut Value| json["gasLimit"] = json!("0x8000000000000000")),
                "gasLimit".into(),
            ),
            (
                "a timestamp of 2^64-1",
                Box::new(|json: &mut Value| json["timestamp"] = json!("0xffffffffffffffff")),
                "timestamp".into(),
            ),
        ];
        for (name, edit, key) in cases {
            let error = genesis(edit).expect_err(name).to_string();
            assert!(error.starts_with(&format!("invalid genesis {key}: ")), "{name}: {error}");
        }
        // Wider than 64 bits does not parse at all: no silent truncation.
        let wide: [Edit; 2] = [
            Box::new(with_account(json!({"balance": "0x0", "nonce": "0x10000000000000000"}))),
            Box::new(|json: &mut Value| json["timestamp"] = json!("0x10000000000000000")),
        ];
        for edit in wide {
            let error = genesis(edit).unwrap_err();
            assert!(matches!(error, GenesisError::Parse(_)), "{error}");
        }
    }

    /// `config.rollup.l1Bridge` installs the L2 bridge predeploy: its code, the L2's supply and
    /// the L1 bridge in slot 0; a bad address or an alloc that already holds the predeploy's
    /// address is refused naming the key.
    #[test]
    fn the_rollup_key_installs_the_l2_bridge() {
        let bridge = Address::repeat_byte(0xb1);
        let bridged = ChainGenesis::dev_with_bridge(Some(bridge)).unwrap();
        assert_eq!(bridged.l1_bridge, Some(bridge));
        assert_ne!(bridged.hash, ChainGenesis::dev().unwrap().hash);
        let account = &bridged.state.accounts[&L2_BRIDGE_ADDRESS];
        let info = account.info.as_ref().unwrap();
        assert_eq!(info.balance, L2_BRIDGE_SUPPLY);
        assert_eq!(bridged.state.codes[&info.code_hash], l2_bridge_code());
        assert_eq!(account.storage[&L1_BRIDGE_SLOT], U256::from_be_slice(bridge.as_slice()));

        for (edit, key) in [
            (json!({"l1Bridge": "0x0000000000000000000000000000000000000000"}), "config.rollup.l1Bridge"),
            (json!({"l1Bridge": "not an address"}), "config.rollup.l1Bridge"),
            (json!({}), "config.rollup.l1Bridge"),
        ] {
            let error = genesis(|json| json["config"]["rollup"] = edit).unwrap_err();
            assert!(error.to_string().contains(key), "{error}");
        }
        let error = genesis(|json| {
            json["config"]["rollup"] = json!({"l1Bridge": bridge});
            json["alloc"][L2_BRIDGE_ADDRESS.to_string()] = json!({"balance": "0x1"});
        })
        .unwrap_err();
        assert!(error.to_string().contains("alloc.") && error.to_string().contains("predeploy"), "{error}");
    }

    /// The compose stack's genesis is the dev genesis naming the bridge the dev key deploys
    /// first on a fresh L1.
    #[test]
    fn the_compose_genesis_is_the_dev_genesis_with_its_bridge() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/genesis.json"));
        let stack = ChainGenesis::load(path).unwrap();
        let deployer: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse().unwrap();
        assert_eq!(stack.l1_bridge, Some(deployer.create(0)));
        assert_eq!(stack.hash, ChainGenesis::dev_with_bridge(Some(deployer.create(0))).unwrap().hash);
    }
}
