-- Console sign-ins share the session table with API tokens, so that logging out,
-- disabling a user or changing a password ends both. A browser session also ends after
-- a spell of inactivity: `last_seen_at` is moved forward (at most once a minute) while it
-- is used. Each user keeps the console language they chose.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'token';
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE users ADD COLUMN language TEXT;
