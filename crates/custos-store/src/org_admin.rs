//! What the administration pages read beyond single rows: users found by name, a user's
//! live sessions, every grant of a role, and the size of the database.

use crate::org::{join_ids, UserRow, USER_COLS};
use crate::{on_tx, StoreResult, Tx, TxConn};

/// One grant of a role to a user, with the names a page shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantListRow {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role_key: String,
    pub role_name: String,
    pub scope: String,
    pub expires_at: Option<i64>,
}

/// `%text%` for LIKE, with the pattern characters of `text` escaped by `\`.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

impl Tx {
    /// Users whose username or display name contains `text` (ignoring ASCII case),
    /// optionally limited to departments as [`Tx::users`]; by id after `after_id`.
    pub async fn users_matching(
        &mut self,
        departments: Option<&[i64]>,
        only_user: Option<i64>,
        text: &str,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<UserRow>> {
        let mut sql = format!(
            "SELECT {USER_COLS} FROM users WHERE id > $1 AND (LOWER(username) LIKE $3 \
             ESCAPE '\\' OR LOWER(display_name) LIKE $3 ESCAPE '\\')"
        );
        if let Some(ids) = departments {
            let list = if ids.is_empty() {
                "NULL".to_string()
            } else {
                join_ids(ids)
            };
            let me = only_user
                .map(|u| format!(" OR id = {u}"))
                .unwrap_or_default();
            sql.push_str(&format!(" AND (department_id IN ({list}){me})"));
        } else if let Some(u) = only_user {
            sql.push_str(&format!(" AND id = {u}"));
        }
        sql.push_str(" ORDER BY id LIMIT $2");
        let pattern = contains_pattern(text);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, UserRow>(&sql)
            .bind(after_id)
            .bind(limit)
            .bind(&pattern)
            .fetch_all(c)
            .await)?)
    }

    /// A user's sessions that are neither revoked nor expired at `now`, newest first.
    pub async fn live_sessions_of(
        &mut self,
        user_id: i64,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<crate::SessionRow>> {
        let sql = "SELECT token_hash, user_id, created_at, expires_at, revoked_at, kind, \
                   last_seen_at FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                   AND expires_at > $2 ORDER BY created_at DESC LIMIT $3";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, crate::SessionRow>(
            sql
        )
        .bind(user_id)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// Revoke one session of one user; whether a live session was revoked.
    pub async fn revoke_session_of(
        &mut self,
        user_id: i64,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND token_hash = $2 \
                   AND revoked_at IS NULL";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(user_id)
            .bind(token_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Grants of roles to users, temporary ones (with an expiry) first, then by user.
    pub async fn grant_list(&mut self, limit: i64) -> StoreResult<Vec<GrantListRow>> {
        let sql = "SELECT ur.user_id, u.username, u.display_name, r.key AS role_key, \
                   r.name AS role_name, ur.scope, ur.expires_at FROM user_roles ur \
                   JOIN roles r ON r.id = ur.role_id JOIN users u ON u.id = ur.user_id \
                   ORDER BY CASE WHEN ur.expires_at IS NULL THEN 1 ELSE 0 END, \
                   ur.expires_at, ur.user_id, r.id LIMIT $1";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, GrantListRow>(sql)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// The bytes the database takes: SQLite's pages, PostgreSQL's `pg_database_size`.
    pub async fn database_bytes(&mut self) -> StoreResult<i64> {
        self.settle().await?;
        Ok(match &mut self.conn {
            TxConn::Lent => return Err(TxConn::lent().into()),
            TxConn::Pg(c) => {
                sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut **c)
                    .await?
            }
            TxConn::Sqlite(c) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT p.page_count * s.page_size FROM pragma_page_count() AS p, \
                     pragma_page_size() AS s",
                )
                .fetch_one(&mut **c)
                .await?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_characters_are_escaped() {
        assert_eq!(contains_pattern("Ab"), "%ab%");
        assert_eq!(contains_pattern("a_%\\"), "%a\\_\\%\\\\%");
    }
}
