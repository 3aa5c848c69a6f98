//! What callers see of an import: its report (state and totals), progress, reported
//! rows and the outcome of a run.

use serde::Serialize;
use serde_json::Value;

use custos_store::imports::{ImportJobRow, ImportRowRow};

use super::mapping::{self, ColumnUse};
use super::options::{DuplicatePolicy, ImportOptions};
use super::source::{self, FileFormat};
use crate::auth::format_time;
use crate::error::AppResult;

/// The state and totals of an import.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Absent for a dry run (nothing is stored).
    pub job_id: Option<i64>,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub dry_run: bool,
    pub policy: DuplicatePolicy,
    pub file_name: String,
    /// `csv` or `xlsx`.
    pub format: String,
    pub encoding: Option<String>,
    /// CSV: the cell separator, `,` `tab` `;` or `|`.
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    /// Line or sheet row of the header (rows above are titles).
    pub header_row: u64,
    /// Line or sheet row of the import template's help row, recognised and skipped (not
    /// counted in `read`); absent when the file has none.
    pub help_row: Option<u64>,
    /// Estimate of the data rows in the file (for progress; 0 when unknown).
    pub rows_estimate: u64,
    /// Seconds from the start of the job to its last progress (rows per second).
    pub seconds: f64,
    pub columns: Vec<ColumnUse>,
    /// Headers no mapping recognised: their cells were not imported.
    pub unknown_columns: Vec<String>,
    /// Data rows read (blank rows are not counted).
    pub read: i64,
    pub created: i64,
    pub updated: i64,
    pub merged: i64,
    pub skipped: i64,
    pub rejected: i64,
    /// New duplicate groups the run put in the review queue (`review`), announced to
    /// the stewards when it ends.
    pub duplicate_groups: i64,
    pub error: Option<String>,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
}

/// Progress reported after each committed chunk.
#[derive(Debug, Clone, Serialize)]
pub struct ImportProgress {
    pub rows_done: i64,
    /// Estimate of the data rows in the file (0 when unknown).
    pub rows_estimate: u64,
    pub created: i64,
    pub rejected: i64,
}

/// A reported row kept in memory (dry run) or read back from the job.
#[derive(Debug, Clone)]
pub struct ReportedRow {
    pub row_no: i64,
    pub line: u64,
    pub outcome: String,
    pub code: Option<String>,
    pub cells: Vec<String>,
    pub detail: Value,
}

pub(super) fn report_of(
    job: &ImportJobRow,
    options: &ImportOptions,
    facts: &source::FileFacts,
    table: &source::Table,
    map: &mapping::ColumnMap,
    help_row: Option<u64>,
) -> ImportReport {
    ImportReport {
        job_id: (job.id > 0).then_some(job.id),
        status: job.status.clone(),
        dry_run: options.dry_run,
        policy: options.policy,
        file_name: options.file_name.clone(),
        format: match facts.format {
            FileFormat::Csv => "csv".into(),
            FileFormat::Xlsx => "xlsx".into(),
        },
        encoding: facts.encoding.map(|e| e.as_str().to_string()),
        delimiter: facts
            .encoding
            .map(|_| source::delimiter_name(facts.delimiter).to_string()),
        sheet: table.sheet.clone(),
        header_row: table.header_line,
        help_row,
        rows_estimate: facts.approx_rows.saturating_sub(table.header_line),
        seconds: seconds_of(job),
        columns: map.uses(),
        unknown_columns: map.unknown(),
        read: job.rows_done,
        created: job.created,
        updated: job.updated,
        merged: job.merged,
        skipped: job.skipped,
        rejected: job.rejected,
        duplicate_groups: job.duplicate_groups,
        error: job.error.clone(),
        created_at: (job.created_at > 0).then(|| format_time(job.created_at)),
        finished_at: job.finished_at.map(format_time),
    }
}

/// Seconds from a job's start to its last progress.
pub(super) fn seconds_of(job: &ImportJobRow) -> f64 {
    let end = job.finished_at.unwrap_or(job.updated_at);
    if job.created_at > 0 && end > job.created_at {
        (end - job.created_at) as f64 / 1e6
    } else {
        0.0
    }
}

/// Rows reported by a finished run (dry runs keep them in memory).
pub struct ImportOutcome {
    pub report: ImportReport,
    /// Dry run only: rejected, skipped and sampled rows.
    pub rows: Vec<ReportedRow>,
    pub headers: Vec<String>,
    pub header_line: u64,
}

/// A stored reported row, decrypted (rows stored before their columns were encrypted are
/// read as they are).
pub(super) fn reported(key: &crate::pii::PiiKey, r: ImportRowRow) -> AppResult<ReportedRow> {
    let detail: Value = match r.detail.as_deref() {
        Some(d) => serde_json::from_str(&key.decrypt_if_encrypted(d)?).unwrap_or(Value::Null),
        None => Value::Null,
    };
    Ok(ReportedRow {
        row_no: r.row_no,
        line: detail.get("line").and_then(Value::as_u64).unwrap_or(0),
        outcome: r.outcome,
        code: r.code,
        cells: serde_json::from_str(&key.decrypt_if_encrypted(&r.cells)?).unwrap_or_default(),
        detail,
    })
}
