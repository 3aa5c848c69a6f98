//! Roles: the built-in ones kept current, custom ones created and changed, and the
//! permissions they list.

use crate::org::Org;
use serde::{Deserialize, Serialize};

use custos_core::text_guard::Lines;
use custos_core::{FieldError, Violation};
use custos_store::{now_us, RoleRow, StoreError};

use super::check_name;
use crate::actor::{builtin_roles, is_known_permission, Actor};
use crate::applications::recheck_open_tasks;
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};
use crate::text_input::{push_refused, refuse_single_line};
use crate::to_json;

/// Most permissions one role may list (more than exist is a mistake).
const MAX_PERMISSIONS: usize = 200;

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

fn role_view(r: RoleRow) -> RoleView {
    RoleView {
        id: r.id,
        key: r.key,
        name: r.name,
        permissions: serde_json::from_str(&r.permissions).unwrap_or_default(),
        builtin: r.builtin,
    }
}

impl Org<'_> {
    /// Insert missing built-in roles and keep their permission sets current.
    pub async fn ensure_builtin_roles(&self) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
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

    pub async fn list_roles(&self, _actor: &Actor) -> AppResult<Vec<RoleView>> {
        let mut tx = self.app.db.begin_read().await?;
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
        let mut tx = self.app.db.begin().await?;
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
        let mut tx = self.app.db.begin().await?;
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
