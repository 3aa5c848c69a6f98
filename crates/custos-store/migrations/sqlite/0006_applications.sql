-- Applications (申请单) and approval flows (审批流程): admin-defined versioned flows, the
-- applications with their frozen flow, one task per approver and step, the trail of
-- every transition (痕迹化), in-app notifications, and time-limited retrievals of
-- archived customers (调阅).

CREATE TABLE flows (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    priority    BIGINT  NOT NULL DEFAULT 0,
    conditions  TEXT    NOT NULL,
    steps       TEXT    NOT NULL,
    active      BOOLEAN NOT NULL,
    created_by  BIGINT,
    created_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX flows_key_version ON flows(key, version);
CREATE INDEX flows_kind ON flows(kind, active);

CREATE TABLE applications (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    applicant_id    BIGINT  NOT NULL,
    department_id   BIGINT,
    target          TEXT,
    payload         TEXT    NOT NULL,
    reason          TEXT,
    flow            TEXT    NOT NULL,
    current_step    BIGINT  NOT NULL,
    round           BIGINT  NOT NULL DEFAULT 1,
    duplicates      TEXT,
    result          TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    closed_at       BIGINT,
    row_version     BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX applications_applicant ON applications(applicant_id, id);
CREATE INDEX applications_state ON applications(state, kind);
CREATE INDEX applications_created ON applications(created_at);

-- One row per approver of a step in a round; `decision` stays NULL while it is pending.
CREATE TABLE application_tasks (
    id              INTEGER PRIMARY KEY,
    application_id  BIGINT  NOT NULL REFERENCES applications(id),
    round           BIGINT  NOT NULL,
    step            BIGINT  NOT NULL,
    user_id         BIGINT  NOT NULL,
    decision        TEXT,
    decided_at      BIGINT,
    comment         TEXT,
    delegated_from  BIGINT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX application_tasks_app ON application_tasks(application_id, round, step);
CREATE INDEX application_tasks_user ON application_tasks(user_id, decision);

CREATE TABLE application_events (
    id              INTEGER PRIMARY KEY,
    application_id  BIGINT  NOT NULL REFERENCES applications(id),
    at              BIGINT  NOT NULL,
    actor_id        BIGINT,
    actor_name      TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    step            BIGINT,
    from_state      TEXT,
    to_state        TEXT,
    comment         TEXT,
    detail          TEXT
);
CREATE INDEX application_events_app ON application_events(application_id, id);

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    user_id         BIGINT  NOT NULL,
    application_id  BIGINT,
    kind            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    read_at         BIGINT,
    -- E-mail delivery (when SMTP is configured): a lease while a sender works on it,
    -- the time it was sent, attempts so far.
    email_lease     BIGINT,
    emailed_at      BIGINT,
    email_attempts  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX notifications_user ON notifications(user_id, read_at, id);
CREATE INDEX notifications_email ON notifications(emailed_at, created_at);

CREATE TABLE retrievals (
    id              INTEGER PRIMARY KEY,
    customer_id     BIGINT  NOT NULL REFERENCES customers(id),
    user_id         BIGINT  NOT NULL,
    application_id  BIGINT  NOT NULL REFERENCES applications(id),
    expires_at      BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX retrievals_user ON retrievals(user_id, customer_id, expires_at);
