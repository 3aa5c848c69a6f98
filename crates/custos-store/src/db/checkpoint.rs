//! Background checkpoints of SQLite's write-ahead log after bulk commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::sqlite::SqlitePool;

/// Copies the pages of bulk transactions from SQLite's write-ahead log into the database
/// file, on a connection (and so a thread) of its own.
///
/// SQLite's writer checkpoints itself once the log holds 1000 pages, right after the
/// commit that crossed the mark. For small commits that is best: the log stays short, so
/// lookups in its index stay cheap (letting it grow to 16384 pages made one-row commits a
/// third slower). A batch of hundreds of creations, though, commits tens of MiB of pages
/// at a million customers, and copying them back held up the next batch for a third of
/// the writer's time. So a bulk transaction raises the writer's mark to 16384 pages for
/// its commit (the next transaction lowers it again) and this connection copies its pages
/// with a passive checkpoint, which never blocks the writer nor waits for it.
pub struct Checkpointer {
    pub(super) pool: SqlitePool,
    running: AtomicBool,
    /// The writer's mark is raised (set by a bulk commit, cleared by the next begin).
    pub(super) raised: AtomicBool,
}

impl Checkpointer {
    /// The writer's own checkpoint mark, in pages: SQLite's default, and during a bulk
    /// commit.
    pub(super) const MARK: &str = "PRAGMA wal_autocheckpoint = 1000";
    pub(super) const BULK_MARK: &str = "PRAGMA wal_autocheckpoint = 16384";

    pub(super) fn new(pool: SqlitePool) -> Checkpointer {
        Checkpointer {
            pool,
            running: AtomicBool::new(false),
            raised: AtomicBool::new(false),
        }
    }

    /// A bulk transaction committed: start a checkpoint in the background unless one is
    /// running.
    pub(super) fn committed(self: &Arc<Self>) {
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&me.pool)
                .await
            {
                // Not fatal: the writer checkpoints itself once the log is large.
                tracing::debug!("background checkpoint: {e}");
            }
            me.running.store(false, Ordering::Release);
        });
    }
}
