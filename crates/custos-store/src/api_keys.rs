//! API keys of service accounts: the stored half of a token (its public prefix and the
//! SHA-256 of the whole token), who made it, when it ends, and its last use.

use crate::{on_tx, StoreError, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    /// Public part of the token, unique; finds the row.
    pub prefix: String,
    /// SHA-256 (hex) of the whole token.
    pub token_hash: String,
    pub name: String,
    pub created_at: i64,
    pub created_by: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// Per-key rate limit overriding the configured default.
    pub rate_per_second: Option<i64>,
    pub burst: Option<i64>,
}

const KEY_COLS: &str = "id, user_id, prefix, token_hash, name, created_at, created_by, \
    expires_at, revoked_at, revoked_by, last_used_at, last_used_ip, rate_per_second, burst";

impl Tx {
    /// Insert a key; a taken prefix is a `Conflict`.
    pub async fn insert_api_key(&mut self, k: &ApiKeyRow) -> StoreResult<i64> {
        let sql = "INSERT INTO api_keys (user_id, prefix, token_hash, name, created_at, \
                   created_by, expires_at, rate_per_second, burst) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(k.user_id)
            .bind(&k.prefix)
            .bind(&k.token_hash)
            .bind(&k.name)
            .bind(k.created_at)
            .bind(k.created_by)
            .bind(k.expires_at)
            .bind(k.rate_per_second)
            .bind(k.burst)
            .fetch_one(c)
            .await)?)
    }

    /// The key with this public prefix.
    pub async fn api_key_by_prefix(&mut self, prefix: &str) -> StoreResult<Option<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE prefix = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApiKeyRow>(&sql)
            .bind(prefix)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn api_key(&mut self, id: i64) -> StoreResult<Option<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApiKeyRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// The keys of one account, oldest first, at most `limit`.
    pub async fn api_keys_of(&mut self, user_id: i64, limit: i64) -> StoreResult<Vec<ApiKeyRow>> {
        let sql =
            format!("SELECT {KEY_COLS} FROM api_keys WHERE user_id = $1 ORDER BY id LIMIT $2");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApiKeyRow>(&sql)
            .bind(user_id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Keys of an account not revoked yet (expired ones included).
    pub async fn count_unrevoked_api_keys(&mut self, user_id: i64) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(user_id)
            .fetch_one(c)
            .await)?)
    }

    /// Revoke a key; `NotFound` when it is not there, `false` when it was revoked before.
    pub async fn revoke_api_key(&mut self, id: i64, by: i64, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE api_keys SET revoked_at = $2, revoked_by = $3 \
                   WHERE id = $1 AND revoked_at IS NULL";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(now)
            .bind(by)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 && self.api_key(id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(n > 0)
    }

    /// Note a use of a key, unless one at or after `unless_after` was noted already (so
    /// concurrent requests of one key write once).
    pub async fn touch_api_key(
        &mut self,
        id: i64,
        now: i64,
        ip: Option<&str>,
        unless_after: i64,
    ) -> StoreResult<()> {
        let sql = "UPDATE api_keys SET last_used_at = $2, last_used_ip = $3 \
                   WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $4)";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(now)
            .bind(ip)
            .bind(unless_after)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Service accounts (users of kind `service`), by id after `after_id`.
    pub async fn service_accounts(
        &mut self,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<crate::UserRow>> {
        let sql = format!(
            "SELECT {} FROM users WHERE kind = 'service' AND id > $1 ORDER BY id LIMIT $2",
            crate::org::USER_COLS
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, crate::UserRow>(&sql)
            .bind(after_id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }
}
