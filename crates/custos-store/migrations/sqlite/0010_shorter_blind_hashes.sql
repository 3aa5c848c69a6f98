-- Blind-index entries keep the first 64 bits of their HMAC (16 hex digits) instead of
-- all 256: enough to tell a million values apart, and a quarter of the key. The keys
-- are random, so a batch of creations changes about one page of this index per entry;
-- at a million customers the full digests made it as large as the match-key index.
-- A prefix of the old hash is exactly the new one, so no value needs recomputing.
CREATE TABLE customer_blind_index_v3 (
    kind            TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (kind, hash, customer_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO customer_blind_index_v3 (kind, hash, customer_id)
    SELECT kind, substr(hash, 1, 16), customer_id FROM customer_blind_index
    ORDER BY 1, 2, 3;
DROP TABLE customer_blind_index;
ALTER TABLE customer_blind_index_v3 RENAME TO customer_blind_index;
CREATE INDEX customer_blind_index_customer ON customer_blind_index(customer_id);
