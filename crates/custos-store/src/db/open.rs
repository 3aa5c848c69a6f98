//! Opening a database: the backend from the URL, pools, pragmas, migrations.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::ConnectOptions;

use super::checkpoint::Checkpointer;
use super::handle::Db;
use super::migrations::{PG_MIGRATIONS, SQLITE_MIGRATIONS};
use super::options::DbOptions;
use crate::audit_chain::AuditKeySlot;
use crate::error::{StoreError, StoreResult};

pub const SQLITE_FILE: &str = "custos.db";

/// The migration versions this build applies to a database of `backend`.
pub fn migrations_of(backend: super::options::Backend) -> Vec<i64> {
    super::upgrade::known(super::migrations::migrator(backend))
}

/// File name of the SQLite database inside the data directory.
pub fn db_file_name() -> &'static str {
    SQLITE_FILE
}

impl Db {
    /// Open (creating when needed) and migrate.
    pub async fn open(opts: &DbOptions) -> StoreResult<Db> {
        match &opts.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::open_postgres(url, opts).await
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                Self::open_sqlite_file(Path::new(path)).await
            }
            Some(url) => Err(StoreError::Other(format!(
                "unsupported database URL (use postgres://… or sqlite:PATH): {}",
                redact_url(url)
            ))),
            None => {
                crate::private_files::create_dir_all(&opts.data_dir).map_err(|e| {
                    StoreError::Other(format!(
                        "cannot create data directory {}: {e}",
                        opts.data_dir.display()
                    ))
                })?;
                Self::open_sqlite_file(&opts.data_dir.join(SQLITE_FILE)).await
            }
        }
    }

    async fn open_sqlite_file(path: &Path) -> StoreResult<Db> {
        crate::private_files::prepare_sqlite_file(path).map_err(|e| {
            StoreError::Other(format!("cannot create database {}: {e}", path.display()))
        })?;
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("temp_store", "memory");
        // SQLite's default page cache is 2 MiB; at a million customers the index pages a
        // creation touches (codes, match keys, name grams) no longer fit and every write
        // re-reads them. The writer gets 64 MiB, each reader 16 MiB (filled lazily).
        // Its statements are logged as slow from 10 s, not sqlx's 1 s: a bulk commit's
        // move of the lookup rows written aside (see `lookups`) takes seconds by design.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(
                base.clone()
                    .pragma("cache_size", "-65536")
                    .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(10)),
            )
            .await?;
        super::upgrade::prepare_sqlite(&writer, &SQLITE_MIGRATIONS, path).await?;
        SQLITE_MIGRATIONS.run(&writer).await?;
        let checkpointer = Arc::new(Checkpointer::new(
            SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(base.clone().pragma("cache_size", "-2048"))
                .await?,
        ));
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true).pragma("cache_size", "-16384"))
            .await?;
        Ok(Db::Sqlite {
            writer,
            reader,
            checkpointer,
            path: path.to_path_buf(),
            aside_from: Arc::new(AtomicI64::new(crate::lookups::ASIDE_FROM)),
            audit_keys: AuditKeySlot::default(),
        })
    }

    async fn open_postgres(url: &str, opts: &DbOptions) -> StoreResult<Db> {
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad database URL: {e}")))?;
        if let Some(schema) = &opts.pg_schema {
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(opts.pg_max_connections.max(2))
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(connect)
            .await?;
        if let Some(schema) = &opts.pg_schema {
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&pool)
                .await?;
        }
        super::upgrade::prepare_pg(
            &pool,
            &PG_MIGRATIONS,
            url,
            opts.pg_schema.as_deref(),
            &opts.data_dir,
        )
        .await?;
        PG_MIGRATIONS.run(&pool).await?;
        Ok(Db::Postgres {
            pool,
            schema: opts.pg_schema.clone(),
            audit_keys: AuditKeySlot::default(),
        })
    }
}

/// Hide the password part of a database URL before it reaches a message or a log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
