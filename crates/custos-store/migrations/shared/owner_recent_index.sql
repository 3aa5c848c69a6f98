-- "My recent customers" (the dashboard) and lists filtered by owner and sorted by the
-- last change read the owner's customers newest first from this index instead of sorting
-- all of them; it also serves every lookup the owner-only index served.
DROP INDEX customers_owner;
CREATE INDEX customers_owner_updated ON customers(owner_id, updated_at, id);
