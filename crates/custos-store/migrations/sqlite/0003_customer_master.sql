-- Customer master: history (变更记录) with snapshots for as_of, blind index for PII,
-- tags, name n-grams for contains/fuzzy search, cross-references, custom fields.

ALTER TABLE customers ADD COLUMN created_month TEXT;
CREATE INDEX customers_type_status_region ON customers(customer_type, status, region_code);
CREATE INDEX customers_status ON customers(status);
CREATE INDEX customers_industry ON customers(industry);
CREATE INDEX customers_level ON customers(level);
CREATE INDEX customers_updated ON customers(updated_at);
CREATE INDEX customers_created_month ON customers(created_month);

-- One row per change of a customer; `snapshot` is the stored record after the change
-- (PII inside it stays encrypted), `changes` the field-level diff (PII masked).
CREATE TABLE customer_history (
    id              INTEGER PRIMARY KEY,
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    row_version     BIGINT  NOT NULL,
    at              BIGINT  NOT NULL,
    actor_id        BIGINT,
    actor_name      TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    reason          TEXT,
    changes         TEXT    NOT NULL,
    snapshot        TEXT    NOT NULL
);
CREATE INDEX customer_history_customer ON customer_history(customer_id, at);

-- Keyed blind index (HMAC-SHA256) of PII values for exact lookups; never plaintext.
CREATE TABLE customer_blind_index (
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    kind            TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);
CREATE INDEX customer_blind_index_hash ON customer_blind_index(kind, hash);
CREATE INDEX customer_blind_index_customer ON customer_blind_index(customer_id);

CREATE TABLE customer_tags (
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    tag             TEXT    NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags(tag, customer_id);

-- Character bigrams of the simplified, lower-cased name: candidates for name-contains
-- and similar-name search without scanning the table.
CREATE TABLE customer_name_grams (
    gram            TEXT    NOT NULL,
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    PRIMARY KEY (gram, customer_id)
);
CREATE INDEX customer_name_grams_customer ON customer_name_grams(customer_id);

CREATE TABLE customer_xrefs (
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    system          TEXT    NOT NULL,
    source_id       TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    created_by      BIGINT,
    PRIMARY KEY (customer_id, system)
);
CREATE UNIQUE INDEX customer_xrefs_source ON customer_xrefs(system, source_id);

-- Admin-defined fields of the catalog (数据标准); built-ins are described in code.
CREATE TABLE field_definitions (
    key             TEXT    PRIMARY KEY,
    definition      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

-- Custom field values for equality search (the record's data JSON holds them too).
CREATE TABLE customer_field_values (
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    key             TEXT    NOT NULL,
    value           TEXT    NOT NULL,
    PRIMARY KEY (customer_id, key, value)
);
CREATE INDEX customer_field_values_kv ON customer_field_values(key, value);
