//! `trace-builder`: the stateless side of the native rollup from the command line.
//!
//! ```text
//! trace-builder verify --pre 0x.. --post 0x.. --gas-used N|0x.. --trace FILE [--chain-id 1337]
//! trace-builder blockchain-test FILE...
//! trace-builder blobs encode --trace FILE --out DIR
//! trace-builder blobs decode --out FILE BLOB...
//! ```
//!
//! `verify` prints `valid` (exit 0) or `invalid: <reason>` (exit 1); a file it cannot read is
//! exit 2. `blockchain-test` prints one line per test and `N passed, M failed` (exit 1 when any
//! failed).
//!
//! The command and its ethereum/tests harness are built with the default `cli` feature; the
//! library itself needs neither clap nor serde.

mod blockchain_test;

use alloy_primitives::B256;
use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};
use trace_builder::{ChainConfig, TraceRules, Verifier, blob};

#[derive(Parser)]
#[command(name = "trace-builder", version, about = "Stateless verification of native rollup traces")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// EXECUTE on a trace: does it take the state from PRE to POST using GAS_USED gas?
    Verify {
        /// Claimed pre-state root.
        #[arg(long)]
        pre: B256,
        /// Claimed post-state root.
        #[arg(long)]
        post: B256,
        /// Claimed gas used by the batch: decimal, or hex starting with 0x as `rollup_getTrace`
        /// returns it.
        #[arg(long, value_parser = parse_gas)]
        gas_used: u64,
        /// The trace: raw bytes, or hex text starting with 0x.
        #[arg(long)]
        trace: PathBuf,
        /// The L2's chain id.
        #[arg(long, default_value_t = 1337)]
        chain_id: u64,
    },
    /// Encodes a trace into EIP-4844 blobs or decodes blobs back into a trace.
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Runs BlockchainTests JSON files (ethereum/tests, execution-spec-tests releases) through
    /// the executor and the stateless verifier (L1 rules).
    BlockchainTest {
        /// Fixture files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BlobsCommand {
    /// Writes the blobs of a trace (131,072 bytes each) into a directory.
    Encode {
        /// The trace: raw bytes, or hex text starting with 0x.
        #[arg(long)]
        trace: PathBuf,
        /// Directory for blob-000.bin, blob-001.bin, ...
        #[arg(long)]
        out: PathBuf,
    },
    /// Restores the trace that blobs carry.
    Decode {
        /// Where to write the trace (raw bytes).
        #[arg(long)]
        out: PathBuf,
        /// The blobs, in order.
        #[arg(required = true)]
        blobs: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Blobs(command) => match blobs(command) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
        },
        Command::Verify { pre, post, gas_used, trace, chain_id } => {
            let bytes = match read_trace(&trace) {
                Ok(bytes) => bytes,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(2);
                }
            };
            match Verifier::new(ChainConfig::l2(chain_id), TraceRules::L2).verify(pre, post, &bytes, gas_used)
            {
                Ok(_) => {
                    println!("valid");
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    println!("invalid: {reason}");
                    ExitCode::from(1)
                }
            }
        }
        Command::BlockchainTest { files } => {
            let (mut passed, mut failed) = (0usize, 0usize);
            for file in files {
                let tests = std::fs::read_to_string(&file)
                    .map_err(|error| error.to_string())
                    .and_then(|json| blockchain_test::parse(&json).map_err(|error| error.to_string()));
                let tests = match tests {
                    Ok(tests) => tests,
                    Err(_) if is_trie_test(&file) => {
                        println!("SKIP {}: a TrieTests file, not BlockchainTests", file.display());
                        continue;
                    }
                    Err(error) => {
                        println!("FAIL {}: {error}", file.display());
                        failed += 1;
                        continue;
                    }
                };
                for (name, test) in &tests {
                    match blockchain_test::run(test) {
                        Ok(()) => {
                            println!("PASS {name}");
                            passed += 1;
                        }
                        Err(error) => {
                            println!("FAIL {name}: {error}");
                            failed += 1;
                        }
                    }
                }
            }
            println!("{passed} passed, {failed} failed");
            if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
    }
}

/// A gas amount, decimal (`21000`) or hex with a `0x` prefix (`0x5208`, as JSON-RPC writes it).
fn parse_gas(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|byte| byte.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).map_err(|error| error.to_string())
        }
        Some(_) => Err("not a hex number".to_string()),
        None if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) => {
            text.parse().map_err(|error: std::num::ParseIntError| error.to_string())
        }
        None => Err("not a decimal number or 0x-prefixed hex".to_string()),
    };
    parsed.map_err(|reason| format!("{text:?}: {reason}"))
}

/// Runs a `blobs` subcommand; returns the line to print.
fn blobs(command: BlobsCommand) -> Result<String, String> {
    match command {
        BlobsCommand::Encode { trace, out } => {
            let trace = read_trace(&trace)?;
            let (blobs, payload) =
                blob::trace_to_blobs(&trace, blob::Codec::DEFAULT).map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            for (index, blob) in blobs.iter().enumerate() {
                let path = out.join(format!("blob-{index:03}.bin"));
                std::fs::write(&path, blob).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            Ok(format!("blobs={} payload_bytes={payload}", blobs.len()))
        }
        BlobsCommand::Decode { out, blobs } => {
            let blobs = blobs
                .iter()
                .map(|path| std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display())))
                .collect::<Result<Vec<_>, _>>()?;
            let trace = blob::blobs_to_trace(&blobs).map_err(|e| e.to_string())?;
            std::fs::write(&out, &trace).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            Ok(format!("trace_bytes={}", trace.len()))
        }
    }
}

/// Whether `path` holds ethereum/tests TrieTests (objects of `in` and `root`), which this
/// command does not run.
fn is_trie_test(path: &PathBuf) -> bool {
    let Ok(json) = std::fs::read_to_string(path) else { return false };
    let Ok(serde_json::Value::Object(tests)) = serde_json::from_str(&json) else { return false };
    !tests.is_empty() && tests.values().all(|test| test.get("in").is_some() && test.get("root").is_some())
}

/// The trace in `path`: hex text when it starts with `0x` (surrounding whitespace ignored),
/// raw bytes otherwise.
fn read_trace(path: &PathBuf) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let text = bytes.trim_ascii();
    match text.strip_prefix(b"0x") {
        Some(hex) => alloy_primitives::hex::decode(hex)
            .map_err(|error| format!("{}: bad hex: {error}", path.display())),
        None => Ok(bytes),
    }
}
