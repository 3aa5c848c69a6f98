//! External identities of users (LDAP entries, OIDC subjects) and the OIDC authorisation
//! requests in flight.

use crate::{on_tx, StoreResult, Tx};

/// One external identity and the user it logs in as.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdentityRow {
    pub provider: String,
    pub subject: String,
    pub user_id: i64,
    pub created_at: i64,
    pub last_login_at: i64,
}

/// An OIDC authorisation request waiting for its callback.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OidcRequestRow {
    pub state_hash: String,
    pub provider: String,
    pub nonce: String,
    pub code_verifier: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Tx {
    /// The identity `subject` of `provider`, if it has logged in before.
    pub async fn identity(
        &mut self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<IdentityRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, IdentityRow>(
            "SELECT provider, subject, user_id, created_at, last_login_at \
             FROM user_identities WHERE provider = $1 AND subject = $2"
        )
        .bind(provider)
        .bind(subject)
        .fetch_optional(c)
        .await)?)
    }

    /// The identities of a user of `provider` (normally one).
    pub async fn identities_of(
        &mut self,
        user_id: i64,
        provider: &str,
    ) -> StoreResult<Vec<IdentityRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, IdentityRow>(
            "SELECT provider, subject, user_id, created_at, last_login_at \
             FROM user_identities WHERE user_id = $1 AND provider = $2 ORDER BY subject"
        )
        .bind(user_id)
        .bind(provider)
        .fetch_all(c)
        .await)?)
    }

    /// Link an identity to a user, or note another login of it.
    pub async fn put_identity(&mut self, row: &IdentityRow) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO user_identities (provider, subject, user_id, created_at, last_login_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, subject) \
             DO UPDATE SET last_login_at = excluded.last_login_at"
        )
        .bind(&row.provider)
        .bind(&row.subject)
        .bind(row.user_id)
        .bind(row.created_at)
        .bind(row.last_login_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Mark a user as disabled (its directory entry is gone), if it is not already.
    /// Returns whether it changed.
    pub async fn disable_user(&mut self, user_id: i64, now: i64) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "UPDATE users SET disabled = TRUE, updated_at = $2 WHERE id = $1 AND NOT disabled"
        )
        .bind(user_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Keep a new OIDC authorisation request.
    pub async fn insert_oidc_request(&mut self, row: &OidcRequestRow) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO oidc_requests (state_hash, provider, nonce, code_verifier, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&row.state_hash)
        .bind(&row.provider)
        .bind(&row.nonce)
        .bind(&row.code_verifier)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Take (delete and return) the request of a state: a state is used at most once.
    pub async fn take_oidc_request(
        &mut self,
        state_hash: &str,
    ) -> StoreResult<Option<OidcRequestRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, OidcRequestRow>(
            "DELETE FROM oidc_requests WHERE state_hash = $1 RETURNING state_hash, provider, \
             nonce, code_verifier, created_at, expires_at"
        )
        .bind(state_hash)
        .fetch_optional(c)
        .await)?)
    }

    /// Forget requests that expired before `now` (at most `limit`).
    /// How many sign-on requests are kept, counted up to `cap`.
    pub async fn count_oidc_requests(&mut self, cap: i64) -> StoreResult<i64> {
        Ok(on_tx!(self, |c| sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM oidc_requests LIMIT $1) AS kept"
        )
        .bind(cap)
        .fetch_one(c)
        .await)?)
    }

    pub async fn prune_oidc_requests(&mut self, now: i64, limit: i64) -> StoreResult<u64> {
        Ok(on_tx!(self, |c| sqlx::query(
            "DELETE FROM oidc_requests WHERE state_hash IN \
             (SELECT state_hash FROM oidc_requests WHERE expires_at < $1 LIMIT $2)"
        )
        .bind(now)
        .bind(limit)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
