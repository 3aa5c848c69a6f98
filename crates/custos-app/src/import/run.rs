//! The row-processing loop of a run: chunks read and checked ahead on a blocking
//! thread, written in one transaction each with the job's progress, until the file ends.

use crate::import::Imports;
use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use custos_store::imports::{ImportJobRow, ImportRowRow};
use custos_store::{now_us, Tx};

use super::keys::row_keys;
use super::mapping;
use super::options::{ImportOptions, MAX_CHUNK_ROWS};
use super::outcome::RowResult;
use super::row::{Converted, RowContext};
use super::source;
use super::views::{ImportProgress, ReportedRow};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::customers::{Checked, Lookups};
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

impl Imports<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn process(
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
        let mut row_no = self.skip_committed_rows(job, table, map, &mut seen).await?;
        // New jobs are refused outside 1..=MAX_CHUNK_ROWS (`check_options`); a job stored
        // before that check (then clamped to 1..=10,000 here) may hold any value.
        let chunk_rows = options.chunk_rows.clamp(1, MAX_CHUNK_ROWS);
        let ctx = RowContext {
            actor,
            scope,
            map,
            options,
            job_id: job.id,
            reveal: actor.can("customer.pii.read"),
        };
        // The next chunk is converted and checked (mapping, validation, matching
        // features: see `customers::Checked`) on a blocking thread while one is written.
        let job_id = job.id;
        let prepare_ahead = |(rows, error): (Vec<source::SourceRow>, Option<AppError>)| {
            let (app, actor, map) = (self.app.clone(), actor.clone(), map.clone());
            tokio::task::spawn_blocking(move || {
                let rows: Vec<PreparedRow> = rows
                    .into_iter()
                    .map(|r| PreparedRow::of(&app, &actor, &map, job_id, r))
                    .collect();
                (rows, error)
            })
        };
        self.app.customers().settle_reference().await?;
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
            let written = self
                .write_chunk(&ctx, job, chunk, &mut row_no, &mut seen, memory)
                .await;
            if let Err(e) = written {
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
        self.finish_job(actor, job, options).await
    }

    /// Resume: skip the rows a stopped job committed, remembering the keys of those
    /// imported (for duplicates in the file). Returns the number of the last row skipped.
    async fn skip_committed_rows(
        &self,
        job: &ImportJobRow,
        table: &mut source::Table,
        map: &mapping::ColumnMap,
        seen: &mut HashMap<u64, i64>,
    ) -> AppResult<i64> {
        let mut row_no: i64 = 0;
        if job.rows_done > 0 {
            let not_imported = self.rows_not_imported(job.id).await?;
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
        Ok(row_no)
    }

    /// The numbers of a job's rows reported as rejected or skipped.
    async fn rows_not_imported(&self, job_id: i64) -> AppResult<HashSet<i64>> {
        let mut not_imported = HashSet::new();
        let mut tx = self.app.db.begin_read().await?;
        for outcome in ["rejected", "skipped"] {
            let mut after = 0;
            loop {
                let page = tx.import_rows(job_id, outcome, after, 5000).await?;
                let Some(last) = page.last() else { break };
                after = last.row_no;
                not_imported.extend(page.iter().map(|r| r.row_no));
            }
        }
        tx.rollback().await?;
        Ok(not_imported)
    }

    /// One chunk in one transaction: its rows, its reported rows and the job's progress
    /// (a dry run rolls back and keeps the reported rows in `memory`). On `Err` the
    /// caller restores the job's counters.
    async fn write_chunk(
        &self,
        ctx: &RowContext<'_>,
        job: &mut ImportJobRow,
        chunk: Vec<PreparedRow>,
        row_no: &mut i64,
        seen: &mut HashMap<u64, i64>,
        memory: &mut Vec<ReportedRow>,
    ) -> AppResult<()> {
        let started = std::time::Instant::now();
        let rows_in_chunk = chunk.len();
        let mut tx = self.app.db.begin().await?;
        let keys = chunk
            .iter()
            .filter_map(|r| r.converted.checked.as_ref())
            .map(Checked::match_keys);
        let mut lookups =
            Lookups::for_creations(&mut tx, chunk.len(), keys, Some(self.app)).await?;
        let read_ahead = started.elapsed();
        let mut reported_rows = Vec::new();
        for PreparedRow { row: r, converted } in chunk {
            *row_no += 1;
            let result = self
                .import_row(&mut tx, &mut lookups, ctx, *row_no, &r, converted, seen)
                .await?;
            let Some((outcome, code, detail)) = count_outcome(job, result) else {
                continue;
            };
            reported_rows.push(ReportedRow {
                row_no: *row_no,
                line: r.line,
                outcome: outcome.to_string(),
                code,
                cells: r.cells,
                detail,
            });
        }
        job.rows_done = *row_no;
        let rows_written = started.elapsed();
        if ctx.options.dry_run {
            tx.rollback().await?;
            memory.extend(reported_rows);
        } else {
            self.store_reported_rows(&mut tx, job.id, &reported_rows)
                .await?;
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

    /// Write a chunk's reported rows with the job.
    async fn store_reported_rows(
        &self,
        tx: &mut Tx,
        job_id: i64,
        reported_rows: &[ReportedRow],
    ) -> AppResult<()> {
        for rr in reported_rows {
            let mut detail = rr.detail.clone();
            if let Value::Object(m) = &mut detail {
                m.insert("line".into(), json!(rr.line));
            } else {
                detail = json!({ "line": rr.line, "errors": detail });
            }
            // The source cells (and the messages, which may quote them)
            // hold personal data as typed: stored encrypted.
            let key = &self.app.config.pii_key;
            tx.insert_import_row(&ImportRowRow {
                job_id,
                row_no: rr.row_no,
                outcome: rr.outcome.clone(),
                code: rr.code.clone(),
                cells: key.encrypt(&mapping::cells_json(&rr.cells)),
                detail: Some(key.encrypt(&detail.to_string())),
            })
            .await?;
        }
        Ok(())
    }

    /// The end of a run: the job is done (recorded and audited unless a dry run).
    async fn finish_job(
        &self,
        actor: &Actor,
        job: &mut ImportJobRow,
        options: &ImportOptions,
    ) -> AppResult<()> {
        job.status = "done".into();
        job.finished_at = Some(now_us());
        if !options.dry_run {
            let mut tx = self.app.db.begin().await?;
            tx.update_import_progress(job).await?;
            let mut r = record(actor, "import.finish", "import_job", &job.id.to_string());
            r.after = to_json(&json!({
                "file": job.file_name, "read": job.rows_done, "created": job.created,
                "updated": job.updated, "merged": job.merged, "skipped": job.skipped,
                "rejected": job.rejected, "duplicate_groups": job.duplicate_groups,
            }));
            append(&mut tx, r).await?;
            self.announce_duplicate_groups(&mut tx, job).await?;
            tx.commit().await?;
            let written = job.created + job.updated + job.merged;
            self.app.db.after_bulk_write(written.max(0) as u64).await;
        }
        Ok(())
    }
}

/// Count a row's result in the job's totals; returns what is reported of it (outcome,
/// code, detail), `None` for a row imported and not sampled.
fn count_outcome(
    job: &mut ImportJobRow,
    result: RowResult,
) -> Option<(&'static str, Option<String>, Value)> {
    Some(match result {
        RowResult::Created { code, sample } => {
            job.created += 1;
            ("sampled", Some(code), sample?)
        }
        RowResult::Updated { code, sample } => {
            job.updated += 1;
            ("sampled", Some(code), sample?)
        }
        RowResult::Review {
            code,
            detail,
            new_group,
        } => {
            job.created += 1;
            job.duplicate_groups += i64::from(new_group);
            ("review", Some(code), detail)
        }
        RowResult::Merged { code, sample } => {
            job.merged += 1;
            ("sampled", Some(code), sample?)
        }
        RowResult::Skipped(d) => {
            job.skipped += 1;
            ("skipped", None, d)
        }
        RowResult::Rejected(d) => {
            job.rejected += 1;
            ("rejected", None, d)
        }
    })
}

/// A row as read, with its conversion done ahead of its transaction.
struct PreparedRow {
    row: source::SourceRow,
    converted: Converted,
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
            app.customers().check_new(actor, &input)
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
