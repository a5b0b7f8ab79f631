//! The bridge's native-mode settlement, in an in-process revm running the committed
//! `NativeRollupBridge` beside a stand-in for EXECUTE (it answers what its storage slot 0 holds,
//! and the test keeps the input it was called with). The history ring answers for exactly the
//! settlements it holds, through many wraps, prewarmed or not; a prewarmed ring never makes a
//! settlement create a storage slot; EXECUTE gets exactly `abi.encodeCall`'s input, for blobs
//! and calldata, with anchors read from `blockhash`, EIP-2935 and the bridge's record; anchors
//! that go backwards or cannot be read are refused; the sequencer proposes exactly while its
//! bond stands. The real EXECUTE judges real batches in the sequencer's tests on a dev L1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_eips::eip2935::{HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CODE};
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_sol_types::{SolCall, SolConstructor, SolInterface};
use batcher::bridge::{Batch, BridgeRevert, NativeRollupBridge};
use revm::{
    Context, ExecuteCommitEvm, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, ContextTr, TxEnv},
    context_interface::{block::BlobExcessGasAndPrice, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    handler::{MainnetContext, MainnetEvm},
    interpreter::{CallInputs, CallOutcome, interpreter::EthInterpreter},
    primitives::{TxKind, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};

alloy_sol_types::sol! {
    /// EXECUTE's bound form (docs/trace-format.md §6), as the bridge calls it.
    interface IExecute {
        struct L1Anchor { uint64 number; bytes32 blockHash; }
        struct Bindings {
            uint64 chainId;
            bytes32 parentBlockHash;
            bytes32 lastBlockHash;
            uint64 lastNumber;
            uint64 lastTimestamp;
            L1Anchor[] anchors;
        }
        function execute(
            bytes32 preStateRoot,
            bytes32 postStateRoot,
            uint256 gasUsed,
            Bindings calldata bindings,
            bytes calldata data
        ) external returns (bool);
    }
}

const EXECUTE: Address = trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS;
const SEQUENCER: Address = address!("0x00000000000000000000000000000000000005e0");
const STRANGER: Address = address!("0x0000000000000000000000000000000000000bad");
const CHAIN_ID: u64 = 1337;
const BOND: u128 = 1_000_000_000_000_000_000;
const DELAY: u64 = 7_200;

/// EXECUTE's stand-in: returns its storage slot 0 as a 32-byte answer.
const EXECUTE_STAND_IN: [u8; 11] = [0x5f, 0x54, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3, 0, 0, 0];

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

/// The hash of L1 block `number` on this chain (what the database answers `BLOCKHASH` with).
fn l1_hash(number: u64) -> B256 {
    keccak256(number.to_string().as_bytes())
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

/// An L1 with the bridge on it, and what the test expects of the bridge.
struct Chain {
    evm: MainnetEvm<MainnetContext<CacheDB<EmptyDB>>, Recorder>,
    bridge: Address,
    history: u64,
    settled: Vec<Settled>,
    newest_anchor: u64,
    /// What EXECUTE answers.
    execute_valid: bool,
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
        let stand_in = Bytecode::new_legacy(Bytes::copy_from_slice(&EXECUTE_STAND_IN[..8]));
        db.insert_account_info(EXECUTE, AccountInfo::default().with_code(stand_in));
        db.insert_account_storage(EXECUTE, U256::ZERO, U256::from(1)).unwrap();
        let history_code = Bytecode::new_legacy(HISTORY_STORAGE_CODE.clone());
        db.insert_account_info(HISTORY_STORAGE_ADDRESS, AccountInfo::default().with_code(history_code));
        let mut evm = Context::mainnet()
            .with_db(db)
            .modify_cfg_chained(|cfg| {
                cfg.spec = SpecId::OSAKA;
                cfg.disable_nonce_check = true;
            })
            .build_mainnet_with_inspector(Recorder::default());
        let mut block =
            BlockEnv { number: U256::from(20_000), timestamp: U256::from(1_000_000), ..Default::default() };
        block.blob_excess_gas_and_price =
            Some(BlobExcessGasAndPrice { excess_blob_gas: 0, blob_gasprice: 1 });
        evm.ctx.block = block;
        let genesis =
            Settled { number: 0, block_hash: keccak256("genesis"), state_root: keccak256("genesis root") };
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
        let mut chain =
            Self { evm, bridge, history, settled: vec![genesis], newest_anchor: 0, execute_valid: true };
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

    /// EXECUTE's answer from now on.
    fn execute_answers(&mut self, valid: bool) {
        let database = &mut self.evm.ctx.journaled_state.database;
        database.insert_account_storage(EXECUTE, U256::ZERO, U256::from(u8::from(valid))).unwrap();
        self.execute_valid = valid;
    }

    /// The batch of `blocks` more L2 blocks on the expected head, anchored to `anchors`.
    fn batch(&self, blocks: u64, anchors: Vec<u64>) -> Batch {
        let head = self.settled.last().unwrap();
        let number = head.number + blocks;
        Batch {
            parentBlockHash: head.block_hash,
            lastNumber: number,
            lastBlockHash: keccak256(format!("block {number}")),
            lastTimestamp: self.evm.ctx.block.timestamp.to::<u64>() - 1,
            postStateRoot: keccak256(format!("root {number}")),
            gasUsed: U256::from(21_000 * blocks),
            anchors,
        }
    }

    /// Submits `batch` from `from` with `trace` (blob mode when empty, with `blobs`); when it
    /// settles, records it as the expected head.
    fn submit(&mut self, from: Address, batch: &Batch, trace: Bytes, blobs: &[B256]) -> Outcome {
        let call = NativeRollupBridge::submitBatchCall { batch: batch.clone(), trace };
        let outcome = self.send(from, &call, 0, blobs);
        if outcome.result.is_ok() && self.execute_valid {
            self.settled.push(Settled {
                number: batch.lastNumber,
                block_hash: batch.lastBlockHash,
                state_root: batch.postStateRoot,
            });
            self.newest_anchor = *batch.anchors.last().unwrap();
        }
        outcome
    }

    /// A one-blob batch of `blocks` more L2 blocks, anchored to the previous L1 block, settled.
    fn settle(&mut self, blocks: u64) -> Outcome {
        self.advance(1);
        let batch = self.batch(blocks, vec![self.l1_number() - 1]);
        let outcome = self.submit(SEQUENCER, &batch, Bytes::new(), &[blob_hash(0)]);
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
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

/// Versioned hash `index` of a blob transaction.
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
    // EXECUTE answers false: the head stays where it is, so that every batch below builds on
    // it with anchors of any age; the sequencer bonds again after each slashing.
    chain.execute_answers(false);
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
                let batch = chain.batch(3, anchors.clone());
                let hashes: Vec<B256> = (0..blobs).map(blob_hash).collect();
                let head = *chain.settled.last().unwrap();
                let outcome = chain.submit(SEQUENCER, &batch, Bytes::copy_from_slice(trace), &hashes);
                assert!(outcome.result.is_ok(), "{:?} with anchors {anchors:?}", outcome.result);
                let data = if trace.is_empty() {
                    let mut envelope = vec![0x01];
                    hashes.iter().for_each(|hash| envelope.extend_from_slice(hash.as_slice()));
                    Bytes::from(envelope)
                } else {
                    Bytes::copy_from_slice(trace)
                };
                let expected = IExecute::executeCall {
                    preStateRoot: head.state_root,
                    postStateRoot: batch.postStateRoot,
                    gasUsed: batch.gasUsed,
                    bindings: IExecute::Bindings {
                        chainId: CHAIN_ID,
                        parentBlockHash: head.block_hash,
                        lastBlockHash: batch.lastBlockHash,
                        lastNumber: batch.lastNumber,
                        lastTimestamp: batch.lastTimestamp,
                        anchors: anchors
                            .iter()
                            .map(|&number| IExecute::L1Anchor { number, blockHash: l1_hash(number) })
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
    // The same bindings settle when EXECUTE answers true; the newest anchor is the last one.
    chain.execute_answers(true);
    let anchors = vec![recorded, served_by_eip2935[1], now - 1];
    let outcome = chain.submit(SEQUENCER, &chain.batch(2, anchors), Bytes::new(), &[blob_hash(0)]);
    assert!(outcome.result.is_ok());
    chain.check_lookups();
    assert_eq!(chain.newest_anchor, now - 1);
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
        let batch = chain.batch(1, anchors);
        let outcome = chain.submit(SEQUENCER, &batch, Bytes::new(), &[blob_hash(0)]);
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
    let outcome =
        chain.submit(SEQUENCER, &chain.batch(1, vec![newest, now - 1]), Bytes::new(), &[blob_hash(0)]);
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    // Out of `blockhash`'s window, without EIP-2935's record (nor the bridge's): unknown.
    chain.advance(300);
    assert_eq!(refusal(&mut chain, vec![now]), unknown(now));
}

#[test]
fn the_sequencer_proposes_exactly_while_its_bond_stands() {
    let mut chain = Chain::new(4, true);
    let submit = |chain: &mut Chain, from: Address| {
        chain.advance(1);
        let batch = chain.batch(1, vec![chain.l1_number() - 1]);
        let can_propose = chain.view(NativeRollupBridge::canProposeCall { proposer: from });
        let result = chain.submit(from, &batch, Bytes::new(), &[blob_hash(0)]).result;
        assert_eq!(result.is_ok(), can_propose, "{result:?}");
        result
    };
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
    chain.execute_answers(false);
    assert!(submit(&mut chain, SEQUENCER).is_ok());
    assert_eq!(chain.view(NativeRollupBridge::bondsCall { proposer: SEQUENCER }), U256::ZERO);
    chain.execute_answers(true);
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
