// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {MerklePatricia} from "./MerklePatricia.sol";

/// @title The `MerklePatricia` library behind external functions, for tests only.
/// @notice Deployed by nothing: batcher/tests/merkle_patricia.rs runs its runtime code in an
/// in-process EVM against the project's own trie.
contract MerklePatriciaHarness {
    /// @notice `MerklePatricia.get`.
    function get(bytes32 root, bytes memory key, bytes[] calldata proof) external pure returns (bytes memory) {
        return MerklePatricia.get(root, key, proof);
    }

    /// @notice `MerklePatricia.storageRoot`.
    function storageRoot(bytes32 stateRoot, address account, bytes[] calldata accountProof)
        external
        pure
        returns (bytes32)
    {
        return MerklePatricia.storageRoot(stateRoot, account, accountProof);
    }

    /// @notice `MerklePatricia.storageValue`.
    function storageValue(bytes32 storageRoot_, bytes32 slot, bytes[] calldata storageProof)
        external
        pure
        returns (uint256)
    {
        return MerklePatricia.storageValue(storageRoot_, slot, storageProof);
    }

    /// @notice `MerklePatricia.headerStateRoot`.
    function headerStateRoot(bytes calldata header) external pure returns (bytes32) {
        return MerklePatricia.headerStateRoot(header);
    }
}
