//! Export (数据导出): the customers a search would find, in the caller's data scope,
//! as CSV (UTF-8 with BOM, or GB18030 for older Excel), XLSX or JSON Lines. Personal
//! data is masked unless the caller may read it; each export is audited with its filter
//! and row count. Large exports run as background jobs (`job`).

pub mod job;
mod service;
pub(crate) mod xlsx;
pub use service::Exports;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use custos_core::Violation;
use custos_store::customer_master::{CustomerFilter, ScopeFilter};

use crate::actor::Actor;
use custos_store::AuditRecord;
use xlsx::XlsxStream;

use crate::audit::{append, record};
use crate::customers::view_of;
use crate::error::{AppError, AppResult};
use crate::import::mapping::BUILTIN_COLUMNS;
use crate::sealed::{SealedReader, SealedWriter};
use crate::search::CustomerQuery;
use crate::to_json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Jsonl,
}

impl ExportFormat {
    pub fn parse(s: &str) -> AppResult<ExportFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" => Ok(ExportFormat::Xlsx),
            "jsonl" | "ndjson" => Ok(ExportFormat::Jsonl),
            other => Err(AppError::validation(
                "format",
                Violation::new(
                    "export.format",
                    format!("导出格式“{other}”不支持，可选 csv、xlsx、jsonl"),
                    format!("export format '{other}' is not supported; use csv, xlsx or jsonl"),
                ),
            )),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Jsonl => "jsonl",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }
}

impl std::fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

/// How to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    pub format: ExportFormat,
    /// CSV only: GB18030 (GBK-compatible) instead of UTF-8 with BOM.
    pub gbk: bool,
}

impl ExportOptions {
    /// Options from a request: GBK is an encoding of CSV text, so asking for it with
    /// another format is refused rather than silently ignored.
    pub fn checked(format: ExportFormat, gbk: bool) -> AppResult<ExportOptions> {
        if gbk && format != ExportFormat::Csv {
            return Err(AppError::validation(
                "gbk",
                Violation::new(
                    "export.gbk_csv_only",
                    format!("GBK 编码只适用于 CSV 导出，{format} 格式不能使用 gbk=true"),
                    format!(
                        "GBK applies to CSV exports only; gbk=true cannot be used with {format}"
                    ),
                ),
            ));
        }
        Ok(ExportOptions { format, gbk })
    }

    /// Content type of the file, naming GB18030 for GBK CSV.
    pub fn content_type(self) -> &'static str {
        if self.gbk && self.format == ExportFormat::Csv {
            "text/csv; charset=gb18030"
        } else {
            self.format.content_type()
        }
    }
}

/// Progress of an export that runs as a job: rows written so far (advanced per page) and
/// a stop flag the job's heartbeat raises when the job was deleted meanwhile.
#[derive(Debug, Default)]
pub(crate) struct ExportProgress {
    pub rows: AtomicU64,
    pub stop: AtomicBool,
}

/// The search filters as audit entries and export jobs show them: the query's own keys
/// plus custom-field equalities (which the query does not serialise).
pub(crate) fn filter_json(q: &CustomerQuery) -> Value {
    let mut v = serde_json::to_value(q).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.retain(|k, v| !v.is_null() && !matches!(k.as_str(), "cursor" | "limit" | "total"));
        if !q.custom.is_empty() {
            let custom: serde_json::Map<String, Value> = q
                .custom
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            m.insert("custom".into(), Value::Object(custom));
        }
    }
    v
}

/// Columns of CSV/XLSX exports: the import headers, so an export can be re-imported.
fn columns() -> Vec<(&'static str, &'static str)> {
    let mut cols = vec![("code", "客户编码")];
    for (t, aliases) in BUILTIN_COLUMNS {
        if matches!(*t, "code" | "source_id" | "source_system") {
            continue;
        }
        cols.push((t, aliases[0]));
    }
    cols.push(("created_at", "创建时间"));
    cols.push(("updated_at", "更新时间"));
    cols
}

fn cell(view: &Value, target: &str) -> String {
    let v = if let Some(c) = target.strip_prefix("contact.") {
        view.pointer(&format!("/contacts/0/{c}"))
    } else {
        view.get(target)
    };
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join("；"),
        Some(other) => other.to_string(),
    }
}

/// One CSV line of `cells`, each guarded against formulas (see [`crate::csv_cell`]).
fn csv_line(cells: &[String]) -> String {
    let mut out = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let c = crate::csv_cell::neutralise(c);
        if c.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&c.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&c);
        }
    }
    out.push_str("\r\n");
    out
}

fn io_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("cannot write the export: {e}"))
}

enum Sink<W: Write> {
    Text {
        out: BufWriter<W>,
        format: ExportFormat,
        gbk: bool,
    },
    Xlsx(Box<XlsxStream<BufWriter<W>>>),
}

impl<W: Write> Sink<W> {
    fn write_text(&mut self, text: &str) -> AppResult<()> {
        if let Sink::Text { out, gbk, .. } = self {
            if *gbk {
                let (bytes, _, _) = encoding_rs::GB18030.encode(text);
                out.write_all(&bytes).map_err(io_err)?;
            } else {
                out.write_all(text.as_bytes()).map_err(io_err)?;
            }
        }
        Ok(())
    }

    /// Flush everything and hand back the writer.
    fn finish(self) -> AppResult<W> {
        let out = match self {
            Sink::Text { out, .. } => out,
            Sink::Xlsx(book) => book.finish().map_err(io_err)?,
        };
        out.into_inner().map_err(|e| io_err(e.error()))
    }
}

/// Both permissions an export needs, checked before any file is made.
fn require_export(actor: &Actor) -> AppResult<()> {
    actor.require("export")?;
    actor.require("customer.read")?;
    Ok(())
}

impl Exports<'_> {
    /// Write the customers matching `q` (search filters, the caller's scope) to the file
    /// `out`, as it is: the caller's own file (`custos export`), not one the server
    /// keeps (`export` and `customer.read`; audited). Returns the number of customers
    /// written.
    pub async fn export_customers(
        &self,
        actor: &Actor,
        q: CustomerQuery,
        opts: ExportOptions,
        out: &Path,
    ) -> AppResult<u64> {
        require_export(actor)?;
        let file = custos_store::private_files::create(out).map_err(io_err)?;
        let (written, file) = self.export_audited(actor, q, opts, file).await?;
        // The file must be on disk when the command reports it written.
        file.sync_all().map_err(io_err)?;
        Ok(written)
    }

    /// Like [`Exports::export_customers`], but the file at `out` is sealed (see
    /// [`crate::sealed`]), so personal data is not left in plaintext in a temporary
    /// file: for a server that streams the export back. Returns the number of customers
    /// and a reader of the plaintext (its length is [`SealedReader::plain_len`]).
    pub async fn export_customers_sealed(
        &self,
        actor: &Actor,
        q: CustomerQuery,
        opts: ExportOptions,
        out: &Path,
    ) -> AppResult<(u64, SealedReader)> {
        require_export(actor)?;
        let file = custos_store::private_files::create(out).map_err(io_err)?;
        let sealed = SealedWriter::new(&self.app.config.pii_key.file_key(), file);
        let (written, sealed) = self.export_audited(actor, q, opts, sealed).await?;
        sealed.finish().map_err(io_err)?;
        let reader = SealedReader::open(
            out,
            &self.app.config.pii_key.file_key_for(out).map_err(io_err)?,
        )
        .map_err(io_err)?;
        Ok((written, reader))
    }

    async fn export_audited<W: Write + Send>(
        &self,
        actor: &Actor,
        q: CustomerQuery,
        opts: ExportOptions,
        out: W,
    ) -> AppResult<(u64, W)> {
        let filter = filter_json(&q);
        let (written, out) = self.write_export(actor, q, opts, out, None).await?;
        let mut tx = self.app.db.begin().await?;
        append(&mut tx, export_audit(actor, opts, written, filter, None)).await?;
        tx.commit().await?;
        Ok((written, out))
    }

    /// Write the export into `out` without auditing it (the caller audits, in the
    /// transaction that records the outcome) and hand `out` back, flushed. With
    /// `progress`, the rows written so far are published after each page and the export
    /// stops when `progress.stop` is raised.
    pub(crate) async fn write_export<W: Write + Send>(
        &self,
        actor: &Actor,
        mut q: CustomerQuery,
        opts: ExportOptions,
        out: W,
        progress: Option<&ExportProgress>,
    ) -> AppResult<(u64, W)> {
        require_export(actor)?;
        let reveal = actor.can("customer.pii.read");
        let cols = columns();
        let headers: Vec<&str> = cols.iter().map(|(_, h)| *h).collect();
        let out = BufWriter::with_capacity(64 * 1024, out);
        let mut sink = match opts.format {
            ExportFormat::Xlsx => {
                Sink::Xlsx(Box::new(XlsxStream::new(out, &headers).map_err(io_err)?))
            }
            f => Sink::Text {
                out,
                format: f,
                gbk: opts.gbk && f == ExportFormat::Csv,
            },
        };
        if let Sink::Text {
            format: ExportFormat::Csv,
            gbk,
            out: w,
        } = &mut sink
        {
            if !*gbk {
                w.write_all(b"\xEF\xBB\xBF").map_err(io_err)?;
            }
            let h: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
            sink.write_text(&csv_line(&h))?;
        }
        q.limit = Some(200);
        q.total = None;
        let mut written = 0u64;
        loop {
            let page = self
                .app
                .customers()
                .search_customers(actor, q.clone())
                .await?;
            if page.items.is_empty() {
                break;
            }
            let ids: Vec<i64> = page.items.iter().map(|s| s.id).collect();
            let mut tx = self.app.db.begin_read().await?;
            let mut rows = tx
                .search_customers(&CustomerFilter {
                    scope: ScopeFilter::All,
                    ids: Some(ids.clone()),
                    limit: ids.len() as i64 + 1,
                    ..Default::default()
                })
                .await?;
            tx.rollback().await?;
            // Keep the search's order.
            rows.sort_by_key(|r| ids.iter().position(|i| *i == r.id));
            for row in &rows {
                let view = view_of(row, &self.app.config.pii_key, reveal)?;
                let v = serde_json::to_value(&view).unwrap_or(Value::Null);
                match &mut sink {
                    Sink::Text {
                        format: ExportFormat::Jsonl,
                        ..
                    } => {
                        let mut line = v.to_string();
                        line.push('\n');
                        sink.write_text(&line)?;
                    }
                    Sink::Text { .. } => {
                        let cells: Vec<String> = cols.iter().map(|(t, _)| cell(&v, t)).collect();
                        sink.write_text(&csv_line(&cells))?;
                    }
                    Sink::Xlsx(book) => {
                        let cells: Vec<String> = cols.iter().map(|(t, _)| cell(&v, t)).collect();
                        book.write_row(&cells).map_err(io_err)?;
                    }
                }
                written += 1;
            }
            if let Some(p) = progress {
                p.rows.store(written, Ordering::Relaxed);
                if p.stop.load(Ordering::Relaxed) {
                    return Err(AppError::Conflict(Violation::new(
                        "export.cancelled",
                        "导出任务已被删除，导出中止",
                        "the export job was deleted; the export stopped",
                    )));
                }
            }
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        Ok((written, sink.finish()?))
    }
}

/// The audit entry of an export: format, row count, whether personal data was revealed,
/// the filter, and the job that produced the file (when it ran as a job).
pub(crate) fn export_audit(
    actor: &Actor,
    opts: ExportOptions,
    rows: u64,
    filter: Value,
    job: Option<i64>,
) -> AuditRecord {
    let mut r = record(actor, "customer.export", "customer", "*");
    let mut after = json!({
        "format": opts.format, "gbk": opts.gbk, "rows": rows,
        "pii_revealed": actor.can("customer.pii.read"),
        "filter": filter,
    });
    if let Some(id) = job {
        after["job"] = json!(id);
    }
    r.after = to_json(&after);
    r
}
