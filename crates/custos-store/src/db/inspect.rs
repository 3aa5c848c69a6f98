//! A look at a database without changing it, for `custos doctor`: can it be reached,
//! which migrations does it carry against the ones this build knows, and when was its
//! last audit entry written. Nothing is created or migrated; SQLite is opened read-only.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::open::{migrations_of, SQLITE_FILE};
use super::options::{Backend, DbOptions};
use super::upgrade::{pg_versions, sqlite_versions, SchemaState};
use crate::error::{StoreError, StoreResult};

/// What a database holds of this build's schema.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub backend: Backend,
    /// SQLite: the database file does not exist yet (the first `serve` creates it).
    pub missing: bool,
    /// Migration versions this build would apply.
    pub known: Vec<i64>,
    /// Versions recorded as applied.
    pub applied: Vec<i64>,
    /// Versions recorded as started but failed.
    pub failed: Vec<i64>,
    /// Microseconds since the epoch of the newest audit entry, if any.
    pub last_audit_us: Option<i64>,
}

impl Inspection {
    /// Where the schema stands: pending versions (`serve` applies them at start, keeping
    /// a copy first) and unknown ones (the database was migrated by a newer build).
    pub fn schema(&self) -> SchemaState {
        SchemaState::of(&self.known, self.applied.clone())
    }

    /// Known versions not applied yet.
    pub fn pending(&self) -> Vec<i64> {
        self.schema().pending
    }

    /// Applied versions this build does not know.
    pub fn unknown(&self) -> Vec<i64> {
        self.schema().unknown
    }
}

/// Inspect the database `opts` names, giving up after `timeout` when it cannot be reached.
pub async fn inspect(opts: &DbOptions, timeout: Duration) -> StoreResult<Inspection> {
    match &opts.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            inspect_postgres(url, opts.pg_schema.as_deref(), timeout).await
        }
        Some(url) if url.starts_with("sqlite:") => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            inspect_sqlite(Path::new(path), timeout).await
        }
        Some(url) => Err(StoreError::Other(format!(
            "unsupported database URL (use postgres://… or sqlite:PATH): {}",
            super::open::redact_url(url)
        ))),
        None => inspect_sqlite(&opts.data_dir.join(SQLITE_FILE), timeout).await,
    }
}

fn empty(backend: Backend, missing: bool) -> Inspection {
    Inspection {
        backend,
        missing,
        known: migrations_of(backend),
        applied: Vec::new(),
        failed: Vec::new(),
        last_audit_us: None,
    }
}

async fn inspect_sqlite(path: &Path, timeout: Duration) -> StoreResult<Inspection> {
    if !path.exists() {
        return Ok(empty(Backend::Sqlite, true));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(timeout);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .map_err(cannot_connect)?;
    let mut found = empty(Backend::Sqlite, false);
    (found.applied, found.failed) = sqlite_versions(&pool).await?;
    if !found.applied.is_empty() || !found.failed.is_empty() {
        let has_audit: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'",
        )
        .fetch_optional(&pool)
        .await?;
        if has_audit.is_some() {
            found.last_audit_us = sqlx::query_scalar("SELECT MAX(at) FROM audit_log")
                .fetch_one(&pool)
                .await?;
        }
    }
    pool.close().await;
    Ok(found)
}

async fn inspect_postgres(
    url: &str,
    schema: Option<&str>,
    timeout: Duration,
) -> StoreResult<Inspection> {
    let mut connect = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("bad database URL: {e}")))?;
    if let Some(schema) = schema {
        connect = connect.options([("search_path", schema)]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(timeout)
        .connect_with(connect)
        .await
        .map_err(cannot_connect)?;
    let mut found = empty(Backend::Postgres, false);
    (found.applied, found.failed) = pg_versions(&pool).await?;
    if !found.applied.is_empty() || !found.failed.is_empty() {
        let audit: Option<String> = sqlx::query_scalar("SELECT to_regclass('audit_log')::text")
            .fetch_one(&pool)
            .await?;
        if audit.is_some() {
            found.last_audit_us = sqlx::query_scalar("SELECT MAX(at) FROM audit_log")
                .fetch_one(&pool)
                .await?;
        }
    }
    pool.close().await;
    Ok(found)
}

/// A failed connection said as one (a pool timeout is not a busy database here).
fn cannot_connect(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut => StoreError::Other("cannot connect: timed out".to_string()),
        e => StoreError::Other(format!("cannot connect: {e}")),
    }
}
