-- Import jobs (批量导入): one row per run, with its progress so a crashed run resumes
-- where it stopped. `rows_done` counts source data rows whose outcome is committed; it
-- is advanced in the same transaction as the customers of those rows, so a resume never
-- imports a row twice.
CREATE TABLE import_jobs (
    id              INTEGER PRIMARY KEY,
    status          TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    file_sha256     TEXT    NOT NULL,
    options         TEXT    NOT NULL,
    rows_done       BIGINT  NOT NULL DEFAULT 0,
    created         BIGINT  NOT NULL DEFAULT 0,
    updated         BIGINT  NOT NULL DEFAULT 0,
    merged          BIGINT  NOT NULL DEFAULT 0,
    skipped         BIGINT  NOT NULL DEFAULT 0,
    rejected        BIGINT  NOT NULL DEFAULT 0,
    error           TEXT,
    created_by      BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX import_jobs_created_by ON import_jobs(created_by, id);

-- Rows of a job worth reporting: rejected and skipped rows with their original cells
-- and reasons, and the sampled (抽查) rows with the code they were stored under.
CREATE TABLE import_rows (
    job_id          BIGINT  NOT NULL REFERENCES import_jobs(id),
    row_no          BIGINT  NOT NULL,
    outcome         TEXT    NOT NULL,
    code            TEXT,
    cells           TEXT    NOT NULL,
    detail          TEXT,
    PRIMARY KEY (job_id, row_no)
);

