-- 抽查: a steward marks each sampled row of an import as checked (已核对); who and when
-- are kept, and the report counts the checked rows against the sample's size.
CREATE TABLE import_checks (
    job_id          BIGINT  NOT NULL REFERENCES import_jobs(id),
    row_no          BIGINT  NOT NULL,
    checked_by      BIGINT,
    checked_by_name TEXT    NOT NULL,
    checked_at      BIGINT  NOT NULL,
    PRIMARY KEY (job_id, row_no)
);
