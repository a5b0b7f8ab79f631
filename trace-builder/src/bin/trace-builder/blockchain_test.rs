//! A runner for BlockchainTests (ethereum/tests, execution-spec-tests releases): the
//! conformance check of the executor, the trie and header sealing against other clients.
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
//! steps, and the check that failed must be one that raises the exception named (see
//! [`exception_matches`]: the blob, fee and header exceptions are told apart, other names only
//! require a rejection); the next block then builds on the last valid one, as the format says.
//! At the end every account of `postState` must match ours, no other account may exist (or our
//! state root must be `postStateHash`), and our head must be `lastblockhash`.
//!
//! Both ethereum/tests fixtures and execution-spec-tests releases run: the latter add a
//! `config` with the chain id and the blob schedule, which must be the one the executor applies
//! to the fixture's fork.
//!
//! It is a module of the `trace-builder` command, not of the library: an L1 node that embeds the
//! verifier needs neither it nor serde. The serde types cover only what the runner reads.

use alloy_consensus::{Block, BlockBody, Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U64, U256, map::B256Map};
use revm::{context::result::InvalidTransaction, primitives::hardfork::SpecId};
use serde::Deserialize;
use std::collections::BTreeMap;
use trace_builder::{
    chain::ChainConfig,
    error::{ExecutionError, TransactionError},
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
    /// The state root after the last valid block, which execution-spec-tests gives instead of
    /// `postState` when the state is large.
    pub(crate) post_state_hash: Option<B256>,
    /// Hash of the head after all blocks.
    pub(crate) lastblockhash: B256,
    /// The chain's parameters, in execution-spec-tests fixtures.
    pub(crate) config: Option<FixtureConfig>,
}

/// The `config` of an execution-spec-tests fixture: the chain id and the blob schedule the
/// fixture was filled with.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FixtureConfig {
    /// The chain id (mainnet's when absent).
    pub(crate) chainid: Option<U64>,
    /// Blob parameters by fork name.
    #[serde(default)]
    pub(crate) blob_schedule: BTreeMap<String, FixtureBlobParams>,
}

/// One fork's entry of a fixture's blob schedule (EIP-7840).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FixtureBlobParams {
    /// Target blobs per block.
    pub(crate) target: U64,
    /// Maximum blobs per block.
    pub(crate) max: U64,
    /// Blob base fee update fraction.
    pub(crate) base_fee_update_fraction: U64,
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
    /// The fixture's blob schedule for its network is not the one the executor applies to it.
    #[error("blob schedule: {0}")]
    BlobSchedule(String),
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
    /// A block that the fixture marks invalid was rejected, but by a check that does not
    /// raise the exception the fixture expects.
    #[error("block {index}: rejected with \"{reason}\", but the fixture expects {expected}")]
    WrongException {
        /// Position of the block in the fixture.
        index: usize,
        /// The exception the fixture expects.
        expected: String,
        /// Why we rejected it.
        reason: String,
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
    /// The state root after all blocks is not the fixture's `postStateHash`.
    #[error("post state root is {actual}, expected {expected}")]
    PostStateHash {
        /// The fixture's.
        expected: B256,
        /// Ours.
        actual: B256,
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
    // The fixtures' chain id is mainnet's unless their config says otherwise.
    let chain_id = test.config.as_ref().and_then(|config| config.chainid).map_or(1, |id| id.to());
    let chain = ChainConfig::l1(chain_id, spec);
    check_blob_schedule(test, &chain)?;

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
            // An invalid block, rejected for the reason the fixture gives: the chain stays
            // where it was and the next block builds on the last valid one.
            (Err(failure), Some(expected)) => {
                if !exception_matches(expected, &failure.rejection) {
                    return Err(BlockchainTestError::WrongException {
                        index,
                        expected: expected.clone(),
                        reason: failure.reason,
                    });
                }
            }
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
    if let Some(expected) = test.post_state_hash
        && expected != root
    {
        return Err(BlockchainTestError::PostStateHash { expected, actual: root });
    }
    if parent_hash != test.lastblockhash {
        return Err(BlockchainTestError::LastBlockHash { expected: test.lastblockhash, actual: parent_hash });
    }
    Ok(())
}

/// The fixture's blob schedule for its network, when it gives one, must be the schedule
/// [`ChainConfig::l1`] applies to that fork: otherwise the fixture was filled for another chain.
fn check_blob_schedule(test: &BlockchainTest, chain: &ChainConfig) -> Result<(), BlockchainTestError> {
    let Some(theirs) = test.config.as_ref().and_then(|config| config.blob_schedule.get(&test.network)) else {
        return Ok(());
    };
    let ours = &chain.blob_params;
    let fixture =
        (theirs.target.to::<u64>(), theirs.max.to::<u64>(), theirs.base_fee_update_fraction.to::<u128>());
    let executor = (ours.target_blob_count, ours.max_blob_count, ours.update_fraction);
    if fixture == executor {
        Ok(())
    } else {
        Err(BlockchainTestError::BlobSchedule(format!(
            "{} has (target, max, update fraction) {fixture:?}, the executor {executor:?}",
            test.network
        )))
    }
}

/// Whether a block rejected with `rejection` fails the way `expected` (a fixture's
/// `expectException`: names such as `TransactionException.INSUFFICIENT_MAX_FEE_PER_BLOB_GAS`,
/// alternatives separated by `|`) says. Names of the blob, fee and header checks are compared
/// with the check that rejected the block; a name this table does not know accepts any
/// rejection, so that the fixture still requires the block to be rejected.
pub(crate) fn exception_matches(expected: &str, rejection: &Rejection) -> bool {
    expected.split('|').any(|name| exception_allows(name.trim(), rejection).unwrap_or(true))
}

/// Whether the exception `name` allows `rejection`; `None` for a name the table does not know.
fn exception_allows(name: &str, rejection: &Rejection) -> Option<bool> {
    use InvalidTransaction as Invalid;
    let transaction = match rejection {
        Rejection::Transaction(error) => Some(error),
        _ => None,
    };
    let invalid = match transaction {
        Some(TransactionError::Invalid { reason, .. }) => Some(reason),
        _ => None,
    };
    let blob_gas_exhausted = matches!(transaction, Some(TransactionError::BlobGasExhausted { .. }));
    let (name_kind, name) = name.split_once('.').unwrap_or(("", name));
    Some(match (name_kind, name) {
        ("TransactionException", "TYPE_3_TX_ZERO_BLOBS") => matches!(invalid, Some(Invalid::EmptyBlobs)),
        // Too many blobs for one transaction or for what the block has left: with Cancun's
        // schedule one transaction may fill the block, so the block's limit is met first.
        (
            "TransactionException",
            "TYPE_3_TX_BLOB_COUNT_EXCEEDED" | "TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED",
        ) => blob_gas_exhausted || matches!(invalid, Some(Invalid::TooManyBlobs { .. })),
        ("TransactionException", "INSUFFICIENT_MAX_FEE_PER_BLOB_GAS") => {
            matches!(invalid, Some(Invalid::BlobGasPriceGreaterThanMax { .. }))
        }
        ("TransactionException", "TYPE_3_TX_INVALID_BLOB_VERSIONED_HASH") => {
            matches!(invalid, Some(Invalid::BlobVersionNotSupported))
        }
        // A type-3 creation does not decode: the transaction's `to` is an address.
        ("TransactionException", "TYPE_3_TX_CONTRACT_CREATION") => {
            *rejection == Rejection::Decode || matches!(invalid, Some(Invalid::BlobCreateTransaction))
        }
        ("BlockException", "RLP_STRUCTURES_ENCODING") => *rejection == Rejection::Decode,
        ("TransactionException", "INSUFFICIENT_ACCOUNT_FUNDS") => {
            matches!(invalid, Some(Invalid::LackOfFundForMaxFee { .. }))
        }
        ("TransactionException", "INSUFFICIENT_MAX_FEE_PER_GAS") => {
            matches!(invalid, Some(Invalid::GasPriceLessThanBasefee))
        }
        ("TransactionException", "GAS_ALLOWANCE_EXCEEDED") => {
            matches!(transaction, Some(TransactionError::BlockGasExhausted { .. }))
        }
        ("BlockException", "INVALID_BASEFEE_PER_GAS") => *rejection == Rejection::Header("base fee"),
        ("BlockException", "INVALID_GASLIMIT") => *rejection == Rejection::HeaderInputs,
        ("BlockException", "INCORRECT_EXCESS_BLOB_GAS") => *rejection == Rejection::Header("excess blob gas"),
        ("BlockException", "INCORRECT_BLOB_GAS_USED") => *rejection == Rejection::Header("blob gas used"),
        ("BlockException", "BLOB_GAS_USED_ABOVE_LIMIT") => {
            *rejection == Rejection::Header("blob gas used") || blob_gas_exhausted
        }
        _ => return None,
    })
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
    rejection: Rejection,
    reason: String,
}

/// Which kind of check rejected a block, to compare with the exception the fixture expects
/// (see [`exception_matches`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The block's RLP, or a transaction in it, does not decode (a type-3 transaction cannot
    /// encode a creation: its `to` is an address), or a sender does not recover.
    Decode,
    /// A header field differs from the one derived from the parent or from the execution:
    /// names the field, as the failure's reason does ("excess blob gas", "blob gas used"...).
    Header(&'static str),
    /// A header input breaks the rules relative to the parent (number, timestamp, gas limit,
    /// extra data), or the block exceeds the EIP-7934 size limit.
    HeaderInputs,
    /// The executor refused a transaction.
    Transaction(TransactionError),
    /// Anything else: a system call, the state trie, the stateless re-execution.
    Other,
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
        return Err(BlockFailure { number: 0, rejection: Rejection::Other, reason: "no parent".into() });
    };
    let fail = |number: u64| {
        move |(rejection, reason): (Rejection, String)| BlockFailure { number, rejection, reason }
    };
    let block: Block<TxEnvelope> = alloy_rlp::decode_exact(rlp).map_err(|error| {
        fail(parent.number.saturating_add(1))((Rejection::Decode, format!("RLP: {error}")))
    })?;
    let header = block.header;
    let fail = fail(header.number);
    let other = |reason: String| fail((Rejection::Other, reason));
    if let Some(max) = chain.max_rlp_block_size()
        && rlp.len() > max
    {
        return Err(fail((
            Rejection::HeaderInputs,
            format!("{} bytes exceed the {max}-byte limit", rlp.len()),
        )));
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
        return Err(fail((Rejection::Header("ommers hash"), "ommers after the merge".into())));
    }

    let withdrawals = match &block.body.withdrawals {
        Some(withdrawals) => withdrawals.to_vec(),
        None if chain.spec.is_enabled_in(SpecId::SHANGHAI) => {
            return Err(fail((Rejection::Decode, "no withdrawals list from Shanghai on".into())));
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
    let mut executor = BlockExecutor::new(&mut *state, chain, parent, &inputs).map_err(|error| {
        let rejection = match error {
            ExecutionError::InvalidInputs { .. } => Rejection::HeaderInputs,
            _ => Rejection::Other,
        };
        fail((rejection, error.to_string()))
    })?;
    for (position, tx) in block.body.transactions.iter().enumerate() {
        let tx = tx
            .clone()
            .try_into_recovered()
            .map_err(|error| fail((Rejection::Decode, format!("transaction {position}: sender: {error}"))))?;
        executor.execute_transaction(&tx).map_err(|error| {
            let reason = format!("transaction {position}: {error}");
            fail((Rejection::Transaction(error), reason))
        })?;
    }
    let executed = executor.finish().map_err(|error| other(error.to_string()))?;

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
    trie.apply(&executed.changes).map_err(|error| other(format!("state trie: {error}")))?;
    let (state_root, new_nodes) = trie.commit();
    expect("state root", state_root, header.state_root).map_err(&fail)?;

    // Everything else (logs bloom, withdrawals root, fork fields, constants) by sealing our
    // own header: it must be the fixture's, hence hash to the fixture's block hash.
    let sealed = seal_header(chain, parent, &inputs, &executed, transactions_root, state_root);
    expect("logs bloom", sealed.logs_bloom, header.logs_bloom).map_err(&fail)?;
    expect("withdrawals root", sealed.withdrawals_root, header.withdrawals_root).map_err(&fail)?;
    if sealed != header {
        return Err(fail((Rejection::Header("sealed header"), header_difference(&sealed, &header))));
    }
    let hash = sealed.hash_slow();
    expect("block hash", hash, header.hash_slow()).map_err(&fail)?;
    check_stateless(chain, state, nodes, canonical, &inputs, &block.body, &executed, &sealed)
        .map_err(|reason| other(format!("stateless re-execution: {reason}")))?;
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

/// `Ok` when the header's field `what` is ours, else the [`Rejection::Header`] failure.
fn expect<T: PartialEq + std::fmt::Debug>(
    what: &'static str,
    ours: T,
    fixture: T,
) -> Result<(), (Rejection, String)> {
    if ours == fixture {
        Ok(())
    } else {
        Err((Rejection::Header(what), format!("{what} is {ours:?}, the block says {fixture:?}")))
    }
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
