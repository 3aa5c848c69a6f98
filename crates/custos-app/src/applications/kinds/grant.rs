//! `grant_permission`: a role for a user (by default the applicant), with a data scope
//! and an optional expiry.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use custos_core::{FieldError, Violation};
use custos_store::{now_us, Tx};

use super::{Approval, Effect, Pending, Prepared, Submission};
use crate::actor::Scope;
use crate::applications::checks::{parse_payload, parse_time};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantPayload {
    /// Whom the role is for; default: the applicant.
    #[serde(default)]
    user_id: Option<i64>,
    role: String,
    /// own, department, all (default own).
    #[serde(default)]
    scope: Option<String>,
    /// RFC 3339; absent: unlimited.
    #[serde(default)]
    expires_at: Option<String>,
}

pub(super) struct GrantPermission;

impl Effect for GrantPermission {
    fn prepare<'a>(
        &'a self,
        _app: &'a App,
        tx: &'a mut Tx,
        s: Submission<'a>,
    ) -> Pending<'a, Prepared> {
        Box::pin(async move {
            let mut p = Prepared::new(s.payload.clone());
            let mut g: GrantPayload = parse_payload(s.kind, s.payload)?;
            g.user_id = Some(g.user_id.unwrap_or(s.actor.user_id));
            check_grant(tx, &g).await?;
            p.target = g.user_id.map(|u| format!("user:{u}"));
            p.payload = serde_json::to_value(&g).unwrap_or_default();
            Ok(p)
        })
    }

    fn apply<'a>(&'a self, _app: &'a App, tx: &'a mut Tx, e: Approval<'a>) -> Pending<'a, Value> {
        Box::pin(apply(tx, e))
    }
}

async fn apply(tx: &mut Tx, e: Approval<'_>) -> AppResult<Value> {
    let (a, by) = (e.a, e.by);
    let g: GrantPayload = parse_payload(e.kind(), e.payload)?;
    check_grant(tx, &g).await.map_err(no_longer_valid)?;
    let user_id = g.user_id.unwrap_or(a.applicant_id);
    let role = tx
        .role_by_key(&g.role)
        .await?
        .ok_or_else(|| AppError::not_found("role", &g.role))?;
    // Administrative power is only handed out by an administrator.
    let perms: Vec<String> = serde_json::from_str(&role.permissions).unwrap_or_default();
    if perms
        .iter()
        .any(|p| p == "role.manage" || p == "user.manage")
        && !by.can("role.manage")
    {
        return Err(AppError::Forbidden {
            permission: format!("role.manage（授予含管理权限的角色“{}”须由系统管理员审批 / granting '{}' needs an administrator's approval)", g.role, g.role),
        });
    }
    let scope = g.scope.clone().unwrap_or_else(|| "own".into());
    let expires = match &g.expires_at {
        Some(t) => Some(parse_time("payload.expires_at", t)?),
        None => None,
    };
    tx.upsert_grant(user_id, role.id, &scope, expires).await?;
    let mut r = record(by, "user.grant", "user", &user_id.to_string());
    r.after = to_json(
        &json!({"role": g.role, "scope": scope, "expires_at": expires.map(format_time), "application": a.id}),
    );
    r.reason = a.reason.clone();
    append(tx, r).await?;
    Ok(
        json!({"user_id": user_id, "role": g.role, "scope": scope, "expires_at": expires.map(format_time)}),
    )
}

/// A grant that passed at submission but fails at approval: a conflict naming the first
/// reason.
fn no_longer_valid(e: AppError) -> AppError {
    match e {
        AppError::Validation(f) => AppError::Conflict(Violation::new(
            "grant.no_longer_valid",
            format!(
                "权限申请已无法执行：{}",
                f.first()
                    .map(|x| x.violation.zh.clone())
                    .unwrap_or_default()
            ),
            format!(
                "the grant can no longer be applied: {}",
                f.first()
                    .map(|x| x.violation.en.clone())
                    .unwrap_or_default()
            ),
        )),
        other => other,
    }
}

async fn check_grant(tx: &mut Tx, g: &GrantPayload) -> AppResult<()> {
    let mut e: Vec<FieldError> = Vec::new();
    let user_id = g.user_id.unwrap_or_default();
    check_user(tx, user_id, &mut e).await?;
    check_role(tx, user_id, &g.role, &mut e).await?;
    if let Some(s) = &g.scope {
        if Scope::parse(s).is_none() {
            e.push(
                Violation::new(
                    "scope.unknown",
                    format!("数据范围“{s}”无效，可选 own、department、all"),
                    format!("data scope '{s}' is invalid; use own, department or all"),
                )
                .on("payload.scope"),
            );
        }
    }
    if let Some(t) = &g.expires_at {
        match parse_time("payload.expires_at", t) {
            Ok(at) if at <= now_us() => e.push(
                Violation::new(
                    "time.past",
                    "到期时间须晚于现在",
                    "the expiry must be in the future",
                )
                .on("payload.expires_at"),
            ),
            Ok(_) => {}
            Err(AppError::Validation(f)) => e.extend(f),
            Err(other) => return Err(other),
        }
    }
    if e.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(e))
    }
}

/// The user must exist and be enabled.
async fn check_user(tx: &mut Tx, user_id: i64, e: &mut Vec<FieldError>) -> AppResult<()> {
    match tx.user(user_id).await? {
        None => e.push(
            Violation::new(
                "user.unknown",
                format!("用户 {user_id} 不存在"),
                format!("user {user_id} does not exist"),
            )
            .on("payload.user_id"),
        ),
        Some(u) if u.disabled => e.push(
            Violation::new(
                "user.disabled",
                format!("用户 {user_id} 已停用"),
                format!("user {user_id} is disabled"),
            )
            .on("payload.user_id"),
        ),
        Some(_) => {}
    }
    Ok(())
}

/// The role must exist and the user must not hold it (unexpired) already.
async fn check_role(
    tx: &mut Tx,
    user_id: i64,
    role_key: &str,
    e: &mut Vec<FieldError>,
) -> AppResult<()> {
    match tx.role_by_key(role_key).await? {
        None => e.push(
            Violation::new(
                "role.unknown",
                format!("角色“{role_key}”不存在"),
                format!("role '{role_key}' does not exist"),
            )
            .on("payload.role"),
        ),
        Some(role) => {
            let now = now_us();
            if tx
                .grants_of(user_id)
                .await?
                .iter()
                .any(|x| x.role_id == role.id && x.expires_at.is_none_or(|t| t > now))
            {
                e.push(
                    Violation::new(
                        "grant.exists",
                        format!("用户 {user_id} 已拥有角色“{role_key}”"),
                        format!("user {user_id} already holds role '{role_key}'"),
                    )
                    .on("payload.role"),
                );
            }
        }
    }
    Ok(())
}
