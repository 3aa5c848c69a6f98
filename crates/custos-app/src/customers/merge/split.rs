//! Split (拆分): new customers made out of one, with the selected contacts and business
//! records moved to them (the other records stay with the original), and the lineage
//! A → A1, A2 recorded.

use crate::customers::Customers;
use std::collections::HashSet;

use custos_core::{FieldError, Violation};
use custos_store::duplicates::LineageRow;
use custos_store::{now_us, CustomerRow, Tx};

use super::{reason_required, SplitPart, SplitRequest, SplitResult, MAX_MERGED};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::customers::{
    record_of, text, view, ContactInput, CustomerStatus, CustomerView, Lookups, NewCustomer, Record,
};
use crate::error::{AppError, AppResult};
use crate::to_json;

/// Check the request's own fields; returns the reason and whether the original retires.
fn checked_request(req: &SplitRequest, errors: &mut Vec<FieldError>) -> (Option<String>, bool) {
    let reason = text("reason", req.reason.as_deref(), 500, errors);
    reason_required(&reason, errors);
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
    (reason, retire)
}

/// The original's contacts that move to a part; each must be the original's and go
/// to one part only.
fn moved_contacts(
    parts: &[SplitPart],
    row: &CustomerRow,
    old: &Record,
    errors: &mut Vec<FieldError>,
) -> HashSet<i64> {
    let mut moved: HashSet<i64> = HashSet::new();
    for (i, part) in parts.iter().enumerate() {
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
    moved
}

/// The creation input of a part: its own fields plus the contacts moved to it, and the
/// split's reason when it gives none.
fn part_input(part: SplitPart, old: &Record, reason: &Option<String>) -> NewCustomer {
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
    input
}

impl Customers<'_> {
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
        let mut tx = self.app.db.begin().await?;
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
        let key = &self.app.config.pii_key.pinned();
        let mut errors = Vec::new();
        let (reason, retire) = checked_request(&req, &mut errors);
        tx.lock_audit_head().await?;
        let row = self.participant(tx, actor, scope, code).await?;
        let old = record_of(&row, key)?;
        let moved = moved_contacts(&req.parts, &row, &old, &mut errors);
        let records: Vec<Vec<i64>> = req.parts.iter().map(|p| p.activities.clone()).collect();
        crate::activities::check_split_records(tx, row.id, &records, &mut errors).await?;
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let (parts, part_rows) = self
            .create_parts(tx, actor, create_scope, &row, &old, req.parts, &reason)
            .await?;
        let mut new = old.clone();
        new.contacts.retain(|c| !moved.contains(&c.id));
        if retire {
            new.status = CustomerStatus::Retired;
        }
        let after = self
            .rewrite_customer(tx, actor, &row, &old, &new, "split", reason.clone(), true)
            .await?;
        if retire {
            tx.update_code(&row.code, Some(row.id), "retired", None)
                .await?;
        }
        record_split_lineage(tx, &row, &part_rows).await?;
        let part_ids: Vec<i64> = part_rows.iter().map(|p| p.id).collect();
        crate::activities::carry_split(tx, row.id, &part_ids, &records).await?;
        let mut moved = part_ids.clone();
        moved.push(row.id);
        self.app
            .lifecycle()
            .settle_lifecycles(tx, actor, &moved, "split")
            .await?;
        crate::events::emit_customer_event(
            tx,
            actor,
            &after,
            crate::events::CUSTOMER_SPLIT,
            serde_json::json!({
                "parts": part_rows.iter().map(|p| &p.code).collect::<Vec<_>>(),
                "original": if retire { "retired" } else { "kept" },
            }),
        );
        let mut r = record(actor, "customer.split", "customer", &row.code);
        r.after = to_json(&serde_json::json!({
            "parts": part_rows.iter().map(|p| &p.code).collect::<Vec<_>>(),
            "moved_contacts": moved.iter().collect::<Vec<_>>(),
            "moved_activities": records.iter().flatten().collect::<Vec<_>>(),
            "original": if retire { "retired" } else { "kept" },
        }));
        r.reason = reason;
        append(tx, r).await?;
        Ok(SplitResult {
            original: view(&after, &new, actor.can("customer.pii.read")),
            parts,
        })
    }

    /// Create every part through the normal creation; errors of part `i` are reported
    /// under `parts[i].customer`.
    #[allow(clippy::too_many_arguments)]
    async fn create_parts(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        create_scope: Scope,
        row: &CustomerRow,
        old: &Record,
        parts: Vec<SplitPart>,
        reason: &Option<String>,
    ) -> AppResult<(Vec<CustomerView>, Vec<CustomerRow>)> {
        let mut lookups = Lookups::default();
        let mut views = Vec::new();
        let mut part_rows = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            let input = part_input(part, old, reason);
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
            views.push(view(&prow, &prec, actor.can("customer.pii.read")));
            part_rows.push(prow);
        }
        Ok((views, part_rows))
    }
}

/// Lineage edges original → part, tied to the original's history entry of the split.
async fn record_split_lineage(
    tx: &mut Tx,
    row: &CustomerRow,
    part_rows: &[CustomerRow],
) -> AppResult<()> {
    let op = tx
        .customer_history(row.id)
        .await?
        .last()
        .map_or(0, |h| h.id);
    let now = now_us();
    for p in part_rows {
        tx.insert_lineage(&LineageRow {
            parent_id: row.id,
            child_id: p.id,
            kind: "split".into(),
            op_id: op,
            at: now,
        })
        .await?;
    }
    Ok(())
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
