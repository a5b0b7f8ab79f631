//! A non-Rust wallet library against the node: web3.py (pinned in `tools/test`) runs the
//! scenarios in `tests/wallet/` over real HTTP, on the L2 and on the dev L1.

use crate::support::{launch, launch_l1};
use sequencer::node::Node;
use std::process::Command;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wallet/web3py_scenario.py");
const BLOB_SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wallet/web3py_blob_scenario.py");

/// Runs the web3.py scenario `script` against `node` and checks that it passed.
async fn run_scenario(script: &'static str, node: &Node) {
    let probe = Command::new("python3").args(["-c", "import web3"]).output().expect("python3 runs");
    assert!(
        probe.status.success(),
        "web3.py is missing: install it with `python3 -m pip install web3==7.16.0` (tools/test does)"
    );
    let url = format!("http://{}", node.rpc_addr);
    let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(script).arg(url).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "web3.py scenario {script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("scenario passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3py_wallet_session() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    run_scenario(SCENARIO, &node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3py_sends_a_blob_transaction_to_the_dev_l1_and_reads_its_blob_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch_l1(dir.path()).await;
    run_scenario(BLOB_SCENARIO, &node).await;
    node.stop().await;
}
