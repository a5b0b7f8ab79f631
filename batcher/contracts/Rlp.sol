// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title Reading RLP (Ethereum's recursive length prefix) in calldata, in place.
/// @notice An item is named by calldata offsets: where it starts, where its payload starts, how
/// long the payload is. Every read is bounded by the end of what encloses the item and reverts
/// with `InvalidRlp` past it, so a malicious byte string never makes a reader look outside.
/// @dev The canonical form is not checked (a long form for a short length, a leading zero in a
/// length, a single byte below 0x80 behind a 0x81 prefix): every caller reads bytes that are
/// bound by a hash to what a canonical encoder wrote (a trie node by its parent's reference, a
/// header by its block hash), and checking would cost gas on every item for nothing.
library Rlp {
    /// @notice An item runs past the end of what encloses it, or there is no item where one
    /// must start.
    error InvalidRlp();

    /// @notice The item that starts at calldata offset `ptr` and must end by `end`: where its
    /// payload starts, how long the payload is, and whether it is a list.
    /// @dev Reverts with `InvalidRlp` when `ptr` is not before `end` or the item does not fit.
    function item(uint256 ptr, uint256 end) internal pure returns (uint256 payload, uint256 length, bool isList) {
        bool ok;
        assembly ("memory-safe") {
            if lt(ptr, end) {
                let prefix := byte(0, calldataload(ptr))
                isList := gt(prefix, 0xbf)
                switch lt(prefix, 0x80)
                case 1 {
                    // A single byte is its own payload.
                    payload := ptr
                    length := 1
                }
                default {
                    // Strings (0x80..0xbf) and lists (0xc0..0xff) share the same layout, 0x40
                    // apart: a short form up to 55 bytes, then a long form of 1 to 8 length bytes.
                    let form := and(sub(prefix, 0x80), 0x3f)
                    switch lt(form, 56)
                    case 1 {
                        payload := add(ptr, 1)
                        length := form
                    }
                    default {
                        let lengthBytes := sub(form, 55)
                        payload := add(add(ptr, 1), lengthBytes)
                        length := shr(sub(256, shl(3, lengthBytes)), calldataload(add(ptr, 1)))
                    }
                }
                // The length bytes lie before the payload, so a payload that fits means they
                // were read inside the bounds. Neither term exceeds 2^65: no overflow.
                ok := iszero(gt(add(payload, length), end))
            }
        }
        if (!ok) revert InvalidRlp();
    }

    /// @notice Where the item that starts at calldata offset `ptr` (and must end by `end`) ends.
    /// @dev Reverts with `InvalidRlp` as `item` does.
    function next(uint256 ptr, uint256 end) internal pure returns (uint256) {
        (uint256 payload, uint256 length,) = item(ptr, end);
        unchecked {
            // Both below 2^65 (see `item`).
            return payload + length;
        }
    }
}
