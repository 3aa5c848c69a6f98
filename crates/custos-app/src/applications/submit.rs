//! The applicant's side: submitting an application (or saving a draft), resubmitting a
//! returned one, withdrawing one's own.

use crate::applications::Applications;
use custos_core::Violation;
use custos_store::{now_us, ApplicationRow};
use serde_json::Value;

use super::checks::{application_closed, clean_text, closed_states};
use super::kinds::Kind;
use super::records::{notify, trail, Trail};
use super::views::{ApplicationView, NewApplication};
use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::flows::{kind_zh, unknown_kind};
use crate::to_json;

impl Applications<'_> {
    /// Submit an application (`application.submit`), or save it as a draft.
    pub async fn submit_application(
        &self,
        actor: &Actor,
        input: NewApplication,
    ) -> AppResult<ApplicationView> {
        actor.require("application.submit")?;
        let kind = input.kind.trim().to_string();
        if Kind::parse(&kind).is_none() {
            return Err(AppError::Validation(vec![unknown_kind("kind", &kind)]));
        }
        let reason = clean_text("reason", input.reason.as_deref(), 500)?;
        crate::text_input::refuse_in_value("payload", &input.payload)?;
        let mut tx = self.app.db.begin().await?;
        let prepared = self.prepare(&mut tx, actor, &kind, &input.payload).await?;
        let now = now_us();
        let mut a = ApplicationRow {
            id: 0,
            kind: kind.clone(),
            state: "draft".into(),
            applicant_id: actor.user_id,
            department_id: actor.department_id,
            target: prepared.target.clone(),
            payload: self.seal_payload(&prepared.payload),
            reason,
            flow: serde_json::to_string(&crate::flows::default_flow(&kind)).unwrap_or_default(),
            current_step: 0,
            round: 1,
            duplicates: prepared.duplicates.as_ref().and_then(to_json),
            result: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            row_version: 1,
            needs_admin: None,
        };
        a.id = tx.insert_application(&a).await?;
        if input.draft {
            trail(
                &mut tx,
                &a,
                Trail {
                    actor,
                    action: "draft",
                    step: None,
                    from: "draft",
                    comment: None,
                    detail: None,
                },
            )
            .await?;
        } else {
            self.start_round(&mut tx, &mut a, actor, &prepared, "submit", "draft")
                .await?;
            tx.update_application(&a).await?;
            a.row_version += 1;
        }
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Resubmit a returned application (or submit a draft), optionally with a new
    /// payload; it is validated again and starts the flow from its first step.
    pub async fn resubmit_application(
        &self,
        actor: &Actor,
        id: i64,
        payload: Option<Value>,
        reason: Option<String>,
    ) -> AppResult<ApplicationView> {
        actor.require("application.submit")?;
        let reason = clean_text("reason", reason.as_deref(), 500)?;
        if let Some(p) = &payload {
            crate::text_input::refuse_in_value("payload", p)?;
        }
        let mut tx = self.app.db.begin().await?;
        let mut a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        if a.applicant_id != actor.user_id {
            return Err(AppError::not_found("application", id));
        }
        if !["returned", "draft"].contains(&a.state.as_str()) {
            return Err(AppError::Conflict(Violation::new(
                "application.not_returned",
                format!("申请单 #{id} 状态为 {}，只有退回或草稿状态的申请可以（重新）提交", a.state),
                format!("application #{id} is {}; only returned applications and drafts can be (re)submitted", a.state),
            )));
        }
        let payload = match payload {
            Some(p) => p,
            None => self.open_payload(&a)?,
        };
        let prepared = self.prepare(&mut tx, actor, &a.kind, &payload).await?;
        let from = a.state.clone();
        if from == "returned" {
            a.round += 1;
        }
        a.payload = self.seal_payload(&prepared.payload);
        a.target = prepared.target.clone();
        a.duplicates = prepared.duplicates.as_ref().and_then(to_json);
        if reason.is_some() {
            a.reason = reason;
        }
        a.current_step = 0;
        let action = if from == "draft" {
            "submit"
        } else {
            "resubmit"
        };
        self.start_round(&mut tx, &mut a, actor, &prepared, action, &from)
            .await?;
        self.save_and_answer(tx, actor, &mut a).await
    }

    /// Withdraw one's own application before it ends.
    pub async fn withdraw_application(&self, actor: &Actor, id: i64) -> AppResult<ApplicationView> {
        let mut tx = self.app.db.begin().await?;
        let mut a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        if a.applicant_id != actor.user_id {
            let tasks = tx.tasks_of(id).await?;
            if self.can_view(&mut tx, actor, &a, &tasks).await? {
                return Err(AppError::Forbidden {
                    permission: "application.withdraw (applicant only / 仅申请人)".into(),
                });
            }
            return Err(AppError::not_found("application", id));
        }
        if closed_states().contains(&a.state.as_str()) {
            return Err(application_closed(&a));
        }
        let now = now_us();
        let pending: Vec<i64> = tx
            .tasks_of(id)
            .await?
            .into_iter()
            .filter(|t| t.decision.is_none())
            .map(|t| t.user_id)
            .collect();
        tx.close_pending_tasks(id, "cancelled", now).await?;
        let from = a.state.clone();
        a.state = "withdrawn".into();
        a.closed_at = Some(now);
        a.updated_at = now;
        trail(
            &mut tx,
            &a,
            Trail {
                actor,
                action: "withdraw",
                step: Some(a.current_step),
                from: &from,
                comment: None,
                detail: None,
            },
        )
        .await?;
        for u in pending {
            notify(
                &mut tx,
                u,
                a.id,
                "withdrawn",
                format!("申请已撤回：{} #{}", kind_zh(&a.kind), a.id),
                format!("申请单 #{} 已被申请人撤回，无需再审批。", a.id),
            )
            .await?;
        }
        self.save_and_answer(tx, actor, &mut a).await
    }
}
