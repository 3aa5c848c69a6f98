//! Departments: their tree, managers, and which of them a scoped reader sees.

use crate::org::Org;
use serde::{Deserialize, Serialize};

use custos_core::{FieldError, Violation};
use custos_store::{now_us, DepartmentRow, StoreError, Tx};

use super::{check_name, double_option};
use crate::actor::{Actor, Scope};
use crate::applications::{managers_above, recheck_open_tasks};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::to_json;

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

pub(crate) async fn check_department_exists(
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

impl Org<'_> {
    pub async fn create_department(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewDepartment>>,
    ) -> AppResult<DepartmentView> {
        actor.require("department.manage")?;
        let input = input.into().get()?;
        let mut errors = Vec::new();
        check_name("name", &input.name, 64, &mut errors);
        let mut tx = self.app.db.begin().await?;
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
        let mut tx = self.app.db.begin().await?;
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
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.departments().await?;
        tx.rollback().await?;
        Ok(rows.into_iter().map(department_view).collect())
    }

    pub async fn get_department(&self, _actor: &Actor, id: i64) -> AppResult<DepartmentView> {
        let mut tx = self.app.db.begin_read().await?;
        let d = tx
            .department(id)
            .await?
            .ok_or_else(|| AppError::not_found("department", id))?;
        tx.rollback().await?;
        Ok(department_view(d))
    }
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
