//! A non-Rust wallet library against the node: web3.py (pinned in `tools/test`) runs
//! `tests/wallet/web3py_scenario.py` over real HTTP.

use crate::support::launch;
use std::process::Command;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wallet/web3py_scenario.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3py_wallet_session() {
    let probe = Command::new("python3").args(["-c", "import web3"]).output().expect("python3 runs");
    assert!(
        probe.status.success(),
        "web3.py is missing: install it with `python3 -m pip install web3==7.16.0` (tools/test does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let url = format!("http://{}", node.rpc_addr);
    let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(SCENARIO).arg(url).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "web3.py scenario failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("web3.py scenario passed"), "{stdout}");
    node.stop().await;
}
