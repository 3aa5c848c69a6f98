//! Opening a database, choosing the backend from the URL, and transactions.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Postgres, Sqlite, Transaction};

use crate::audit_chain::{AuditKeySlot, AuditKeys};
use crate::error::{StoreError, StoreResult};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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

/// A database handle. Cheap to clone.
///
/// SQLite allows one writer at a time, so writes go through a one-connection pool and
/// begin with `BEGIN IMMEDIATE`: concurrent requests queue in the pool instead of failing
/// with "database is locked", and other processes wait on `busy_timeout`. Reads use a
/// separate pool and never block writers (WAL).
#[derive(Clone)]
pub enum Db {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        checkpointer: Arc<Checkpointer>,
        path: PathBuf,
        /// Customers from which bulk transactions write lookup rows aside (see
        /// [`Db::write_lookup_rows_aside_from`]).
        aside_from: Arc<AtomicI64>,
        audit_keys: AuditKeySlot,
    },
    Postgres {
        pool: PgPool,
        schema: Option<String>,
        audit_keys: AuditKeySlot,
    },
}

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
    /// SQLite write transactions: the background checkpointer.
    checkpointer: Option<Arc<Checkpointer>>,
    /// Set by [`Tx::set_bulk`].
    bulk: bool,
    /// Bulk writes go aside from this many customers (SQLite writers; `i64::MAX` else).
    aside_from: i64,
    /// Lookup rows were written aside (see `lookups`): the commit considers a move.
    wrote_aside: bool,
    /// Lookup rows of new customers not written yet (SQLite; see `lookups`).
    pub(crate) pending: crate::lookups::PendingLookups,
    /// How far the queue had got when the open savepoint was taken.
    saved_pending: Option<crate::lookups::Marks>,
    /// A write sent to SQLite and not yet answered; it holds the connection (see
    /// [`Tx::send_behind`]).
    inflight: Option<Inflight>,
    /// Set when a write sent ahead failed: the transaction can then only be rolled back.
    poisoned: Option<String>,
    /// SQLite: where the savepoint stands (opened and released lazily).
    sp: SavepointState,
    /// The audit chain's keys, as the database handle had them when this began.
    pub(crate) audit_keys: Option<Arc<AuditKeys>>,
}

/// On SQLite a savepoint is opened only when the next statement runs, as part of it, and
/// released only when the next one is opened (or at commit, which releases everything).
/// An import row that is written whole then costs no round trip of its own for its
/// savepoint, and its write can be sent ahead (see [`Tx::send_behind`]) past the
/// release. A rollback to a savepoint that no statement ran under needs no statement
/// either.
#[derive(Clone, Copy, Default, Debug)]
struct SavepointState {
    /// The caller's savepoint is open: taken and not yet released or rolled back to.
    wanted: bool,
    /// A `SAVEPOINT custos_job` is open on the connection.
    open_in_sql: bool,
    /// The one open on the connection is an earlier savepoint, released since.
    stale: bool,
}

/// What must run before the next statement so that it runs under the caller's savepoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SavepointPrefix {
    None,
    /// `SAVEPOINT custos_job;`
    Open,
    /// `RELEASE SAVEPOINT custos_job; SAVEPOINT custos_job;`
    Renew,
}

impl SavepointPrefix {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            SavepointPrefix::None => "",
            SavepointPrefix::Open => "SAVEPOINT custos_job; ",
            SavepointPrefix::Renew => "RELEASE SAVEPOINT custos_job; SAVEPOINT custos_job; ",
        }
    }
}

impl SavepointState {
    /// The prefix the next statement needs; the state as if it ran.
    fn take_prefix(&mut self) -> SavepointPrefix {
        if !self.wanted {
            // A released savepoint may stay open on the connection: nothing rolls back
            // to it, and the next one (or the commit) releases it.
            return SavepointPrefix::None;
        }
        let prefix = if !self.open_in_sql {
            SavepointPrefix::Open
        } else if self.stale {
            SavepointPrefix::Renew
        } else {
            SavepointPrefix::None
        };
        self.open_in_sql = true;
        self.stale = false;
        prefix
    }
}

/// A write in flight: gives the connection back with the write's outcome.
type Inflight = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = (Transaction<'static, Sqlite>, Result<(), sqlx::Error>)>
            + Send,
    >,
>;

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
    pool: SqlitePool,
    running: AtomicBool,
    /// The writer's mark is raised (set by a bulk commit, cleared by the next begin).
    raised: AtomicBool,
}

impl Checkpointer {
    /// The writer's own checkpoint mark, in pages: SQLite's default, and during a bulk
    /// commit.
    const MARK: &str = "PRAGMA wal_autocheckpoint = 1000";
    const BULK_MARK: &str = "PRAGMA wal_autocheckpoint = 16384";

    fn new(pool: SqlitePool) -> Checkpointer {
        Checkpointer {
            pool,
            running: AtomicBool::new(false),
            raised: AtomicBool::new(false),
        }
    }

    /// A bulk transaction committed: start a checkpoint in the background unless one is
    /// running.
    fn committed(self: &Arc<Self>) {
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

/// Hot rows a write transaction holds, and what it learnt about the code registry. Valid
/// because nobody else can change them until the transaction ends: on SQLite the writer
/// is alone (`BEGIN IMMEDIATE`); on PostgreSQL both rows are read `FOR UPDATE` (or
/// updated) before they are cached, and the lock lasts until the end of the transaction —
/// except a lock taken inside a savepoint that is rolled back, which is why a rollback to
/// a savepoint restores the cache as it was when the savepoint was taken.
#[derive(Clone, Default)]
pub(crate) struct WriteCache {
    /// The chain's head (last sequence number and hash) as the transaction left it.
    pub(crate) audit_head: Option<(i64, String)>,
    /// Next number per (rule key, scope); `dirty` when drawn here and not yet written.
    pub(crate) sequences: HashMap<(String, String), SequenceDraw>,
    /// Codes a look-ahead found absent from the registry and nobody has used since. Every
    /// writer of a code holds the audit head, so none can appear meanwhile; each is
    /// answered once (it is taken from the set when asked about or inserted).
    pub(crate) free_codes: HashSet<String>,
    /// Match-key postings read ahead for a batch of creations (see
    /// [`Tx::prefetch_match_candidates`]). Never kept across a savepoint: a rollback to
    /// one drops them, as does any change to a customer other than a creation.
    pub(crate) postings: Option<crate::duplicates::MatchPostings>,
    /// SQLite: the id the next customer inserted gets (its rowid is the largest plus
    /// one, and this transaction is the only writer). Forgotten by any other insert of
    /// a customer.
    pub(crate) next_customer_id: Option<i64>,
}

#[derive(Clone, Copy)]
pub(crate) struct SequenceDraw {
    pub(crate) next: i64,
    pub(crate) dirty: bool,
}

/// Run one query expression against whichever backend a transaction is on. The body is
/// compiled once per backend, so the same SQL serves both. A write still in flight is
/// waited for first (queries run in the order they were asked).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx.settle().await {
            Err(e) => Err(e),
            Ok(()) => match &mut $tx.conn {
                $crate::TxConn::Sqlite(t) => {
                    let $c = &mut **t;
                    $body
                }
                $crate::TxConn::Pg(t) => {
                    let $c = &mut **t;
                    $body
                }
                $crate::TxConn::Lent => Err($crate::TxConn::lent()),
            },
        }
    };
}

pub const SQLITE_FILE: &str = "custos.db";

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
        PG_MIGRATIONS.run(&pool).await?;
        Ok(Db::Postgres {
            pool,
            schema: opts.pg_schema.clone(),
            audit_keys: AuditKeySlot::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Set the keys of the audit chain: every transaction begun from now on writes and
    /// verifies with them (see `audit_chain`). Without keys no entry can be written.
    pub fn set_audit_keys(&self, keys: AuditKeys) {
        let slot = self.audit_key_slot();
        let mut held = slot.write().unwrap_or_else(|p| p.into_inner());
        *held = Some(Arc::new(keys));
    }

    fn audit_key_slot(&self) -> &AuditKeySlot {
        match self {
            Db::Sqlite { audit_keys, .. } | Db::Postgres { audit_keys, .. } => audit_keys,
        }
    }

    fn current_audit_keys(&self) -> Option<Arc<AuditKeys>> {
        let slot = self.audit_key_slot();
        let held = slot.read().unwrap_or_else(|p| p.into_inner());
        held.clone()
    }

    /// The SQLite file, when on SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Db::Sqlite { path, .. } => Some(path),
            Db::Postgres { .. } => None,
        }
    }

    /// Begin a read-write transaction.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let mut tx = self.begin_write().await?;
        tx.audit_keys = self.current_audit_keys();
        Ok(tx)
    }

    async fn begin_write(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite {
                writer,
                checkpointer,
                aside_from,
                ..
            } => {
                let mut t = writer.begin_with("BEGIN IMMEDIATE").await?;
                if checkpointer.raised.swap(false, Ordering::AcqRel) {
                    sqlx::query(Checkpointer::MARK).execute(&mut *t).await?;
                }
                let mut tx = Tx::new(TxConn::Sqlite(t));
                tx.checkpointer = Some(checkpointer.clone());
                tx.aside_from = aside_from.load(Ordering::Relaxed);
                tx
            }
            Db::Postgres { pool, .. } => Tx::new(TxConn::Pg(pool.begin().await?)),
        })
    }

    /// SQLite: from how many customers (by the next id) bulk transactions write the new
    /// lookup rows aside (default [`crate::lookups::ASIDE_FROM`]; see the `lookups`
    /// module). Tests set 0 to take that path on a small database. No effect on
    /// PostgreSQL.
    pub fn write_lookup_rows_aside_from(&self, customers: i64) {
        if let Db::Sqlite { aside_from, .. } = self {
            aside_from.store(customers, Ordering::Relaxed);
        }
    }

    /// Begin a read-only transaction (a consistent snapshot; on SQLite it does not wait
    /// for the writer).
    pub async fn begin_read(&self) -> StoreResult<Tx> {
        let mut tx = match self {
            Db::Sqlite { reader, .. } => Tx::new(TxConn::Sqlite(reader.begin().await?)),
            Db::Postgres { pool, .. } => Tx::new(TxConn::Pg(pool.begin().await?)),
        };
        tx.audit_keys = self.current_audit_keys();
        Ok(tx)
    }

    /// Is the database reachable and answering?
    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite { reader, .. } => {
                sqlx::query("SELECT 1").execute(reader).await?;
            }
            Db::Postgres { pool, .. } => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Write a consistent copy of the SQLite database to `dest` while it stays online
    /// (`VACUUM INTO` reads one snapshot). Not available on PostgreSQL (use pg_dump).
    pub async fn sqlite_snapshot(&self, dest: &Path) -> StoreResult<()> {
        match self {
            Db::Sqlite { reader, .. } => {
                let dest = dest.to_str().ok_or_else(|| {
                    StoreError::Other("backup path is not valid UTF-8".to_string())
                })?;
                sqlx::query("VACUUM INTO $1")
                    .bind(dest)
                    .execute(reader)
                    .await?;
                Ok(())
            }
            Db::Postgres { .. } => Err(StoreError::Other(
                "online snapshots are for SQLite; use pg_dump for PostgreSQL".to_string(),
            )),
        }
    }

    /// Run raw SQL outside any repository: for tests (tampering) and maintenance only.
    pub async fn execute_raw(&self, sql: &str) -> StoreResult<u64> {
        Ok(match self {
            Db::Sqlite { writer, .. } => sqlx::raw_sql(sql).execute(writer).await?.rows_affected(),
            Db::Postgres { pool, .. } => sqlx::raw_sql(sql).execute(pool).await?.rows_affected(),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite {
                writer,
                reader,
                checkpointer,
                ..
            } => {
                writer.close().await;
                reader.close().await;
                checkpointer.pool.close().await;
            }
            Db::Postgres { pool, .. } => pool.close().await,
        }
    }

    /// Bring the planner's knowledge up to date after many customers were written at once
    /// (an import, demo data, a benchmark load). On PostgreSQL: `VACUUM (ANALYZE)` of the
    /// customer table, which marks its pages all-visible so that list pages are ranked
    /// from an index alone, and `ANALYZE` of the lookup tables. Autovacuum does the same
    /// in time where it is on; this makes it immediate, and it holds where autovacuum is
    /// off. Neither blocks readers or writers. SQLite needs nothing: its plans do not
    /// depend on statistics custos would gather, and its indexes always hold the row id.
    /// `customers` is how many were written; below 10,000 this does nothing (autovacuum's
    /// own pace is fine for a small import). The data is committed already, so a failure
    /// here is logged, not returned: the next autovacuum makes up for it.
    pub async fn after_bulk_write(&self, customers: u64) {
        let Db::Postgres { pool, .. } = self else {
            return;
        };
        if customers < 10_000 {
            return;
        }
        for sql in [
            "VACUUM (ANALYZE) customers",
            "ANALYZE code_registry, customer_blind_index, customer_name_grams, \
             customer_match_keys, customer_tags, customer_field_values",
        ] {
            if let Err(e) = sqlx::query(sql).execute(pool).await {
                tracing::warn!("after a bulk write, {sql}: {e}");
            }
        }
    }

    /// The PostgreSQL schema this handle works in, when it is not the default.
    pub fn pg_schema(&self) -> Option<&str> {
        match self {
            Db::Postgres {
                schema: Some(s), ..
            } => Some(s),
            _ => None,
        }
    }

    /// Drop the test schema (PostgreSQL tests clean up after themselves).
    pub async fn drop_schema(&self) -> StoreResult<()> {
        if let Db::Postgres {
            pool,
            schema: Some(s),
            ..
        } = self
        {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

impl Tx {
    fn new(conn: TxConn) -> Tx {
        Tx {
            conn,
            cache: WriteCache::default(),
            saved: None,
            saved_postings: None,
            checkpointer: None,
            bulk: false,
            aside_from: i64::MAX,
            wrote_aside: false,
            pending: Default::default(),
            saved_pending: None,
            inflight: None,
            poisoned: None,
            sp: SavepointState::default(),
            audit_keys: None,
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

    /// Write the queued lookup rows of new customers (match keys, name bigrams, blind
    /// index), each table's sorted by key. Every statement that reads or changes those
    /// tables in a write transaction calls this first; commit does too.
    pub(crate) async fn flush_lookups(&mut self) -> StoreResult<()> {
        if self.pending.is_written() {
            return Ok(());
        }
        self.release_stale_savepoint().await?;
        // `aside_from` is only below `i64::MAX` on SQLite's writer.
        let aside = self.bulk
            && self
                .cache
                .next_customer_id
                .is_some_and(|next| next >= self.aside_from);
        self.wrote_aside |= aside;
        for (sql, rows) in self.pending.take_unwritten(aside) {
            on_tx!(self, |c| sqlx::query(&sql)
                .bind(rows)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// At the commit of a transaction that wrote lookup rows aside: move those (and any
    /// left by earlier ones) into the main tables if they are now enough for it (see
    /// [`crate::lookups`]).
    async fn move_aside_rows_if_due(&mut self) -> StoreResult<()> {
        if !self.wrote_aside {
            return Ok(());
        }
        // The customers aside, estimated by the range of their ids (dense within a bulk
        // job; an overestimate only moves them sooner), and all customers.
        let sql = format!(
            "SELECT COALESCE(hi - lo + 1, 0), (SELECT COALESCE(MAX(id), 0) FROM customers) \
             FROM ({})",
            crate::lookups::ASIDE_ID_RANGE
        );
        let (aside, total): (i64, i64) = on_tx!(self, |c| sqlx::query_as(&sql).fetch_one(c).await)?;
        let batch = self.pending.customers() as i64;
        if !crate::lookups::due_for_moving(aside, total, batch) {
            return Ok(());
        }
        // Not under the savepoint of the last import row: its journal would copy every
        // page the move changes.
        self.release_stale_savepoint().await?;
        let moves = crate::lookups::WRITTEN_ASIDE.map(|t| t.move_aside_rows());
        for sql in moves
            .iter()
            .flatten()
            .map(String::as_str)
            .chain([crate::lookups::FORGET_ASIDE_ROWS])
        {
            on_tx!(self, |c| sqlx::query(sql)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
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
        let checkpointer = self.checkpointer.take().filter(|_| self.bulk);
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
        self.bulk = true;
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

impl Db {
    /// Benchmark baseline: `callers` tasks each run `UPDATE … RETURNING` on one counter row
    /// and commit, `per_caller` times, with the same pools and durability settings custos
    /// uses. Returns the number of commits.
    pub async fn raw_counter_baseline(
        &self,
        callers: usize,
        per_caller: usize,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        crate::on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('bench_counter', '0') \
             ON CONFLICT (key) DO UPDATE SET value = '0'"
        )
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        let mut handles = Vec::new();
        for _ in 0..callers {
            let db = self.clone();
            handles.push(tokio::spawn(async move {
                for _ in 0..per_caller {
                    let mut tx = db.begin().await?;
                    let _v: String = crate::on_tx!(&mut tx, |c| sqlx::query_scalar(
                        "UPDATE settings SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) \
                         WHERE key = 'bench_counter' RETURNING value"
                    )
                    .fetch_one(c)
                    .await)?;
                    tx.commit().await?;
                }
                Ok::<(), StoreError>(())
            }));
        }
        for h in handles {
            h.await.map_err(|e| StoreError::Other(e.to_string()))??;
        }
        Ok((callers * per_caller) as u64)
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
        self.saved_pending = Some(self.pending.marks());
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
        self.saved_pending = None;
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
        if let Some(marks) = self.saved_pending.take() {
            self.pending.restore(marks);
        }
        self.cache.postings = postings;
        self.release_savepoint().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pages of a bulk commit reach the database file without the writer
    /// checkpointing: about 100 pages stay below the writer's own mark, so only the
    /// background checkpointer can have copied them. The next transaction lowers the
    /// writer's mark again. Closing right after a commit does not hang.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bulk_commits_are_checkpointed_in_the_background(
    ) -> Result<(), Box<dyn std::error::Error>> {
        async fn mark(tx: &mut Tx) -> StoreResult<i64> {
            let TxConn::Sqlite(t) = &mut tx.conn else {
                return Err(StoreError::Other("not SQLite".into()));
            };
            Ok(sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut **t)
                .await?)
        }
        let dir = tempfile::tempdir()?;
        let db = Db::open(&DbOptions::sqlite(dir.path())).await?;
        let file = dir.path().join(SQLITE_FILE);
        let before = std::fs::metadata(&file)?.len();
        let mut tx = db.begin().await?;
        tx.set_bulk();
        on_tx!(tx, |c| sqlx::raw_sql(
            "CREATE TABLE filler (v TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
             INSERT INTO filler SELECT hex(randomblob(1000)) FROM n;"
        )
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        assert_eq!(mark(&mut tx).await?, 1000);
        tx.commit().await?;
        let mut grown = false;
        for _ in 0..100 {
            if std::fs::metadata(&file)?.len() > before + 300_000 {
                grown = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            grown,
            "the database file did not receive the committed pages"
        );
        let mut tx = db.begin().await?;
        assert_eq!(
            mark(&mut tx).await?,
            1000,
            "the writer's mark stayed raised"
        );
        on_tx!(tx, |c| sqlx::query("INSERT INTO filler VALUES ('x')")
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        tokio::time::timeout(Duration::from_secs(10), db.close()).await?;
        Ok(())
    }

    /// A SQLite database in `dir` made by the migrations before `before`, holding what
    /// `seed` wrote then, opened as a database of today (so migrated the rest of the way).
    async fn migrated_after(
        dir: &Path,
        before: &str,
        seed: &[&str],
    ) -> Result<Db, Box<dyn std::error::Error>> {
        let old = dir.join("migrations");
        std::fs::create_dir(&old)?;
        let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for entry in std::fs::read_dir(&all)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.as_bytes().first().is_some_and(u8::is_ascii_digit) && name < before {
                std::fs::copy(&path, old.join(name))?;
            }
        }
        let file = dir.join(SQLITE_FILE);
        let opts = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        sqlx::migrate::Migrator::new(old.as_path())
            .await?
            .run(&pool)
            .await?;
        for sql in seed {
            sqlx::query(sql).execute(&pool).await?;
        }
        pool.close().await;
        Ok(Db::open(&DbOptions {
            database_url: Some(format!("sqlite:{}", file.display())),
            ..DbOptions::sqlite(dir)
        })
        .await?)
    }

    /// Names that differ only in case, possible before migration 0014, cannot share one
    /// case-insensitive key: the oldest keeps its name, the newer become NAME-ID, and the
    /// database opens.
    #[tokio::test]
    async fn case_duplicate_usernames_are_renamed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let seed = [
            "INSERT INTO users (id, username, display_name, password_hash, created_at, \
             updated_at) VALUES (1, 'admin', 'a', 'h', 1, 1), (5, 'Admin', 'b', 'h', 1, 1), \
             (9, 'ADMIN', 'c', 'h', 1, 1), (10, 'Lucy', 'd', 'h', 1, 1)",
        ];
        let db = migrated_after(dir.path(), "0014", &seed).await?;
        let mut tx = db.begin().await?;
        let mut names = Vec::new();
        for id in [1, 5, 9, 10] {
            let u = tx.user(id).await?.ok_or("user missing")?;
            names.push(u.username);
        }
        assert_eq!(names, ["admin", "Admin-5", "ADMIN-9", "Lucy"]);
        // Lookups ignore case; the renamed accounts are reachable by their new names.
        assert_eq!(tx.user_by_name("ADMIN").await?.map(|u| u.id), Some(1));
        assert_eq!(tx.user_by_name("admin-5").await?.map(|u| u.id), Some(5));
        assert_eq!(tx.user_by_name("lucy").await?.map(|u| u.id), Some(10));
        tx.rollback().await?;
        Ok(())
    }

    /// A database made before migration 0009 keeps every lookup row when the lookup
    /// tables are rebuilt without rowids and without the foreign key.
    #[tokio::test]
    async fn lookup_tables_survive_the_rebuild() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let seed = [
            "INSERT INTO customers (id, code, customer_type, name, name_key, status, data, \
             created_at, updated_at) VALUES (7, 'C0007', 'enterprise', '华为', '华为', \
             'active', '{}', 1, 1)",
            "INSERT INTO customer_name_grams (gram, customer_id) VALUES ('华为', 7)",
            "INSERT INTO customer_match_keys (key_hash, customer_id) VALUES (-42, 7), (42, 7)",
            "INSERT INTO customer_blind_index (customer_id, kind, hash) \
             VALUES (7, 'mobile', 'h1'), (7, 'email', 'h2')",
            "INSERT INTO customer_tags (customer_id, tag) VALUES (7, 'vip')",
            "INSERT INTO customer_field_values (customer_id, key, value) VALUES (7, 'k', 'v')",
        ];
        let db = migrated_after(dir.path(), "0009", &seed).await?;
        let mut tx = db.begin().await?;
        let TxConn::Sqlite(c) = &mut tx.conn else {
            return Err("expected SQLite".into());
        };
        for (table, rows) in [
            ("customer_name_grams", 1),
            ("customer_match_keys", 2),
            ("customer_blind_index", 2),
            ("customer_tags", 1),
            ("customer_field_values", 1),
        ] {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE customer_id = 7"
            ))
            .fetch_one(&mut **c)
            .await?;
            assert_eq!(n, rows, "{table}");
            let ddl: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
                .bind(table)
                .fetch_one(&mut **c)
                .await?;
            assert!(ddl.contains("WITHOUT ROWID"), "{table}: {ddl}");
            assert!(!ddl.contains("REFERENCES"), "{table}: {ddl}");
        }
        let stamp: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers INDEXED BY customers_stamp WHERE id = 7",
        )
        .fetch_one(&mut **c)
        .await?;
        assert_eq!(stamp, 1);
        tx.rollback().await?;
        Ok(())
    }

    /// PostgreSQL migration 0009 drops the foreign keys of the lookup tables (as SQLite's
    /// 0009 did) and keeps the others that point at customers.
    #[tokio::test]
    async fn postgres_lookup_tables_have_no_foreign_keys() -> Result<(), Box<dyn std::error::Error>>
    {
        let Some(t) = crate::testing::TestDb::new(Backend::Postgres).await? else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return Ok(());
        };
        let mut tx = t.db.begin().await?;
        let TxConn::Pg(c) = &mut tx.conn else {
            return Err("expected PostgreSQL".into());
        };
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT t.relname::text, COUNT(c.oid) FROM pg_class t \
             LEFT JOIN pg_constraint c ON c.conrelid = t.oid AND c.contype = 'f' \
             WHERE t.relnamespace = current_schema()::regnamespace AND t.relkind = 'r' \
             AND t.relname IN ('customer_name_grams', 'customer_match_keys', \
             'customer_blind_index', 'customer_tags', 'customer_field_values', \
             'customer_history', 'customer_xrefs') GROUP BY t.relname ORDER BY 1",
        )
        .fetch_all(&mut **c)
        .await?;
        tx.rollback().await?;
        t.cleanup().await;
        assert_eq!(rows.len(), 7, "{rows:?}");
        for (table, fks) in rows {
            let kept = table == "customer_history" || table == "customer_xrefs";
            assert_eq!(fks > 0, kept, "{table}: {fks} foreign keys");
        }
        Ok(())
    }
    /// After a bulk write of 10,000 or more customers, PostgreSQL's customer table is
    /// vacuumed and analysed (a smaller write leaves that to autovacuum), and its list
    /// index carries `id`, so a list page can be ranked from the index alone. Whether
    /// vacuum may mark the new rows all-visible depends on transactions of other tests
    /// still running, so that is not asserted here; `custos bench lookup` shows it.
    #[tokio::test]
    async fn postgres_tables_are_tidied_after_a_bulk_write(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let Some(t) = crate::testing::TestDb::new(Backend::Postgres).await? else {
            eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
            return Ok(());
        };
        let Db::Postgres { pool, .. } = &t.db else {
            return Err("expected PostgreSQL".into());
        };
        sqlx::query(
            "INSERT INTO customers (code, customer_type, name, name_key, status, region_code, \
             level, data, created_at, updated_at) \
             SELECT 'C' || g, 'enterprise', '客户' || g, '客户' || g, 'active', \
             (ARRAY['110105', '310104', '440305', '510104'])[g % 4 + 1], \
             (ARRAY['A', 'B', 'C'])[g % 3 + 1], '{}', 0, 0 FROM generate_series(1, 2000) AS g",
        )
        .execute(pool)
        .await?;
        let state = || async {
            sqlx::query_scalar::<_, f32>(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass('customers')",
            )
            .fetch_one(pool)
            .await
        };
        t.db.after_bulk_write(9_999).await;
        let before = state().await?;
        t.db.after_bulk_write(10_000).await;
        let after = state().await?;
        let index: String = sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexname = 'customers_type_status_region_level'",
        )
        .fetch_one(pool)
        .await?;
        t.cleanup().await;
        assert_eq!(before, -1.0, "small writes are left alone");
        assert_eq!(after, 2000.0, "vacuumed and analysed");
        assert!(index.ends_with("INCLUDE (id)"), "{index}");
        Ok(())
    }

    /// Rows a database made before migration 0012 holds aside get their record, and a
    /// change of the customer then deletes them from the companions by key (no index on
    /// the customer id is left there), leaving another customer's rows alone.
    #[tokio::test]
    async fn rows_aside_before_their_records_can_still_be_replaced(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let seed = [
            "INSERT INTO customers (id, code, customer_type, name, name_key, status, data, \
             created_at, updated_at) VALUES (7, 'C0007', 'enterprise', '华为', '华为', \
             'active', '{}', 1, 1), (8, 'C0008', 'enterprise', '中兴', '中兴', 'active', \
             '{}', 1, 1)",
            "INSERT INTO customer_name_grams_recent (gram, customer_id) \
             VALUES ('华为', 7), ('中兴', 8)",
            "INSERT INTO customer_match_keys_recent (key_hash, customer_id) \
             VALUES (-42, 7), (42, 7), (42, 8)",
            "INSERT INTO customer_blind_index_recent (customer_id, kind, hash) \
             VALUES (7, 'mobile', 'h1'), (7, 'email', 'h2'), (8, 'mobile', 'h1')",
        ];
        let db = migrated_after(dir.path(), "0012", &seed).await?;
        let mut tx = db.begin().await?;
        let indexes = crate::customer_master::CustomerIndexes {
            match_keys: vec![5],
            grams: vec!["华技".into()],
            blind: vec![("mobile".into(), "h9".into())],
            ..Default::default()
        };
        tx.replace_customer_indexes(7, &indexes, false).await?;
        let TxConn::Sqlite(c) = &mut tx.conn else {
            return Err("expected SQLite".into());
        };
        let left: Vec<(String, i64)> = sqlx::query_as(
            "SELECT 'm' || key_hash, customer_id FROM customer_match_keys_recent \
             UNION ALL SELECT 'g' || gram, customer_id FROM customer_name_grams_recent \
             UNION ALL SELECT 'b' || kind || hash, customer_id FROM customer_blind_index_recent \
             UNION ALL SELECT 'M' || key_hash, customer_id FROM customer_match_keys \
             UNION ALL SELECT 'G' || gram, customer_id FROM customer_name_grams \
             UNION ALL SELECT 'B' || kind || hash, customer_id FROM customer_blind_index \
             ORDER BY 1, 2",
        )
        .fetch_all(&mut **c)
        .await?;
        let want: Vec<(String, i64)> = [
            ("Bmobileh9", 7),
            ("G华技", 7),
            ("M5", 7),
            ("bmobileh1", 8),
            ("g中兴", 8),
            ("m42", 8),
        ]
        .map(|(k, id)| (k.to_string(), id))
        .into();
        assert_eq!(left, want);
        let indexed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE '%_recent'",
        )
        .fetch_one(&mut **c)
        .await?;
        assert_eq!(indexed, 0, "companions keep an index besides their keys");
        tx.rollback().await?;
        Ok(())
    }
}
