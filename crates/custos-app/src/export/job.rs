//! Export jobs (异步导出): an export of any size that runs in the background as the user who
//! asked for it, with its state, progress and file kept in `export_jobs`.
//!
//! Life of a job: `queued` (submitted) → `running` → `done` (file kept until `expires_at`)
//! → `expired` (file deleted, by the sweep or `DELETE`); or `failed` with the reason and no
//! file; or `cancelled` (`DELETE` before it finished: its runner stops, deletes what it
//! wrote and never makes it `done`, so nothing of it can be downloaded). While a job runs its heartbeat is refreshed; a job whose heartbeat stopped (its
//! server crashed or was stopped) is marked `failed` by the sweep that every server runs
//! at start and then every minute. Jobs are not re-run: the requester submits again.
//!
//! The file holds what the user downloads, personal data unmasked when the requester may
//! read it, so it is written sealed (`crate::sealed`) and decrypted as it is downloaded:
//! the exports directory holds no plaintext. The job's `byte_size` and `sha256` are those
//! of the plaintext, taken as it is written. Files left in plaintext by earlier versions
//! are still served as they are until they expire.
//!
//! Who sees a job: its requester; and a caller who could have produced the same file —
//! `export` and `customer.read` on all data, plus `customer.pii.read` when the file holds
//! unmasked personal data. Anyone else gets 404, as if the job did not exist.

use crate::export::Exports;
use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use custos_core::violation::Lang;
use custos_core::Violation;
use custos_store::exports::{ExportDone, ExportJobFilter, ExportJobRow};
use custos_store::now_us;

use super::{export_audit, filter_json, ExportFormat, ExportOptions, ExportProgress};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;
use crate::sealed::{is_sealed, part_path, Digesting, ReadSeek, SealedReader, SealedWriter};
use crate::search::CustomerQuery;
use crate::{to_json, App};

/// How often a running job may write its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// A running job refreshes its heartbeat at least this often, progress or not.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// A queued or running job whose heartbeat is older than this has lost its server.
pub const EXPORT_STALE_AFTER: Duration = Duration::from_secs(120);
/// How often `custos serve` sweeps stale and expired jobs.
pub const EXPORT_SWEEP_EVERY: Duration = Duration::from_secs(60);

const STOPPED_ZH: &str = "服务器在导出完成前停止，请重新提交导出";
const STOPPED_EN: &str = "the server stopped before the export finished; submit it again";

/// The filters of an export job: the keys of `GET /api/v1/customers` (without paging),
/// custom fields as an object (`{"custom": {"channel": "电商"}}`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportFilter {
    /// Code prefix.
    pub code: Option<String>,
    /// Name contains this text.
    pub name: Option<String>,
    /// Customer type.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub customer_type: Option<String>,
    /// Region code prefix: `11` is all of Beijing, `4403` Shenzhen.
    pub region: Option<String>,
    pub industry: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    /// Owner user id.
    pub owner: Option<i64>,
    /// Department id.
    pub department: Option<i64>,
    pub tag: Option<String>,
    /// Exact ID number.
    pub id_number: Option<String>,
    /// Exact mobile of the customer or a contact.
    pub mobile: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// RFC 3339 lower bound (inclusive) of the creation time.
    pub created_from: Option<String>,
    /// RFC 3339 upper bound (exclusive).
    pub created_to: Option<String>,
    pub updated_from: Option<String>,
    pub updated_to: Option<String>,
    /// `id` (default), `code`, `name`, `created_at`, `updated_at`; prefix `-` for descending.
    pub sort: Option<String>,
    /// Custom-field equality: field key → value.
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
}

impl ExportFilter {
    /// The filters of a list's query (paging, ranking and `fuzzy` are not filters).
    pub fn from_query(q: &CustomerQuery) -> ExportFilter {
        ExportFilter {
            code: q.code.clone(),
            name: q.name.clone(),
            customer_type: q.customer_type.clone(),
            region: q.region.clone(),
            industry: q.industry.clone(),
            status: q.status.clone(),
            level: q.level.clone(),
            owner: q.owner,
            department: q.department,
            tag: q.tag.clone(),
            id_number: q.id_number.clone(),
            mobile: q.mobile.clone(),
            phone: q.phone.clone(),
            email: q.email.clone(),
            created_from: q.created_from.clone(),
            created_to: q.created_to.clone(),
            updated_from: q.updated_from.clone(),
            updated_to: q.updated_to.clone(),
            sort: q.sort.clone(),
            custom: q.custom.iter().cloned().collect(),
        }
    }

    pub fn to_query(&self) -> CustomerQuery {
        CustomerQuery {
            code: self.code.clone(),
            name: self.name.clone(),
            customer_type: self.customer_type.clone(),
            region: self.region.clone(),
            industry: self.industry.clone(),
            status: self.status.clone(),
            level: self.level.clone(),
            owner: self.owner,
            department: self.department,
            tag: self.tag.clone(),
            id_number: self.id_number.clone(),
            mobile: self.mobile.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            created_from: self.created_from.clone(),
            created_to: self.created_to.clone(),
            updated_from: self.updated_from.clone(),
            updated_to: self.updated_to.clone(),
            sort: self.sort.clone(),
            custom: self
                .custom
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }
}

/// Body of `POST /api/v1/exports`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `csv` (default), `xlsx` or `jsonl`.
    pub format: Option<String>,
    /// CSV in GB18030/GBK for older Excel (CSV only: refused with another format).
    pub gbk: Option<bool>,
    /// Search filters; absent: every customer in the caller's data scope.
    pub filter: Option<ExportFilter>,
}

/// An export job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportJob {
    pub id: i64,
    /// `queued`, `running`, `done`, `failed`, `expired` (file deleted) or `cancelled`
    /// (deleted before it finished).
    pub status: String,
    /// User id of the requester.
    pub requested_by: i64,
    pub requested_by_name: String,
    /// `csv`, `xlsx` or `jsonl`.
    pub format: String,
    pub gbk: bool,
    /// The search filters.
    #[schema(value_type = Object)]
    pub filter: Value,
    /// The file holds unmasked personal data (the requester may read it).
    pub pii_revealed: bool,
    /// Customers written so far (advanced page by page).
    pub rows_done: i64,
    /// Customers in the file, once done.
    pub total_rows: Option<i64>,
    /// Why the job failed.
    pub error: Option<String>,
    /// Name of the download.
    pub file_name: String,
    pub byte_size: Option<i64>,
    /// SHA-256 of the file (hex), once done.
    pub sha256: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When the file is deleted (a finished job: finish time + the configured retention).
    pub expires_at: String,
}

impl From<ExportJobRow> for ExportJob {
    fn from(j: ExportJobRow) -> Self {
        ExportJob {
            id: j.id,
            status: j.status,
            requested_by: j.requested_by,
            requested_by_name: j.requested_by_name,
            format: j.format,
            gbk: j.gbk,
            filter: serde_json::from_str(&j.filter).unwrap_or(Value::Null),
            pii_revealed: j.pii_revealed,
            rows_done: j.rows_done,
            total_rows: j.total_rows,
            error: j.error,
            file_name: j.file_name,
            byte_size: j.byte_size,
            sha256: j.sha256,
            created_at: format_time(j.created_at),
            started_at: j.started_at.map(format_time),
            finished_at: j.finished_at.map(format_time),
            expires_at: format_time(j.expires_at),
        }
    }
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportJobPage {
    pub items: Vec<ExportJob>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A submitted job, handed to [`Exports::run_export_job`] (normally in a spawned task).
#[derive(Debug)]
pub struct QueuedExport {
    id: i64,
    query: CustomerQuery,
    options: ExportOptions,
}

impl QueuedExport {
    pub fn id(&self) -> i64 {
        self.id
    }
}

/// The finished file of a job, opened for reading: `reader` gives the plaintext the user
/// downloads (decrypted frame by frame from the sealed file; read it off the async
/// threads), `byte_size` bytes long.
pub struct ExportFile {
    pub reader: Box<dyn ReadSeek>,
    pub file_name: String,
    pub content_type: &'static str,
    pub byte_size: u64,
    pub sha256: Option<String>,
}

impl std::fmt::Debug for ExportFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportFile")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("byte_size", &self.byte_size)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// A job's file as written: customers, and the plaintext's size and SHA-256 (hex).
struct WrittenExport {
    rows: u64,
    size: u64,
    sha256: String,
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSweep {
    /// Jobs marked `failed` because their server stopped.
    pub failed: usize,
    /// Finished jobs whose file was deleted at expiry.
    pub expired: usize,
}

fn content_type(j: &ExportJobRow) -> &'static str {
    match ExportFormat::parse(&j.format).ok() {
        Some(format) => ExportOptions { format, gbk: j.gbk }.content_type(),
        None => "application/octet-stream",
    }
}

/// May `actor` see other users' jobs whose file holds (`pii`) or lacks personal data?
fn sees_others(actor: &Actor, pii: bool) -> bool {
    actor.permissions.get("export") == Some(&Scope::All)
        && actor.permissions.get("customer.read") == Some(&Scope::All)
        && (!pii || actor.can("customer.pii.read"))
}

fn visible(actor: &Actor, j: &ExportJobRow) -> bool {
    j.requested_by == actor.user_id || sees_others(actor, j.pii_revealed)
}

/// Text kept in `error`: the reason in both languages; internal causes are logged (by
/// the caller), not shown (the requester sees the job id to quote).
fn failure_text(id: i64, e: &AppError) -> String {
    match e {
        AppError::Internal(_) => {
            format!(
                "导出失败：服务器内部错误（导出任务 #{id}，详见服务器日志） / \
                 export failed: internal error (export job #{id}, see the server log)"
            )
        }
        AppError::Validation(fields) => fields
            .iter()
            .map(|f| format!("{}: {} / {}", f.field, f.violation.zh, f.violation.en))
            .collect::<Vec<_>>()
            .join("; "),
        other => format!("{} / {}", other.detail(Lang::Zh), other.detail(Lang::En)),
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> AppError {
    AppError::Internal(format!("{what} {}: {e}", path.display()))
}

/// Open a job's file for reading its plaintext: sealed (as this version writes them),
/// or plain (left by an earlier version, until it expires). A sealed file is read through
/// once first, so that a damaged one fails here, before a download starts, rather than
/// part-way through it (every frame is authenticated). Returns the reader at the start
/// and the plaintext length. Blocking: run it off the async threads.
fn open_plaintext(path: &Path, key: &PiiKey) -> std::io::Result<(Box<dyn ReadSeek>, u64)> {
    if !is_sealed(path)? {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        return Ok((Box::new(file), len));
    }
    let mut reader = SealedReader::open(path, &key.file_key_for(path)?)?;
    std::io::copy(&mut reader, &mut std::io::sink())?;
    reader.seek(SeekFrom::Start(0))?;
    let len = reader.plain_len();
    Ok((Box::new(reader), len))
}

/// Remove a file that may not exist; other failures are logged (a sweep retries nothing,
/// so a file left behind is at worst disk space, never served: its job is not `done`).
async fn remove_file(path: &Path) {
    crate::sealed::remove_kept_file(path, "export file").await
}

impl Exports<'_> {
    /// Where export jobs write their files (see [`crate::AppConfig::exports_dir`]).
    pub fn exports_dir(&self) -> PathBuf {
        if let Some(d) = &self.app.config.exports_dir {
            return d.clone();
        }
        match self.app.db.sqlite_path().and_then(Path::parent) {
            Some(dir) => dir.join("exports"),
            None => std::env::temp_dir().join("custos-exports"),
        }
    }

    /// Queue an export (`export` and `customer.read`). Format, GBK and every filter are
    /// checked now (422 naming the field, `filter.<key>` for filters), so a job fails
    /// only for reasons that arise while it runs. Run the returned job with
    /// [`Exports::run_export_job`]; it runs as `actor`, with the scope and PII permission the
    /// actor has now.
    pub async fn submit_export(
        &self,
        actor: &Actor,
        req: impl Into<crate::input::Input<ExportRequest>>,
    ) -> AppResult<(ExportJob, QueuedExport)> {
        actor.require("export")?;
        actor.require("customer.read")?;
        let req = req.into().get()?;
        let format = ExportFormat::parse(req.format.as_deref().unwrap_or("csv"))?;
        let options = ExportOptions::checked(format, req.gbk.unwrap_or(false))?;
        let query = req.filter.unwrap_or_default().to_query();
        // The search checks every filter; one row is enough to learn that they are valid.
        let probe = CustomerQuery {
            limit: Some(1),
            ..query.clone()
        };
        if let Err(e) = self.app.customers().search_customers(actor, probe).await {
            return Err(match e {
                AppError::Validation(fields) => AppError::Validation(
                    fields
                        .into_iter()
                        .map(|mut f| {
                            f.field = format!("filter.{}", f.field);
                            f
                        })
                        .collect(),
                ),
                other => other,
            });
        }
        let now = now_us();
        let row = ExportJobRow {
            status: "queued".into(),
            requested_by: actor.user_id,
            requested_by_name: actor.username.clone(),
            format: format.extension().into(),
            gbk: options.gbk,
            filter: to_json(&filter_json(&query)).unwrap_or_else(|| "{}".into()),
            pii_revealed: actor.can("customer.pii.read"),
            created_at: now,
            heartbeat_at: now,
            expires_at: now + self.export_ttl_us(),
            ..Default::default()
        };
        let mut tx = self.app.db.begin().await?;
        let id = tx.insert_export_job(&row).await?;
        let file_name = format!("customers-{id}.{}", format.extension());
        tx.set_export_file_name(id, &file_name).await?;
        let job = tx
            .export_job(id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("export job {id} vanished")))?;
        tx.commit().await?;
        Ok((job.into(), QueuedExport { id, query, options }))
    }

    fn export_ttl_us(&self) -> i64 {
        i64::try_from(self.app.config.export_ttl.as_micros()).unwrap_or(i64::MAX / 2)
    }

    /// Run a submitted job to its end: the file is written sealed under a temporary name
    /// and appears under its final name only when complete; the job becomes `done` with the
    /// row count, size and SHA-256 in the same transaction as the export's audit entry.
    /// Any failure leaves the job `failed` with the reason, and no file. The error is
    /// also returned (for the log).
    pub async fn run_export_job(&self, actor: &Actor, job: QueuedExport) -> AppResult<()> {
        let id = job.id;
        let Err(e) = self.run_export_inner(actor, job).await else {
            return Ok(());
        };
        let text = failure_text(id, &e);
        let mut tx = self.app.db.begin().await?;
        let failed = tx.fail_export_job(id, &text, now_us()).await?;
        tx.commit().await?;
        if !failed {
            // The job had ended already: deleted (cancelled) or failed by a sweep while it
            // ran. What stopped the run — the stop flag, its file removed under it — was
            // that ending, not a fault; its file is gone and it never becomes `done`.
            tracing::debug!(job = id, reason = %e, "export job ended while it ran");
            return Ok(());
        }
        if let AppError::Internal(cause) = &e {
            tracing::warn!(job = id, error = %cause, "export job failed");
        }
        Err(e)
    }

    async fn run_export_inner(&self, actor: &Actor, job: QueuedExport) -> AppResult<()> {
        let QueuedExport { id, query, options } = job;
        let dir = self.exports_dir();
        custos_store::private_files::create_dir_all_async(&dir)
            .await
            .map_err(|e| io_err("cannot create the exports directory", &dir, e))?;
        // A random part keeps names unguessable and apart when several databases (test
        // schemas, PostgreSQL deployments) share one directory.
        let path = dir.join(format!(
            "{id}-{:016x}.{}",
            rand::random::<u64>(),
            options.format.extension()
        ));
        let part = part_path(&path);
        let mut tx = self.app.db.begin().await?;
        let started = tx
            .start_export_job(id, &path.to_string_lossy(), now_us())
            .await?;
        tx.commit().await?;
        if !started {
            // Deleted before it started: nothing to do.
            return Ok(());
        }
        let progress = Arc::new(ExportProgress::default());
        let heartbeat = tokio::spawn(self.app.clone().export_heartbeat(id, progress.clone()));
        let filter = filter_json(&query);
        let written = self
            .write_sealed_export(actor, query, options, &part, &progress)
            .await;
        heartbeat.abort();
        let _ = heartbeat.await;
        let finished = match written {
            Ok(written) => {
                self.finish_export(actor, id, written, options, filter, &path, &part)
                    .await
            }
            Err(e) => Err(e),
        };
        if finished.is_err() {
            remove_file(&part).await;
            remove_file(&path).await;
        }
        finished
    }

    /// Write the job's file into `part`, sealed: nothing in the exports directory is
    /// plaintext. Returns the row count, and the size and SHA-256 of the plaintext (the
    /// file the user downloads), taken as it is written.
    async fn write_sealed_export(
        &self,
        actor: &Actor,
        query: CustomerQuery,
        options: ExportOptions,
        part: &Path,
        progress: &ExportProgress,
    ) -> AppResult<WrittenExport> {
        let file = custos_store::private_files::create(part)
            .map_err(|e| io_err("cannot create", part, e))?;
        let sink = Digesting::new(SealedWriter::new(&self.app.config.pii_key.file_key(), file));
        let (rows, sink) = self
            .write_export(actor, query, options, sink, Some(progress))
            .await?;
        let (sealed, size, sha256) = sink.finish();
        let file = sealed
            .finish()
            .map_err(|e| io_err("cannot write", part, e))?;
        // The file must be on disk before the job reports it done.
        file.sync_all()
            .map_err(|e| io_err("cannot write", part, e))?;
        Ok(WrittenExport { rows, size, sha256 })
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish_export(
        &self,
        actor: &Actor,
        id: i64,
        written: WrittenExport,
        options: ExportOptions,
        filter: Value,
        path: &Path,
        part: &Path,
    ) -> AppResult<()> {
        let WrittenExport { rows, size, sha256 } = written;
        tokio::fs::rename(part, path)
            .await
            .map_err(|e| io_err("cannot rename", part, e))?;
        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        let done = tx
            .finish_export_job(&ExportDone {
                id,
                total_rows: rows as i64,
                byte_size: size as i64,
                sha256,
                finished_at: now,
                expires_at: now + self.export_ttl_us(),
            })
            .await?;
        if !done {
            // Deleted (or failed by a sweep) while it ran: the file must not stay.
            tx.rollback().await?;
            remove_file(path).await;
            return Ok(());
        }
        append(
            &mut tx,
            export_audit(actor, options, rows, filter, Some(id)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl App {
    /// Publish progress at most every second and prove the job alive at least every
    /// [`HEARTBEAT_EVERY`]; raise `stop` when the job is no longer running.
    async fn export_heartbeat(self, id: i64, progress: Arc<ExportProgress>) {
        let mut last_rows = 0u64;
        let mut last_beat = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let rows = progress.rows.load(Ordering::Relaxed);
            if rows == last_rows && last_beat.elapsed() < HEARTBEAT_EVERY {
                continue;
            }
            let beat = async {
                let mut tx = self.db.begin().await?;
                let running = tx.export_heartbeat(id, rows as i64, now_us()).await?;
                tx.commit().await?;
                AppResult::Ok(running)
            };
            match beat.await {
                Ok(true) => {
                    last_rows = rows;
                    last_beat = tokio::time::Instant::now();
                }
                Ok(false) => {
                    progress.stop.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => tracing::warn!(job = id, error = %e, "export heartbeat failed"),
            }
        }
    }
}

impl Exports<'_> {
    async fn visible_export_job(&self, actor: &Actor, id: i64) -> AppResult<ExportJobRow> {
        actor.require("export")?;
        let mut tx = self.app.db.begin_read().await?;
        let job = tx.export_job(id).await?;
        tx.rollback().await?;
        match job {
            Some(j) if visible(actor, &j) => {
                if j.status == "done" && j.expires_at <= now_us() {
                    self.sweep_expired_exports().await?;
                    let mut tx = self.app.db.begin_read().await?;
                    let again = tx.export_job(id).await?;
                    tx.rollback().await?;
                    return again.ok_or_else(|| AppError::not_found("export_job", id));
                }
                Ok(j)
            }
            _ => Err(AppError::not_found("export_job", id)),
        }
    }

    /// One job (`export`; the caller's own, or see the module docs).
    pub async fn export_job(&self, actor: &Actor, id: i64) -> AppResult<ExportJob> {
        Ok(self.visible_export_job(actor, id).await?.into())
    }

    /// The caller's jobs, newest first (with wide enough permissions, everyone's; see
    /// the module docs). Jobs past expiry are expired first.
    pub async fn export_jobs(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> AppResult<ExportJobPage> {
        actor.require("export")?;
        let limit = crate::paging::page_limit(limit, 50, 200)?;
        let before_id = crate::paging::page_cursor("cursor", cursor)?;
        self.sweep_expired_exports().await?;
        let mut tx = self.app.db.begin_read().await?;
        let mut rows = tx
            .export_jobs(&ExportJobFilter {
                requested_by: actor.user_id,
                others: sees_others(actor, false),
                others_with_pii: sees_others(actor, true),
                before_id,
                limit: limit + 1,
            })
            .await?;
        tx.rollback().await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|j| j.id.to_string())
        } else {
            None
        };
        Ok(ExportJobPage {
            items: rows.into_iter().map(ExportJob::from).collect(),
            next_cursor,
        })
    }

    /// Open the file of a finished job for download (audited: who took which file).
    /// 409 while the job is queued or running or when it failed; 410 once expired, when
    /// the file is missing (`export.file_missing`) or when it is damaged or sealed under
    /// another key (`export.file_damaged`: checked through before anything is served).
    pub async fn open_export_file(&self, actor: &Actor, id: i64) -> AppResult<ExportFile> {
        let job = self.visible_export_job(actor, id).await?;
        match job.status.as_str() {
            "done" => {}
            "expired" | "cancelled" => return Err(gone(id)),
            "failed" => {
                return Err(AppError::Conflict(Violation::new(
                    "export.failed",
                    format!(
                        "导出任务 #{id} 已失败，没有文件：{}",
                        job.error.as_deref().unwrap_or("")
                    ),
                    format!(
                        "export job #{id} failed and has no file: {}",
                        job.error.as_deref().unwrap_or("")
                    ),
                )))
            }
            status => {
                return Err(AppError::Conflict(Violation::new(
                    "export.not_ready",
                    format!(
                        "导出任务 #{id} 尚未完成（状态 {status}，已写 {} 行），请稍后再下载",
                        job.rows_done
                    ),
                    format!(
                        "export job #{id} is not finished yet ({status}, {} rows written); \
                         download it when its status is done",
                        job.rows_done
                    ),
                )))
            }
        }
        let path = PathBuf::from(job.file_path.clone().unwrap_or_default());
        let key = self.app.config.pii_key.clone();
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_plaintext(&path, &key))
                .await
                .map_err(|e| AppError::Internal(format!("export file task: {e}")))?
        };
        let (reader, byte_size) = match opened {
            Ok(opened) => opened,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(job = id, path = %path.display(), "export file is missing");
                return Err(AppError::Gone(Violation::new(
                    "export.file_missing",
                    format!("导出任务 #{id} 的文件已不存在，请重新导出"),
                    format!("the file of export job #{id} no longer exists; export again"),
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                tracing::warn!(job = id, path = %path.display(), error = %e, "export file is damaged");
                return Err(AppError::Gone(Violation::new(
                    "export.file_damaged",
                    format!("导出任务 #{id} 的文件已损坏，无法读取，请重新导出"),
                    format!(
                        "the file of export job #{id} is damaged and cannot be read; export again"
                    ),
                )));
            }
            Err(e) => return Err(io_err("cannot read", &path, e)),
        };
        let mut r = record(
            actor,
            "customer.export.download",
            "export_job",
            &id.to_string(),
        );
        r.after = to_json(&serde_json::json!({
            "requested_by": job.requested_by,
            "rows": job.total_rows,
            "pii_revealed": job.pii_revealed,
            "sha256": job.sha256,
        }));
        let mut tx = self.app.db.begin().await?;
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(ExportFile {
            reader,
            content_type: content_type(&job),
            file_name: job.file_name,
            byte_size,
            sha256: job.sha256,
        })
    }

    /// Delete a job's file: a queued or running job is `cancelled` (its runner stops at
    /// its next heartbeat, or finds the job ended when it would finish, and never makes
    /// it `done`); a finished or failed one becomes `expired`. Either way no file of it
    /// can be downloaded afterwards (410). Deleting it again is harmless.
    pub async fn delete_export_job(&self, actor: &Actor, id: i64) -> AppResult<ExportJob> {
        let job = self.visible_export_job(actor, id).await?;
        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        let path = match tx.cancel_export_job(id, now).await? {
            Some(path) => Some(path),
            None => tx.expire_export_job(id, now).await?,
        };
        let mut r = record(actor, "export.delete", "export_job", &id.to_string());
        r.before = to_json(&serde_json::json!({"status": job.status}));
        if path.is_some() {
            append(&mut tx, r).await?;
        }
        let row = tx
            .export_job(id)
            .await?
            .ok_or_else(|| AppError::not_found("export_job", id))?;
        tx.commit().await?;
        if let Some(Some(p)) = path {
            let p = PathBuf::from(p);
            remove_file(&p).await;
            remove_file(&part_path(&p)).await;
        }
        Ok(row.into())
    }

    async fn sweep_expired_exports(&self) -> AppResult<usize> {
        let mut tx = self.app.db.begin().await?;
        let due = tx.expire_due_export_jobs(now_us()).await?;
        tx.commit().await?;
        for (_, path) in &due {
            if let Some(p) = path {
                remove_file(Path::new(p)).await;
            }
        }
        Ok(due.len())
    }

    /// Fail jobs whose server stopped (heartbeat older than [`EXPORT_STALE_AFTER`]) and
    /// expire finished jobs past their expiry, deleting their files. Run at server start
    /// and every [`EXPORT_SWEEP_EVERY`].
    pub async fn sweep_export_jobs(&self) -> AppResult<ExportSweep> {
        let now = now_us();
        let stale_before = now - EXPORT_STALE_AFTER.as_micros() as i64;
        let mut tx = self.app.db.begin().await?;
        let stale = tx
            .fail_stale_export_jobs(stale_before, &format!("{STOPPED_ZH} / {STOPPED_EN}"), now)
            .await?;
        tx.commit().await?;
        for (id, path) in &stale {
            tracing::warn!(job = id, "export job marked failed: its server stopped");
            if let Some(p) = path {
                remove_file(&part_path(Path::new(p))).await;
            }
        }
        let expired = self.sweep_expired_exports().await?;
        Ok(ExportSweep {
            failed: stale.len(),
            expired,
        })
    }
}

impl App {
    /// Sweep every [`EXPORT_SWEEP_EVERY`] until the task is dropped.
    pub async fn run_export_sweeper(self) {
        loop {
            tokio::time::sleep(EXPORT_SWEEP_EVERY).await;
            if let Err(e) = self.exports().sweep_export_jobs().await {
                tracing::warn!(error = %e, "export sweep failed");
            }
        }
    }
}

fn gone(id: i64) -> AppError {
    AppError::Gone(Violation::new(
        "export.expired",
        format!("导出任务 #{id} 的文件已过期或已删除，请重新导出"),
        format!("the file of export job #{id} has expired or was deleted; export again"),
    ))
}
