-- The pool's journal becomes append-only: rows in admission order, found for deletion by their
-- sequence number (the node keeps hash -> seq in memory while it runs), with no index on the
-- hash. Keyed by hash, every admission and every removal wrote a random page of a B-tree; that
-- cost about a third of the node's admission rate under load.

CREATE TABLE pool_journal (
    seq    INTEGER PRIMARY KEY,
    hash   BLOB NOT NULL,
    sender BLOB NOT NULL,                     -- recovered at admission; not recovered again
    raw    BLOB NOT NULL                      -- EIP-2718 encoding
);
INSERT INTO pool_journal (hash, sender, raw) SELECT hash, sender, raw FROM pool_transactions;
DROP TABLE pool_transactions;
