//! Starting an import: checking the file and recording the job, running it, and
//! resuming a job that stopped.

use crate::import::Imports;
use std::path::{Path, PathBuf};

use serde_json::json;

use custos_core::Violation;
use custos_store::imports::ImportJobRow;
use custos_store::now_us;

use super::mapping;
use super::open::remove_upload;
use super::options::{check_options, DuplicatePolicy, ImportOptions, StoredOptions};
use super::source;
use super::views::{report_of, ImportOutcome, ImportProgress, ImportReport};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};
use crate::to_json;

/// An import whose file is open and mapped, ready to run.
pub struct PreparedImport {
    path: PathBuf,
    options: ImportOptions,
    facts: source::FileFacts,
    table: source::Table,
    map: mapping::ColumnMap,
    help_row: Option<u64>,
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
            self.help_row,
        )
    }
}

impl Imports<'_> {
    /// Check the file and its columns and, unless a dry run, record a new job
    /// (`import` and `customer.create`). Problems with the file as a whole are returned
    /// here, before anything is written. The file is the caller's and stays where it is
    /// (`options.uploaded` is ignored: uploads go through [`Imports::prepare_upload`]).
    pub async fn prepare_import(
        &self,
        actor: &Actor,
        path: &Path,
        mut options: ImportOptions,
    ) -> AppResult<PreparedImport> {
        options.uploaded = false;
        self.prepare_file(actor, path, options).await
    }

    pub(super) async fn prepare_file(
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
        let (facts, table, map, help_row) = self.open_import(path, &options).await?;
        let mut job = ImportJobRow {
            status: "running".into(),
            file_name: options.file_name.clone(),
            file_sha256: facts.sha256.clone(),
            options: to_json(&StoredOptions {
                path: path.to_path_buf(),
                options: options.clone(),
                headers: table.headers.clone(),
                help_row,
                rows_estimate: Some(facts.approx_rows.saturating_sub(table.header_line)),
            })
            .unwrap_or_default(),
            created_by: Some(actor.user_id),
            created_at: now_us(),
            ..Default::default()
        };
        if !options.dry_run {
            let mut tx = self.app.db.begin().await?;
            job.id = tx.insert_import_job(&job).await?;
            let mut r = record(actor, "import.start", "import_job", &job.id.to_string());
            r.after = to_json(&json!({
                "file": options.file_name, "sha256": facts.sha256, "policy": options.policy,
                "format": facts.format, "encoding": facts.encoding, "sheet": table.sheet,
                "delimiter": facts.encoding.map(|_| source::delimiter_name(facts.delimiter)),
                "unknown_columns": map.unknown(), "help_row": help_row,
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
            help_row,
            job,
            scope,
        })
    }

    /// Run a prepared import to the end (or to the first failure of the database); its
    /// job counts as running in this process meanwhile.
    pub async fn run_import(
        &self,
        actor: &Actor,
        prepared: PreparedImport,
        progress: &(dyn Fn(&ImportProgress) + Send + Sync),
    ) -> AppResult<ImportOutcome> {
        let _claim = match prepared.job_id() {
            Some(id) => Some(self.claim_import(id)?),
            None => None,
        };
        self.run_claimed(actor, prepared, progress).await
    }

    async fn run_claimed(
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
            help_row,
            mut job,
            scope,
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
                if let Ok(mut tx) = self.app.db.begin().await {
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
                let mut tx = self.app.db.begin().await?;
                tx.update_import_progress(&job).await?;
                self.announce_duplicate_groups(&mut tx, &job).await?;
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
            report: report_of(&job, &options, &facts, &table, &map, help_row),
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
        // A job this process runs now is not stopped: resuming it would run it twice.
        let _claim = self.claim_import(job_id)?;
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
        let (facts, table, map, help_row) = self.open_import(&stored.path, &stored.options).await?;
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
            help_row,
            job,
            scope,
        };
        self.run_claimed(actor, prepared, progress).await
    }
}
