//! The merge itself: the request is checked, the participants loaded, the survivor
//! rewritten with the united record, the merged customers retired into it (their codes
//! redirect), and what everyone looked like before kept for an undo.

use crate::customers::Customers;
use std::collections::{BTreeMap, HashSet};

use custos_core::{FieldError, Violation};
use custos_store::duplicates::{LineageRow, MergeRow};
use custos_store::{now_us, CustomerRow, Tx};

use super::survivorship::survive;
use super::{
    reason_required, Before, MergeRequest, MergeResult, Participant, CHOOSABLE_FIELDS, MAX_MERGED,
};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::codes::issue_date;
use crate::customers::{
    record_of, snapshot_of, text, validate, view, CustomerStatus, OptionalText, Record,
};
use crate::error::{AppError, AppResult};
use crate::to_json;

/// A merge request that passed its checks: codes upper-cased and trimmed.
struct MergeOrder {
    reason: Option<String>,
    survivor_code: String,
    merged_codes: Vec<String>,
    /// Field → code of the participant whose value the survivor takes.
    choices: BTreeMap<String, String>,
}

/// Check a merge request and report every problem (all but the count limit, which
/// stops the checks before they look every code up).
fn checked_order(req: &MergeRequest) -> AppResult<MergeOrder> {
    let mut errors = Vec::new();
    let reason = text("reason", req.reason.as_deref(), 500, &mut errors);
    reason_required(&reason, &mut errors);
    let survivor_code = req.survivor.trim().to_ascii_uppercase();
    if survivor_code.is_empty() {
        errors.push(
            Violation::new(
                "survivor.required",
                "请指定保留的客户编码",
                "name the surviving customer's code",
            )
            .on("survivor"),
        );
    }
    let merged_codes: Vec<String> = req
        .merged
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .collect();
    if merged_codes.is_empty() {
        errors.push(
            Violation::new(
                "merged.required",
                "请至少指定一个被合并的客户编码",
                "name at least one customer to merge",
            )
            .on("merged"),
        );
    } else if merged_codes.len() > MAX_MERGED {
        errors.push(
            Violation::new(
                "merged.too_many",
                format!("一次最多合并 {MAX_MERGED} 个客户"),
                format!("at most {MAX_MERGED} customers per merge"),
            )
            .on("merged"),
        );
        // Limits before work: the checks below look every code up.
        return Err(AppError::Validation(errors));
    }
    repeated_code_errors(&survivor_code, &merged_codes, &mut errors);
    field_choice_errors(&req.fields, &survivor_code, &merged_codes, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let choices = req
        .fields
        .iter()
        .map(|(f, c)| (f.clone(), c.trim().to_ascii_uppercase()))
        .collect();
    Ok(MergeOrder {
        reason,
        survivor_code,
        merged_codes,
        choices,
    })
}

/// A merged code that is the survivor's or appears twice.
fn repeated_code_errors(
    survivor_code: &str,
    merged_codes: &[String],
    errors: &mut Vec<FieldError>,
) {
    let mut seen = HashSet::new();
    for (i, c) in merged_codes.iter().enumerate() {
        if *c == survivor_code || !seen.insert(c.clone()) {
            errors.push(
                Violation::new(
                    "merged.repeated",
                    format!("客户“{c}”重复出现"),
                    format!("customer '{c}' appears twice"),
                )
                .on(format!("merged[{i}]")),
            );
        }
    }
}

/// A chosen field that cannot be chosen, or whose source is not part of the merge.
fn field_choice_errors(
    fields: &BTreeMap<String, String>,
    survivor_code: &str,
    merged_codes: &[String],
    errors: &mut Vec<FieldError>,
) {
    for (field, code) in fields {
        let code = code.trim().to_ascii_uppercase();
        if !CHOOSABLE_FIELDS.contains(&field.as_str()) {
            errors.push(
                Violation::new(
                    "merge.field_unknown",
                    format!(
                        "字段“{field}”不能在合并时选择来源（可选：{}）",
                        CHOOSABLE_FIELDS.join("、")
                    ),
                    format!(
                        "field '{field}' cannot be chosen in a merge (allowed: {})",
                        CHOOSABLE_FIELDS.join(", ")
                    ),
                )
                .on(format!("fields.{field}")),
            );
        } else if code != survivor_code && !merged_codes.contains(&code) {
            errors.push(
                Violation::new(
                    "merge.field_source",
                    format!("“{code}”不是本次合并的客户"),
                    format!("'{code}' is not part of this merge"),
                )
                .on(format!("fields.{field}")),
            );
        }
    }
}

/// Two different registration numbers or ID numbers are two different parties:
/// merging them would lose one of them, unless the request says whose to keep.
fn refuse_identifier_conflicts(
    survivor_code: &str,
    survivor_rec: &Record,
    others: &[(CustomerRow, Record)],
    choices: &BTreeMap<String, String>,
) -> AppResult<()> {
    for (field, get) in [
        (
            "uscc",
            (|r: &Record| r.uscc.text().map(str::to_string)) as fn(&Record) -> Option<String>,
        ),
        ("id_number", |r: &Record| {
            r.id_number.text().map(str::to_string)
        }),
    ] {
        let mut values: Vec<(String, String)> = Vec::new();
        if let Some(v) = get(survivor_rec) {
            values.push((survivor_code.to_string(), v));
        }
        for (row, rec) in others {
            if let Some(v) = get(rec) {
                values.push((row.code.clone(), v));
            }
        }
        let distinct: HashSet<&String> = values.iter().map(|(_, v)| v).collect();
        if distinct.len() > 1 && !choices.contains_key(field) {
            let codes: Vec<&str> = values.iter().map(|(c, _)| c.as_str()).collect();
            return Err(AppError::Rejected(Violation::new(
                "merge.identifier_conflict",
                format!(
                    "参与合并的客户（{}）的{}不同，可能不是同一主体；如确需合并，请在 fields 中指定保留哪一个",
                    codes.join("、"),
                    if field == "uscc" { "统一社会信用代码" } else { "身份证号" }
                ),
                format!(
                    "the customers ({}) have different {field} values and may be different parties; to merge anyway, choose one in `fields`",
                    codes.join(", ")
                ),
            )));
        }
    }
    Ok(())
}

impl Customers<'_> {
    /// Merge customers into a survivor (`customer.merge`). Concurrent merges of
    /// overlapping sets: the first to commit wins, the other fails with a conflict.
    pub async fn merge_customers(
        &self,
        actor: &Actor,
        req: MergeRequest,
    ) -> AppResult<MergeResult> {
        let mut tx = self.app.db.begin().await?;
        let result = self.merge_in(&mut tx, actor, req, None).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// The merge inside `tx`; `group` is the review-queue group it decides, if any.
    pub(crate) async fn merge_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        req: MergeRequest,
        group: Option<i64>,
    ) -> AppResult<MergeResult> {
        let scope = actor.require("customer.merge")?;
        let key = &self.app.config.pii_key.pinned();
        let order = checked_order(&req)?;

        tx.lock_audit_head().await?;
        let survivor_row = self
            .participant(tx, actor, scope, &order.survivor_code)
            .await?;
        let survivor_rec = record_of(&survivor_row, key)?;
        let mut others: Vec<(CustomerRow, Record)> = Vec::new();
        for c in &order.merged_codes {
            let row = self.participant(tx, actor, scope, c).await?;
            let rec = record_of(&row, key)?;
            others.push((row, rec));
        }
        refuse_identifier_conflicts(&order.survivor_code, &survivor_rec, &others, &order.choices)?;
        let named: Vec<(String, Record)> = others
            .iter()
            .map(|(r, rec)| (r.code.clone(), rec.clone()))
            .collect();
        let merged_rec = survive(&survivor_rec, &named, &order.survivor_code, &order.choices);
        let today = issue_date(self.app.config.code_timezone);
        let reference = self.reference(tx).await?;
        let merged_rec =
            validate(merged_rec.draft(), today, &reference).map_err(AppError::Validation)?;

        let survivor_after = self
            .rewrite_customer(
                tx,
                actor,
                &survivor_row,
                &survivor_rec,
                &merged_rec,
                "merge",
                order.reason.clone(),
                true,
            )
            .await?;
        let participants = vec![Participant {
            id: survivor_row.id,
            code: survivor_row.code.clone(),
            snapshot: snapshot_of(&survivor_row),
            version_after: survivor_after.row_version,
            code_status: code_status(tx, &survivor_row.code).await?,
        }];
        let merge_id =
            insert_merge_row(tx, actor, &survivor_row, &survivor_after, &others, &order).await?;
        let now = now_us();
        self.retire_merged(
            tx,
            actor,
            &survivor_row,
            &others,
            merge_id,
            now,
            &order,
            participants,
        )
        .await?;
        let merged_ids: Vec<i64> = others.iter().map(|(r, _)| r.id).collect();
        crate::activities::carry_merged(tx, survivor_row.id, &merged_ids).await?;
        let mut moved = merged_ids.clone();
        moved.push(survivor_row.id);
        self.app
            .lifecycle()
            .settle_lifecycles(tx, actor, &moved, "merge")
            .await?;
        let regrouped = settle_review_groups(
            tx,
            actor,
            &survivor_row,
            &others,
            group,
            merge_id,
            now,
            &order,
        )
        .await?;
        // Members of the groups this merge closed are no longer suspected duplicates.
        self.app
            .quality()
            .refresh_quality_of(tx, &regrouped)
            .await?;

        crate::events::emit_customer_event(
            tx,
            actor,
            &survivor_after,
            crate::events::CUSTOMER_MERGED,
            serde_json::json!({
                "merge_id": merge_id,
                "survivor": survivor_row.code,
                "merged": order.merged_codes,
            }),
        );
        let mut r = record(actor, "customer.merge", "customer", &survivor_row.code);
        r.after = to_json(&serde_json::json!({
            "merge_id": merge_id,
            "survivor": survivor_row.code,
            "merged": order.merged_codes,
            "fields": order.choices,
            "group": group,
        }));
        r.reason = order.reason;
        append(tx, r).await?;
        let reveal = actor.can("customer.pii.read");
        Ok(MergeResult {
            merge_id,
            survivor: view(&survivor_after, &merged_rec, reveal),
            merged: order.merged_codes,
        })
    }

    /// The merged customers become `merged` into the survivor (their codes redirect,
    /// the lineage records the edge), and what every participant looked like before is
    /// kept with the merge.
    #[allow(clippy::too_many_arguments)]
    async fn retire_merged(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        survivor_row: &CustomerRow,
        others: &[(CustomerRow, Record)],
        merge_id: i64,
        now: i64,
        order: &MergeOrder,
        mut participants: Vec<Participant>,
    ) -> AppResult<()> {
        for (row, rec) in others {
            let code_status = code_status(tx, &row.code).await?;
            let gone = Record {
                status: CustomerStatus::Merged,
                ..rec.clone()
            };
            let after = self
                .rewrite_customer(
                    tx,
                    actor,
                    row,
                    rec,
                    &gone,
                    "merged_into",
                    order.reason.clone(),
                    false,
                )
                .await?;
            tx.set_merged_into(row.id, Some(survivor_row.id)).await?;
            tx.update_code(&row.code, Some(row.id), "merged", Some(&survivor_row.code))
                .await?;
            tx.insert_lineage(&LineageRow {
                parent_id: row.id,
                child_id: survivor_row.id,
                kind: "merge".into(),
                op_id: merge_id,
                at: now,
            })
            .await?;
            participants.push(Participant {
                id: row.id,
                code: row.code.clone(),
                snapshot: snapshot_of(row),
                version_after: after.row_version,
                code_status,
            });
        }
        let before = serde_json::to_string(&Before { participants }).unwrap_or_default();
        tx.set_merge_before(merge_id, &before).await?;
        Ok(())
    }
}

/// Record the merge (its `before` is filled in once every participant is rewritten).
async fn insert_merge_row(
    tx: &mut Tx,
    actor: &Actor,
    survivor_row: &CustomerRow,
    survivor_after: &CustomerRow,
    others: &[(CustomerRow, Record)],
    order: &MergeOrder,
) -> AppResult<i64> {
    Ok(tx
        .insert_merge(&MergeRow {
            id: 0,
            survivor_id: survivor_row.id,
            merged_ids: serde_json::to_string(
                &others.iter().map(|(r, _)| r.id).collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
            before: String::new(),
            survivor_version: survivor_after.row_version,
            at: now_us(),
            actor_id: Some(actor.user_id),
            reason: order.reason.clone(),
            undone_at: None,
            undone_by: None,
        })
        .await?)
}

/// Review-queue groups: the one this merge decides becomes `merged`, others it made
/// moot become `stale`.
#[allow(clippy::too_many_arguments)]
async fn settle_review_groups(
    tx: &mut Tx,
    actor: &Actor,
    survivor_row: &CustomerRow,
    others: &[(CustomerRow, Record)],
    group: Option<i64>,
    merge_id: i64,
    now: i64,
    order: &MergeOrder,
) -> AppResult<Vec<i64>> {
    let mut ids: Vec<i64> = others.iter().map(|(r, _)| r.id).collect();
    ids.push(survivor_row.id);
    let mut members = Vec::new();
    for g in tx.open_groups_with(&ids).await? {
        members.extend(tx.duplicate_group_members(g).await?);
        let status = if Some(g) == group { "merged" } else { "stale" };
        tx.decide_duplicate_group(
            g,
            status,
            now,
            actor.user_id,
            order.reason.as_deref(),
            Some(merge_id),
        )
        .await?;
    }
    members.sort_unstable();
    members.dedup();
    Ok(members)
}

/// The registry status of a code (`active` when the registry has no entry).
async fn code_status(tx: &mut Tx, code: &str) -> AppResult<String> {
    Ok(tx
        .code(code)
        .await?
        .map_or_else(|| "active".to_string(), |c| c.status))
}
