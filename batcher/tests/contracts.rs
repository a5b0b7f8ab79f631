//! The committed contract artifacts are what their Solidity source compiles to with the pinned
//! `solc` (tools/package.json): `batcher/contracts/compile.js --check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

#[test]
fn artifacts_match_their_source() {
    let contracts = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts");
    let solc = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/node_modules/solc");
    assert!(
        std::path::Path::new(solc).exists(),
        "solc is missing at {solc}: run `npm ci --prefix tools` (tools/test does)"
    );
    let output = Command::new("node")
        .arg(format!("{contracts}/compile.js"))
        .arg("--check")
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "the artifacts in batcher/contracts/artifacts differ from the source; run `node batcher/contracts/compile.js`:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
