//! Departments, users, roles and role grants, sessions.

use crate::{on_tx, Backend, StoreError, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DepartmentRow {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub manager_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub department_id: Option<i64>,
    pub email: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Console language the user chose (`zh`, `en`); `None`: the default.
    pub language: Option<String>,
    /// `person`, or `service` for a service account (no password login; API keys).
    pub kind: String,
    /// `local` (password kept here), or the external provider the account comes from
    /// (`ldap`, `oidc:<name>`): such an account never logs in with a local password.
    pub auth_source: String,
}

/// `users.auth_source` of an account whose password is kept here.
pub const LOCAL_SOURCE: &str = "local";

/// `users.kind` of a service account.
pub const SERVICE_KIND: &str = "service";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRow {
    pub id: i64,
    pub key: String,
    pub name: String,
    /// JSON array of permission names.
    pub permissions: String,
    pub builtin: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A role held by a user, with its data scope.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleGrantRow {
    pub user_id: i64,
    pub role_id: i64,
    pub role_key: String,
    pub permissions: String,
    pub scope: String,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// `token` (API) or `browser` (console cookie, which also ends when idle).
    pub kind: String,
    /// Last use of a browser session, moved forward at most once a minute.
    pub last_seen_at: Option<i64>,
}

pub(crate) const USER_COLS: &str =
    "id, username, display_name, password_hash, department_id, email, \
    disabled, created_at, updated_at, language, kind, auth_source";

/// The key a username is unique and looked up by: `Admin` and `admin` are one name.
/// Stored beside the name as typed (`users.username_key`).
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

impl Tx {
    // ---- departments ----

    pub async fn insert_department(
        &mut self,
        name: &str,
        parent_id: Option<i64>,
        manager_id: Option<i64>,
        now: i64,
    ) -> StoreResult<i64> {
        let sql = "INSERT INTO departments (name, parent_id, manager_id, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $4) RETURNING id";
        let id: i64 = on_tx!(self, |c| sqlx::query_scalar(sql)
            .bind(name)
            .bind(parent_id)
            .bind(manager_id)
            .bind(now)
            .fetch_one(c)
            .await)?;
        Ok(id)
    }

    pub async fn update_department(&mut self, d: &DepartmentRow) -> StoreResult<()> {
        let sql = "UPDATE departments SET name = $2, parent_id = $3, manager_id = $4, \
                   updated_at = $5 WHERE id = $1";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(d.id)
            .bind(&d.name)
            .bind(d.parent_id)
            .bind(d.manager_id)
            .bind(d.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn department(&mut self, id: i64) -> StoreResult<Option<DepartmentRow>> {
        let sql = "SELECT id, name, parent_id, manager_id, created_at, updated_at \
                   FROM departments WHERE id = $1";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, DepartmentRow>(sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn departments(&mut self) -> StoreResult<Vec<DepartmentRow>> {
        let sql = "SELECT id, name, parent_id, manager_id, created_at, updated_at \
                   FROM departments ORDER BY id";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, DepartmentRow>(sql)
            .fetch_all(c)
            .await)?)
    }

    /// The department and every department below it.
    pub async fn department_subtree(&mut self, root: i64) -> StoreResult<Vec<i64>> {
        let sql = "WITH RECURSIVE sub(id) AS (SELECT id FROM departments WHERE id = $1 \
                   UNION SELECT d.id FROM departments d JOIN sub ON d.parent_id = sub.id) \
                   SELECT id FROM sub";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(root)
            .fetch_all(c)
            .await)?)
    }

    // ---- users ----

    pub async fn insert_user(&mut self, u: &UserRow) -> StoreResult<i64> {
        let sql = "INSERT INTO users (username, username_key, display_name, password_hash, \
                   department_id, email, disabled, created_at, updated_at, kind, auth_source) \
                   VALUES ($1, $8, $2, $3, $4, $5, $6, $7, $7, $9, $10) RETURNING id";
        let key = username_key(&u.username);
        let id: i64 = on_tx!(self, |c| sqlx::query_scalar(sql)
            .bind(&u.username)
            .bind(&u.display_name)
            .bind(&u.password_hash)
            .bind(u.department_id)
            .bind(&u.email)
            .bind(u.disabled)
            .bind(u.created_at)
            .bind(&key)
            .bind(&u.kind)
            .bind(&u.auth_source)
            .fetch_one(c)
            .await)?;
        Ok(id)
    }

    pub async fn update_user(&mut self, u: &UserRow) -> StoreResult<()> {
        let sql = "UPDATE users SET display_name = $2, password_hash = $3, department_id = $4, \
                   email = $5, disabled = $6, updated_at = $7 WHERE id = $1";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(u.id)
            .bind(&u.display_name)
            .bind(&u.password_hash)
            .bind(u.department_id)
            .bind(&u.email)
            .bind(u.disabled)
            .bind(u.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn user(&mut self, id: i64) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, UserRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// Fetch a user and lock the row until the transaction ends (PostgreSQL); SQLite
    /// transactions are already exclusive for writers.
    pub async fn user_for_update(&mut self, id: i64) -> StoreResult<Option<UserRow>> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1{lock}");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, UserRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// The user called `username`, whatever its case.
    pub async fn user_by_name(&mut self, username: &str) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE username_key = $1");
        let key = username_key(username);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, UserRow>(&sql)
            .bind(&key)
            .fetch_optional(c)
            .await)?)
    }

    /// Display names of the users with these ids (a page's owners: one statement).
    pub async fn user_display_names(&mut self, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, display_name FROM users WHERE id IN ({})",
            join_ids(ids)
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, (i64, String)>(&sql)
            .fetch_all(c)
            .await)?)
    }

    /// Users, optionally limited to a set of departments; ordered by id, after `after_id`.
    pub async fn users(
        &mut self,
        departments: Option<&[i64]>,
        only_user: Option<i64>,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<UserRow>> {
        let mut sql = format!("SELECT {USER_COLS} FROM users WHERE id > $1");
        if let Some(ids) = departments {
            sql.push_str(&format!(
                " AND (department_id IN ({}){})",
                if ids.is_empty() {
                    "NULL".to_string()
                } else {
                    join_ids(ids)
                },
                only_user
                    .map(|u| format!(" OR id = {u}"))
                    .unwrap_or_default()
            ));
        } else if let Some(u) = only_user {
            sql.push_str(&format!(" AND id = {u}"));
        }
        sql.push_str(" ORDER BY id LIMIT $2");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, UserRow>(&sql)
            .bind(after_id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    pub async fn count_users(&mut self) -> StoreResult<i64> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM users"
        )
        .fetch_one(c)
        .await)?)
    }

    // ---- roles ----

    pub async fn insert_role(&mut self, r: &RoleRow) -> StoreResult<i64> {
        let sql = "INSERT INTO roles (key, name, permissions, builtin, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&r.key)
            .bind(&r.name)
            .bind(&r.permissions)
            .bind(r.builtin)
            .bind(r.created_at)
            .fetch_one(c)
            .await)?)
    }

    pub async fn update_role(&mut self, r: &RoleRow) -> StoreResult<()> {
        let sql = "UPDATE roles SET name = $2, permissions = $3, updated_at = $4 WHERE id = $1";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(r.id)
            .bind(&r.name)
            .bind(&r.permissions)
            .bind(r.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn roles(&mut self) -> StoreResult<Vec<RoleRow>> {
        let sql = "SELECT id, key, name, permissions, builtin, created_at, updated_at \
                   FROM roles ORDER BY id";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, RoleRow>(sql)
            .fetch_all(c)
            .await)?)
    }

    pub async fn role_by_key(&mut self, key: &str) -> StoreResult<Option<RoleRow>> {
        let sql = "SELECT id, key, name, permissions, builtin, created_at, updated_at \
                   FROM roles WHERE key = $1";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, RoleRow>(sql)
            .bind(key)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn grants_of(&mut self, user_id: i64) -> StoreResult<Vec<RoleGrantRow>> {
        let sql = "SELECT ur.user_id, ur.role_id, r.key AS role_key, r.permissions, ur.scope, \
                   ur.expires_at FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                   WHERE ur.user_id = $1 ORDER BY r.id";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, RoleGrantRow>(sql)
            .bind(user_id)
            .fetch_all(c)
            .await)?)
    }

    /// Replace every role a user holds.
    pub async fn set_grants(
        &mut self,
        user_id: i64,
        grants: &[(i64, String, Option<i64>)],
    ) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "DELETE FROM user_roles WHERE user_id = $1"
        )
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        for (role_id, scope, expires) in grants {
            self.upsert_grant(user_id, *role_id, scope, *expires)
                .await?;
        }
        Ok(())
    }

    pub async fn upsert_grant(
        &mut self,
        user_id: i64,
        role_id: i64,
        scope: &str,
        expires_at: Option<i64>,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO user_roles (user_id, role_id, scope, expires_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, role_id) \
                   DO UPDATE SET scope = excluded.scope, expires_at = excluded.expires_at";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(user_id)
            .bind(role_id)
            .bind(scope)
            .bind(expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Take one role from a user; returns whether the user held it.
    pub async fn delete_grant(&mut self, user_id: i64, role_id: i64) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2"
        )
        .bind(user_id)
        .bind(role_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    // ---- sessions ----

    pub async fn insert_session(&mut self, s: &SessionRow) -> StoreResult<()> {
        let sql = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, kind, \
                   last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(&s.token_hash)
            .bind(s.user_id)
            .bind(s.created_at)
            .bind(s.expires_at)
            .bind(&s.kind)
            .bind(s.last_seen_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn session(&mut self, token_hash: &str) -> StoreResult<Option<SessionRow>> {
        let sql = "SELECT token_hash, user_id, created_at, expires_at, revoked_at, kind, \
                   last_seen_at FROM sessions WHERE token_hash = $1";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, SessionRow>(sql)
            .bind(token_hash)
            .fetch_optional(c)
            .await)?)
    }

    /// Revoke one session; returns whether a live session was revoked.
    pub async fn revoke_session(&mut self, token_hash: &str, now: i64) -> StoreResult<bool> {
        let sql =
            "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(token_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Note that a browser session was used at `now`.
    pub async fn touch_session(&mut self, token_hash: &str, now: i64) -> StoreResult<()> {
        let sql = "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(token_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Remember the console language a user chose.
    pub async fn set_user_language(&mut self, user_id: i64, language: &str) -> StoreResult<()> {
        let sql = "UPDATE users SET language = $2 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(user_id)
            .bind(language)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Revoke every session of a user (disable, password change).
    pub async fn revoke_user_sessions(&mut self, user_id: i64, now: i64) -> StoreResult<u64> {
        let sql = "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    // ---- settings ----

    pub async fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, String>(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(key)
        .fetch_optional(c)
        .await)?)
    }

    pub async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
        let sql = "INSERT INTO settings (key, value) VALUES ($1, $2) \
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(key)
            .bind(value)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

/// Ids are i64s we produced, so inlining them is safe; used for IN lists whose length varies.
pub(crate) fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
