//! Reading applications: who may see one, the full view with tasks and trail, lists and
//! the approver's inbox.

use crate::applications::Applications;
use std::collections::BTreeMap;

use serde_json::Value;

use custos_core::Violation;
use custos_store::{ApplicationFilter, ApplicationRow, TaskRow, Tx};

use super::checks::parse_time;
use super::deciders;
use super::kinds::Kind;
use super::records::frozen;
use super::views::{
    mask_payload, needs_admin_of, summary, ApplicationQuery, ApplicationSummary, ApplicationView,
    EventView, Inbox, InboxCounts, InboxItem, TaskView, STATES,
};
use crate::actor::{Actor, Scope};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::flows::{kind_zh, unknown_kind};

impl Applications<'_> {
    /// Applicant, anyone with a task on it, and reviewers with an unrestricted scope.
    pub(super) async fn can_view(
        &self,
        _tx: &mut Tx,
        actor: &Actor,
        a: &ApplicationRow,
        tasks: &[TaskRow],
    ) -> AppResult<bool> {
        Ok(a.applicant_id == actor.user_id
            || tasks.iter().any(|t| t.user_id == actor.user_id)
            || actor.permissions.get("application.approve") == Some(&Scope::All)
            || actor.can("role.manage"))
    }

    /// Store `a` (its version moves on), answer its view as `actor` sees it, and commit:
    /// the end of every use case that changes an application.
    pub(super) async fn save_and_answer(
        &self,
        mut tx: Tx,
        actor: &Actor,
        a: &mut ApplicationRow,
    ) -> AppResult<ApplicationView> {
        tx.update_application(a).await?;
        a.row_version += 1;
        let view = self.view_in(&mut tx, actor, a).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub(super) async fn view_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        a: &ApplicationRow,
    ) -> AppResult<ApplicationView> {
        let tasks = tx.tasks_of(a.id).await?;
        let events = tx.application_events(a.id).await?;
        let mut names: BTreeMap<i64, String> = BTreeMap::new();
        for id in tasks.iter().map(|t| t.user_id).chain([a.applicant_id]) {
            if let std::collections::btree_map::Entry::Vacant(e) = names.entry(id) {
                let n = tx.user(id).await?.map(|u| u.username).unwrap_or_default();
                e.insert(n);
            }
        }
        let mut payload = self.open_payload(a)?;
        let duplicates = self.duplicates_for_reader(tx, actor, a, &payload).await?;
        if !actor.can("customer.pii.read") {
            mask_payload(&mut payload);
        }
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
        };
        let result = parse(&a.result);
        Ok(ApplicationView {
            id: a.id,
            kind: a.kind.clone(),
            kind_name: kind_zh(&a.kind).to_string(),
            state: a.state.clone(),
            applicant_id: a.applicant_id,
            applicant: names.get(&a.applicant_id).cloned().unwrap_or_default(),
            department_id: a.department_id,
            target: a.target.clone(),
            reason: a.reason.clone(),
            payload,
            flow: frozen(a)?,
            current_step: a.current_step,
            round: a.round,
            duplicates,
            code: result
                .as_ref()
                .and_then(|r| r.get("code"))
                .and_then(Value::as_str)
                .map(str::to_string),
            result,
            tasks: tasks
                .iter()
                .map(|t| TaskView {
                    id: t.id,
                    round: t.round,
                    step: t.step,
                    user_id: t.user_id,
                    username: names.get(&t.user_id).cloned().unwrap_or_default(),
                    decision: t.decision.clone(),
                    decided_at: t.decided_at.map(format_time),
                    comment: t.comment.clone(),
                    delegated_from: t.delegated_from,
                    created_at: format_time(t.created_at),
                })
                .collect(),
            trail: events
                .into_iter()
                .map(|e| EventView {
                    at: format_time(e.at),
                    actor_id: e.actor_id,
                    actor: e.actor_name,
                    action: e.action,
                    step: e.step,
                    from_state: e.from_state,
                    to_state: e.to_state,
                    comment: e.comment,
                    detail: e.detail.and_then(|d| serde_json::from_str(&d).ok()),
                })
                .collect(),
            created_at: format_time(a.created_at),
            updated_at: format_time(a.updated_at),
            closed_at: a.closed_at.map(format_time),
            version: a.row_version,
            needs_admin: needs_admin_of(a),
        })
    }

    /// One application with its whole trail.
    pub async fn get_application(&self, actor: &Actor, id: i64) -> AppResult<ApplicationView> {
        let mut tx = self.app.db.begin_read().await?;
        let a = tx
            .application(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        let tasks = tx.tasks_of(id).await?;
        if !self.can_view(&mut tx, actor, &a, &tasks).await? {
            return Err(AppError::not_found("application", id));
        }
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.rollback().await?;
        Ok(view)
    }

    /// Applications, newest first. Without a broad reviewer scope only one's own (or,
    /// with `involved`, those one has a task on).
    pub async fn list_applications(
        &self,
        actor: &Actor,
        q: ApplicationQuery,
    ) -> AppResult<Vec<ApplicationSummary>> {
        let mut e = Vec::new();
        if let Some(k) = &q.kind {
            if Kind::parse(k).is_none() {
                e.push(unknown_kind("kind", k));
            }
        }
        if let Some(s) = &q.state {
            if !STATES.contains(&s.as_str()) {
                e.push(
                    Violation::new(
                        "application.state_unknown",
                        format!("状态“{s}”不存在，可选：{}", STATES.join("、")),
                        format!(
                            "state '{s}' does not exist; choose one of {}",
                            STATES.join(", ")
                        ),
                    )
                    .on("state"),
                );
            }
        }
        let mut created_from = None;
        let mut created_to = None;
        for (field, v, slot) in [
            ("from", &q.from, &mut created_from),
            ("to", &q.to, &mut created_to),
        ] {
            if let Some(v) = v {
                match parse_time(field, v) {
                    Ok(t) => *slot = Some(t),
                    Err(AppError::Validation(f)) => e.extend(f),
                    Err(other) => return Err(other),
                }
            }
        }
        if !e.is_empty() {
            return Err(AppError::Validation(e));
        }
        let broad = actor.permissions.get("application.approve") == Some(&Scope::All)
            || actor.can("role.manage");
        let mut f = ApplicationFilter {
            kind: q.kind.clone(),
            state: q.state.clone(),
            created_from,
            created_to,
            before_id: q.before,
            needs_admin: q.needs_admin == Some(true),
            limit: q.limit.unwrap_or(50).clamp(1, 500),
            ..Default::default()
        };
        if q.involved == Some(true) {
            f.involving = Some(actor.user_id);
        } else if q.mine == Some(true) || !broad {
            f.applicant_id = Some(actor.user_id);
        }
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.applications(&f).await?;
        tx.rollback().await?;
        Ok(rows.iter().map(summary).collect())
    }

    /// My pending tasks with counts.
    pub async fn inbox(&self, actor: &Actor) -> AppResult<Inbox> {
        let mut tx = self.app.db.begin_read().await?;
        let tasks = tx.pending_tasks_of_user(actor.user_id).await?;
        let mut pending = Vec::new();
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        for t in tasks {
            let Some(a) = tx.application(t.application_id).await? else {
                continue;
            };
            if a.round != t.round || a.current_step != t.step {
                continue;
            }
            let step_name = frozen(&a)
                .ok()
                .and_then(|f| f.steps.get(t.step as usize).map(|s| s.name.clone()))
                .unwrap_or_default();
            *by_kind.entry(a.kind.clone()).or_default() += 1;
            pending.push(InboxItem {
                task_id: t.id,
                step: t.step,
                step_name,
                waiting_since: format_time(t.created_at),
                delegated_from: t.delegated_from,
                application: summary(&a),
            });
        }
        let unread = tx.count_unread_notifications(actor.user_id).await?;
        let needs_admin = deciders::waiting_for_admin(&mut tx, actor).await?;
        tx.rollback().await?;
        Ok(Inbox {
            counts: InboxCounts {
                pending: pending.len(),
                needs_admin: needs_admin.len(),
                by_kind,
                unread_notifications: unread,
            },
            pending,
            needs_admin,
        })
    }
}
