//! The approver's side: approving, rejecting or returning the current step, and handing
//! a task to someone else. Each decision locks the application and decides a task only
//! while it is still pending.

use crate::applications::Applications;
use serde_json::json;

use custos_core::Violation;
use custos_store::{now_us, ApplicationRow, TaskRow, Tx};

use super::checks::{clean_text, decided_by_someone_else, not_approver, not_in_review};
use super::deciders;
use super::records::{frozen, notify, trail, Trail};
use super::views::ApplicationView;
use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::flows::{kind_zh, StepMode};

impl Applications<'_> {
    /// Lock an application for a decision and find the caller's pending task in the
    /// current step.
    async fn my_task(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: i64,
    ) -> AppResult<(ApplicationRow, TaskRow, Vec<TaskRow>)> {
        let a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        let tasks = tx.tasks_of(id).await?;
        let current: Vec<&TaskRow> = tasks
            .iter()
            .filter(|t| {
                t.round == a.round && t.step == a.current_step && t.user_id == actor.user_id
            })
            .collect();
        if !self.can_view(tx, actor, &a, &tasks).await? {
            return Err(AppError::not_found("application", id));
        }
        if !["submitted", "in_review"].contains(&a.state.as_str()) {
            return Err(not_in_review(&a));
        }
        if let Some(t) = current.iter().find(|t| t.decision.is_none()) {
            let t = (*t).clone();
            deciders::ensure_may_decide(tx, &a, &t).await?;
            return Ok((a, t, tasks));
        }
        if current
            .iter()
            .any(|t| t.decision.as_deref() == Some(deciders::REASSIGNED))
        {
            return Err(deciders::task_reassigned(id));
        }
        if !current.is_empty() {
            return Err(AppError::Conflict(Violation::new(
                "application.already_decided",
                format!("申请单 #{id} 的当前步骤已处理（您或其他审批人已作出决定）"),
                format!("the current step of application #{id} has already been decided (by you or another approver)"),
            )));
        }
        Err(not_approver(id))
    }

    /// Approve the current step as one of its approvers; the last approval applies the
    /// effect in the same transaction.
    pub async fn approve_application(
        &self,
        actor: &Actor,
        id: i64,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let comment = clean_text("comment", comment.as_deref(), 1000)?;
        let mut tx = self.app.db.begin().await?;
        let (mut a, task, tasks) = self.my_task(&mut tx, actor, id).await?;
        let now = now_us();
        if !tx
            .decide_task(task.id, "approve", comment.as_deref(), now)
            .await?
        {
            return Err(decided_by_someone_else(id));
        }
        let flow = frozen(&a)?;
        let step = flow.steps.get(a.current_step as usize).cloned();
        let mode = step.as_ref().map(|s| s.mode).unwrap_or_default();
        let others_pending = tasks
            .iter()
            .filter(|t| {
                t.round == a.round
                    && t.step == a.current_step
                    && t.id != task.id
                    && t.decision.is_none()
            })
            .count();
        let from = a.state.clone();
        let step_done = mode == StepMode::Any || others_pending == 0;
        a.state = "in_review".into();
        a.updated_at = now;
        trail(
            &mut tx,
            &a,
            Trail {
                actor,
                action: "approve",
                step: Some(a.current_step),
                from: &from,
                comment: comment.clone(),
                detail: None,
            },
        )
        .await?;
        if step_done {
            tx.close_pending_tasks(a.id, "skipped", now).await?;
            let next = a.current_step as usize + 1;
            if next < flow.steps.len() {
                notify(
                    &mut tx,
                    a.applicant_id,
                    a.id,
                    "progress",
                    format!("申请进展：{} #{}", kind_zh(&a.kind), a.id),
                    format!(
                        "您的申请单 #{} 已通过步骤“{}”（{}）。",
                        a.id,
                        step.as_ref().map(|s| s.name.as_str()).unwrap_or(""),
                        actor.display_name
                    ),
                )
                .await?;
            }
            self.enter_step(&mut tx, &mut a, &flow, next, actor).await?;
        }
        self.save_and_answer(tx, actor, &mut a).await
    }

    /// Reject (a reason is required): the application is closed.
    pub async fn reject_application(
        &self,
        actor: &Actor,
        id: i64,
        reason: Option<String>,
    ) -> AppResult<ApplicationView> {
        let Some(reason) = clean_text("reason", reason.as_deref(), 1000)? else {
            return Err(AppError::validation(
                "reason",
                Violation::new(
                    "reason.required",
                    "驳回必须填写原因",
                    "a rejection needs a reason",
                ),
            ));
        };
        self.close_step(actor, id, "reject", "rejected", Some(reason))
            .await
    }

    /// Return for revision (退回修改): the applicant may resubmit.
    pub async fn return_application(
        &self,
        actor: &Actor,
        id: i64,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let comment = clean_text("comment", comment.as_deref(), 1000)?;
        self.close_step(actor, id, "return", "returned", comment)
            .await
    }

    async fn close_step(
        &self,
        actor: &Actor,
        id: i64,
        decision: &str,
        state: &str,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let mut tx = self.app.db.begin().await?;
        let (mut a, task, _) = self.my_task(&mut tx, actor, id).await?;
        let now = now_us();
        if !tx
            .decide_task(task.id, decision, comment.as_deref(), now)
            .await?
        {
            return Err(decided_by_someone_else(id));
        }
        tx.close_pending_tasks(a.id, "cancelled", now).await?;
        let from = a.state.clone();
        a.state = state.to_string();
        a.updated_at = now;
        if state == "rejected" {
            a.closed_at = Some(now);
        }
        trail(
            &mut tx,
            &a,
            Trail {
                actor,
                action: decision,
                step: Some(a.current_step),
                from: &from,
                comment: comment.clone(),
                detail: None,
            },
        )
        .await?;
        let (title, body) = if state == "rejected" {
            (
                format!("申请被驳回：{} #{}", kind_zh(&a.kind), a.id),
                format!(
                    "您的申请单 #{} 被 {} 驳回，原因：{}",
                    a.id,
                    actor.display_name,
                    comment.clone().unwrap_or_default()
                ),
            )
        } else {
            (
                format!("申请被退回修改：{} #{}", kind_zh(&a.kind), a.id),
                format!(
                    "您的申请单 #{} 被 {} 退回修改{}，请修改后重新提交。",
                    a.id,
                    actor.display_name,
                    comment
                        .clone()
                        .map(|c| format!("（{c}）"))
                        .unwrap_or_default()
                ),
            )
        };
        notify(&mut tx, a.applicant_id, a.id, decision, title, body).await?;
        self.save_and_answer(tx, actor, &mut a).await
    }

    /// Hand one's pending task to another user; an administrator (`role.manage`) may
    /// reassign anyone's task with `from_user`.
    pub async fn delegate_application(
        &self,
        actor: &Actor,
        id: i64,
        to_user: i64,
        from_user: Option<i64>,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let comment = clean_text("comment", comment.as_deref(), 1000)?;
        let mut tx = self.app.db.begin().await?;
        let a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        let tasks = tx.tasks_of(id).await?;
        if !self.can_view(&mut tx, actor, &a, &tasks).await? {
            return Err(AppError::not_found("application", id));
        }
        if !["submitted", "in_review"].contains(&a.state.as_str()) {
            return Err(not_in_review(&a));
        }
        if a.needs_admin.is_some() && from_user.is_none() && actor.can("role.manage") {
            // Nobody holds the step: the administrator names its approver.
            let mut a = a;
            deciders::assign_waiting(&mut tx, actor, &mut a, to_user, comment).await?;
            let view = self.view_in(&mut tx, actor, &a).await?;
            tx.commit().await?;
            return Ok(view);
        }
        let from_user = from_user.unwrap_or(actor.user_id);
        if from_user != actor.user_id && !actor.can("role.manage") {
            actor.require("role.manage")?;
        }
        let in_step = |u: i64| pending_in_step(&tasks, &a, u);
        let Some(task) = in_step(from_user) else {
            return Err(if from_user == actor.user_id {
                not_approver(id)
            } else {
                no_task(id, from_user)
            });
        };
        if from_user == actor.user_id {
            // Handing a task on is a decision: only someone who still qualifies may.
            deciders::ensure_may_decide(&mut tx, &a, &task).await?;
        }
        let bad = |code: &str, zh: String, en: String| {
            AppError::validation("to_user", Violation::new(code, zh, en))
        };
        if to_user == from_user || in_step(to_user).is_some() {
            return Err(bad(
                "application.already_approver",
                format!("用户 {to_user} 已是当前步骤的审批人"),
                format!("user {to_user} is already an approver of the current step"),
            ));
        }
        // The delegate must be someone who may decide the step themselves.
        deciders::check_delegate(&mut tx, &a, to_user).await?;
        let mut a = a;
        let handover = Handover {
            task_id: task.id,
            from_user,
            to_user,
            comment,
        };
        hand_over(&mut tx, actor, &mut a, handover).await?;
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }
}

/// Most users weighed as delegates of one task (the console's select).
pub const DELEGATE_CHOICES: i64 = 200;

impl Applications<'_> {
    /// The users `actor` may hand their pending task on application `id` to: those who
    /// could decide the current step themselves (as [`Applications::delegate_application`]
    /// checks), without the actor and the step's other approvers. Empty when the actor
    /// holds no task there. Weighs at most [`DELEGATE_CHOICES`] users.
    pub async fn delegate_choices(&self, actor: &Actor, id: i64) -> AppResult<Vec<(i64, String)>> {
        let mut tx = self.app.db.begin_read().await?;
        let Some(a) = tx.application(id).await? else {
            return Err(AppError::not_found("application", id));
        };
        let tasks = tx.tasks_of(id).await?;
        let open = ["submitted", "in_review"].contains(&a.state.as_str());
        let holds = pending_in_step(&tasks, &a, actor.user_id);
        let mut out = Vec::new();
        if let (true, Some(task)) = (open, holds) {
            if deciders::ensure_may_decide(&mut tx, &a, &task)
                .await
                .is_ok()
            {
                let users = tx.users(None, None, 0, DELEGATE_CHOICES).await?;
                for u in users.into_iter().filter(|u| !u.disabled) {
                    if pending_in_step(&tasks, &a, u.id).is_some() {
                        continue;
                    }
                    if deciders::check_delegate(&mut tx, &a, u.id).await.is_ok() {
                        out.push((u.id, u.display_name));
                    }
                }
            }
        }
        tx.rollback().await?;
        Ok(out)
    }
}

/// A pending task handed from one user to another.
struct Handover {
    task_id: i64,
    from_user: i64,
    to_user: i64,
    comment: Option<String>,
}

/// Close the task as delegated, give the step to the delegate, record and notify.
async fn hand_over(
    tx: &mut Tx,
    actor: &Actor,
    a: &mut ApplicationRow,
    h: Handover,
) -> AppResult<()> {
    let now = now_us();
    if !tx
        .decide_task(h.task_id, "delegated", h.comment.as_deref(), now)
        .await?
    {
        return Err(decided_by_someone_else(a.id));
    }
    tx.insert_task(&TaskRow {
        id: 0,
        application_id: a.id,
        round: a.round,
        step: a.current_step,
        user_id: h.to_user,
        decision: None,
        decided_at: None,
        comment: None,
        delegated_from: Some(h.from_user),
        created_at: now,
    })
    .await?;
    trail(
        tx,
        a,
        Trail {
            actor,
            action: "delegate",
            step: Some(a.current_step),
            from: &a.state,
            comment: h.comment.clone(),
            detail: Some(json!({"from_user": h.from_user, "to_user": h.to_user})),
        },
    )
    .await?;
    notify(
        tx,
        h.to_user,
        a.id,
        "task",
        format!("待审批（转交）：{} #{}", kind_zh(&a.kind), a.id),
        format!("{} 将申请单 #{} 的审批转交给您。", actor.display_name, a.id),
    )
    .await?;
    // Bump the version so a concurrent decision based on the old task list notices.
    a.updated_at = now;
    tx.update_application(a).await?;
    a.row_version += 1;
    Ok(())
}

/// The pending task of user `u` in the application's current step.
fn pending_in_step(tasks: &[TaskRow], a: &ApplicationRow, u: i64) -> Option<TaskRow> {
    tasks
        .iter()
        .find(|t| {
            t.round == a.round && t.step == a.current_step && t.user_id == u && t.decision.is_none()
        })
        .cloned()
}

fn no_task(id: i64, from_user: i64) -> AppError {
    AppError::validation(
        "from_user",
        Violation::new(
            "application.no_task",
            format!("用户 {from_user} 在申请单 #{id} 的当前步骤没有待办"),
            format!(
                "user {from_user} has no pending task in the current step of application #{id}"
            ),
        ),
    )
}
