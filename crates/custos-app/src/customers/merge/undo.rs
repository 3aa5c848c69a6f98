//! Undoing a merge: every participant back as it was, while nobody changed them since.

use crate::customers::Customers;
use custos_core::Violation;
use custos_store::{now_us, CustomerRow, Tx};

use super::{reason_required, Before, Participant};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::customers::{in_scope, record_of, row_from_snapshot, text, view, CustomerView};
use crate::error::{AppError, AppResult};
use crate::to_json;

/// The participant's row as it is now, refused when it changed after the merge.
async fn unchanged_since_merge(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    merge_id: i64,
    p: &Participant,
) -> AppResult<CustomerRow> {
    let row = tx
        .customer(p.id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("customer {} vanished", p.id)))?;
    if !in_scope(tx, actor, scope, &row).await? {
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
    Ok(row)
}

impl Customers<'_> {
    /// Undo a merge: every participant back as it was (`customer.merge`). Refused when
    /// the survivor or a merged customer changed since.
    pub async fn unmerge(
        &self,
        actor: &Actor,
        merge_id: i64,
        reason: Option<String>,
    ) -> AppResult<Vec<CustomerView>> {
        let scope = actor.require("customer.merge")?;
        let key = &self.app.config.pii_key.pinned();
        let mut errors = Vec::new();
        let reason = text("reason", reason.as_deref(), 500, &mut errors);
        reason_required(&reason, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.app.db.begin().await?;
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
            current.push(unchanged_since_merge(&mut tx, actor, scope, merge_id, p).await?);
        }
        let mut views = Vec::new();
        let mut survivor_after = None;
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
            survivor_after.get_or_insert(after);
        }
        tx.delete_lineage("merge", merge_id).await?;
        crate::activities::carry_unmerged(&mut tx, before.participants[0].id).await?;
        let restored: Vec<i64> = before.participants.iter().map(|p| p.id).collect();
        self.app
            .lifecycle()
            .settle_lifecycles(&mut tx, actor, &restored, "unmerge")
            .await?;
        tx.mark_merge_undone(merge_id, now_us(), actor.user_id)
            .await?;
        let survivor = &before.participants[0].code;
        let restored_codes: Vec<&String> = before.participants.iter().map(|p| &p.code).collect();
        if let Some(row) = &survivor_after {
            crate::events::emit_customer_event(
                &mut tx,
                actor,
                row,
                crate::events::CUSTOMER_UNMERGED,
                serde_json::json!({
                    "merge_id": merge_id,
                    "survivor": survivor,
                    "restored": restored_codes[1..],
                }),
            );
        }
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
}
