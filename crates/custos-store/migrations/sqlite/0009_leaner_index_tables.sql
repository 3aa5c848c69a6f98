-- The rows a new customer adds to its lookup tables — about twenty match keys, a dozen
-- name bigrams, blind-index entries, tags, custom-field values — were most of the cost of
-- a creation. Two changes make them cheaper, with the same lookups as before:
--
-- * WITHOUT ROWID: the primary key is the table, so an entry is two B-tree inserts (the
--   table and its second index), not three.
-- * No foreign key to customers. These rows are derived from the customer row and only
--   written next to it (its id is read from the row in the same statement), and customers
--   are never deleted. A multi-row insert into a table with a foreign key makes SQLite keep
--   a statement journal — a copy of every page the insert touches, in case the key check
--   fails at the end — which more than doubled the cost of these inserts. Writers use
--   INSERT OR IGNORE (the lists are deduplicated first), which needs no journal either.

CREATE TABLE customer_name_grams_v2 (
    gram            TEXT    NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (gram, customer_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO customer_name_grams_v2 (gram, customer_id)
    SELECT gram, customer_id FROM customer_name_grams;
DROP TABLE customer_name_grams;
ALTER TABLE customer_name_grams_v2 RENAME TO customer_name_grams;
CREATE INDEX customer_name_grams_customer ON customer_name_grams(customer_id);

CREATE TABLE customer_blind_index_v2 (
    kind            TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (kind, hash, customer_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO customer_blind_index_v2 (kind, hash, customer_id)
    SELECT kind, hash, customer_id FROM customer_blind_index;
DROP TABLE customer_blind_index;
ALTER TABLE customer_blind_index_v2 RENAME TO customer_blind_index;
CREATE INDEX customer_blind_index_customer ON customer_blind_index(customer_id);

CREATE TABLE customer_tags_v2 (
    customer_id     BIGINT  NOT NULL,
    tag             TEXT    NOT NULL,
    PRIMARY KEY (customer_id, tag)
) WITHOUT ROWID;
INSERT OR IGNORE INTO customer_tags_v2 (customer_id, tag)
    SELECT customer_id, tag FROM customer_tags;
DROP TABLE customer_tags;
ALTER TABLE customer_tags_v2 RENAME TO customer_tags;
CREATE INDEX customer_tags_tag ON customer_tags(tag, customer_id);

CREATE TABLE customer_field_values_v2 (
    customer_id     BIGINT  NOT NULL,
    key             TEXT    NOT NULL,
    value           TEXT    NOT NULL,
    PRIMARY KEY (customer_id, key, value)
) WITHOUT ROWID;
INSERT OR IGNORE INTO customer_field_values_v2 (customer_id, key, value)
    SELECT customer_id, key, value FROM customer_field_values;
DROP TABLE customer_field_values;
ALTER TABLE customer_field_values_v2 RENAME TO customer_field_values;
CREATE INDEX customer_field_values_kv ON customer_field_values(key, value);

CREATE TABLE customer_match_keys_v2 (
    key_hash        BIGINT  NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (key_hash, customer_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO customer_match_keys_v2 (key_hash, customer_id)
    SELECT key_hash, customer_id FROM customer_match_keys;
DROP TABLE customer_match_keys;
ALTER TABLE customer_match_keys_v2 RENAME TO customer_match_keys;
CREATE INDEX customer_match_keys_customer ON customer_match_keys(customer_id);

-- Duplicate candidates are ranked in the match-key index, then their version stamps
-- are read to find which prepared candidates are still current. Read from the wide
-- customer rows, that was about a third of the candidate query; this narrow index
-- answers it alone.
CREATE INDEX customers_stamp ON customers(id, row_version, updated_at, status);
