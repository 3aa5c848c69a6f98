//! Counters of failed logins per (client address, username) and per username; the
//! rules that read them live in `custos-app` (`login_throttle`).

use crate::{on_tx, Backend, StoreResult, Tx};

/// One counter. `client` is empty for the username's counter across every address.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThrottleRow {
    pub subject: String,
    pub client: String,
    pub failures: i64,
    pub last_failure_at: i64,
    pub blocked_until: Option<i64>,
    /// Attempts of this pair whose password is being checked (admitted at `pending_at`).
    pub pending: i64,
    pub pending_at: i64,
}

const COLS: &str = "subject, client, failures, last_failure_at, blocked_until, pending, pending_at";

impl Tx {
    /// The counter of (`subject`, `client`), created empty when absent, locked until the
    /// transaction ends (PostgreSQL; a SQLite write transaction is exclusive anyway).
    /// Creating it first gives concurrent logins of one pair a row to queue on, so the
    /// check and the count of an attempt happen as one step. One upsert rather than
    /// insert-then-select: a row deleted by a concurrent login between the two would
    /// leave the select empty.
    pub async fn lock_login_throttle(
        &mut self,
        subject: &str,
        client: &str,
    ) -> StoreResult<ThrottleRow> {
        let sql = format!(
            "INSERT INTO login_throttle (subject, client, failures, last_failure_at) \
             VALUES ($1, $2, 0, 0) ON CONFLICT (subject, client) \
             DO UPDATE SET failures = login_throttle.failures RETURNING {COLS}"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ThrottleRow>(&sql)
            .bind(subject)
            .bind(client)
            .fetch_one(c)
            .await)?)
    }

    /// The counter of (`subject`, `client`), if any; no lock.
    pub async fn login_throttle(
        &mut self,
        subject: &str,
        client: &str,
    ) -> StoreResult<Option<ThrottleRow>> {
        let sql = format!("SELECT {COLS} FROM login_throttle WHERE subject = $1 AND client = $2");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ThrottleRow>(&sql)
            .bind(subject)
            .bind(client)
            .fetch_optional(c)
            .await)?)
    }

    /// Write a counter back (after `lock_login_throttle`).
    pub async fn put_login_throttle(&mut self, row: &ThrottleRow) -> StoreResult<()> {
        let sql = "UPDATE login_throttle SET failures = $3, last_failure_at = $4, \
                   blocked_until = $5, pending = $6, pending_at = $7 \
                   WHERE subject = $1 AND client = $2";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(&row.subject)
            .bind(&row.client)
            .bind(row.failures)
            .bind(row.last_failure_at)
            .bind(row.blocked_until)
            .bind(row.pending)
            .bind(row.pending_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forget one counter (a successful login from that address).
    pub async fn delete_login_throttle(&mut self, subject: &str, client: &str) -> StoreResult<()> {
        let sql = "DELETE FROM login_throttle WHERE subject = $1 AND client = $2";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(subject)
            .bind(client)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forget every counter of a username (an administrator's unlock); returns how many.
    pub async fn clear_login_throttle(&mut self, subject: &str) -> StoreResult<u64> {
        let sql = "DELETE FROM login_throttle WHERE subject = $1";
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .bind(subject)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Delete up to `limit` counters whose last failure and admission are before `before`
    /// and that block nothing at `now`. Rows another login holds are skipped (PostgreSQL), so pruning
    /// never waits on or deadlocks with a login.
    pub async fn prune_login_throttle(
        &mut self,
        before: i64,
        now: i64,
        limit: i64,
    ) -> StoreResult<u64> {
        let skip = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "DELETE FROM login_throttle WHERE (subject, client) IN (SELECT subject, client \
             FROM login_throttle WHERE last_failure_at < $1 AND pending_at < $1 \
             AND (blocked_until IS NULL OR blocked_until <= $2) LIMIT $3{skip})"
        );
        Ok(on_tx!(self, |c| sqlx::query(&sql)
            .bind(before)
            .bind(now)
            .bind(limit)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }
}
