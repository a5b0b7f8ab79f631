-- Trie nodes at locations instead of under their hashes.
--
-- Keyed by hash, each node a block created went to a random place in the index of all nodes:
-- at 1.36 M nodes, the 7,400 nodes of a 1,000-transfer block touched about as many index
-- pages, most of the block's commit. Nodes now get locations in the order they are written,
-- so that a block's nodes are appended together, and each node lists the locations of its
-- children, so that the trie reads a node at the location its parent gave. Only nodes reached
-- without a parent are looked up by hash: trie roots, and the nodes written before this
-- migration (their parents list no locations).

CREATE TABLE trie_nodes_by_location (
    location BIGINT PRIMARY KEY,
    hash     BYTEA NOT NULL,                  -- keccak256(node), compared on every read
    node     BYTEA NOT NULL,                  -- RLP
    children BYTEA NOT NULL                   -- locations of the children referenced by hash,
                                              -- 8 bytes little-endian each, 0 when unknown
);
INSERT INTO trie_nodes_by_location (location, hash, node, children)
SELECT ROW_NUMBER() OVER (ORDER BY hash), hash, node, ''::bytea FROM trie_nodes;

CREATE TABLE trie_node_hashes (
    hash     BYTEA PRIMARY KEY,
    location BIGINT NOT NULL
);
INSERT INTO trie_node_hashes (hash, location) SELECT hash, location FROM trie_nodes_by_location;

DROP TABLE trie_nodes;
ALTER TABLE trie_nodes_by_location RENAME TO trie_nodes;
