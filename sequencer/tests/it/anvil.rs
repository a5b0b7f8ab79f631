//! Anvil (the pinned npm package in `tools/`), the stock L1 the batcher and the optimistic
//! bridge must work against, and the batcher's blob transactions on it: at Osaka with EIP-7594
//! cell proofs, and at Prague with EIP-4844 blob proofs. Anvil checks the KZG proofs against the
//! versioned hashes before it takes the transaction.

use crate::support::dev_signer;
use alloy_eips::eip4844::Blob;
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use batcher::{BlobFees, SidecarForm, build_blob_transaction, build_sidecar};
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The pinned Anvil binary (tools/package.json).
const ANVIL: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");

/// Anvil on a free port, killed on drop.
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts Anvil with `hardfork`'s rules, mining a block per transaction.
pub fn anvil(hardfork: &str) -> Anvil {
    anvil_with(hardfork, &[])
}

/// Starts Anvil with `hardfork`'s rules and `flags` besides (`--no-mining` to mine only on
/// `evm_mine`, `--block-time 1` for a block a second, ...).
pub fn anvil_with(hardfork: &str, flags: &[&str]) -> Anvil {
    assert!(
        std::path::Path::new(ANVIL).exists(),
        "Anvil is missing at {ANVIL}: run `npm ci --prefix tools` (tools/test does)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(ANVIL)
        .args(["--port", &port.to_string(), "--hardfork", hardfork, "--silent"])
        .args(flags)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "Anvil did not listen within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Anvil { child, url: format!("http://127.0.0.1:{port}") }
}

async fn send_blobs(hardfork: &str, form: SidecarForm) {
    let node = anvil(hardfork);
    let provider = ProviderBuilder::new().connect_http(node.url.parse().unwrap());
    let signer = dev_signer(0);
    // A payload that needs two blobs, through the project's blob codec.
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (blobs, _) = trace_builder::blob::trace_to_blobs(&payload, trace_builder::blob::Codec::None).unwrap();
    assert_eq!(blobs.len(), 2);
    let sidecar = build_sidecar(blobs.iter().map(|blob| Blob::from_slice(blob)).collect(), form).unwrap();

    let chain_id = provider.get_chain_id().await.unwrap();
    let nonce = provider.get_transaction_count(signer.address()).await.unwrap();
    let blob_base_fee = provider.get_blob_base_fee().await.unwrap();
    let gas_price = provider.get_gas_price().await.unwrap();
    let fees = BlobFees {
        max_fee_per_gas: gas_price * 2,
        max_priority_fee_per_gas: gas_price / 10 + 1,
        max_fee_per_blob_gas: blob_base_fee * 2 + 1,
    };
    let tx = build_blob_transaction(
        &signer,
        chain_id,
        nonce,
        Address::repeat_byte(0xb1),
        Bytes::from_static(b"batch"),
        U256::ZERO,
        100_000,
        fees,
        sidecar,
    )
    .unwrap();
    let sent = provider.send_raw_transaction(&tx.network_encoding).await.expect("send_raw_transaction");
    assert_eq!(*sent.tx_hash(), tx.hash);
    let deadline = Instant::now() + Duration::from_secs(20);
    let receipt = loop {
        if let Some(receipt) = provider.get_transaction_receipt(tx.hash).await.unwrap() {
            break receipt;
        }
        assert!(Instant::now() < deadline, "not mined within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(receipt.status(), "{hardfork}: the blob transaction failed");
    assert_eq!(receipt.blob_gas_used, Some(2 * 131_072), "{hardfork}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osaka_takes_cell_proofs() {
    send_blobs("osaka", SidecarForm::for_l1(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prague_takes_blob_proofs() {
    send_blobs("prague", SidecarForm::for_l1(false)).await;
}
