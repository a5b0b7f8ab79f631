//! Trie paths as nibbles (one 4-bit digit per byte) and their hex-prefix encoding (Yellow Paper,
//! appendix C), which marks whether a path ends in a leaf and whether its length is odd.

/// The nibbles of `key`, high nibble first: the path of `key` in the trie.
pub(crate) fn from_key(key: &[u8]) -> Vec<u8> {
    let mut nibbles = Vec::with_capacity(key.len() * 2);
    for byte in key {
        nibbles.push(byte >> 4);
        nibbles.push(byte & 0x0f);
    }
    nibbles
}

/// The number of leading nibbles `a` and `b` share.
pub(crate) fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The concatenation of `a` and `b`, as a new path.
pub(crate) fn concat(a: &[u8], b: &[u8]) -> Box<[u8]> {
    let mut path = Vec::with_capacity(a.len() + b.len());
    path.extend_from_slice(a);
    path.extend_from_slice(b);
    path.into_boxed_slice()
}

/// Length in bytes of the hex-prefix encoding of a path of `nibbles` nibbles.
pub(crate) const fn hex_prefix_len(nibbles: usize) -> usize {
    nibbles / 2 + 1
}

/// Appends the hex-prefix encoding of `path` to `out`; `leaf` sets the terminator flag.
pub(crate) fn hex_prefix_encode(path: &[u8], leaf: bool, out: &mut Vec<u8>) {
    let flag = if leaf { 0x20 } else { 0x00 };
    let rest = if path.len() % 2 == 1 {
        out.push(flag | 0x10 | path[0]);
        &path[1..]
    } else {
        out.push(flag);
        path
    };
    for pair in rest.chunks_exact(2) {
        out.push(pair[0] << 4 | pair[1]);
    }
}

/// Decodes a hex-prefix encoded path: the nibbles and whether the path ends in a leaf. `None`
/// when `encoded` is not a canonical hex-prefix encoding (empty, unknown flag, or a non-zero
/// padding nibble), so untrusted bytes can never be misread.
pub(crate) fn hex_prefix_decode(encoded: &[u8]) -> Option<(Box<[u8]>, bool)> {
    let (&first, rest) = encoded.split_first()?;
    let flag = first >> 4;
    if flag > 3 {
        return None;
    }
    let leaf = flag & 0x2 != 0;
    let odd = flag & 0x1 != 0;
    let mut path = Vec::with_capacity(rest.len() * 2 + usize::from(odd));
    if odd {
        path.push(first & 0x0f);
    } else if first & 0x0f != 0 {
        return None;
    }
    for byte in rest {
        path.push(byte >> 4);
        path.push(byte & 0x0f);
    }
    Some((path.into_boxed_slice(), leaf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_prefix_vectors() {
        // Yellow Paper appendix C examples (as used by the Ethereum wiki's patricia-tree page).
        let cases: &[(&[u8], bool, &[u8])] = &[
            (&[1, 2, 3, 4, 5], false, &[0x11, 0x23, 0x45]),
            (&[0, 1, 2, 3, 4, 5], false, &[0x00, 0x01, 0x23, 0x45]),
            (&[0, 0xf, 1, 0xc, 0xb, 8], true, &[0x20, 0x0f, 0x1c, 0xb8]),
            (&[0xf, 1, 0xc, 0xb, 8], true, &[0x3f, 0x1c, 0xb8]),
            (&[], true, &[0x20]),
            (&[], false, &[0x00]),
        ];
        for &(path, leaf, encoded) in cases {
            let mut out = Vec::new();
            hex_prefix_encode(path, leaf, &mut out);
            assert_eq!(out, encoded, "encode {path:?}");
            assert_eq!(out.len(), hex_prefix_len(path.len()));
            let (decoded, decoded_leaf) = hex_prefix_decode(encoded).unwrap_or_default();
            assert_eq!((&*decoded, decoded_leaf), (path, leaf), "decode {encoded:?}");
        }
    }

    #[test]
    fn hex_prefix_rejects_non_canonical() {
        assert!(hex_prefix_decode(&[]).is_none());
        assert!(hex_prefix_decode(&[0x40]).is_none());
        assert!(hex_prefix_decode(&[0x01, 0x23]).is_none());
        assert!(hex_prefix_decode(&[0x25]).is_none());
    }

    #[test]
    fn key_nibbles() {
        assert_eq!(from_key(&[0xab, 0x01]), vec![0xa, 0xb, 0x0, 0x1]);
        assert_eq!(common_prefix_len(&[1, 2, 3], &[1, 2, 4]), 2);
        assert_eq!(&*concat(&[1], &[2, 3]), &[1, 2, 3]);
    }
}
