//! Who may decide an approval task (审批资格), in one place for every path that needs
//! it: assigning a step's tasks, delegating one, deciding one, and re-checking open tasks
//! when roles, users or department managers change.
//!
//! A user may decide a step when they exist, are enabled, are not the applicant, hold
//! `application.approve` (through an unexpired grant) and meet the step's own rule: the
//! step's role, being one of its named users, or being the applicant's department
//! manager. A delegated task keeps the relation it was handed under (named user,
//! manager) but its holder must still hold the permission and, on a role step, the role.
//! Administrators (role `admin`) are every step's fallback approvers. Data scope is not
//! part of the rule: the flow decides who decides, and a task holder reads the
//! application through the task.

use std::collections::BTreeSet;

use serde_json::json;

use custos_core::Violation;
use custos_store::{now_us, ApplicationRow, EventRow, TaskRow, Tx};

use super::records::{frozen, notify};
use super::views::{summary, ApplicationSummary, NeedsAdmin};
use crate::actor::{Actor, Context, Source};
use crate::audit::{append, record};
use crate::auth::{format_time, load_actor};
use crate::error::{AppError, AppResult};
use crate::flows::{department_chain, kind_zh, Approvers, FlowStep};
use crate::to_json;

/// The role whose holders approve any step nobody else may.
const FALLBACK_ROLE: &str = "admin";
/// The decision recorded on a task taken away because its holder no longer qualifies.
pub(crate) const REASSIGNED: &str = "reassigned";
/// At most this many waiting applications are retried per change (bounded work).
const RETRY_LIMIT: i64 = 200;

/// Why a user may not decide a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unqualified {
    Unknown,
    Disabled,
    Applicant,
    NoApprovePermission,
    LacksRole(String),
    NotNamed,
    NotManager,
}

impl Unqualified {
    /// The rule broken, naming the user and the step.
    pub(crate) fn violation(&self, user: i64, step: &FlowStep) -> Violation {
        let s = &step.name;
        match self {
            Unqualified::Unknown => Violation::new(
                "user.unknown",
                format!("用户 {user} 不存在"),
                format!("user {user} does not exist"),
            ),
            Unqualified::Disabled => Violation::new(
                "user.disabled",
                format!("用户 {user} 已停用，不能审批"),
                format!("user {user} is disabled and cannot decide approval tasks"),
            ),
            Unqualified::Applicant => Violation::new(
                "application.self_approval",
                "申请人不能审批自己的申请",
                "the applicant cannot approve their own application",
            ),
            Unqualified::NoApprovePermission => Violation::new(
                "application.approve_permission_missing",
                format!("用户 {user} 没有“审批申请”（application.approve）权限"),
                format!("user {user} lacks the permission 'application.approve'"),
            ),
            Unqualified::LacksRole(role) => Violation::new(
                "application.step_role_missing",
                format!("用户 {user} 不持有审批步骤“{s}”要求的角色“{role}”"),
                format!("user {user} does not hold the role '{role}' that step '{s}' requires"),
            ),
            Unqualified::NotNamed => Violation::new(
                "application.not_named_approver",
                format!("用户 {user} 不是审批步骤“{s}”指定的审批人"),
                format!("user {user} is not one of the named approvers of step '{s}'"),
            ),
            Unqualified::NotManager => Violation::new(
                "application.not_department_manager",
                format!("用户 {user} 不是申请人所在部门（或上级部门）的负责人"),
                format!(
                    "user {user} is not the manager of the applicant's department (or one above it)"
                ),
            ),
        }
    }
}

/// For an administrator's inbox: the open applications nobody qualifies to decide.
pub(crate) async fn waiting_for_admin(
    tx: &mut Tx,
    actor: &Actor,
) -> AppResult<Vec<ApplicationSummary>> {
    if !actor.can("role.manage") {
        return Ok(Vec::new());
    }
    let f = custos_store::ApplicationFilter {
        needs_admin: true,
        limit: 100,
        ..Default::default()
    };
    Ok(tx.applications(&f).await?.iter().map(summary).collect())
}

/// Enabled, not the applicant, holding `application.approve`: what every decider needs.
/// Returns the roles the user holds now.
async fn may_approve(
    tx: &mut Tx,
    user_id: i64,
    applicant_id: i64,
) -> AppResult<Result<Vec<String>, Unqualified>> {
    let Some(user) = tx.user(user_id).await? else {
        return Ok(Err(Unqualified::Unknown));
    };
    if user.disabled {
        return Ok(Err(Unqualified::Disabled));
    }
    if user_id == applicant_id {
        return Ok(Err(Unqualified::Applicant));
    }
    let actor = load_actor(tx, user, Context::new(Source::System)).await?;
    if !actor.can("application.approve") {
        return Ok(Err(Unqualified::NoApprovePermission));
    }
    Ok(Ok(actor.roles))
}

/// The nearest manager up the applicant's department chain who may approve.
async fn department_manager(
    tx: &mut Tx,
    applicant_id: i64,
    department: Option<i64>,
) -> AppResult<Option<i64>> {
    for d in department_chain(tx, department).await? {
        let Some(m) = tx.department(d).await?.and_then(|r| r.manager_id) else {
            continue;
        };
        if may_approve(tx, m, applicant_id).await?.is_ok() {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// The managers of a department and of every department above it, nearest first.
pub(crate) async fn managers_above(tx: &mut Tx, department: Option<i64>) -> AppResult<Vec<i64>> {
    let mut out = Vec::new();
    for d in department_chain(tx, department).await? {
        if let Some(m) = tx.department(d).await?.and_then(|r| r.manager_id) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Whether `user_id` may decide step `s` of application `a` now; `delegated` when the
/// task was handed to them (the step's relation is then not asked for).
pub(crate) async fn check_decider(
    tx: &mut Tx,
    user_id: i64,
    a: &ApplicationRow,
    s: &FlowStep,
    delegated: bool,
) -> AppResult<Result<(), Unqualified>> {
    let roles = match may_approve(tx, user_id, a.applicant_id).await? {
        Ok(r) => r,
        Err(why) => return Ok(Err(why)),
    };
    if roles.iter().any(|r| r == FALLBACK_ROLE) {
        return Ok(Ok(()));
    }
    let why = match &s.approvers {
        Approvers::Role { role } if !roles.contains(role) => Unqualified::LacksRole(role.clone()),
        Approvers::Users { users } if !delegated && !users.contains(&user_id) => {
            Unqualified::NotNamed
        }
        Approvers::DepartmentManager if !delegated => {
            let manager = department_manager(tx, a.applicant_id, a.department_id).await?;
            if manager == Some(user_id) {
                return Ok(Ok(()));
            }
            Unqualified::NotManager
        }
        _ => return Ok(Ok(())),
    };
    Ok(Err(why))
}

/// Who decides a step by its own rule, else the administrators; possibly nobody.
async fn approvers_or_admins(
    tx: &mut Tx,
    s: &FlowStep,
    applicant_id: i64,
    department: Option<i64>,
) -> AppResult<Vec<i64>> {
    Ok(step_approvers(tx, s, applicant_id, department).await?.0)
}

/// The approvers of a step, and whether they are the administrators standing in because
/// nobody qualifies by the step's own rule. Reads only (the flow preview uses it too).
pub(crate) async fn step_approvers(
    tx: &mut Tx,
    s: &FlowStep,
    applicant_id: i64,
    department: Option<i64>,
) -> AppResult<(Vec<i64>, bool)> {
    let now = now_us();
    let listed = match &s.approvers {
        Approvers::Role { role } => tx.users_with_role(role, now).await?,
        Approvers::Users { users } => users.clone(),
        Approvers::DepartmentManager => department_manager(tx, applicant_id, department)
            .await?
            .into_iter()
            .collect(),
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for u in listed {
        if seen.insert(u) && may_approve(tx, u, applicant_id).await?.is_ok() {
            out.push(u);
        }
    }
    if !out.is_empty() {
        return Ok((out, false));
    }
    for u in tx.users_with_role(FALLBACK_ROLE, now).await? {
        if may_approve(tx, u, applicant_id).await?.is_ok() {
            out.push(u);
        }
    }
    Ok((out, true))
}

/// The approvers a step's new tasks go to: those who qualify by the step's rule, else
/// the administrators. The applicant never approves their own application.
pub(crate) async fn resolve_approvers(
    tx: &mut Tx,
    s: &FlowStep,
    applicant_id: i64,
    department: Option<i64>,
) -> AppResult<Vec<i64>> {
    let users = approvers_or_admins(tx, s, applicant_id, department).await?;
    if users.is_empty() {
        return Err(AppError::Rejected(Violation::new(
            "flow.no_approver",
            format!("审批步骤“{}”找不到审批人（申请人本人不能审批），请联系管理员配置流程", s.name),
            format!(
                "step '{}' has no approver (applicants cannot approve their own application); ask an administrator to fix the flow",
                s.name
            ),
        )));
    }
    Ok(users)
}

/// Refuse a decision (approve, reject, return) by a task holder who no longer qualifies;
/// nothing is written.
pub(crate) async fn ensure_may_decide(
    tx: &mut Tx,
    a: &ApplicationRow,
    task: &TaskRow,
) -> AppResult<()> {
    let flow = frozen(a)?;
    let Some(step) = flow.steps.get(a.current_step as usize) else {
        return Ok(());
    };
    match check_decider(tx, task.user_id, a, step, task.delegated_from.is_some()).await? {
        Ok(()) => Ok(()),
        Err(why) => Err(AppError::Denied(why.violation(task.user_id, step))),
    }
}

/// The refusal for a holder whose task was taken away when they stopped qualifying.
pub(crate) fn task_reassigned(id: i64) -> AppError {
    AppError::Denied(Violation::new(
        "application.task_reassigned",
        format!("您已不再具备申请单 #{id} 当前步骤的审批资格，该待办已转给其他审批人"),
        format!("you no longer qualify to decide the current step of application #{id}; the task was reassigned"),
    ))
}

/// Check the delegate of a task: the same rule as deciding it, field `to_user`.
pub(crate) async fn check_delegate(tx: &mut Tx, a: &ApplicationRow, to_user: i64) -> AppResult<()> {
    let flow = frozen(a)?;
    let Some(step) = flow.steps.get(a.current_step as usize) else {
        return Ok(());
    };
    match check_decider(tx, to_user, a, step, true).await? {
        Ok(()) => Ok(()),
        Err(why) => Err(AppError::validation(
            "to_user",
            why.violation(to_user, step),
        )),
    }
}

/// Give the current step of an application that waits for an administrator to
/// `to_user` (administrators only); the task counts as handed over by the caller.
pub(crate) async fn assign_waiting(
    tx: &mut Tx,
    actor: &Actor,
    a: &mut ApplicationRow,
    to_user: i64,
    comment: Option<String>,
) -> AppResult<()> {
    actor.require("role.manage")?;
    check_delegate(tx, a, to_user).await?;
    let now = now_us();
    tx.insert_task(&TaskRow {
        id: 0,
        application_id: a.id,
        round: a.round,
        step: a.current_step,
        user_id: to_user,
        decision: None,
        decided_at: None,
        comment: None,
        delegated_from: Some(actor.user_id),
        created_at: now,
    })
    .await?;
    notify_task(tx, a, to_user).await?;
    let before = a.needs_admin.take();
    a.updated_at = now;
    let detail = json!({"assigned": [to_user], "by_administrator": true});
    reassign_trail(tx, actor, a, comment, detail, before).await?;
    a.row_version += 1;
    Ok(())
}

/// What a re-check found on one application's current step.
struct Outcome {
    removed: Vec<(i64, Violation)>,
    added: Vec<i64>,
    stuck: bool,
}

/// Re-check, in the caller's transaction, the open tasks of `users` and every open
/// application waiting for an administrator: a task whose holder no longer qualifies is
/// closed as `reassigned`, the step goes to whoever qualifies now (same rule as new
/// tasks), and when nobody does the application is flagged as needing an
/// administrator. `cause` (Chinese) goes into the trail. Returns how many applications
/// changed.
pub(crate) async fn recheck_open_tasks(
    tx: &mut Tx,
    actor: &Actor,
    users: &[i64],
    cause: &str,
) -> AppResult<usize> {
    let mut ids = BTreeSet::new();
    for u in users {
        ids.extend(
            tx.pending_tasks_of_user(*u)
                .await?
                .iter()
                .map(|t| t.application_id),
        );
    }
    let waiting = custos_store::ApplicationFilter {
        needs_admin: true,
        limit: RETRY_LIMIT,
        ..Default::default()
    };
    ids.extend(tx.applications(&waiting).await?.iter().map(|a| a.id));
    let mut changed = 0;
    for id in ids {
        if recheck_application(tx, actor, id, cause).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

async fn recheck_application(tx: &mut Tx, actor: &Actor, id: i64, cause: &str) -> AppResult<bool> {
    let Some(mut a) = tx.application_for_update(id).await? else {
        return Ok(false);
    };
    if !["submitted", "in_review"].contains(&a.state.as_str()) {
        return Ok(false);
    }
    let flow = frozen(&a)?;
    let Some(step) = flow.steps.get(a.current_step as usize).cloned() else {
        return Ok(false);
    };
    let Some(o) = reassign_step(tx, &a, &step).await? else {
        return Ok(false);
    };
    let now = now_us();
    let before = a.needs_admin.clone();
    a.needs_admin = o.stuck.then(|| {
        let users: Vec<String> = o.removed.iter().map(|(u, _)| u.to_string()).collect();
        let flag = NeedsAdmin {
            code: "application.no_qualified_approver".into(),
            step: a.current_step,
            reason: format!(
                "审批步骤“{}”已无具备资格的审批人（原审批人 {} 不再具备资格），需管理员指定审批人",
                step.name,
                users.join("、")
            ),
            reason_en: format!(
                "nobody qualifies any more to decide step '{}' (former approvers {} no longer qualify); an administrator must assign an approver",
                step.name,
                users.join(", ")
            ),
            since: format_time(now),
        };
        to_json(&flag).unwrap_or_default()
    });
    a.updated_at = now;
    let removed: Vec<_> = o
        .removed
        .iter()
        .map(|(u, v)| json!({"user_id": u, "code": v.code, "reason": v.zh}))
        .collect();
    let detail = json!({"removed": removed, "assigned": o.added, "needs_admin": o.stuck});
    reassign_trail(tx, actor, &a, Some(cause.to_string()), detail, before).await?;
    Ok(true)
}

/// Close the current step's tasks whose holders no longer qualify and add tasks for
/// those who qualify now; `None` when nothing changes.
async fn reassign_step(
    tx: &mut Tx,
    a: &ApplicationRow,
    step: &FlowStep,
) -> AppResult<Option<Outcome>> {
    let now = now_us();
    let in_step: Vec<TaskRow> = tx
        .tasks_of(a.id)
        .await?
        .into_iter()
        .filter(|t| t.round == a.round && t.step == a.current_step)
        .collect();
    let mut removed = Vec::new();
    let mut keep = BTreeSet::new();
    let mut pending_left = 0;
    for t in &in_step {
        match t.decision.as_deref() {
            None => {
                let delegated = t.delegated_from.is_some();
                match check_decider(tx, t.user_id, a, step, delegated).await? {
                    Ok(()) => {
                        pending_left += 1;
                        keep.insert(t.user_id);
                    }
                    Err(why) => {
                        let v = why.violation(t.user_id, step);
                        tx.decide_task(t.id, REASSIGNED, Some(&v.zh), now).await?;
                        removed.push((t.user_id, v));
                    }
                }
            }
            // An approver who already approved this step (all-of mode) is not asked again.
            Some("approve") => {
                keep.insert(t.user_id);
            }
            Some(_) => {}
        }
    }
    if removed.is_empty() && a.needs_admin.is_none() {
        return Ok(None);
    }
    let added: Vec<i64> = approvers_or_admins(tx, step, a.applicant_id, a.department_id)
        .await?
        .into_iter()
        .filter(|u| !keep.contains(u))
        .collect();
    if removed.is_empty() && added.is_empty() {
        return Ok(None);
    }
    for u in &added {
        tx.insert_task(&TaskRow {
            id: 0,
            application_id: a.id,
            round: a.round,
            step: a.current_step,
            user_id: *u,
            decision: None,
            decided_at: None,
            comment: None,
            delegated_from: None,
            created_at: now,
        })
        .await?;
        notify_task(tx, a, *u).await?;
    }
    Ok(Some(Outcome {
        stuck: pending_left == 0 && added.is_empty(),
        removed,
        added,
    }))
}

async fn notify_task(tx: &mut Tx, a: &ApplicationRow, user: i64) -> AppResult<()> {
    notify(
        tx,
        user,
        a.id,
        "task",
        format!("待审批（重新分派）：{} #{}", kind_zh(&a.kind), a.id),
        format!("申请单 #{} 的审批已分派给您。", a.id),
    )
    .await
}

/// The trail event and the audit entry of a reassignment, and the application written
/// back (its version bumped, so a decision based on the old task list notices).
async fn reassign_trail(
    tx: &mut Tx,
    actor: &Actor,
    a: &ApplicationRow,
    comment: Option<String>,
    detail: serde_json::Value,
    needs_admin_before: Option<String>,
) -> AppResult<()> {
    tx.insert_application_event(&EventRow {
        id: 0,
        application_id: a.id,
        at: now_us(),
        actor_id: Some(actor.user_id),
        actor_name: actor.username.clone(),
        action: "reassign".into(),
        step: Some(a.current_step),
        from_state: Some(a.state.clone()),
        to_state: Some(a.state.clone()),
        comment: comment.clone(),
        detail: to_json(&detail),
    })
    .await?;
    let flag = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
    };
    let mut r = record(
        actor,
        "application.reassign",
        "application",
        &a.id.to_string(),
    );
    r.before = to_json(&json!({"needs_admin": flag(&needs_admin_before)}));
    r.after = to_json(&json!({"step": a.current_step, "detail": detail,
        "needs_admin": flag(&a.needs_admin)}));
    r.reason = comment;
    append(tx, r).await?;
    tx.update_application(a).await?;
    Ok(())
}
