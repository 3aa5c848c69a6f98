//! The webhook worker of `custos serve`, and one round of it for tests and tools: fan
//! out, claim, post with bounded concurrency, and record the outcomes of the attempts
//! that finish close together in one transaction.

use crate::webhooks::Webhooks;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::deliver::Finished;
use crate::error::{AppError, AppResult};
use crate::App;

/// How often the worker prunes the log.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Outcomes waiting to be written together: written once `max` wait, once `window` has
/// passed since the first, or when no attempt is in flight (nothing would join them).
pub(super) struct OutcomeBatch<T> {
    items: Vec<T>,
    since: Option<Instant>,
    window: Duration,
    max: usize,
}

impl<T> OutcomeBatch<T> {
    pub(super) fn new(window: Duration, max: usize) -> Self {
        OutcomeBatch {
            items: Vec::new(),
            since: None,
            window,
            max: max.max(1),
        }
    }

    pub(super) fn push(&mut self, item: T, now: Instant) {
        if self.items.is_empty() {
            self.since = Some(now);
        }
        self.items.push(item);
    }

    /// Whether to write now, with `in_flight` attempts still under way.
    pub(super) fn due(&self, now: Instant, in_flight: usize) -> bool {
        !self.items.is_empty()
            && (in_flight == 0
                || self.items.len() >= self.max
                || self.deadline().is_some_and(|d| now >= d))
    }

    /// When the window of the batch closes.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.since.map(|s| s + self.window)
    }

    pub(super) fn take(&mut self) -> Vec<T> {
        self.since = None;
        std::mem::take(&mut self.items)
    }
}

type Attempt = AppResult<Option<Finished>>;

/// Put a finished attempt task's outcome in the batch (its errors are logged: the
/// delivery is posted again once its lease runs out).
fn collect(done: Result<Attempt, tokio::task::JoinError>, batch: &mut OutcomeBatch<Finished>) {
    match done {
        Ok(Ok(Some(f))) => batch.push(f, Instant::now()),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "webhook delivery"),
        Err(e) => tracing::warn!(error = %e, "webhook delivery task"),
    }
}

impl Webhooks<'_> {
    /// One round of the worker, waiting for its deliveries: fan out, claim up to
    /// `[webhooks] concurrency` due deliveries, post them concurrently and record their
    /// outcomes in one transaction. Returns how many were delivered.
    pub async fn run_webhooks_once(&self) -> AppResult<usize> {
        let out = self.app.outbound_client()?;
        self.fan_out_webhooks().await?;
        let claimed = self
            .claim_webhook_deliveries(self.app.config.webhooks.concurrency.max(1))
            .await?;
        let mut set = JoinSet::new();
        for d in claimed {
            let (app, out) = (self.app.clone(), out.clone());
            set.spawn(async move { app.webhooks().attempt_delivery(&out, d).await });
        }
        let mut finished = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(Some(f))) => finished.push(f),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(AppError::Internal(format!("delivery task: {e}"))),
            }
        }
        self.record_outcomes(finished).await
    }

    /// Write a batch of outcomes; on failure the deliveries stay pending under their
    /// leases and are posted again when those run out (at least once).
    async fn flush_outcomes(&self, batch: &mut OutcomeBatch<Finished>) {
        let items = batch.take();
        let n = items.len();
        if let Err(e) = self.record_outcomes(items).await {
            tracing::warn!(error = %e, attempts = n, "recording webhook outcomes failed; they will be sent again");
        }
    }
}

impl App {
    /// The webhook worker of `custos serve`: fans out new events and keeps up to
    /// `[webhooks] concurrency` deliveries in flight; records outcomes in batches
    /// (`record_window`, `record_batch`); prunes the log hourly. Errors are logged and
    /// the work retried.
    ///
    /// With attempts in flight it fans out and claims again once half the slots are
    /// free or `poll` has passed, so that claims — writes too — also come in batches.
    pub async fn run_webhook_worker(self) {
        let out = match self.outbound_client() {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(error = %e, "webhooks are not delivered");
                return;
            }
        };
        let cfg = self.config.webhooks.clone();
        let slots = cfg.concurrency.max(1);
        let mut set: JoinSet<Attempt> = JoinSet::new();
        let mut batch = OutcomeBatch::new(cfg.record_window, cfg.record_batch);
        let mut last_prune: Option<Instant> = None;
        let mut last_refill: Option<Instant> = None;
        loop {
            while let Some(done) = set.try_join_next() {
                collect(done, &mut batch);
            }
            if batch.due(Instant::now(), set.len()) {
                self.webhooks().flush_outcomes(&mut batch).await;
            }
            let free = slots.saturating_sub(set.len());
            let refill = set.is_empty()
                || free * 2 >= slots
                || last_refill.is_none_or(|t| t.elapsed() >= cfg.poll);
            if refill {
                last_refill = Some(Instant::now());
                if let Err(e) = self.webhooks().fan_out_webhooks().await {
                    tracing::warn!(error = %e, "webhook fan-out failed; will retry");
                }
                if free > 0 {
                    match self.webhooks().claim_webhook_deliveries(free).await {
                        Ok(claimed) => {
                            for d in claimed {
                                let (app, out) = (self.clone(), out.clone());
                                set.spawn(
                                    async move { app.webhooks().attempt_delivery(&out, d).await },
                                );
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
                    }
                }
            }
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                if let Err(e) = self.webhooks().prune_webhook_log().await {
                    tracing::warn!(error = %e, "pruning the webhook log failed");
                }
            }
            let next_poll = last_refill.unwrap_or_else(Instant::now) + cfg.poll;
            let wake = match batch.deadline() {
                Some(d) => d.min(next_poll),
                None => next_poll,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                Some(done) = set.join_next(), if !set.is_empty() => collect(done, &mut batch),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_written_when_full_when_its_window_closes_or_when_nothing_is_in_flight() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = OutcomeBatch::new(ms(50), 3);
        assert!(!b.due(t0, 0), "empty");
        assert_eq!(b.deadline(), None);
        b.push(1, t0);
        b.push(2, t0 + ms(10));
        assert!(!b.due(t0 + ms(49), 5), "window open, more in flight");
        assert!(b.due(t0 + ms(20), 0), "nothing else is coming");
        assert!(b.due(t0 + ms(50), 5), "window closed");
        assert_eq!(b.deadline(), Some(t0 + ms(50)), "from the first");
        b.push(3, t0 + ms(11));
        assert!(b.due(t0 + ms(11), 5), "full");
        assert_eq!(b.take(), vec![1, 2, 3]);
        assert_eq!(b.deadline(), None);
        b.push(4, t0 + ms(100));
        assert_eq!(b.deadline(), Some(t0 + ms(150)), "a new window");
        assert!(!b.due(t0 + ms(120), 1));
    }
}
