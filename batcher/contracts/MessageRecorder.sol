// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @notice What a target reads of the bridge that calls it.
interface IMessenger {
    /// @notice The L1 sender of the message being delivered (the L2 bridge).
    function l1Sender() external view returns (address);
    /// @notice The L2 sender of the message being relayed (the L1 bridge).
    function l2Sender() external view returns (address);
}

/// @title An example target of messages between L1 and L2, used by the tests.
/// @notice It records the last message it received: the bridge that called it, the sender on
/// the other chain (read from the bridge during the call), the value and a note.
contract MessageRecorder {
    /// @notice The bridge that delivered the last message.
    address public lastCaller;
    /// @notice The last message's sender on the other chain.
    address public lastSender;
    /// @notice The last message's value.
    uint256 public lastValue;
    /// @notice The last message's note.
    bytes public lastNote;
    /// @notice How many messages it received.
    uint256 public received;
    /// @notice While set, every message is refused: its value stays with the bridge that
    /// delivers it, for a retry.
    bool public refusing;

    /// @notice A message from L1, delivered on the L2 by the L2 bridge.
    function fromL1(bytes calldata note) external payable {
        record(IMessenger(msg.sender).l1Sender(), note);
    }

    /// @notice A message from the L2, relayed on L1 by the bridge.
    function fromL2(bytes calldata note) external payable {
        record(IMessenger(msg.sender).l2Sender(), note);
    }

    /// @notice Refuses messages from now on (`true`) or takes them again.
    function setRefusing(bool refusing_) external {
        refusing = refusing_;
    }

    function record(address sender, bytes calldata note) internal {
        if (refusing) revert("MessageRecorder: refusing");
        lastCaller = msg.sender;
        lastSender = sender;
        lastValue = msg.value;
        lastNote = note;
        received++;
    }
}
