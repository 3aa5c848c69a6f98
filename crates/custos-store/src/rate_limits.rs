//! Rate-limit counters in the database, so that every server sharing it counts the same
//! requests: one row per limited key holding its theoretical arrival time (the generic
//! cell rate algorithm; the decision is the caller's).

use crate::{on_tx, Backend, StoreResult, Tx};

impl Tx {
    /// The theoretical arrival time stored for `key` (µs), the row locked until the
    /// transaction ends so that concurrent requests of one key queue here (PostgreSQL;
    /// SQLite's writer is alone). A key seen for the first time gets a row first, so the
    /// very first requests of a key are serialised too.
    pub async fn rate_limit_tat(&mut self, key: &str) -> StoreResult<i64> {
        let create =
            "INSERT INTO rate_limits (key, tat) VALUES ($1, 0) ON CONFLICT (key) DO NOTHING";
        on_tx!(self, |c| sqlx::query(create)
            .bind(key)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = match self.backend() {
            Backend::Postgres => "SELECT tat FROM rate_limits WHERE key = $1 FOR UPDATE",
            Backend::Sqlite => "SELECT tat FROM rate_limits WHERE key = $1",
        };
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(key)
            .fetch_one(c)
            .await)?)
    }

    /// Store the new theoretical arrival time of `key` (after [`Tx::rate_limit_tat`]).
    pub async fn put_rate_limit_tat(&mut self, key: &str, tat: i64) -> StoreResult<()> {
        let sql = "UPDATE rate_limits SET tat = $2 WHERE key = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(key)
            .bind(tat)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
