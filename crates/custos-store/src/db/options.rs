//! Which backend, and how to open it.

use std::path::PathBuf;

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
}
