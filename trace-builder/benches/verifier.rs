//! EXECUTE on 1,000-transaction batches: verifier speed on one core, and trace size per
//! transaction (raw and zstd-compressed, transactions and witness apart) beside the floor (the
//! deduplicated node set), a naive witness (one eth_getProof-style proof per account and slot
//! touched) and a JSON hex witness like EIP-8079's proof of concept; and what EXECUTE's blob mode
//! adds on the same traces (unpacking the blobs, decompressing the frame) beside verifying.
//!
//! `cargo bench -p trace-builder --bench verifier -- [--accounts 10000,100000,1000000]
//! [--iterations 5]` prints four Markdown tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use alloy_consensus::{
    Header, SignableTransaction, TxEip1559, TxEnvelope, constants::EMPTY_WITHDRAWALS, transaction::Recovered,
};
use alloy_eips::{eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, hex, keccak256, map::B256Map};
use alloy_signer_local::PrivateKeySigner;
use clap::Parser;
use std::{collections::BTreeMap, time::Instant};
use trace_builder::{
    BlockExecutor, BlockInputs, ChainConfig, StateTrie, Trace, TraceBlock, TraceRules, Verifier, Witness,
    WitnessBuilder, memory_state::MemoryState,
};

/// The transfer path of an ERC-20 token, hand-assembled (the same as the block production
/// bench's): balance check, two SSTOREs, a `Transfer` log, returns true.
const TOKEN_CODE: &str = "6004356024353354818110604d578190033355815481018255600052337fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef60206000a3600160005260206000f35b600080fd";
const TOKEN: Address = address!("0000000000000000000000000000000000007070");
const TXS: usize = 1_000;
const GAS_LIMIT: u64 = 100_000_000;
const CHAIN_ID: u64 = 1337;

#[derive(Parser)]
struct Args {
    /// State sizes (accounts) to measure.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    accounts: Vec<u64>,
    /// Timed verifications per batch.
    #[arg(long, default_value_t = 5)]
    iterations: u32,
    /// Accept cargo bench's own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    Eth,
    Erc20,
    /// Each transaction deploys a 160-byte contract of its own.
    Deploy,
}

fn main() {
    let args = Args::parse();
    let mut speed = Vec::new();
    let mut sizes = Vec::new();
    let mut codecs = Vec::new();
    let mut blob_mode = Vec::new();
    for &accounts in &args.accounts {
        let senders: Vec<PrivateKeySigner> = (1..=TXS as u64)
            .map(|i| PrivateKeySigner::from_bytes(&B256::from(U256::from(i))).unwrap())
            .collect();
        let started = Instant::now();
        let state = genesis(&senders, accounts);
        let (root, nodes) = state.trie();
        eprintln!("{accounts} accounts: state built in {:.1} s", started.elapsed().as_secs_f64());
        for workload in [Workload::Eth, Workload::Erc20, Workload::Deploy] {
            let batch = Batch::build(&state, &nodes, root, &senders, accounts, workload);
            let verifier = Verifier::new(ChainConfig::l2(CHAIN_ID), TraceRules::L2);
            let bytes = batch.trace.encode();
            let mut best = f64::MAX;
            for _ in 0..args.iterations {
                let started = Instant::now();
                verifier.verify(root, batch.post_state_root, &bytes, batch.gas_used).unwrap();
                best = best.min(started.elapsed().as_secs_f64());
            }
            let name = match workload {
                Workload::Eth => "ETH transfer",
                Workload::Erc20 => "ERC-20 transfer",
                Workload::Deploy => "contract deployment",
            };
            speed.push(format!(
                "| {accounts} | {name} | {} | {:.1} | {:.0} | {:.0} |",
                batch.gas_used / TXS as u64,
                best * 1e3,
                batch.gas_used as f64 / best / 1e6,
                TXS as f64 / best,
            ));
            blob_mode.push(blob_mode_row(&bytes, best, accounts, name, args.iterations));
            sizes.push(batch.sizes(accounts, name));
            codecs.extend(compression(&bytes, accounts, name));
        }
    }
    println!("| accounts | workload | gas/tx | verify ms | Mgas/s | tx/s |");
    println!("|---|---|---|---|---|---|");
    for row in speed {
        println!("{row}");
    }
    println!();
    println!(
        "| accounts | workload | trace B/tx | zstd-3 B/tx | txs B/tx | txs zstd-3 B/tx | witness B/tx | witness zstd-3 B/tx | floor B/tx | witness / floor | naive proofs B/tx | JSON hex B/tx |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in sizes {
        println!("{row}");
    }
    println!();
    println!(
        "| accounts | workload | codec | ratio | compress MB/s | decompress MB/s | frame B/tx | transfers per blob |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in codecs {
        println!("{row}");
    }
    println!();
    println!(
        "| accounts | workload | blobs | unpack blobs ms | decompress ms | verify ms | blob mode ms | over the verifier alone |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in blob_mode {
        println!("{row}");
    }
}

/// EXECUTE's blob mode on `trace` (verified alone in `verify` seconds): the trace packed into
/// blobs by the DA codec, then, timed, the blobs unpacked (no KZG: the L1 checked the
/// commitments when it took the transaction) and the frame decompressed, beside verifying.
fn blob_mode_row(trace: &[u8], verify: f64, accounts: u64, name: &str, iterations: u32) -> String {
    use trace_builder::blob::{Codec, decode_blobs, payload_to_trace, trace_to_blobs};
    let (blobs, _) = trace_to_blobs(trace, Codec::DEFAULT).unwrap();
    let (mut unpack, mut decompress) = (f64::MAX, f64::MAX);
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        let payload = decode_blobs(&blobs).unwrap();
        unpack = unpack.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let decoded = payload_to_trace(&payload).unwrap();
        decompress = decompress.min(started.elapsed().as_secs_f64());
        assert_eq!(decoded, trace);
    }
    let total = unpack + decompress + verify;
    format!(
        "| {accounts} | {name} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1}% |",
        blobs.len(),
        unpack * 1e3,
        decompress * 1e3,
        verify * 1e3,
        total * 1e3,
        (unpack + decompress) / verify * 100.0
    )
}

/// Ratio and speed of zstd and brotli at several levels on one trace, and what the DA codec's
/// blobs then carry.
fn compression(trace: &[u8], accounts: u64, name: &str) -> Vec<String> {
    type Compress = Box<dyn Fn(&[u8]) -> Vec<u8>>;
    type Decompress = Box<dyn Fn(&[u8]) -> Vec<u8>>;
    let mut codecs: Vec<(String, Compress, Decompress)> = Vec::new();
    for level in [1, 3, 9, 19] {
        codecs.push((
            format!("zstd-{level}"),
            Box::new(move |data| zstd::bulk::compress(data, level).unwrap()),
            Box::new(|data| zstd::stream::decode_all(data).unwrap()),
        ));
    }
    for quality in [5, 9, 11] {
        codecs.push((
            format!("brotli-{quality}"),
            Box::new(move |data| {
                let mut out = Vec::new();
                let params = brotli::enc::BrotliEncoderParams { quality, lgwin: 22, ..Default::default() };
                brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
                out
            }),
            Box::new(|data| {
                let mut out = Vec::new();
                brotli::BrotliDecompress(&mut &data[..], &mut out).unwrap();
                out
            }),
        ));
    }
    let mb = trace.len() as f64 / 1e6;
    codecs
        .into_iter()
        .map(|(codec, compress, decompress)| {
            let started = Instant::now();
            let compressed = compress(trace);
            let compress_s = started.elapsed().as_secs_f64();
            let started = Instant::now();
            assert_eq!(decompress(&compressed), trace);
            let decompress_s = started.elapsed().as_secs_f64();
            // The frame header is 10 bytes; a blob carries 130,044 payload bytes.
            let frame_per_tx = (compressed.len() + 10) as f64 / TXS as f64;
            format!(
                "| {accounts} | {name} | {codec} | {:.3} | {:.1} | {:.0} | {:.1} | {:.0} |",
                trace.len() as f64 / compressed.len() as f64,
                mb / compress_s,
                mb / decompress_s,
                frame_per_tx,
                trace_builder::blob::BLOB_PAYLOAD as f64 / frame_per_tx,
            )
        })
        .collect()
}

/// A 1,000-transaction batch and its trace.
struct Batch {
    trace: Trace,
    post_state_root: B256,
    gas_used: u64,
    /// eth_getProof-style proofs of every account and slot touched, without deduplication.
    naive_bytes: usize,
}

impl Batch {
    fn build(
        state: &MemoryState,
        nodes: &B256Map<Bytes>,
        root: B256,
        senders: &[PrivateKeySigner],
        accounts: u64,
        workload: Workload,
    ) -> Self {
        let mut state = state.clone();
        let parent = Header {
            number: 0,
            timestamp: 1_000,
            gas_limit: GAS_LIMIT,
            gas_used: GAS_LIMIT / 2,
            base_fee_per_gas: Some(1_000_000_000),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            withdrawals_root: Some(EMPTY_WITHDRAWALS),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            state_root: root,
            ..Header::default()
        };
        let inputs = BlockInputs {
            number: 1,
            timestamp: 1_001,
            beneficiary: Address::repeat_byte(0xfe),
            gas_limit: GAS_LIMIT,
            prev_randao: B256::ZERO,
            extra_data: Bytes::new(),
            parent_beacon_block_root: B256::repeat_byte(1),
            withdrawals: Vec::new(),
        };
        let chain = ChainConfig::l2(CHAIN_ID);
        let mut executor = BlockExecutor::new(&mut state, &chain, &parent, &inputs).unwrap();
        let mut transactions = Vec::with_capacity(TXS);
        for (i, sender) in senders.iter().enumerate() {
            // Half the recipients are new accounts, half existing ones.
            let to = if i % 2 == 0 {
                Address::from_word(keccak256(((i as u64 + 1) << 40).to_be_bytes()))
            } else {
                filler((i as u64 * 7_919) % accounts.saturating_sub(TXS as u64).max(1))
            };
            let tx = transfer(sender, workload, to);
            let outcome = executor.execute_transaction(&tx).unwrap();
            assert!(outcome.success);
            transactions.push(Bytes::from(tx.inner().encoded_2718()));
        }
        let executed = executor.finish().unwrap();

        let mut witness = WitnessBuilder::new(nodes, root);
        let post_state_root = witness.add_block(&executed.access, &executed.changes).unwrap();
        let needs = witness.finish();
        let codes: Vec<Bytes> = needs.codes.iter().map(|hash| state.code(hash).unwrap()).collect();

        // The naive witness: one proof per touched account and slot, nothing shared.
        let mut trie = StateTrie::new(nodes, root);
        let mut naive_bytes = codes.iter().map(|bytes| bytes.len()).sum::<usize>();
        for address in &executed.access.accounts {
            let slots: Vec<U256> = executed
                .access
                .storage
                .get(address)
                .map(|slots| slots.iter().copied().collect())
                .unwrap_or_default();
            let proof = trie.proof(*address, &slots).unwrap();
            naive_bytes += proof.account_proof.iter().map(|bytes| bytes.len()).sum::<usize>();
            naive_bytes +=
                proof.storage.iter().flat_map(|slot| &slot.proof).map(|bytes| bytes.len()).sum::<usize>();
        }

        let trace = Trace {
            chain_id: CHAIN_ID,
            ancestors: vec![parent],
            blocks: vec![TraceBlock::new(&inputs, transactions)],
            witness: Witness { nodes: needs.nodes, codes },
        };
        Self { trace, post_state_root, gas_used: executed.gas_used, naive_bytes }
    }

    fn sizes(&self, accounts: u64, name: &str) -> String {
        let per_tx = |bytes: usize| bytes as f64 / TXS as f64;
        let trace = self.trace.encode();
        let transactions = alloy_rlp::encode(&self.trace.blocks);
        let witness = alloy_rlp::encode(&self.trace.witness);
        let floor: usize =
            self.trace.witness.nodes.iter().chain(&self.trace.witness.codes).map(|bytes| bytes.len()).sum();
        let json = serde_json::json!({
            "state": self.trace.witness.nodes.iter().map(|node| format!("0x{}", hex::encode(node))).collect::<Vec<_>>(),
            "codes": self.trace.witness.codes.iter().map(|code| format!("0x{}", hex::encode(code))).collect::<Vec<_>>(),
            "headers": self.trace.ancestors.iter().map(|header| format!("0x{}", hex::encode(alloy_rlp::encode(header)))).collect::<Vec<_>>(),
        })
        .to_string();
        let zstd = |bytes: &[u8]| zstd::encode_all(bytes, 3).unwrap().len();
        format!(
            "| {accounts} | {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.3} | {:.1} | {:.1} |",
            per_tx(trace.len()),
            per_tx(zstd(&trace)),
            per_tx(transactions.len()),
            per_tx(zstd(&transactions)),
            per_tx(witness.len()),
            per_tx(zstd(&witness)),
            per_tx(floor),
            witness.len() as f64 / floor as f64,
            per_tx(self.naive_bytes),
            per_tx(json.len()),
        )
    }
}

fn filler(index: u64) -> Address {
    Address::from_word(keccak256(index.to_be_bytes()))
}

/// The L2 system contracts, the senders (10,000 ETH and 10^24 tokens each), `accounts` filler
/// accounts (1 ETH each) and the token.
fn genesis(senders: &[PrivateKeySigner], accounts: u64) -> MemoryState {
    let ether = U256::from(10u64).pow(U256::from(18));
    let mut state = MemoryState::with_system_contracts();
    let mut token_storage = BTreeMap::new();
    for sender in senders {
        state.insert_account(sender.address(), 0, ether * U256::from(10_000), Bytes::new(), BTreeMap::new());
        token_storage.insert(U256::from_be_bytes(sender.address().into_word().0), ether * ether);
    }
    for index in 0..accounts.saturating_sub(senders.len() as u64) {
        state.insert_account(filler(index), 0, ether, Bytes::new(), BTreeMap::new());
    }
    state.insert_account(TOKEN, 1, U256::ZERO, hex::decode(TOKEN_CODE).unwrap().into(), token_storage);
    state
}

fn transfer(sender: &PrivateKeySigner, workload: Workload, to: Address) -> Recovered<TxEnvelope> {
    use alloy_signer::SignerSync;
    let (kind, gas_limit, value, input) = match workload {
        Workload::Eth => (TxKind::Call(to), 21_000, U256::from(1_000u64), Bytes::new()),
        Workload::Erc20 => {
            let mut input = hex::decode("a9059cbb").unwrap();
            input.extend_from_slice(to.into_word().as_slice());
            input.extend_from_slice(&U256::from(1_000u64).to_be_bytes::<32>());
            (TxKind::Call(TOKEN), 90_000, U256::ZERO, input.into())
        }
        Workload::Deploy => {
            // A runtime of its own per sender (STOP, then bytes from the sender's hash).
            let seed = keccak256(sender.address());
            let runtime: Vec<u8> =
                std::iter::once(0x00).chain(seed.iter().cycle().copied().take(159)).collect();
            let mut init = vec![0x60, 160, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 160, 0x60, 0x00, 0xf3];
            init.extend_from_slice(&runtime);
            (TxKind::Create, 150_000, U256::ZERO, init.into())
        }
    };
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: kind,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = sender.sign_hash_sync(&tx.signature_hash()).unwrap();
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(signature)), sender.address())
}
