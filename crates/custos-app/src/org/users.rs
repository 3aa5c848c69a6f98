//! Users: their accounts, departments, passwords and roles, within the caller's scope.

use crate::org::Org;
use serde::Deserialize;

use custos_core::text_guard::Lines;
use custos_core::{FieldError, Violation};
use custos_store::{now_us, StoreError, Tx, UserRow};

use super::departments::{check_department_exists, visible_departments};
use super::grants::resolve_roles;
use super::user_view::{user_view, UserView};
use super::{check_name, check_username, double_option, RoleAssignment};
use crate::actor::{Actor, Scope};
use crate::applications::recheck_open_tasks;
use crate::audit::{append, record};
use crate::auth::hash_password;
use crate::error::{AppError, AppResult};
use crate::password_policy::check_password;
use crate::text_input::{push_refused, refuse_in, refuse_single_line};
use crate::{to_json, App};

#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub department_id: Option<i64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<RoleAssignment>,
}

#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// `Some(None)` moves the user out of every department.
    #[serde(default, with = "double_option")]
    pub department_id: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    pub email: Option<Option<String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub roles: Option<Vec<RoleAssignment>>,
    /// Clear the user's failed-login throttling (as `POST /users/{id}/unlock`).
    #[serde(default)]
    pub unlock: Option<bool>,
}

/// A user's e-mail is kept as given; it must hold no refused character.
fn check_email(email: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(e) = email {
        push_refused("email", e, Lines::Single, errors);
    }
}

fn conflict_username(username: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "user.username_taken",
        format!("用户名“{username}”已被使用（用户名不区分大小写）"),
        format!("username '{username}' is already taken (usernames ignore case)"),
    ))
}

impl Org<'_> {
    pub async fn create_user(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewUser>>,
    ) -> AppResult<UserView> {
        let scope = actor.require("user.manage")?;
        let input = input.into().get()?;
        // The username first: its format error would quote it.
        refuse_single_line([("username", Some(input.username.as_str()))])?;
        refuse_in("roles", &input.roles)?;
        let mut errors = Vec::new();
        check_email(input.email.as_deref(), &mut errors);
        if let Err(v) = check_username(&input.username) {
            errors.push(v.on("username"));
        }
        let display_name = input
            .display_name
            .clone()
            .unwrap_or_else(|| input.username.clone());
        if let Err(v) = check_password(
            &input.password,
            self.app.config.min_password_len,
            &[&input.username, &display_name],
        ) {
            errors.push(v.on("password"));
        }
        check_name("display_name", &display_name, 64, &mut errors);
        // Hash before taking the write lock; wasted work only on invalid input.
        let hash = if errors.is_empty() {
            hash_password(input.password.clone()).await?
        } else {
            String::new()
        };
        let mut tx = self.app.db.begin().await?;
        check_department_exists(&mut tx, "department_id", input.department_id, &mut errors).await?;
        let grants = resolve_roles(&mut tx, &input.roles, &mut errors).await?;
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        self.check_user_in_scope(&mut tx, actor, scope, input.department_id)
            .await?;
        let now = now_us();
        let row = UserRow {
            id: 0,
            username: input.username.clone(),
            display_name: display_name.trim().to_string(),
            password_hash: hash,
            department_id: input.department_id,
            email: input.email.clone().filter(|e| !e.trim().is_empty()),
            disabled: false,
            created_at: now,
            updated_at: now,
            language: None,
            kind: "person".into(),
            auth_source: custos_store::LOCAL_SOURCE.into(),
        };
        let id = match tx.insert_user(&row).await {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => return Err(conflict_username(&input.username)),
            Err(e) => return Err(e.into()),
        };
        tx.set_grants(id, &grants).await?;
        let row = UserRow { id, ..row };
        let view = user_view(&mut tx, &row).await?;
        let mut r = record(actor, "user.create", "user", &id.to_string());
        r.after = to_json(&audit_user(&view));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// A department-scoped user manager may only act inside their department subtree.
    async fn check_user_in_scope(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        scope: Scope,
        department_id: Option<i64>,
    ) -> AppResult<()> {
        if scope == Scope::All {
            return Ok(());
        }
        let visible = visible_departments(tx, actor, scope)
            .await?
            .unwrap_or_default();
        match department_id {
            Some(d) if visible.contains(&d) => Ok(()),
            _ => Err(AppError::Forbidden {
                permission: "user.manage".into(),
            }),
        }
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        patch: UserPatch,
    ) -> AppResult<UserView> {
        let is_self = actor.user_id == id;
        // Users may change their own password and display name; the rest needs user.manage.
        let self_only = patch.department_id.is_none()
            && patch.email.is_none()
            && patch.disabled.is_none()
            && patch.roles.is_none()
            && patch.unlock.is_none();
        let scope = if is_self && self_only {
            Scope::All
        } else {
            actor.require("user.manage")?
        };
        if let Some(roles) = &patch.roles {
            refuse_in("roles", roles)?;
        }
        let mut errors = self.user_patch_errors(id, is_self, &patch).await?;
        let new_hash = match (&patch.password, errors.is_empty()) {
            (Some(p), true) => Some(hash_password(p.clone()).await?),
            _ => None,
        };
        let mut tx = self.app.db.begin().await?;
        let Some(mut user) = tx.user(id).await? else {
            return Err(AppError::not_found("user", id));
        };
        if !(is_self && self_only) {
            if scope != Scope::All {
                let visible = visible_departments(&mut tx, actor, scope)
                    .await?
                    .unwrap_or_default();
                if !user.department_id.is_some_and(|d| visible.contains(&d)) {
                    return Err(AppError::not_found("user", id));
                }
            }
            if let Some(Some(d)) = patch.department_id {
                check_department_exists(&mut tx, "department_id", Some(d), &mut errors).await?;
                if errors.is_empty() {
                    self.check_user_in_scope(&mut tx, actor, scope, Some(d))
                        .await?;
                }
            }
        }
        let grants = match &patch.roles {
            Some(roles) => Some(resolve_roles(&mut tx, roles, &mut errors).await?),
            None => None,
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let before = user_view(&mut tx, &user).await?;
        let now = now_us();
        apply_user_patch(&mut user, &patch, new_hash);
        let unlocked = match patch.unlock {
            Some(true) => Some(App::clear_login_throttle(&mut tx, &user.username).await?),
            _ => None,
        };
        user.updated_at = now;
        tx.update_user(&user).await?;
        if let Some(g) = grants {
            tx.set_grants(id, &g).await?;
        }
        if patch.password.is_some() || user.disabled {
            tx.revoke_user_sessions(id, now).await?;
        }
        let after = user_view(&mut tx, &user).await?;
        let action = update_action(
            &before,
            &after,
            patch.password.is_some(),
            unlocked.is_some(),
        );
        let mut r = record(actor, action, "user", &id.to_string());
        r.before = to_json(&audit_user(&before));
        r.after = to_json(&audit_user(&after));
        if let Some(n) = unlocked {
            r.reason = Some(format!("failed-login throttling cleared ({n} counters)"));
        }
        append(&mut tx, r).await?;
        if patch.roles.is_some() || before.disabled != after.disabled {
            // Open tasks follow who may decide them, in this transaction.
            let cause = if after.disabled {
                "审批人已停用"
            } else {
                "审批人角色变更"
            };
            recheck_open_tasks(&mut tx, actor, &[id], cause).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// What is wrong with a patch before the user is loaded for writing: e-mail,
    /// password policy, display name, disabling oneself.
    async fn user_patch_errors(
        &self,
        id: i64,
        is_self: bool,
        patch: &UserPatch,
    ) -> AppResult<Vec<FieldError>> {
        let mut errors = Vec::new();
        check_email(patch.email.as_ref().and_then(|e| e.as_deref()), &mut errors);
        if let Some(p) = &patch.password {
            // The policy needs the user's names; a missing user is reported below.
            let mut rtx = self.app.db.begin_read().await?;
            let named = rtx.user(id).await?;
            rtx.rollback().await?;
            if let Some(u) = named {
                if u.kind == custos_store::SERVICE_KIND {
                    errors.push(
                        Violation::new(
                            "user.service_account_password",
                            "服务账号没有密码，只能用 API 密钥访问",
                            "a service account has no password; it uses API keys",
                        )
                        .on("password"),
                    );
                    return Ok(errors);
                }
                if u.auth_source != custos_store::LOCAL_SOURCE {
                    errors.push(
                        Violation::new(
                            "user.external_account_password",
                            format!("该账号来自 {}，密码由其管理，不能在此设置", u.auth_source),
                            format!(
                                "this account comes from {}, which keeps its password; it \
                                 cannot be set here",
                                u.auth_source
                            ),
                        )
                        .on("password"),
                    );
                    return Ok(errors);
                }
                let display = patch.display_name.as_deref().unwrap_or(&u.display_name);
                if let Err(v) =
                    check_password(p, self.app.config.min_password_len, &[&u.username, display])
                {
                    errors.push(v.on("password"));
                }
            }
        }
        if let Some(n) = &patch.display_name {
            check_name("display_name", n, 64, &mut errors);
        }
        if is_self && patch.disabled == Some(true) {
            errors.push(
                Violation::new(
                    "user.disable_self",
                    "不能停用自己的账户",
                    "you cannot disable your own account",
                )
                .on("disabled"),
            );
        }
        Ok(errors)
    }

    /// Clear a user's failed-login throttling, from every address (needs `user.manage`
    /// over the user; audited as `user.unlock`).
    pub async fn unlock_user(&self, actor: &Actor, id: i64) -> AppResult<UserView> {
        let patch = UserPatch {
            unlock: Some(true),
            ..Default::default()
        };
        self.update_user(actor, id, patch).await
    }

    pub async fn get_user(&self, actor: &Actor, id: i64) -> AppResult<UserView> {
        let mut tx = self.app.db.begin_read().await?;
        let user = tx
            .user(id)
            .await?
            .ok_or_else(|| AppError::not_found("user", id))?;
        if actor.user_id != id {
            let scope = actor.require("user.read")?;
            if let Some(visible) = visible_departments(&mut tx, actor, scope).await? {
                if !user.department_id.is_some_and(|d| visible.contains(&d)) {
                    return Err(AppError::not_found("user", id));
                }
            }
        }
        let v = user_view(&mut tx, &user).await?;
        tx.rollback().await?;
        Ok(v)
    }

    pub async fn user_id_by_name(&self, actor: &Actor, username: &str) -> AppResult<i64> {
        refuse_single_line([("username", Some(username))])?;
        let mut tx = self.app.db.begin_read().await?;
        let u = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| AppError::not_found("user", username))?;
        tx.rollback().await?;
        // Reuse the scoped read so names outside the scope look absent.
        self.get_user(actor, u.id).await.map(|v| v.id)
    }

    /// Users the caller may see, by id after `after_id`.
    pub async fn list_users(
        &self,
        actor: &Actor,
        after_id: i64,
        limit: i64,
    ) -> AppResult<Vec<UserView>> {
        let scope = actor.require("user.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let visible = visible_departments(&mut tx, actor, scope).await?;
        // A scoped reader also sees themself; with scope `all` there is nothing to add
        // (the store reads a lone `only_user` as "just this user").
        let also_self = visible.as_ref().map(|_| actor.user_id);
        let rows = tx
            .users(visible.as_deref(), also_self, after_id, limit.clamp(1, 500))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for u in &rows {
            out.push(user_view(&mut tx, u).await?);
        }
        tx.rollback().await?;
        Ok(out)
    }

    pub async fn me(&self, actor: &Actor) -> AppResult<UserView> {
        let mut tx = self.app.db.begin_read().await?;
        let user = tx
            .user(actor.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("user", actor.user_id))?;
        let v = user_view(&mut tx, &user).await?;
        tx.rollback().await?;
        Ok(v)
    }
}

/// Write the patched fields into the row (the password as its new hash).
fn apply_user_patch(user: &mut UserRow, patch: &UserPatch, new_hash: Option<String>) {
    if let Some(n) = &patch.display_name {
        user.display_name = n.trim().to_string();
    }
    if let Some(h) = new_hash {
        user.password_hash = h;
    }
    if let Some(d) = patch.department_id {
        user.department_id = d;
    }
    if let Some(e) = &patch.email {
        user.email = e.clone().filter(|e| !e.trim().is_empty());
    }
    if let Some(d) = patch.disabled {
        user.disabled = d;
    }
}

/// The audit action of an update: what changed that matters most.
fn update_action(
    before: &UserView,
    after: &UserView,
    password: bool,
    unlocked: bool,
) -> &'static str {
    match (before.disabled, after.disabled) {
        (false, true) => "user.disable",
        (true, false) => "user.enable",
        _ if password => "user.password",
        _ if unlocked && before_matches(before, after) => "user.unlock",
        _ => "user.update",
    }
}

/// Nothing but the throttling changed (an unlock on its own).
fn before_matches(before: &UserView, after: &UserView) -> bool {
    audit_user(before) == audit_user(after)
}

/// What an audit entry keeps of a user: never the password hash.
fn audit_user(v: &UserView) -> serde_json::Value {
    serde_json::json!({
        "username": v.username,
        "display_name": v.display_name,
        "department_id": v.department_id,
        "disabled": v.disabled,
        "roles": v.roles,
    })
}
