//! Rows that duplicate a stored customer: merged into it by survivorship (`merge`), or
//! created as pending with their duplicate group queued (`review`).

use crate::import::Imports;
use serde_json::json;

use custos_store::duplicates::DuplicateGroupRow;
use custos_store::imports::ImportJobRow;
use custos_store::{now_us, CustomerRow, Tx};

use super::existing::patch_of;
use super::keys::sampled;
use super::mapping;
use super::options::ImportOptions;
use super::outcome::{field_errors_json, row_failure, stored_values, RowResult};
use crate::actor::Actor;
use crate::customers::duplicates::DuplicateReport;
use crate::customers::{view_of, CustomerPatch, CustomerView, NewCustomer};
use crate::error::{AppError, AppResult};

/// The definite candidates' codes (and the out-of-scope notice) in Chinese and English.
pub(super) fn candidate_codes(report: &DuplicateReport) -> (String, String) {
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

impl Imports<'_> {
    /// `merge`: fill the best definite in-scope candidate from the row (survivorship),
    /// through the update use case.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn merge_row(
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
        let existing = view_of(&row, &self.app.config.pii_key, false)?;
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
            .app
            .customers()
            .update_customer_in(tx, actor, &code, &patch, "update")
            .await
            .and_then(|r| view_of(&r, &self.app.config.pii_key, reveal));
        match updated {
            Ok(view) => {
                let sample = sampled(job_id, row_no, options.sample_rate).then(|| {
                    let v = if reveal { view_of(&row, &self.app.config.pii_key, true).ok() } else { None };
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

    /// Queue a duplicate group of the new pending customer and its candidates; a new
    /// group is written to the event log as a scan's is (the run announces the count
    /// when it ends, see `announce_duplicate_groups`).
    pub(super) async fn queue_import_group(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        created: &CustomerRow,
        report: &DuplicateReport,
    ) -> AppResult<Option<i64>> {
        let mut members = vec![created.id];
        let mut types = vec![created.customer_type.clone()];
        let mut pairs = Vec::new();
        for c in &report.candidates {
            if let Some(r) = tx.customer_by_code(&c.code).await? {
                members.push(r.id);
                types.push(r.customer_type.clone());
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
            source: "import".into(),
            customer_type: crate::customers::review::shared_type(types.iter()),
        };
        let id = tx.insert_duplicate_group(&row, &members).await?;
        if let Some(group_id) = id {
            crate::events::emit_other_event(
                tx,
                actor,
                crate::events::DUPLICATES_FOUND,
                json!({"group_id": group_id, "members": members, "score": score}),
            );
            self.app.quality().refresh_quality_of(tx, &members).await?;
        }
        Ok(id)
    }

    /// Announce the new duplicate groups of a run that ended, in the transaction that
    /// records its end, to every holder of `duplicate.manage` and each channel of
    /// `duplicates_found` once — as a duplicate scan does, one announcement per run.
    pub(super) async fn announce_duplicate_groups(
        &self,
        tx: &mut Tx,
        job: &ImportJobRow,
    ) -> AppResult<()> {
        let n = job.duplicate_groups;
        if n <= 0 || job.id <= 0 {
            return Ok(());
        }
        // Only a count: the groups' members may lie outside a reader's scope.
        crate::notify::notify_holders(
            tx,
            "duplicate.manage",
            crate::channels::STORED_DUPLICATES_FOUND,
            &format!("导入发现 {n} 组新的疑似重复客户"),
            &format!(
                "导入任务 #{} 新增 {n} 组疑似重复客户，已进入查重审核队列，请处理（合并或标记为不是重复）。",
                job.id
            ),
        )
        .await?;
        Ok(())
    }
}
