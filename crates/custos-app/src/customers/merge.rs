//! Merge (合并), unmerge and split (拆分) of customers.
//!
//! A merge keeps one survivor: its record takes the chosen (or, by default, the first
//! non-empty) value of every field, the names of the merged customers become former
//! names, contacts, tags and custom values are united. The merged customers keep their
//! rows and codes with status `merged`, pointing at the survivor (their codes redirect),
//! and leave the duplicate index. Everything every participant looked like before is
//! kept with the merge, so it can be undone exactly while nobody changed the survivor
//! since. A split makes new customers (new codes from the rules) out of one, moving the
//! selected contacts, and records the lineage A → A1, A2.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use custos_core::{FieldError, Violation};
use custos_store::customer_master::HistoryRow;
use custos_store::duplicates::{LineageRow, MergeRow};
use custos_store::{now_us, CustomerRow, Tx};

use super::{
    diff, in_scope, indexes_of, record_of, row_from_snapshot, scoped_customer, snapshot_of, text,
    validate, view, with_record, Contact, ContactInput, CustomerView, Lookups, NewCustomer, Record,
    EDITABLE_STATUSES,
};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::codes::issue_date;
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

/// Most customers merged into one survivor at once.
const MAX_MERGED: usize = 50;

/// Fields whose value a merge request may take from a chosen participant.
pub const CHOOSABLE_FIELDS: &[&str] = &[
    "customer_type",
    "name",
    "short_name",
    "uscc",
    "id_number",
    "legal_representative",
    "established_on",
    "registered_capital",
    "industry",
    "scale",
    "level",
    "source",
    "region_code",
    "address",
    "postal_code",
    "phone",
    "mobile",
    "email",
    "website",
    "owner_id",
    "department_id",
    "credit_rating",
    "remarks",
];

/// `POST /api/v1/customers/merge`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// Code of the customer that stays.
    #[serde(default)]
    pub survivor: String,
    /// Codes of the customers merged into it.
    #[serde(default)]
    pub merged: Vec<String>,
    /// Field → code of the participant whose value the survivor takes. Fields not
    /// named keep the survivor's value, or the first merged customer's when the
    /// survivor has none.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Why (required; kept in the history and audit log).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MergeResult {
    pub merge_id: i64,
    pub survivor: CustomerView,
    pub merged: Vec<String>,
}

/// A merge as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MergeInfo {
    pub merge_id: i64,
    pub survivor: String,
    pub merged: Vec<String>,
    pub at: String,
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub undone_at: Option<String>,
}

/// `POST /api/v1/customers/{code}/split`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// The new customers; each gets a code from the rules.
    #[serde(default)]
    pub parts: Vec<SplitPart>,
    /// `keep` (default): the original stays with its code; `retire`: it is retired.
    #[serde(default)]
    pub original: Option<String>,
    /// Why (required).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitPart {
    /// The new customer's fields (its `contacts` are added to those moved).
    pub customer: NewCustomer,
    /// Ids of the original's contacts that move to this part.
    #[serde(default)]
    pub contacts: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SplitResult {
    pub original: CustomerView,
    pub parts: Vec<CustomerView>,
}

/// One edge of a customer's lineage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineageEdge {
    /// `merge` (from: merged customer, to: survivor) or `split` (from: original, to: part).
    pub kind: String,
    pub from: String,
    pub to: String,
    /// Merge id, or the history entry of the split.
    pub op_id: i64,
    pub at: String,
}

/// What a merge keeps to be undone.
#[derive(Debug, Serialize, Deserialize)]
struct Before {
    participants: Vec<Participant>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Participant {
    id: i64,
    code: String,
    /// The row before (`Snapshot` JSON).
    snapshot: String,
    /// row_version right after the merge.
    version_after: i64,
    code_status: String,
}

fn reason_required(reason: &Option<String>, errors: &mut Vec<FieldError>) {
    if reason.is_none() {
        errors.push(
            Violation::new(
                "reason.required",
                "此操作须填写原因",
                "this operation needs a reason",
            )
            .on("reason"),
        );
    }
}

fn not_mergeable(code: &str, status: &str) -> AppError {
    AppError::Rejected(Violation::new(
        "customer.not_mergeable",
        format!("客户“{code}”状态为 {status}，不能参与合并或拆分"),
        format!("customer '{code}' is {status} and cannot be merged or split"),
    ))
}

/// Take `field` of `from` into `to`.
fn take_field(to: &mut Record, from: &Record, field: &str) {
    macro_rules! take {
        ($($f:ident),*) => {
            match field {
                $( stringify!($f) => to.$f = from.$f.clone(), )*
                _ => {}
            }
        };
    }
    take!(
        customer_type,
        name,
        short_name,
        uscc,
        id_number,
        legal_representative,
        established_on,
        registered_capital,
        industry,
        scale,
        level,
        source,
        region_code,
        address,
        postal_code,
        phone,
        mobile,
        email,
        website,
        owner_id,
        department_id,
        credit_rating,
        remarks
    );
}

/// Fill the survivor's empty optional fields from `other`.
fn fill_empty(to: &mut Record, other: &Record) {
    macro_rules! fill {
        ($($f:ident),*) => { $( if to.$f.is_none() { to.$f = other.$f.clone(); } )* };
    }
    with_optional_fields!(fill);
}

/// The merged record: survivorship by choice, then survivor first, then merged in order.
fn survive(
    survivor: &Record,
    others: &[(String, Record)],
    survivor_code: &str,
    choices: &BTreeMap<String, String>,
) -> Record {
    let mut out = survivor.clone();
    for (_, other) in others {
        fill_empty(&mut out, other);
    }
    for (field, code) in choices {
        if code == survivor_code {
            take_field(&mut out, survivor, field);
        } else if let Some((_, r)) = others.iter().find(|(c, _)| c == code) {
            take_field(&mut out, r, field);
        }
    }
    // Names of every participant that are not the final name become former names.
    let mut former: Vec<String> = out.former_names.clone();
    let add_name = |n: &str, former: &mut Vec<String>| {
        if !n.is_empty() && n != out.name && !former.iter().any(|f| f == n) {
            former.push(n.to_string());
        }
    };
    add_name(&survivor.name, &mut former);
    for (_, r) in others {
        add_name(&r.name, &mut former);
        for f in &r.former_names {
            add_name(f, &mut former);
        }
    }
    out.former_names = former;
    for (_, r) in others {
        for t in &r.tags {
            if !out.tags.contains(t) {
                out.tags.push(t.clone());
            }
        }
        for (k, v) in &r.custom {
            out.custom.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // Contacts: all of them, new ids after the survivor's, the same person once.
    let mut next_id = out.contacts.iter().map(|c| c.id).max().unwrap_or(0) + 1;
    let has_primary = out.contacts.iter().any(|c| c.is_primary);
    for (_, r) in others {
        for c in &r.contacts {
            let same = out.contacts.iter().any(|k| {
                k.name == c.name && k.mobile == c.mobile && k.phone == c.phone && k.email == c.email
            });
            if !same {
                out.contacts.push(Contact {
                    id: next_id,
                    is_primary: c.is_primary && !has_primary,
                    ..c.clone()
                });
                next_id += 1;
            }
        }
    }
    out
}

impl App {
    /// Load a customer by code for a merge or split: present, in scope and editable.
    async fn participant(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        scope: Scope,
        code: &str,
    ) -> AppResult<CustomerRow> {
        let row = scoped_customer(tx, actor, scope, code).await?;
        if !EDITABLE_STATUSES.contains(&row.status.as_str()) {
            return Err(not_mergeable(&row.code, &row.status));
        }
        Ok(row)
    }

    /// Write `new` over `row` (optimistic on its version), refresh its indexes and add a
    /// history entry. Returns the stored row.
    #[allow(clippy::too_many_arguments)]
    async fn rewrite_customer(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
        old: &Record,
        new: &Record,
        action: &str,
        reason: Option<String>,
        live: bool,
    ) -> AppResult<CustomerRow> {
        let key = &self.config.pii_key;
        let now = now_us();
        let updated = tx.update_customer(&with_record(row, new, key, now)).await?;
        let indexes = if live {
            indexes_of(new, key)
        } else {
            Default::default()
        };
        tx.replace_customer_indexes(row.id, &indexes, false).await?;
        tx.insert_customer_history(&HistoryRow {
            id: 0,
            customer_id: row.id,
            row_version: updated.row_version,
            at: now,
            actor_id: Some(actor.user_id),
            actor_name: actor.username.clone(),
            action: action.to_string(),
            reason,
            changes: serde_json::to_string(&diff(old, new)).unwrap_or_default(),
            snapshot: snapshot_of(&updated),
        })
        .await?;
        Ok(updated)
    }

    /// Merge customers into a survivor (`customer.merge`). Concurrent merges of
    /// overlapping sets: the first to commit wins, the other fails with a conflict.
    pub async fn merge_customers(
        &self,
        actor: &Actor,
        req: MergeRequest,
    ) -> AppResult<MergeResult> {
        let mut tx = self.db.begin().await?;
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
        let key = &self.config.pii_key;
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
        let mut seen = HashSet::new();
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
        for (field, code) in &req.fields {
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
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let choices: BTreeMap<String, String> = req
            .fields
            .iter()
            .map(|(f, c)| (f.clone(), c.trim().to_ascii_uppercase()))
            .collect();

        tx.lock_audit_head().await?;
        let survivor_row = self.participant(tx, actor, scope, &survivor_code).await?;
        let survivor_rec = record_of(&survivor_row, key)?;
        let mut others: Vec<(CustomerRow, Record)> = Vec::new();
        for c in &merged_codes {
            let row = self.participant(tx, actor, scope, c).await?;
            let rec = record_of(&row, key)?;
            others.push((row, rec));
        }
        // Two different registration numbers or ID numbers are two different parties:
        // merging them would lose one of them, unless the request says whose to keep.
        for (field, get) in [
            (
                "uscc",
                (|r: &Record| r.uscc.clone()) as fn(&Record) -> Option<String>,
            ),
            ("id_number", |r: &Record| r.id_number.clone()),
        ] {
            let mut values: Vec<(String, String)> = Vec::new();
            if let Some(v) = get(&survivor_rec) {
                values.push((survivor_code.clone(), v));
            }
            for (row, rec) in &others {
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
        let named: Vec<(String, Record)> = others
            .iter()
            .map(|(r, rec)| (r.code.clone(), rec.clone()))
            .collect();
        let merged_rec = survive(&survivor_rec, &named, &survivor_code, &choices);
        let today = issue_date(self.config.code_timezone);
        let reference = self.reference(tx).await?;
        let merged_rec = validate(merged_rec, today, &reference).map_err(AppError::Validation)?;

        let mut participants = Vec::new();
        let survivor_after = self
            .rewrite_customer(
                tx,
                actor,
                &survivor_row,
                &survivor_rec,
                &merged_rec,
                "merge",
                reason.clone(),
                true,
            )
            .await?;
        participants.push(Participant {
            id: survivor_row.id,
            code: survivor_row.code.clone(),
            snapshot: snapshot_of(&survivor_row),
            version_after: survivor_after.row_version,
            code_status: code_status(tx, &survivor_row.code).await?,
        });
        let merge_id = tx
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
                reason: reason.clone(),
                undone_at: None,
                undone_by: None,
            })
            .await?;
        let now = now_us();
        for (row, rec) in &others {
            let code_status = code_status(tx, &row.code).await?;
            let gone = Record {
                status: "merged".into(),
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
                    reason.clone(),
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

        // Review-queue groups: the one this merge decides, and others it made moot.
        let mut ids: Vec<i64> = others.iter().map(|(r, _)| r.id).collect();
        ids.push(survivor_row.id);
        for g in tx.open_groups_with(&ids).await? {
            let status = if Some(g) == group { "merged" } else { "stale" };
            tx.decide_duplicate_group(
                g,
                status,
                now,
                actor.user_id,
                reason.as_deref(),
                Some(merge_id),
            )
            .await?;
        }

        let mut r = record(actor, "customer.merge", "customer", &survivor_row.code);
        r.after = to_json(&serde_json::json!({
            "merge_id": merge_id,
            "survivor": survivor_row.code,
            "merged": merged_codes,
            "fields": choices,
            "group": group,
        }));
        r.reason = reason;
        append(tx, r).await?;
        let reveal = actor.can("customer.pii.read");
        Ok(MergeResult {
            merge_id,
            survivor: view(&survivor_after, &merged_rec, reveal),
            merged: merged_codes,
        })
    }

    /// Undo a merge: every participant back as it was (`customer.merge`). Refused when
    /// the survivor or a merged customer changed since.
    pub async fn unmerge(
        &self,
        actor: &Actor,
        merge_id: i64,
        reason: Option<String>,
    ) -> AppResult<Vec<CustomerView>> {
        let scope = actor.require("customer.merge")?;
        let key = &self.config.pii_key;
        let mut errors = Vec::new();
        let reason = text("reason", reason.as_deref(), 500, &mut errors);
        reason_required(&reason, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.db.begin().await?;
        tx.lock_audit_head().await?;
        let m = tx
            .merge_record(merge_id)
            .await?
            .ok_or_else(|| AppError::not_found("merge", merge_id))?;
        if m.undone_at.is_some() {
            return Err(AppError::Conflict(Violation::new(
                "merge.already_undone",
                format!("合并 {merge_id} 已被撤销"),
                format!("merge {merge_id} was already undone"),
            )));
        }
        let before: Before = serde_json::from_str(&m.before)
            .map_err(|e| AppError::Internal(format!("merge {merge_id} unreadable: {e}")))?;
        let mut current = Vec::new();
        for p in &before.participants {
            let row = tx
                .customer(p.id)
                .await?
                .ok_or_else(|| AppError::Internal(format!("customer {} vanished", p.id)))?;
            if !in_scope(&mut tx, actor, scope, &row).await? {
                return Err(AppError::not_found("merge", merge_id));
            }
            if row.row_version != p.version_after {
                let later: Vec<String> = tx
                    .customer_history(row.id)
                    .await?
                    .into_iter()
                    .filter(|h| h.row_version > p.version_after)
                    .map(|h| format!("{} {} ({})", format_time(h.at), h.action, h.actor_name))
                    .collect();
                return Err(AppError::Conflict(Violation::new(
                    "merge.changed_since",
                    format!(
                        "客户“{}”在合并后又被修改（{}），无法自动撤销合并；请先撤回这些修改",
                        row.code,
                        later.join("；")
                    ),
                    format!(
                        "customer '{}' changed after the merge ({}); undo those changes first",
                        row.code,
                        later.join("; ")
                    ),
                )));
            }
            current.push(row);
        }
        let mut views = Vec::new();
        for (p, row) in before.participants.iter().zip(&current) {
            let restored = row_from_snapshot(row, &p.snapshot)?;
            let old = record_of(row, key)?;
            let new = record_of(&restored, key)?;
            let after = self
                .rewrite_customer(
                    &mut tx,
                    actor,
                    row,
                    &old,
                    &new,
                    "unmerge",
                    reason.clone(),
                    true,
                )
                .await?;
            tx.set_merged_into(row.id, None).await?;
            tx.update_code(&row.code, Some(row.id), &p.code_status, None)
                .await?;
            views.push(view(&after, &new, actor.can("customer.pii.read")));
        }
        tx.delete_lineage("merge", merge_id).await?;
        tx.mark_merge_undone(merge_id, now_us(), actor.user_id)
            .await?;
        let survivor = &before.participants[0].code;
        let mut r = record(actor, "customer.unmerge", "customer", survivor);
        r.after = to_json(&serde_json::json!({
            "merge_id": merge_id,
            "restored": before.participants.iter().map(|p| &p.code).collect::<Vec<_>>(),
        }));
        r.reason = reason;
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(views)
    }

    /// Merges a customer took part in, newest first.
    pub async fn merges_of(&self, actor: &Actor, code: &str) -> AppResult<Vec<MergeInfo>> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        let mut out = Vec::new();
        for m in tx.merges_of(row.id).await? {
            let ids: Vec<i64> = serde_json::from_str(&m.merged_ids).unwrap_or_default();
            let mut all = ids.clone();
            all.push(m.survivor_id);
            let rows = tx.customers_by_ids(&all).await?;
            let code_of = |id: i64| {
                rows.iter()
                    .find(|r| r.id == id)
                    .map(|r| r.code.clone())
                    .unwrap_or_default()
            };
            out.push(MergeInfo {
                merge_id: m.id,
                survivor: code_of(m.survivor_id),
                merged: ids.iter().map(|&i| code_of(i)).collect(),
                at: format_time(m.at),
                actor_id: m.actor_id,
                reason: m.reason,
                undone_at: m.undone_at.map(format_time),
            });
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Lineage edges (merges and splits) touching a customer.
    pub async fn lineage(&self, actor: &Actor, code: &str) -> AppResult<Vec<LineageEdge>> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        let edges = tx.lineage_of(row.id).await?;
        let mut ids: Vec<i64> = edges
            .iter()
            .flat_map(|e| [e.parent_id, e.child_id])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let rows = tx.customers_by_ids(&ids).await?;
        tx.rollback().await?;
        let code_of = |id: i64| {
            rows.iter()
                .find(|r| r.id == id)
                .map(|r| r.code.clone())
                .unwrap_or_default()
        };
        Ok(edges
            .into_iter()
            .map(|e| LineageEdge {
                kind: e.kind,
                from: code_of(e.parent_id),
                to: code_of(e.child_id),
                op_id: e.op_id,
                at: format_time(e.at),
            })
            .collect())
    }

    /// Split a customer into new ones (`customer.merge`): each part is created through
    /// the normal creation (validation, code from the rules, duplicate check against
    /// everything but the original), the selected contacts move to it, and the original
    /// keeps its code or is retired.
    pub async fn split_customer(
        &self,
        actor: &Actor,
        code: &str,
        req: SplitRequest,
    ) -> AppResult<SplitResult> {
        let mut tx = self.db.begin().await?;
        let result = self.split_in(&mut tx, actor, code, req).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// The split inside `tx` (a direct split, or an approved `split` application).
    pub(crate) async fn split_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        code: &str,
        req: SplitRequest,
    ) -> AppResult<SplitResult> {
        let scope = actor.require("customer.merge")?;
        let create_scope = actor.require("customer.create")?;
        let key = &self.config.pii_key;
        let mut errors = Vec::new();
        let reason = text("reason", req.reason.as_deref(), 500, &mut errors);
        reason_required(&reason, &mut errors);
        let retire = match req.original.as_deref().map(str::trim) {
            None | Some("") | Some("keep") => false,
            Some("retire") => true,
            Some(other) => {
                errors.push(
                    Violation::new(
                        "split.original_invalid",
                        format!("original 只能是 keep 或 retire（收到“{other}”）"),
                        format!("original must be keep or retire (got '{other}')"),
                    )
                    .on("original"),
                );
                false
            }
        };
        if req.parts.is_empty() {
            errors.push(
                Violation::new(
                    "split.parts_required",
                    "请至少给出一个拆分后的新客户",
                    "give at least one new part",
                )
                .on("parts"),
            );
        } else if req.parts.len() > MAX_MERGED {
            errors.push(
                Violation::new(
                    "split.too_many",
                    format!("一次最多拆分出 {MAX_MERGED} 个客户"),
                    format!("at most {MAX_MERGED} parts per split"),
                )
                .on("parts"),
            );
        }
        tx.lock_audit_head().await?;
        let row = self.participant(tx, actor, scope, code).await?;
        let old = record_of(&row, key)?;
        let mut moved: HashSet<i64> = HashSet::new();
        for (i, part) in req.parts.iter().enumerate() {
            for id in &part.contacts {
                if !old.contacts.iter().any(|c| c.id == *id) {
                    errors.push(
                        Violation::new(
                            "split.contact_unknown",
                            format!("联系人 {id} 不属于客户“{}”", row.code),
                            format!("contact {id} does not belong to customer '{}'", row.code),
                        )
                        .on(format!("parts[{i}].contacts")),
                    );
                } else if !moved.insert(*id) {
                    errors.push(
                        Violation::new(
                            "split.contact_twice",
                            format!("联系人 {id} 被分配给了多个新客户"),
                            format!("contact {id} is given to more than one part"),
                        )
                        .on(format!("parts[{i}].contacts")),
                    );
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut lookups = Lookups::default();
        let mut parts = Vec::new();
        let mut part_rows = Vec::new();
        for (i, part) in req.parts.into_iter().enumerate() {
            let mut input = part.customer;
            for id in &part.contacts {
                if let Some(c) = old.contacts.iter().find(|c| c.id == *id) {
                    input.contacts.push(ContactInput {
                        name: Some(c.name.clone()),
                        title: c.title.clone(),
                        mobile: c.mobile.clone(),
                        phone: c.phone.clone(),
                        email: c.email.clone(),
                        is_primary: Some(c.is_primary),
                    });
                }
            }
            if input.reason.is_none() {
                input.reason = reason.clone();
            }
            let created = self
                .insert_new_customer_excluding(
                    tx,
                    &mut lookups,
                    actor,
                    create_scope,
                    input,
                    None,
                    &[row.id],
                )
                .await;
            let (prow, prec, _) =
                created.map_err(|e| prefix_fields(e, &format!("parts[{i}].customer")))?;
            parts.push(view(&prow, &prec, actor.can("customer.pii.read")));
            part_rows.push(prow);
        }
        let mut new = old.clone();
        new.contacts.retain(|c| !moved.contains(&c.id));
        if retire {
            new.status = "retired".into();
        }
        let after = self
            .rewrite_customer(tx, actor, &row, &old, &new, "split", reason.clone(), true)
            .await?;
        if retire {
            tx.update_code(&row.code, Some(row.id), "retired", None)
                .await?;
        }
        let op = tx
            .customer_history(row.id)
            .await?
            .last()
            .map_or(0, |h| h.id);
        let now = now_us();
        for p in &part_rows {
            tx.insert_lineage(&LineageRow {
                parent_id: row.id,
                child_id: p.id,
                kind: "split".into(),
                op_id: op,
                at: now,
            })
            .await?;
        }
        let mut r = record(actor, "customer.split", "customer", &row.code);
        r.after = to_json(&serde_json::json!({
            "parts": part_rows.iter().map(|p| &p.code).collect::<Vec<_>>(),
            "moved_contacts": moved.iter().collect::<Vec<_>>(),
            "original": if retire { "retired" } else { "kept" },
        }));
        r.reason = reason;
        append(tx, r).await?;
        Ok(SplitResult {
            original: view(&after, &new, actor.can("customer.pii.read")),
            parts,
        })
    }
}

fn prefix_fields(e: AppError, prefix: &str) -> AppError {
    match e {
        AppError::Validation(fields) => AppError::Validation(
            fields
                .into_iter()
                .map(|f| FieldError {
                    field: format!("{prefix}.{}", f.field),
                    violation: f.violation,
                })
                .collect(),
        ),
        other => other,
    }
}

async fn code_status(tx: &mut Tx, code: &str) -> AppResult<String> {
    Ok(tx
        .code(code)
        .await?
        .map_or_else(|| "active".to_string(), |c| c.status))
}
