-- The chain and its state. One PostgreSQL transaction per sealed block writes all of it.
-- Hashes, addresses, 256-bit words and RLP are BYTEAs; u64 quantities are BIGINT (bit-cast from u64).

CREATE TABLE chain_meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE blocks (
    number        BIGINT PRIMARY KEY,
    hash          BYTEA NOT NULL UNIQUE,
    header        BYTEA NOT NULL,              -- RLP of the header
    state_changes BYTEA,                       -- what the block changed (for traces)
    state_access  BYTEA                        -- what the block read (for traces)
);

CREATE TABLE transactions (
    hash             BYTEA PRIMARY KEY,
    block_number     BIGINT NOT NULL,
    tx_index         BIGINT NOT NULL,
    sender           BYTEA NOT NULL,
    raw              BYTEA NOT NULL,           -- EIP-2718 encoding
    receipt          BYTEA NOT NULL,           -- EIP-2718 receipt encoding
    gas_used         BIGINT NOT NULL,
    contract_address BYTEA
);
CREATE UNIQUE INDEX transactions_by_position ON transactions (block_number, tx_index);

CREATE TABLE logs (
    block_number BIGINT NOT NULL,
    log_index    BIGINT NOT NULL,            -- index within the block
    tx_index     BIGINT NOT NULL,
    address      BYTEA NOT NULL,
    topic0       BYTEA,
    topic1       BYTEA,
    topic2       BYTEA,
    topic3       BYTEA,
    data         BYTEA NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX logs_by_address ON logs (address, block_number);
CREATE INDEX logs_by_topic0 ON logs (topic0, block_number);

-- Latest state, flat, for fast reads. Historical state is read through the trie.
CREATE TABLE accounts (
    address   BYTEA PRIMARY KEY,
    nonce     BIGINT NOT NULL,
    balance   BYTEA NOT NULL,
    code_hash BYTEA NOT NULL
);

CREATE TABLE storage (
    address BYTEA NOT NULL,
    slot    BYTEA NOT NULL,
    value   BYTEA NOT NULL,
    PRIMARY KEY (address, slot)
);

CREATE TABLE codes (
    hash BYTEA PRIMARY KEY,
    code BYTEA NOT NULL
);

-- Content-addressed trie nodes: keccak256(rlp) -> rlp. Never deleted (archive node).
CREATE TABLE trie_nodes (
    hash BYTEA PRIMARY KEY,
    node BYTEA NOT NULL
);
