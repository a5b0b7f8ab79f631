-- The L1 blocks the chain's blocks anchor to (their parent_beacon_block_root, EIP-4788), by hash:
-- the L1 block number a batch's bindings name beside each anchor, and its timestamp. A header
-- holds only the hash. Written in the same transaction as the first block that anchors to it.

CREATE TABLE l1_anchors (
    hash            BLOB PRIMARY KEY,         -- the L1 block hash, the L2 headers' anchor
    number          INTEGER NOT NULL,         -- its L1 block number
    block_timestamp INTEGER NOT NULL          -- its L1 timestamp, in seconds
) WITHOUT ROWID;
