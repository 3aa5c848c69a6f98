-- Group notification channels (issue 33): DingTalk and WeCom group robots and generic
-- webhooks, configured by administrators. The receiver URL (a WeCom robot's key is in it)
-- and the signing secret are stored encrypted under the PII key (`pii1:` values); lists
-- show `url_hint` only. `kinds` are the notification kinds the channel receives and
-- `departments` the recipients' departments (ids, sub-departments included), both
-- comma-separated; empty `departments` = every department.
CREATE TABLE notification_channels (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    url_sealed    TEXT    NOT NULL,
    url_hint      TEXT    NOT NULL,
    secret_sealed TEXT,
    kinds         TEXT    NOT NULL,
    departments   TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    created_by    INTEGER REFERENCES users(id)
);
CREATE UNIQUE INDEX notification_channels_name ON notification_channels(name);

-- One delivery per (channel, notification), written in the transaction of the
-- notification. `state`: pending | sent | failed (given up). A sender holds `lease_until`
-- while it posts; a failure moves `next_at` on (backoff) and keeps the last error.
CREATE TABLE channel_deliveries (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    notification_id INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         BIGINT  NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX channel_deliveries_pair ON channel_deliveries(channel_id, notification_id);
CREATE INDEX channel_deliveries_due ON channel_deliveries(state, next_at);
