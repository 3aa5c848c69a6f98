//! Reading jobs back: their state, reported rows, report files and headers; the import
//! template; and sealing report rows of earlier versions.

use crate::import::Imports;
use std::collections::HashMap;

use custos_core::violation::Lang;
use custos_core::Violation;

use super::options::StoredOptions;
use super::report;
use super::source::{self, FileFormat};
use super::views::{reported, seconds_of, ImportReport, ReportedRow};
use crate::actor::Actor;
use crate::auth::format_time;
use crate::error::{AppError, AppResult};

impl Imports<'_> {
    /// A job's rejected-and-skipped rows (`rejected`) or its sampling file (`sample`) as
    /// a CSV or XLSX file, built in memory: they hold the file's cells (personal data),
    /// which are never written to disk in plaintext. With `lang`, the file speaks that
    /// language and business terms (see [`report::Wording`]); without, both and codes.
    pub async fn import_report(
        &self,
        actor: &Actor,
        job_id: i64,
        kind: &str,
        format: report::ReportFormat,
        lang: Option<Lang>,
    ) -> AppResult<Vec<u8>> {
        let headers = self.import_job_headers(actor, job_id).await?;
        let wording = match lang {
            Some(lang) => self.import_wording(actor, job_id, &headers, lang).await?,
            None => report::Wording::default(),
        };
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
                report::sample_table(&mut w, &headers, &rows, &wording)?;
            } else {
                report::rejected_table(&mut w, &headers, &rows, &wording)?;
            }
            w.finish()
        })
        .await
        .map_err(|e| AppError::Internal(format!("report task: {e}")))?
    }

    /// How a job's reports speak to a person reading `lang`: the business terms of the
    /// stored codes under each column that holds codes (customer type, status, scale).
    pub async fn import_wording(
        &self,
        actor: &Actor,
        job_id: i64,
        headers: &[String],
        lang: Lang,
    ) -> AppResult<report::Wording> {
        use crate::terms::{choices, Terms};
        let job = self.import_job_row(actor, job_id).await?;
        let spec = serde_json::from_str::<StoredOptions>(&job.options)
            .map(|s| s.options.mapping)
            .unwrap_or_default();
        let mut tx = self.app.db.begin_read().await?;
        let types = crate::customers::load_customer_types(&mut tx).await?;
        let custom = crate::fields::load_definitions(&mut tx).await?;
        tx.rollback().await?;
        let type_terms: HashMap<String, String> = types
            .iter()
            .map(|t| {
                let label = match lang {
                    Lang::Zh => &t.label_zh,
                    Lang::En => &t.label_en,
                };
                (t.key.clone(), label.clone())
            })
            .collect();
        let of = |terms: Terms| -> HashMap<String, String> {
            choices(terms, lang)
                .into_iter()
                .map(|(c, t)| (c.to_string(), t.to_string()))
                .collect()
        };
        let mut terms = HashMap::new();
        // A job whose columns no longer map (the catalog changed) keeps the codes.
        if let Ok(map) = super::mapping::ColumnMap::new(headers.to_vec(), spec, types, custom) {
            for (h, t) in map.headers.iter().zip(&map.targets) {
                let words = match t.as_deref() {
                    Some("customer_type") => type_terms.clone(),
                    Some("status") => of(Terms::CustomerStatus),
                    Some("scale") => of(Terms::Scale),
                    _ => continue,
                };
                terms.insert(h.clone(), words);
            }
        }
        Ok(report::Wording {
            lang: Some(lang),
            terms,
        })
    }

    /// The empty import template (XLSX) for the current catalog (`import`).
    pub async fn import_template(&self, actor: &Actor) -> AppResult<Vec<u8>> {
        actor.require("import")?;
        let mut tx = self.app.db.begin_read().await?;
        let types = crate::customers::load_customer_types(&mut tx).await?;
        let custom = crate::fields::load_definitions(&mut tx).await?;
        tx.rollback().await?;
        report::template_xlsx(&types, &custom)
    }

    /// State and totals of a job.
    pub async fn import_job(&self, actor: &Actor, job_id: i64) -> AppResult<ImportReport> {
        let job = self.import_job_row(actor, job_id).await?;
        Ok(job_report(job))
    }

    /// The caller's import jobs (every job for a caller with `import` on all data),
    /// newest first, at most `limit` (1–200).
    pub async fn import_jobs(&self, actor: &Actor, limit: i64) -> AppResult<Vec<ImportReport>> {
        let scope = actor.require("import")?;
        let by = (scope != crate::actor::Scope::All).then_some(actor.user_id);
        let mut tx = self.app.db.begin_read().await?;
        let jobs = tx.import_jobs(by, limit.clamp(1, 200)).await?;
        tx.rollback().await?;
        Ok(jobs.into_iter().map(job_report).collect())
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
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.import_rows(job_id, outcome, after_row, limit).await?;
        tx.rollback().await?;
        rows.into_iter()
            .map(|r| reported(&self.app.config.pii_key, r))
            .collect()
    }

    /// Encrypt the cells and messages of reported rows stored in plaintext (by versions
    /// before they were encrypted), a thousand per transaction. Run at start-up, until a
    /// pass finds none (then a setting records it, and later start-ups skip the scan).
    pub async fn seal_import_rows(&self) -> AppResult<u64> {
        const DONE: &str = "import_rows_sealed";
        let key = &self.app.config.pii_key;
        let mut tx = self.app.db.begin_read().await?;
        let done = tx.setting(DONE).await?.is_some();
        tx.rollback().await?;
        if done {
            return Ok(0);
        }
        let mut sealed = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
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
        let (_, table, _, _) = self.open_import(&stored.path, &stored.options).await?;
        Ok(table.headers)
    }
}

/// A stored job's state and totals.
fn job_report(job: custos_store::imports::ImportJobRow) -> ImportReport {
    let stored: Option<StoredOptions> = serde_json::from_str(&job.options).ok();
    let stored_help_row = stored.as_ref().and_then(|s| s.help_row);
    let rows_estimate = stored.as_ref().and_then(|s| s.rows_estimate).unwrap_or(0);
    let options = stored.map(|s| s.options).unwrap_or_default();
    ImportReport {
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
        help_row: stored_help_row,
        rows_estimate,
        seconds: seconds_of(&job),
        columns: Vec::new(),
        unknown_columns: Vec::new(),
        read: job.rows_done,
        created: job.created,
        updated: job.updated,
        merged: job.merged,
        skipped: job.skipped,
        rejected: job.rejected,
        duplicate_groups: job.duplicate_groups,
        error: job.error,
        created_at: Some(format_time(job.created_at)),
        finished_at: job.finished_at.map(format_time),
    }
}
