//! Which backend, and how to open it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which database a handle talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `postgres://…`; when absent, SQLite under `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// PostgreSQL only: the schema to use (tests get a fresh one each).
    pub pg_schema: Option<String>,
    pub pg_max_connections: u32,
}

impl DbOptions {
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            database_url: None,
            data_dir: data_dir.into(),
            pg_schema: None,
            pg_max_connections: 32,
        }
    }

    /// A fresh, empty database on `backend` (to measure on, or to test with): a new
    /// temporary SQLite directory, returned so the caller keeps it as long as the
    /// database, or a new schema on the PostgreSQL server at `pg_url`. `None` when the
    /// directory cannot be made, or for PostgreSQL without a URL.
    pub fn fresh(
        backend: Backend,
        pg_url: Option<&str>,
    ) -> Option<(DbOptions, Option<tempfile::TempDir>)> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().ok()?;
                Some((DbOptions::sqlite(dir.path()), Some(dir)))
            }
            Backend::Postgres => {
                let url = pg_url.filter(|u| !u.trim().is_empty())?;
                static COUNTER: AtomicU64 = AtomicU64::new(0);
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let schema = format!("t_{}_{}_{}", std::process::id(), n, nanos);
                let mut opts = DbOptions::sqlite("unused");
                opts.database_url = Some(url.to_string());
                opts.pg_schema = Some(schema);
                opts.pg_max_connections = 16;
                Some((opts, None))
            }
        }
    }
}
