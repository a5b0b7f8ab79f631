-- Trie nodes at locations instead of under their hashes.
--
-- Keyed by hash, each node a block created went to a random place in the index of all nodes:
-- at 1.36 M nodes, the 7,400 nodes of a 1,000-transfer block touched about as many index
-- pages, most of the block's commit. Nodes now get locations in the order they are written,
-- each node lists the locations of its children, and the trie reads a node at the location its
-- parent gave. Consecutive nodes are stored together, up to 32 per row keyed by the first one's
-- location, so a block's nodes are a few hundred appended rows. Only nodes reached without a
-- parent are looked up by hash: trie roots, and the nodes written before this migration (their
-- parents list no locations).

CREATE TABLE trie_node_hashes (
    hash     BYTEA PRIMARY KEY,
    location BIGINT NOT NULL
);
INSERT INTO trie_node_hashes (hash, location)
SELECT hash, ROW_NUMBER() OVER (ORDER BY hash) FROM trie_nodes;

CREATE TABLE trie_node_chunks (
    first_location BIGINT PRIMARY KEY,
    count          BIGINT NOT NULL,           -- nodes in the chunk; 0: one node from before
                                              -- locations, `nodes` is its bare RLP
    nodes          BYTEA NOT NULL             -- per node: hash (32 bytes), RLP length (u32 LE),
                                              -- RLP, child-locations length (u16 LE), child
                                              -- locations (u64 LE each, 0 when unknown)
);
INSERT INTO trie_node_chunks (first_location, count, nodes)
SELECT h.location, 0, n.node FROM trie_nodes n JOIN trie_node_hashes h ON h.hash = n.hash;

DROP TABLE trie_nodes;
ALTER TABLE trie_node_chunks RENAME TO trie_nodes;
