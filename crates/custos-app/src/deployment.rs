//! Checks of a deployment that need the database (`custos doctor`): reachable or not,
//! migrations applied against the ones this build knows, and the time of the newest
//! audit entry (a clock set back runs behind it). The database is only read: nothing is
//! created or migrated, so a doctor run never changes what it examines.

use std::time::Duration;

use serde::Serialize;

use custos_store::{Backend, DbOptions};

/// What `custos doctor` learns of the database.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseState {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// SQLite file not created yet: the first `custos serve` creates and migrates it.
    pub missing: bool,
    pub known_migrations: usize,
    pub applied_migrations: usize,
    /// Versions this build applies at the next start.
    pub pending: Vec<i64>,
    /// Versions applied by a newer build, unknown to this one (a downgrade).
    pub unknown: Vec<i64>,
    /// Versions that failed part way.
    pub failed: Vec<i64>,
    /// Microseconds since the epoch of the newest audit entry.
    #[serde(skip)]
    pub last_audit_us: Option<i64>,
}

/// Look at the database `opts` names within `timeout`; an error says why it cannot be
/// reached (the URL's password is never in it).
pub async fn inspect_database(
    opts: &DbOptions,
    timeout: Duration,
) -> Result<DatabaseState, String> {
    let found = tokio::time::timeout(timeout, custos_store::inspect(opts, timeout))
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
        .map_err(|e| e.to_string())?;
    Ok(DatabaseState {
        backend: match found.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        },
        missing: found.missing,
        known_migrations: found.known.len(),
        applied_migrations: found.applied.len(),
        pending: if found.missing {
            Vec::new()
        } else {
            found.pending()
        },
        unknown: found.unknown(),
        failed: found.failed.clone(),
        last_audit_us: found.last_audit_us,
    })
}
