-- Transactions the RPC acknowledged and the pool holds, so that a crash loses none of them.
-- A row is written before eth_sendRawTransaction returns the hash, and deleted once the pool
-- lets the transaction go (included, replaced, evicted, dropped); start-up reloads the rest.

CREATE TABLE pool_transactions (
    hash   BYTEA PRIMARY KEY,
    sender BYTEA NOT NULL,                    -- recovered at admission; not recovered again
    raw    BYTEA NOT NULL                     -- EIP-2718 encoding
);
