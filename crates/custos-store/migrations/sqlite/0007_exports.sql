-- Export jobs (异步导出): one row per requested export. The job runs in the background as
-- the user who asked for it; the file goes to the exports directory and is kept until
-- `expires_at`, then deleted (status `expired`). `heartbeat_at` is refreshed while the job
-- runs, so a job whose server stopped is recognised and marked `failed` by any server
-- that shares the database, without touching jobs other servers are still running.
CREATE TABLE export_jobs (
    id                  INTEGER PRIMARY KEY,
    -- queued, running, done, failed, expired
    status              TEXT    NOT NULL,
    requested_by        BIGINT  NOT NULL,
    requested_by_name   TEXT    NOT NULL,
    -- csv, xlsx, jsonl
    format              TEXT    NOT NULL,
    gbk                 BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON object of the search filters
    filter              TEXT    NOT NULL,
    -- whether the requester could read unmasked personal data (the file holds it)
    pii_revealed        BOOLEAN NOT NULL DEFAULT FALSE,
    rows_done           BIGINT  NOT NULL DEFAULT 0,
    total_rows          BIGINT,
    error               TEXT,
    -- download name, and where the file is (set when the job starts)
    file_name           TEXT    NOT NULL,
    file_path           TEXT,
    byte_size           BIGINT,
    sha256              TEXT,
    created_at          BIGINT  NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    heartbeat_at        BIGINT  NOT NULL,
    expires_at          BIGINT  NOT NULL
);
CREATE INDEX export_jobs_requested_by ON export_jobs(requested_by, id);
CREATE INDEX export_jobs_status ON export_jobs(status, expires_at);
