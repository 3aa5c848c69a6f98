-- Business records of a customer (follow-ups, interactions, service records, contracts,
-- orders and payments, credit ratings) in one table: `kind` says which, `body` holds the
-- fields of the kind as JSON. `customer_id` is where a record belongs now (a merge moves
-- it to the survivor), `origin_customer_id` where it was recorded (an unmerge moves it
-- back). `source_key` makes orders idempotent on (source system, document number).
CREATE TABLE customer_activities (
    id                  INTEGER PRIMARY KEY,
    kind                TEXT    NOT NULL,
    customer_id         BIGINT  NOT NULL REFERENCES customers(id),
    origin_customer_id  BIGINT  NOT NULL REFERENCES customers(id),
    occurred_at         BIGINT  NOT NULL,
    status              TEXT,
    ref_key             TEXT,
    source_key          TEXT,
    linked_id           BIGINT,
    amount_fen          BIGINT,
    body                TEXT    NOT NULL,
    recorded_at         BIGINT  NOT NULL,
    recorded_by         BIGINT,
    updated_at          BIGINT  NOT NULL
);
CREATE INDEX customer_activities_time ON customer_activities(customer_id, occurred_at, id);
CREATE INDEX customer_activities_kind ON customer_activities(customer_id, kind, occurred_at, id);
CREATE INDEX customer_activities_origin ON customer_activities(origin_customer_id);
CREATE UNIQUE INDEX customer_activities_source ON customer_activities(source_key);

-- Order totals of a customer, kept current in the transaction of every order and merge.
CREATE TABLE customer_order_totals (
    customer_id     BIGINT  PRIMARY KEY REFERENCES customers(id),
    total_fen       BIGINT  NOT NULL,
    order_count     BIGINT  NOT NULL,
    last_order_on   TEXT
);
