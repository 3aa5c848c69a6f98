//! Upgrading a database that already holds data: before the pending migrations of a new
//! version run, a copy of the database as it was is taken, because a schema change cannot
//! be undone by the migrations themselves. A database written by a newer version (it has
//! migrations this binary does not know) is refused with a message saying so, before any
//! migration runs.
//!
//! SQLite: a consistent copy with `VACUUM INTO` next to the database. PostgreSQL:
//! `pg_dump --format=custom` of the database (or of the schema in use) into the data
//! directory; when `pg_dump` cannot be run the upgrade stops, unless the operator said
//! that a backup of their own exists (`CUSTOS_UPGRADE_WITHOUT_BACKUP=1`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::migrate::{MigrationType, Migrator};
use sqlx::{PgPool, SqlitePool};

use crate::error::{StoreError, StoreResult};

/// Folder (inside the data directory) that receives the copies taken before upgrades.
pub const UPGRADE_BACKUP_DIR: &str = "upgrade-backups";

/// Environment variable by which an operator confirms a backup of their own, so a
/// PostgreSQL upgrade may go ahead without `pg_dump`.
pub const WITHOUT_BACKUP_ENV: &str = "CUSTOS_UPGRADE_WITHOUT_BACKUP";

/// Where a database stands against the migrations this binary carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// Versions applied successfully, ascending; empty for a new database.
    pub applied: Vec<i64>,
    /// Versions this binary carries that are not applied yet, ascending.
    pub pending: Vec<i64>,
    /// Applied versions this binary does not know (a newer version wrote them).
    pub unknown: Vec<i64>,
}

impl SchemaState {
    /// Compare the versions a database records as applied with the `known` ones of this
    /// build.
    pub fn of(known: &[i64], mut applied: Vec<i64>) -> SchemaState {
        applied.sort_unstable();
        let pending = known
            .iter()
            .copied()
            .filter(|v| applied.binary_search(v).is_err())
            .collect();
        let unknown = applied
            .iter()
            .copied()
            .filter(|v| !known.contains(v))
            .collect();
        SchemaState {
            applied,
            pending,
            unknown,
        }
    }

    /// True when the database holds data of an earlier version and migrations are due.
    pub fn is_upgrade(&self) -> bool {
        !self.applied.is_empty() && !self.pending.is_empty()
    }

    /// The refusal for a database written by a newer version, if it is one.
    fn refuse_newer(&self) -> StoreResult<()> {
        match self.unknown.last() {
            None => Ok(()),
            Some(v) => Err(StoreError::Other(format!(
                "数据库由更新版本的 custos 写入（迁移 {v} 本版本不认识），请使用该版本或从备份恢复 \
                 / the database was written by a newer custos (migration {v} is unknown to this \
                 version): run that version or restore a backup"
            ))),
        }
    }

    /// File name stem for the copy: from which applied version to which new one.
    fn backup_stem(&self) -> String {
        let from = self.applied.last().copied().unwrap_or(0);
        let to = self.pending.last().copied().unwrap_or(from);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("custos-before-{from:04}-to-{to:04}-{now}")
    }
}

/// The versions recorded in a SQLite database's migrations table: (succeeded, failed).
/// Both empty when the table does not exist (a new database).
pub(super) async fn sqlite_versions(pool: &SqlitePool) -> StoreResult<(Vec<i64>, Vec<i64>)> {
    let exists: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    match exists {
        None => Ok((Vec::new(), Vec::new())),
        Some(_) => split_versions(
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(pool)
                .await?,
        ),
    }
}

/// [`sqlite_versions`] for PostgreSQL (in the schema the pool's search path names).
pub(super) async fn pg_versions(pool: &PgPool) -> StoreResult<(Vec<i64>, Vec<i64>)> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    match exists {
        None => Ok((Vec::new(), Vec::new())),
        Some(_) => split_versions(
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(pool)
                .await?,
        ),
    }
}

fn split_versions(rows: Vec<(i64, bool)>) -> StoreResult<(Vec<i64>, Vec<i64>)> {
    let (ok, failed): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, success)| *success);
    Ok((
        ok.into_iter().map(|(v, _)| v).collect(),
        failed.into_iter().map(|(v, _)| v).collect(),
    ))
}

/// The up-migrations `migrator` carries.
pub(super) fn known(migrator: &Migrator) -> Vec<i64> {
    migrator
        .iter()
        .filter(|m| !matches!(m.migration_type, MigrationType::ReversibleDown))
        .map(|m| m.version)
        .collect()
}

/// Refuse a newer database; before an upgrade copy the SQLite database at `db_file`
/// into `upgrade-backups/` beside it. Returns the copy's path when one was taken.
pub(super) async fn prepare_sqlite(
    pool: &SqlitePool,
    migrator: &Migrator,
    db_file: &Path,
) -> StoreResult<Option<PathBuf>> {
    let state = SchemaState::of(&known(migrator), sqlite_versions(pool).await?.0);
    state.refuse_newer()?;
    if !state.is_upgrade() {
        return Ok(None);
    }
    let dir = db_file
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(UPGRADE_BACKUP_DIR);
    let target = dir.join(format!("{}.db", state.backup_stem()));
    custos_files::private_files::create_dir_all(&dir)
        .and_then(|()| custos_files::private_files::create_new(&target).map(drop))
        .map_err(|e| {
            StoreError::Other(format!(
                "升级前无法创建备份 / cannot create the pre-upgrade copy {}: {e}",
                target.display()
            ))
        })?;
    sqlx::query("VACUUM INTO ?")
        .bind(target.to_string_lossy().into_owned())
        .execute(pool)
        .await?;
    log::warn!(
        "database upgrade from migration {:?} to {:?}: copy of the old database kept at {}",
        state.applied.last(),
        state.pending.last(),
        target.display()
    );
    Ok(Some(target))
}

/// Refuse a newer database; before an upgrade dump the PostgreSQL database (or `schema`)
/// with `pg_dump` into `<data_dir>/upgrade-backups/`. Without `pg_dump` the upgrade stops
/// unless [`WITHOUT_BACKUP_ENV`] is set to `1`.
pub(super) async fn prepare_pg(
    pool: &PgPool,
    migrator: &Migrator,
    url: &str,
    schema: Option<&str>,
    data_dir: &Path,
) -> StoreResult<Option<PathBuf>> {
    let state = SchemaState::of(&known(migrator), pg_versions(pool).await?.0);
    state.refuse_newer()?;
    if !state.is_upgrade() {
        return Ok(None);
    }
    let dir = data_dir.join(UPGRADE_BACKUP_DIR);
    let target = dir.join(format!("{}.dump", state.backup_stem()));
    match pg_dump(url, schema, &dir, &target).await {
        Ok(()) => {
            log::warn!(
                "database upgrade from migration {:?} to {:?}: pg_dump of the old database kept at {}",
                state.applied.last(),
                state.pending.last(),
                target.display()
            );
            Ok(Some(target))
        }
        Err(why) if std::env::var(WITHOUT_BACKUP_ENV).as_deref() == Ok("1") => {
            log::warn!("database upgrade without a pre-upgrade copy ({WITHOUT_BACKUP_ENV}=1): {why}");
            Ok(None)
        }
        Err(why) => Err(StoreError::Other(format!(
            "数据库需要升级（迁移 {:?} → {:?}），但升级前的备份失败：{why}。请安装 PostgreSQL 客户端 \
             (pg_dump)，或自行备份后以 {WITHOUT_BACKUP_ENV}=1 启动 / the database needs an upgrade but \
             the copy before it failed: {why}; install the PostgreSQL client (pg_dump) or take a \
             backup yourself and start with {WITHOUT_BACKUP_ENV}=1",
            state.applied.last(),
            state.pending.last()
        ))),
    }
}

/// Run `pg_dump` for `url` (password passed through the environment, not the command
/// line) into `target`, mode 0600.
async fn pg_dump(url: &str, schema: Option<&str>, dir: &Path, target: &Path) -> Result<(), String> {
    custos_files::private_files::create_dir_all(dir)
        .and_then(|()| custos_files::private_files::create_new(target).map(drop))
        .map_err(|e| format!("{}: {e}", target.display()))?;
    let mut cmd = tokio::process::Command::new(
        std::env::var_os("CUSTOS_PG_DUMP").unwrap_or_else(|| "pg_dump".into()),
    );
    cmd.arg("--format=custom")
        .arg("--no-owner")
        .arg("--file")
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(schema) = schema {
        cmd.arg("--schema").arg(schema);
    }
    let (conn, password) = split_password(url);
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    cmd.arg("--dbname").arg(conn);
    let out = cmd.output().await.map_err(|e| {
        let _ = std::fs::remove_file(target);
        format!("pg_dump: {e}")
    })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(target);
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("pg_dump: {}", err.trim()));
    }
    Ok(())
}

/// The URL without its password, and the password decoded (it goes to `pg_dump` through
/// the environment, so it does not show in the process list).
fn split_password(url: &str) -> (String, Option<String>) {
    let (Some(s), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_string(), None);
    };
    if at <= s {
        return (url.to_string(), None);
    }
    let creds = &url[s + 3..at];
    match creds.find(':') {
        Some(c) => {
            let password = percent_encoding::percent_decode_str(&creds[c + 1..])
                .decode_utf8_lossy()
                .into_owned();
            (
                format!("{}{}{}", &url[..s + 3], &creds[..c], &url[at..]),
                Some(password),
            )
        }
        None => (url.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_moves_out_of_the_url() {
        let (url, pw) = split_password("postgres://custos:s%40cret@db:5432/custos");
        assert_eq!(url, "postgres://custos@db:5432/custos");
        assert_eq!(pw.as_deref(), Some("s@cret"));
        let (url, pw) = split_password("postgres://postgres@127.0.0.1/test");
        assert_eq!(url, "postgres://postgres@127.0.0.1/test");
        assert_eq!(pw, None);
    }
}
