-- Code rules (versioned), the code registry, sequence counters, and the customer master.

CREATE TABLE code_rules (
    id              INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL,
    version         BIGINT  NOT NULL,
    name            TEXT    NOT NULL,
    applies_to      TEXT    NOT NULL,
    segments        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    created_by      BIGINT,
    created_at      BIGINT  NOT NULL,
    published_by    BIGINT,
    published_at    BIGINT,
    disabled_at     BIGINT
);
CREATE UNIQUE INDEX code_rules_key_version ON code_rules(key, version);
CREATE INDEX code_rules_status ON code_rules(status);

-- One counter per rule and sequence scope (流水依据 + reset period). Drawn inside the
-- transaction that creates the customer, so a rollback also returns the number: gapless.
CREATE TABLE code_sequences (
    rule_key    TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    next_value  BIGINT  NOT NULL,
    PRIMARY KEY (rule_key, scope)
);

-- Every code ever issued, forever. The primary key makes double issue impossible.
CREATE TABLE code_registry (
    code            TEXT    PRIMARY KEY,
    customer_id     BIGINT,
    rule_key        TEXT,
    rule_version    BIGINT,
    scope           TEXT,
    seq             BIGINT,
    manual          BOOLEAN NOT NULL DEFAULT FALSE,
    status          TEXT    NOT NULL,
    redirect_to     TEXT,
    issued_at       BIGINT  NOT NULL,
    issued_by       BIGINT,
    reason          TEXT
);
CREATE INDEX code_registry_customer ON code_registry(customer_id);
CREATE INDEX code_registry_scope ON code_registry(rule_key, scope, seq);

CREATE TABLE customers (
    id              INTEGER PRIMARY KEY,
    code            TEXT    NOT NULL,
    customer_type   TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    name_key        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    uscc            TEXT,
    region_code     TEXT,
    industry        TEXT,
    level           TEXT,
    owner_id        BIGINT,
    department_id   BIGINT,
    data            TEXT    NOT NULL,
    created_by      BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    row_version     BIGINT  NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX customers_code ON customers(code);
CREATE INDEX customers_type_region ON customers(customer_type, region_code, status);
CREATE INDEX customers_region ON customers(region_code);
CREATE INDEX customers_name_key ON customers(name_key);
CREATE INDEX customers_uscc ON customers(uscc);
CREATE INDEX customers_owner ON customers(owner_id);
CREATE INDEX customers_department ON customers(department_id);
CREATE INDEX customers_created ON customers(created_at);
