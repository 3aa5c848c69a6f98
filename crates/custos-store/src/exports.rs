//! Export jobs: the request, its progress, and the file it produced.
//!
//! Every state change is a conditional `UPDATE … WHERE status = …`, so a job that was
//! deleted (expired) or failed by a sweep while it ran cannot be flipped back to `done`:
//! the caller learns from the affected-row count that it lost and cleans up its file.

use std::sync::OnceLock;

use crate::sql_text::placeholders_for;
use crate::{on_tx, StoreResult, Tx};

pub(crate) const EXPORT_COLS: &str = "id, status, requested_by, requested_by_name, format, \
    gbk, filter, pii_revealed, rows_done, total_rows, error, file_name, file_path, byte_size, \
    sha256, created_at, started_at, finished_at, heartbeat_at, expires_at";

/// The insert of a new job: every column of [`EXPORT_COLS`] but the id, one parameter
/// each, in that order.
fn insert_export_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols = EXPORT_COLS.trim_start_matches("id, ");
        let values = placeholders_for(cols);
        format!("INSERT INTO export_jobs ({cols}) VALUES ({values}) RETURNING id")
    })
}

/// One export job.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ExportJobRow {
    pub id: i64,
    /// `queued`, `running`, `done`, `failed` or `expired`.
    pub status: String,
    pub requested_by: i64,
    pub requested_by_name: String,
    /// `csv`, `xlsx` or `jsonl`.
    pub format: String,
    pub gbk: bool,
    /// JSON object of the search filters.
    pub filter: String,
    /// The requester could read unmasked personal data, so the file holds it.
    pub pii_revealed: bool,
    pub rows_done: i64,
    pub total_rows: Option<i64>,
    pub error: Option<String>,
    /// Download name (`customers-<id>.<ext>`).
    pub file_name: String,
    /// Where the file is written; set when the job starts.
    pub file_path: Option<String>,
    pub byte_size: Option<i64>,
    pub sha256: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub heartbeat_at: i64,
    pub expires_at: i64,
}

/// Which jobs a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ExportJobFilter {
    /// The caller: their own jobs are always listed.
    pub requested_by: i64,
    /// Also other users' jobs…
    pub others: bool,
    /// …including those whose file holds unmasked personal data.
    pub others_with_pii: bool,
    /// Only jobs with a smaller id (the cursor of the previous page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// The outcome of a finished job.
#[derive(Debug, Clone)]
pub struct ExportDone {
    pub id: i64,
    pub total_rows: i64,
    pub byte_size: i64,
    pub sha256: String,
    pub finished_at: i64,
    pub expires_at: i64,
}

impl Tx {
    /// Insert a job as given (a new job is `queued`); returns its id.
    /// The values are bound in the order of [`EXPORT_COLS`] (the id left out).
    pub async fn insert_export_job(&mut self, j: &ExportJobRow) -> StoreResult<i64> {
        let sql = insert_export_sql();
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&j.status)
            .bind(j.requested_by)
            .bind(&j.requested_by_name)
            .bind(&j.format)
            .bind(j.gbk)
            .bind(&j.filter)
            .bind(j.pii_revealed)
            .bind(j.rows_done)
            .bind(j.total_rows)
            .bind(&j.error)
            .bind(&j.file_name)
            .bind(&j.file_path)
            .bind(j.byte_size)
            .bind(&j.sha256)
            .bind(j.created_at)
            .bind(j.started_at)
            .bind(j.finished_at)
            .bind(j.heartbeat_at)
            .bind(j.expires_at)
            .fetch_one(c)
            .await)?)
    }

    /// Set the download name of a job (it carries the id, known only after the insert).
    pub async fn set_export_file_name(&mut self, id: i64, file_name: &str) -> StoreResult<()> {
        let sql = "UPDATE export_jobs SET file_name = $2 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(file_name)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn export_job(&mut self, id: i64) -> StoreResult<Option<ExportJobRow>> {
        let sql = format!("SELECT {EXPORT_COLS} FROM export_jobs WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ExportJobRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// Jobs the filter allows, newest first.
    pub async fn export_jobs(&mut self, f: &ExportJobFilter) -> StoreResult<Vec<ExportJobRow>> {
        let sql = format!(
            "SELECT {EXPORT_COLS} FROM export_jobs \
             WHERE (requested_by = $1 OR ($2 AND ($3 OR NOT pii_revealed))) \
             AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ExportJobRow>(&sql)
            .bind(f.requested_by)
            .bind(f.others)
            .bind(f.others_with_pii)
            .bind(f.before_id)
            .bind(f.limit)
            .fetch_all(c)
            .await)?)
    }

    /// `queued` → `running`, recording where the file goes. False when the job is no
    /// longer queued (deleted before it started).
    pub async fn start_export_job(
        &mut self,
        id: i64,
        file_path: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE export_jobs SET status = 'running', file_path = $2, started_at = $3, \
                   heartbeat_at = $3 WHERE id = $1 AND status = 'queued'";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(file_path)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Record progress of a running job and that its server is alive. False when the job
    /// is no longer running (deleted, or failed by a sweep): the runner should stop.
    pub async fn export_heartbeat(
        &mut self,
        id: i64,
        rows_done: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE export_jobs SET rows_done = $2, heartbeat_at = $3 \
                   WHERE id = $1 AND status = 'running'";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(rows_done)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// `running` → `done`. False when the job was deleted or failed meanwhile.
    pub async fn finish_export_job(&mut self, d: &ExportDone) -> StoreResult<bool> {
        let sql = "UPDATE export_jobs SET status = 'done', rows_done = $2, total_rows = $2, \
                   byte_size = $3, sha256 = $4, finished_at = $5, heartbeat_at = $5, \
                   expires_at = $6, error = NULL WHERE id = $1 AND status = 'running'";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(d.id)
            .bind(d.total_rows)
            .bind(d.byte_size)
            .bind(&d.sha256)
            .bind(d.finished_at)
            .bind(d.expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// `queued`/`running` → `failed` with the reason. False when it had already ended.
    pub async fn fail_export_job(&mut self, id: i64, error: &str, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE export_jobs SET status = 'failed', error = $2, finished_at = $3 \
                   WHERE id = $1 AND status IN ('queued', 'running')";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(error)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Fail every `queued`/`running` job whose heartbeat is older than `stale_before`
    /// (its server stopped). Returns those jobs' file paths, whose partial files remain.
    pub async fn fail_stale_export_jobs(
        &mut self,
        stale_before: i64,
        error: &str,
        now: i64,
    ) -> StoreResult<Vec<(i64, Option<String>)>> {
        let sql = "UPDATE export_jobs SET status = 'failed', error = $2, finished_at = $3 \
                   WHERE status IN ('queued', 'running') AND heartbeat_at < $1 \
                   RETURNING id, file_path";
        Ok(on_tx!(self, |c| {
            sqlx::query_as::<_, (i64, Option<String>)>(sql)
                .bind(stale_before)
                .bind(error)
                .bind(now)
                .fetch_all(c)
                .await
        })?)
    }

    /// `done` jobs past their expiry → `expired`. Returns their file paths to delete.
    pub async fn expire_due_export_jobs(
        &mut self,
        now: i64,
    ) -> StoreResult<Vec<(i64, Option<String>)>> {
        let sql = "UPDATE export_jobs SET status = 'expired' \
                   WHERE status = 'done' AND expires_at <= $1 RETURNING id, file_path";
        Ok(on_tx!(self, |c| {
            sqlx::query_as::<_, (i64, Option<String>)>(sql)
                .bind(now)
                .fetch_all(c)
                .await
        })?)
    }

    /// A queued or running job → `cancelled` (deleted by a user before it finished); its
    /// runner stops at its next heartbeat or finds it cannot finish. Returns the file
    /// path, or `None` when the job was not queued or running.
    pub async fn cancel_export_job(
        &mut self,
        id: i64,
        now: i64,
    ) -> StoreResult<Option<Option<String>>> {
        let sql = "UPDATE export_jobs SET status = 'cancelled', expires_at = $2, \
                   finished_at = $2 WHERE id = $1 AND status IN ('queued', 'running') \
                   RETURNING file_path";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, Option<String>>(
            sql
        )
        .bind(id)
        .bind(now)
        .fetch_optional(c)
        .await)?)
    }

    /// A finished or failed job → `expired` now (deleted by a user). Returns the file
    /// path, or `None` when the job was expired or cancelled already.
    pub async fn expire_export_job(
        &mut self,
        id: i64,
        now: i64,
    ) -> StoreResult<Option<Option<String>>> {
        let sql = "UPDATE export_jobs SET status = 'expired', expires_at = $2, \
                   finished_at = COALESCE(finished_at, $2) \
                   WHERE id = $1 AND status IN ('done', 'failed') RETURNING file_path";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, Option<String>>(
            sql
        )
        .bind(id)
        .bind(now)
        .fetch_optional(c)
        .await)?)
    }
}

#[cfg(test)]
mod tests {
    /// The generated insert is the text it had when numbered by hand.
    #[test]
    fn export_insert_has_one_parameter_per_column() {
        let by_hand = "INSERT INTO export_jobs (status, requested_by, requested_by_name, format, \
                   gbk, filter, pii_revealed, rows_done, total_rows, error, file_name, \
                   file_path, byte_size, sha256, created_at, started_at, finished_at, \
                   heartbeat_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                   $16, $17, $18, $19) RETURNING id";
        assert_eq!(super::insert_export_sql(), by_hand);
    }
}
