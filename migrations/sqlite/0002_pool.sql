-- Transactions the RPC acknowledged and the pool holds, so that a crash loses none of them.
-- A row is written before eth_sendRawTransaction returns the hash, and deleted once the pool
-- lets the transaction go (included, replaced, evicted, dropped); start-up reloads the rest.

CREATE TABLE pool_transactions (
    hash   BLOB PRIMARY KEY,
    sender BLOB NOT NULL,                     -- recovered at admission; not recovered again
    raw    BLOB NOT NULL                      -- EIP-2718 encoding
) WITHOUT ROWID;
