//! Batch import (批量导入) of customers from CSV and XLSX files.
//!
//! Every row goes through the same use case as a single create
//! ([`App::insert_new_customer`]: validation, normalisation, permissions, code issue,
//! history, audit), each in its own savepoint so a bad row rolls back alone, while rows
//! are committed in chunks for speed. The job's progress (`rows_done`) is advanced in the
//! transaction of the chunk it counts, so after a crash `resume_import` continues with the
//! first row not committed: no row is imported twice and no code issued twice.

pub mod limits;
pub mod mapping;
pub mod report;
pub mod source;

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use custos_core::normalize::{name_key, to_half_width};
use custos_core::{FieldError, Violation};
use custos_store::customer_master::XrefRow;
use custos_store::duplicates::DuplicateGroupRow;
use custos_store::imports::{ImportJobRow, ImportRowRow};
use custos_store::{now_us, CustomerRow, StoreError, Tx};

use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::customers::duplicates::DuplicateReport;
use crate::customers::{view_of, Checked, CustomerPatch, CustomerView, Lookups, NewCustomer};
use crate::error::{AppError, AppResult};
use crate::xref::{check_source_id, check_system};
use crate::{to_json, App};

pub use limits::ImportLimits;
pub use mapping::{ColumnUse, MappingSpec};
pub use source::{FileFormat, TextEncoding};

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
    /// The file is an upload kept (sealed) in [`App::import_upload_dir`] for this job
    /// only: it is deleted when the job ends (done, failed, or a dry run). Set by
    /// [`App::prepare_upload`] only; [`App::prepare_import`] clears it.
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
struct StoredOptions {
    path: PathBuf,
    options: ImportOptions,
    /// Empty in jobs stored by versions before this was kept.
    #[serde(default)]
    headers: Vec<String>,
}

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

/// An import whose file is open and mapped, ready to run.
pub struct PreparedImport {
    path: PathBuf,
    options: ImportOptions,
    facts: source::FileFacts,
    table: source::Table,
    map: mapping::ColumnMap,
    job: ImportJobRow,
    scope: Scope,
}

impl PreparedImport {
    pub fn job_id(&self) -> Option<i64> {
        (self.job.id > 0).then_some(self.job.id)
    }

    pub fn report(&self) -> ImportReport {
        report_of(
            &self.job,
            &self.options,
            &self.facts,
            &self.table,
            &self.map,
        )
    }
}

fn report_of(
    job: &ImportJobRow,
    options: &ImportOptions,
    facts: &source::FileFacts,
    table: &source::Table,
    map: &mapping::ColumnMap,
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
        columns: map.uses(),
        unknown_columns: map.unknown(),
        read: job.rows_done,
        created: job.created,
        updated: job.updated,
        merged: job.merged,
        skipped: job.skipped,
        rejected: job.rejected,
        error: job.error.clone(),
        created_at: (job.created_at > 0).then(|| format_time(job.created_at)),
        finished_at: job.finished_at.map(format_time),
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

fn hash_key(parts: &[&str]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Keys that make two rows of one file the same customer: USCC, ID number, or the
/// normalised name of an enterprise.
fn row_keys(input: &NewCustomer) -> Vec<u64> {
    let mut keys = Vec::new();
    let norm = |s: &str| to_half_width(s).replace(' ', "").to_uppercase();
    if let Some(u) = input.uscc.as_deref().map(norm).filter(|s| !s.is_empty()) {
        keys.push(hash_key(&["uscc", &u]));
    }
    if let Some(i) = input
        .id_number
        .as_deref()
        .map(norm)
        .filter(|s| !s.is_empty())
    {
        keys.push(hash_key(&["id", &i]));
    }
    if input.customer_type != "individual" {
        let k = name_key(&input.name).key;
        if !k.is_empty() {
            keys.push(hash_key(&["name", &input.customer_type, &k]));
        }
    }
    keys
}

/// Delete an upload that may already be gone (failures are logged; the start-up
/// tidying tries again).
async fn remove_upload(path: &Path) {
    crate::sealed::remove_kept_file(path, "upload").await
}

/// Whether a row is in the sampling file: a fixed function of job and row, so a
/// resumed job samples the same rows.
fn sampled(job_id: i64, row_no: i64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    let h = hash_key(&[&job_id.to_string(), &row_no.to_string()]);
    ((h % 1_000_000) as f64) < rate * 1_000_000.0
}

fn field_errors_json(map: &mapping::ColumnMap, errors: &[FieldError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| {
                json!({
                    "field": e.field,
                    "header": map.header_of_field(&e.field),
                    "code": e.violation.code,
                    "zh": e.violation.zh,
                    "en": e.violation.en,
                })
            })
            .collect(),
    )
}

/// A failure of one row that is not about a field (permission, taken code…).
fn row_error(e: &AppError) -> FieldError {
    let lang_zh = e.detail(custos_core::violation::Lang::Zh);
    let lang_en = e.detail(custos_core::violation::Lang::En);
    Violation::new(e.code(), lang_zh, lang_en).on("row")
}

/// Stored values of the mapped columns, by header (sampling file).
fn stored_values(view: &CustomerView, map: &mapping::ColumnMap) -> Value {
    let v = serde_json::to_value(view).unwrap_or(Value::Null);
    let mut out = Map::new();
    for (h, t) in map.headers.iter().zip(&map.targets) {
        let Some(t) = t else { continue };
        let stored = if let Some(c) = t.strip_prefix("contact.") {
            v.pointer(&format!("/contacts/0/{c}")).cloned()
        } else if let Some(k) = t.strip_prefix("custom.") {
            v.pointer(&format!("/custom/{k}")).cloned()
        } else if t == "ignore" || t == "source_id" || t == "source_system" {
            None
        } else {
            v.get(t.as_str()).cloned()
        };
        if let Some(s) = stored {
            out.insert(h.clone(), s);
        }
    }
    Value::Object(out)
}

/// How one row ended.
enum RowResult {
    Created {
        code: String,
        sample: Option<Value>,
    },
    Updated {
        code: String,
        sample: Option<Value>,
    },
    /// Created as pending with its duplicate group queued (`review`).
    Review {
        code: String,
        detail: Value,
    },
    /// Merged into an existing customer (`merge`).
    Merged {
        code: String,
        sample: Option<Value>,
    },
    Skipped(Value),
    Rejected(Value),
}

/// A file being uploaded for import: written sealed (see [`crate::sealed`]) into
/// [`App::import_upload_dir`] as it arrives, and deleted when dropped unless handed to
/// its job by [`App::prepare_upload`] (so a refused form or file leaves nothing behind).
pub struct Upload {
    /// `None` once a job has the file.
    path: Option<PathBuf>,
    file: tokio::fs::File,
    /// `None` once the last frame is written.
    sealer: Option<crate::sealed::Sealer>,
    file_name: String,
}

impl Upload {
    /// Where the sealed file is (until its job has it).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Append received bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> AppResult<()> {
        use tokio::io::AsyncWriteExt;
        let sealer = self
            .sealer
            .as_mut()
            .ok_or_else(|| AppError::Internal("upload: written to after its end".into()))?;
        let sealed = sealer.push(bytes).map_err(upload_err)?;
        self.file.write_all(&sealed).await.map_err(upload_err)
    }

    /// Write the last frame; the file is complete.
    async fn finish(&mut self) -> AppResult<()> {
        use tokio::io::AsyncWriteExt;
        if let Some(sealer) = self.sealer.take() {
            let sealed = sealer.finish().map_err(upload_err)?;
            self.file.write_all(&sealed).await.map_err(upload_err)?;
        }
        self.file.flush().await.map_err(upload_err)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete upload");
                }
            }
        }
    }
}

fn upload_err(e: std::io::Error) -> AppError {
    AppError::Internal(format!("upload: {e}"))
}

impl App {
    /// Start receiving a file for import (`import`), named `file_name` by its sender.
    pub async fn start_upload(&self, actor: &Actor, file_name: &str) -> AppResult<Upload> {
        actor.require("import")?;
        let dir = self.import_upload_dir();
        custos_store::private_files::create_dir_all_async(&dir)
            .await
            .map_err(|e| AppError::Internal(format!("upload dir {}: {e}", dir.display())))?;
        let ext = if file_name.to_lowercase().ends_with(".xlsx") {
            "xlsx"
        } else {
            "csv"
        };
        let path = dir.join(format!(
            "{}-{:08x}.{ext}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            rand::random::<u32>()
        ));
        let file = custos_store::private_files::create_async(&path)
            .await
            .map_err(upload_err)?;
        Ok(Upload {
            path: Some(path),
            file,
            sealer: Some(crate::sealed::Sealer::new(&self.config.pii_key)),
            file_name: file_name.to_string(),
        })
    }

    /// [`App::prepare_import`] for an upload: the job owns the sealed file from now on and
    /// deletes it when it ends (done, failed, or a dry run); if the file is refused here
    /// it is deleted at once.
    pub async fn prepare_upload(
        &self,
        actor: &Actor,
        mut upload: Upload,
        mut options: ImportOptions,
    ) -> AppResult<PreparedImport> {
        upload.finish().await?;
        let path = upload.path.clone().unwrap_or_default();
        options.file_name = upload.file_name.clone();
        options.uploaded = true;
        let prepared = self.prepare_file(actor, &path, options).await?;
        upload.path = None;
        Ok(prepared)
    }

    /// Check the file and its columns and, unless a dry run, record a new job
    /// (`import` and `customer.create`). Problems with the file as a whole are returned
    /// here, before anything is written. The file is the caller's and stays where it is
    /// (`options.uploaded` is ignored: uploads go through [`App::prepare_upload`]).
    pub async fn prepare_import(
        &self,
        actor: &Actor,
        path: &Path,
        mut options: ImportOptions,
    ) -> AppResult<PreparedImport> {
        options.uploaded = false;
        self.prepare_file(actor, path, options).await
    }

    async fn prepare_file(
        &self,
        actor: &Actor,
        path: &Path,
        options: ImportOptions,
    ) -> AppResult<PreparedImport> {
        actor.require("import")?;
        let scope = actor.require("customer.create")?;
        match options.policy {
            DuplicatePolicy::Update => {
                actor.require("customer.update")?;
            }
            DuplicatePolicy::Merge => {
                actor.require("customer.update")?;
                actor.require("customer.merge")?;
            }
            DuplicatePolicy::Skip | DuplicatePolicy::Review => {}
        }
        check_options(&options)?;
        let (facts, table, map) = self.open_import(path, &options).await?;
        let mut job = ImportJobRow {
            status: "running".into(),
            file_name: options.file_name.clone(),
            file_sha256: facts.sha256.clone(),
            options: to_json(&StoredOptions {
                path: path.to_path_buf(),
                options: options.clone(),
                headers: table.headers.clone(),
            })
            .unwrap_or_default(),
            created_by: Some(actor.user_id),
            created_at: now_us(),
            ..Default::default()
        };
        if !options.dry_run {
            let mut tx = self.db.begin().await?;
            job.id = tx.insert_import_job(&job).await?;
            let mut r = record(actor, "import.start", "import_job", &job.id.to_string());
            r.after = to_json(&json!({
                "file": options.file_name, "sha256": facts.sha256, "policy": options.policy,
                "format": facts.format, "encoding": facts.encoding, "sheet": table.sheet,
                "delimiter": facts.encoding.map(|_| source::delimiter_name(facts.delimiter)),
                "unknown_columns": map.unknown(),
            }));
            append(&mut tx, r).await?;
            tx.commit().await?;
        }
        Ok(PreparedImport {
            path: path.to_path_buf(),
            options,
            facts,
            table,
            map,
            job,
            scope,
        })
    }

    async fn open_import(
        &self,
        path: &Path,
        options: &ImportOptions,
    ) -> AppResult<(source::FileFacts, source::Table, mapping::ColumnMap)> {
        let p = path.to_path_buf();
        let named_xlsx = [options.file_name.as_str(), &path.to_string_lossy()]
            .iter()
            .any(|n| n.to_ascii_lowercase().ends_with(".xlsx"));
        let format = options.format.or(named_xlsx.then_some(FileFormat::Xlsx));
        let encoding = options.encoding;
        let delimiter = options.delimiter;
        let key = self.config.pii_key.clone();
        let limits = self.config.import_limits;
        let facts = tokio::task::spawn_blocking(move || {
            source::inspect(&p, &key, format, encoding, delimiter, &limits)
        })
        .await
        .map_err(|e| AppError::Internal(format!("file check stopped: {e}")))??;
        let mut tx = self.db.begin_read().await?;
        let types = crate::customers::load_customer_types(&mut tx).await?;
        let custom = crate::fields::load_definitions(&mut tx).await?;
        tx.rollback().await?;
        let spec = options.mapping.clone();
        let known = {
            let (spec, custom) = (spec.clone(), custom.clone());
            move |h: &str| mapping::is_known_header(h, &spec, &custom)
        };
        let table = source::open_table(
            path,
            &self.config.pii_key,
            &facts,
            options.sheet.as_deref(),
            &self.config.import_limits,
            known,
        )
        .await?;
        let map = mapping::ColumnMap::new(table.headers.clone(), spec, types, custom)?;
        Ok((facts, table, map))
    }

    /// Run a prepared import to the end (or to the first failure of the database).
    pub async fn run_import(
        &self,
        actor: &Actor,
        prepared: PreparedImport,
        progress: &(dyn Fn(&ImportProgress) + Send + Sync),
    ) -> AppResult<ImportOutcome> {
        let PreparedImport {
            path,
            options,
            facts,
            mut table,
            map,
            mut job,
            scope,
            ..
        } = prepared;
        let mut rows = Vec::new();
        let result = self
            .process(
                actor, scope, &mut job, &mut table, &map, &options, &facts, &mut rows, progress,
            )
            .await;
        if let Err(e) = &result {
            if !options.dry_run && !matches!(e, AppError::Validation(_)) {
                // Leave the job resumable; record why it stopped.
                job.error = Some(e.to_string());
                if let Ok(mut tx) = self.db.begin().await {
                    if tx.update_import_progress(&job).await.is_ok() {
                        let _ = tx.commit().await;
                    }
                }
            }
        }
        if let Err(AppError::Validation(v)) = &result {
            // The file broke mid-way (malformed CSV line…): the job fails, committed rows stay.
            if !options.dry_run {
                job.status = "failed".into();
                job.error = v.first().map(|f| f.violation.en.clone());
                job.finished_at = Some(now_us());
                let mut tx = self.db.begin().await?;
                tx.update_import_progress(&job).await?;
                tx.commit().await?;
            }
        }
        if options.uploaded && (options.dry_run || job.status != "running") {
            // The job has ended: its upload is no longer needed (a job left running by a
            // database failure keeps it, to be resumed).
            remove_upload(&path).await;
        }
        result?;
        Ok(ImportOutcome {
            report: report_of(&job, &options, &facts, &table, &map),
            rows,
            headers: table.headers.clone(),
            header_line: table.header_line,
        })
    }

    /// Prepare and run in one call (the CLI).
    pub async fn import_file(
        &self,
        actor: &Actor,
        path: &Path,
        options: ImportOptions,
        progress: &(dyn Fn(&ImportProgress) + Send + Sync),
    ) -> AppResult<ImportOutcome> {
        let p = self.prepare_import(actor, path, options).await?;
        self.run_import(actor, p, progress).await
    }

    /// Continue a job that stopped (crash, kill -9) from its first uncommitted row.
    pub async fn resume_import(
        &self,
        actor: &Actor,
        job_id: i64,
        progress: &(dyn Fn(&ImportProgress) + Send + Sync),
    ) -> AppResult<ImportOutcome> {
        actor.require("import")?;
        let scope = actor.require("customer.create")?;
        let job = self.import_job_row(actor, job_id).await?;
        if job.status != "running" {
            return Err(AppError::Rejected(Violation::new(
                "import.not_resumable",
                format!("导入任务 #{job_id} 状态为 {}，不能继续", job.status),
                format!(
                    "import job #{job_id} is {} and cannot be resumed",
                    job.status
                ),
            )));
        }
        let stored: StoredOptions = serde_json::from_str(&job.options)
            .map_err(|e| AppError::Internal(format!("job options unreadable: {e}")))?;
        let (facts, table, map) = self.open_import(&stored.path, &stored.options).await?;
        if facts.sha256 != job.file_sha256 {
            return Err(AppError::Rejected(Violation::new(
                "import.file_changed",
                format!(
                    "文件 {} 在任务开始后被修改，不能继续",
                    stored.path.display()
                ),
                format!(
                    "file {} changed since the job started; it cannot be resumed",
                    stored.path.display()
                ),
            )));
        }
        let prepared = PreparedImport {
            path: stored.path,
            options: stored.options,
            facts,
            table,
            map,
            job,
            scope,
        };
        self.run_import(actor, prepared, progress).await
    }

    /// A job of the caller (or any job for a caller with the `import` permission on all
    /// data); others' jobs look missing.
    async fn import_job_row(&self, actor: &Actor, job_id: i64) -> AppResult<ImportJobRow> {
        let scope = actor.require("import")?;
        let mut tx = self.db.begin_read().await?;
        let job = tx.import_job(job_id).await?;
        tx.rollback().await?;
        match job {
            Some(j) if scope == Scope::All || j.created_by == Some(actor.user_id) => Ok(j),
            _ => Err(AppError::not_found("import_job", job_id)),
        }
    }

    /// Where uploaded import files are kept, sealed, while their jobs run (so they can
    /// be resumed): beside the SQLite database, or the temporary directory on PostgreSQL.
    pub fn import_upload_dir(&self) -> PathBuf {
        match self.db.sqlite_path().and_then(Path::parent) {
            Some(dir) => dir.join("imports"),
            None => std::env::temp_dir().join("custos-imports"),
        }
    }

    /// A job's rejected-and-skipped rows (`rejected`) or its sampling file (`sample`) as
    /// a CSV or XLSX file, built in memory: they hold the file's cells (personal data),
    /// which are never written to disk in plaintext.
    pub async fn import_report(
        &self,
        actor: &Actor,
        job_id: i64,
        kind: &str,
        format: report::ReportFormat,
    ) -> AppResult<Vec<u8>> {
        let headers = self.import_job_headers(actor, job_id).await?;
        let outcomes: &[&str] = match kind {
            "rejected" => &["rejected", "skipped"],
            "sample" => &["sampled"],
            other => {
                return Err(AppError::validation(
                    "kind",
                    Violation::new(
                        "import.report_kind",
                        format!("报告类型“{other}”不存在，可选 rejected、sample"),
                        format!("report kind '{other}' does not exist; use rejected or sample"),
                    ),
                ))
            }
        };
        let mut rows = Vec::new();
        for outcome in outcomes {
            let mut after = 0;
            loop {
                let page = self
                    .import_job_rows(actor, job_id, outcome, after, 5000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.row_no;
                rows.extend(page);
            }
        }
        rows.sort_by_key(|r| r.row_no);
        let sample = kind == "sample";
        tokio::task::spawn_blocking(move || {
            let mut w = report::TableWriter::in_memory(format)?;
            if sample {
                report::sample_table(&mut w, &headers, &rows)?;
            } else {
                report::rejected_table(&mut w, &headers, &rows)?;
            }
            w.finish()
        })
        .await
        .map_err(|e| AppError::Internal(format!("report task: {e}")))?
    }

    /// The empty import template (XLSX) for the current catalog (`import`).
    pub async fn import_template(&self, actor: &Actor) -> AppResult<Vec<u8>> {
        actor.require("import")?;
        let mut tx = self.db.begin_read().await?;
        let types = crate::customers::load_customer_types(&mut tx).await?;
        let custom = crate::fields::load_definitions(&mut tx).await?;
        tx.rollback().await?;
        report::template_xlsx(&types, &custom)
    }

    /// State and totals of a job.
    pub async fn import_job(&self, actor: &Actor, job_id: i64) -> AppResult<ImportReport> {
        let job = self.import_job_row(actor, job_id).await?;
        let stored: Option<StoredOptions> = serde_json::from_str(&job.options).ok();
        let options = stored.map(|s| s.options).unwrap_or_default();
        Ok(ImportReport {
            job_id: Some(job.id),
            status: job.status.clone(),
            dry_run: false,
            policy: options.policy,
            file_name: job.file_name.clone(),
            format: options
                .format
                .map(|f| match f {
                    FileFormat::Csv => "csv",
                    FileFormat::Xlsx => "xlsx",
                })
                .unwrap_or("")
                .to_string(),
            encoding: options.encoding.map(|e| e.as_str().to_string()),
            delimiter: options
                .delimiter
                .map(|c| source::delimiter_name(c as u8).to_string()),
            sheet: options.sheet,
            header_row: 0,
            columns: Vec::new(),
            unknown_columns: Vec::new(),
            read: job.rows_done,
            created: job.created,
            updated: job.updated,
            merged: job.merged,
            skipped: job.skipped,
            rejected: job.rejected,
            error: job.error,
            created_at: Some(format_time(job.created_at)),
            finished_at: job.finished_at.map(format_time),
        })
    }

    /// Reported rows of a job (`rejected`, `skipped` or `sampled`), in row order, a page
    /// at a time after `after_row`.
    pub async fn import_job_rows(
        &self,
        actor: &Actor,
        job_id: i64,
        outcome: &str,
        after_row: i64,
        limit: i64,
    ) -> AppResult<Vec<ReportedRow>> {
        self.import_job_row(actor, job_id).await?;
        let mut tx = self.db.begin_read().await?;
        let rows = tx.import_rows(job_id, outcome, after_row, limit).await?;
        tx.rollback().await?;
        rows.into_iter()
            .map(|r| reported(&self.config.pii_key, r))
            .collect()
    }

    /// Encrypt the cells and messages of reported rows stored in plaintext (by versions
    /// before they were encrypted), a thousand per transaction. Run at start-up, until a
    /// pass finds none (then a setting records it, and later start-ups skip the scan).
    pub async fn seal_import_rows(&self) -> AppResult<u64> {
        const DONE: &str = "import_rows_sealed";
        let key = &self.config.pii_key;
        let mut tx = self.db.begin_read().await?;
        let done = tx.setting(DONE).await?.is_some();
        tx.rollback().await?;
        if done {
            return Ok(0);
        }
        let mut sealed = 0;
        loop {
            let mut tx = self.db.begin().await?;
            let rows = tx.unsealed_import_rows(1000).await?;
            if rows.is_empty() {
                tx.put_setting(DONE, "1").await?;
                tx.commit().await?;
                break;
            }
            for r in &rows {
                let detail = r.detail.as_deref().map(|d| key.encrypt_plain(d));
                tx.seal_import_row(
                    r.job_id,
                    r.row_no,
                    &key.encrypt(&r.cells),
                    detail.as_deref(),
                )
                .await?;
            }
            tx.commit().await?;
            sealed += rows.len() as u64;
        }
        if sealed > 0 {
            tracing::info!(rows = sealed, "import report rows encrypted");
        }
        Ok(sealed)
    }

    /// The headers of a job's file (to write its reports): stored with the job, or read
    /// from the file for jobs of versions that did not store them.
    pub async fn import_job_headers(&self, actor: &Actor, job_id: i64) -> AppResult<Vec<String>> {
        let job = self.import_job_row(actor, job_id).await?;
        let stored: StoredOptions = serde_json::from_str(&job.options)
            .map_err(|e| AppError::Internal(format!("job options unreadable: {e}")))?;
        if !stored.headers.is_empty() {
            return Ok(stored.headers);
        }
        let (_, table, _) = self.open_import(&stored.path, &stored.options).await?;
        Ok(table.headers)
    }

    /// Bring the upload directory to what this version keeps there: only the sealed
    /// files of running jobs. Uploads that earlier versions kept in plaintext are sealed
    /// in place (running jobs) or deleted (ended jobs, after their headers are stored
    /// with the job for its reports); files of ended jobs (a crash between the end and
    /// the deletion) and plaintext files of no job are deleted. Run at start-up.
    /// Returns the files sealed and deleted.
    pub async fn tidy_import_uploads(&self) -> AppResult<(u64, u64)> {
        let dir = self.import_upload_dir();
        let files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(AppError::Internal(format!("{}: {e}", dir.display()))),
        };
        if files.is_empty() {
            return Ok((0, 0));
        }
        let mut tx = self.db.begin_read().await?;
        let jobs = tx.import_jobs(None, i64::MAX).await?;
        tx.rollback().await?;
        let mut by_path: HashMap<PathBuf, (ImportJobRow, StoredOptions)> = HashMap::new();
        for job in jobs {
            if let Ok(stored) = serde_json::from_str::<StoredOptions>(&job.options) {
                by_path.insert(stored.path.clone(), (job, stored));
            }
        }
        let key = self.config.pii_key.clone();
        let (mut sealed, mut deleted) = (0, 0);
        for path in files {
            let meta = std::fs::metadata(&path)
                .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
            let is_sealed = crate::sealed::is_sealed(&path)
                .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
            let Some((job, mut stored)) = by_path.remove(&path) else {
                // No job: a plaintext leftover is deleted. A sealed file is left alone:
                // it may be an upload on its way to its job, or another database's (on
                // PostgreSQL the directory is the machine's temporary one).
                if !is_sealed && meta.len() >= 16 {
                    remove_upload(&path).await;
                    deleted += 1;
                }
                continue;
            };
            // Jobs of earlier versions: mark the file as an upload (deleted when the job
            // ends) and keep its headers (its reports need them once the file is gone).
            let mut changed = !stored.options.uploaded;
            stored.options.uploaded = true;
            if stored.headers.is_empty() {
                if let Ok((_, table, _)) = self.open_import(&path, &stored.options).await {
                    stored.headers = table.headers;
                    changed = true;
                }
            }
            if changed {
                let text = to_json(&stored).unwrap_or_default();
                let mut tx = self.db.begin().await?;
                tx.set_import_job_options(job.id, &text).await?;
                tx.commit().await?;
            }
            if job.status != "running" {
                remove_upload(&path).await;
                deleted += 1;
            } else if !is_sealed {
                let (from, k) = (path.clone(), key.clone());
                tokio::task::spawn_blocking(move || crate::sealed::seal_file(&from, &from, &k))
                    .await
                    .map_err(|e| AppError::Internal(format!("sealing task: {e}")))?
                    .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
                sealed += 1;
            }
        }
        if sealed + deleted > 0 {
            tracing::info!(sealed, deleted, "import uploads tidied");
        }
        Ok((sealed, deleted))
    }

    #[allow(clippy::too_many_arguments)]
    async fn process(
        &self,
        actor: &Actor,
        scope: Scope,
        job: &mut ImportJobRow,
        table: &mut source::Table,
        map: &mapping::ColumnMap,
        options: &ImportOptions,
        facts: &source::FileFacts,
        memory: &mut Vec<ReportedRow>,
        progress: &(dyn Fn(&ImportProgress) + Send + Sync),
    ) -> AppResult<()> {
        let estimate = facts.approx_rows.saturating_sub(table.header_line);
        let mut seen: HashMap<u64, i64> = HashMap::new();
        let mut row_no: i64 = 0;
        // Resume: skip the committed rows, remembering the keys of those imported.
        if job.rows_done > 0 {
            let mut not_imported = HashSet::new();
            let mut tx = self.db.begin_read().await?;
            for outcome in ["rejected", "skipped"] {
                let mut after = 0;
                loop {
                    let page = tx.import_rows(job.id, outcome, after, 5000).await?;
                    let Some(last) = page.last() else { break };
                    after = last.row_no;
                    not_imported.extend(page.iter().map(|r| r.row_no));
                }
            }
            tx.rollback().await?;
            while row_no < job.rows_done {
                let Some(r) = table.rows.recv().await else {
                    break;
                };
                let r = r?;
                row_no += 1;
                if !not_imported.contains(&row_no) {
                    let (input, _) = map.to_input(&r.cells);
                    for k in row_keys(&input) {
                        seen.entry(k).or_insert(r.line as i64);
                    }
                }
            }
        }
        // New jobs are refused outside 1..=MAX_CHUNK_ROWS (`check_options`); a job stored
        // before that check (then clamped to 1..=10,000 here) may hold any value.
        let chunk_rows = options.chunk_rows.clamp(1, MAX_CHUNK_ROWS);
        let reveal = actor.can("customer.pii.read");
        // The next chunk is converted and checked (mapping, validation, matching
        // features: see `customers::Checked`) on a blocking thread while one is written.
        let job_id = job.id;
        let prepare_ahead = |(rows, error): (Vec<source::SourceRow>, Option<AppError>)| {
            let (app, actor, map) = (self.clone(), actor.clone(), map.clone());
            tokio::task::spawn_blocking(move || {
                let rows: Vec<PreparedRow> = rows
                    .into_iter()
                    .map(|r| PreparedRow::of(&app, &actor, &map, job_id, r))
                    .collect();
                (rows, error)
            })
        };
        self.settle_reference().await?;
        let mut pending = prepare_ahead(read_chunk(&mut table.rows, chunk_rows).await);
        loop {
            // A file that breaks mid-way (a malformed CSV line): the rows read before it
            // are still imported, then the job fails naming the line.
            let (chunk, mut source_error) = pending
                .await
                .map_err(|e| AppError::Internal(format!("import row preparation: {e}")))?;
            if chunk.is_empty() {
                match source_error.take() {
                    Some(e) => return Err(e),
                    None => break,
                }
            }
            let next = match source_error {
                None => read_chunk(&mut table.rows, chunk_rows).await,
                Some(_) => (Vec::new(), None),
            };
            pending = prepare_ahead(next);
            // Counters of a chunk that does not commit must not be kept.
            let committed = job.clone();
            let chunk_result: AppResult<()> = async {
                let started = std::time::Instant::now();
                let rows_in_chunk = chunk.len();
                let mut tx = self.db.begin().await?;
                let keys = chunk
                    .iter()
                    .filter_map(|r| r.converted.checked.as_ref())
                    .map(Checked::match_keys);
                let mut lookups =
                    Lookups::for_creations(&mut tx, chunk.len(), keys, Some(self)).await?;
                let read_ahead = started.elapsed();
                let mut reported_rows = Vec::new();
                for PreparedRow { row: r, converted } in chunk {
                    row_no += 1;
                    let result = self
                        .import_row(
                            &mut tx,
                            &mut lookups,
                            actor,
                            scope,
                            map,
                            options,
                            job.id,
                            row_no,
                            &r,
                            converted,
                            &mut seen,
                            reveal,
                        )
                        .await?;
                    let (outcome, code, detail) = match result {
                        RowResult::Created { code, sample } => {
                            job.created += 1;
                            match sample {
                                Some(s) => ("sampled", Some(code), s),
                                None => continue,
                            }
                        }
                        RowResult::Updated { code, sample } => {
                            job.updated += 1;
                            match sample {
                                Some(s) => ("sampled", Some(code), s),
                                None => continue,
                            }
                        }
                        RowResult::Review { code, detail } => {
                            job.created += 1;
                            ("review", Some(code), detail)
                        }
                        RowResult::Merged { code, sample } => {
                            job.merged += 1;
                            match sample {
                                Some(s) => ("sampled", Some(code), s),
                                None => continue,
                            }
                        }
                        RowResult::Skipped(d) => {
                            job.skipped += 1;
                            ("skipped", None, d)
                        }
                        RowResult::Rejected(d) => {
                            job.rejected += 1;
                            ("rejected", None, d)
                        }
                    };
                    reported_rows.push(ReportedRow {
                        row_no,
                        line: r.line,
                        outcome: outcome.to_string(),
                        code,
                        cells: r.cells,
                        detail,
                    });
                }
                job.rows_done = row_no;
                let rows_written = started.elapsed();
                if options.dry_run {
                    tx.rollback().await?;
                    memory.extend(reported_rows);
                } else {
                    for rr in &reported_rows {
                        let mut detail = rr.detail.clone();
                        if let Value::Object(m) = &mut detail {
                            m.insert("line".into(), json!(rr.line));
                        } else {
                            detail = json!({ "line": rr.line, "errors": detail });
                        }
                        // The source cells (and the messages, which may quote them)
                        // hold personal data as typed: stored encrypted.
                        let key = &self.config.pii_key;
                        tx.insert_import_row(&ImportRowRow {
                            job_id: job.id,
                            row_no: rr.row_no,
                            outcome: rr.outcome.clone(),
                            code: rr.code.clone(),
                            cells: key.encrypt(&mapping::cells_json(&rr.cells)),
                            detail: Some(key.encrypt(&detail.to_string())),
                        })
                        .await?;
                    }
                    tx.update_import_progress(job).await?;
                    tx.commit().await?;
                }
                tracing::debug!(
                    rows = rows_in_chunk,
                    read_ahead_ms = read_ahead.as_millis() as u64,
                    rows_ms = (rows_written - read_ahead).as_millis() as u64,
                    commit_ms = (started.elapsed() - rows_written).as_millis() as u64,
                    "import: chunk committed"
                );
                Ok(())
            }
            .await;
            if let Err(e) = chunk_result {
                *job = committed;
                return Err(e);
            }
            progress(&ImportProgress {
                rows_done: job.rows_done,
                rows_estimate: estimate,
                created: job.created,
                rejected: job.rejected,
            });
            if let Some(e) = source_error.take() {
                return Err(e);
            }
        }
        job.status = "done".into();
        job.finished_at = Some(now_us());
        if !options.dry_run {
            let mut tx = self.db.begin().await?;
            tx.update_import_progress(job).await?;
            let mut r = record(actor, "import.finish", "import_job", &job.id.to_string());
            r.after = to_json(&json!({
                "file": job.file_name, "read": job.rows_done, "created": job.created,
                "updated": job.updated, "merged": job.merged, "skipped": job.skipped,
                "rejected": job.rejected,
            }));
            append(&mut tx, r).await?;
            tx.commit().await?;
            let written = job.created + job.updated + job.merged;
            self.db.after_bulk_write(written.max(0) as u64).await;
        }
        Ok(())
    }

    /// One row in its own savepoint: created, updated, skipped or rejected. `Err` only
    /// for failures of the database (the chunk is abandoned; the job can be resumed).
    #[allow(clippy::too_many_arguments)]
    async fn import_row(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        actor: &Actor,
        scope: Scope,
        map: &mapping::ColumnMap,
        options: &ImportOptions,
        job_id: i64,
        row_no: i64,
        row: &source::SourceRow,
        converted: Converted,
        seen: &mut HashMap<u64, i64>,
        reveal: bool,
    ) -> AppResult<RowResult> {
        let Converted {
            input,
            conv_errors,
            checked,
        } = converted;
        if conv_errors.is_empty() {
            let keys = row_keys(&input);
            if let Some(first) = keys.iter().find_map(|k| seen.get(k)) {
                return Ok(RowResult::Skipped(json!({
                    "reason": "duplicate_in_file",
                    "duplicate_of_line": first,
                    "zh": format!("与文件第 {first} 行重复（统一社会信用代码、身份证号或规范化名称相同）"),
                    "en": format!("duplicates line {first} of the file (same USCC, ID number or normalised name)"),
                })));
            }
        }
        let keys = row_keys(&input);
        let xref = self.row_xref(map, &row.cells);
        if options.policy == DuplicatePolicy::Update && conv_errors.is_empty() {
            match self.existing_of(tx, actor, map, &row.cells, &xref).await? {
                Existing::None => {}
                Existing::Missing(e) => {
                    return Ok(RowResult::Rejected(field_errors_json(map, &[e])));
                }
                Existing::Found(ex) => {
                    let mut patch = patch_of(input, ex.row_version);
                    if actor.require("customer.update")? != Scope::All {
                        // Owner changes stay with the single update's scope rules.
                        patch.owner_id = None;
                        patch.department_id = None;
                    }
                    tx.savepoint().await?;
                    let updated = self
                        .update_customer_in(tx, actor, &ex.code, &patch, "update")
                        .await
                        .and_then(|r| view_of(&r, &self.config.pii_key, reveal));
                    return match updated {
                        Ok(view) => {
                            let sample = sampled(job_id, row_no, options.sample_rate)
                                .then(|| json!({ "stored": stored_values(&view, map) }));
                            tx.release_savepoint().await?;
                            for k in keys {
                                seen.entry(k).or_insert(row.line as i64);
                            }
                            Ok(RowResult::Updated {
                                code: view.code,
                                sample,
                            })
                        }
                        Err(e) => {
                            let e = row_failure(e)?;
                            tx.rollback_to_savepoint().await?;
                            Ok(RowResult::Rejected(field_errors_json(map, &e)))
                        }
                    };
                }
            }
        }
        tx.savepoint().await?;
        let mut out = self
            .insert_new_customer_excluding(tx, lookups, actor, scope, input.clone(), checked, &[])
            .await
            .map(|(r, _, _)| r);
        let mut queued: Option<Value> = None;
        if let (true, Err(AppError::Duplicate { report, .. })) = (conv_errors.is_empty(), &out) {
            let report = (**report).clone();
            tx.rollback_to_savepoint().await?;
            match options.policy {
                DuplicatePolicy::Skip | DuplicatePolicy::Update => {
                    let (zh, en) = candidate_codes(&report);
                    return Ok(RowResult::Skipped(json!({
                        "reason": "duplicate_in_database",
                        "candidates": report.summary(),
                        "zh": format!("与已有客户重复（{zh}），已跳过"),
                        "en": format!("duplicates existing customer(s) {en}; skipped"),
                    })));
                }
                DuplicatePolicy::Merge => {
                    return self
                        .merge_row(
                            tx, actor, map, input, &report, options, job_id, row_no, reveal,
                        )
                        .await;
                }
                DuplicatePolicy::Review => {
                    // The policy creates the record as pending for a steward to decide;
                    // the import may override the duplicate block for that alone.
                    tx.savepoint().await?;
                    let mut reviewer = actor.clone();
                    reviewer
                        .permissions
                        .entry("duplicate.manage".into())
                        .or_insert(scope);
                    let pending = NewCustomer {
                        status: Some("pending".into()),
                        override_duplicates: true,
                        ..input
                    };
                    out = self
                        .insert_new_customer(tx, lookups, &reviewer, scope, pending)
                        .await
                        .map(|(r, _, _)| r);
                    if let Ok(crow) = &out {
                        let group = self.queue_import_group(tx, crow, &report).await?;
                        let (zh, en) = candidate_codes(&report);
                        queued = Some(json!({
                            "reason": "duplicate_review",
                            "group_id": group,
                            "candidates": report.summary(),
                            "zh": format!("疑似与已有客户重复（{zh}），已创建为待审核并加入查重审核队列"),
                            "en": format!("looks like existing customer(s) {en}; created as pending and queued for review"),
                        }));
                    }
                }
            }
        }
        if let (Ok(crow), Some((system, source_id))) = (&out, &xref) {
            if let Err(e) = self
                .put_import_xref(tx, actor, crow, system, source_id)
                .await
            {
                out = Err(e);
            }
        }
        if let (Ok(crow), Some(detail), true) = (&out, &queued, conv_errors.is_empty()) {
            tx.release_savepoint().await?;
            for k in keys {
                seen.entry(k).or_insert(row.line as i64);
            }
            return Ok(RowResult::Review {
                code: crow.code.clone(),
                detail: detail.clone(),
            });
        }
        match out {
            Ok(crow) if conv_errors.is_empty() => {
                let sample = if sampled(job_id, row_no, options.sample_rate) {
                    let view = view_of(&crow, &self.config.pii_key, reveal)?;
                    Some(json!({ "stored": stored_values(&view, map) }))
                } else {
                    None
                };
                tx.release_savepoint().await?;
                for k in keys {
                    seen.entry(k).or_insert(row.line as i64);
                }
                Ok(RowResult::Created {
                    code: crow.code,
                    sample,
                })
            }
            Ok(_) => {
                tx.rollback_to_savepoint().await?;
                Ok(RowResult::Rejected(field_errors_json(map, &conv_errors)))
            }
            Err(AppError::Validation(errs)) => {
                tx.rollback_to_savepoint().await?;
                let mut all = conv_errors;
                all.extend(errs);
                Ok(RowResult::Rejected(field_errors_json(map, &all)))
            }
            Err(e @ AppError::Internal(_)) => Err(e),
            Err(AppError::Conflict(v)) if v.code == "conflict.concurrent" => {
                Err(AppError::Conflict(v))
            }
            Err(e) => {
                tx.rollback_to_savepoint().await?;
                let mut all = conv_errors;
                all.push(row_error(&e));
                Ok(RowResult::Rejected(field_errors_json(map, &all)))
            }
        }
    }
}

enum Existing {
    None,
    Found(Box<CustomerRow>),
    Missing(FieldError),
}

/// Field errors of a failed row; `Err` for failures of the database.
fn row_failure(e: AppError) -> AppResult<Vec<FieldError>> {
    match e {
        AppError::Validation(errs) => Ok(errs),
        e @ AppError::Internal(_) => Err(e),
        AppError::Conflict(v) if v.code == "conflict.concurrent" => Err(AppError::Conflict(v)),
        e => Ok(vec![row_error(&e)]),
    }
}

/// A change carrying the row's non-empty values (empty cells leave fields as they are).
fn patch_of(n: NewCustomer, version: i64) -> CustomerPatch {
    let some = |v: Option<String>| v.map(Some);
    CustomerPatch {
        version,
        override_duplicates: false,
        reason: n.reason,
        customer_type: Some(n.customer_type).filter(|s| !s.is_empty()),
        name: Some(n.name).filter(|s| !s.is_empty()),
        short_name: some(n.short_name),
        former_names: Some(n.former_names).filter(|v| !v.is_empty()),
        uscc: some(n.uscc),
        id_number: some(n.id_number),
        legal_representative: some(n.legal_representative),
        established_on: some(n.established_on),
        registered_capital: n.registered_capital.map(Some),
        industry: some(n.industry),
        scale: some(n.scale),
        level: some(n.level),
        source: some(n.source),
        region_code: some(n.region_code),
        address: some(n.address),
        postal_code: some(n.postal_code),
        phone: some(n.phone),
        mobile: some(n.mobile),
        email: some(n.email),
        website: some(n.website),
        owner_id: n.owner_id,
        department_id: n.department_id.map(Some),
        status: n.status,
        tags: Some(n.tags).filter(|v| !v.is_empty()),
        credit_rating: some(n.credit_rating),
        remarks: some(n.remarks),
        contacts: Some(n.contacts).filter(|v| !v.is_empty()),
        custom: Some(n.custom).filter(|m| !m.is_empty()),
    }
}

impl App {
    /// Whether the actor's `customer.update` scope covers this customer (the update use
    /// case inside a transaction leaves that decision to its caller).
    async fn may_update(&self, tx: &mut Tx, actor: &Actor, row: &CustomerRow) -> AppResult<bool> {
        match actor.require("customer.update") {
            Ok(scope) => crate::customers::in_scope(tx, actor, scope, row).await,
            Err(_) => Ok(false),
        }
    }

    /// The source system and id of a row, when it has both.
    fn row_xref(&self, map: &mapping::ColumnMap, cells: &[String]) -> Option<(String, String)> {
        let id = map.value(cells, "source_id")?;
        let system = map
            .value(cells, "source_system")
            .or_else(|| map.spec.source_system.clone())?;
        Some((system, id))
    }

    /// The customer a row updates: by code, else by source-system id.
    async fn existing_of(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        map: &mapping::ColumnMap,
        cells: &[String],
        xref: &Option<(String, String)>,
    ) -> AppResult<Existing> {
        if let Some(code) = map.value(cells, "code") {
            let code = code.trim().to_ascii_uppercase();
            let found = match tx.customer_by_code(&code).await? {
                Some(r) if self.may_update(tx, actor, &r).await? => Some(r),
                _ => None,
            };
            return Ok(match found {
                Some(r) => Existing::Found(Box::new(r)),
                None => Existing::Missing(
                    Violation::new(
                        "customer.not_found",
                        format!("客户编码“{code}”不存在，无法更新"),
                        format!("customer code '{code}' does not exist; nothing to update"),
                    )
                    .on("code"),
                ),
            });
        }
        if let Some((system, id)) = xref {
            let (Ok(system), Ok(id)) = (check_system(system), check_source_id(id)) else {
                return Ok(Existing::None);
            };
            if let Some(x) = tx.xref_by_source(&system, &id).await? {
                if let Some(r) = tx.customer(x.customer_id).await? {
                    if self.may_update(tx, actor, &r).await? {
                        return Ok(Existing::Found(Box::new(r)));
                    }
                }
            }
        }
        Ok(Existing::None)
    }

    /// Record the row's source-system id for a customer it created (same checks and
    /// audit as `put_xref`).
    async fn put_import_xref(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
        system: &str,
        source_id: &str,
    ) -> AppResult<()> {
        let system = check_system(system).map_err(|e| tag_field(e, "source_system"))?;
        let source_id = check_source_id(source_id).map_err(|e| tag_field(e, "source_id"))?;
        let taken = || {
            AppError::validation(
                "source_id",
                Violation::new(
                    "xref.taken",
                    format!("系统“{system}”的编号“{source_id}”已对应其他客户"),
                    format!(
                        "'{source_id}' of system '{system}' already belongs to another customer"
                    ),
                ),
            )
        };
        if tx.xref_by_source(&system, &source_id).await?.is_some() {
            return Err(taken());
        }
        let x = XrefRow {
            customer_id: row.id,
            system: system.clone(),
            source_id: source_id.clone(),
            created_at: now_us(),
            created_by: Some(actor.user_id),
        };
        match tx.put_xref(&x).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => return Err(taken()),
            Err(e) => return Err(e.into()),
        }
        let mut r = record(actor, "customer.xref_put", "customer", &row.code);
        r.after = to_json(&json!({"system": system, "source_id": source_id}));
        append(tx, r).await?;
        Ok(())
    }
}

/// The definite candidates' codes (and the out-of-scope notice) in Chinese and English.
fn candidate_codes(report: &DuplicateReport) -> (String, String) {
    report.definite_codes()
}

/// A fill-in change by survivorship: the existing customer's values win; the row only
/// fills what it lacks, adds its name as a former name and unites tags.
fn fill_patch(existing: &CustomerView, row: NewCustomer) -> CustomerPatch {
    let mut p = patch_of(row.clone(), existing.version);
    macro_rules! keep_existing {
        ($($f:ident),*) => { $( if existing.$f.is_some() { p.$f = None; } )* };
    }
    with_optional_fields!(keep_existing);
    p.customer_type = None;
    p.name = None;
    p.status = None;
    p.owner_id = None;
    p.department_id = None;
    let name = row.name.trim().to_string();
    p.former_names = (!name.is_empty()
        && name != existing.name
        && !existing.former_names.contains(&name))
    .then(|| {
        let mut f = existing.former_names.clone();
        f.push(name);
        f
    });
    p.tags = p.tags.map(|t| {
        let mut all = existing.tags.clone();
        all.extend(t.into_iter().filter(|x| !existing.tags.contains(x)));
        all
    });
    if !existing.contacts.is_empty() {
        p.contacts = None;
    }
    p.custom = p.custom.map(|m| {
        m.into_iter()
            .filter(|(k, _)| !existing.custom.contains_key(k))
            .collect()
    });
    p
}

impl App {
    /// `merge`: fill the best definite in-scope candidate from the row (survivorship),
    /// through the update use case.
    #[allow(clippy::too_many_arguments)]
    async fn merge_row(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        map: &mapping::ColumnMap,
        input: NewCustomer,
        report: &DuplicateReport,
        options: &ImportOptions,
        job_id: i64,
        row_no: i64,
        reveal: bool,
    ) -> AppResult<RowResult> {
        let target = report
            .candidates
            .iter()
            .find(|c| c.verdict == "definite")
            .map(|c| c.code.clone());
        let Some(code) = target else {
            return Ok(RowResult::Skipped(json!({
                "reason": "duplicate_out_of_scope",
                "candidates": report.summary(),
                "zh": "与已有客户重复，但该客户不在您的数据范围内，无法合并，已跳过",
                "en": "duplicates an existing customer outside your data scope; cannot merge, skipped",
            })));
        };
        let Some(row) = tx.customer_by_code(&code).await? else {
            return Err(AppError::Internal(format!("candidate {code} vanished")));
        };
        let existing = view_of(&row, &self.config.pii_key, false)?;
        let mut patch = fill_patch(&existing, input);
        patch.reason = Some(match job_id {
            0 => format!("导入试运行合并 / import dry run merge (row {row_no})"),
            id => format!("导入任务 #{id} 合并 / merged by import job #{id} (row {row_no})"),
        });
        tx.savepoint().await?;
        if !self.may_update(tx, actor, &row).await? {
            return Ok(RowResult::Skipped(json!({
                "reason": "duplicate_out_of_scope",
                "candidates": report.summary(),
                "zh": "与已有客户重复，但您无权修改该客户，无法合并，已跳过",
                "en": "duplicates an existing customer you may not change; cannot merge, skipped",
            })));
        }
        let updated = self
            .update_customer_in(tx, actor, &code, &patch, "update")
            .await
            .and_then(|r| view_of(&r, &self.config.pii_key, reveal));
        match updated {
            Ok(view) => {
                let sample = sampled(job_id, row_no, options.sample_rate).then(|| {
                    let v = if reveal { view_of(&row, &self.config.pii_key, true).ok() } else { None };
                    json!({ "stored": stored_values(v.as_ref().unwrap_or(&view), map), "merged_into": code })
                });
                tx.release_savepoint().await?;
                Ok(RowResult::Merged {
                    code: view.code,
                    sample,
                })
            }
            Err(e) => {
                let e = row_failure(e)?;
                tx.rollback_to_savepoint().await?;
                Ok(RowResult::Rejected(field_errors_json(map, &e)))
            }
        }
    }

    /// Queue a duplicate group of the new pending customer and its candidates.
    async fn queue_import_group(
        &self,
        tx: &mut Tx,
        created: &CustomerRow,
        report: &DuplicateReport,
    ) -> AppResult<Option<i64>> {
        let mut members = vec![created.id];
        let mut pairs = Vec::new();
        for c in &report.candidates {
            if let Some(r) = tx.customer_by_code(&c.code).await? {
                members.push(r.id);
                pairs.push((created.id, r.id, (c.score * 1000.0).round() / 1000.0));
            }
        }
        members.sort_unstable();
        members.dedup();
        let score = pairs.iter().map(|p| p.2).fold(0.0, f64::max);
        let row = DuplicateGroupRow {
            id: 0,
            status: "open".into(),
            fingerprint: members
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            score,
            pairs: serde_json::to_string(&pairs).unwrap_or_default(),
            scan_id: None,
            created_at: now_us(),
            decided_at: None,
            decided_by: None,
            decision_reason: None,
            merge_id: None,
        };
        Ok(tx.insert_duplicate_group(&row, &members).await?)
    }
}

fn tag_field(e: AppError, field: &str) -> AppError {
    match e {
        AppError::Validation(v) => AppError::Validation(
            v.into_iter()
                .map(|f| FieldError {
                    field: field.to_string(),
                    violation: f.violation,
                })
                .collect(),
        ),
        other => other,
    }
}

/// A stored reported row, decrypted (rows stored before their columns were encrypted are
/// read as they are).
fn reported(key: &crate::pii::PiiKey, r: ImportRowRow) -> AppResult<ReportedRow> {
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

fn check_options(o: &ImportOptions) -> AppResult<()> {
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

/// A row as read, with its conversion done ahead of its transaction.
struct PreparedRow {
    row: source::SourceRow,
    converted: Converted,
}

/// A row converted to a creation (mapping, value maps, the import's reason), the
/// problems found converting it, and the creation's checked work when the row is valid.
struct Converted {
    input: NewCustomer,
    conv_errors: Vec<FieldError>,
    checked: Option<Checked>,
}

impl PreparedRow {
    fn of(
        app: &App,
        actor: &Actor,
        map: &mapping::ColumnMap,
        job_id: i64,
        row: source::SourceRow,
    ) -> PreparedRow {
        let (mut input, conv_errors) = map.to_input(&row.cells);
        input.reason = Some(match job_id {
            0 => format!(
                "导入试运行 第 {} 行 / import dry run, line {}",
                row.line, row.line
            ),
            id => format!(
                "导入任务 #{id} 第 {} 行 / import job #{id}, line {}",
                row.line, row.line
            ),
        });
        let checked = if conv_errors.is_empty() {
            app.check_new(actor, &input)
        } else {
            None
        };
        PreparedRow {
            row,
            converted: Converted {
                input,
                conv_errors,
                checked,
            },
        }
    }
}

/// Up to `n` rows from the source, and the error that ended it early, if any.
async fn read_chunk(
    rows: &mut tokio::sync::mpsc::Receiver<AppResult<source::SourceRow>>,
    n: usize,
) -> (Vec<source::SourceRow>, Option<AppError>) {
    let mut chunk = Vec::with_capacity(n);
    while chunk.len() < n {
        match rows.recv().await {
            Some(Ok(r)) => chunk.push(r),
            Some(Err(e)) => return (chunk, Some(e)),
            None => break,
        }
    }
    (chunk, None)
}
