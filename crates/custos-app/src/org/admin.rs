//! What the administration pages need beyond the API's single-object use cases: users
//! found by name, a user's sessions (ended one by one), granting one role with an expiry,
//! every grant with where a temporary one came from, and the department tree.

use crate::org::Org;
use serde::Serialize;

use custos_core::Violation;
use custos_store::{now_us, AuditFilter, Tx, UserRow};

use super::departments::visible_departments;
use super::grants::{resolve_roles, RoleAssignment};
use super::user_view::user_view;
use super::{DepartmentView, RoleView, UserView};
use crate::actor::{Actor, Scope, PERMISSIONS};
use crate::applications::recheck_open_tasks;
use crate::audit::{append, record};
use crate::clock::format_time;
use crate::error::{AppError, AppResult};
use crate::to_json;

/// Most sessions of one user listed (a user rarely has more than a handful).
const MAX_SESSIONS: i64 = 50;
/// Most grants the roles page lists.
pub const MAX_GRANTS_LISTED: i64 = 500;
/// Most audit entries looked at to tell where one temporary grant came from.
const GRANT_ORIGIN_LOOKBACK: i64 = 20;
/// Characters of a session's token hash that name it on a page.
const SESSION_ID_LEN: usize = 16;

/// A live session of a user (never its token).
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// The first characters of the token's hash: enough to name it, useless to sign in.
    pub id: String,
    /// `browser` (the console) or `token` (API).
    pub kind: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_seen_at: Option<String>,
}

/// One grant of a role, and the approved permission application it came from, if any.
#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub role_name: String,
    pub scope: String,
    pub expires_at: Option<String>,
    pub expired: bool,
    pub application_id: Option<i64>,
}

/// Roles with their permissions, the permissions there are, and the grants.
#[derive(Debug, Clone, Serialize)]
pub struct GrantOverview {
    pub roles: Vec<RoleView>,
    /// `(key, 中文 label)` of every permission, in the catalog's order.
    pub permissions: Vec<(String, String)>,
    pub grants: Vec<GrantView>,
    /// More grants exist than are listed.
    pub truncated: bool,
}

/// A department in tree order with its depth and its manager's name.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentNode {
    pub department: DepartmentView,
    pub depth: usize,
    pub manager_name: Option<String>,
}

/// The user `id` if the actor may manage them (`user.manage` over their department);
/// outside the scope it is the same not-found as a missing user.
async fn managed_user(tx: &mut Tx, actor: &Actor, id: i64) -> AppResult<UserRow> {
    let scope = actor.require("user.manage")?;
    let user = tx
        .user(id)
        .await?
        .ok_or_else(|| AppError::not_found("user", id))?;
    if scope != Scope::All {
        let visible = visible_departments(tx, actor, scope)
            .await?
            .unwrap_or_default();
        if !user.department_id.is_some_and(|d| visible.contains(&d)) {
            return Err(AppError::not_found("user", id));
        }
    }
    Ok(user)
}

fn session_id(token_hash: &str) -> String {
    token_hash.chars().take(SESSION_ID_LEN).collect()
}

fn grant_in_past(field: &str) -> custos_core::FieldError {
    Violation::new(
        "grant.expired",
        "到期时间必须晚于现在",
        "the expiry must be in the future",
    )
    .on(field)
}

impl Org<'_> {
    /// Users the caller may see (`user.read`) whose username or name contains `text`,
    /// by id after `after_id`; an empty `text` lists them all.
    pub async fn find_users(
        &self,
        actor: &Actor,
        text: &str,
        after_id: i64,
        limit: i64,
    ) -> AppResult<Vec<UserView>> {
        let text = text.trim();
        if text.is_empty() {
            return self.list_users(actor, after_id, limit).await;
        }
        crate::text_input::refuse_single_line([("q", Some(text))])?;
        if text.chars().count() > 64 {
            return Err(crate::paging::invalid(
                "q",
                text,
                "不能超过 64 个字符",
                "must not exceed 64 characters",
            ));
        }
        let scope = actor.require("user.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let visible = visible_departments(&mut tx, actor, scope).await?;
        let also_self = visible.as_ref().map(|_| actor.user_id);
        let rows = tx
            .users_matching(
                visible.as_deref(),
                also_self,
                text,
                after_id,
                limit.clamp(1, 500),
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for u in &rows {
            out.push(user_view(&mut tx, u).await?);
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// A user's live sessions, console and API (`user.manage` over the user).
    pub async fn user_sessions(&self, actor: &Actor, user_id: i64) -> AppResult<Vec<SessionView>> {
        let mut tx = self.app.db.begin_read().await?;
        managed_user(&mut tx, actor, user_id).await?;
        let rows = tx.live_sessions_of(user_id, now_us(), MAX_SESSIONS).await?;
        tx.rollback().await?;
        Ok(rows
            .into_iter()
            .map(|s| SessionView {
                id: session_id(&s.token_hash),
                kind: s.kind,
                created_at: format_time(s.created_at),
                expires_at: format_time(s.expires_at),
                last_seen_at: s.last_seen_at.map(format_time),
            })
            .collect())
    }

    /// End one session of a user, named by [`SessionView::id`] (`user.manage` over the
    /// user; audited as `user.session_end`). A session already ended is not found.
    pub async fn end_user_session(
        &self,
        actor: &Actor,
        user_id: i64,
        session: &str,
    ) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
        managed_user(&mut tx, actor, user_id).await?;
        let now = now_us();
        let live = tx.live_sessions_of(user_id, now, MAX_SESSIONS).await?;
        let Some(s) = live
            .iter()
            .find(|s| session.len() == SESSION_ID_LEN && s.token_hash.starts_with(session))
        else {
            return Err(AppError::not_found("session", session));
        };
        tx.revoke_session_of(user_id, &s.token_hash, now).await?;
        let mut r = record(actor, "user.session_end", "user", &user_id.to_string());
        r.after = to_json(&serde_json::json!({"session": session, "kind": s.kind}));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grant one role to a user with a data scope and an optional expiry, keeping the
    /// user's other roles (`user.manage` over the user; audited as `user.grant`). Granting
    /// a role the user holds replaces its scope and expiry.
    pub async fn grant_role(
        &self,
        actor: &Actor,
        user_id: i64,
        grant: RoleAssignment,
    ) -> AppResult<UserView> {
        actor.require("user.manage")?;
        crate::text_input::refuse_in("roles", std::slice::from_ref(&grant))?;
        let mut tx = self.app.db.begin().await?;
        let user = managed_user(&mut tx, actor, user_id).await?;
        let mut errors = Vec::new();
        let resolved = resolve_roles(&mut tx, std::slice::from_ref(&grant), &mut errors).await?;
        let now = now_us();
        if resolved
            .first()
            .is_some_and(|(_, _, e)| e.is_some_and(|e| e <= now))
        {
            errors.push(grant_in_past("roles[0].expires_at"));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let Some((role_id, scope, expires)) = resolved.into_iter().next() else {
            return Err(AppError::not_found("role", &grant.role));
        };
        let before = user_view(&mut tx, &user).await?;
        tx.upsert_grant(user_id, role_id, &scope, expires).await?;
        let after = user_view(&mut tx, &user).await?;
        let mut r = record(actor, "user.grant", "user", &user_id.to_string());
        r.before = to_json(&before.roles);
        r.after = to_json(&serde_json::json!({
            "role": grant.role, "scope": scope, "expires_at": expires.map(format_time),
        }));
        append(&mut tx, r).await?;
        recheck_open_tasks(&mut tx, actor, &[user_id], "审批人角色变更").await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Take one role from a user (`user.manage` over the user; audited as
    /// `user.revoke`). Nobody takes a role from themselves, so the last administrator
    /// cannot lock everyone out.
    pub async fn revoke_role(
        &self,
        actor: &Actor,
        user_id: i64,
        role: &str,
    ) -> AppResult<UserView> {
        actor.require("user.manage")?;
        let mut tx = self.app.db.begin().await?;
        let user = managed_user(&mut tx, actor, user_id).await?;
        if user.id == actor.user_id {
            return Err(AppError::Rejected(Violation::new(
                "grant.self_revoke",
                "不能收回自己的角色，请由另一位管理员操作",
                "you cannot take a role from yourself; ask another administrator",
            )));
        }
        let held = tx.grants_of(user_id).await?;
        let Some(grant) = held.iter().find(|g| g.role_key == role) else {
            return Err(AppError::not_found("grant", format!("{user_id}/{role}")));
        };
        let before = user_view(&mut tx, &user).await?;
        tx.delete_grant(user_id, grant.role_id).await?;
        let after = user_view(&mut tx, &user).await?;
        let mut r = record(actor, "user.revoke", "user", &user_id.to_string());
        r.before = to_json(&before.roles);
        r.after = to_json(&after.roles);
        append(&mut tx, r).await?;
        recheck_open_tasks(&mut tx, actor, &[user_id], "审批人角色变更").await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Roles, their permissions and every grant (`role.manage`); a temporary grant names
    /// the approved permission application that made it.
    pub async fn grant_overview(&self, actor: &Actor) -> AppResult<GrantOverview> {
        actor.require("role.manage")?;
        let mut tx = self.app.db.begin_read().await?;
        let mut rows = tx.grant_list(MAX_GRANTS_LISTED + 1).await?;
        let truncated = rows.len() as i64 > MAX_GRANTS_LISTED;
        rows.truncate(MAX_GRANTS_LISTED as usize);
        let now = now_us();
        let mut grants = Vec::with_capacity(rows.len());
        for g in rows {
            let expires_at = g.expires_at.map(format_time);
            let application_id = match &expires_at {
                Some(at) => grant_application(&mut tx, g.user_id, &g.role_key, at).await?,
                None => None,
            };
            grants.push(GrantView {
                expired: g.expires_at.is_some_and(|e| e <= now),
                user_id: g.user_id,
                username: g.username,
                display_name: g.display_name,
                role: g.role_key,
                role_name: g.role_name,
                scope: g.scope,
                expires_at,
                application_id,
            });
        }
        tx.rollback().await?;
        Ok(GrantOverview {
            roles: self.list_roles(actor).await?,
            permissions: PERMISSIONS
                .iter()
                .map(|(k, l)| (k.to_string(), l.to_string()))
                .collect(),
            grants,
            truncated,
        })
    }

    /// Every department in tree order (parents before children, siblings by name), with
    /// depth and manager name (`department.manage`).
    pub async fn department_tree(&self, actor: &Actor) -> AppResult<Vec<DepartmentNode>> {
        actor.require("department.manage")?;
        let all = self.list_departments(actor).await?;
        let managers: Vec<i64> = all.iter().filter_map(|d| d.manager_id).collect();
        let mut tx = self.app.db.begin_read().await?;
        let names: std::collections::HashMap<i64, String> = tx
            .user_display_names(&managers)
            .await?
            .into_iter()
            .collect();
        tx.rollback().await?;
        Ok(tree_order(all, &names))
    }
}

/// The application behind a temporary grant: the newest `user.grant` entry for this
/// user and role, written by an approved application with this very expiry.
async fn grant_application(
    tx: &mut Tx,
    user_id: i64,
    role: &str,
    expires_at: &str,
) -> AppResult<Option<i64>> {
    let filter = AuditFilter {
        action: Some("user.grant".into()),
        target_type: Some("user".into()),
        target_id: Some(user_id.to_string()),
        limit: GRANT_ORIGIN_LOOKBACK,
        ..AuditFilter::default()
    };
    let entries = tx.audit_entries(&filter).await?;
    let newest = entries.iter().find_map(|e| {
        let after: serde_json::Value = serde_json::from_str(e.after_json.as_deref()?).ok()?;
        (after.get("role")?.as_str()? == role).then_some(after)
    });
    Ok(newest.and_then(|after| {
        let same_expiry = after.get("expires_at").and_then(|v| v.as_str()) == Some(expires_at);
        after
            .get("application")
            .and_then(|a| a.as_i64())
            .filter(|_| same_expiry)
    }))
}

/// Departments ordered as a tree; a department whose parent is missing starts a tree.
fn tree_order(
    all: Vec<DepartmentView>,
    managers: &std::collections::HashMap<i64, String>,
) -> Vec<DepartmentNode> {
    let ids: std::collections::HashSet<i64> = all.iter().map(|d| d.id).collect();
    let mut children: std::collections::BTreeMap<Option<i64>, Vec<DepartmentView>> =
        Default::default();
    for d in all {
        let parent = d.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(d);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    }
    let mut out = Vec::new();
    // Depth-first with an explicit stack; a cycle in stored data cannot loop: each
    // department is taken out of `children` once.
    let mut stack: Vec<(DepartmentView, usize)> = children
        .remove(&None)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|d| (d, 0))
        .collect();
    while let Some((d, depth)) = stack.pop() {
        if let Some(kids) = children.remove(&Some(d.id)) {
            stack.extend(kids.into_iter().rev().map(|k| (k, depth + 1)));
        }
        out.push(DepartmentNode {
            manager_name: d.manager_id.and_then(|m| managers.get(&m).cloned()),
            department: d,
            depth,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: i64, name: &str, parent: Option<i64>) -> DepartmentView {
        DepartmentView {
            id,
            name: name.into(),
            parent_id: parent,
            manager_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn children_follow_their_parent() {
        let all = vec![
            dept(3, "销售二部", Some(1)),
            dept(1, "销售中心", None),
            dept(2, "销售一部", Some(1)),
            dept(4, "财务部", None),
            dept(5, "华东组", Some(2)),
        ];
        let order: Vec<(i64, usize)> = tree_order(all, &Default::default())
            .iter()
            .map(|n| (n.department.id, n.depth))
            .collect();
        // Siblings by name (Unicode order), each subtree right after its root.
        assert_eq!(order, vec![(4, 0), (1, 0), (2, 1), (5, 2), (3, 1)]);
    }
}
