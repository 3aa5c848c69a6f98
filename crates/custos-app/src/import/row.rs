//! One row imported in its own savepoint: created, updated, merged, queued for review,
//! skipped or rejected.

use crate::import::Imports;
use std::collections::HashMap;

use serde_json::{json, Value};

use custos_core::FieldError;
use custos_store::{CustomerRow, Tx};

use super::duplicates::candidate_codes;
use super::existing::{patch_of, Existing};
use super::keys::{row_keys, sampled};
use super::mapping;
use super::options::{DuplicatePolicy, ImportOptions};
use super::outcome::{field_errors_json, row_error, row_failure, stored_values, RowResult};
use super::source;
use crate::actor::{Actor, Scope};
use crate::customers::duplicates::DuplicateReport;
use crate::customers::{view_of, Checked, Lookups, NewCustomer};
use crate::error::{AppError, AppResult};

/// A row converted to a creation (mapping, value maps, the import's reason), the
/// problems found converting it, and the creation's checked work when the row is valid.
pub(super) struct Converted {
    pub(super) input: NewCustomer,
    pub(super) conv_errors: Vec<FieldError>,
    pub(super) checked: Option<Checked>,
}

/// What every row of a run shares.
pub(super) struct RowContext<'a> {
    pub(super) actor: &'a Actor,
    /// The actor's `customer.create` scope.
    pub(super) scope: Scope,
    pub(super) map: &'a mapping::ColumnMap,
    pub(super) options: &'a ImportOptions,
    /// 0 for a dry run.
    pub(super) job_id: i64,
    /// The actor may read personal data (`customer.pii.read`): sampled rows show the
    /// stored values unmasked.
    pub(super) reveal: bool,
}

impl Imports<'_> {
    /// One row in its own savepoint: created, updated, skipped or rejected. `Err` only
    /// for failures of the database (the chunk is abandoned; the job can be resumed).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn import_row(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        ctx: &RowContext<'_>,
        row_no: i64,
        row: &source::SourceRow,
        converted: Converted,
        seen: &mut HashMap<u64, i64>,
    ) -> AppResult<RowResult> {
        let keys = row_keys(&converted.input);
        if converted.conv_errors.is_empty() {
            if let Some(first) = keys.iter().find_map(|k| seen.get(k)) {
                return Ok(duplicate_in_file(*first));
            }
        }
        let result = self
            .write_row(tx, lookups, ctx, row_no, &row.cells, converted)
            .await?;
        // Later rows of the file with the same keys are duplicates of this one (a merged
        // row is not remembered).
        if matches!(
            result,
            RowResult::Created { .. } | RowResult::Updated { .. } | RowResult::Review { .. }
        ) {
            for k in keys {
                seen.entry(k).or_insert(row.line as i64);
            }
        }
        Ok(result)
    }

    /// Write a row not seen earlier in the file, as the run's duplicate policy says.
    async fn write_row(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        ctx: &RowContext<'_>,
        row_no: i64,
        cells: &[String],
        converted: Converted,
    ) -> AppResult<RowResult> {
        let Converted {
            input,
            conv_errors,
            checked,
        } = converted;
        let xref = self.row_xref(ctx.map, cells);
        if ctx.options.policy == DuplicatePolicy::Update && conv_errors.is_empty() {
            match self
                .existing_of(tx, ctx.actor, ctx.map, cells, &xref)
                .await?
            {
                Existing::None => {}
                Existing::Missing(e) => {
                    return Ok(RowResult::Rejected(field_errors_json(ctx.map, &[e])));
                }
                Existing::Found(ex) => {
                    return self.update_existing(tx, ctx, row_no, input, &ex).await;
                }
            }
        }
        tx.savepoint().await?;
        let mut out = self
            .app
            .customers()
            .insert_new_customer_excluding(
                tx,
                lookups,
                ctx.actor,
                ctx.scope,
                input.clone(),
                checked,
                &[],
            )
            .await
            .map(|(r, _, _)| r);
        let mut queued: Option<Value> = None;
        if let (true, Err(AppError::Duplicate { report, .. })) = (conv_errors.is_empty(), &out) {
            let report = (**report).clone();
            tx.rollback_to_savepoint().await?;
            match ctx.options.policy {
                DuplicatePolicy::Skip | DuplicatePolicy::Update => {
                    return Ok(duplicate_in_database(&report));
                }
                DuplicatePolicy::Merge => {
                    return self
                        .merge_row(
                            tx,
                            ctx.actor,
                            ctx.map,
                            input,
                            &report,
                            ctx.options,
                            ctx.job_id,
                            row_no,
                            ctx.reveal,
                        )
                        .await;
                }
                DuplicatePolicy::Review => {
                    (out, queued) = self
                        .create_for_review(tx, lookups, ctx, input, &report)
                        .await?;
                }
            }
        }
        if let (Ok(crow), Some((system, source_id))) = (&out, &xref) {
            if let Err(e) = self
                .put_import_xref(tx, ctx.actor, crow, system, source_id)
                .await
            {
                out = Err(e);
            }
        }
        if let (Ok(crow), Some(detail), true) = (&out, queued, conv_errors.is_empty()) {
            tx.release_savepoint().await?;
            return Ok(RowResult::Review {
                code: crow.code.clone(),
                new_group: detail.get("group_id").is_some_and(Value::is_i64),
                detail,
            });
        }
        self.settle_row(tx, ctx, row_no, out, conv_errors).await
    }

    /// `update`: apply the row's non-empty values to the customer it names.
    async fn update_existing(
        &self,
        tx: &mut Tx,
        ctx: &RowContext<'_>,
        row_no: i64,
        input: NewCustomer,
        ex: &CustomerRow,
    ) -> AppResult<RowResult> {
        let mut patch = patch_of(input, ex.row_version);
        if ctx.actor.require("customer.update")? != Scope::All {
            // Owner changes stay with the single update's scope rules.
            patch.owner_id = None;
            patch.department_id = None;
        }
        tx.savepoint().await?;
        let updated = self
            .app
            .customers()
            .update_customer_in(tx, ctx.actor, &ex.code, &patch, "update")
            .await
            .and_then(|r| view_of(&r, &self.app.config.pii_key, ctx.reveal));
        match updated {
            Ok(view) => {
                let sample = sampled(ctx.job_id, row_no, ctx.options.sample_rate)
                    .then(|| json!({ "stored": stored_values(&view, ctx.map) }));
                tx.release_savepoint().await?;
                Ok(RowResult::Updated {
                    code: view.code,
                    sample,
                })
            }
            Err(e) => {
                let e = row_failure(e)?;
                tx.rollback_to_savepoint().await?;
                Ok(RowResult::Rejected(field_errors_json(ctx.map, &e)))
            }
        }
    }

    /// `review`: create the row as pending and queue its duplicate group. Returns the
    /// creation's result and, when it was created, what the report says of it.
    async fn create_for_review(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        ctx: &RowContext<'_>,
        input: NewCustomer,
        report: &DuplicateReport,
    ) -> AppResult<(AppResult<CustomerRow>, Option<Value>)> {
        // The policy creates the record as pending for a steward to decide;
        // the import may override the duplicate block for that alone.
        tx.savepoint().await?;
        let mut reviewer = ctx.actor.clone();
        reviewer
            .permissions
            .entry("duplicate.manage".into())
            .or_insert(ctx.scope);
        let pending = NewCustomer {
            status: Some(crate::customers::CustomerStatus::Pending.as_str().into()),
            override_duplicates: true,
            ..input
        };
        let out = self
            .app
            .customers()
            .insert_new_customer(tx, lookups, &reviewer, ctx.scope, pending)
            .await
            .map(|(r, _, _)| r);
        let mut queued = None;
        if let Ok(crow) = &out {
            let group = self.queue_import_group(tx, ctx.actor, crow, report).await?;
            let (zh, en) = candidate_codes(report);
            queued = Some(json!({
                "reason": "duplicate_review",
                "group_id": group,
                "candidates": report.summary(),
                "zh": format!("疑似与已有客户重复（{zh}），已创建为待审核并加入查重审核队列"),
                "en": format!("looks like existing customer(s) {en}; created as pending and queued for review"),
            }));
        }
        Ok((out, queued))
    }

    /// The end of a row's savepoint: created (released), or rejected with the problems
    /// of its conversion and of the create use case (rolled back).
    async fn settle_row(
        &self,
        tx: &mut Tx,
        ctx: &RowContext<'_>,
        row_no: i64,
        out: AppResult<CustomerRow>,
        conv_errors: Vec<FieldError>,
    ) -> AppResult<RowResult> {
        match out {
            Ok(crow) if conv_errors.is_empty() => {
                let sample = if sampled(ctx.job_id, row_no, ctx.options.sample_rate) {
                    let view = view_of(&crow, &self.app.config.pii_key, ctx.reveal)?;
                    Some(json!({ "stored": stored_values(&view, ctx.map) }))
                } else {
                    None
                };
                tx.release_savepoint().await?;
                Ok(RowResult::Created {
                    code: crow.code,
                    sample,
                })
            }
            Ok(_) => {
                tx.rollback_to_savepoint().await?;
                Ok(RowResult::Rejected(field_errors_json(
                    ctx.map,
                    &conv_errors,
                )))
            }
            Err(AppError::Validation(errs)) => {
                tx.rollback_to_savepoint().await?;
                let mut all = conv_errors;
                all.extend(errs);
                Ok(RowResult::Rejected(field_errors_json(ctx.map, &all)))
            }
            Err(e @ AppError::Internal(_)) => Err(e),
            Err(AppError::Conflict(v)) if v.code == "conflict.concurrent" => {
                Err(AppError::Conflict(v))
            }
            Err(e) => {
                tx.rollback_to_savepoint().await?;
                let mut all = conv_errors;
                all.push(row_error(&e));
                Ok(RowResult::Rejected(field_errors_json(ctx.map, &all)))
            }
        }
    }
}

/// A row with the keys of an earlier row of the file (`first`: that row's line).
fn duplicate_in_file(first: i64) -> RowResult {
    RowResult::Skipped(json!({
        "reason": "duplicate_in_file",
        "duplicate_of_line": first,
        "zh": format!("与文件第 {first} 行重复（统一社会信用代码、身份证号或规范化名称相同）"),
        "en": format!("duplicates line {first} of the file (same USCC, ID number or normalised name)"),
    }))
}

/// `skip` (and `update` for a row naming no customer): a row that duplicates a stored
/// customer is skipped.
fn duplicate_in_database(report: &DuplicateReport) -> RowResult {
    let (zh, en) = candidate_codes(report);
    RowResult::Skipped(json!({
        "reason": "duplicate_in_database",
        "candidates": report.summary(),
        "zh": format!("与已有客户重复（{zh}），已跳过"),
        "en": format!("duplicates existing customer(s) {en}; skipped"),
    }))
}
