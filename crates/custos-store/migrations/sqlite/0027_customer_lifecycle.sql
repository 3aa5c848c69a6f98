-- The life cycle of customers (客户状态): the stage of each customer that has business
-- records, with the facts the rules read (dates in the business time zone), kept current
-- in the transaction of every record, merge and split and by the daily job. A customer
-- without a row has no records: a prospect since it was created. The customer's owner,
-- department and type are copied here (and kept so by a trigger on `customers`) so the
-- reports count a data scope and group without reading the customers table.
CREATE TABLE customer_lifecycle (
    customer_id       BIGINT  PRIMARY KEY REFERENCES customers(id),
    stage             TEXT    NOT NULL,
    since             TEXT    NOT NULL,
    rule              TEXT    NOT NULL,
    cause             TEXT    NOT NULL,
    activity_id       BIGINT,
    first_deal_on     TEXT,
    first_order_on    TEXT,
    last_activity_on  TEXT,
    order_count       BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    owner_id          BIGINT,
    department_id     BIGINT,
    customer_type     TEXT
);
CREATE INDEX customer_lifecycle_first_deal
    ON customer_lifecycle(first_deal_on, owner_id, department_id);
CREATE INDEX customer_lifecycle_buyers
    ON customer_lifecycle(order_count, customer_type, department_id, owner_id);
CREATE TRIGGER customers_lifecycle_follow
    AFTER UPDATE OF owner_id, department_id, customer_type ON customers
BEGIN
    UPDATE customer_lifecycle SET owner_id = NEW.owner_id, department_id = NEW.department_id,
        customer_type = NEW.customer_type WHERE customer_id = NEW.id;
END;

-- Every change of stage: from, to, the day it counts for, the rule and what caused it
-- (`record` with the record's id, `merge`, `unmerge`, `split`, `daily`).
CREATE TABLE customer_lifecycle_transitions (
    id            INTEGER PRIMARY KEY,
    customer_id   BIGINT  NOT NULL REFERENCES customers(id),
    from_stage    TEXT,
    to_stage      TEXT    NOT NULL,
    on_date       TEXT    NOT NULL,
    at            BIGINT  NOT NULL,
    rule          TEXT    NOT NULL,
    cause         TEXT    NOT NULL,
    activity_id   BIGINT
);
CREATE INDEX customer_lifecycle_transitions_customer
    ON customer_lifecycle_transitions(customer_id, id);
CREATE INDEX customer_lifecycle_transitions_entered
    ON customer_lifecycle_transitions(to_stage, on_date, customer_id);

-- Orders per customer and month (`YYYY-MM`), counted again with the order totals: the
-- monthly repeat-purchase rate reads it instead of the records.
CREATE TABLE customer_order_months (
    customer_id   BIGINT  NOT NULL REFERENCES customers(id),
    month         TEXT    NOT NULL,
    order_count   BIGINT  NOT NULL,
    PRIMARY KEY (customer_id, month)
);
CREATE INDEX customer_order_months_month ON customer_order_months(month, customer_id);
INSERT INTO customer_order_months (customer_id, month, order_count)
    SELECT customer_id, substr(ref_key, 1, 7), COUNT(*) FROM customer_activities
    WHERE kind = 'order' AND ref_key IS NOT NULL
    GROUP BY customer_id, substr(ref_key, 1, 7);
CREATE INDEX customer_order_totals_count ON customer_order_totals(order_count);

-- Reminders (提醒) made by the daily job: one per item, user and day (the unique key
-- makes a second run of the same day add nothing).
CREATE TABLE customer_reminders (
    id            INTEGER PRIMARY KEY,
    user_id       BIGINT  NOT NULL,
    customer_id   BIGINT  NOT NULL REFERENCES customers(id),
    kind          TEXT    NOT NULL,
    activity_id   BIGINT  NOT NULL,
    due_on        TEXT    NOT NULL,
    -- The item's own day: the follow-up's next date, the contract's service expiry.
    item_on       TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);
CREATE UNIQUE INDEX customer_reminders_once
    ON customer_reminders(kind, activity_id, user_id, due_on);
CREATE INDEX customer_reminders_user ON customer_reminders(user_id, due_on);

-- The day a record falls due besides its own date: a contract's service expiry
-- (服务到期日). Follow-ups keep their next date in `ref_key`. Both are read by day.
ALTER TABLE customer_activities ADD COLUMN due_on TEXT;
UPDATE customer_activities SET due_on = json_extract(body, '$.service_expires_on')
    WHERE kind = 'contract';
CREATE INDEX customer_activities_due ON customer_activities(kind, due_on);
CREATE INDEX customer_activities_ref ON customer_activities(kind, ref_key);
