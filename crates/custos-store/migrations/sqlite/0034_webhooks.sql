-- Webhook subscriptions (issue 33). Each subscription has an owner account whose data
-- scope filters the events it receives, a cursor (the last event seq fanned out into
-- deliveries) and a signing secret sealed with the PII key (the server signs with it, so
-- it cannot be a hash).
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    event_types TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    owner_id    INTEGER NOT NULL REFERENCES users(id),
    cursor      BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL,
    created_by  INTEGER REFERENCES users(id),
    updated_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX webhooks_name ON webhooks(name);

-- One event to deliver to one subscription: `pending` until a 2xx (`delivered`) or until
-- it has failed for `[webhooks] dead_letter_after_hours` since its first attempt
-- (`first_at`), then `dead`. `lane` is the customer
-- code ('' for events about no customer): a pending row blocks the later rows of its lane
-- only. `lease_until` is set by the worker that claimed the row; an expired lease makes
-- the row claimable again (a worker that died mid-delivery). `body` is the JSON posted.
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    seq         BIGINT  NOT NULL,
    event_id    TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    lane        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    first_at    BIGINT,
    next_at     BIGINT  NOT NULL,
    lease_until BIGINT,
    done_at     BIGINT,
    last_status INTEGER,
    last_error  TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_lane ON webhook_deliveries(webhook_id, lane, id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries(done_at) WHERE state <> 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);

-- The delivery log: one row per HTTP attempt (test pings too, without a delivery).
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    delivery_id INTEGER REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt_id  TEXT    NOT NULL,
    seq         BIGINT,
    event_id    TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    status      INTEGER,
    latency_ms  BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_hook ON webhook_attempts(webhook_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id);
CREATE INDEX webhook_attempts_at ON webhook_attempts(at);
