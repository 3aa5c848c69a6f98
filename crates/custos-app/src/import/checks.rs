//! 抽查 marks: a steward marks each sampled row of an import as checked (已核对). The
//! job is reached as its report is (permission `import`, the caller's own jobs unless
//! the scope is all data); a mark keeps who and when, and is audited.

use crate::import::Imports;
use serde::Serialize;

use custos_store::imports::ImportCheckRow;

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};

/// A sampled row marked checked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SampleCheck {
    pub row_no: i64,
    pub checked_by: String,
    /// Microseconds since the epoch.
    pub checked_at: i64,
}

/// How far the checking of a job's sample has come, and the marks of some rows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SampleChecks {
    pub sample_size: i64,
    pub checked: i64,
    pub rows: Vec<SampleCheck>,
}

/// Marks read at once, at most (a report shows fewer sampled rows).
const MAX_CHECKS: i64 = 1000;

impl Imports<'_> {
    /// Mark a sampled row of a job checked by the caller. Marking it again keeps the
    /// first mark. A row that was not sampled is not found.
    pub async fn check_import_sample(
        &self,
        actor: &Actor,
        job_id: i64,
        row_no: i64,
    ) -> AppResult<SampleCheck> {
        self.import_job_row(actor, job_id).await?;
        let mut tx = self.app.db.begin().await?;
        if tx.import_row_outcome(job_id, row_no).await?.as_deref() != Some("sampled") {
            tx.rollback().await?;
            return Err(AppError::not_found(
                "import_sample_row",
                format!("{job_id}/{row_no}"),
            ));
        }
        let check = ImportCheckRow {
            row_no,
            checked_by: Some(actor.user_id),
            checked_by_name: actor.username.clone(),
            checked_at: custos_store::now_us(),
        };
        if tx.insert_import_check(job_id, &check).await? {
            let mut r = record(
                actor,
                "import.sample_checked",
                "import_job",
                &job_id.to_string(),
            );
            r.after = Some(serde_json::json!({ "row": row_no }).to_string());
            append(&mut tx, r).await?;
        }
        let mark = tx.import_checks(job_id, row_no, row_no, 1).await?;
        tx.commit().await?;
        mark.into_iter()
            .next()
            .map(view)
            .ok_or_else(|| AppError::Internal("an import check vanished".into()))
    }

    /// The sample's size, how many of its rows are checked, and the marks of rows
    /// `from_row..=to_row` (at most a thousand).
    pub async fn import_sample_checks(
        &self,
        actor: &Actor,
        job_id: i64,
        from_row: i64,
        to_row: i64,
    ) -> AppResult<SampleChecks> {
        self.import_job_row(actor, job_id).await?;
        let mut tx = self.app.db.begin_read().await?;
        let (sample_size, checked) = tx.import_check_counts(job_id).await?;
        let rows = tx
            .import_checks(job_id, from_row, to_row, MAX_CHECKS)
            .await?;
        tx.rollback().await?;
        Ok(SampleChecks {
            sample_size,
            checked,
            rows: rows.into_iter().map(view).collect(),
        })
    }
}

fn view(c: ImportCheckRow) -> SampleCheck {
    SampleCheck {
        row_no: c.row_no,
        checked_by: c.checked_by_name,
        checked_at: c.checked_at,
    }
}
