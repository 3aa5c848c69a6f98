//! The delivery side: fan-out of new events into deliveries, claiming due deliveries
//! with a lease, posting them signed, recording the outcomes of attempts (several in one
//! transaction), test pings and the pruning of the log. The worker is in `worker.rs`.

use crate::webhooks::Webhooks;
use std::time::{Duration, Instant};

use custos_store::customer_master::ScopeFilter;
use custos_store::{
    now_us, ClaimedDelivery, DeliveryOutcome, EventLogRow, NewDelivery, Tx, WebhookAttemptRow,
    WebhookRow,
};
use rand::Rng;

use super::manage::{require_manage, types_of, webhook_row};
use super::sign::signature_header;
use super::{PingResult, PING_TYPE};
use crate::auth::load_actor;
use crate::customers::scope_filter;
use crate::error::AppResult;
use crate::events::event_view;
use crate::outbound::{check_url, Outbound, OutboundError, Reply};
use crate::{Actor, Context, Source};

/// Events read per fan-out transaction.
const FANOUT_BATCH: i64 = 500;
/// Fan-out transactions per subscription per round (a backlog is worked off over rounds).
const FANOUT_ROUNDS: usize = 20;
/// Characters of an error or answer kept in the log.
const KEPT_ERROR_CHARS: usize = 512;
/// Rows pruned per statement.
const PRUNE_CHUNK: i64 = 10_000;

/// An attempt made whose outcome is not written yet: the delivery stays pending under
/// its lease until [`Webhooks::record_outcomes`] writes it.
pub(super) struct Finished {
    delivery: ClaimedDelivery,
    webhook_name: String,
    outcome: DeliveryOutcome,
    /// The log line, its `outcome` set when it is written.
    attempt: WebhookAttemptRow,
}

/// Which events the owner of a subscription may read: the change feed's rule for its
/// `events.read` scope; nothing when the account is gone, disabled or lacks it.
async fn owner_filter(tx: &mut Tx, owner_id: i64) -> AppResult<Option<ScopeFilter>> {
    let Some(user) = tx.user(owner_id).await? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    let owner = load_actor(tx, user, Context::new(Source::System)).await?;
    match owner.permissions.get("events.read").copied() {
        Some(scope) => Ok(Some(scope_filter(tx, &owner, scope).await?)),
        None => Ok(None),
    }
}

fn admits(filter: &Option<ScopeFilter>, e: &EventLogRow) -> bool {
    match (filter, &e.customer_code) {
        (None, _) => false,
        (Some(f), None) => matches!(f, ScopeFilter::All),
        (Some(f), Some(_)) => f.admits(e.owner_id, e.department_id),
    }
}

/// The wait before retry number `attempts` (1: the first retry): the base doubled per
/// attempt, capped, drawn from the upper half so that receivers coming back are not hit
/// by every sender at once.
fn backoff(base: Duration, cap: Duration, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 32) - 1).unwrap_or(31);
    let full = base.saturating_mul(2u32.saturating_pow(exp)).min(cap);
    let half = full / 2;
    half + full
        .saturating_sub(half)
        .mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

fn clip(text: &str) -> String {
    text.chars().take(KEPT_ERROR_CHARS).collect()
}

/// Status and error text of an attempt's result.
fn summary(result: &Result<Reply, OutboundError>) -> (bool, Option<i64>, Option<String>) {
    match result {
        Ok(r) if r.is_success() => (true, Some(i64::from(r.status)), None),
        Ok(r) => (
            false,
            Some(i64::from(r.status)),
            Some(clip(&format!("HTTP {}: {}", r.status, r.body))),
        ),
        Err(e) => (false, None, Some(clip(&e.to_string()))),
    }
}

impl Webhooks<'_> {
    /// The lease of a claim: configured, but never shorter than a request may take.
    fn webhook_lease(&self) -> Duration {
        self.app
            .config
            .webhooks
            .lease
            .max(self.app.config.outbound.timeout + Duration::from_secs(1))
    }

    /// Queue deliveries of `events` (in seq order) that `w`'s owner may read. Returns
    /// how many were queued.
    pub(super) async fn enqueue(
        &self,
        tx: &mut Tx,
        w: &WebhookRow,
        events: Vec<EventLogRow>,
    ) -> AppResult<i64> {
        let filter = owner_filter(tx, w.owner_id).await?;
        let rows: Vec<NewDelivery> = events
            .into_iter()
            .filter(|e| admits(&filter, e))
            .map(|e| {
                let lane = e.customer_code.clone().unwrap_or_default();
                let v = event_view(e);
                NewDelivery {
                    seq: v.seq,
                    event_id: v.id.clone(),
                    event_type: v.kind.clone(),
                    lane,
                    body: serde_json::to_string(&v).unwrap_or_default(),
                }
            })
            .collect();
        tx.insert_deliveries(w.id, &rows, now_us()).await?;
        Ok(rows.len() as i64)
    }

    /// One fan-out step of one subscription: events after its cursor into deliveries,
    /// and the cursor past them, in one transaction. Returns how many were queued and
    /// whether more events wait.
    async fn fan_out_webhook(&self, id: i64) -> AppResult<(i64, bool)> {
        let mut tx = self.app.db.begin().await?;
        let w = match tx.webhook(id, true).await? {
            Some(w) if w.active => w,
            _ => {
                tx.rollback().await?;
                return Ok((0, false));
            }
        };
        let head = tx.event_log_head().await?;
        if w.cursor >= head.last {
            tx.rollback().await?;
            return Ok((0, false));
        }
        let mut from = w.cursor;
        if from < head.pruned_through {
            tracing::warn!(
                webhook = w.name,
                from,
                pruned_through = head.pruned_through,
                "events were pruned before this webhook received them; they are skipped"
            );
            from = head.pruned_through;
        }
        let rows = tx
            .events_after(from, head.last, &types_of(&w), FANOUT_BATCH)
            .await?;
        let (next, more) = match rows.last() {
            Some(last) if rows.len() as i64 == FANOUT_BATCH => (last.seq, true),
            _ => (head.last, false),
        };
        let queued = self.enqueue(&mut tx, &w, rows).await?;
        tx.set_webhook_cursor(id, next).await?;
        tx.commit().await?;
        Ok((queued, more))
    }

    /// Fan new events out to every active subscription. Returns deliveries queued.
    pub async fn fan_out_webhooks(&self) -> AppResult<i64> {
        let mut tx = self.app.db.begin_read().await?;
        let head = tx.event_log_head().await?;
        let behind = tx.webhooks_behind(head.last).await?;
        tx.rollback().await?;
        let mut total = 0;
        for id in behind {
            for _ in 0..FANOUT_ROUNDS {
                let (queued, more) = self.fan_out_webhook(id).await?;
                total += queued;
                if !more {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// Claim up to `limit` due deliveries for this server.
    pub async fn claim_webhook_deliveries(&self, limit: usize) -> AppResult<Vec<ClaimedDelivery>> {
        let now = now_us();
        let mut tx = self.app.db.begin_read().await?;
        let due = tx.deliveries_due(now).await?;
        tx.rollback().await?;
        if !due {
            return Ok(Vec::new());
        }
        let lease = now + i64::try_from(self.webhook_lease().as_micros()).unwrap_or(i64::MAX / 2);
        let mut tx = self.app.db.begin().await?;
        let claimed = tx
            .claim_deliveries(now, lease, i64::try_from(limit).unwrap_or(1))
            .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Post one claimed delivery signed and judge the answer: delivered on a 2xx;
    /// otherwise to be retried after a backoff, or dead once it has failed for the
    /// dead-letter time. Nothing is written: the outcome is for
    /// [`Webhooks::record_outcomes`]. `None`: the subscription was deleted meanwhile.
    pub(super) async fn attempt_delivery(
        &self,
        out: &Outbound,
        d: ClaimedDelivery,
    ) -> AppResult<Option<Finished>> {
        let mut tx = self.app.db.begin_read().await?;
        let w = tx.webhook(d.webhook_id, false).await?;
        tx.rollback().await?;
        let Some(w) = w else {
            return Ok(None); // deleted meanwhile, with its deliveries
        };
        let attempt_id = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        let result = self
            .post_signed(out, &w, &attempt_id, &d.event_id, &d.event_type, &d.body)
            .await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (ok, status, error) = summary(&result);
        let now = now_us();
        let cfg = &self.app.config.webhooks;
        let dead_after = i64::try_from(cfg.dead_letter_after.as_micros()).unwrap_or(i64::MAX);
        let outcome = if ok {
            DeliveryOutcome::Delivered
        } else if now.saturating_sub(d.first_at) >= dead_after {
            DeliveryOutcome::Dead
        } else {
            let wait = backoff(cfg.retry_base, cfg.retry_cap, d.attempts);
            DeliveryOutcome::Retry(now + i64::try_from(wait.as_micros()).unwrap_or(i64::MAX / 4))
        };
        let attempt = WebhookAttemptRow {
            id: 0,
            webhook_id: w.id,
            delivery_id: Some(d.id),
            attempt_id,
            seq: Some(d.seq),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            at: now,
            status,
            latency_ms,
            outcome: String::new(),
            error,
        };
        Ok(Some(Finished {
            delivery: d,
            webhook_name: w.name,
            outcome,
            attempt,
        }))
    }

    /// Record the outcomes of attempts, each with its log line, in one transaction.
    /// An attempt whose lease was lost meanwhile (another worker has the delivery now)
    /// changes nothing and is logged as `lost`; one whose subscription was deleted is
    /// dropped. Returns how many were delivered.
    pub(super) async fn record_outcomes(&self, batch: Vec<Finished>) -> AppResult<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = self.app.db.begin().await?;
        let mut delivered = 0;
        let mut dead = Vec::new();
        for f in batch {
            let a = &f.attempt;
            let held = tx
                .finish_delivery(&f.delivery, &f.outcome, a.at, a.status, a.error.as_deref())
                .await?;
            if !held && tx.webhook(a.webhook_id, false).await?.is_none() {
                // Deleted while the request was under way: nothing left to log against.
                continue;
            }
            let label = match (&f.outcome, held) {
                (_, false) => "lost",
                (DeliveryOutcome::Delivered, _) => "delivered",
                (DeliveryOutcome::Retry(_), _) => "retry",
                (DeliveryOutcome::Dead, _) => "dead",
            };
            let mut line = f.attempt;
            line.outcome = label.into();
            tx.insert_webhook_attempt(&line).await?;
            match label {
                "delivered" => delivered += 1,
                "dead" => dead.push((f.webhook_name, f.delivery.seq)),
                _ => {}
            }
        }
        tx.commit().await?;
        for (webhook, seq) in dead {
            tracing::warn!(webhook, seq, "webhook delivery moved to dead letters");
        }
        Ok(delivered)
    }

    /// Post one claimed delivery and record its outcome at once (see
    /// [`Webhooks::attempt_delivery`]); `true` when it was delivered.
    pub async fn deliver_webhook(&self, out: &Outbound, d: ClaimedDelivery) -> AppResult<bool> {
        match self.attempt_delivery(out, d).await? {
            Some(f) => Ok(self.record_outcomes(vec![f]).await? > 0),
            None => Ok(false),
        }
    }

    async fn post_signed(
        &self,
        out: &Outbound,
        w: &WebhookRow,
        attempt_id: &str,
        event_id: &str,
        event_type: &str,
        body: &str,
    ) -> Result<Reply, OutboundError> {
        let secret = self
            .app
            .config
            .pii_key
            .decrypt(&w.secret)
            .map_err(|e| OutboundError::Failed(format!("signing secret unreadable: {e}")))?;
        let url = check_url(&w.url).map_err(|e| OutboundError::Failed(e.to_string()))?;
        let t = now_us() / 1_000_000;
        let headers = [
            ("X-Custos-Event-Id", event_id.to_string()),
            ("X-Custos-Event-Type", event_type.to_string()),
            ("X-Custos-Delivery", attempt_id.to_string()),
            (
                "X-Custos-Signature",
                signature_header(&secret, t, body.as_bytes()),
            ),
        ];
        out.post_json(&url, &headers, body.as_bytes().to_vec())
            .await
    }
}

impl Webhooks<'_> {
    /// Delete log lines and finished deliveries older than `[webhooks]
    /// log_retention_days`. Returns how many rows went.
    pub async fn prune_webhook_log(&self) -> AppResult<u64> {
        let days = i64::from(self.app.config.webhooks.log_retention_days);
        let before = now_us() - days * 86_400_000_000;
        let mut total = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
            let n = tx.prune_webhook_log(before, PRUNE_CHUNK).await?;
            tx.commit().await?;
            total += n;
            if n < PRUNE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// Post a `webhook.ping` event to a subscription now (active or not), signed like
    /// any delivery, and log it.
    pub async fn ping_webhook(&self, actor: &Actor, id: i64) -> AppResult<PingResult> {
        require_manage(actor)?;
        let out = self.app.outbound_client()?;
        let mut tx = self.app.db.begin_read().await?;
        let w = webhook_row(&mut tx, id, false).await?;
        tx.rollback().await?;
        let event_id = uuid::Uuid::new_v4().to_string();
        let body = serde_json::json!({
            "seq": 0, "id": event_id, "type": PING_TYPE, "customer_code": null,
            "department_id": null, "owner_id": null, "at": now_us(),
            "actor_id": actor.user_id, "actor_name": actor.username,
            "payload": {"webhook": w.name},
        })
        .to_string();
        let attempt_id = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        let result = self
            .post_signed(&out, &w, &attempt_id, &event_id, PING_TYPE, &body)
            .await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (ok, status, error) = summary(&result);
        let mut tx = self.app.db.begin().await?;
        tx.insert_webhook_attempt(&WebhookAttemptRow {
            id: 0,
            webhook_id: w.id,
            delivery_id: None,
            attempt_id: attempt_id.clone(),
            seq: None,
            event_id,
            event_type: PING_TYPE.into(),
            at: now_us(),
            status,
            latency_ms,
            outcome: "ping".into(),
            error: error.clone(),
        })
        .await?;
        tx.commit().await?;
        Ok(PingResult {
            delivered: ok,
            attempt_id,
            status: status.and_then(|s| u16::try_from(s).ok()),
            latency_ms,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(600));
        for _ in 0..50 {
            let first = backoff(base, cap, 1);
            assert!(
                first >= Duration::from_millis(500) && first <= base,
                "{first:?}"
            );
            let fourth = backoff(base, cap, 4);
            assert!(fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8));
            let late = backoff(base, cap, 40);
            assert!(late >= Duration::from_secs(300) && late <= cap, "{late:?}");
        }
    }
}
