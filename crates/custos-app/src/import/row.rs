//! One row imported in its own savepoint: created, updated, merged, queued for review,
//! skipped or rejected.

use std::collections::HashMap;

use serde_json::{json, Value};

use custos_core::FieldError;
use custos_store::Tx;

use super::duplicates::candidate_codes;
use super::existing::{patch_of, Existing};
use super::keys::{row_keys, sampled};
use super::mapping;
use super::options::{DuplicatePolicy, ImportOptions};
use super::outcome::{field_errors_json, row_error, row_failure, stored_values, RowResult};
use super::source;
use crate::actor::{Actor, Scope};
use crate::customers::{view_of, Checked, Lookups, NewCustomer};
use crate::error::{AppError, AppResult};
use crate::App;

/// A row converted to a creation (mapping, value maps, the import's reason), the
/// problems found converting it, and the creation's checked work when the row is valid.
pub(super) struct Converted {
    pub(super) input: NewCustomer,
    pub(super) conv_errors: Vec<FieldError>,
    pub(super) checked: Option<Checked>,
}

impl App {
    /// One row in its own savepoint: created, updated, skipped or rejected. `Err` only
    /// for failures of the database (the chunk is abandoned; the job can be resumed).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn import_row(
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
