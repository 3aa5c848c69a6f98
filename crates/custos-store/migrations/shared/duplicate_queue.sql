-- The review queue's filters: where a group came from and the customer type its members
-- share, and an index that pages each status newest first without a sort.
ALTER TABLE duplicate_groups ADD COLUMN source TEXT NOT NULL DEFAULT 'scan';
ALTER TABLE duplicate_groups ADD COLUMN customer_type TEXT;
UPDATE duplicate_groups SET customer_type = (
    SELECT CASE WHEN COUNT(DISTINCT c.customer_type) = 1 THEN MIN(c.customer_type) ELSE 'mixed' END
    FROM duplicate_group_members m JOIN customers c ON c.id = m.customer_id
    WHERE m.group_id = duplicate_groups.id);
CREATE INDEX duplicate_groups_queue ON duplicate_groups(status, id);
