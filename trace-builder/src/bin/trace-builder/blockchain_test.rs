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
//! same header. A block the fixture marks with `expectException` must fail one of those
//! steps. At the end every account of `postState` must match ours, no other account may exist,
//! and our head must be `lastblockhash`.
//!
//! It is a module of the `trace-builder` command, not of the library: an L1 node that embeds the
//! verifier needs neither it nor serde. The serde types cover only what the runner reads.

use alloy_consensus::{Block, BlockBody, Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U64, U256, map::B256Map};
use revm::primitives::hardfork::SpecId;
use serde::Deserialize;
use std::collections::BTreeMap;
use trace_builder::{
    chain::ChainConfig,
    executor::{BlockExecutor, BlockInputs, ExecutedBlock, seal_header},
    memory_state::MemoryState,
    state_trie::StateTrie,
    trace::{Trace, TraceBlock, Witness, WitnessBuilder},
    trie::ordered_trie_root,
    verifier::{TraceRules, Verifier},
};

/// One fixture file: test name → test.
pub(crate) type BlockchainTestFile = BTreeMap<String, BlockchainTest>;

/// One BlockchainTest: a pre-state, a chain of blocks and the expected outcome.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockchainTest {
    /// The fork the blocks run under (`Cancun`, `Prague`, ...).
    pub(crate) network: String,
    /// The genesis header's fields; the runner reads its hash.
    pub(crate) genesis_block_header: FixtureHeader,
    /// The genesis block, RLP-encoded.
    #[serde(rename = "genesisRLP")]
    pub(crate) genesis_rlp: Bytes,
    /// The blocks, in order.
    pub(crate) blocks: Vec<FixtureBlock>,
    /// The state before the first block.
    pub(crate) pre: BTreeMap<Address, FixtureAccount>,
    /// The state after the last valid block, when the fixture lists it.
    pub(crate) post_state: Option<BTreeMap<Address, FixtureAccount>>,
    /// Hash of the head after all blocks.
    pub(crate) lastblockhash: B256,
}

/// The header fields of a fixture the runner reads beside the RLP.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct FixtureHeader {
    /// The block hash the fixture expects.
    pub(crate) hash: B256,
}

/// One block of a fixture.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FixtureBlock {
    /// The block, RLP-encoded.
    pub(crate) rlp: Bytes,
    /// Set when the block is invalid: the exception clients raise for it.
    pub(crate) expect_exception: Option<String>,
}

/// An account of a fixture's `pre` or `postState`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct FixtureAccount {
    /// Balance in wei.
    pub(crate) balance: U256,
    /// Nonce.
    pub(crate) nonce: U64,
    /// Code (empty for none).
    pub(crate) code: Bytes,
    /// Storage slots; zero values are the same as absent.
    pub(crate) storage: BTreeMap<U256, U256>,
}

/// Why an ethereum/tests BlockchainTest failed: the first check that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BlockchainTestError {
    /// The fixture's JSON or one of its RLP fields does not decode.
    #[error("fixture does not decode: {0}")]
    Fixture(String),
    /// The fixture's network is a fork the executor does not run.
    #[error("unsupported network {0}")]
    UnsupportedNetwork(String),
    /// The genesis block does not match its own expectations (hash or state root).
    #[error("genesis: {0}")]
    Genesis(String),
    /// A block that must be valid failed a check.
    #[error("block {index} (number {number}): {reason}")]
    Block {
        /// Position of the block in the fixture.
        index: usize,
        /// The block's number.
        number: u64,
        /// What failed.
        reason: String,
    },
    /// A block that the fixture marks invalid was accepted.
    #[error("block {index}: accepted, but the fixture expects {expected}")]
    ExpectedFailure {
        /// Position of the block in the fixture.
        index: usize,
        /// The exception the fixture expects.
        expected: String,
    },
    /// An account of `postState` differs from the state the blocks produced.
    #[error("post state of {address}: {field} is {actual}, expected {expected}")]
    PostState {
        /// The account.
        address: Address,
        /// Which field differs (`balance`, `nonce`, `code`, `storage[slot]`, `existence`).
        field: String,
        /// The fixture's value.
        expected: String,
        /// Ours.
        actual: String,
    },
    /// The head after all blocks is not the fixture's `lastblockhash`.
    #[error("last block hash is {actual}, expected {expected}")]
    LastBlockHash {
        /// The fixture's.
        expected: B256,
        /// Ours.
        actual: B256,
    },
}

/// The revm fork of a fixture's `network`, for the networks the executor runs.
pub(crate) fn network_spec(network: &str) -> Option<SpecId> {
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
pub(crate) fn parse(json: &str) -> Result<BlockchainTestFile, BlockchainTestError> {
    serde_json::from_str(json).map_err(|error| BlockchainTestError::Fixture(error.to_string()))
}

/// Runs one BlockchainTest; `Ok` when every check holds.
pub(crate) fn run(test: &BlockchainTest) -> Result<(), BlockchainTestError> {
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
