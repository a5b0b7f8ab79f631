// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title Messages between the L1 and the L2: their fields, their hash, where they are recorded.
/// @notice A message is recorded by the contract that sends it (the bridge on L1, the L2 bridge
/// on L2) as storage slot `hash` holding 1, so that the other side can prove it was sent with a
/// Merkle-Patricia proof of that slot: against an L1 block's state root (L1 to L2) or a settled L2
/// state root (L2 to L1). Reference: docs/messaging.md.
library Messages {
    /// @notice A message. `value` is credited to `to` with `data` as the call; `fee` goes to
    /// whoever delivers it on the other side.
    struct Message {
        /// The sending contract's count of messages before this one.
        uint256 nonce;
        /// Who sent it.
        address sender;
        /// Who receives the call and its value.
        address to;
        /// Wei credited to `to`.
        uint256 value;
        /// Wei paid to whoever delivers it.
        uint256 fee;
        /// The call's data (empty: a plain transfer).
        bytes data;
    }

    /// @notice Which way a message goes: part of its hash, so a message is only ever proven in
    /// the direction it was sent.
    enum Direction {
        L1ToL2,
        L2ToL1
    }

    /// @notice The message's hash: its storage slot in the sending contract, and the key of its
    /// delivery on the other side. It commits to the L2's chain id, so a message sent to
    /// another chain's bridge proves nothing here.
    function hash(Direction direction, uint256 chainId, Message memory message) internal pure returns (bytes32) {
        return keccak256(abi.encode(direction, chainId, message));
    }

    /// @notice Records `messageHash` as sent: its slot holds 1.
    function record(bytes32 messageHash) internal {
        assembly ("memory-safe") {
            sstore(messageHash, 1)
        }
    }

    /// @notice Whether `messageHash` was recorded as sent by this contract.
    function recorded(bytes32 messageHash) internal view returns (bool sent) {
        assembly ("memory-safe") {
            sent := eq(sload(messageHash), 1)
        }
    }
}
