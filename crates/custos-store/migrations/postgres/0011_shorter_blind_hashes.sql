-- Blind-index entries keep the first 64 bits of their HMAC (16 hex digits) instead of
-- all 256, as on SQLite (its migration 0010): enough to tell a million values apart, and
-- a quarter of the key. A prefix of the old hash is exactly the new one.
UPDATE customer_blind_index SET hash = left(hash, 16) WHERE length(hash) > 16;
