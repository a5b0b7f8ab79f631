-- The blobs of blob transactions a dev L1 block included, kept for the configured retention and
-- served through the Beacon API's blob_sidecars endpoint and to EXECUTE's blob mode in calls.

CREATE TABLE blob_sidecars (
    block_number   BIGINT NOT NULL,
    blob_index     INTEGER NOT NULL,          -- position among the block's blobs
    versioned_hash BYTEA NOT NULL,
    blob           BYTEA NOT NULL,            -- 131,072 bytes
    commitment     BYTEA NOT NULL,            -- KZG commitment, 48 bytes
    proof          BYTEA NOT NULL,            -- blob KZG proof, 48 bytes
    PRIMARY KEY (block_number, blob_index)
);
CREATE INDEX blob_sidecars_by_hash ON blob_sidecars (versioned_hash);
