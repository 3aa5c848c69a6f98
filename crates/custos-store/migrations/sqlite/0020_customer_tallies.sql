-- Customer counts per grouping of the statistics, kept by triggers in the same transaction
-- as every change, so the dashboard reads a few hundred rows instead of counting a million.
-- One row per (owner, department, grouping, value); owner and department 0 stand for none,
-- and the rows with both -1 hold the whole table. A missing value is kept as ''.
-- SQLite has one writer, so these hot rows cost no waiting; PostgreSQL counts as before.
CREATE TABLE customer_tallies (
    owner_id        BIGINT  NOT NULL,
    department_id   BIGINT  NOT NULL,
    grp             TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    n               BIGINT  NOT NULL,
    PRIMARY KEY (owner_id, department_id, grp, key)
) WITHOUT ROWID;
CREATE INDEX customer_tallies_department ON customer_tallies(department_id, grp);

INSERT INTO customer_tallies (owner_id, department_id, grp, key, n)
SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'type', coalesce(c.customer_type, ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'province', coalesce(substr(c.region_code, 1, 2), ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'city', coalesce(substr(c.region_code, 1, 4), ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'industry', coalesce(c.industry, ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'status', coalesce(c.status, ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'level', coalesce(c.level, ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'department', coalesce(CAST(c.department_id AS TEXT), ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT coalesce(c.owner_id, 0), coalesce(c.department_id, 0), 'month', coalesce(c.created_month, ''), COUNT(*) FROM customers c GROUP BY 1, 2, 4
UNION ALL SELECT -1, -1, 'type', coalesce(c.customer_type, ''), COUNT(*) FROM customers c GROUP BY 4
UNION ALL SELECT -1, -1, 'province', coalesce(substr(c.region_code, 1, 2), ''), COUNT(*) FROM customers c GROUP BY 4
UNION ALL SELECT -1, -1, 'city', coalesce(substr(c.region_code, 1, 4), ''), COUNT(*) FROM customers c GROUP BY 4
UNION ALL SELECT -1, -1, 'industry', coalesce(c.industry, ''), COUNT(*) FROM customers c GROUP BY 4
UNION ALL SELECT -1, -1, 'status', coalesce(c.status, ''), COUNT(*) FROM customers c GROUP BY 4
UNION ALL SELECT -1, -1, 'level', coalesce(c.level, ''), COUNT(*) FROM customers c GROUP BY 4
UNION ALL SELECT -1, -1, 'department', coalesce(CAST(c.department_id AS TEXT), ''), COUNT(*) FROM customers c GROUP BY 4
UNION ALL SELECT -1, -1, 'month', coalesce(c.created_month, ''), COUNT(*) FROM customers c GROUP BY 4;

CREATE TRIGGER customers_tally_insert AFTER INSERT ON customers BEGIN
INSERT INTO customer_tallies (owner_id, department_id, grp, key, n) VALUES
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'type', coalesce(NEW.customer_type, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'province', coalesce(substr(NEW.region_code, 1, 2), ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'city', coalesce(substr(NEW.region_code, 1, 4), ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'industry', coalesce(NEW.industry, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'status', coalesce(NEW.status, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'level', coalesce(NEW.level, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'department', coalesce(CAST(NEW.department_id AS TEXT), ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'month', coalesce(NEW.created_month, ''), 1),
    (-1, -1, 'type', coalesce(NEW.customer_type, ''), 1),
    (-1, -1, 'province', coalesce(substr(NEW.region_code, 1, 2), ''), 1),
    (-1, -1, 'city', coalesce(substr(NEW.region_code, 1, 4), ''), 1),
    (-1, -1, 'industry', coalesce(NEW.industry, ''), 1),
    (-1, -1, 'status', coalesce(NEW.status, ''), 1),
    (-1, -1, 'level', coalesce(NEW.level, ''), 1),
    (-1, -1, 'department', coalesce(CAST(NEW.department_id AS TEXT), ''), 1),
    (-1, -1, 'month', coalesce(NEW.created_month, ''), 1)
ON CONFLICT (owner_id, department_id, grp, key) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER customers_tally_delete AFTER DELETE ON customers BEGIN
INSERT INTO customer_tallies (owner_id, department_id, grp, key, n) VALUES
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'type', coalesce(OLD.customer_type, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'province', coalesce(substr(OLD.region_code, 1, 2), ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'city', coalesce(substr(OLD.region_code, 1, 4), ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'industry', coalesce(OLD.industry, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'status', coalesce(OLD.status, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'level', coalesce(OLD.level, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'department', coalesce(CAST(OLD.department_id AS TEXT), ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'month', coalesce(OLD.created_month, ''), -1),
    (-1, -1, 'type', coalesce(OLD.customer_type, ''), -1),
    (-1, -1, 'province', coalesce(substr(OLD.region_code, 1, 2), ''), -1),
    (-1, -1, 'city', coalesce(substr(OLD.region_code, 1, 4), ''), -1),
    (-1, -1, 'industry', coalesce(OLD.industry, ''), -1),
    (-1, -1, 'status', coalesce(OLD.status, ''), -1),
    (-1, -1, 'level', coalesce(OLD.level, ''), -1),
    (-1, -1, 'department', coalesce(CAST(OLD.department_id AS TEXT), ''), -1),
    (-1, -1, 'month', coalesce(OLD.created_month, ''), -1)
ON CONFLICT (owner_id, department_id, grp, key) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER customers_tally_update AFTER UPDATE OF customer_type, region_code, industry, status, level, owner_id, department_id, created_month ON customers
WHEN OLD.customer_type IS NOT NEW.customer_type OR OLD.region_code IS NOT NEW.region_code OR OLD.industry IS NOT NEW.industry OR OLD.status IS NOT NEW.status OR OLD.level IS NOT NEW.level OR OLD.owner_id IS NOT NEW.owner_id OR OLD.department_id IS NOT NEW.department_id OR OLD.created_month IS NOT NEW.created_month
BEGIN
INSERT INTO customer_tallies (owner_id, department_id, grp, key, n) VALUES
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'type', coalesce(OLD.customer_type, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'province', coalesce(substr(OLD.region_code, 1, 2), ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'city', coalesce(substr(OLD.region_code, 1, 4), ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'industry', coalesce(OLD.industry, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'status', coalesce(OLD.status, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'level', coalesce(OLD.level, ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'department', coalesce(CAST(OLD.department_id AS TEXT), ''), -1),
    (coalesce(OLD.owner_id, 0), coalesce(OLD.department_id, 0), 'month', coalesce(OLD.created_month, ''), -1),
    (-1, -1, 'type', coalesce(OLD.customer_type, ''), -1),
    (-1, -1, 'province', coalesce(substr(OLD.region_code, 1, 2), ''), -1),
    (-1, -1, 'city', coalesce(substr(OLD.region_code, 1, 4), ''), -1),
    (-1, -1, 'industry', coalesce(OLD.industry, ''), -1),
    (-1, -1, 'status', coalesce(OLD.status, ''), -1),
    (-1, -1, 'level', coalesce(OLD.level, ''), -1),
    (-1, -1, 'department', coalesce(CAST(OLD.department_id AS TEXT), ''), -1),
    (-1, -1, 'month', coalesce(OLD.created_month, ''), -1)
ON CONFLICT (owner_id, department_id, grp, key) DO UPDATE SET n = n + excluded.n;
INSERT INTO customer_tallies (owner_id, department_id, grp, key, n) VALUES
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'type', coalesce(NEW.customer_type, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'province', coalesce(substr(NEW.region_code, 1, 2), ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'city', coalesce(substr(NEW.region_code, 1, 4), ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'industry', coalesce(NEW.industry, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'status', coalesce(NEW.status, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'level', coalesce(NEW.level, ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'department', coalesce(CAST(NEW.department_id AS TEXT), ''), 1),
    (coalesce(NEW.owner_id, 0), coalesce(NEW.department_id, 0), 'month', coalesce(NEW.created_month, ''), 1),
    (-1, -1, 'type', coalesce(NEW.customer_type, ''), 1),
    (-1, -1, 'province', coalesce(substr(NEW.region_code, 1, 2), ''), 1),
    (-1, -1, 'city', coalesce(substr(NEW.region_code, 1, 4), ''), 1),
    (-1, -1, 'industry', coalesce(NEW.industry, ''), 1),
    (-1, -1, 'status', coalesce(NEW.status, ''), 1),
    (-1, -1, 'level', coalesce(NEW.level, ''), 1),
    (-1, -1, 'department', coalesce(CAST(NEW.department_id AS TEXT), ''), 1),
    (-1, -1, 'month', coalesce(NEW.created_month, ''), 1)
ON CONFLICT (owner_id, department_id, grp, key) DO UPDATE SET n = n + excluded.n;
END;
