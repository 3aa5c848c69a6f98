//! The small storage error: callers can tell "not there" and "constraint" apart from
//! everything else, and nothing else is ever dressed up as one of those.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique or foreign-key constraint refused the write; `constraint` names it when the
    /// backend says which.
    #[error("constraint violated: {constraint}")]
    Conflict { constraint: String },
    /// A concurrent transaction won (serialisation failure, lock timeout); safe to retry.
    #[error("concurrent update, retry")]
    Busy,
    #[error("database error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(d) => {
                let code = d.code().map(|c| c.to_string()).unwrap_or_default();
                if d.is_unique_violation() || d.is_foreign_key_violation() {
                    let constraint = d
                        .constraint()
                        .map(str::to_string)
                        .unwrap_or_else(|| sqlite_constraint(d.message()));
                    return StoreError::Conflict { constraint };
                }
                // PostgreSQL serialization_failure / deadlock_detected; SQLite BUSY/LOCKED.
                if code == "40001" || code == "40P01" || code == "5" || code == "6" {
                    return StoreError::Busy;
                }
                StoreError::Other(e.to_string())
            }
            sqlx::Error::PoolTimedOut => StoreError::Busy,
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// SQLite reports `UNIQUE constraint failed: users.username`; keep the table.column part.
fn sqlite_constraint(message: &str) -> String {
    message
        .rsplit_once(": ")
        .map(|(_, c)| c.to_string())
        .unwrap_or_else(|| message.to_string())
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(format!("migration failed: {e}"))
    }
}
