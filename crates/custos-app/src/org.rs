//! Organisation and access: departments, users, roles.

use serde::{Deserialize, Serialize};

use custos_core::{FieldError, Violation};
use custos_store::{now_us, DepartmentRow, RoleRow, StoreError, Tx, UserRow};

use crate::actor::{builtin_roles, is_known_permission, Actor, Scope};
use crate::applications::{managers_above, recheck_open_tasks};
use crate::audit::{append, record};
use crate::auth::{format_time, hash_password};
use crate::error::{AppError, AppResult};
use crate::password_policy::check_password;
use crate::text_input::{push_refused, refuse_in, refuse_single_line};
use crate::{to_json, App};
use custos_core::text_guard::Lines;

/// Most roles one user may be granted in one request (each is looked up).
const MAX_GRANTS: usize = 32;
/// Most permissions one role may list (more than exist is a mistake).
const MAX_PERMISSIONS: usize = 200;

/// A role held by a user, as the API shows and accepts it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    pub role: String,
    #[serde(default = "default_scope")]
    pub scope: String,
    /// RFC 3339; the grant lapses then (temporary permissions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

fn default_scope() -> String {
    "own".into()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub department_id: Option<i64>,
    pub email: Option<String>,
    pub disabled: bool,
    /// While set, logins of this user from addresses that have failed for it wait until
    /// then (too many failures for the name from everywhere); `POST /users/{id}/unlock`
    /// clears it.
    pub locked_until: Option<String>,
    pub roles: Vec<RoleAssignment>,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

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

/// Distinguish an absent field from an explicit `null`.
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepartmentView {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub manager_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub manager_id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    pub parent_id: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    pub manager_id: Option<Option<i64>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoleView {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub key: String,
    pub name: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

fn department_view(d: DepartmentRow) -> DepartmentView {
    DepartmentView {
        id: d.id,
        name: d.name,
        parent_id: d.parent_id,
        manager_id: d.manager_id,
        created_at: format_time(d.created_at),
        updated_at: format_time(d.updated_at),
    }
}

fn role_view(r: RoleRow) -> RoleView {
    RoleView {
        id: r.id,
        key: r.key,
        name: r.name,
        permissions: serde_json::from_str(&r.permissions).unwrap_or_default(),
        builtin: r.builtin,
    }
}

pub(crate) async fn user_view(tx: &mut Tx, u: &UserRow) -> AppResult<UserView> {
    let now = now_us();
    let grants = tx.grants_of(u.id).await?;
    let mut permissions = std::collections::BTreeSet::new();
    let mut roles = Vec::new();
    for g in grants {
        let live = g.expires_at.is_none_or(|e| e > now);
        if live {
            let perms: Vec<String> = serde_json::from_str(&g.permissions).unwrap_or_default();
            permissions.extend(perms);
        }
        roles.push(RoleAssignment {
            role: g.role_key,
            scope: g.scope,
            expires_at: g.expires_at.map(format_time),
        });
    }
    Ok(UserView {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        department_id: u.department_id,
        email: u.email.clone(),
        disabled: u.disabled,
        locked_until: tx
            .login_throttle(&crate::login_throttle::login_subject(&u.username), "")
            .await?
            .and_then(|t| t.blocked_until)
            .filter(|t| *t > now)
            .map(format_time),
        roles,
        permissions: permissions.into_iter().collect(),
        created_at: format_time(u.created_at),
        updated_at: format_time(u.updated_at),
    })
}

fn check_username(u: &str) -> Result<(), Violation> {
    let ok_len = (3..=32).contains(&u.len());
    let ok_chars = u
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(Violation::new(
            "username.format",
            format!("用户名“{u}”不合规：需 3–32 位字母、数字或 _ . -"),
            format!("username '{u}' is invalid: use 3–32 letters, digits, _ . or -"),
        ))
    }
}

fn check_name(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    if push_refused(field, value, Lines::Single, errors) {
        return;
    }
    let n = value.trim().chars().count();
    if n == 0 {
        errors.push(
            Violation::new(
                "required",
                format!("{field} 不能为空"),
                format!("{field} is required"),
            )
            .on(field),
        );
    } else if n > max {
        errors.push(
            Violation::new(
                "length.max",
                format!("{field} 不能超过 {max} 个字符（当前 {n} 个）"),
                format!("{field} must not exceed {max} characters (has {n})"),
            )
            .on(field),
        );
    }
}

/// A user's e-mail is kept as given; it must hold no refused character.
fn check_email(email: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(e) = email {
        push_refused("email", e, Lines::Single, errors);
    }
}

fn parse_time(field: &str, s: &str) -> Result<i64, FieldError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .map_err(|_| {
            Violation::new(
                "datetime.format",
                format!("时间“{s}”格式错误，应为 RFC 3339，例如 2026-01-31T00:00:00+08:00"),
                format!("time '{s}' is not RFC 3339, e.g. 2026-01-31T00:00:00+08:00"),
            )
            .on(field)
        })
}

/// Resolve role assignments to (role id, scope, expiry), reporting every bad entry.
async fn resolve_roles(
    tx: &mut Tx,
    roles: &[RoleAssignment],
    errors: &mut Vec<FieldError>,
) -> AppResult<Vec<(i64, String, Option<i64>)>> {
    let mut out = Vec::new();
    if roles.len() > MAX_GRANTS {
        errors.push(
            Violation::new(
                "list.too_long",
                format!(
                    "一次最多授予 {MAX_GRANTS} 个角色（当前 {} 个）",
                    roles.len()
                ),
                format!("at most {MAX_GRANTS} roles (has {})", roles.len()),
            )
            .on("roles"),
        );
        return Ok(out);
    }
    for (i, ra) in roles.iter().enumerate() {
        let role = tx.role_by_key(&ra.role).await?;
        if role.is_none() {
            errors.push(
                Violation::new(
                    "role.unknown",
                    format!("角色“{}”不存在", ra.role),
                    format!("role '{}' does not exist", ra.role),
                )
                .on(format!("roles[{i}].role")),
            );
        }
        if Scope::parse(&ra.scope).is_none() {
            errors.push(
                Violation::new(
                    "scope.unknown",
                    format!("数据范围“{}”无效，应为 own、department 或 all", ra.scope),
                    format!(
                        "data scope '{}' is invalid: use own, department or all",
                        ra.scope
                    ),
                )
                .on(format!("roles[{i}].scope")),
            );
        }
        let expires = match &ra.expires_at {
            Some(s) => match parse_time(&format!("roles[{i}].expires_at"), s) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            None => None,
        };
        if let Some(r) = role {
            out.push((r.id, ra.scope.clone(), expires));
        }
    }
    Ok(out)
}

async fn check_department_exists(
    tx: &mut Tx,
    field: &str,
    id: Option<i64>,
    errors: &mut Vec<FieldError>,
) -> AppResult<()> {
    if let Some(id) = id {
        if tx.department(id).await?.is_none() {
            errors.push(
                Violation::new(
                    "department.unknown",
                    format!("部门 {id} 不存在"),
                    format!("department {id} does not exist"),
                )
                .on(field),
            );
        }
    }
    Ok(())
}

/// Which user ids / departments a scoped reader may see. `None` = everything.
pub(crate) async fn visible_departments(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
) -> AppResult<Option<Vec<i64>>> {
    Ok(match scope {
        Scope::All => None,
        Scope::Department => match actor.department_id {
            Some(d) => Some(tx.department_subtree(d).await?),
            None => Some(Vec::new()),
        },
        Scope::Own => Some(Vec::new()),
    })
}

fn conflict_username(username: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "user.username_taken",
        format!("用户名“{username}”已被使用（用户名不区分大小写）"),
        format!("username '{username}' is already taken (usernames ignore case)"),
    ))
}

impl App {
    /// Insert missing built-in roles and keep their permission sets current.
    pub async fn ensure_builtin_roles(&self) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let now = now_us();
        for (key, name, perms) in builtin_roles() {
            let permissions = to_json(&perms).unwrap_or_else(|| "[]".into());
            match tx.role_by_key(key).await? {
                Some(mut r) => {
                    if r.permissions != permissions {
                        r.permissions = permissions;
                        r.updated_at = now;
                        tx.update_role(&r).await?;
                    }
                }
                None => {
                    tx.insert_role(&RoleRow {
                        id: 0,
                        key: key.into(),
                        name: name.into(),
                        permissions,
                        builtin: true,
                        created_at: now,
                        updated_at: now,
                    })
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- users ----

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
            self.config.min_password_len,
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
        let mut tx = self.db.begin().await?;
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
        let mut errors = Vec::new();
        check_email(patch.email.as_ref().and_then(|e| e.as_deref()), &mut errors);
        if let Some(p) = &patch.password {
            // The policy needs the user's names; a missing user is reported below.
            let mut rtx = self.db.begin_read().await?;
            let named = rtx.user(id).await?;
            rtx.rollback().await?;
            if let Some(u) = named {
                let display = patch.display_name.as_deref().unwrap_or(&u.display_name);
                if let Err(v) =
                    check_password(p, self.config.min_password_len, &[&u.username, display])
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
        let new_hash = match (&patch.password, errors.is_empty()) {
            (Some(p), true) => Some(hash_password(p.clone()).await?),
            _ => None,
        };
        let mut tx = self.db.begin().await?;
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
        if let Some(n) = patch.display_name {
            user.display_name = n.trim().to_string();
        }
        if let Some(h) = new_hash {
            user.password_hash = h;
        }
        if let Some(d) = patch.department_id {
            user.department_id = d;
        }
        if let Some(e) = patch.email {
            user.email = e.filter(|e| !e.trim().is_empty());
        }
        if let Some(d) = patch.disabled {
            user.disabled = d;
        }
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
        let action = match (before.disabled, after.disabled) {
            (false, true) => "user.disable",
            (true, false) => "user.enable",
            _ if patch.password.is_some() => "user.password",
            _ if unlocked.is_some() && before_matches(&before, &after) => "user.unlock",
            _ => "user.update",
        };
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
        let mut tx = self.db.begin_read().await?;
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
        let mut tx = self.db.begin_read().await?;
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
        let mut tx = self.db.begin_read().await?;
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
        let mut tx = self.db.begin_read().await?;
        let user = tx
            .user(actor.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("user", actor.user_id))?;
        let v = user_view(&mut tx, &user).await?;
        tx.rollback().await?;
        Ok(v)
    }

    // ---- departments ----

    pub async fn create_department(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewDepartment>>,
    ) -> AppResult<DepartmentView> {
        actor.require("department.manage")?;
        let input = input.into().get()?;
        let mut errors = Vec::new();
        check_name("name", &input.name, 64, &mut errors);
        let mut tx = self.db.begin().await?;
        check_department_exists(&mut tx, "parent_id", input.parent_id, &mut errors).await?;
        if let Some(m) = input.manager_id {
            if tx.user(m).await?.is_none() {
                errors.push(user_unknown("manager_id", m));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let now = now_us();
        let name = input.name.trim().to_string();
        let id = match tx
            .insert_department(&name, input.parent_id, input.manager_id, now)
            .await
        {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => return Err(department_taken(&name)),
            Err(e) => return Err(e.into()),
        };
        let view = department_view(
            tx.department(id)
                .await?
                .ok_or_else(|| AppError::not_found("department", id))?,
        );
        let mut r = record(actor, "department.create", "department", &id.to_string());
        r.after = to_json(&view);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn update_department(
        &self,
        actor: &Actor,
        id: i64,
        patch: impl Into<crate::input::Input<DepartmentPatch>>,
    ) -> AppResult<DepartmentView> {
        actor.require("department.manage")?;
        let patch = patch.into().get()?;
        let mut errors = Vec::new();
        if let Some(n) = &patch.name {
            check_name("name", n, 64, &mut errors);
        }
        let mut tx = self.db.begin().await?;
        let mut d = tx
            .department(id)
            .await?
            .ok_or_else(|| AppError::not_found("department", id))?;
        let before = department_view(d.clone());
        if let Some(Some(p)) = patch.parent_id {
            check_department_exists(&mut tx, "parent_id", Some(p), &mut errors).await?;
            // A department cannot move under itself or one of its descendants.
            if tx.department_subtree(id).await?.contains(&p) {
                errors.push(
                    Violation::new(
                        "department.cycle",
                        format!("不能把部门 {id} 移到它自己或其下级部门 {p} 之下"),
                        format!("department {id} cannot move under itself or its descendant {p}"),
                    )
                    .on("parent_id"),
                );
            }
        }
        if let Some(Some(m)) = patch.manager_id {
            if tx.user(m).await?.is_none() {
                errors.push(user_unknown("manager_id", m));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        // Managers who may lose a department-manager step when the chain changes.
        let old_managers = if patch.manager_id.is_some() || patch.parent_id.is_some() {
            managers_above(&mut tx, Some(id)).await?
        } else {
            Vec::new()
        };
        if let Some(n) = patch.name {
            d.name = n.trim().to_string();
        }
        if let Some(p) = patch.parent_id {
            d.parent_id = p;
        }
        if let Some(m) = patch.manager_id {
            d.manager_id = m;
        }
        d.updated_at = now_us();
        match tx.update_department(&d).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => return Err(department_taken(&d.name)),
            Err(e) => return Err(e.into()),
        }
        let after = department_view(d);
        let mut r = record(actor, "department.update", "department", &id.to_string());
        r.before = to_json(&before);
        r.after = to_json(&after);
        append(&mut tx, r).await?;
        if !old_managers.is_empty() {
            recheck_open_tasks(&mut tx, actor, &old_managers, "部门负责人变更").await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Departments are visible to every signed-in user (names only, needed to pick one).
    pub async fn list_departments(&self, _actor: &Actor) -> AppResult<Vec<DepartmentView>> {
        let mut tx = self.db.begin_read().await?;
        let rows = tx.departments().await?;
        tx.rollback().await?;
        Ok(rows.into_iter().map(department_view).collect())
    }

    pub async fn get_department(&self, _actor: &Actor, id: i64) -> AppResult<DepartmentView> {
        let mut tx = self.db.begin_read().await?;
        let d = tx
            .department(id)
            .await?
            .ok_or_else(|| AppError::not_found("department", id))?;
        tx.rollback().await?;
        Ok(department_view(d))
    }

    // ---- roles ----

    pub async fn list_roles(&self, _actor: &Actor) -> AppResult<Vec<RoleView>> {
        let mut tx = self.db.begin_read().await?;
        let rows = tx.roles().await?;
        tx.rollback().await?;
        Ok(rows.into_iter().map(role_view).collect())
    }

    pub async fn create_role(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<RoleInput>>,
    ) -> AppResult<RoleView> {
        actor.require("role.manage")?;
        let input = input.into().get()?;
        let mut errors = Vec::new();
        let key_ok = (2..=32).contains(&input.key.len())
            && input
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            errors.push(
                Violation::new(
                    "role.key_format",
                    format!(
                        "角色标识“{}”不合规：需 2–32 位小写字母、数字或下划线",
                        input.key
                    ),
                    format!(
                        "role key '{}' is invalid: use 2–32 lower-case letters, digits or _",
                        input.key
                    ),
                )
                .on("key"),
            );
        }
        check_name("name", &input.name, 64, &mut errors);
        check_permissions(&input.permissions, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let now = now_us();
        let mut tx = self.db.begin().await?;
        let row = RoleRow {
            id: 0,
            key: input.key.clone(),
            name: input.name.trim().to_string(),
            permissions: to_json(&dedup(&input.permissions)).unwrap_or_default(),
            builtin: false,
            created_at: now,
            updated_at: now,
        };
        let id = match tx.insert_role(&row).await {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => {
                return Err(AppError::Conflict(Violation::new(
                    "role.key_taken",
                    format!("角色标识“{}”已存在", input.key),
                    format!("role key '{}' already exists", input.key),
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let view = role_view(RoleRow { id, ..row });
        let mut r = record(actor, "role.create", "role", &input.key);
        r.after = to_json(&view);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn update_role(
        &self,
        actor: &Actor,
        key: &str,
        patch: impl Into<crate::input::Input<RolePatch>>,
    ) -> AppResult<RoleView> {
        actor.require("role.manage")?;
        let patch = patch.into().get()?;
        refuse_single_line([("key", Some(key))])?;
        let mut errors = Vec::new();
        if let Some(n) = &patch.name {
            check_name("name", n, 64, &mut errors);
        }
        if let Some(p) = &patch.permissions {
            check_permissions(p, &mut errors);
        }
        let mut tx = self.db.begin().await?;
        let mut role = tx
            .role_by_key(key)
            .await?
            .ok_or_else(|| AppError::not_found("role", key))?;
        if role.builtin {
            return Err(AppError::Rejected(Violation::new(
                "role.builtin",
                format!("内置角色“{key}”不能修改，请新建自定义角色"),
                format!("built-in role '{key}' cannot be changed; create a custom role"),
            )));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let before = role_view(role.clone());
        let permissions_changed = patch.permissions.is_some();
        if let Some(n) = patch.name {
            role.name = n.trim().to_string();
        }
        if let Some(p) = patch.permissions {
            role.permissions = to_json(&dedup(&p)).unwrap_or_default();
        }
        role.updated_at = now_us();
        tx.update_role(&role).await?;
        let after = role_view(role);
        let mut r = record(actor, "role.update", "role", key);
        r.before = to_json(&before);
        r.after = to_json(&after);
        append(&mut tx, r).await?;
        if permissions_changed {
            let holders = tx.users_with_role(key, now_us()).await?;
            recheck_open_tasks(&mut tx, actor, &holders, "审批人所持角色的权限变更").await?;
        }
        tx.commit().await?;
        Ok(after)
    }
}

fn check_permissions(perms: &[String], errors: &mut Vec<FieldError>) {
    if perms.len() > MAX_PERMISSIONS {
        errors.push(
            Violation::new(
                "list.too_long",
                format!("权限最多 {MAX_PERMISSIONS} 个（当前 {} 个）", perms.len()),
                format!(
                    "at most {MAX_PERMISSIONS} permissions (has {})",
                    perms.len()
                ),
            )
            .on("permissions"),
        );
        return;
    }
    for (i, p) in perms.iter().enumerate() {
        if push_refused(&format!("permissions[{i}]"), p, Lines::Single, errors) {
            continue;
        }
        if !is_known_permission(p) {
            errors.push(
                Violation::new(
                    "permission.unknown",
                    format!("权限“{p}”不存在"),
                    format!("permission '{p}' does not exist"),
                )
                .on(format!("permissions[{i}]")),
            );
        }
    }
}

fn dedup(p: &[String]) -> Vec<String> {
    let set: std::collections::BTreeSet<&String> = p.iter().collect();
    set.into_iter().cloned().collect()
}

fn user_unknown(field: &str, id: i64) -> FieldError {
    Violation::new(
        "user.unknown",
        format!("用户 {id} 不存在"),
        format!("user {id} does not exist"),
    )
    .on(field)
}

fn department_taken(name: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "department.name_taken",
        format!("同一上级部门下已有名为“{name}”的部门"),
        format!("a department named '{name}' already exists under the same parent"),
    ))
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
