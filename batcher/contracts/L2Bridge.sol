// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {MerklePatricia} from "./MerklePatricia.sol";
import {Messages} from "./Messages.sol";

/// @title The L2 side of the native rollup's bridge: a predeploy in the L2's genesis.
/// @notice It holds the L2's ETH that deposits release, delivers messages from L1 proven against
/// the L2's L1 anchor (EIP-4788's beacon roots contract holds each L2 block's anchor, the hash of
/// an L1 block), and records messages to L1 (withdrawals) for the L1 bridge to prove against a
/// settled L2 state root. It has no constructor and no owner: the genesis sets its code, its
/// balance and `l1Bridge`. Reference: docs/messaging.md.
contract L2Bridge {
    /// @notice How a message from L1 stands here.
    enum Delivery {
        /// Not delivered.
        None,
        /// Delivered: its call succeeded.
        Delivered,
        /// Delivered, but its call reverted: its value stays here until `retryMessage` succeeds.
        Failed
    }

    /// @notice EIP-4788's beacon roots contract: an L2 block's L1 anchor by its timestamp.
    address public constant BEACON_ROOTS = 0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02;

    /// @notice The bridge on L1 whose messages this contract delivers (slot 0, set in genesis).
    address public l1Bridge;
    /// @notice How many messages were sent to L1: the next message's nonce (slot 1).
    uint256 public messageNonce;
    /// @notice How each message from L1 stands, by hash.
    mapping(bytes32 => Delivery) public deliveries;
    /// The L1 sender of the message being delivered, during its call.
    address internal transient l1Sender_;

    /// @notice A message from L1 was delivered; `success` is whether its call succeeded.
    event MessageDelivered(bytes32 indexed hash, address indexed to, bool success, address indexed relayer);
    /// @notice A message to L1 was sent and recorded (storage slot `hash` holds 1).
    event MessageSent(
        bytes32 indexed hash,
        uint256 indexed nonce,
        address indexed sender,
        address to,
        uint256 value,
        uint256 fee,
        bytes data
    );

    /// @notice No L2 block of this timestamp is in the beacon roots contract's window, or it has
    /// no L1 anchor.
    error UnknownAnchor(uint256 timestamp);
    /// @notice The header does not hash to the anchor's L1 block hash.
    error HeaderMismatch(bytes32 anchor, bytes32 header);
    /// @notice The proofs do not show the message recorded by the L1 bridge.
    error MessageNotProven(bytes32 hash);
    /// @notice The message was delivered already.
    error AlreadyDelivered(bytes32 hash);
    /// @notice The message was not delivered with a failed call.
    error NotFailed(bytes32 hash);
    /// @notice The retried call reverted again.
    error MessageCallFailed(bytes32 hash);
    /// @notice No message from L1 is being delivered.
    error NotDelivering();
    /// @notice The fee is more than the ETH sent.
    error FeeOverValue(uint256 fee, uint256 sent);
    /// @notice A message may not call the bridge on the other side.
    error BadTarget(address to);
    /// @notice An ETH transfer failed.
    error TransferFailed();

    // ------------------------------------------------------------------ from L1

    /// @notice Delivers a message the L1 bridge recorded, proven against the L1 anchor of the L2
    /// block with timestamp `anchorTimestamp` (this block's or a recent one's): `l1Header` is
    /// that L1 block's RLP header, `accountProof` and `storageProof` are eth_getProof's for the
    /// L1 bridge and the message's hash at that L1 block. Pays `fee` to the caller, and calls
    /// `to` with `data` and `value` (`l1Sender()` answers the sender during the call); if the
    /// call reverts, the value stays here for `retryMessage`. Each message is delivered once.
    function relayMessage(
        Messages.Message calldata message,
        uint256 anchorTimestamp,
        bytes calldata l1Header,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) external {
        bytes32 messageHash = Messages.hash(Messages.Direction.L1ToL2, block.chainid, message);
        if (deliveries[messageHash] != Delivery.None) revert AlreadyDelivered(messageHash);
        bytes32 anchor = anchorAt(anchorTimestamp);
        bytes32 headerHash = keccak256(l1Header);
        if (headerHash != anchor) revert HeaderMismatch(anchor, headerHash);
        bytes32 storageRoot =
            MerklePatricia.storageRoot(MerklePatricia.headerStateRoot(l1Header), l1Bridge, accountProof);
        if (MerklePatricia.storageValue(storageRoot, messageHash, storageProof) != 1) {
            revert MessageNotProven(messageHash);
        }
        // Marked before the call, so that the target cannot have it delivered again.
        deliveries[messageHash] = Delivery.Delivered;
        bool success = callTarget(message);
        if (!success) deliveries[messageHash] = Delivery.Failed;
        emit MessageDelivered(messageHash, message.to, success, msg.sender);
        if (message.fee != 0) pay(msg.sender, message.fee);
    }

    /// @notice Calls a delivered message's target again after its call reverted. Anyone may.
    function retryMessage(Messages.Message calldata message) external {
        bytes32 messageHash = Messages.hash(Messages.Direction.L1ToL2, block.chainid, message);
        if (deliveries[messageHash] != Delivery.Failed) revert NotFailed(messageHash);
        deliveries[messageHash] = Delivery.Delivered;
        if (!callTarget(message)) revert MessageCallFailed(messageHash);
        emit MessageDelivered(messageHash, message.to, true, msg.sender);
    }

    /// @notice The L1 sender of the message being delivered, for its target to read during the call.
    function l1Sender() external view returns (address sender) {
        sender = l1Sender_;
        if (sender == address(0)) revert NotDelivering();
    }

    /// @notice The L1 anchor of the L2 block with timestamp `timestamp`: the hash of the L1 block
    /// it had seen.
    function anchorAt(uint256 timestamp) public view returns (bytes32 anchor) {
        (bool ok, bytes memory answer) = BEACON_ROOTS.staticcall(abi.encode(timestamp));
        if (ok && answer.length == 32) anchor = abi.decode(answer, (bytes32));
        if (anchor == bytes32(0)) revert UnknownAnchor(timestamp);
    }

    // ------------------------------------------------------------------ to L1

    /// @notice Withdraws the ETH sent to `to` on L1: claimable there with the message and its
    /// proof once the L2 block this runs in is settled (`rollup_getWithdrawalProof`).
    function withdraw(address to) external payable returns (bytes32) {
        return send(to, 0, "");
    }

    /// @notice Sends a message to L1: `to` is called there with `payload` and the ETH sent less
    /// `fee`; `fee` is paid to whoever relays it on L1.
    function sendMessage(address to, uint256 fee, bytes calldata payload) external payable returns (bytes32) {
        if (fee > msg.value) revert FeeOverValue(fee, msg.value);
        return send(to, fee, payload);
    }

    /// @notice Whether this contract recorded message `messageHash` as sent to L1.
    function sent(bytes32 messageHash) external view returns (bool) {
        return Messages.recorded(messageHash);
    }

    // ------------------------------------------------------------------ internals

    /// Records a message to L1 from the sender with the ETH sent (which stays here).
    function send(address to, uint256 fee, bytes memory payload) internal returns (bytes32 messageHash) {
        if (to == l1Bridge) revert BadTarget(to);
        uint256 nonce = messageNonce++;
        Messages.Message memory message = Messages.Message({
            nonce: nonce, sender: msg.sender, to: to, value: msg.value - fee, fee: fee, data: payload
        });
        messageHash = Messages.hash(Messages.Direction.L2ToL1, block.chainid, message);
        Messages.record(messageHash);
        emit MessageSent(messageHash, nonce, msg.sender, to, msg.value - fee, fee, payload);
    }

    /// Calls the message's target with its data and value, its L1 sender readable (and the
    /// outer message's again after a delivery nested in the call).
    function callTarget(Messages.Message calldata message) internal returns (bool success) {
        address outer = l1Sender_;
        l1Sender_ = message.sender;
        (success,) = message.to.call{value: message.value}(message.data);
        l1Sender_ = outer;
    }

    /// Sends `amount` to `to`.
    function pay(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
