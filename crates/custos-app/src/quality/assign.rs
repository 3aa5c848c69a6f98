//! Assigning worklist customers to someone to mend them (`quality.manage`): the
//! assignee is notified through the notifications every user reads (and e-mail when a
//! mail relay is configured); the assignment is audited.

use crate::quality::Quality;
use custos_core::Violation;
use custos_store::{now_us, NotificationRow};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::customers::scoped_customer;
use crate::error::{AppError, AppResult};
use crate::input::Input;
use crate::to_json;

/// Most customers one assignment may name.
const MAX_CODES: usize = 200;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// Customer codes (1–200).
    pub codes: Vec<String>,
    /// The user who is to mend them.
    pub assignee_id: i64,
    /// A note to the assignee (up to 500 characters).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssignOutcome {
    pub assigned: u64,
    pub assignee_id: i64,
}

impl Quality<'_> {
    /// Assign customers of the worklist to `assignee_id` (`quality.manage` over each; a
    /// customer outside that scope is the same 404 as a missing one).
    pub async fn assign_quality_work(
        &self,
        actor: &Actor,
        input: impl Into<Input<AssignInput>>,
    ) -> AppResult<AssignOutcome> {
        let scope = actor.require("quality.manage")?;
        let input = input.into().get()?;
        if input.codes.is_empty() || input.codes.len() > MAX_CODES {
            return Err(AppError::validation(
                "codes",
                Violation::new(
                    "quality.codes_count",
                    format!("须指定 1–{MAX_CODES} 个客户编码"),
                    format!("give 1–{MAX_CODES} customer codes"),
                ),
            ));
        }
        let note = match input
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            Some(n) if n.chars().count() > 500 || n.chars().any(char::is_control) => {
                return Err(AppError::validation(
                    "note",
                    Violation::new(
                        "text.too_long",
                        "备注最多 500 个字符，且不能含控制字符",
                        "the note may have at most 500 characters and no control characters",
                    ),
                ))
            }
            other => other.map(str::to_string),
        };
        let mut tx = self.app.db.begin().await?;
        let assignee = tx
            .user(input.assignee_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| {
                AppError::validation(
                    "assignee_id",
                    Violation::new(
                        "quality.assignee_unknown",
                        format!("用户 {} 不存在或已停用", input.assignee_id),
                        format!("user {} does not exist or is disabled", input.assignee_id),
                    ),
                )
            })?;
        let mut ids = Vec::new();
        let mut codes = Vec::new();
        for code in &input.codes {
            let row = scoped_customer(&mut tx, actor, scope, code).await?;
            if !super::keep::assessed(&row.status) {
                return Err(AppError::Rejected(Violation::new(
                    "quality.not_assessed",
                    format!(
                        "客户“{}”状态为 {}，不参与数据质量评估",
                        row.code, row.status
                    ),
                    format!("customer '{}' is {} and not assessed", row.code, row.status),
                )));
            }
            if !ids.contains(&row.id) {
                ids.push(row.id);
                codes.push(row.code);
            }
        }
        // A customer written before quality was kept has no row yet: score it first.
        let rows = tx.customers_by_ids(&ids).await?;
        let mut missing = Vec::new();
        for r in &rows {
            if tx.customer_quality(r.id).await?.is_none() {
                missing.push(r.clone());
            }
        }
        self.refresh_quality(&mut tx, &missing).await?;
        let now = now_us();
        let assigned = tx.assign_quality(&ids, assignee.id, now).await?;
        let shown: Vec<&str> = codes.iter().take(20).map(String::as_str).collect();
        let more = if codes.len() > 20 { " …" } else { "" };
        crate::notify::insert_notification(
            &mut tx,
            &NotificationRow {
                id: 0,
                user_id: assignee.id,
                application_id: None,
                kind: "quality.assigned".into(),
                title: format!("{} 个客户资料待完善", codes.len()),
                body: format!(
                    "{} 请您完善以下客户的资料：{}{more}{}",
                    actor.display_name,
                    shown.join("、"),
                    note.as_deref()
                        .map(|n| format!("\n备注：{n}"))
                        .unwrap_or_default()
                ),
                created_at: now,
                read_at: None,
            },
        )
        .await?;
        let mut r = record(actor, "quality.assign", "user", &assignee.id.to_string());
        r.after = to_json(&serde_json::json!({"codes": codes, "assignee_id": assignee.id}));
        r.reason = note;
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(AssignOutcome {
            assigned,
            assignee_id: assignee.id,
        })
    }
}
