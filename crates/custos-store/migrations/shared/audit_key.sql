-- The audit chain is keyed (issue 28): each entry names the audit key whose HMAC its
-- hash is. NULL: an entry of an earlier version, hashed with plain SHA-256; such
-- entries are sealed by the first keyed entry when this version first starts.
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
