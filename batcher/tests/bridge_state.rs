//! The bridge's native-mode settlement, in an in-process revm running the committed
//! `NativeRollupBridge` beside the real EXECUTE precompile (trace-builder's, as the dev L1 runs
//! it), which judges real batches: empty L2 blocks built by the block executor on a small
//! state, with their traces and witnesses, in calldata or in blobs. The history ring answers for
//! exactly the settlements it holds, through many wraps, prewarmed or not; a prewarmed ring
//! never makes a settlement create a storage slot; EXECUTE gets exactly `abi.encodeCall`'s
//! input, for blobs and calldata, with anchors read from `blockhash`, EIP-2935 and the bridge's
//! record; anchors that go backwards or cannot be read are refused; the sequencer proposes
//! exactly while its bond stands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_consensus::{Header, constants::EMPTY_WITHDRAWALS};
use alloy_eips::{
    eip2935::{HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CODE},
    eip7685::EMPTY_REQUESTS_HASH,
};
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256, map::B256Map};
use alloy_sol_types::{SolCall, SolConstructor, SolInterface};
use batcher::bridge::{Batch, BridgeRevert, NativeRollupBridge};
use revm::{
    Context, ExecuteCommitEvm, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, ContextTr, TxEnv},
    context_interface::{block::BlobExcessGasAndPrice, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    interpreter::{CallInputs, CallOutcome, interpreter::EthInterpreter},
    primitives::{TxKind, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use std::sync::Arc;
use trace_builder::{
    BlockExecutor, BlockInputs, ChainConfig, OverriddenPrecompiles, StateTrie, Trace, TraceBlock, Witness,
    WitnessBuilder,
    blob::{Codec, encode_blobs, encode_frame},
    executor::ChainEvm,
    memory_state::MemoryState,
    precompile::{BlobSource, ExecutePrecompile, ExecuteSettings, abi},
    seal_header,
    trie::ordered_trie_root,
};

const EXECUTE: Address = trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS;
const SEQUENCER: Address = address!("0x00000000000000000000000000000000000005e0");
const STRANGER: Address = address!("0x0000000000000000000000000000000000000bad");
const CHAIN_ID: u64 = 1337;
const BOND: u128 = 1_000_000_000_000_000_000;
const DELAY: u64 = 7_200;
/// The L1's first block in these tests, and its timestamp.
const L1_START: (u64, u64) = (20_000, 1_000_000);

/// Keeps the input of the last call to EXECUTE.
#[derive(Default)]
struct Recorder {
    execute_input: Option<Bytes>,
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for Recorder {
    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        if inputs.target_address == EXECUTE {
            self.execute_input = Some(inputs.input.bytes(context));
        }
        None
    }
}

/// The blobs the L1 node holds, by versioned hash, for EXECUTE's blob mode.
#[derive(Debug, Default)]
struct HeldBlobs(parking_lot::Mutex<B256Map<Bytes>>);

impl BlobSource for HeldBlobs {
    fn blob(&self, versioned_hash: &B256) -> Option<Bytes> {
        self.0.lock().get(versioned_hash).cloned()
    }
}

/// The hash of L1 block `number` on this chain (what the database answers `BLOCKHASH` with).
fn l1_hash(number: u64) -> B256 {
    keccak256(number.to_string().as_bytes())
}

/// The L2 the bridge settles: its state, trie nodes and head block.
#[derive(Clone)]
struct L2 {
    chain: ChainConfig,
    state: MemoryState,
    nodes: B256Map<Bytes>,
    head: Header,
}

/// A batch of real L2 blocks: what the bridge is told, its trace, and the L2 after it.
struct BuiltBatch {
    batch: Batch,
    trace: Bytes,
    after: L2,
    /// Whether `batch` is what the trace proves (false once its post-state root is replaced).
    honest: bool,
}

impl BuiltBatch {
    /// The same batch claiming a post-state root its trace does not reach.
    fn false_root(mut self) -> Self {
        self.batch.postStateRoot = keccak256("a root no trace reaches");
        self.honest = false;
        self
    }
}

impl L2 {
    /// A genesis with the system contracts, at `timestamp`.
    fn genesis(timestamp: u64) -> Self {
        let state = MemoryState::with_system_contracts();
        let (state_root, nodes) = state.trie();
        let head = Header {
            timestamp,
            gas_limit: 30_000_000,
            base_fee_per_gas: Some(1_000_000_000),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            withdrawals_root: Some(EMPTY_WITHDRAWALS),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            state_root,
            ..Header::default()
        };
        Self { chain: ChainConfig::l2(CHAIN_ID), state, nodes, head }
    }

    /// `blocks` blocks on the head (one more for each anchor past that), a second apart, block
    /// `i` anchored to the L1 block `anchors[i]` (the last anchor for the blocks past them);
    /// empty blocks still change the state (EIP-4788's and EIP-2935's system calls).
    fn build(&self, blocks: u64, anchors: &[u64]) -> BuiltBatch {
        let mut after = self.clone();
        let mut witness = WitnessBuilder::new(self.nodes.clone(), self.head.state_root);
        let mut trace_blocks = Vec::new();
        let mut gas_used = 0;
        for index in 0..blocks.max(anchors.len() as u64) {
            let anchor =
                anchors.get(index as usize).or(anchors.last()).map_or(B256::ZERO, |number| l1_hash(*number));
            let parent = after.head.clone();
            let inputs = BlockInputs {
                number: parent.number + 1,
                timestamp: parent.timestamp + 1,
                beneficiary: Address::repeat_byte(0xcb),
                gas_limit: parent.gas_limit,
                prev_randao: B256::ZERO,
                extra_data: Bytes::new(),
                parent_beacon_block_root: anchor,
                withdrawals: Vec::new(),
            };
            let executed = BlockExecutor::new(&mut after.state, &after.chain, &parent, &inputs)
                .unwrap()
                .finish()
                .unwrap();
            let root = witness.add_block(&executed.access, &executed.changes).unwrap();
            let mut trie = StateTrie::new(&after.nodes, parent.state_root);
            assert_eq!(trie.apply(&executed.changes).unwrap(), root);
            after.nodes.extend(trie.commit().1);
            after.state.apply(&executed.changes);
            gas_used += executed.gas_used;
            let transactions: Vec<Bytes> = Vec::new();
            let header = seal_header(
                &after.chain,
                &parent,
                &inputs,
                &executed,
                ordered_trie_root(&transactions),
                root,
            );
            after.state.insert_block_hash(header.number, header.hash_slow());
            trace_blocks.push(TraceBlock::new(&inputs, transactions));
            after.head = header;
        }
        let needs = witness.finish();
        let codes = needs.codes.iter().map(|hash| after.state.code(hash).unwrap()).collect();
        let trace = Trace {
            chain_id: CHAIN_ID,
            ancestors: vec![self.head.clone()],
            blocks: trace_blocks,
            witness: Witness { nodes: needs.nodes, codes },
        };
        let batch = Batch {
            parentBlockHash: self.head.hash_slow(),
            lastNumber: after.head.number,
            lastBlockHash: after.head.hash_slow(),
            lastTimestamp: after.head.timestamp,
            postStateRoot: after.head.state_root,
            gasUsed: U256::from(gas_used),
            anchors: anchors.to_vec(),
        };
        BuiltBatch { batch, trace: trace.encode().into(), after, honest: true }
    }
}

/// How a batch's data reaches EXECUTE.
enum Data<'a> {
    /// Its trace in calldata.
    Calldata,
    /// Its trace in this transaction's blobs, which the L1 holds.
    Blobs,
    /// These bytes in calldata (blob mode when empty) and this transaction's blobs, which the
    /// L1 does not hold: EXECUTE answers false.
    Unreadable { trace: &'a [u8], blobs: &'a [B256] },
}

/// What a transaction did.
struct Outcome {
    /// Its return data, or the bridge's refusal.
    result: Result<Bytes, BridgeRevert>,
    /// Storage slots it took from zero to non-zero.
    created_slots: usize,
    /// What it called EXECUTE with, if it did.
    execute_input: Option<Bytes>,
}

/// A settlement the bridge made, as the test expects it.
#[derive(Clone, Copy, Debug)]
struct Settled {
    number: u64,
    block_hash: B256,
    state_root: B256,
}

/// An L1 with the bridge on it, the L2 it settles, and what the test expects of the bridge.
struct Chain {
    evm: ChainEvm<CacheDB<EmptyDB>, Recorder>,
    blobs: Arc<HeldBlobs>,
    bridge: Address,
    history: u64,
    /// The L2 at the bridge's head.
    l2: L2,
    settled: Vec<Settled>,
    newest_anchor: u64,
}

impl Chain {
    /// A native bridge keeping `history` settlements, whose proposer is `SEQUENCER` (or anyone
    /// bonded when `sequencer` is false), with `SEQUENCER` bonded.
    fn new(history: u64, sequencer: bool) -> Self {
        let mut db = CacheDB::<EmptyDB>::default();
        for account in [SEQUENCER, STRANGER] {
            db.insert_account_info(
                account,
                AccountInfo { balance: U256::from(BOND * 1_000), ..Default::default() },
            );
        }
        let history_code = Bytecode::new_legacy(HISTORY_STORAGE_CODE.clone());
        db.insert_account_info(HISTORY_STORAGE_ADDRESS, AccountInfo::default().with_code(history_code));
        let blobs = Arc::new(HeldBlobs::default());
        let execute = ExecutePrecompile::new(ExecuteSettings::default()).with_blobs(blobs.clone());
        let mut evm = Context::mainnet()
            .with_db(db)
            .modify_cfg_chained(|cfg| {
                cfg.spec = SpecId::OSAKA;
                cfg.disable_nonce_check = true;
            })
            .build_mainnet_with_inspector(Recorder::default())
            .with_precompiles(
                OverriddenPrecompiles::new(SpecId::OSAKA, Default::default()).with_execute(execute),
            );
        let mut block = BlockEnv {
            number: U256::from(L1_START.0),
            timestamp: U256::from(L1_START.1),
            ..Default::default()
        };
        block.blob_excess_gas_and_price =
            Some(BlobExcessGasAndPrice { excess_blob_gas: 0, blob_gasprice: 1 });
        evm.ctx.block = block;
        // The L2 started well before the L1 blocks of the test: its blocks, a second apart, stay
        // behind the L1's clock.
        let l2 = L2::genesis(L1_START.1 - 100_000);
        let genesis = Settled { number: 0, block_hash: l2.head.hash_slow(), state_root: l2.head.state_root };
        let constructor = NativeRollupBridge::constructorCall {
            chainId_: CHAIN_ID,
            executePrecompile_: EXECUTE,
            mode_: 0,
            sequencer_: if sequencer { SEQUENCER } else { Address::ZERO },
            proposerBond_: U256::from(BOND),
            challengeBond_: U256::from(1),
            challengeWindow_: 3_600,
            bondWithdrawalDelay_: DELAY,
            history_: U256::from(history),
            genesisBlockHash: genesis.block_hash,
            genesisStateRoot: genesis.state_root,
        };
        let mut code = NativeRollupBridge::BYTECODE.to_vec();
        code.extend(constructor.abi_encode());
        let tx = TxEnv::builder()
            .caller(SEQUENCER)
            .kind(TxKind::Create)
            .data(code.into())
            .gas_limit(16_000_000)
            .build_fill();
        let result = evm.transact_commit(tx).unwrap();
        let bridge = Address::from(*result.created_address().expect("the bridge deploys"));
        let mut chain = Self { evm, blobs, bridge, history, l2, settled: vec![genesis], newest_anchor: 0 };
        chain.bond(SEQUENCER).unwrap();
        chain
    }

    /// Sends `call` from `from` with `value` wei and `blobs` (a blob transaction when not empty).
    fn send<C: SolCall>(&mut self, from: Address, call: &C, value: u128, blobs: &[B256]) -> Outcome {
        let mut tx = TxEnv::builder()
            .caller(from)
            .call(self.bridge)
            .value(U256::from(value))
            .data(call.abi_encode().into())
            .gas_limit(16_000_000);
        if !blobs.is_empty() {
            tx = tx.tx_type(Some(3)).blob_hashes(blobs.to_vec()).max_fee_per_blob_gas(1);
        }
        self.evm.inspector.execute_input = None;
        let output = self.evm.inspect_tx(tx.build_fill()).unwrap();
        let created_slots = output
            .state
            .get(&self.bridge)
            .map(|account| {
                account
                    .storage
                    .values()
                    .filter(|slot| slot.original_value.is_zero() && !slot.present_value.is_zero())
                    .count()
            })
            .unwrap_or(0);
        let result = match output.result.clone() {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => Err(BridgeRevert::abi_decode(&output)
                .unwrap_or_else(|_| panic!("{} reverted without a bridge error: {output}", C::SIGNATURE))),
            ExecutionResult::Halt { reason, .. } => panic!("{} halted: {reason:?}", C::SIGNATURE),
        };
        self.evm.commit(output.state);
        Outcome { result, created_slots, execute_input: self.evm.inspector.execute_input.take() }
    }

    /// What the view `call` answers.
    fn view<C: SolCall>(&mut self, call: C) -> C::Return {
        let tx = TxEnv::builder()
            .caller(STRANGER)
            .call(self.bridge)
            .data(call.abi_encode().into())
            .gas_limit(10_000_000);
        match self.evm.transact(tx.build_fill()).unwrap().result {
            ExecutionResult::Success { output, .. } => C::abi_decode_returns(output.data()).unwrap(),
            other => panic!("{} failed: {other:?}", C::SIGNATURE),
        }
    }

    fn bond(&mut self, from: Address) -> Result<Bytes, BridgeRevert> {
        self.send(from, &NativeRollupBridge::bondCall {}, BOND, &[]).result
    }

    /// Moves the L1 on by `blocks` blocks of 12 seconds.
    fn advance(&mut self, blocks: u64) {
        self.evm.ctx.block.number += U256::from(blocks);
        self.evm.ctx.block.timestamp += U256::from(12 * blocks);
    }

    fn l1_number(&self) -> u64 {
        self.evm.ctx.block.number.to()
    }

    /// The batch of `blocks` more L2 blocks on the bridge's head, anchored to `anchors`.
    fn batch(&self, blocks: u64, anchors: Vec<u64>) -> BuiltBatch {
        self.l2.build(blocks, &anchors)
    }

    /// Submits `built` from `from` with its data as `data` says; when EXECUTE can only have
    /// answered true, records it as the expected head.
    fn submit(&mut self, from: Address, built: &BuiltBatch, data: Data<'_>) -> Outcome {
        let (trace, blobs) = match data {
            Data::Calldata => (built.trace.clone(), Vec::new()),
            Data::Blobs => (Bytes::new(), self.hold_blobs(&built.trace)),
            Data::Unreadable { trace, blobs } => (Bytes::copy_from_slice(trace), blobs.to_vec()),
        };
        let readable = !matches!(data, Data::Unreadable { .. });
        let call = NativeRollupBridge::submitBatchCall { batch: built.batch.clone(), trace };
        let outcome = self.send(from, &call, 0, &blobs);
        if outcome.result.is_ok() && built.honest && readable {
            self.settled.push(Settled {
                number: built.batch.lastNumber,
                block_hash: built.batch.lastBlockHash,
                state_root: built.batch.postStateRoot,
            });
            self.newest_anchor = *built.batch.anchors.last().unwrap();
            self.l2 = built.after.clone();
        }
        outcome
    }

    /// Puts `trace` into blobs as the batcher does, has the L1 hold them, and returns their
    /// versioned hashes.
    fn hold_blobs(&mut self, trace: &[u8]) -> Vec<B256> {
        let blobs = encode_blobs(&encode_frame(trace, Codec::DEFAULT).unwrap()).unwrap();
        let mut held = self.blobs.0.lock();
        blobs
            .into_iter()
            .map(|blob| {
                let hash = batcher::kzg::versioned_hash(&blob).unwrap();
                held.insert(hash, blob.into());
                hash
            })
            .collect()
    }

    /// A batch of `blocks` more L2 blocks, anchored to the previous L1 block, settled with its
    /// trace in calldata.
    fn settle(&mut self, blocks: u64) -> Outcome {
        self.advance(1);
        let built = self.batch(blocks, vec![self.l1_number() - 1]);
        let outcome = self.submit(SEQUENCER, &built, Data::Calldata);
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        let head = self.view(NativeRollupBridge::headCall {});
        assert_eq!(head.blockHash, built.batch.lastBlockHash, "EXECUTE took the batch");
        outcome
    }

    /// Whether the bridge's lookups answer for exactly the settlements its history holds.
    fn check_lookups(&mut self) {
        let count = self.settled.len() as u64;
        let head = *self.settled.last().unwrap();
        let answer = self.view(NativeRollupBridge::headCall {});
        assert_eq!(
            (answer.number, answer.blockHash, answer.stateRoot),
            (U256::from(head.number), head.block_hash, head.state_root)
        );
        assert_eq!(self.view(NativeRollupBridge::settlementsCall {}), U256::from(count));
        assert_eq!(self.view(NativeRollupBridge::newestAnchorCall {}), self.newest_anchor);
        let held = count.saturating_sub(self.history);
        for index in 0..count + 2 {
            let answer = self.view(NativeRollupBridge::settlementCall { index: U256::from(index) });
            let expected = match self.settled.get(index as usize) {
                Some(settled) if index >= held => (settled.number, settled.state_root),
                _ => (0, B256::ZERO),
            };
            assert_eq!(
                (answer.number, answer.stateRoot),
                expected,
                "settlement {index} of {count}, history {}",
                self.history
            );
        }
        for number in 0..=head.number + 1 {
            let expected = self.settled[held as usize..]
                .iter()
                .find(|settled| settled.number == number)
                .map_or(B256::ZERO, |settled| settled.state_root);
            let answer = self.view(NativeRollupBridge::settledStateRootCall { number: U256::from(number) });
            assert_eq!(
                answer, expected,
                "L2 block {number} after {count} settlements, history {}",
                self.history
            );
        }
    }

    fn prewarm(&mut self, from: u64, to: u64) -> Outcome {
        let call = NativeRollupBridge::prewarmHistoryCall { from: U256::from(from), to: U256::from(to) };
        let outcome = self.send(STRANGER, &call, 0, &[]);
        assert!(outcome.result.is_ok());
        outcome
    }
}

/// Versioned hash `index` of a blob transaction, of a blob the L1 does not hold.
fn blob_hash(index: u8) -> B256 {
    let mut hash = B256::repeat_byte(0x40 + index);
    hash[0] = 1;
    hash
}

#[test]
fn the_history_answers_for_exactly_the_settlements_it_holds() {
    for history in [1, 2, 3, 4, 5, 8] {
        for prewarm in [None, Some(0), Some(3)] {
            let mut chain = Chain::new(history, true);
            chain.check_lookups();
            for round in 0..3 * history + 3 {
                if prewarm == Some(round) {
                    chain.prewarm(0, history);
                    chain.check_lookups();
                }
                // Batches of 1 to 3 blocks: the numbers the ring holds are not evenly spaced.
                chain.settle(1 + round % 3);
                chain.check_lookups();
            }
        }
    }
}

#[test]
fn no_settlement_creates_a_slot_in_a_prewarmed_ring() {
    let history = 12;
    let mut prewarmed = Chain::new(history, true);
    let outcome = prewarmed.prewarm(0, history);
    assert!(outcome.created_slots >= history as usize - 1);
    for _ in 0..3 * history {
        assert_eq!(prewarmed.settle(2).created_slots, 0);
    }
    // Prewarming again, or a ring that wrapped, writes nothing.
    assert_eq!(prewarmed.prewarm(0, history).created_slots, 0);

    // Without it, every settlement of the first lap creates its state root's slot (and one in
    // four its numbers' slot); after the lap none does. A history of 1 has no lap.
    let mut cold = Chain::new(history, true);
    for round in 1..3 * history {
        let created = cold.settle(2).created_slots;
        assert_eq!(created > 0, round < history, "settlement {round}");
    }
    let mut single = Chain::new(1, true);
    for _ in 0..3 {
        assert_eq!(single.settle(1).created_slots, 0);
    }
}

#[test]
fn execute_gets_exactly_the_abi_encoding_of_the_bindings_the_bridge_builds() {
    let mut chain = Chain::new(16, true);
    chain.prewarm(0, 16);
    // EXECUTE cannot read the data below and answers false: the head stays where it is, so that
    // every batch below builds on it with anchors of any age; the sequencer bonds again after
    // each slashing.
    let recorded = chain.l1_number() - 3;
    let call = NativeRollupBridge::recordL1BlockHashesCall { numbers: vec![recorded] };
    assert!(chain.send(STRANGER, &call, 0, &[]).result.is_ok());
    chain.advance(9_000);
    let now = chain.l1_number();
    let served_by_eip2935 = [now - 5_000, now - 300];
    for number in served_by_eip2935 {
        let database = &mut chain.evm.ctx.journaled_state.database;
        database
            .insert_account_storage(
                HISTORY_STORAGE_ADDRESS,
                U256::from(number % 8_191),
                l1_hash(number).into(),
            )
            .unwrap();
    }
    // Anchors whose hashes `blockhash`, EIP-2935 and the bridge's record serve: the loop over
    // `blockhash`'s window starts after the older ones.
    let anchor_sets = [
        vec![now - 1],
        vec![recorded],
        vec![recorded, served_by_eip2935[0], served_by_eip2935[1], now - 200, now - 199, now - 2, now - 1],
        vec![served_by_eip2935[1], now - 256, now - 255],
    ];
    let traces: [&[u8]; 6] = [&[], &[0xab], &[0xcd; 31], &[0xef; 32], &[0x12; 33], &[0x34; 100]];
    for anchors in anchor_sets {
        for trace in traces {
            for blobs in if trace.is_empty() { vec![1, 2, 6] } else { vec![0] } {
                let built = chain.batch(3, anchors.clone());
                let batch = built.batch.clone();
                let hashes: Vec<B256> = (0..blobs).map(blob_hash).collect();
                let head = *chain.settled.last().unwrap();
                let outcome = chain.submit(SEQUENCER, &built, Data::Unreadable { trace, blobs: &hashes });
                assert!(outcome.result.is_ok(), "{:?} with anchors {anchors:?}", outcome.result);
                assert_eq!(chain.view(NativeRollupBridge::bondsCall { proposer: SEQUENCER }), U256::ZERO);
                let data = if trace.is_empty() {
                    let mut envelope = vec![0x01];
                    hashes.iter().for_each(|hash| envelope.extend_from_slice(hash.as_slice()));
                    Bytes::from(envelope)
                } else {
                    Bytes::copy_from_slice(trace)
                };
                let expected = abi::executeCall {
                    preStateRoot: head.state_root,
                    postStateRoot: batch.postStateRoot,
                    gasUsed: batch.gasUsed,
                    bindings: abi::Bindings {
                        chainId: CHAIN_ID,
                        parentBlockHash: head.block_hash,
                        lastBlockHash: batch.lastBlockHash,
                        lastNumber: batch.lastNumber,
                        lastTimestamp: batch.lastTimestamp,
                        anchors: anchors
                            .iter()
                            .map(|&number| abi::L1Anchor { number, blockHash: l1_hash(number) })
                            .collect(),
                    },
                    data,
                };
                assert_eq!(
                    outcome.execute_input.map(|input| input.to_vec()),
                    Some(expected.abi_encode()),
                    "anchors {anchors:?}, trace of {} bytes, {blobs} blobs",
                    trace.len()
                );
                chain.bond(SEQUENCER).unwrap();
            }
        }
    }
    // Such bindings settle with the batch's trace, in blobs or in calldata; the newest anchor
    // is the last one.
    let anchors = vec![recorded, served_by_eip2935[1], now - 1];
    let outcome = chain.submit(SEQUENCER, &chain.batch(2, anchors), Data::Blobs);
    assert!(outcome.result.is_ok());
    chain.check_lookups();
    assert_eq!(chain.newest_anchor, now - 1);
    assert_eq!(chain.view(NativeRollupBridge::bondsCall { proposer: SEQUENCER }), U256::from(BOND));
    let outcome = chain.submit(SEQUENCER, &chain.batch(1, vec![now - 1]), Data::Calldata);
    assert!(outcome.result.is_ok());
    chain.check_lookups();
}

#[test]
fn anchors_that_go_backwards_or_cannot_be_read_are_refused() {
    let mut chain = Chain::new(4, true);
    chain.prewarm(0, 4);
    chain.advance(10);
    let settled = chain.settle(1);
    assert!(settled.result.is_ok());
    chain.advance(5);
    let newest = chain.newest_anchor;
    let now = chain.l1_number();
    let refusal = |chain: &mut Chain, anchors: Vec<u64>| {
        let built = chain.batch(1, anchors);
        let outcome = chain.submit(SEQUENCER, &built, Data::Blobs);
        assert!(outcome.execute_input.is_none(), "EXECUTE was called");
        outcome.result.expect_err("refused")
    };
    let backwards = |number, newest| {
        BridgeRevert::AnchorBackwards(NativeRollupBridge::AnchorBackwards { number, newest })
    };
    let unknown = |number| BridgeRevert::UnknownAnchor(NativeRollupBridge::UnknownAnchor { number });
    assert_eq!(refusal(&mut chain, vec![newest - 1]), backwards(newest - 1, newest));
    assert_eq!(refusal(&mut chain, vec![newest, now - 1, now - 1]), backwards(now - 1, now - 1));
    assert_eq!(refusal(&mut chain, vec![newest, now - 1, now - 2]), backwards(now - 2, now - 1));
    assert_eq!(refusal(&mut chain, vec![now]), unknown(now));
    assert_eq!(refusal(&mut chain, vec![newest, now + 5]), unknown(now + 5));
    assert_eq!(refusal(&mut chain, vec![u64::MAX]), unknown(u64::MAX));
    assert_eq!(refusal(&mut chain, vec![]), BridgeRevert::NoAnchor(NativeRollupBridge::NoAnchor {}));
    // The head's newest anchor may be a batch's first: blocks may share an anchor across batches.
    let outcome = chain.submit(SEQUENCER, &chain.batch(1, vec![newest, now - 1]), Data::Blobs);
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    // Out of `blockhash`'s window, without EIP-2935's record (nor the bridge's): unknown.
    chain.advance(300);
    assert_eq!(refusal(&mut chain, vec![now]), unknown(now));
}

#[test]
fn the_sequencer_proposes_exactly_while_its_bond_stands() {
    let mut chain = Chain::new(4, true);
    let submit_as = |chain: &mut Chain, from: Address, honest: bool| {
        chain.advance(1);
        let built = chain.batch(1, vec![chain.l1_number() - 1]);
        let built = if honest { built } else { built.false_root() };
        let can_propose = chain.view(NativeRollupBridge::canProposeCall { proposer: from });
        let result = chain.submit(from, &built, Data::Blobs).result;
        assert_eq!(result.is_ok(), can_propose, "{result:?}");
        result
    };
    let submit = |chain: &mut Chain, from: Address| submit_as(chain, from, true);
    let not_proposer = |sender| Err(BridgeRevert::NotProposer(NativeRollupBridge::NotProposer { sender }));
    assert!(submit(&mut chain, SEQUENCER).is_ok());
    assert_eq!(submit(&mut chain, STRANGER), not_proposer(STRANGER));
    assert_eq!(chain.bond(STRANGER), Err(not_proposer(STRANGER).unwrap_err()));

    // Asking for the bond back ends proposing, and taking it keeps it ended.
    let call = NativeRollupBridge::requestBondWithdrawalCall {};
    assert!(chain.send(SEQUENCER, &call, 0, &[]).result.is_ok());
    assert_eq!(submit(&mut chain, SEQUENCER), not_proposer(SEQUENCER));
    chain.advance(DELAY / 12 + 1);
    assert!(chain.send(SEQUENCER, &NativeRollupBridge::withdrawBondCall {}, 0, &[]).result.is_ok());
    assert_eq!(submit(&mut chain, SEQUENCER), not_proposer(SEQUENCER));
    // Half a bond is not enough; the rest of it is.
    let half = chain.send(SEQUENCER, &NativeRollupBridge::bondCall {}, BOND / 2, &[]);
    assert!(half.result.is_ok());
    assert_eq!(submit(&mut chain, SEQUENCER), not_proposer(SEQUENCER));
    let rest = chain.send(SEQUENCER, &NativeRollupBridge::bondCall {}, BOND / 2, &[]);
    assert!(rest.result.is_ok());
    assert!(submit(&mut chain, SEQUENCER).is_ok());

    // A batch EXECUTE refuses slashes the whole bond: no more proposing until it bonds again.
    assert!(submit_as(&mut chain, SEQUENCER, false).is_ok());
    assert_eq!(chain.view(NativeRollupBridge::bondsCall { proposer: SEQUENCER }), U256::ZERO);
    assert_eq!(submit(&mut chain, SEQUENCER), not_proposer(SEQUENCER));
    chain.bond(SEQUENCER).unwrap();
    assert!(submit(&mut chain, SEQUENCER).is_ok());
    chain.check_lookups();

    // With anyone bonded allowed, each proposer's own bond counts.
    let mut open = Chain::new(4, false);
    assert!(submit(&mut open, SEQUENCER).is_ok());
    assert_eq!(submit(&mut open, STRANGER), not_proposer(STRANGER));
    open.bond(STRANGER).unwrap();
    assert!(submit(&mut open, STRANGER).is_ok());
    assert!(open.send(STRANGER, &NativeRollupBridge::requestBondWithdrawalCall {}, 0, &[]).result.is_ok());
    assert_eq!(submit(&mut open, STRANGER), not_proposer(STRANGER));
    assert!(submit(&mut open, SEQUENCER).is_ok());
    open.check_lookups();
}
