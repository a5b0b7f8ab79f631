"""A wallet's session against the sequencer, through web3.py (a non-Rust client library).

Usage: python3 web3py_scenario.py http://127.0.0.1:PORT
Exits non-zero with a traceback on the first thing that does not behave as on Ethereum.
"""

import sys

from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 1337
# LOG1(topic = calldata[0..32], data = calldata[32..64])
EMITTER = bytes([0x60, 0x20, 0x35, 0x60, 0x00, 0x52, 0x60, 0x00, 0x35, 0x60, 0x20, 0x60, 0x00, 0xA1, 0x00])
# REVERT(0, 32) with calldata[0..32] as revert data
REVERTER = bytes([0x60, 0x00, 0x35, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xFD])


def init_code(runtime: bytes) -> bytes:
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + runtime


def main(url: str) -> None:
    w3 = Web3(Web3.HTTPProvider(url))
    assert w3.is_connected()
    assert w3.eth.chain_id == CHAIN_ID
    Account.enable_unaudited_hdwallet_features()
    me = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/7")
    friend = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/8")
    assert w3.eth.get_balance(me.address) == Web3.to_wei(10_000, "ether")

    def send(tx: dict) -> dict:
        tx.setdefault("chainId", CHAIN_ID)
        tx.setdefault("nonce", w3.eth.get_transaction_count(me.address, "pending"))
        signed = me.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        assert receipt["status"] == 1, receipt
        return receipt

    value = Web3.to_wei(1, "gwei")
    before = w3.eth.get_balance(friend.address)
    # Type 0 at eth_gasPrice, type 1 with an access list, type 2 at the suggested tip.
    send({"to": friend.address, "value": value, "gas": 21_000, "gasPrice": w3.eth.gas_price})
    send({"to": friend.address, "value": value, "gas": 30_000, "gasPrice": w3.eth.gas_price, "accessList": []})
    tip = w3.eth.max_priority_fee
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    transfer = {"to": friend.address, "value": value, "from": me.address}
    gas = w3.eth.estimate_gas(transfer)
    assert gas == 21_000, gas
    send({**transfer, "gas": gas, "maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base + tip})
    assert w3.eth.get_balance(friend.address) == before + 3 * value

    # Type 4: delegate to the emitter contract deployed below, then call ourselves.
    receipt = send({"data": init_code(EMITTER), "gas": 200_000, "gasPrice": w3.eth.gas_price})
    emitter = receipt["contractAddress"]
    assert w3.eth.get_code(emitter) == EMITTER
    nonce = w3.eth.get_transaction_count(me.address, "pending")
    authorization = me.sign_authorization({"chainId": CHAIN_ID, "address": emitter, "nonce": nonce + 1})
    send(
        {
            "to": me.address,
            "value": 0,
            "gas": 100_000,
            "maxFeePerGas": 2 * base + tip,
            "maxPriorityFeePerGas": tip,
            "authorizationList": [authorization],
            "nonce": nonce,
        }
    )
    assert w3.eth.get_code(me.address) == b"\xef\x01\x00" + bytes.fromhex(emitter[2:]), w3.eth.get_code(me.address)

    # Logs: by eth_getLogs, by a filter, and through the delegated account.
    topic = b"\x11" * 32
    log_filter = w3.eth.filter({"address": emitter, "fromBlock": "latest"})
    data = topic + (42).to_bytes(32, "big")
    receipt = send({"to": emitter, "data": data, "gas": w3.eth.estimate_gas({"from": me.address, "to": emitter, "data": data}), "gasPrice": w3.eth.gas_price})
    logs = w3.eth.get_logs({"address": emitter, "topics": ["0x" + topic.hex()], "fromBlock": receipt["blockNumber"], "toBlock": receipt["blockNumber"]})
    assert len(logs) == 1 and int.from_bytes(logs[0]["data"], "big") == 42, logs
    assert [entry["transactionHash"] for entry in log_filter.get_new_entries()] == [receipt["transactionHash"]]
    receipt = send({"to": me.address, "data": data, "gas": 100_000, "gasPrice": w3.eth.gas_price})
    assert receipt["logs"][0]["address"] == me.address, receipt["logs"]

    # A revert carries its data.
    receipt = send({"data": init_code(REVERTER), "gas": 200_000, "gasPrice": w3.eth.gas_price})
    reason = b"\x22" * 32
    try:
        w3.eth.call({"to": receipt["contractAddress"], "data": reason})
        raise AssertionError("the call did not revert")
    except ContractLogicError as error:
        assert error.data in ("0x" + reason.hex(), reason), error.data

    # Wallet errors, with the messages wallets match on.
    stale = me.sign_transaction({"to": friend.address, "value": 1, "gas": 21_000, "gasPrice": w3.eth.gas_price, "nonce": 0, "chainId": CHAIN_ID})
    try:
        w3.eth.send_raw_transaction(stale.raw_transaction)
        raise AssertionError("a stale nonce was accepted")
    except Web3RPCError as error:
        assert "nonce too low" in str(error), error
    broke = Account.create()
    poor = broke.sign_transaction({"to": friend.address, "value": 1, "gas": 21_000, "gasPrice": w3.eth.gas_price, "nonce": 0, "chainId": CHAIN_ID})
    try:
        w3.eth.send_raw_transaction(poor.raw_transaction)
        raise AssertionError("an unfunded transaction was accepted")
    except Web3RPCError as error:
        assert "insufficient funds for gas * price + value" in str(error), error

    # eth_simulateV1 as web3.py sends it: a transfer and a logging call, nothing committed.
    nonce_before = w3.eth.get_transaction_count(me.address)
    simulated = w3.eth.simulate_v1(
        {"blockStateCalls": [{"calls": [
            {"from": me.address, "to": friend.address, "value": value},
            {"from": me.address, "to": emitter, "data": data},
        ]}]},
        "latest",
    )
    calls = simulated[0]["calls"]
    assert [call["status"] for call in calls] == [1, 1], calls
    assert int.from_bytes(calls[1]["logs"][0]["data"], "big") == 42, calls
    assert w3.eth.get_transaction_count(me.address) == nonce_before

    history = w3.eth.fee_history(4, "latest", [10, 90])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert all(len(rewards) == 2 for rewards in history["reward"])
    print("web3.py scenario passed")


if __name__ == "__main__":
    main(sys.argv[1])
