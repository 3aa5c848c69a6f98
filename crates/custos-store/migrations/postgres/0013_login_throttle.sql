-- Logins (issue 28): usernames are unique whatever their case, and failed logins are
-- throttled per (client address, username) and per username instead of locking the
-- account (five anonymous requests used to lock anyone out for 15 minutes).

-- Accounts whose names differ only in case from an older account (`Admin` beside
-- `admin`) cannot share one case-insensitive name: the older account (lowest id) keeps
-- its name, each newer one is renamed NAME-ID (e.g. `Admin-7`) and keeps its password,
-- roles and history. docs/users.md tells operators to look for such names after upgrading.
UPDATE users SET username = username || '-' || id
 WHERE EXISTS (SELECT 1 FROM users o
                WHERE lower(o.username) = lower(users.username) AND o.id < users.id);

-- The lookup key: the name lower-cased by custos.
ALTER TABLE users ADD COLUMN username_key TEXT;
UPDATE users SET username_key = lower(username);
ALTER TABLE users ALTER COLUMN username_key SET NOT NULL;
DROP INDEX users_username;
CREATE UNIQUE INDEX users_username_key ON users(username_key);

-- The per-account counter and lock are replaced by login_throttle.
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN locked_until;

-- Failed logins. `subject` is the SHA-256 (hex) of the lower-cased username as typed, so
-- unknown names are counted exactly like existing ones and no attacker-chosen text is
-- stored; `client` is the client address (an IPv6 client's /64), or '' for the row that
-- counts the username's failures from every address. `pending` counts the pair's
-- attempts whose password is being checked right now (since `pending_at`).
CREATE TABLE login_throttle (
    subject         TEXT   NOT NULL,
    client          TEXT   NOT NULL,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT,
    pending         BIGINT NOT NULL DEFAULT 0,
    pending_at      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, client)
);
CREATE INDEX login_throttle_last_failure ON login_throttle(last_failure_at);
