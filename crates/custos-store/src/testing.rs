//! Fresh databases for tests: a temporary SQLite directory, or a fresh schema on the
//! PostgreSQL server named by `CUSTOS_TEST_PG_URL`.

use crate::{Backend, Db, DbOptions, StoreResult};

/// A database that lives as long as this value (the SQLite directory is removed on drop;
/// PostgreSQL schemas are dropped by [`TestDb::cleanup`]).
pub struct TestDb {
    pub db: Db,
    pub options: DbOptions,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL URL for tests, if configured.
pub fn pg_url() -> Option<String> {
    std::env::var("CUSTOS_TEST_PG_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

impl TestDb {
    /// `Ok(None)` when the backend is PostgreSQL and no test server is configured.
    pub async fn new(backend: Backend) -> StoreResult<Option<TestDb>> {
        let Some((options, dir)) = DbOptions::fresh(backend, pg_url().as_deref()) else {
            return Ok(None);
        };
        let db = Db::open(&options).await?;
        // A fixed key: the application replaces it with its own (see `App::from_db`).
        db.set_audit_keys(crate::AuditKeys::new(crate::AuditKey::new(
            "testkey0", [7; 32],
        )));
        Ok(Some(TestDb {
            db,
            options,
            _dir: dir,
        }))
    }

    /// Run one statement behind the use cases' back (tests of old or imported data).
    pub async fn execute(&self, sql: &str) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        crate::on_tx!(tx, |c| sqlx::query(sql)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await
    }

    pub async fn cleanup(self) {
        let _ = self.db.drop_schema().await;
        self.db.close().await;
    }
}
