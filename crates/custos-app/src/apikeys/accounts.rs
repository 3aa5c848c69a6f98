//! Service accounts: created, listed and disabled by administrators (`user.manage` over
//! everyone), on the users/roles/grants machinery of `org`.

use crate::apikeys::ApiKeys;
use custos_core::Violation;
use custos_store::{now_us, StoreError, Tx, UserRow, SERVICE_KIND};

use super::{NewServiceAccount, ServiceAccountView};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::org::{check_department_exists, check_name, check_username, resolve_roles, user_view};
use crate::text_input::{refuse_in, refuse_single_line};
use crate::to_json;

/// Most service accounts one list answer holds.
pub(crate) const MAX_LISTED: i64 = 500;
/// Most keys (revoked ones included) one list answer holds; an account's view lists them too.
pub(crate) const MAX_KEYS_LISTED: i64 = 500;

/// Service accounts and their keys are an administrator's: `user.manage` over all users.
pub(super) fn require_admin(actor: &Actor) -> AppResult<()> {
    match actor.require("user.manage")? {
        Scope::All => Ok(()),
        _ => Err(AppError::Forbidden {
            permission: "user.manage".into(),
        }),
    }
}

/// The service account `id`; a person or a missing id is "not found" alike.
pub(super) async fn service_account(tx: &mut Tx, id: i64) -> AppResult<UserRow> {
    match tx.user(id).await? {
        Some(u) if u.kind == SERVICE_KIND => Ok(u),
        _ => Err(AppError::not_found("service_account", id)),
    }
}

async fn account_view(tx: &mut Tx, u: &UserRow) -> AppResult<ServiceAccountView> {
    let v = user_view(tx, u).await?;
    let now = now_us();
    let active_keys = tx
        .api_keys_of(u.id, MAX_KEYS_LISTED)
        .await?
        .iter()
        .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now))
        .count() as i64;
    Ok(ServiceAccountView {
        id: v.id,
        name: v.username,
        display_name: v.display_name,
        department_id: v.department_id,
        disabled: v.disabled,
        roles: v.roles,
        permissions: v.permissions,
        active_keys,
        created_at: format_time(u.created_at),
        updated_at: format_time(u.updated_at),
    })
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "user.username_taken",
        format!("名称“{name}”已被用户或服务账号使用（不区分大小写）"),
        format!(
            "the name '{name}' is already taken by a user or service account (case is ignored)"
        ),
    ))
}

impl ApiKeys<'_> {
    /// Create a service account with roles and a department; it has no password.
    pub async fn create_service_account(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewServiceAccount>>,
    ) -> AppResult<ServiceAccountView> {
        require_admin(actor)?;
        let input = input.into().get()?;
        refuse_single_line([("name", Some(input.name.as_str()))])?;
        refuse_in("roles", &input.roles)?;
        let mut errors = Vec::new();
        if let Err(v) = check_username(&input.name) {
            errors.push(v.on("name"));
        }
        let display_name = input
            .display_name
            .clone()
            .unwrap_or_else(|| input.name.clone());
        check_name("display_name", &display_name, 64, &mut errors);
        let mut tx = self.app.db.begin().await?;
        check_department_exists(&mut tx, "department_id", input.department_id, &mut errors).await?;
        let grants = resolve_roles(&mut tx, &input.roles, &mut errors).await?;
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let now = now_us();
        let row = UserRow {
            id: 0,
            username: input.name.clone(),
            display_name: display_name.trim().to_string(),
            // No password can match an empty hash; login refuses the kind first anyway.
            password_hash: String::new(),
            department_id: input.department_id,
            email: None,
            disabled: false,
            created_at: now,
            updated_at: now,
            language: None,
            kind: SERVICE_KIND.into(),
            auth_source: custos_store::LOCAL_SOURCE.into(),
        };
        let id = match tx.insert_user(&row).await {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => return Err(name_taken(&input.name)),
            Err(e) => return Err(e.into()),
        };
        tx.set_grants(id, &grants).await?;
        let row = UserRow { id, ..row };
        let view = account_view(&mut tx, &row).await?;
        let mut r = record(actor, "service_account.create", "user", &id.to_string());
        r.after = to_json(&serde_json::json!({
            "name": view.name, "display_name": view.display_name,
            "department_id": view.department_id, "roles": view.roles,
        }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Service accounts by id after `after_id`.
    pub async fn list_service_accounts(
        &self,
        actor: &Actor,
        after_id: i64,
        limit: i64,
    ) -> AppResult<Vec<ServiceAccountView>> {
        require_admin(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx
            .service_accounts(after_id.max(0), limit.clamp(1, MAX_LISTED))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for u in &rows {
            out.push(account_view(&mut tx, u).await?);
        }
        tx.rollback().await?;
        Ok(out)
    }

    pub async fn get_service_account(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<ServiceAccountView> {
        require_admin(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let u = service_account(&mut tx, id).await?;
        let v = account_view(&mut tx, &u).await?;
        tx.rollback().await?;
        Ok(v)
    }

    /// The id of the service account called `name` (for the command line).
    pub async fn service_account_id(&self, actor: &Actor, name: &str) -> AppResult<i64> {
        require_admin(actor)?;
        refuse_single_line([("name", Some(name))])?;
        let mut tx = self.app.db.begin_read().await?;
        let found = tx.user_by_name(name).await?;
        tx.rollback().await?;
        match found {
            Some(u) if u.kind == SERVICE_KIND => Ok(u.id),
            _ => Err(AppError::not_found("service_account", name)),
        }
    }

    /// Disable (or enable again) a service account: while disabled, none of its keys
    /// works, from the next request on.
    pub async fn set_service_account_disabled(
        &self,
        actor: &Actor,
        id: i64,
        disabled: bool,
    ) -> AppResult<ServiceAccountView> {
        require_admin(actor)?;
        let mut tx = self.app.db.begin().await?;
        let mut u = service_account(&mut tx, id).await?;
        let changed = u.disabled != disabled;
        if changed {
            u.disabled = disabled;
            u.updated_at = now_us();
            tx.update_user(&u).await?;
            let action = if disabled {
                "service_account.disable"
            } else {
                "service_account.enable"
            };
            let mut r = record(actor, action, "user", &id.to_string());
            r.before = to_json(&serde_json::json!({ "disabled": !disabled }));
            r.after = to_json(&serde_json::json!({ "disabled": disabled }));
            append(&mut tx, r).await?;
        }
        let v = account_view(&mut tx, &u).await?;
        tx.commit().await?;
        Ok(v)
    }
}
