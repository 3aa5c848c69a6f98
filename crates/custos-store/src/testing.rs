//! Fresh databases for tests: a temporary SQLite directory, or a fresh schema on the
//! PostgreSQL server named by `CUSTOS_TEST_PG_URL`.

use std::sync::atomic::{AtomicU64, Ordering};

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

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Options for a fresh database on `backend`; `None` when PostgreSQL is not configured.
pub fn fresh_options(backend: Backend) -> Option<(DbOptions, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().ok()?;
            Some((DbOptions::sqlite(dir.path()), Some(dir)))
        }
        Backend::Postgres => {
            let url = pg_url()?;
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let schema = format!("t_{}_{}_{}", std::process::id(), n, nanos);
            let mut opts = DbOptions::sqlite("unused");
            opts.database_url = Some(url);
            opts.pg_schema = Some(schema);
            opts.pg_max_connections = 16;
            Some((opts, None))
        }
    }
}

impl TestDb {
    /// `Ok(None)` when the backend is PostgreSQL and no test server is configured.
    pub async fn new(backend: Backend) -> StoreResult<Option<TestDb>> {
        let Some((options, dir)) = fresh_options(backend) else {
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

    pub async fn cleanup(self) {
        let _ = self.db.drop_schema().await;
        self.db.close().await;
    }
}
