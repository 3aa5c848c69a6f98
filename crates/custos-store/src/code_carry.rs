//! What a restore carries from the database it replaces into the restored one, so that no
//! code is issued twice (DESIGN.md invariant 1): every sequence counter, raised to at
//! least its live value, and every registry entry the restored database lacks. Also the
//! PostgreSQL advisory lock that tells serving processes and maintenance apart.

use crate::{on_tx, CodeRow, Db, StoreError, StoreResult, Tx};

/// One sequence counter (流水号): the next number it will hand out.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct SequenceRow {
    pub rule_key: String,
    pub scope: String,
    pub next_value: i64,
}

impl Tx {
    /// Every sequence counter, including what this transaction drew in memory.
    pub async fn all_sequences(&mut self) -> StoreResult<Vec<SequenceRow>> {
        self.write_back_sequences().await?;
        let sql = "SELECT rule_key, scope, next_value FROM code_sequences ORDER BY rule_key, scope";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, SequenceRow>(sql)
            .fetch_all(c)
            .await)?)
    }

    /// Raise a counter so that it hands out nothing below `at_least`, creating it when it
    /// does not exist. Never lowers it. Returns whether it moved.
    pub async fn raise_sequence(
        &mut self,
        rule_key: &str,
        scope: &str,
        at_least: i64,
    ) -> StoreResult<bool> {
        // A counter drawn in memory in this transaction is written back and forgotten, so
        // the next draw reads the raised value.
        self.write_back_sequences().await?;
        self.cache
            .sequences
            .remove(&(rule_key.to_string(), scope.to_string()));
        let sql = "INSERT INTO code_sequences (rule_key, scope, next_value) VALUES ($1, $2, $3) \
                   ON CONFLICT (rule_key, scope) DO UPDATE SET next_value = excluded.next_value \
                   WHERE code_sequences.next_value < excluded.next_value";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(rule_key)
            .bind(scope)
            .bind(at_least)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Registry entries with codes after `after`, in code order (a page of a full walk).
    pub async fn codes_after(&mut self, after: &str, limit: i64) -> StoreResult<Vec<CodeRow>> {
        let sql = format!(
            "SELECT {} FROM code_registry WHERE code > $1 ORDER BY code LIMIT $2",
            crate::codes::CODE_COLS
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CodeRow>(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Record a code unless the registry already has it; returns whether it was added.
    pub async fn insert_code_if_absent(&mut self, r: &CodeRow) -> StoreResult<bool> {
        Ok(self.write_code(r, " ON CONFLICT (code) DO NOTHING").await? > 0)
    }

    pub async fn delete_setting(&mut self, key: &str) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query("DELETE FROM settings WHERE key = $1")
            .bind(key)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

/// First key of custos' advisory locks ("cust"); the second is the schema's hash, so
/// installations in different schemas of one database do not see each other.
const ADVISORY_CLASS: i32 = 0x6375_7374;

/// A PostgreSQL session-level advisory lock, held by a connection of its own for as long
/// as this value lives. It ends with the connection, also when the process dies.
pub struct AdvisoryLock {
    conn: sqlx::PgConnection,
}

impl AdvisoryLock {
    /// Give the lock back and close its connection.
    pub async fn release(self) {
        use sqlx::Connection;
        let _ = self.conn.close().await;
    }
}

impl Db {
    /// Try to take custos' advisory lock on PostgreSQL: shared (every serving process holds
    /// it) or exclusive (maintenance that must not run beside a server). `Ok(None)` when
    /// it is held the other way. SQLite has no such lock: an error.
    pub async fn try_advisory_lock(&self, exclusive: bool) -> StoreResult<Option<AdvisoryLock>> {
        let Db::Postgres { pool, .. } = self else {
            return Err(StoreError::Other(
                "advisory locks exist only on PostgreSQL".into(),
            ));
        };
        let mut conn = pool.acquire().await?.detach();
        let sql = if exclusive {
            "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))"
        } else {
            "SELECT pg_try_advisory_lock_shared($1, hashtext(current_schema()))"
        };
        let got: bool = sqlx::query_scalar(sql)
            .bind(ADVISORY_CLASS)
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Some(AdvisoryLock { conn }))
        } else {
            use sqlx::Connection;
            let _ = conn.close().await;
            Ok(None)
        }
    }
}
