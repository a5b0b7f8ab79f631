-- The pool's journal in a SQLite file of its own, beside the chain's: SQLite has one writer per
-- file, and in the chain's file every admission's journal write waited for the commit of the
-- block being written (hundreds of milliseconds for a block of 20,000 transfers). The same
-- append-only layout as the chain file's `pool_journal` (SQLite migration 0005), which it
-- replaces; the store moves any rows left there into this file when it opens.

CREATE TABLE pool_journal (
    seq    INTEGER PRIMARY KEY,
    hash   BLOB NOT NULL,
    sender BLOB NOT NULL,                     -- recovered at admission; not recovered again
    raw    BLOB NOT NULL                      -- EIP-2718 encoding
);
