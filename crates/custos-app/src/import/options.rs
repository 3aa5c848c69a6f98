//! What an import run is asked to do: its options, the duplicate policy, chunk sizes,
//! and what a job stores to be resumed.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use custos_core::Violation;

use super::mapping::MappingSpec;
use super::source::{FileFormat, TextEncoding};
use crate::error::{AppError, AppResult};

/// What to do with a row that duplicates a customer (in the database or earlier in
/// the file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DuplicatePolicy {
    /// Report the row as skipped.
    #[default]
    Skip,
    /// Create it as pending and queue the duplicate group for a steward.
    Review,
    /// Merge it into the matched customer.
    Merge,
    /// Match by code or source-system id and update the existing customer.
    Update,
}

impl DuplicatePolicy {
    pub fn parse(s: &str) -> AppResult<DuplicatePolicy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "skip" => Ok(DuplicatePolicy::Skip),
            "review" => Ok(DuplicatePolicy::Review),
            "merge" => Ok(DuplicatePolicy::Merge),
            "update" => Ok(DuplicatePolicy::Update),
            other => Err(AppError::validation(
                "policy",
                Violation::new(
                    "import.policy_unknown",
                    format!("重复处理策略“{other}”不存在，可选 skip、review、merge、update"),
                    format!("duplicate policy '{other}' does not exist; use skip, review, merge or update"),
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DuplicatePolicy::Skip => "skip",
            DuplicatePolicy::Review => "review",
            DuplicatePolicy::Merge => "merge",
            DuplicatePolicy::Update => "update",
        }
    }
}

/// Options of an import run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportOptions {
    /// Name shown in reports (the uploaded or given file name).
    pub file_name: String,
    /// Detected from the content when absent.
    pub format: Option<FileFormat>,
    /// CSV only; detected (UTF-8, GB18030, or UTF-16 by its BOM) when absent.
    pub encoding: Option<TextEncoding>,
    /// CSV only: the cell separator (`,` tab `;` `|`); detected when absent.
    #[serde(default)]
    pub delimiter: Option<char>,
    /// XLSX only; the first sheet when absent.
    pub sheet: Option<String>,
    pub mapping: MappingSpec,
    pub policy: DuplicatePolicy,
    pub dry_run: bool,
    /// Share of imported rows put in the sampling (抽查) file, 0–1 (default 0.15).
    pub sample_rate: f64,
    /// Rows per transaction (default 500: an upload through the server keeps each
    /// write lock short; `custos import` uses [`BULK_CHUNK_ROWS`]).
    pub chunk_rows: usize,
    /// The file is an upload kept (sealed) in [`Imports::import_upload_dir`] for this job
    /// only: it is deleted when the job ends (done, failed, or a dry run). Set by
    /// [`Imports::prepare_upload`] only; [`Imports::prepare_import`] clears it.
    #[serde(default)]
    pub uploaded: bool,
}

/// Rows per transaction of an import run from the command line. Larger chunks share
/// index pages between more rows per commit (100,000 rows: 1,407 rows/s with chunks of
/// 500, 1,685 with 5,000; against a million customers a chunk dirties most leaf pages
/// of the lookup trees whatever its size, see docs/benchmarks.md); other writers of an
/// embedded database wait for a chunk while it is written (several seconds).
pub const BULK_CHUNK_ROWS: usize = 20_000;

/// The largest chunk accepted: its rows, their checks and their duplicate candidates
/// are held in memory at once (twice: one chunk is prepared while one is written).
pub const MAX_CHUNK_ROWS: usize = 50_000;

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            file_name: String::new(),
            format: None,
            encoding: None,
            delimiter: None,
            sheet: None,
            mapping: MappingSpec::default(),
            policy: DuplicatePolicy::Skip,
            dry_run: false,
            sample_rate: 0.15,
            chunk_rows: 500,
            uploaded: false,
        }
    }
}

/// What a job stores to be resumed: its options and where the file is, and the file's
/// headers (for its reports, after an uploaded file is deleted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredOptions {
    pub(super) path: PathBuf,
    pub(super) options: ImportOptions,
    /// Empty in jobs stored by versions before this was kept.
    #[serde(default)]
    pub(super) headers: Vec<String>,
    /// Line of the template's help row, skipped (absent in jobs of earlier versions).
    #[serde(default)]
    pub(super) help_row: Option<u64>,
    /// Estimate of the file's data rows (progress, time left).
    #[serde(default)]
    pub(super) rows_estimate: Option<u64>,
}

pub(super) fn check_options(o: &ImportOptions) -> AppResult<()> {
    if !(0.0..=1.0).contains(&o.sample_rate) {
        return Err(AppError::validation(
            "sample_rate",
            Violation::new(
                "import.sample_rate",
                format!("抽查比例应在 0–1 之间（{}）", o.sample_rate),
                format!("the sampling rate must be 0–1 ({})", o.sample_rate),
            ),
        ));
    }
    if !(1..=MAX_CHUNK_ROWS).contains(&o.chunk_rows) {
        return Err(AppError::validation(
            "chunk_rows",
            Violation::new(
                "import.chunk_rows",
                format!(
                    "每批提交行数应在 1–{MAX_CHUNK_ROWS} 之间（{}）",
                    o.chunk_rows
                ),
                format!(
                    "rows per chunk must be 1–{MAX_CHUNK_ROWS} ({})",
                    o.chunk_rows
                ),
            ),
        ));
    }
    Ok(())
}
