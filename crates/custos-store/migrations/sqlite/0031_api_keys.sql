-- Service accounts and API keys (issue 33). A service account is a row of `users` with
-- kind 'service': it holds roles, a department and so a data scope exactly like a
-- person, but never logs in with a password (its password hash is empty).
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person';

-- API keys of service accounts. The token `custos_<prefix>_<secret>` is shown once; only
-- the SHA-256 (hex) of the whole token is kept. `prefix` is public and finds the row.
-- Several keys per account, so a key can be rotated with overlap. `last_used_at` and
-- `last_used_ip` are moved on at most once a minute per key. `rate_per_second` and
-- `burst` override the configured per-key rate limit when set.
CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    prefix          TEXT    NOT NULL,
    token_hash      TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    created_by      INTEGER REFERENCES users(id),
    expires_at      BIGINT,
    revoked_at      BIGINT,
    revoked_by      INTEGER REFERENCES users(id),
    last_used_at    BIGINT,
    last_used_ip    TEXT,
    rate_per_second INTEGER,
    burst           INTEGER
);
CREATE UNIQUE INDEX api_keys_prefix ON api_keys(prefix);
CREATE INDEX api_keys_user ON api_keys(user_id, id);

-- The key an audit entry was made with (`<id>:<prefix>`); NULL for every other entry, and
-- then absent from the hashed encoding, so entries written before keep their hashes.
ALTER TABLE audit_log ADD COLUMN api_key TEXT;
