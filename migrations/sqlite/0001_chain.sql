-- The chain and its state. One SQLite transaction per sealed block writes all of it.
-- Hashes, addresses, 256-bit words and RLP are BLOBs; u64 quantities are INTEGER (bit-cast from u64).

CREATE TABLE chain_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE blocks (
    number        INTEGER PRIMARY KEY,
    hash          BLOB NOT NULL UNIQUE,
    header        BLOB NOT NULL,              -- RLP of the header
    state_changes BLOB,                       -- what the block changed (for traces)
    state_access  BLOB                        -- what the block read (for traces)
);

CREATE TABLE transactions (
    hash             BLOB PRIMARY KEY,
    block_number     INTEGER NOT NULL,
    tx_index         INTEGER NOT NULL,
    sender           BLOB NOT NULL,
    raw              BLOB NOT NULL,           -- EIP-2718 encoding
    receipt          BLOB NOT NULL,           -- EIP-2718 receipt encoding
    gas_used         INTEGER NOT NULL,
    contract_address BLOB
) WITHOUT ROWID;
CREATE UNIQUE INDEX transactions_by_position ON transactions (block_number, tx_index);

CREATE TABLE logs (
    block_number INTEGER NOT NULL,
    log_index    INTEGER NOT NULL,            -- index within the block
    tx_index     INTEGER NOT NULL,
    address      BLOB NOT NULL,
    topic0       BLOB,
    topic1       BLOB,
    topic2       BLOB,
    topic3       BLOB,
    data         BLOB NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
CREATE INDEX logs_by_address ON logs (address, block_number);
CREATE INDEX logs_by_topic0 ON logs (topic0, block_number);

-- Latest state, flat, for fast reads. Historical state is read through the trie.
CREATE TABLE accounts (
    address   BLOB PRIMARY KEY,
    nonce     INTEGER NOT NULL,
    balance   BLOB NOT NULL,
    code_hash BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE storage (
    address BLOB NOT NULL,
    slot    BLOB NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (address, slot)
) WITHOUT ROWID;

CREATE TABLE codes (
    hash BLOB PRIMARY KEY,
    code BLOB NOT NULL
) WITHOUT ROWID;

-- Content-addressed trie nodes: keccak256(rlp) -> rlp. Never deleted (archive node).
CREATE TABLE trie_nodes (
    hash BLOB PRIMARY KEY,
    node BLOB NOT NULL
) WITHOUT ROWID;
