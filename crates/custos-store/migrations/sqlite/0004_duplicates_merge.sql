-- Duplicate check (查重) index, review queue, merge/unmerge and split lineage.

-- Blocking keys of every live customer as a keyed 63-bit hash (HMAC under the PII index
-- key, so identifiers are not readable from it). Written in the same transaction as the
-- customer, so every process sees the same candidates.
CREATE TABLE customer_match_keys (
    key_hash        BIGINT  NOT NULL,
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    PRIMARY KEY (key_hash, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_match_keys_customer ON customer_match_keys(customer_id);

-- A merged customer points at its survivor (its code answers with a redirect).
ALTER TABLE customers ADD COLUMN merged_into BIGINT;

-- Groups of probable duplicates found by a scan, waiting for a steward.
CREATE TABLE duplicate_groups (
    id              INTEGER PRIMARY KEY,
    status          TEXT    NOT NULL,            -- open | merged | dismissed | stale
    fingerprint     TEXT    NOT NULL,            -- sorted member ids
    score           DOUBLE PRECISION NOT NULL,   -- best pair score
    pairs           TEXT    NOT NULL,            -- JSON [[a, b, score], …]
    scan_id         BIGINT,
    created_at      BIGINT  NOT NULL,
    decided_at      BIGINT,
    decided_by      BIGINT,
    decision_reason TEXT,
    merge_id        BIGINT
);
CREATE INDEX duplicate_groups_status ON duplicate_groups(status, score);
CREATE UNIQUE INDEX duplicate_groups_open ON duplicate_groups(fingerprint) WHERE status = 'open';

CREATE TABLE duplicate_group_members (
    group_id        BIGINT  NOT NULL REFERENCES duplicate_groups(id),
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    PRIMARY KEY (group_id, customer_id)
);
CREATE INDEX duplicate_group_members_customer ON duplicate_group_members(customer_id);

-- Pairs a steward judged distinct: never proposed again (low id first).
CREATE TABLE duplicate_dismissals (
    a_id            BIGINT  NOT NULL,
    b_id            BIGINT  NOT NULL,
    at              BIGINT  NOT NULL,
    by_user         BIGINT,
    reason          TEXT,
    PRIMARY KEY (a_id, b_id)
);

-- One row per merge: what every participant looked like before, so it can be undone.
CREATE TABLE customer_merges (
    id              INTEGER PRIMARY KEY,
    survivor_id     BIGINT  NOT NULL REFERENCES customers(id),
    merged_ids      TEXT    NOT NULL,            -- JSON [id, …]
    before          TEXT    NOT NULL,            -- JSON snapshots of rows and codes
    survivor_version BIGINT NOT NULL,            -- survivor's row_version right after
    at              BIGINT  NOT NULL,
    actor_id        BIGINT,
    reason          TEXT,
    undone_at       BIGINT,
    undone_by       BIGINT
);
CREATE INDEX customer_merges_survivor ON customer_merges(survivor_id);

-- Lineage: merged customers → survivor, split original → parts.
CREATE TABLE customer_lineage (
    parent_id       BIGINT  NOT NULL REFERENCES customers(id),
    child_id        BIGINT  NOT NULL REFERENCES customers(id),
    kind            TEXT    NOT NULL,            -- merge | split
    op_id           BIGINT  NOT NULL,
    at              BIGINT  NOT NULL,
    PRIMARY KEY (parent_id, child_id, kind, op_id)
);
CREATE INDEX customer_lineage_child ON customer_lineage(child_id);
