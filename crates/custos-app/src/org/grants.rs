//! Grants of roles to users: the role assignments a request names, checked and resolved.

use serde::{Deserialize, Serialize};

use custos_core::{FieldError, Violation};
use custos_store::Tx;

use crate::actor::Scope;
use crate::error::AppResult;

/// Most roles one user may be granted in one request (each is looked up).
const MAX_GRANTS: usize = 32;

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

pub(crate) fn parse_time(field: &str, s: &str) -> Result<i64, FieldError> {
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
pub(crate) async fn resolve_roles(
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
