//! Group commit for code-issuing writes.
//!
//! Every customer creation draws from a hot counter row and appends to the audit chain,
//! so on any database those transactions run one after another, each paying a commit
//! (an fsync) while holding the locks. The batcher runs whatever creations are waiting in
//! one transaction instead, and a job that fails must roll back alone — its sequence
//! number included, keeping sequences gapless — while the others commit together.
//!
//! Jobs first run without savepoints (a savepoint costs two statements and, on SQLite,
//! a copy of every page the job changes). If one fails, the whole transaction is rolled
//! back and the batch runs again with a SAVEPOINT per job; the next batches keep the
//! savepoints for a while, so a stream of failing jobs does not make every batch run
//! twice. A lone caller is not delayed: a batch starts as soon as one job waits.
//!
//! Lock order is fixed (audit head first, then sequence rows) so batches on several
//! servers sharing one PostgreSQL never deadlock each other.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::{mpsc, oneshot, OnceCell};

use custos_store::{Db, StoreError, Tx};

use crate::customers::Lookups;
use crate::error::{AppError, AppResult};

type Output = AppResult<Box<dyn Any + Send>>;
type JobFn = Box<
    dyn for<'a> FnOnce(
            &'a mut Tx,
            &'a mut Lookups,
        ) -> Pin<Box<dyn Future<Output = Output> + Send + 'a>>
        + Send,
>;

/// A job that can run more than once (a batch is retried after a deadlock).
type JobFactory = Box<dyn Fn() -> JobFn + Send + Sync>;

struct Job {
    make: JobFactory,
    /// Match-key hashes the job's duplicate check will look up, if known beforehand.
    match_keys: Vec<i64>,
    reply: oneshot::Sender<Output>,
}

/// Most jobs in one transaction.
const MAX_BATCH: usize = 64;

#[derive(Default)]
pub(crate) struct Batcher {
    sender: OnceCell<mpsc::Sender<Job>>,
}

impl Batcher {
    /// Run `job` in a shared write transaction and return its result. `job` must do all of
    /// its writes through the given `Tx`; it may be called again if the batch is retried.
    /// The [`Lookups`] are shared by the jobs of one batch (one transaction).
    /// `match_keys` are the match-key hashes the job's duplicate check will look up, when
    /// known beforehand (else empty): a batch reads the candidates of all its jobs' keys
    /// at once.
    pub(crate) async fn run<T, F>(&self, db: &Db, match_keys: Vec<i64>, job: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: for<'a> Fn(
                &'a mut Tx,
                &'a mut Lookups,
            ) -> Pin<Box<dyn Future<Output = AppResult<T>> + Send + 'a>>
            + Send
            + Sync
            + Clone
            + 'static,
    {
        let sender = self
            .sender
            .get_or_init(|| async {
                let (tx, rx) = mpsc::channel::<Job>(1024);
                tokio::spawn(worker(db.clone(), rx));
                tx
            })
            .await;
        let make: JobFactory = Box::new(move || {
            let job = job.clone();
            Box::new(move |tx: &mut Tx, lookups: &mut Lookups| {
                Box::pin(async move {
                    job(tx, lookups)
                        .await
                        .map(|v| Box::new(v) as Box<dyn Any + Send>)
                })
            })
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job {
                make,
                match_keys,
                reply,
            })
            .await
            .map_err(|_| AppError::Internal("the write batcher stopped".into()))?;
        let out = answer
            .await
            .map_err(|_| AppError::Internal("the write batcher dropped a job".into()))??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| AppError::Internal("write batcher returned the wrong type".into()))
    }
}

async fn worker(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut careful = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        careful = run_batch(&db, batch, careful).await;
    }
}

/// Batches run with a savepoint per job after a job failed, before trying without again.
const CAREFUL_BATCHES: u32 = 16;

/// How a batch's jobs are separated inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One job alone: the transaction is its savepoint.
    Lone,
    /// No savepoints: if any job fails, the transaction is rolled back and the batch
    /// runs again in [`Mode::Savepoints`]. Cheaper when jobs rarely fail.
    Optimistic,
    /// Each job in its own savepoint, so a failing job rolls back alone.
    Savepoints,
}

/// Run `batch`; returns how many of the following batches should use savepoints.
async fn run_batch(db: &Db, batch: Vec<Job>, careful: u32) -> u32 {
    let (mut mode, mut careful) = match (batch.len(), careful) {
        (1, c) => (Mode::Lone, c),
        (_, 0) => (Mode::Optimistic, 0),
        (_, c) => (Mode::Savepoints, c - 1),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_batch(db, &batch, mode).await {
            Ok(Some(results)) => {
                if mode == Mode::Savepoints && results.iter().any(|r| r.is_err()) {
                    careful = CAREFUL_BATCHES;
                }
                for (job, r) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(r);
                }
                return careful;
            }
            Ok(None) => {
                // A job failed without savepoints: nothing was kept; run again so that
                // only the failing jobs fail.
                mode = Mode::Savepoints;
                careful = CAREFUL_BATCHES;
            }
            Err(StoreError::Busy) if attempt < 4 => {
                tracing::debug!(attempt, "write batch hit a lock conflict; retrying");
            }
            Err(e) => {
                let msg = e.to_string();
                for job in batch {
                    let _ = job
                        .reply
                        .send(Err(AppError::from(StoreError::Other(msg.clone()))));
                }
                return careful;
            }
        }
    }
}

/// One transaction for the batch; `Err` only for failures of the whole transaction,
/// `Ok(None)` when a job failed in [`Mode::Optimistic`] (all rolled back).
async fn try_batch(db: &Db, batch: &[Job], mode: Mode) -> Result<Option<Vec<Output>>, StoreError> {
    let mut tx = db.begin().await?;
    // A read-ahead that hits a lock conflict fails as `StoreError::Busy`, so the batch
    // is retried like any other.
    let keys = batch.iter().map(|j| j.match_keys.as_slice());
    let mut lookups = Lookups::for_creations(&mut tx, batch.len(), keys, None).await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        if mode == Mode::Savepoints {
            tx.savepoint().await?;
        }
        let out = (job.make)()(&mut tx, &mut lookups).await;
        match (&out, mode) {
            // A deadlock or serialisation failure poisons the whole transaction on
            // PostgreSQL: retry the batch rather than reporting it against one job.
            (Err(AppError::Conflict(v)), _) if v.code == "conflict.concurrent" => {
                return Err(StoreError::Busy)
            }
            (Ok(_), Mode::Savepoints) => tx.release_savepoint().await?,
            (Err(_), Mode::Savepoints) => tx.rollback_to_savepoint().await?,
            // Rolling back the transaction undoes exactly what the failing job did (its
            // code draw included); a lone job is then answered.
            (Err(_), Mode::Lone) => {
                tx.rollback().await?;
                return Ok(Some(vec![out]));
            }
            (Err(_), Mode::Optimistic) => {
                tx.rollback().await?;
                return Ok(None);
            }
            (Ok(_), _) => {}
        }
        results.push(out);
    }
    tx.commit().await?;
    Ok(Some(results))
}
