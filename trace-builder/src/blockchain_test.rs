//! A runner for ethereum/tests BlockchainTests: the conformance check of the executor, the
//! trie and header sealing against other clients.
//!
//! For each test it builds the `pre` state in memory and in the state trie, checks the genesis
//! block, then for every block of the fixture decodes its RLP (header, transactions,
//! withdrawals), checks the derived header fields against the parent, recovers the senders,
//! executes the block with [`BlockExecutor`], checks gas, receipts root, logs bloom, requests
//! hash, transactions and withdrawals roots and the state root, seals our own header with
//! [`seal_header`] and requires it to equal the fixture's (so the block hashes agree). It then
//! takes the stateless path: it builds the block's trace (the witness from the reads and writes
//! the first run recorded, [`ExecutedBlock::access`] and [`ExecutedBlock::changes`], over the
//! trie of `pre` and the blocks before) and requires the [`Verifier`] to accept it and seal the
//! same header. A block the fixture marks with `expectException` must fail one of those steps. At the end every
//! account of `postState` must match ours, no other account may exist, and our head must be
//! `lastblockhash`.
//!
//! The serde types cover only what the runner reads.

use crate::{
    chain::ChainConfig,
    error::{BlockchainTestError, MemoryStateError},
    executor::{BlockExecutor, BlockInputs, ExecutedBlock, seal_header},
    state::{AccountState, StateAccess, StateChanges},
    state_trie::{StateTrie, state_root_of},
    trace::{Trace, TraceBlock, Witness, WitnessBuilder},
    trie::ordered_trie_root,
    verifier::{TraceRules, Verifier},
};
use alloy_consensus::{Block, BlockBody, Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U64, U256, keccak256, map::B256Map};
use revm::{Database, DatabaseRef, bytecode::Bytecode, primitives::hardfork::SpecId, state::AccountInfo};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One fixture file: test name → test.
pub type BlockchainTestFile = BTreeMap<String, BlockchainTest>;

/// One BlockchainTest: a pre-state, a chain of blocks and the expected outcome.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockchainTest {
    /// The fork the blocks run under (`Cancun`, `Prague`, ...).
    pub network: String,
    /// The genesis header's fields; the runner reads its hash.
    pub genesis_block_header: FixtureHeader,
    /// The genesis block, RLP-encoded.
    #[serde(rename = "genesisRLP")]
    pub genesis_rlp: Bytes,
    /// The blocks, in order.
    pub blocks: Vec<FixtureBlock>,
    /// The state before the first block.
    pub pre: BTreeMap<Address, FixtureAccount>,
    /// The state after the last valid block, when the fixture lists it.
    pub post_state: Option<BTreeMap<Address, FixtureAccount>>,
    /// Hash of the head after all blocks.
    pub lastblockhash: B256,
}

/// The header fields of a fixture the runner reads beside the RLP.
#[derive(Clone, Debug, Deserialize)]
pub struct FixtureHeader {
    /// The block hash the fixture expects.
    pub hash: B256,
}

/// One block of a fixture.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBlock {
    /// The block, RLP-encoded.
    pub rlp: Bytes,
    /// Set when the block is invalid: the exception clients raise for it.
    pub expect_exception: Option<String>,
}

/// An account of a fixture's `pre` or `postState`.
#[derive(Clone, Debug, Deserialize)]
pub struct FixtureAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: U64,
    /// Code (empty for none).
    pub code: Bytes,
    /// Storage slots; zero values are the same as absent.
    pub storage: BTreeMap<U256, U256>,
}

/// An in-memory Ethereum state that serves revm: accounts, storage, codes by hash and block
/// hashes. It is the runner's state; tests of the executor use it too.
#[derive(Clone, Debug, Default)]
pub struct MemoryState {
    accounts: BTreeMap<Address, AccountState>,
    storage: BTreeMap<Address, BTreeMap<U256, U256>>,
    codes: B256Map<Bytes>,
    block_hashes: BTreeMap<u64, B256>,
}

impl MemoryState {
    /// A state holding only the system contracts of Prague and later, as L1 deployed them
    /// (EIP-4788 beacon roots, EIP-2935 block history, EIP-7002 and EIP-7251 request queues):
    /// the base of an L2 test state.
    pub fn with_system_contracts() -> Self {
        use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
        let mut state = Self::default();
        for (address, code) in [
            (eip4788::BEACON_ROOTS_ADDRESS, &eip4788::BEACON_ROOTS_CODE),
            (eip2935::HISTORY_STORAGE_ADDRESS, &eip2935::HISTORY_STORAGE_CODE),
            (eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, &eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE),
            (
                eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                &eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE,
            ),
        ] {
            state.insert_account(address, 1, U256::ZERO, code.clone(), BTreeMap::new());
        }
        state
    }

    /// Creates or replaces the account at `address` with `code` and `storage` (zero slots are
    /// dropped).
    pub fn insert_account(
        &mut self,
        address: Address,
        nonce: u64,
        balance: U256,
        code: Bytes,
        storage: BTreeMap<U256, U256>,
    ) {
        let code_hash = if code.is_empty() {
            KECCAK256_EMPTY
        } else {
            let hash = keccak256(&code);
            self.codes.insert(hash, code);
            hash
        };
        self.accounts.insert(address, AccountState { nonce, balance, code_hash });
        let storage: BTreeMap<U256, U256> = storage.into_iter().filter(|(_, v)| !v.is_zero()).collect();
        if storage.is_empty() {
            self.storage.remove(&address);
        } else {
            self.storage.insert(address, storage);
        }
    }

    /// Records the hash of block `number`, for BLOCKHASH.
    pub fn insert_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
    }

    /// Applies a block's changes, with the semantics the state trie gives them.
    pub fn apply(&mut self, changes: &StateChanges) {
        for (hash, code) in &changes.codes {
            self.codes.insert(*hash, code.clone());
        }
        for (address, change) in &changes.accounts {
            let Some(info) = &change.info else {
                self.accounts.remove(address);
                self.storage.remove(address);
                continue;
            };
            self.accounts.insert(*address, info.clone());
            if change.storage_wiped {
                self.storage.remove(address);
            }
            let storage = self.storage.entry(*address).or_default();
            for (slot, value) in &change.storage {
                if value.is_zero() {
                    storage.remove(slot);
                } else {
                    storage.insert(*slot, *value);
                }
            }
            if storage.is_empty() {
                self.storage.remove(address);
            }
        }
    }

    /// The account at `address`, if it exists.
    pub fn account(&self, address: &Address) -> Option<&AccountState> {
        self.accounts.get(address)
    }

    /// The non-zero storage of `address`.
    pub fn account_storage(&self, address: &Address) -> BTreeMap<U256, U256> {
        self.storage.get(address).cloned().unwrap_or_default()
    }

    /// The code with `hash` (empty for the empty code's hash), if the state has it.
    pub fn code(&self, hash: &B256) -> Option<Bytes> {
        if *hash == KECCAK256_EMPTY {
            return Some(Bytes::new());
        }
        self.codes.get(hash).cloned()
    }

    /// Every existing account's address.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.accounts.keys()
    }

    /// The state root and trie nodes of this state, built from scratch.
    pub fn trie(&self) -> (B256, B256Map<Bytes>) {
        state_root_of(
            self.accounts
                .iter()
                .map(|(address, info)| (*address, info.clone(), self.account_storage(address))),
        )
    }
}

impl DatabaseRef for MemoryState {
    type Error = MemoryStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.accounts.get(&address).map(|account| AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            account_id: None,
            code: None,
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        let code = self.code(&code_hash).ok_or(MemoryStateError::UnknownCode(code_hash))?;
        Bytecode::new_raw_checked(code)
            .map_err(|error| MemoryStateError::MalformedCode { hash: code_hash, reason: error.to_string() })
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage.get(&address).and_then(|storage| storage.get(&index)).copied().unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.block_hashes.get(&number).copied().ok_or(MemoryStateError::UnknownBlockHash(number))
    }
}

impl Database for MemoryState {
    type Error = MemoryStateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.block_hash_ref(number)
    }
}

/// A view of a [`MemoryState`] that answers only the reads in `access` and fails every other:
/// what a stateless verifier holding a witness of exactly those reads could answer.
#[derive(Debug)]
pub struct RecordedState<'a> {
    /// The full state.
    pub state: &'a MemoryState,
    /// The reads it may answer.
    pub access: &'a StateAccess,
}

impl Database for RecordedState<'_> {
    type Error = MemoryStateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if !self.access.accounts.contains(&address) {
            return Err(MemoryStateError::NotRecorded(format!("account {address}")));
        }
        self.state.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if !self.access.codes.contains(&code_hash) {
            return Err(MemoryStateError::NotRecorded(format!("code {code_hash}")));
        }
        self.state.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if !self.access.storage.get(&address).is_some_and(|slots| slots.contains(&index)) {
            return Err(MemoryStateError::NotRecorded(format!("slot {index:#x} of {address}")));
        }
        self.state.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        if !self.access.block_hashes.contains(&number) {
            return Err(MemoryStateError::NotRecorded(format!("hash of block {number}")));
        }
        self.state.block_hash_ref(number)
    }
}

/// The revm fork of a fixture's `network`, for the networks the executor runs.
pub fn network_spec(network: &str) -> Option<SpecId> {
    Some(match network {
        "Paris" | "Merge" => SpecId::MERGE,
        "Shanghai" => SpecId::SHANGHAI,
        "Cancun" => SpecId::CANCUN,
        "Prague" => SpecId::PRAGUE,
        "Osaka" => SpecId::OSAKA,
        _ => return None,
    })
}

/// Parses a fixture file.
pub fn parse(json: &str) -> Result<BlockchainTestFile, BlockchainTestError> {
    serde_json::from_str(json).map_err(|error| BlockchainTestError::Fixture(error.to_string()))
}

/// Runs one BlockchainTest; `Ok` when every check holds.
pub fn run(test: &BlockchainTest) -> Result<(), BlockchainTestError> {
    let spec = network_spec(&test.network)
        .ok_or_else(|| BlockchainTestError::UnsupportedNetwork(test.network.clone()))?;
    // The fixtures' chain id is mainnet's.
    let chain = ChainConfig::l1(1, spec);

    let mut state = MemoryState::default();
    for (address, account) in &test.pre {
        state.insert_account(
            *address,
            account.nonce.to(),
            account.balance,
            account.code.clone(),
            account.storage.clone(),
        );
    }
    let (mut root, mut nodes) = state.trie();

    let genesis: Block<TxEnvelope> = alloy_rlp::decode_exact(&test.genesis_rlp)
        .map_err(|error| BlockchainTestError::Fixture(format!("genesis RLP: {error}")))?;
    let parent = genesis.header;
    let mut parent_hash = parent.hash_slow();
    if parent_hash != test.genesis_block_header.hash {
        return Err(BlockchainTestError::Genesis(format!(
            "hash {parent_hash}, fixture says {}",
            test.genesis_block_header.hash
        )));
    }
    if parent.state_root != root {
        return Err(BlockchainTestError::Genesis(format!(
            "state root of pre is {root}, the genesis header has {}",
            parent.state_root
        )));
    }
    state.insert_block_hash(parent.number, parent_hash);
    // The canonical chain, newest first: the ancestor headers of stateless traces.
    let mut canonical = vec![parent.clone()];

    for (index, block) in test.blocks.iter().enumerate() {
        let outcome = run_block(&chain, &mut state, &nodes, root, &canonical, &block.rlp);
        match (outcome, &block.expect_exception) {
            (Ok(valid), None) => {
                state.apply(&valid.executed.changes);
                nodes.extend(valid.nodes);
                root = valid.header.state_root;
                parent_hash = valid.hash;
                state.insert_block_hash(valid.header.number, parent_hash);
                canonical.insert(0, valid.header);
            }
            (Ok(_), Some(expected)) => {
                return Err(BlockchainTestError::ExpectedFailure { index, expected: expected.clone() });
            }
            // An invalid block, rejected: the chain stays where it was.
            (Err(_), Some(_)) => {}
            (Err(failure), None) => {
                return Err(BlockchainTestError::Block {
                    index,
                    number: failure.number,
                    reason: failure.reason,
                });
            }
        }
    }

    if let Some(post) = &test.post_state {
        check_post_state(&state, post)?;
    }
    if parent_hash != test.lastblockhash {
        return Err(BlockchainTestError::LastBlockHash { expected: test.lastblockhash, actual: parent_hash });
    }
    Ok(())
}

/// A block that passed every check, with what applying it needs.
struct ValidBlock {
    header: Header,
    hash: B256,
    executed: ExecutedBlock,
    /// Trie nodes created by applying the block's changes.
    nodes: Vec<(B256, Bytes)>,
}

/// The first check a block failed.
struct BlockFailure {
    number: u64,
    reason: String,
}

/// Decodes, executes and checks one block on top of `canonical` (newest first), without
/// changing `state`.
fn run_block(
    chain: &ChainConfig,
    state: &mut MemoryState,
    nodes: &B256Map<Bytes>,
    root: B256,
    canonical: &[Header],
    rlp: &[u8],
) -> Result<ValidBlock, BlockFailure> {
    let Some(parent) = canonical.first() else {
        return Err(BlockFailure { number: 0, reason: "no parent".into() });
    };
    let fail = |number: u64| move |reason: String| BlockFailure { number, reason };
    let block: Block<TxEnvelope> = alloy_rlp::decode_exact(rlp)
        .map_err(|error| fail(parent.number.saturating_add(1))(format!("RLP: {error}")))?;
    let header = block.header;
    let fail = fail(header.number);
    if let Some(max) = chain.max_rlp_block_size()
        && rlp.len() > max
    {
        return Err(fail(format!("{} bytes exceed the {max}-byte limit", rlp.len())));
    }

    // Derived fields, against the parent.
    let parent_hash = parent.hash_slow();
    expect("parent hash", header.parent_hash, parent_hash).map_err(&fail)?;
    expect("base fee", header.base_fee_per_gas, Some(chain.next_base_fee(parent))).map_err(&fail)?;
    if chain.spec.is_enabled_in(SpecId::CANCUN) {
        expect("excess blob gas", header.excess_blob_gas, Some(chain.next_excess_blob_gas(parent)))
            .map_err(&fail)?;
    }
    if !block.body.ommers.is_empty() {
        return Err(fail("ommers after the merge".into()));
    }

    let withdrawals = match &block.body.withdrawals {
        Some(withdrawals) => withdrawals.to_vec(),
        None if chain.spec.is_enabled_in(SpecId::SHANGHAI) => {
            return Err(fail("no withdrawals list from Shanghai on".into()));
        }
        None => Vec::new(),
    };
    let inputs = BlockInputs {
        number: header.number,
        timestamp: header.timestamp,
        beneficiary: header.beneficiary,
        gas_limit: header.gas_limit,
        prev_randao: header.mix_hash,
        extra_data: header.extra_data.clone(),
        parent_beacon_block_root: header.parent_beacon_block_root.unwrap_or_default(),
        withdrawals,
    };
    let mut executor =
        BlockExecutor::new(&mut *state, chain, parent, &inputs).map_err(|error| fail(error.to_string()))?;
    for (position, tx) in block.body.transactions.iter().enumerate() {
        let tx = tx
            .clone()
            .try_into_recovered()
            .map_err(|error| fail(format!("transaction {position}: sender: {error}")))?;
        executor
            .execute_transaction(&tx)
            .map_err(|error| fail(format!("transaction {position}: {error}")))?;
    }
    let executed = executor.finish().map_err(|error| fail(error.to_string()))?;

    // Execution results, against the header.
    expect("gas used", executed.gas_used, header.gas_used).map_err(&fail)?;
    if chain.spec.is_enabled_in(SpecId::CANCUN) {
        expect("blob gas used", Some(executed.blob_gas_used), header.blob_gas_used).map_err(&fail)?;
    }
    let receipts: Vec<Vec<u8>> = executed.receipts.iter().map(Encodable2718::encoded_2718).collect();
    expect("receipts root", ordered_trie_root(&receipts), header.receipts_root).map_err(&fail)?;
    let transactions: Vec<Vec<u8>> =
        block.body.transactions.iter().map(Encodable2718::encoded_2718).collect();
    let transactions_root = ordered_trie_root(&transactions);
    expect("transactions root", transactions_root, header.transactions_root).map_err(&fail)?;
    if let Some(expected) = header.requests_hash {
        expect("requests hash", executed.requests.requests_hash(), expected).map_err(&fail)?;
    }

    let mut trie = StateTrie::new(nodes, root);
    trie.apply(&executed.changes).map_err(|error| fail(format!("state trie: {error}")))?;
    let (state_root, new_nodes) = trie.commit();
    expect("state root", state_root, header.state_root).map_err(&fail)?;

    // Everything else (logs bloom, withdrawals root, fork fields, constants) by sealing our
    // own header: it must be the fixture's, hence hash to the fixture's block hash.
    let sealed = seal_header(chain, parent, &inputs, &executed, transactions_root, state_root);
    expect("logs bloom", sealed.logs_bloom, header.logs_bloom).map_err(&fail)?;
    expect("withdrawals root", sealed.withdrawals_root, header.withdrawals_root).map_err(&fail)?;
    if sealed != header {
        return Err(fail(header_difference(&sealed, &header)));
    }
    let hash = sealed.hash_slow();
    expect("block hash", hash, header.hash_slow()).map_err(&fail)?;
    check_stateless(chain, state, nodes, canonical, &inputs, &block.body, &executed, &sealed)
        .map_err(|reason| fail(format!("stateless re-execution: {reason}")))?;
    Ok(ValidBlock { header, hash, executed, nodes: new_nodes })
}

/// Builds the block's trace — its inputs and transactions, the ancestor headers it needs and the
/// witness collected from its recorded reads and writes over `nodes` — and verifies it with
/// the stateless [`Verifier`], which must seal the same header.
#[allow(clippy::too_many_arguments)]
fn check_stateless(
    chain: &ChainConfig,
    state: &MemoryState,
    nodes: &B256Map<Bytes>,
    canonical: &[Header],
    inputs: &BlockInputs,
    body: &BlockBody<TxEnvelope>,
    executed: &ExecutedBlock,
    sealed: &Header,
) -> Result<(), String> {
    let parent = canonical.first().ok_or("no parent")?;
    let mut witness = WitnessBuilder::new(nodes, parent.state_root);
    witness.add_block(&executed.access, &executed.changes).map_err(|error| error.to_string())?;
    let needs = witness.finish();
    let oldest = needs.oldest_ancestor(parent.number);
    let codes = needs
        .codes
        .iter()
        .map(|hash| state.code(hash).ok_or_else(|| format!("no code {hash}")))
        .collect::<Result<Vec<_>, _>>()?;
    let trace = Trace {
        chain_id: chain.chain_id,
        ancestors: canonical.iter().take_while(|header| header.number >= oldest).cloned().collect(),
        blocks: vec![TraceBlock::new(
            inputs,
            body.transactions.iter().map(|tx| tx.encoded_2718().into()).collect(),
        )],
        witness: Witness { nodes: needs.nodes, codes },
    };
    let verified = Verifier::new(chain.clone(), TraceRules::L1)
        .verify(parent.state_root, sealed.state_root, &trace.encode(), executed.gas_used)
        .map_err(|error| error.to_string())?;
    if verified.headers != [sealed.clone()] {
        return Err("the verifier sealed another header".into());
    }
    Ok(())
}

/// The fields in which our sealed header differs from the fixture's.
fn header_difference(ours: &Header, fixture: &Header) -> String {
    let mut fields = Vec::new();
    macro_rules! compare {
        ($($field:ident),* $(,)?) => {$(
            if ours.$field != fixture.$field {
                fields.push(format!(
                    "{} is {:?}, the block says {:?}",
                    stringify!($field),
                    ours.$field,
                    fixture.$field
                ));
            }
        )*};
    }
    compare!(
        parent_hash,
        ommers_hash,
        beneficiary,
        state_root,
        transactions_root,
        receipts_root,
        logs_bloom,
        difficulty,
        number,
        gas_limit,
        gas_used,
        timestamp,
        extra_data,
        mix_hash,
        nonce,
        base_fee_per_gas,
        withdrawals_root,
        blob_gas_used,
        excess_blob_gas,
        parent_beacon_block_root,
        requests_hash,
        block_access_list_hash,
        slot_number,
    );
    format!("sealed header differs: {}", fields.join("; "))
}

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, ours: T, fixture: T) -> Result<(), String> {
    if ours == fixture { Ok(()) } else { Err(format!("{what} is {ours:?}, the block says {fixture:?}")) }
}

/// Every account of `post` as in `state`, and no other account in `state`.
fn check_post_state(
    state: &MemoryState,
    post: &BTreeMap<Address, FixtureAccount>,
) -> Result<(), BlockchainTestError> {
    let mismatch = |address: Address, field: &str, expected: String, actual: String| {
        BlockchainTestError::PostState { address, field: field.to_string(), expected, actual }
    };
    for (address, expected) in post {
        let Some(account) = state.account(address) else {
            return Err(mismatch(*address, "existence", "exists".into(), "absent".into()));
        };
        if account.balance != expected.balance {
            return Err(mismatch(
                *address,
                "balance",
                expected.balance.to_string(),
                account.balance.to_string(),
            ));
        }
        if account.nonce != expected.nonce.to::<u64>() {
            return Err(mismatch(*address, "nonce", expected.nonce.to_string(), account.nonce.to_string()));
        }
        let code = state.code(&account.code_hash).unwrap_or_default();
        if code != expected.code {
            return Err(mismatch(*address, "code", expected.code.to_string(), code.to_string()));
        }
        let ours = state.account_storage(address);
        let theirs: BTreeMap<U256, U256> = expected
            .storage
            .iter()
            .filter(|(_, value)| !value.is_zero())
            .map(|(slot, value)| (*slot, *value))
            .collect();
        for slot in ours.keys().chain(theirs.keys()) {
            let (mine, expected) = (ours.get(slot), theirs.get(slot));
            if mine != expected {
                return Err(mismatch(
                    *address,
                    &format!("storage[{slot:#x}]"),
                    format!("{:#x}", expected.copied().unwrap_or_default()),
                    format!("{:#x}", mine.copied().unwrap_or_default()),
                ));
            }
        }
    }
    if let Some(extra) = state.addresses().find(|address| !post.contains_key(*address)) {
        return Err(mismatch(*extra, "existence", "absent".into(), "exists".into()));
    }
    Ok(())
}
