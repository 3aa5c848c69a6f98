//! The daily job: every customer with a stage row is evaluated on the given day (time
//! alone makes customers dormant, lost or old), customers with records but no row yet get
//! one, and the day's reminders are made. Chunked by customer id, one transaction per
//! chunk, so memory stays bounded whatever the number of customers; a chunk's changes and
//! its audit entry commit together.
//!
//! The server runs it once a day at `[lifecycle] daily_hour` in the business time zone;
//! the settings row `lifecycle_daily` (the last day run, claimed under a row lock) keeps
//! several servers or a restart from running one day twice. `custos lifecycle run` runs
//! it for any day.

use crate::lifecycle::Lifecycle;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, Timelike};
use serde::Serialize;
use serde_json::json;

use custos_store::Tx;

use super::settle::{keep_transition, next_row, row_facts, Cause};
use crate::audit::{append, record_ctx};
use crate::error::AppResult;
use crate::{App, Context, Source};

/// Customers per transaction.
const CHUNK: i64 = 1000;

/// The settings key holding the last day the server ran the job.
const LAST_RUN: &str = "lifecycle_daily";

/// What one run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DailyRun {
    /// The day evaluated (`YYYY-MM-DD`).
    pub on: String,
    /// Customers evaluated.
    pub evaluated: u64,
    /// Customers whose stage changed, by the stage entered.
    pub entered: BTreeMap<String, u64>,
    /// Reminders made (each item, user and day once).
    pub reminders: u64,
    pub millis: u128,
}

/// Run the daily job of `app` for `on` (the CLI and tests name the day).
pub async fn run_daily_at(app: &App, on: NaiveDate) -> AppResult<DailyRun> {
    app.lifecycle().run_lifecycle_day(on).await
}

impl Lifecycle<'_> {
    /// Evaluate every customer's stage on `on` and make that day's reminders.
    pub async fn run_lifecycle_day(&self, on: NaiveDate) -> AppResult<DailyRun> {
        let started = std::time::Instant::now();
        let mut run = DailyRun {
            on: on.to_string(),
            ..Default::default()
        };
        let mut after = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
            tx.lock_audit_head().await?;
            let rows = tx.lifecycle_chunk(after, CHUNK).await?;
            let Some(last) = rows.last().map(|r| r.customer_id) else {
                tx.rollback().await?;
                break;
            };
            let mut entered = BTreeMap::new();
            for prev in &rows {
                let facts = row_facts(prev);
                let (row, t) = next_row(
                    Some(prev),
                    prev.customer_id,
                    &facts,
                    prev.first_order_on.clone(),
                    &self.app.config.lifecycle.rules,
                    on,
                    Cause::of("daily"),
                );
                if let Some(t) = t {
                    tx.put_lifecycle(&row).await?;
                    keep_transition(&mut tx, &t).await?;
                    *entered.entry(t.to_stage).or_insert(0u64) += 1;
                }
            }
            run.evaluated += rows.len() as u64;
            finish_chunk(&mut tx, on, &mut run, entered).await?;
            tx.commit().await?;
            after = last;
        }
        self.settle_unkept(on, &mut run).await?;
        run.reminders = self.make_reminders(on).await?;
        run.millis = started.elapsed().as_millis();
        Ok(run)
    }

    /// Customers with records but no stage row (records from before the life cycle was
    /// kept) get one.
    async fn settle_unkept(&self, on: NaiveDate, run: &mut DailyRun) -> AppResult<()> {
        let mut after = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
            tx.lock_audit_head().await?;
            let ids = tx.customers_without_lifecycle(after, CHUNK).await?;
            let Some(last) = ids.last().copied() else {
                tx.rollback().await?;
                return Ok(());
            };
            let mut entered = BTreeMap::new();
            for id in &ids {
                if let Some(t) = self
                    .settle_lifecycle_on(&mut tx, *id, Cause::of("daily"), on)
                    .await?
                {
                    *entered.entry(t.to_stage).or_insert(0u64) += 1;
                }
            }
            run.evaluated += ids.len() as u64;
            finish_chunk(&mut tx, on, run, entered).await?;
            tx.commit().await?;
            after = last;
        }
    }
}

impl App {
    /// The server's loop: once a day, at the configured local hour or later, run the job
    /// for that day unless a server ran it already.
    pub async fn run_lifecycle_worker(self, every: Duration) {
        loop {
            match self.lifecycle().claim_daily_run().await {
                Ok(Some(on)) => {
                    match self.lifecycle().run_lifecycle_day(on).await {
                        Ok(r) => tracing::info!(
                            on = %r.on, evaluated = r.evaluated, entered = ?r.entered,
                            reminders = r.reminders, millis = r.millis as u64,
                            "daily life-cycle job"
                        ),
                        Err(e) => tracing::error!(error = %e, "daily life-cycle job"),
                    }
                    // Event retention rides on the same once-a-day claim.
                    match self.events().prune_events().await {
                        Ok(n) => tracing::info!(deleted = n, "event log retention"),
                        Err(e) => tracing::error!(error = %e, "event log retention"),
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "daily life-cycle job"),
            }
            tokio::time::sleep(every).await;
        }
    }
}

impl Lifecycle<'_> {
    /// Today, when it is time to run the day's job and no server has run it yet (the day
    /// is recorded as run in the same step, under the settings row's lock).
    async fn claim_daily_run(&self) -> AppResult<Option<NaiveDate>> {
        let now = chrono::Utc::now().with_timezone(&self.app.config.code_timezone);
        if now.hour() < self.app.config.lifecycle.daily_hour {
            return Ok(None);
        }
        let today = now.date_naive().to_string();
        if self
            .app
            .db
            .begin_read()
            .await?
            .setting(LAST_RUN)
            .await?
            .is_none()
        {
            // A row to lock: with none, two servers could both claim the first day.
            let mut tx = self.app.db.begin().await?;
            tx.put_setting(LAST_RUN, "").await?;
            tx.commit().await?;
        }
        let mut tx = self.app.db.begin().await?;
        let last = tx.setting_for_update(LAST_RUN).await?;
        if last.as_deref().is_some_and(|d| d >= today.as_str()) {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.put_setting(LAST_RUN, &today).await?;
        tx.commit().await?;
        Ok(Some(now.date_naive()))
    }
}

/// Count a chunk's changes into the run and audit them (counts only: no personal data).
async fn finish_chunk(
    tx: &mut Tx,
    on: NaiveDate,
    run: &mut DailyRun,
    entered: BTreeMap<String, u64>,
) -> AppResult<()> {
    if entered.is_empty() {
        return Ok(());
    }
    let ctx = Context::new(Source::System);
    let mut r = record_ctx(
        None,
        "system",
        &ctx,
        "lifecycle.daily",
        "lifecycle",
        &on.to_string(),
    );
    r.after = Some(json!({ "on": on.to_string(), "entered": entered }).to_string());
    append(tx, r).await?;
    for (stage, n) in entered {
        *run.entered.entry(stage).or_insert(0) += n;
    }
    Ok(())
}
