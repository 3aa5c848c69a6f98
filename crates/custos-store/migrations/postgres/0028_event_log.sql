-- The ordered event log (transactional outbox): one row per business event, written by
-- the transaction that made the change, numbered at its commit from `event_counter`,
-- whose row lock (held to the commit) makes the numbers follow commit order without
-- gaps. `pruned_through`: the last number retention has deleted (asking for a position
-- before it is answered "gone", not with a silent jump).
CREATE TABLE event_counter (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last           BIGINT  NOT NULL,
    pruned_through BIGINT  NOT NULL
);
INSERT INTO event_counter (id, last, pruned_through) VALUES (1, 0, 0);
CREATE TABLE events (
    seq           BIGINT  PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    type          TEXT    NOT NULL,
    -- Null for an event about no customer (e.g. a rule publication's application).
    customer_code TEXT,
    -- The customer's department and owner when the event happened: the feed filters by
    -- data scope without reading customers.
    department_id BIGINT,
    owner_id      BIGINT,
    at            BIGINT  NOT NULL,
    actor_id      BIGINT,
    actor_name    TEXT    NOT NULL,
    payload       TEXT    NOT NULL
);
-- Retention deletes by time.
CREATE INDEX events_at ON events(at);
