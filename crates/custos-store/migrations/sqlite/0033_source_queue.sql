-- Source-system customers an upsert by source key could not place on its own: the
-- duplicate check matched existing customers and the system's policy sends the match to
-- a steward, who links the source id to a customer, creates a new one, or rejects it.
-- The payload (the customer as the system sent it) is sealed with the PII key.
CREATE TABLE source_queue (
    id              INTEGER PRIMARY KEY,
    system          TEXT    NOT NULL,
    source_id       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    verdict         TEXT    NOT NULL,
    candidates      TEXT    NOT NULL,
    owner_id        BIGINT,
    department_id   BIGINT,
    queued_at       BIGINT  NOT NULL,
    queued_by       BIGINT  NOT NULL,
    decided_at      BIGINT,
    decided_by      BIGINT,
    customer_id     BIGINT  REFERENCES customers(id),
    note            TEXT
);
CREATE UNIQUE INDEX source_queue_source ON source_queue(system, source_id);
CREATE INDEX source_queue_state ON source_queue(state, queued_at);
