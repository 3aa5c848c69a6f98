-- Where each relay of the event log (e.g. the NATS publisher) stands: the last event it
-- handed on, and which server holds it now. One server relays at a time: it holds the
-- lease until `lease_until` (µs) and renews it while it works; another takes over when
-- the lease has run out.
CREATE TABLE event_relays (
    name        TEXT    PRIMARY KEY,
    seq         BIGINT  NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
