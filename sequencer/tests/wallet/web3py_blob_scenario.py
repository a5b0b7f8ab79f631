"""A blob transaction built and signed by web3.py (eth-account) on the dev L1, and its blob fetched
back through the Beacon API.

Usage: python3 web3py_blob_scenario.py http://127.0.0.1:PORT
Exits non-zero with a traceback on the first thing that does not behave as on Ethereum.

eth-account 0.14 (web3.py 7.16's) computes the sidecar itself from `blobs=`, in the EIP-7594 form
(cell proofs), which the Osaka dev L1 takes; the node computes the blob proof it serves.
"""

import hashlib
import json
import sys
import urllib.request

import rlp
from ckzg import load_trusted_setup, verify_blob_kzg_proof
from eth_account import Account
from eth_account.typed_transactions.base import TRUSTED_SETUP
from eth_utils import keccak
from web3 import Web3

MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 900
BYTES_PER_BLOB = 131_072
GAS_PER_BLOB = 131_072


def fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """EIP-4844's approximation of factor * e ** (numerator / denominator)."""
    i, output, accumulator = 1, 0, factor * denominator
    while accumulator > 0:
        output += accumulator
        accumulator = (accumulator * numerator) // (denominator * i)
        i += 1
    return output // denominator


def blob_of(message: bytes) -> bytes:
    """`message` packed 31 bytes to a field element: a zero first byte keeps each below the
    modulus."""
    chunks = [message[i : i + 31] for i in range(0, len(message), 31)]
    assert len(chunks) <= BYTES_PER_BLOB // 32
    return b"".join(b"\x00" + chunk.ljust(31, b"\x00") for chunk in chunks).ljust(BYTES_PER_BLOB, b"\x00")


def versioned_hash(commitment: bytes) -> bytes:
    """EIP-4844: 0x01 followed by the commitment's SHA-256 without its first byte."""
    return b"\x01" + hashlib.sha256(commitment).digest()[1:]


def get_json(url: str, path: str) -> dict:
    with urllib.request.urlopen(url + path, timeout=30) as response:
        assert response.status == 200, (path, response.status)
        return json.load(response)


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def main(url: str) -> None:
    w3 = Web3(Web3.HTTPProvider(url))
    assert w3.is_connected()
    assert w3.eth.chain_id == CHAIN_ID
    Account.enable_unaudited_hdwallet_features()
    me = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/6")
    schedule = w3.provider.make_request("eth_config", [])["result"]["current"]["blobSchedule"]
    assert schedule["max"] > 0, schedule

    # A type-3 transaction carrying one blob, its sidecar and versioned hash made by eth-account.
    blob = blob_of(b"a blob web3.py carried to the dev L1 in a type-3 transaction; " * 200)
    blob_fee_cap = 2 * w3.eth.blob_base_fee
    tip = w3.eth.max_priority_fee
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tx = {
        "type": 3,
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(me.address, "pending"),
        "to": me.address,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": 2 * base + tip,
        "maxPriorityFeePerGas": tip,
        "maxFeePerBlobGas": blob_fee_cap,
    }
    signed = me.sign_transaction(tx, blobs=[blob])
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    # The transaction's hash is keccak(0x03 || rlp(body)), without the sidecar. (eth-account's
    # `signed.hash` hashes the whole network form, sidecar included: not the transaction's.)
    body = rlp.decode(bytes(signed.raw_transaction)[1:])[0]
    assert tx_hash == keccak(b"\x03" + rlp.encode(body)), (tx_hash, signed.hash)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, receipt
    assert receipt["type"] == 3, receipt

    # The blob gas in the receipt: one blob's, at the block's blob base fee by the fork's
    # schedule, and the sender paid exactly gas and blob gas at those prices.
    number = receipt["blockNumber"]
    block = w3.eth.get_block(number)
    assert receipt["blobGasUsed"] == GAS_PER_BLOB, receipt
    price = fake_exponential(1, block["excessBlobGas"], schedule["baseFeeUpdateFraction"])
    assert receipt["blobGasPrice"] == price, (receipt["blobGasPrice"], price, block["excessBlobGas"])
    assert price <= blob_fee_cap
    assert block["blobGasUsed"] >= GAS_PER_BLOB, block
    paid = w3.eth.get_balance(me.address, number - 1) - w3.eth.get_balance(me.address, number)
    assert paid == receipt["gasUsed"] * receipt["effectiveGasPrice"] + GAS_PER_BLOB * price, paid
    # web3.py 7.16 leaves the blob fields of eth_feeHistory as the node sent them (hex).
    history = w3.eth.fee_history(1, number)
    assert int(history["baseFeePerBlobGas"][0], 16) == price, history
    ratio = block["blobGasUsed"] / (schedule["max"] * GAS_PER_BLOB)
    assert history["blobGasUsedRatio"] == [ratio], history

    # The block carries the transaction without its sidecar: its versioned hash.
    mined = w3.eth.get_transaction(tx_hash)
    assert mined["hash"] == tx_hash and mined["type"] == 3, mined
    assert mined["maxFeePerBlobGas"] == blob_fee_cap, mined
    [hashed] = mined["blobVersionedHashes"]

    # The blob back through the Beacon API, byte for byte: its sidecar (with a blob proof the
    # node computed, which verifies), and the blob alone by versioned hash.
    sidecars = get_json(url, f"/eth/v1/beacon/blob_sidecars/{number}")["data"]
    [sidecar] = [s for s in sidecars if versioned_hash(unhex(s["kzg_commitment"])) == bytes(hashed)]
    assert unhex(sidecar["blob"]) == blob
    setup = load_trusted_setup(TRUSTED_SETUP, 0)
    assert verify_blob_kzg_proof(blob, unhex(sidecar["kzg_commitment"]), unhex(sidecar["kzg_proof"]), setup)
    blobs = get_json(url, f"/eth/v1/beacon/blobs/{number}?versioned_hashes=0x{bytes(hashed).hex()}")["data"]
    assert [unhex(served) for served in blobs] == [blob]
    by_hash = get_json(url, f"/eth/v1/beacon/blobs/{block['hash'].to_0x_hex()}")["data"]
    assert blob in [unhex(served) for served in by_hash]
    print("web3.py blob scenario passed")


if __name__ == "__main__":
    main(sys.argv[1])
