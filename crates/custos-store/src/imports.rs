//! Import jobs and the rows of each worth reporting (rejected, skipped, sampled).

use crate::{now_us, on_tx, StoreResult, Tx};

pub(crate) const JOB_COLS: &str = "id, status, file_name, file_sha256, options, rows_done, \
    created, updated, merged, skipped, rejected, error, created_by, created_at, updated_at, \
    finished_at, duplicate_groups";

/// One import run.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ImportJobRow {
    pub id: i64,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub file_name: String,
    pub file_sha256: String,
    /// JSON of the options the run was started with (mapping, policy, sheet…).
    pub options: String,
    /// Source data rows whose outcome is committed.
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub merged: i64,
    pub skipped: i64,
    pub rejected: i64,
    pub error: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    /// New duplicate groups the run put in the review queue.
    pub duplicate_groups: i64,
}

/// A reported row of a job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportRowRow {
    pub job_id: i64,
    /// 1-based data row number (the header is not counted).
    pub row_no: i64,
    /// `rejected`, `skipped` or `sampled`.
    pub outcome: String,
    pub code: Option<String>,
    /// JSON array of the original cells.
    pub cells: String,
    /// JSON: reasons per field (rejected/skipped) or stored values (sampled).
    pub detail: Option<String>,
}

impl Tx {
    pub async fn insert_import_job(&mut self, j: &ImportJobRow) -> StoreResult<i64> {
        let sql = "INSERT INTO import_jobs (status, file_name, file_sha256, options, \
                   created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                   RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&j.status)
            .bind(&j.file_name)
            .bind(&j.file_sha256)
            .bind(&j.options)
            .bind(j.created_by)
            .bind(j.created_at)
            .fetch_one(c)
            .await)?)
    }

    pub async fn import_job(&mut self, id: i64) -> StoreResult<Option<ImportJobRow>> {
        let sql = format!("SELECT {JOB_COLS} FROM import_jobs WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportJobRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// Lock the job row for the rest of the transaction (PostgreSQL; SQLite's writer
    /// transaction is exclusive already).
    pub async fn lock_import_job(&mut self, id: i64) -> StoreResult<Option<ImportJobRow>> {
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE",
            crate::Backend::Sqlite => "",
        };
        let sql = format!("SELECT {JOB_COLS} FROM import_jobs WHERE id = $1{lock}");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportJobRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// The most recent jobs, newest first; only `created_by` when given.
    pub async fn import_jobs(
        &mut self,
        created_by: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<ImportJobRow>> {
        let sql = format!(
            "SELECT {JOB_COLS} FROM import_jobs WHERE ($1 IS NULL OR created_by = $1) \
             ORDER BY id DESC LIMIT $2"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportJobRow>(&sql)
            .bind(created_by)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Replace a job's stored options (JSON).
    pub async fn set_import_job_options(&mut self, id: i64, options: &str) -> StoreResult<()> {
        let sql = "UPDATE import_jobs SET options = $2 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(options)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Record the progress and counts of a job (in the transaction of the rows counted).
    pub async fn update_import_progress(&mut self, j: &ImportJobRow) -> StoreResult<()> {
        let sql = "UPDATE import_jobs SET status = $2, rows_done = $3, created = $4, \
                   updated = $5, merged = $6, skipped = $7, rejected = $8, error = $9, \
                   updated_at = $10, finished_at = $11, duplicate_groups = $12 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(j.id)
            .bind(&j.status)
            .bind(j.rows_done)
            .bind(j.created)
            .bind(j.updated)
            .bind(j.merged)
            .bind(j.skipped)
            .bind(j.rejected)
            .bind(&j.error)
            .bind(now_us())
            .bind(j.finished_at)
            .bind(j.duplicate_groups)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn insert_import_row(&mut self, r: &ImportRowRow) -> StoreResult<()> {
        let sql = "INSERT INTO import_rows (job_id, row_no, outcome, code, cells, detail) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(r.job_id)
            .bind(r.row_no)
            .bind(&r.outcome)
            .bind(&r.code)
            .bind(&r.cells)
            .bind(&r.detail)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Up to `limit` reported rows whose cells are not stored encrypted (`pii1:…`): rows
    /// written before reported rows were encrypted.
    pub async fn unsealed_import_rows(&mut self, limit: i64) -> StoreResult<Vec<ImportRowRow>> {
        let sql = "SELECT job_id, row_no, outcome, code, cells, detail FROM import_rows \
                   WHERE cells NOT LIKE 'pii1:%' ORDER BY job_id, row_no LIMIT $1";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportRowRow>(sql)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Replace the cells and detail of a reported row (with their encrypted form).
    pub async fn seal_import_row(
        &mut self,
        job_id: i64,
        row_no: i64,
        cells: &str,
        detail: Option<&str>,
    ) -> StoreResult<()> {
        let sql =
            "UPDATE import_rows SET cells = $3, detail = $4 WHERE job_id = $1 AND row_no = $2";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(job_id)
            .bind(row_no)
            .bind(cells)
            .bind(detail)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Reported rows of a job with this outcome, after `after_row`, in row order.
    pub async fn import_rows(
        &mut self,
        job_id: i64,
        outcome: &str,
        after_row: i64,
        limit: i64,
    ) -> StoreResult<Vec<ImportRowRow>> {
        let sql = "SELECT job_id, row_no, outcome, code, cells, detail FROM import_rows \
                   WHERE job_id = $1 AND outcome = $2 AND row_no > $3 ORDER BY row_no LIMIT $4";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportRowRow>(sql)
            .bind(job_id)
            .bind(outcome)
            .bind(after_row)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }
}

/// A sampled row a steward marked checked (已核对).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportCheckRow {
    pub row_no: i64,
    pub checked_by: Option<i64>,
    pub checked_by_name: String,
    pub checked_at: i64,
}

impl Tx {
    /// The outcome of a job's reported row, if it was reported.
    pub async fn import_row_outcome(
        &mut self,
        job_id: i64,
        row_no: i64,
    ) -> StoreResult<Option<String>> {
        let sql = "SELECT outcome FROM import_rows WHERE job_id = $1 AND row_no = $2";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, String>(sql)
            .bind(job_id)
            .bind(row_no)
            .fetch_optional(c)
            .await)?)
    }

    /// Mark a row checked; false when it already was (the first mark is kept).
    pub async fn insert_import_check(
        &mut self,
        job_id: i64,
        check: &ImportCheckRow,
    ) -> StoreResult<bool> {
        let sql = "INSERT INTO import_checks (job_id, row_no, checked_by, checked_by_name, \
                   checked_at) VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (job_id, row_no) DO NOTHING";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(job_id)
            .bind(check.row_no)
            .bind(check.checked_by)
            .bind(&check.checked_by_name)
            .bind(check.checked_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// The checks of a job's rows `from_row..=to_row`, at most `limit`, in row order.
    pub async fn import_checks(
        &mut self,
        job_id: i64,
        from_row: i64,
        to_row: i64,
        limit: i64,
    ) -> StoreResult<Vec<ImportCheckRow>> {
        let sql = "SELECT row_no, checked_by, checked_by_name, checked_at FROM import_checks \
                   WHERE job_id = $1 AND row_no >= $2 AND row_no <= $3 ORDER BY row_no LIMIT $4";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportCheckRow>(sql)
            .bind(job_id)
            .bind(from_row)
            .bind(to_row)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// A job's sample size and how many of its sampled rows are checked.
    pub async fn import_check_counts(&mut self, job_id: i64) -> StoreResult<(i64, i64)> {
        let sql = "SELECT \
                   (SELECT COUNT(*) FROM import_rows WHERE job_id = $1 AND outcome = 'sampled'), \
                   (SELECT COUNT(*) FROM import_checks WHERE job_id = $1)";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, (i64, i64)>(sql)
            .bind(job_id)
            .fetch_one(c)
            .await)?)
    }
}

/// A mapping saved by name (its spec as JSON).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportMappingRow {
    pub name: String,
    pub spec: String,
    pub updated_at: i64,
}

impl Tx {
    /// Save `owner`'s mapping under `name`, replacing one of that name.
    pub async fn save_import_mapping(
        &mut self,
        owner_id: i64,
        m: &ImportMappingRow,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO import_mappings (owner_id, name, spec, updated_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (owner_id, name) \
                   DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(owner_id)
            .bind(&m.name)
            .bind(&m.spec)
            .bind(m.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// `owner`'s saved mappings by name, at most `limit`.
    pub async fn import_mappings(
        &mut self,
        owner_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<ImportMappingRow>> {
        let sql = "SELECT name, spec, updated_at FROM import_mappings WHERE owner_id = $1 \
                   ORDER BY name LIMIT $2";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportMappingRow>(
            sql
        )
        .bind(owner_id)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// `owner`'s mapping saved as `name`.
    pub async fn import_mapping(
        &mut self,
        owner_id: i64,
        name: &str,
    ) -> StoreResult<Option<ImportMappingRow>> {
        let sql = "SELECT name, spec, updated_at FROM import_mappings \
                   WHERE owner_id = $1 AND name = $2";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ImportMappingRow>(
            sql
        )
        .bind(owner_id)
        .bind(name)
        .fetch_optional(c)
        .await)?)
    }
}
