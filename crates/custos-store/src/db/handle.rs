//! The database handle: transactions begin here, plus maintenance on the pools.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use super::bulk::BulkWrites;
use super::checkpoint::Checkpointer;
use super::options::Backend;
use super::tx::{Tx, TxConn};
use crate::audit_chain::{AuditKeySlot, AuditKeys};
use crate::error::{StoreError, StoreResult};

/// A database handle. Cheap to clone.
///
/// SQLite allows one writer at a time, so writes go through a one-connection pool and
/// begin with `BEGIN IMMEDIATE`: concurrent requests queue in the pool instead of failing
/// with "database is locked", and other processes wait on `busy_timeout`. Reads use a
/// separate pool and never block writers (WAL).
#[derive(Clone)]
pub enum Db {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        checkpointer: Arc<Checkpointer>,
        path: PathBuf,
        /// Customers from which bulk transactions write lookup rows aside (see
        /// [`Db::write_lookup_rows_aside_from`]).
        aside_from: Arc<AtomicI64>,
        audit_keys: AuditKeySlot,
    },
    Postgres {
        pool: PgPool,
        schema: Option<String>,
        audit_keys: AuditKeySlot,
    },
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Set the keys of the audit chain: every transaction begun from now on writes and
    /// verifies with them (see `audit_chain`). Without keys no entry can be written.
    pub fn set_audit_keys(&self, keys: AuditKeys) {
        let slot = self.audit_key_slot();
        let mut held = slot.write().unwrap_or_else(|p| p.into_inner());
        *held = Some(Arc::new(keys));
    }

    fn audit_key_slot(&self) -> &AuditKeySlot {
        match self {
            Db::Sqlite { audit_keys, .. } | Db::Postgres { audit_keys, .. } => audit_keys,
        }
    }

    fn current_audit_keys(&self) -> Option<Arc<AuditKeys>> {
        let slot = self.audit_key_slot();
        let held = slot.read().unwrap_or_else(|p| p.into_inner());
        held.clone()
    }

    /// The SQLite file, when on SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Db::Sqlite { path, .. } => Some(path),
            Db::Postgres { .. } => None,
        }
    }

    /// Begin a read-write transaction.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let mut tx = self.begin_write().await?;
        tx.audit_keys = self.current_audit_keys();
        Ok(tx)
    }

    async fn begin_write(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite {
                writer,
                checkpointer,
                aside_from,
                ..
            } => {
                let mut t = writer.begin_with("BEGIN IMMEDIATE").await?;
                if checkpointer.raised.swap(false, Ordering::AcqRel) {
                    sqlx::query(Checkpointer::MARK).execute(&mut *t).await?;
                }
                let mut tx = Tx::new(TxConn::Sqlite(t));
                tx.bulk = Some(BulkWrites::sqlite_writer(
                    checkpointer.clone(),
                    aside_from.load(Ordering::Relaxed),
                ));
                tx
            }
            Db::Postgres { pool, .. } => Tx::new(TxConn::Pg(pool.begin().await?)),
        })
    }

    /// SQLite: from how many customers (by the next id) bulk transactions write the new
    /// lookup rows aside (default [`crate::lookups::ASIDE_FROM`]; see the `lookups`
    /// module). Tests set 0 to take that path on a small database. No effect on
    /// PostgreSQL.
    pub fn write_lookup_rows_aside_from(&self, customers: i64) {
        if let Db::Sqlite { aside_from, .. } = self {
            aside_from.store(customers, Ordering::Relaxed);
        }
    }

    /// Begin a read-only transaction (a consistent snapshot; on SQLite it does not wait
    /// for the writer).
    pub async fn begin_read(&self) -> StoreResult<Tx> {
        let mut tx = match self {
            Db::Sqlite { reader, .. } => Tx::new(TxConn::Sqlite(reader.begin().await?)),
            Db::Postgres { pool, .. } => Tx::new(TxConn::Pg(pool.begin().await?)),
        };
        tx.audit_keys = self.current_audit_keys();
        Ok(tx)
    }

    /// Is the database reachable and answering?
    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite { reader, .. } => {
                sqlx::query("SELECT 1").execute(reader).await?;
            }
            Db::Postgres { pool, .. } => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Write a consistent copy of the SQLite database to `dest` while it stays online
    /// (`VACUUM INTO` reads one snapshot). Not available on PostgreSQL (use pg_dump).
    pub async fn sqlite_snapshot(&self, dest: &Path) -> StoreResult<()> {
        match self {
            Db::Sqlite { reader, .. } => {
                let dest = dest.to_str().ok_or_else(|| {
                    StoreError::Other("backup path is not valid UTF-8".to_string())
                })?;
                sqlx::query("VACUUM INTO $1")
                    .bind(dest)
                    .execute(reader)
                    .await?;
                Ok(())
            }
            Db::Postgres { .. } => Err(StoreError::Other(
                "online snapshots are for SQLite; use pg_dump for PostgreSQL".to_string(),
            )),
        }
    }

    /// Run raw SQL outside any repository: for tests (tampering) and maintenance only.
    pub async fn execute_raw(&self, sql: &str) -> StoreResult<u64> {
        Ok(match self {
            Db::Sqlite { writer, .. } => sqlx::raw_sql(sql).execute(writer).await?.rows_affected(),
            Db::Postgres { pool, .. } => sqlx::raw_sql(sql).execute(pool).await?.rows_affected(),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite {
                writer,
                reader,
                checkpointer,
                ..
            } => {
                writer.close().await;
                reader.close().await;
                checkpointer.pool.close().await;
            }
            Db::Postgres { pool, .. } => pool.close().await,
        }
    }

    /// Bring the planner's knowledge up to date after many customers were written at once
    /// (an import, demo data, a benchmark load). On PostgreSQL: `VACUUM (ANALYZE)` of the
    /// customer table, which marks its pages all-visible so that list pages are ranked
    /// from an index alone, and `ANALYZE` of the lookup tables. Autovacuum does the same
    /// in time where it is on; this makes it immediate, and it holds where autovacuum is
    /// off. Neither blocks readers or writers. SQLite needs nothing: its plans do not
    /// depend on statistics custos would gather, and its indexes always hold the row id.
    /// `customers` is how many were written; below 10,000 this does nothing (autovacuum's
    /// own pace is fine for a small import). The data is committed already, so a failure
    /// here is logged, not returned: the next autovacuum makes up for it.
    pub async fn after_bulk_write(&self, customers: u64) {
        let Db::Postgres { pool, .. } = self else {
            return;
        };
        if customers < 10_000 {
            return;
        }
        for sql in [
            "VACUUM (ANALYZE) customers",
            "ANALYZE code_registry, customer_blind_index, customer_name_grams, \
             customer_match_keys, customer_tags, customer_field_values",
        ] {
            if let Err(e) = sqlx::query(sql).execute(pool).await {
                tracing::warn!("after a bulk write, {sql}: {e}");
            }
        }
    }

    /// The PostgreSQL schema this handle works in, when it is not the default.
    pub fn pg_schema(&self) -> Option<&str> {
        match self {
            Db::Postgres {
                schema: Some(s), ..
            } => Some(s),
            _ => None,
        }
    }

    /// Drop the test schema (PostgreSQL tests clean up after themselves).
    pub async fn drop_schema(&self) -> StoreResult<()> {
        if let Db::Postgres {
            pool,
            schema: Some(s),
            ..
        } = self
        {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

impl Db {
    /// Benchmark baseline: `callers` tasks each run `UPDATE … RETURNING` on one counter row
    /// and commit, `per_caller` times, with the same pools and durability settings custos
    /// uses. Returns the number of commits.
    pub async fn raw_counter_baseline(
        &self,
        callers: usize,
        per_caller: usize,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        crate::on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('bench_counter', '0') \
             ON CONFLICT (key) DO UPDATE SET value = '0'"
        )
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        let mut handles = Vec::new();
        for _ in 0..callers {
            let db = self.clone();
            handles.push(tokio::spawn(async move {
                for _ in 0..per_caller {
                    let mut tx = db.begin().await?;
                    let _v: String = crate::on_tx!(&mut tx, |c| sqlx::query_scalar(
                        "UPDATE settings SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) \
                         WHERE key = 'bench_counter' RETURNING value"
                    )
                    .fetch_one(c)
                    .await)?;
                    tx.commit().await?;
                }
                Ok::<(), StoreError>(())
            }));
        }
        for h in handles {
            h.await.map_err(|e| StoreError::Other(e.to_string()))??;
        }
        Ok((callers * per_caller) as u64)
    }
}
