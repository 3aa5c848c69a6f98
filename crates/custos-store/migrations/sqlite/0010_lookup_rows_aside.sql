-- Companions of the three lookup tables with random keys: bulk transactions write new
-- customers' rows here, into a few pages, and move them into the main tables in large
-- sorted passes (see the store's `lookups` module). Same keys and indexes as the main
-- tables; every read reads both.

CREATE TABLE customer_match_keys_recent (
    key_hash        BIGINT  NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (key_hash, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_match_keys_recent_customer ON customer_match_keys_recent(customer_id);

CREATE TABLE customer_name_grams_recent (
    gram            TEXT    NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (gram, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_name_grams_recent_customer ON customer_name_grams_recent(customer_id);

CREATE TABLE customer_blind_index_recent (
    kind            TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (kind, hash, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_blind_index_recent_customer ON customer_blind_index_recent(customer_id);
