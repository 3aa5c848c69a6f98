-- The rows a new customer adds to its lookup tables — about twenty match keys, a dozen
-- name bigrams, blind-index entries, tags, custom-field values — each ran PostgreSQL's
-- foreign-key trigger, a lookup of the customer row with a share lock: close to half of
-- the statement that creates a customer. These rows are derived from the customer row and
-- only written next to it (the same statement reads its id from the row it inserts), and
-- customers are never deleted, so the check could never fail. SQLite dropped the same
-- keys in its migration 0009. The other references to customers (history,
-- cross-references, merges) stay checked.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT t.oid::regclass AS tbl, c.conname
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.contype = 'f'
          AND t.relnamespace = current_schema()::regnamespace
          AND t.relname IN ('customer_name_grams', 'customer_match_keys',
              'customer_blind_index', 'customer_tags', 'customer_field_values')
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname);
    END LOOP;
END
$$;
