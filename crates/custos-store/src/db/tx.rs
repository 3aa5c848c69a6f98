//! Transactions on either backend: writes sent ahead, lookup rows flushed, savepoints,
//! commit and rollback.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sqlx::{Postgres, Sqlite, Transaction};

use super::bulk::BulkWrites;
use super::cache::WriteCache;
use super::checkpoint::Checkpointer;
use super::options::Backend;
use super::savepoint::{SavepointPrefix, SavepointState};
use crate::audit_chain::AuditKeys;
use crate::error::StoreResult;

/// A transaction on either backend. Dropping it without `commit` rolls back.
///
/// A write transaction also remembers what it holds and has already read of the two
/// hot rows every creation touches — the audit chain's head and the code sequences it
/// drew from — so a batch of creations reads each of them once instead of once per
/// customer (a round trip to the database each). See `WriteCache`.
pub struct Tx {
    #[doc(hidden)]
    pub conn: TxConn,
    pub(crate) cache: WriteCache,
    /// The cache as it was when the open savepoint was taken (savepoints do not nest).
    saved: Option<WriteCache>,
    /// How many creations the match-key read-ahead had seen when the savepoint was taken.
    saved_postings: Option<u64>,
    /// The bulk-write machinery of SQLite's writer (lookup-row queue, rows aside,
    /// checkpoint mark); none in a plain transaction (see [`BulkWrites`]).
    pub(super) bulk: Option<BulkWrites>,
    /// A write sent to SQLite and not yet answered; it holds the connection (see
    /// [`Tx::send_behind`]).
    inflight: Option<Inflight>,
    /// Set when a write sent ahead failed: the transaction can then only be rolled back.
    poisoned: Option<String>,
    /// SQLite: where the savepoint stands (opened and released lazily).
    sp: SavepointState,
    /// The audit chain's keys, as the database handle had them when this began.
    pub(crate) audit_keys: Option<Arc<AuditKeys>>,
    /// Events emitted and not written yet: the commit writes them (see `event_log`).
    pub(crate) events: Vec<crate::new_event::NewEvent>,
    /// How many events there were when the open savepoint was taken.
    saved_events: Option<usize>,
}

/// A write in flight: gives the connection back with the write's outcome.
type Inflight = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = (Transaction<'static, Sqlite>, Result<(), sqlx::Error>)>
            + Send,
    >,
>;

/// The connection of a [`Tx`]; use [`on_tx!`] rather than matching on it.
#[doc(hidden)]
pub enum TxConn {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
    /// Held by a write in flight (SQLite); [`Tx::settle`] takes it back.
    Lent,
}

impl TxConn {
    /// The error of a query asked of a connection a write in flight holds (not reached:
    /// every query settles first).
    #[doc(hidden)]
    pub fn lent() -> sqlx::Error {
        sqlx::Error::Protocol("the connection is held by a write in flight".into())
    }
}

impl Tx {
    pub(super) fn new(conn: TxConn) -> Tx {
        Tx {
            conn,
            cache: WriteCache::default(),
            saved: None,
            saved_postings: None,
            bulk: None,
            inflight: None,
            poisoned: None,
            sp: SavepointState::default(),
            audit_keys: None,
            events: Vec::new(),
            saved_events: None,
        }
    }

    /// Make the connection ready for the next statement: wait for the write in flight,
    /// if any, and take the connection back; open the caller's savepoint on SQLite if it
    /// is not open yet (see [`SavepointState`]). A failed write poisons the transaction:
    /// its error is returned now, and every later query and the commit fail (the write
    /// may have been applied in part, and its caller was told it succeeded); only a
    /// rollback remains.
    #[doc(hidden)]
    pub async fn settle(&mut self) -> Result<(), sqlx::Error> {
        let prefix = self.sp.take_prefix();
        self.savepoint_sql(prefix.sql()).await
    }

    /// Run savepoint statements once the write in flight is done (nothing to run: only
    /// wait for it).
    async fn savepoint_sql(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        self.finish_inflight().await?;
        if sql.is_empty() {
            return Ok(());
        }
        match &mut self.conn {
            TxConn::Sqlite(t) => sqlx::query(sql).execute(&mut **t).await.map(|_| ()),
            TxConn::Pg(t) => sqlx::query(sql).execute(&mut **t).await.map(|_| ()),
            TxConn::Lent => Err(TxConn::lent()),
        }
    }

    /// [`Tx::settle`] without touching the savepoint.
    async fn finish_inflight(&mut self) -> Result<(), sqlx::Error> {
        if let Some(write) = self.inflight.take() {
            let (t, result) = write.await;
            self.landed(t, result)?;
        }
        match &self.poisoned {
            Some(e) => Err(sqlx::Error::Protocol(format!(
                "an earlier write of this transaction failed: {e}"
            ))),
            None => Ok(()),
        }
    }

    /// The connection is back from a write sent ahead; a failure poisons the transaction.
    fn landed(
        &mut self,
        t: Transaction<'static, Sqlite>,
        result: Result<(), sqlx::Error>,
    ) -> Result<(), sqlx::Error> {
        self.conn = TxConn::Sqlite(t);
        result.inspect_err(|e| self.poisoned = Some(e.to_string()))
    }

    /// Release a savepoint the caller has released but that is still open on the
    /// connection (see [`SavepointState`]). Under an open savepoint SQLite first copies
    /// every page a statement changes (into its sub-journal, in memory), and the queued
    /// lookup rows of a chunk change a good part of several large B-trees: written under
    /// the last row's savepoint they cost hundreds of MiB at a million customers.
    pub(crate) async fn release_stale_savepoint(&mut self) -> StoreResult<()> {
        if self.sp.open_in_sql && !self.sp.wanted {
            self.savepoint_sql("RELEASE SAVEPOINT custos_job").await?;
            self.sp.open_in_sql = false;
            self.sp.stale = false;
        }
        Ok(())
    }

    /// Hand a write to SQLite's worker and return without waiting for it, so the caller
    /// can prepare the next one meanwhile (the worker runs on a thread of its own). Only
    /// for writes that cannot fail short of a broken database: their outcome is known
    /// when the next query settles. SQLite only. `query` gets the savepoint statements
    /// its text must begin with.
    pub(crate) async fn send_behind(
        &mut self,
        query: impl FnOnce(
            SavepointPrefix,
        ) -> sqlx::query::Query<
            'static,
            Sqlite,
            sqlx::sqlite::SqliteArguments<'static>,
        >,
    ) -> StoreResult<()> {
        use std::task::Poll;
        self.finish_inflight().await?;
        let mut t = match std::mem::replace(&mut self.conn, TxConn::Lent) {
            TxConn::Sqlite(t) => t,
            other => {
                self.conn = other;
                return Err(TxConn::lent().into());
            }
        };
        let query = query(self.sp.take_prefix());
        let mut write: Inflight = Box::pin(async move {
            let result = query.execute(&mut *t).await.map(|_| ());
            (t, result)
        });
        // One poll sends the statements to the worker; the answer is awaited later.
        let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
        match first {
            Poll::Ready((t, result)) => self.landed(t, result)?,
            Poll::Pending => self.inflight = Some(write),
        }
        Ok(())
    }

    /// Write what the cache holds back (sequence numbers drawn in memory, queued lookup
    /// rows), then commit.
    pub async fn commit(mut self) -> StoreResult<()> {
        self.finish_inflight().await?;
        let t1 = std::time::Instant::now();
        self.flush_lookups().await?;
        let t2 = std::time::Instant::now();
        self.move_aside_rows_if_due().await?;
        let t3 = std::time::Instant::now();
        self.write_back_sequences().await?;
        // Last before COMMIT: the event counter's lock is held from here to the commit.
        self.flush_events().await?;
        let checkpointer = self
            .bulk
            .as_mut()
            .and_then(BulkWrites::take_bulk_checkpointer);
        match self.conn {
            TxConn::Sqlite(mut t) => {
                if let Some(c) = &checkpointer {
                    sqlx::query(Checkpointer::BULK_MARK)
                        .execute(&mut *t)
                        .await?;
                    c.raised.store(true, Ordering::Release);
                }
                t.commit().await?;
            }
            TxConn::Pg(t) => t.commit().await?,
            TxConn::Lent => return Err(TxConn::lent().into()),
        }
        if checkpointer.is_some() {
            tracing::debug!(
                flush_ms = (t2 - t1).as_millis() as u64,
                move_ms = (t3 - t2).as_millis() as u64,
                commit_ms = t3.elapsed().as_millis() as u64,
                "bulk commit"
            );
        }
        if let Some(c) = &checkpointer {
            c.committed();
        }
        Ok(())
    }

    /// This transaction writes a great deal (hundreds of creations): on SQLite its commit
    /// leaves copying its pages into the database file to a background connection (see
    /// [`Checkpointer`]). No effect on PostgreSQL.
    pub fn set_bulk(&mut self) {
        if let Some(b) = &mut self.bulk {
            b.set_bulk();
        }
    }

    /// The bulk-write state, made plain when the transaction had none (what a new
    /// customer's queued lookup rows go into).
    pub(crate) fn bulk_writes(&mut self) -> &mut BulkWrites {
        self.bulk.get_or_insert_with(BulkWrites::default)
    }

    pub async fn rollback(mut self) -> StoreResult<()> {
        // The write in flight is undone with the rest, whatever its outcome.
        let _ = self.finish_inflight().await;
        match self.conn {
            TxConn::Sqlite(t) => t.rollback().await?,
            TxConn::Pg(t) => t.rollback().await?,
            TxConn::Lent => return Err(TxConn::lent().into()),
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.conn {
            TxConn::Sqlite(_) | TxConn::Lent => Backend::Sqlite,
            TxConn::Pg(_) => Backend::Postgres,
        }
    }

    /// How rows go into a customer's lookup tables (match keys, bigrams, blind index,
    /// tags, field values), whose lists are deduplicated before: on SQLite with OR IGNORE,
    /// so a multi-row insert needs no statement journal (migration 0009).
    pub(crate) fn insert_lookup_rows(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "INSERT OR IGNORE INTO",
            Backend::Postgres => "INSERT INTO",
        }
    }
}

impl Tx {
    /// Open a savepoint (one per batched job; not nested). On SQLite it opens with the
    /// next statement (see [`SavepointState`]).
    pub async fn savepoint(&mut self) -> StoreResult<()> {
        if self.backend() == Backend::Sqlite {
            self.sp.stale = self.sp.open_in_sql;
            self.sp.wanted = true;
        } else {
            self.savepoint_sql("SAVEPOINT custos_job").await?;
        }
        // The postings are not copied into the saved state (they can be large, and an
        // import takes a savepoint per row); a rollback to the savepoint keeps them only
        // if no creation was added to them since.
        let postings = self.cache.postings.take();
        self.saved = Some(self.cache.clone());
        if let Some(b) = &mut self.bulk {
            b.savepoint();
        }
        self.saved_events = Some(self.events.len());
        self.saved_postings = postings.as_ref().map(|p| p.creations());
        self.cache.postings = postings;
        Ok(())
    }

    pub async fn release_savepoint(&mut self) -> StoreResult<()> {
        if self.backend() == Backend::Sqlite {
            self.sp.wanted = false;
        } else {
            self.savepoint_sql("RELEASE SAVEPOINT custos_job").await?;
        }
        self.saved = None;
        if let Some(b) = &mut self.bulk {
            b.release_savepoint();
        }
        self.saved_events = None;
        Ok(())
    }

    /// Undo everything since the savepoint and drop it; the cache goes back with it.
    pub async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        if self.backend() == Backend::Sqlite {
            let ran = self.sp.wanted && self.sp.open_in_sql && !self.sp.stale;
            // Nothing to undo in the database when no statement ran under it.
            self.sp.wanted = false;
            if ran {
                self.savepoint_sql(
                    "ROLLBACK TO SAVEPOINT custos_job; RELEASE SAVEPOINT custos_job",
                )
                .await?;
                self.sp.open_in_sql = false;
            }
        } else {
            self.savepoint_sql("ROLLBACK TO SAVEPOINT custos_job")
                .await?;
        }
        let saved_postings = self.saved_postings.take();
        let postings = self
            .cache
            .postings
            .take()
            .filter(|p| saved_postings == Some(p.creations()));
        if let Some(saved) = self.saved.take() {
            self.cache = saved;
        }
        if let Some(b) = &mut self.bulk {
            b.rollback_to_savepoint();
        }
        if let Some(n) = self.saved_events.take() {
            self.events.truncate(n);
        }
        self.cache.postings = postings;
        self.release_savepoint().await
    }
}
