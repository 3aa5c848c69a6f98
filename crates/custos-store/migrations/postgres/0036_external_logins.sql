-- Company login (issue 33): accounts that come from a directory (LDAP / Active Directory)
-- or an OpenID Connect provider. `auth_source` is `local` for accounts with a password kept
-- here (administrators, service accounts), else the provider (`ldap`, `oidc:<name>`); such an
-- account never logs in with a local password.
ALTER TABLE users ADD COLUMN auth_source TEXT NOT NULL DEFAULT 'local';

-- Which external identity is which user: the provider and its stable subject (the entry's
-- DN or unique id for LDAP, `sub` for OIDC).
CREATE TABLE user_identities (
    provider      TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    user_id       BIGINT  NOT NULL REFERENCES users(id),
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT  NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities(user_id);

-- OIDC authorisation requests in flight: the state (kept by its hash), nonce and PKCE
-- verifier of each, used once and only until `expires_at` (µs).
CREATE TABLE oidc_requests (
    state_hash    TEXT    PRIMARY KEY,
    provider      TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    code_verifier TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX oidc_requests_expiry ON oidc_requests(expires_at);
