//! A user as the API shows it, with its live permissions: what login answers and what the
//! user administration returns, below both.

use serde::Serialize;

use custos_store::{now_us, Tx, UserRow};

use super::RoleAssignment;
use crate::clock::format_time;
use crate::error::AppResult;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub department_id: Option<i64>,
    pub email: Option<String>,
    pub disabled: bool,
    /// `person`, or `service` for a service account (API keys, no password).
    pub kind: String,
    /// `local` (password kept here), or the provider the account comes from (`ldap`,
    /// `oidc:<name>`), whose login it must use.
    pub auth_source: String,
    /// While set, logins of this user from addresses that have failed for it wait until
    /// then (too many failures for the name from everywhere); `POST /users/{id}/unlock`
    /// clears it.
    pub locked_until: Option<String>,
    pub roles: Vec<RoleAssignment>,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
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
        kind: u.kind.clone(),
        auth_source: u.auth_source.clone(),
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
