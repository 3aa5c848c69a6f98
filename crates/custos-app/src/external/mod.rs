//! Company login: accounts that come from a directory (LDAP / Active Directory) or an
//! OpenID Connect provider, one identity model for both.
//!
//! * An external identity is a provider (`ldap`, `oidc:<name>`) and its stable subject;
//!   `user_identities` links it to one user. The user's `auth_source` is that provider,
//!   so the account never logs in with a local password (local accounts — administrators,
//!   service accounts — keep theirs and never log in through a provider).
//! * The first login creates the user; its roles, data scope and department come from the
//!   provider's group mapping, and every later login sets them again from the groups the
//!   provider names then (the directory is the source of truth for them).
//! * An identity whose entry is gone, or that is no longer in any mapped group, is
//!   disabled at its next login attempt and its sessions are revoked. An administrator
//!   enables it again by hand once the directory grants it again (a login never re-enables
//!   an account, so an administrator's decision to disable one stands).

pub mod ldap;
pub mod oidc;
pub mod platforms;
pub mod provider;

use custos_core::Violation;
use custos_store::{now_us, IdentityRow, Tx, UserRow};

use crate::actor::{Context, Scope};
use crate::audit::{append, record_ctx};
use crate::error::{AppError, AppResult};
use crate::org::check_username;

/// A group (LDAP group DN or name, or a value of an OIDC groups claim) and what holding
/// it gives: a role with its data scope, and optionally a department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    /// Compared without regard to case.
    pub group: String,
    /// A role key (`admin`, `steward`, …).
    pub role: String,
    /// `own`, `department` or `all`.
    pub scope: Scope,
    /// The department a user created through this group is put in.
    pub department_id: Option<i64>,
}

/// Who a provider says logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// `ldap` or `oidc:<name>`.
    pub provider: String,
    /// Stable within the provider (the entry's DN, `sub`).
    pub subject: String,
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// What a provider answered about a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalCheck {
    /// The credentials are good: this is who logged in.
    Verified(ExternalIdentity),
    /// The provider does not know the name (any more).
    Unknown,
    /// The provider knows the name but refused the password.
    WrongPassword,
}

/// What a set of groups gives: roles (key and widest scope) and a department.
pub type Mapped = (Vec<(String, Scope)>, Option<i64>);

/// The roles (key and scope) and department that a set of groups maps to; `None` when
/// no group is mapped.
pub fn map_groups(mappings: &[GroupMapping], groups: &[String]) -> Option<Mapped> {
    let mut roles: Vec<(String, Scope)> = Vec::new();
    let mut department = None;
    for m in mappings {
        if !groups.iter().any(|g| g.eq_ignore_ascii_case(&m.group)) {
            continue;
        }
        match roles.iter_mut().find(|(r, _)| *r == m.role) {
            Some((_, scope)) if m.scope > *scope => *scope = m.scope,
            Some(_) => {}
            None => roles.push((m.role.clone(), m.scope)),
        }
        department = department.or(m.department_id);
    }
    (!roles.is_empty()).then_some((roles, department))
}

/// Text from a provider, fit for a display name or e-mail: control characters dropped,
/// trimmed, at most `max` characters; `None` when nothing is left.
fn provider_text(value: Option<&str>, max: usize) -> Option<String> {
    let text: String = value?
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect();
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Why an external login found no user to open a session for (audited, never shown).
pub(crate) type Refusal = &'static str;

/// The user an identity logs in as, created on its first login, with its roles set from
/// the mapping; `Err` with the reason when it may not log in. Runs in the login's
/// transaction.
pub(crate) async fn provision(
    tx: &mut Tx,
    identity: &ExternalIdentity,
    mappings: &[GroupMapping],
    ctx: &Context,
) -> AppResult<Result<UserRow, Refusal>> {
    let now = now_us();
    let existing = existing_user(tx, identity).await?;
    let Some((roles, department)) = map_groups(mappings, &identity.groups) else {
        if let Ok(Some(user)) = &existing {
            disable_external(tx, user, "no longer in any mapped group", ctx).await?;
        }
        return Ok(Err("in no mapped group"));
    };
    let user = match existing {
        Err(why) => return Ok(Err(why)),
        Ok(Some(user)) => user,
        Ok(None) => match create_user(tx, identity, department, now, ctx).await? {
            Ok(user) => user,
            Err(why) => return Ok(Err(why)),
        },
    };
    if user.disabled {
        return Ok(Err("account disabled"));
    }
    let mut grants = Vec::new();
    for (key, scope) in &roles {
        match tx.role_by_key(key).await? {
            Some(role) => grants.push((role.id, scope.as_str().to_string(), None)),
            None => tracing::warn!(role = %key, provider = %identity.provider,
                "a group mapping names a role that does not exist; skipped"),
        }
    }
    if grants.is_empty() {
        return Ok(Err("the mapped roles do not exist"));
    }
    sync_grants(tx, &user, &grants, identity, ctx).await?;
    tx.put_identity(&IdentityRow {
        provider: identity.provider.clone(),
        subject: identity.subject.clone(),
        user_id: user.id,
        created_at: now,
        last_login_at: now,
    })
    .await?;
    Ok(Ok(user))
}

/// The user an identity already has: by its link, else by the username when that account
/// comes from the same provider (a subject that changed, e.g. a renamed DN). A username
/// held by a local account or another provider is never taken over.
async fn existing_user(
    tx: &mut Tx,
    identity: &ExternalIdentity,
) -> AppResult<Result<Option<UserRow>, Refusal>> {
    if let Some(link) = tx.identity(&identity.provider, &identity.subject).await? {
        return Ok(Ok(tx.user_for_update(link.user_id).await?));
    }
    match tx.user_by_name(&identity.username).await? {
        Some(u) if u.auth_source == identity.provider => Ok(Ok(tx.user_for_update(u.id).await?)),
        Some(_) => Ok(Err("the username belongs to another account source")),
        None => Ok(Ok(None)),
    }
}

async fn create_user(
    tx: &mut Tx,
    identity: &ExternalIdentity,
    department_id: Option<i64>,
    now: i64,
    ctx: &Context,
) -> AppResult<Result<UserRow, Refusal>> {
    if check_username(&identity.username).is_err() {
        return Ok(Err(
            "the provider's username is not a valid custos username",
        ));
    }
    if let Some(d) = department_id {
        if tx.department(d).await?.is_none() {
            tracing::warn!(department = d, "a group mapping names a missing department");
            return Ok(Err("the mapped department does not exist"));
        }
    }
    let row = UserRow {
        id: 0,
        username: identity.username.clone(),
        display_name: provider_text(identity.display_name.as_deref(), 64)
            .unwrap_or_else(|| identity.username.clone()),
        // No password matches an empty hash, and login never checks one for this source.
        password_hash: String::new(),
        department_id,
        email: provider_text(identity.email.as_deref(), 254),
        disabled: false,
        created_at: now,
        updated_at: now,
        language: None,
        kind: "person".into(),
        auth_source: identity.provider.clone(),
    };
    let id = match tx.insert_user(&row).await {
        Ok(id) => id,
        Err(custos_store::StoreError::Conflict { .. }) => {
            return Ok(Err("the username was taken meanwhile"))
        }
        Err(e) => return Err(e.into()),
    };
    let mut r = record_ctx(
        Some(id),
        &row.username,
        ctx,
        "user.create",
        "user",
        &id.to_string(),
    );
    r.after = crate::to_json(&serde_json::json!({
        "username": row.username, "auth_source": row.auth_source,
        "department_id": row.department_id,
    }));
    r.reason = Some(format!("first login through {}", identity.provider));
    append(tx, r).await?;
    Ok(Ok(UserRow { id, ..row }))
}

/// Set a user's roles to what the provider's groups give, auditing a change.
async fn sync_grants(
    tx: &mut Tx,
    user: &UserRow,
    grants: &[(i64, String, Option<i64>)],
    identity: &ExternalIdentity,
    ctx: &Context,
) -> AppResult<()> {
    let before: Vec<(i64, String)> = tx
        .grants_of(user.id)
        .await?
        .into_iter()
        .map(|g| (g.role_id, g.scope))
        .collect();
    let mut after: Vec<(i64, String)> = grants.iter().map(|(r, s, _)| (*r, s.clone())).collect();
    after.sort();
    if before == after {
        return Ok(());
    }
    tx.set_grants(user.id, grants).await?;
    let mut r = record_ctx(
        Some(user.id),
        &user.username,
        ctx,
        "user.roles_synced",
        "user",
        &user.id.to_string(),
    );
    r.before = crate::to_json(&before);
    r.after = crate::to_json(&after);
    r.reason = Some(format!("group mapping of {}", identity.provider));
    append(tx, r).await?;
    Ok(())
}

/// Disable an external account whose provider no longer grants it, and end its sessions.
pub(crate) async fn disable_external(
    tx: &mut Tx,
    user: &UserRow,
    why: &str,
    ctx: &Context,
) -> AppResult<()> {
    let now = now_us();
    if !tx.disable_user(user.id, now).await? {
        return Ok(());
    }
    let revoked = tx.revoke_user_sessions(user.id, now).await?;
    let mut r = record_ctx(
        None,
        "system",
        ctx,
        "user.disable",
        "user",
        &user.id.to_string(),
    );
    r.reason = Some(format!(
        "{} at login: {why}; {revoked} session(s) revoked",
        user.auth_source
    ));
    append(tx, r).await?;
    Ok(())
}

/// The error while a provider cannot be asked (HTTP 503): not the caller's fault, and
/// not counted as a failed login.
pub(crate) fn provider_unavailable(provider: &str) -> AppError {
    AppError::Unavailable(Violation::new(
        "auth.provider_unavailable",
        format!("暂时无法连接登录服务 {provider}，请稍后再试"),
        format!("the login provider {provider} cannot be reached; try again later"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(group: &str, role: &str, scope: Scope, dept: Option<i64>) -> GroupMapping {
        GroupMapping {
            group: group.into(),
            role: role.into(),
            scope,
            department_id: dept,
        }
    }

    #[test]
    fn groups_map_to_the_widest_scope_per_role_and_the_first_department() {
        let maps = [
            m("cn=clerks,ou=groups", "clerk", Scope::Own, Some(3)),
            m("cn=leads,ou=groups", "clerk", Scope::Department, Some(4)),
            m("cn=audit,ou=groups", "auditor", Scope::All, None),
        ];
        let got = map_groups(
            &maps,
            &[
                "CN=Clerks,OU=Groups".to_string(),
                "cn=leads,ou=groups".into(),
            ],
        );
        assert_eq!(
            got,
            Some((vec![("clerk".to_string(), Scope::Department)], Some(3)))
        );
        assert_eq!(map_groups(&maps, &["cn=other".to_string()]), None);
    }

    #[test]
    fn provider_text_drops_control_characters_and_bounds_length() {
        assert_eq!(provider_text(Some(" 张\u{0}三 "), 64), Some("张三".into()));
        assert_eq!(provider_text(Some("\u{7}"), 64), None);
        assert_eq!(provider_text(Some("abcdef"), 3), Some("abc".into()));
    }
}
