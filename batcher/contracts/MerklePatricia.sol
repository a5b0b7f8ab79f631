// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Rlp} from "./Rlp.sol";

/// @title Merkle-Patricia proofs: values of Ethereum's tries, proven against their roots.
/// @notice Reads the proofs `eth_getProof` returns (the RLP of every node from the root towards a
/// key that its parent references by hash, root first; a node whose RLP is shorter than 32 bytes
/// is embedded in its parent instead) and answers the value at the key or its absence. A proof
/// that proves neither exactly reverts: a node that does not hash to its reference, a node
/// that is not a trie node, a path that goes on past the last node, nodes after the one where
/// the path ends. It never answers a value the trie does not hold.
/// @dev Works on the proof in calldata: nodes are hashed and read where they are, and only the
/// value `get` returns is copied. Trie nodes (Ethereum Yellow Paper, appendix D): a branch is a
/// list of 16 child references and a value (empty when none), a leaf or an extension a list of
/// a hex-prefix path and a value or a child reference. A child reference is empty, the 32-byte
/// hash of the child, or the child itself when its RLP is shorter than 32 bytes.
library MerklePatricia {
    /// @notice The root of the empty trie: keccak256 of the RLP of the empty string (0x80).
    bytes32 internal constant EMPTY_TRIE_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;

    /// @notice `proof[index]` does not hash to the reference that leads to it (the root for the
    /// first node).
    error WrongNodeHash(uint256 index);
    /// @notice `proof[index]`, or a node embedded in it, is not a trie node.
    error InvalidNode(uint256 index);
    /// @notice The path goes on to a node referenced by hash, and the proof holds no
    /// `proof[index]` (for a trie that is not empty, an empty proof).
    error MissingNode(uint256 index);
    /// @notice The path ends in `proof[used - 1]`, and the proof holds more nodes.
    error ExtraNodes(uint256 used);
    /// @notice The value an account proof proves is not the RLP of [nonce, balance, storageRoot,
    /// codeHash].
    error InvalidAccount();
    /// @notice The value a storage proof proves is not the RLP of an integer of at most 32 bytes.
    error InvalidStorageValue();
    /// @notice The bytes are not an RLP list that starts as a block header does (parentHash,
    /// ommersHash, beneficiary, stateRoot).
    error InvalidHeader();

    // What following a key through one node leads to (see `_descend`).
    uint256 private constant ABSENT = 0;
    uint256 private constant VALUE = 1;
    uint256 private constant EMBEDDED = 2;
    uint256 private constant HASH = 3;
    uint256 private constant INVALID = 4;

    /// @notice The value stored at `key` (the raw trie path bytes; callers pass keccak256 of an
    /// address or slot for Ethereum's secure tries) in the trie whose root hash is `root`, proven
    /// by `proof` (the RLP nodes as eth_getProof returns them, root first; nodes shorter than 32
    /// bytes are embedded in their parent and not listed).
    /// @return value The value; empty bytes when the proof shows the key is absent (a trie holds
    /// no empty values). Reverts with a custom error when the proof proves neither.
    function get(bytes32 root, bytes memory key, bytes[] calldata proof) internal pure returns (bytes memory value) {
        (uint256 offset, uint256 length) = _find(root, key, proof);
        assembly ("memory-safe") {
            value := mload(0x40)
            mstore(value, length)
            calldatacopy(add(value, 0x20), offset, length)
            mstore(0x40, add(add(value, 0x20), and(add(length, 0x1f), not(0x1f))))
        }
    }

    /// @notice The storage root of `account` in the state whose root is `stateRoot` (key
    /// keccak256(account); the account is RLP [nonce, balance, storageRoot, codeHash]), proven
    /// by `accountProof` as `get` reads it.
    /// @return The account's storage root; the empty-trie root when the account is absent.
    /// Reverts as `get` does, and with `InvalidAccount` when the value is not an account.
    function storageRoot(bytes32 stateRoot, address account, bytes[] calldata accountProof)
        internal
        pure
        returns (bytes32)
    {
        (uint256 value, uint256 length) = _find(stateRoot, _hashedKey(bytes20(account), 20), accountProof);
        if (length == 0) return EMPTY_TRIE_ROOT;
        uint256 end = value + length;
        (uint256 ptr, uint256 fieldsLength, bool isList) = Rlp.item(value, end);
        if (!isList || ptr + fieldsLength != end) revert InvalidAccount();
        ptr = _skipString(ptr, end); // nonce
        ptr = _skipString(ptr, end); // balance
        (uint256 root, bool rootOk) = _fixedString(ptr, end, 32);
        ptr = _skipString(ptr, end);
        (, bool codeHashOk) = _fixedString(ptr, end, 32);
        if (!rootOk || !codeHashOk || ptr + 33 != end) revert InvalidAccount();
        return bytes32(root);
    }

    /// @notice The value of storage `slot` under `storageRoot_` (key keccak256(slot), value an
    /// RLP-encoded integer), proven by `storageProof` as `get` reads it.
    /// @return value The slot's value; zero when absent. Reverts as `get` does, and with
    /// `InvalidStorageValue` when the value is not an integer.
    function storageValue(bytes32 storageRoot_, bytes32 slot, bytes[] calldata storageProof)
        internal
        pure
        returns (uint256 value)
    {
        (uint256 encoded, uint256 length) = _find(storageRoot_, _hashedKey(slot, 32), storageProof);
        if (length == 0) return 0;
        (uint256 payload, uint256 payloadLength, bool isList) = Rlp.item(encoded, encoded + length);
        if (isList || payloadLength > 32 || payload + payloadLength != encoded + length) {
            revert InvalidStorageValue();
        }
        assembly ("memory-safe") {
            // A shift by 256 (an empty payload) gives zero.
            value := shr(sub(256, shl(3, payloadLength)), calldataload(payload))
        }
    }

    /// @notice The state root of an RLP-encoded block header (its fourth field).
    /// @dev Checks the list and its first four fields, not the header's hash: the caller binds
    /// `header` to a block hash. Reverts with `InvalidHeader` when it is not a header list
    /// (`Rlp.InvalidRlp` when a field runs past the end).
    function headerStateRoot(bytes calldata header) internal pure returns (bytes32) {
        uint256 end = _end(header);
        if (header.length == 0) revert InvalidHeader();
        (uint256 ptr, uint256 fieldsLength, bool isList) = Rlp.item(_start(header), end);
        if (!isList || ptr + fieldsLength != end) revert InvalidHeader();
        (, bool parentOk) = _fixedString(ptr, end, 32);
        (, bool ommersOk) = _fixedString(ptr + 33, end, 32);
        (, bool beneficiaryOk) = _fixedString(ptr + 66, end, 20);
        (uint256 stateRoot, bool stateRootOk) = _fixedString(ptr + 87, end, 32);
        if (!(parentOk && ommersOk && beneficiaryOk && stateRootOk)) revert InvalidHeader();
        return bytes32(stateRoot);
    }

    /// @notice Follows `key` from `root` through `proof`: the calldata offset and length of the
    /// value, a length of zero when the key is absent.
    function _find(bytes32 root, bytes memory key, bytes[] calldata proof)
        private
        pure
        returns (uint256 value, uint256 valueLength)
    {
        uint256 count = proof.length;
        if (count == 0) {
            if (root != EMPTY_TRIE_ROOT) revert MissingNode(0);
            return (0, 0);
        }
        uint256 index;
        (uint256 node, uint256 end) = _node(proof[0], root, 0);
        uint256 depth;
        uint256 kind;
        while (true) {
            // An ABSENT or INVALID step leaves the value's offset and length zero.
            (kind, value, valueLength, depth) = _descend(node, end, key, depth);
            if (kind == EMBEDDED) {
                // Strictly inside the current node: the walk through embedded nodes ends.
                (node, end) = (value, valueLength);
            } else if (kind == HASH) {
                unchecked {
                    ++index;
                }
                if (index == count) revert MissingNode(index);
                (node, end) = _node(proof[index], bytes32(value), index);
            } else if (kind == INVALID) {
                revert InvalidNode(index);
            } else {
                if (index + 1 != count) revert ExtraNodes(index + 1);
                return (value, valueLength);
            }
        }
    }

    /// @notice The calldata bounds of `proof[index]`, checked against the hash `expected`.
    function _node(bytes calldata encoded, bytes32 expected, uint256 index)
        private
        pure
        returns (uint256 start, uint256 end)
    {
        bytes32 hash;
        assembly ("memory-safe") {
            start := encoded.offset
            end := add(start, encoded.length)
            // Scratch memory past the free memory pointer, not allocated: nothing else lives
            // there while the hash is taken.
            let scratch := mload(0x40)
            calldatacopy(scratch, start, encoded.length)
            hash := keccak256(scratch, encoded.length)
        }
        if (hash != expected) revert WrongNodeHash(index);
    }

    /// @notice Follows `key`, of which `depth` nibbles are consumed, through the node whose RLP
    /// fills calldata `[node, end)`. Returns what it leads to, with the nibbles consumed after:
    /// ABSENT; VALUE at calldata `a`, `b` bytes long; EMBEDDED, the child node filling `[a, b)`;
    /// HASH, the child node with hash `a`; INVALID, not a trie node.
    function _descend(uint256 node, uint256 end, bytes memory key, uint256 depth)
        private
        pure
        returns (uint256 kind, uint256 a, uint256 b, uint256 depthAfter)
    {
        (uint256 items, uint256 itemsLength, bool isList) = Rlp.item(node, end);
        // Offsets and lengths from `Rlp.item` are below 2^65: their sums do not overflow.
        unchecked {
            if (!isList || items + itemsLength != end) return (INVALID, 0, 0, depth);
        }
        // Two items make a leaf or an extension; anything else must be a branch.
        uint256 second = Rlp.next(items, end);
        if (second < end && Rlp.next(second, end) == end) return _shortNode(items, second, end, key, depth);
        return _branch(items, end, key, depth);
    }

    /// @notice `_descend` through a leaf or an extension: its path item at `items`, its second
    /// item filling `[second, end)`.
    function _shortNode(uint256 items, uint256 second, uint256 end, bytes memory key, uint256 depth)
        private
        pure
        returns (uint256 kind, uint256 a, uint256 b, uint256 depthAfter)
    {
        (bool valid, bool leaf, bool matches, uint256 pathEnd) = _path(items, second, key, depth);
        if (!valid) return (INVALID, 0, 0, depth);
        if (leaf) {
            (uint256 value, uint256 valueLength, bool isList) = Rlp.item(second, end);
            if (isList || valueLength == 0) return (INVALID, 0, 0, depth);
            return matches ? (VALUE, value, valueLength, pathEnd) : (ABSENT, 0, 0, depth);
        }
        if (!matches) return (ABSENT, 0, 0, depth);
        return _reference(second, end, pathEnd, false);
    }

    /// @notice `_descend` through a branch whose items start at `items` and end at `end`: the
    /// value when the key ends here, else the child at the key's next nibble.
    function _branch(uint256 items, uint256 end, bytes memory key, uint256 depth)
        private
        pure
        returns (uint256 kind, uint256 a, uint256 b, uint256 depthAfter)
    {
        uint256 index = 16;
        if (depth < key.length << 1) {
            assembly ("memory-safe") {
                let byte_ := byte(0, mload(add(add(key, 0x20), shr(1, depth))))
                // The high nibble at an even depth, the low one at an odd depth.
                index := and(shr(shl(2, iszero(and(depth, 1))), byte_), 0x0f)
            }
        }
        (bool valid, uint256 start) = _branchItem(items, end, index);
        if (!valid) return (INVALID, 0, 0, depth);
        unchecked {
            if (index < 16) return _reference(start, end, depth + 1, true);
        }
        // The value item ends the branch (`_branchItem` checked it).
        (uint256 value, uint256 valueLength, bool isList) = Rlp.item(start, end);
        if (isList) return (INVALID, 0, 0, depth);
        return valueLength == 0 ? (ABSENT, 0, 0, depth) : (VALUE, value, valueLength, depth);
    }

    /// @notice The child reference that starts at `start`, inside `end`, reached with `depth`
    /// nibbles consumed: HASH, EMBEDDED (an RLP list shorter than 32 bytes), ABSENT (empty, where
    /// `emptyIsAbsent`: a branch's slot), else INVALID.
    function _reference(uint256 start, uint256 end, uint256 depth, bool emptyIsAbsent)
        private
        pure
        returns (uint256 kind, uint256 a, uint256 b, uint256 depthAfter)
    {
        (uint256 payload, uint256 length, bool isList) = Rlp.item(start, end);
        if (isList) {
            unchecked {
                uint256 itemEnd = payload + length;
                return itemEnd - start < 32 ? (EMBEDDED, start, itemEnd, depth) : (INVALID, 0, 0, depth);
            }
        }
        if (length == 32) {
            uint256 hash;
            assembly ("memory-safe") {
                hash := calldataload(payload)
            }
            return (HASH, hash, 0, depth);
        }
        if (length == 0 && emptyIsAbsent) return (ABSENT, 0, 0, depth);
        return (INVALID, 0, 0, depth);
    }

    /// @notice Where item `index` (0 to 16) of the branch whose items fill `[ptr, end)` starts;
    /// not valid unless there are exactly 17 items: 16 children, each an empty string, a 32-byte
    /// string (a hash) or a list shorter than 32 bytes (an embedded node), then the value.
    /// @dev The children are skipped without a branch per item. While their prefixes are valid
    /// the pointer only grows, so that when the value item after them fits, so did they: a read
    /// past `end` happens only on the way to refusing the node.
    function _branchItem(uint256 ptr, uint256 end, uint256 index) private pure returns (bool valid, uint256 start) {
        bool childrenValid;
        assembly ("memory-safe") {
            // Bit p set for the prefixes p a child may start with: 0x80 (empty), 0xa0 (a hash),
            // 0xc1 to 0xde (a list of 2 to 31 bytes). For them, the child is
            // ((p - 0x7f) mod 64) bytes long.
            let childPrefixes := 0x7ffffffe000000010000000100000000000000000000000000000000
            let prefixesValid := 1
            // The children before `index`, then those from it on (counting down is cheaper).
            for { let k := index } k { k := sub(k, 1) } {
                let prefix := byte(0, calldataload(ptr))
                prefixesValid := and(prefixesValid, shr(prefix, childPrefixes))
                ptr := add(ptr, and(sub(prefix, 0x7f), 0x3f))
            }
            start := ptr
            for { let k := sub(16, index) } k { k := sub(k, 1) } {
                let prefix := byte(0, calldataload(ptr))
                prefixesValid := and(prefixesValid, shr(prefix, childPrefixes))
                ptr := add(ptr, and(sub(prefix, 0x7f), 0x3f))
            }
            childrenValid := prefixesValid
        }
        if (!childrenValid) return (false, 0);
        // The value, which must end the list. `Rlp.item` reverts when it does not fit.
        (uint256 payload, uint256 length,) = Rlp.item(ptr, end);
        unchecked {
            valid = payload + length == end;
        }
    }

    /// @notice Reads the hex-prefix path item filling `[item, end)` of a leaf or an extension and
    /// compares it with `key` from nibble `depth`: whether it is valid, whether the node is a
    /// leaf, whether the path matches (a leaf's the whole rest of the key, an extension's a
    /// prefix of it), and the nibbles consumed at its end.
    function _path(uint256 item, uint256 end, bytes memory key, uint256 depth)
        private
        pure
        returns (bool valid, bool leaf, bool matches, uint256 pathEnd)
    {
        (uint256 path, uint256 length, bool isList) = Rlp.item(item, end);
        if (isList || length == 0) return (false, false, false, depth);
        bool odd;
        {
            uint256 flags;
            assembly ("memory-safe") {
                flags := byte(0, calldataload(path))
            }
            // The first nibble: 0 extension, 1 extension with an odd path, 2 leaf, 3 leaf with an
            // odd path; an even path pads its first byte with a zero nibble.
            odd = (flags >> 4) & 1 == 1;
            if (flags >> 4 > 3 || (!odd && flags & 0x0f != 0)) return (false, false, false, depth);
            leaf = flags >> 4 >= 2;
        }
        uint256 keyNibbles = key.length << 1;
        unchecked {
            // `length` is at least 1.
            pathEnd = depth + (odd ? 2 * length - 1 : 2 * length - 2);
        }
        if (!leaf && pathEnd == depth) return (false, false, false, depth);
        matches = (leaf ? pathEnd == keyNibbles : pathEnd <= keyNibbles) && _samePath(path, length, odd, key, depth);
        valid = true;
    }

    /// @notice Whether the nibbles of the hex-prefix path at calldata `path` (`length` bytes,
    /// `odd` nibbles after the flag nibble or not) equal those of `key` from nibble `depth`.
    /// @dev The caller ensures the key holds that many nibbles from `depth`. When the path's
    /// nibbles fall on the same byte halves as the key's (always for a leaf, whose path ends where
    /// the key does), whole bytes are compared 32 at a time.
    function _samePath(uint256 path, uint256 length, bool odd, bytes memory key, uint256 depth)
        private
        pure
        returns (bool same)
    {
        assembly ("memory-safe") {
            let keyData := add(key, 0x20)
            same := 1
            switch eq(and(depth, 1), odd)
            case 1 {
                let k := shr(1, depth)
                if odd {
                    // The path's first nibble is the low half of its flag byte.
                    same := eq(
                        and(byte(0, calldataload(path)), 0x0f),
                        and(byte(0, mload(add(keyData, k))), 0x0f)
                    )
                    k := add(k, 1)
                }
                let p := add(path, 1)
                let remaining := sub(length, 1)
                for {} and(same, gt(remaining, 0)) {} {
                    let width := remaining
                    if gt(width, 32) { width := 32 }
                    // The high `width` bytes of a word.
                    let mask := not(shr(shl(3, width), not(0)))
                    same := eq(and(calldataload(p), mask), and(mload(add(keyData, k)), mask))
                    p := add(p, width)
                    k := add(k, width)
                    remaining := sub(remaining, width)
                }
            }
            default {
                // Nibble j of the encoded path (j = 0 the flag nibble) against nibble d of the
                // key; an even j is a high half.
                let total := shl(1, length)
                for {
                    let j := sub(2, odd)
                    let d := depth
                } and(same, lt(j, total)) {
                    j := add(j, 1)
                    d := add(d, 1)
                } {
                    let pathNibble := and(shr(shl(2, iszero(and(j, 1))), byte(0, calldataload(add(path, shr(1, j))))), 0x0f)
                    let keyNibble := and(shr(shl(2, iszero(and(d, 1))), byte(0, mload(add(keyData, shr(1, d))))), 0x0f)
                    same := eq(pathNibble, keyNibble)
                }
            }
        }
    }

    /// @notice Where the string item at `ptr` (inside `end`) ends; reverts with `InvalidAccount`
    /// when it is a list.
    function _skipString(uint256 ptr, uint256 end) private pure returns (uint256) {
        (uint256 payload, uint256 length, bool isList) = Rlp.item(ptr, end);
        if (isList) revert InvalidAccount();
        return payload + length;
    }

    /// @notice The first word of the string item at `ptr` (inside `end`), right-aligned when
    /// shorter than 32 bytes, and whether the item is a string of exactly `length` bytes (1 to
    /// 55, so that its prefix is one byte).
    function _fixedString(uint256 ptr, uint256 end, uint256 length) private pure returns (uint256 word, bool ok) {
        (uint256 payload, uint256 actual, bool isList) = Rlp.item(ptr, end);
        ok = !isList && actual == length && payload == ptr + 1;
        assembly ("memory-safe") {
            word := shr(sub(256, shl(3, length)), calldataload(payload))
        }
    }

    /// @notice The secure-trie key of the `length` high bytes of `word` (20 for an address, 32
    /// for a slot): their keccak256, as a 32-byte key.
    function _hashedKey(bytes32 word, uint256 length) private pure returns (bytes memory key) {
        key = new bytes(32);
        assembly ("memory-safe") {
            mstore(0, word)
            mstore(add(key, 0x20), keccak256(0, length))
        }
    }

    /// @notice The calldata offset where `data` starts.
    function _start(bytes calldata data) private pure returns (uint256 start) {
        assembly ("memory-safe") {
            start := data.offset
        }
    }

    /// @notice The calldata offset where `data` ends.
    function _end(bytes calldata data) private pure returns (uint256 end) {
        assembly ("memory-safe") {
            end := add(data.offset, data.length)
        }
    }
}
