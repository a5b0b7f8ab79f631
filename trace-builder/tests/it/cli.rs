//! The `trace-builder` binary, run as a user runs it.

use crate::support::honest_batch;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_trace-builder");

fn run(args: &[&str]) -> (i32, String) {
    let output = Command::new(BIN).args(args).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap(), text)
}

#[test]
fn verify_accepts_raw_and_hex_traces_and_names_what_is_wrong() {
    let batch = honest_batch();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("trace.bin");
    std::fs::write(&raw, batch.bytes()).unwrap();
    let hex = dir.path().join("trace.hex");
    std::fs::write(&hex, format!("0x{}\n", alloy_primitives::hex::encode(batch.bytes()))).unwrap();
    let pre = batch.pre_state_root.to_string();
    let post = batch.post_state_root.to_string();
    let gas = batch.gas_used.to_string();
    // rollup_getTrace returns gasUsed as JSON-RPC hex: it is taken as it is.
    let gas_hex = format!("{:#x}", batch.gas_used);
    for (file, gas) in [(&raw, &gas), (&hex, &gas), (&raw, &gas_hex)] {
        let (code, out) = run(&[
            "verify",
            "--pre",
            &pre,
            "--post",
            &post,
            "--gas-used",
            gas,
            "--trace",
            file.to_str().unwrap(),
        ]);
        assert_eq!((code, out.trim()), (0, "valid"), "{} with gas {gas}", file.display());
    }
    for bad in ["0x", "0xg1", "-1", "", "0x10000000000000000"] {
        let (code, out) =
            run(&["verify", "--pre", &pre, "--post", &post, "--gas-used", bad, "--trace", "/nonexistent"]);
        assert_eq!(code, 2, "{bad}: {out}");
        assert!(out.contains("--gas-used"), "{bad}: {out}");
    }
    let wrong = (batch.gas_used + 1).to_string();
    let (code, out) = run(&[
        "verify",
        "--pre",
        &pre,
        "--post",
        &post,
        "--gas-used",
        &wrong,
        "--trace",
        raw.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: ") && out.contains("gas"), "{out}");
    let (code, out) = run(&[
        "verify",
        "--pre",
        &post,
        "--post",
        &post,
        "--gas-used",
        &gas,
        "--trace",
        raw.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: pre-state root"), "{out}");
    let (code, out) =
        run(&["verify", "--pre", &pre, "--post", &post, "--gas-used", &gas, "--trace", "/nonexistent"]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn blockchain_test_runs_every_fixture_statelessly() {
    let mut files: Vec<String> = [crate::blockchain::FIXTURES, crate::blockchain::EEST_FIXTURES]
        .into_iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|entry| entry.unwrap().path().to_str().unwrap().to_string())
        .filter(|path| path.ends_with(".json"))
        .collect();
    files.sort();
    let mut args = vec!["blockchain-test"];
    args.extend(files.iter().map(String::as_str));
    let (code, out) = run(&args);
    assert_eq!(code, 0, "{out}");
    let summary = out.lines().last().unwrap();
    assert!(summary.ends_with(" passed, 0 failed") && !summary.starts_with("0 "), "{summary}");
    assert!(out.lines().filter(|line| line.starts_with("PASS ")).count() >= 200, "{out}");
    assert!(out.contains("PASS tests/osaka/eip7594_peerdas/"), "{out}");
    assert!(out.contains("SKIP ") && out.contains("trietest.json"), "{out}");
}

#[test]
fn blobs_round_trip_a_trace_byte_for_byte() {
    let trace = honest_batch().bytes();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("trace.hex");
    std::fs::write(&input, format!("0x{}", alloy_primitives::hex::encode(&trace))).unwrap();
    let blobs = dir.path().join("blobs");
    let (code, out) =
        run(&["blobs", "encode", "--trace", input.to_str().unwrap(), "--out", blobs.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let mut files: Vec<String> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|entry| entry.unwrap().path().to_str().unwrap().to_string())
        .collect();
    files.sort();
    assert_eq!(
        out.trim(),
        format!("blobs={} payload_bytes={}", files.len(), out.trim().rsplit('=').next().unwrap())
    );
    assert!(files.iter().all(|file| std::fs::metadata(file).unwrap().len() == 131_072));
    let restored = dir.path().join("restored.bin");
    let mut args = vec!["blobs", "decode", "--out", restored.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let (code, out) = run(&args);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read(&restored).unwrap(), trace);
    // A damaged blob is an error, not a wrong trace.
    let mut damaged = std::fs::read(&files[0]).unwrap();
    damaged[100] ^= 0xff;
    std::fs::write(&files[0], damaged).unwrap();
    let (code, out) = run(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("error: "), "{out}");
}
