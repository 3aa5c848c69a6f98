//! The re-keying job: after a rotation, every value stored under another key of the ring
//! is encrypted again under the active key, and every customer's blind index and match
//! keys are computed again under it.
//!
//! The job walks the tables of [`PII_COLUMNS`] in key order, [`BATCH`] rows per
//! transaction; its cursor is in `settings` ([`REKEY_SETTING`]) and moves in the same
//! transaction as the rows, so a job stopped at any moment (even by SIGKILL) resumes
//! after the last committed batch and never re-keys a row twice. A row already under the
//! active key is skipped. Each batch takes the audit head first, like every writer of
//! match keys, and holds its rows only for that batch.
//!
//! A pass ends when every table was walked; the job finishes when no row holds a value
//! under an older key and the pass began after every server had time to learn of the new
//! key (three refresh intervals after the activation): a server that wrote under the old
//! key meanwhile is caught by the next pass. `custos serve` runs the job in the
//! background ([`App::run_pii_key_worker`]); `custos key rekey` runs it to its end.

use crate::keyring::Keyring;
use serde::{Deserialize, Serialize};

use custos_store::pii_rows::{PiiColumns, PiiRow, PII_COLUMNS};
use custos_store::{now_us, Tx};

use crate::audit::{append, record_ctx};
use crate::pii::PiiKey;
use crate::{App, AppError, AppResult, Context, Source};

/// The settings key of the job's state.
pub const REKEY_SETTING: &str = "pii_rekey";

/// Rows per transaction.
const BATCH: i64 = 500;

/// The state of the re-keying, as kept in `settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RekeyJob {
    /// The key everything moves to (the active key).
    pub target: String,
    /// When the key was activated (µs since the epoch).
    pub started_at: i64,
    /// Pass number (from 1) and when it began.
    pub pass: u32,
    pub pass_started_at: i64,
    /// Position: the table (index in the walk) and the last key done in it.
    pub table: usize,
    pub cursor: Vec<i64>,
    /// Rows written again so far.
    pub rows_rekeyed: i64,
    /// When the job finished.
    pub finished_at: Option<i64>,
}

/// What one step of the job did.
#[derive(Debug, Clone, PartialEq)]
pub enum RekeyStep {
    /// No job, or it is finished.
    Idle,
    /// A batch (or a move to the next table or pass) was committed; rows re-keyed.
    Progress(i64),
    /// The job has just finished.
    Finished(RekeyJob),
}

impl RekeyJob {
    pub(crate) fn new(target: &str) -> RekeyJob {
        let now = now_us();
        RekeyJob {
            target: target.to_string(),
            started_at: now,
            pass: 1,
            pass_started_at: now,
            table: 0,
            cursor: Vec::new(),
            rows_rekeyed: 0,
            finished_at: None,
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn parse(text: Option<String>) -> AppResult<Option<RekeyJob>> {
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| AppError::Internal(format!("{REKEY_SETTING} setting: {e}")))
        })
        .transpose()
    }

    pub(crate) async fn read(tx: &mut Tx) -> AppResult<Option<RekeyJob>> {
        RekeyJob::parse(tx.setting(REKEY_SETTING).await?)
    }

    /// The table being walked, if any is left in this pass.
    pub fn table_name(&self) -> Option<&'static str> {
        PII_COLUMNS.get(self.table).map(|t| t.table)
    }
}

/// `row` with its values under older keys encrypted again under the active key;
/// `None` when it holds none.
fn rekeyed(key: &PiiKey, row: &PiiRow) -> AppResult<Option<PiiRow>> {
    let mut changed = false;
    let mut values = Vec::with_capacity(row.values.len());
    for v in &row.values {
        match v
            .as_deref()
            .map(|s| key.rekey_text(s))
            .transpose()?
            .flatten()
        {
            Some(new) => {
                changed = true;
                values.push(Some(new));
            }
            None => values.push(v.clone()),
        }
    }
    Ok(changed.then(|| PiiRow {
        key: row.key.clone(),
        values,
    }))
}

impl Keyring<'_> {
    /// Run one step of the re-keying (one batch); see the module documentation.
    pub async fn rekey_step(&self) -> AppResult<RekeyStep> {
        if let Err(e) = self.refresh_pii_key().await {
            tracing::warn!(error = %e, "PII key refresh");
        }
        let key = self.app.config.pii_key.pinned();
        let mut tx = self.app.db.begin().await?;
        // Like every writer of match keys: no batch of creations elsewhere may be
        // checking duplicates against keys it read ahead.
        tx.lock_audit_head().await?;
        let Some(mut job) = RekeyJob::parse(tx.setting_for_update(REKEY_SETTING).await?)? else {
            tx.rollback().await?;
            return Ok(RekeyStep::Idle);
        };
        if job.finished_at.is_some() {
            tx.rollback().await?;
            return Ok(RekeyStep::Idle);
        }
        if job.target != key.key_id() {
            tx.rollback().await?;
            return Err(AppError::Internal(format!(
                "the re-keying moves to key {}, but this server's active key is {}: its key \
                 ring lacks the new key",
                job.target,
                key.key_id()
            )));
        }
        let older: Vec<String> = key.ids().into_iter().skip(1).collect();
        let Some(t) = PII_COLUMNS.get(job.table) else {
            return self.end_pass(tx, job, &older).await;
        };
        let rows = tx.pii_rows_after(t, &job.cursor, &older, BATCH).await?;
        let Some(last) = rows.last().map(|r| r.key.clone()) else {
            job.table += 1;
            job.cursor.clear();
            tx.put_setting(REKEY_SETTING, &job.to_json()).await?;
            tx.commit().await?;
            return Ok(RekeyStep::Progress(0));
        };
        let n = match t.every_row {
            true => rekey_customers(&mut tx, &key, t, &rows).await?,
            false => {
                let mut n = 0;
                for row in &rows {
                    if let Some(new) = rekeyed(&key, row)? {
                        tx.put_pii_row(t, &new).await?;
                        n += 1;
                    }
                }
                n
            }
        };
        job.cursor = last;
        job.rows_rekeyed += n;
        tx.put_setting(REKEY_SETTING, &job.to_json()).await?;
        tx.commit().await?;
        Ok(RekeyStep::Progress(n))
    }

    /// Every table walked: finish, or walk again if anything is left under an older key
    /// or a server may not have known the new key when this pass began.
    async fn end_pass(
        &self,
        mut tx: Tx,
        mut job: RekeyJob,
        older: &[String],
    ) -> AppResult<RekeyStep> {
        let mut left = 0;
        for id in older {
            for t in PII_COLUMNS {
                left += tx.count_pii_rows_under(t, id).await?;
            }
        }
        let grace = 3 * self.app.config.pii_key_refresh.as_micros() as i64;
        let now = now_us();
        if left > 0 || job.pass_started_at < job.started_at + grace {
            if left == 0 {
                // Wait out the grace period before walking again.
                tx.rollback().await?;
                let wait = (job.started_at + grace - now).clamp(0, grace) as u64;
                tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
                let mut tx = self.app.db.begin().await?;
                tx.lock_audit_head().await?;
                return self.next_pass(tx, job).await;
            }
            return self.next_pass(tx, job).await;
        }
        job.finished_at = Some(now);
        tx.put_setting(REKEY_SETTING, &job.to_json()).await?;
        let ctx = Context::new(Source::System);
        let mut r = record_ctx(
            None,
            "system",
            &ctx,
            "pii_key.rekeyed",
            "pii_key",
            &job.target,
        );
        r.after = crate::to_json(&serde_json::json!({
            "rows_rekeyed": job.rows_rekeyed,
            "passes": job.pass,
        }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        tracing::info!(
            key_id = job.target,
            rows = job.rows_rekeyed,
            "PII re-keying finished"
        );
        Ok(RekeyStep::Finished(job))
    }

    async fn next_pass(&self, mut tx: Tx, mut job: RekeyJob) -> AppResult<RekeyStep> {
        // The job may have moved on meanwhile (another server).
        let current = RekeyJob::parse(tx.setting_for_update(REKEY_SETTING).await?)?;
        if current
            .as_ref()
            .is_some_and(|c| c.pass != job.pass || c.target != job.target)
        {
            tx.rollback().await?;
            return Ok(RekeyStep::Progress(0));
        }
        job.pass += 1;
        job.pass_started_at = now_us();
        job.table = 0;
        job.cursor.clear();
        tx.put_setting(REKEY_SETTING, &job.to_json()).await?;
        tx.commit().await?;
        Ok(RekeyStep::Progress(0))
    }

    /// Run the job until it is finished (or there is none); `progress` hears of each
    /// step. Returns the finished job.
    pub async fn run_rekey(
        &self,
        mut progress: impl FnMut(&RekeyStep),
    ) -> AppResult<Option<RekeyJob>> {
        loop {
            let step = self.rekey_step().await?;
            progress(&step);
            match step {
                RekeyStep::Idle => {
                    let mut tx = self.app.db.begin_read().await?;
                    let job = RekeyJob::read(&mut tx).await?;
                    tx.rollback().await?;
                    return Ok(job);
                }
                RekeyStep::Finished(job) => return Ok(Some(job)),
                RekeyStep::Progress(_) => {}
            }
        }
    }
}

impl App {
    /// `custos serve`'s background worker: learns of a rotation every
    /// [`crate::AppConfig::pii_key_refresh`] and moves the re-keying on while there is one.
    pub async fn run_pii_key_worker(self) {
        loop {
            match self.keyring().rekey_step().await {
                Ok(RekeyStep::Progress(_)) => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "PII re-keying"),
            }
            tokio::time::sleep(self.config.pii_key_refresh).await;
        }
    }
}

/// Re-key a batch of customers: values under older keys and the index rows (blind index,
/// match keys). A customer whose values are all under the active key is skipped; one
/// without any encrypted value has its index rows written again (nothing tells which key
/// computed them). Returns how many were written.
async fn rekey_customers(
    tx: &mut Tx,
    key: &PiiKey,
    t: &PiiColumns,
    rows: &[PiiRow],
) -> AppResult<i64> {
    let ids: Vec<i64> = rows.iter().map(|r| r.key[0]).collect();
    let mut n = 0;
    for mut row in tx.customers_by_ids(&ids).await? {
        let new_data = key.rekey_text(&row.data)?;
        if new_data.is_none() && row.data.contains("pii1:") {
            continue;
        }
        if let Some(data) = new_data {
            tx.put_pii_row(
                t,
                &PiiRow {
                    key: vec![row.id],
                    values: vec![Some(data.clone())],
                },
            )
            .await?;
            row.data = data;
        }
        if let Some(ix) = crate::customers::stored_indexes(&row, key)? {
            tx.replace_customer_indexes(row.id, &ix, false).await?;
        }
        n += 1;
    }
    Ok(n)
}
