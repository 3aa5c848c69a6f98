-- Data quality (数据质量): the score of every assessed customer (pending, active, dormant),
-- kept current in the transaction of every write; the rules it fails, one row each, so
-- the worklist and the per-rule counts are index reads; and one snapshot per day of the
-- whole database's figures for the trend. No foreign keys: rows are written with the
-- customer (as the lookup tables, migration 0009) and deleted when it leaves the live
-- statuses.
CREATE TABLE customer_quality (
    customer_id     BIGINT  PRIMARY KEY,
    score           DOUBLE PRECISION NOT NULL,
    completeness    DOUBLE PRECISION NOT NULL,
    validity        DOUBLE PRECISION NOT NULL,
    consistency     DOUBLE PRECISION NOT NULL,
    timeliness      DOUBLE PRECISION NOT NULL,
    uniqueness      DOUBLE PRECISION NOT NULL,
    failing         TEXT    NOT NULL,            -- JSON list of rule keys, no values
    computed_at     BIGINT  NOT NULL,
    -- The customer's row_version the score was computed from: a write never replaces a
    -- score computed from a later version (a recompute racing a change, PostgreSQL).
    customer_version BIGINT NOT NULL,
    assignee_id     BIGINT,                      -- who is to mend it (待完善)
    assigned_at     BIGINT
);
CREATE INDEX customer_quality_assignee ON customer_quality(assignee_id);

CREATE TABLE customer_quality_failures (
    rule_key        TEXT    NOT NULL,
    customer_id     BIGINT  NOT NULL,
    PRIMARY KEY (rule_key, customer_id)
);
CREATE INDEX customer_quality_failures_customer ON customer_quality_failures(customer_id);

CREATE TABLE quality_snapshots (
    day             TEXT    PRIMARY KEY,         -- YYYY-MM-DD in the business time zone
    taken_at        BIGINT  NOT NULL,
    customers       BIGINT  NOT NULL,
    average_score   DOUBLE PRECISION NOT NULL,
    figures         TEXT    NOT NULL             -- JSON: dimension pass rates and KPIs
);
