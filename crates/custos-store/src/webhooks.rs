//! Webhook subscriptions, their deliveries (one row per event per subscription) and the
//! delivery log (one row per HTTP attempt).
//!
//! Claiming is where two servers on one PostgreSQL meet: a due delivery is claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease, and only when no earlier delivery of its lane
//! (the same subscription and customer) is still pending, so one customer's events go
//! out one at a time, in order. SQLite has one writer, so the same statement without the
//! lock clause does the same there. Finishing a delivery is fenced by the lease it was
//! claimed with: a worker whose lease ran out (and whose row another worker took) changes
//! nothing.

use crate::db::Backend;
use crate::{on_tx, StoreResult, Tx};

/// A subscription.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// JSON array of event types; empty: every type.
    pub event_types: String,
    /// The signing secret, sealed with the PII key.
    pub secret: String,
    pub active: bool,
    /// The account whose data scope filters the events.
    pub owner_id: i64,
    /// The last event seq fanned out into deliveries.
    pub cursor: i64,
    pub created_at: i64,
    pub created_by: Option<i64>,
    pub updated_at: i64,
}

/// A delivery about to be queued.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub lane: String,
    pub body: String,
}

/// A delivery a worker claimed, with what it needs to post it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    /// Claims so far, this one included.
    pub attempts: i64,
    /// When it was first tried (this claim, if it is the first).
    pub first_at: i64,
    /// The lease this claim holds; finishing the delivery must present it.
    pub lease_until: i64,
}

/// How an attempt ended, for the delivery row.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at this time (µs).
    Retry(i64),
    Dead,
}

/// One line of the delivery log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookAttemptRow {
    pub id: i64,
    pub webhook_id: i64,
    pub delivery_id: Option<i64>,
    /// Sent as `X-Custos-Delivery`.
    pub attempt_id: String,
    pub seq: Option<i64>,
    pub event_id: String,
    pub event_type: String,
    pub at: i64,
    pub status: Option<i64>,
    pub latency_ms: i64,
    /// `delivered`, `retry`, `dead`, `lost` (the lease had run out) or `ping`.
    pub outcome: String,
    /// Why it failed, or the start of the answer.
    pub error: Option<String>,
}

/// Deliveries of one subscription per state.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
}

const HOOK_COLS: &str = "id, name, url, event_types, secret, active, owner_id, cursor, \
    created_at, created_by, updated_at";
const ATTEMPT_COLS: &str = "id, webhook_id, delivery_id, attempt_id, seq, event_id, \
    event_type, at, status, latency_ms, outcome, error";

impl Tx {
    /// Insert a subscription; a taken name is a `Conflict` on `webhooks_name`.
    pub async fn insert_webhook(&mut self, w: &WebhookRow) -> StoreResult<i64> {
        let sql = "INSERT INTO webhooks (name, url, event_types, secret, active, owner_id, \
                   cursor, created_at, created_by, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&w.name)
            .bind(&w.url)
            .bind(&w.event_types)
            .bind(&w.secret)
            .bind(w.active)
            .bind(w.owner_id)
            .bind(w.cursor)
            .bind(w.created_at)
            .bind(w.created_by)
            .bind(w.updated_at)
            .fetch_one(c)
            .await)?)
    }

    /// A subscription; `lock`: held until the transaction ends (PostgreSQL).
    pub async fn webhook(&mut self, id: i64, lock: bool) -> StoreResult<Option<WebhookRow>> {
        let suffix = match (lock, self.backend()) {
            (true, Backend::Postgres) => " FOR UPDATE",
            _ => "",
        };
        let sql = format!("SELECT {HOOK_COLS} FROM webhooks WHERE id = $1{suffix}");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, WebhookRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn webhook_by_name(&mut self, name: &str) -> StoreResult<Option<WebhookRow>> {
        let sql = format!("SELECT {HOOK_COLS} FROM webhooks WHERE name = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, WebhookRow>(&sql)
            .bind(name)
            .fetch_optional(c)
            .await)?)
    }

    /// Subscriptions by id, at most `limit`.
    pub async fn webhooks(&mut self, limit: i64) -> StoreResult<Vec<WebhookRow>> {
        let sql = format!("SELECT {HOOK_COLS} FROM webhooks ORDER BY id LIMIT $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, WebhookRow>(&sql)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Active subscriptions whose cursor is below `head` (events are waiting for them).
    pub async fn webhooks_behind(&mut self, head: i64) -> StoreResult<Vec<i64>> {
        let sql = "SELECT id FROM webhooks WHERE active = TRUE AND cursor < $1 ORDER BY id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(head)
            .fetch_all(c)
            .await)?)
    }

    /// Write a subscription's settings (not its cursor).
    pub async fn update_webhook(&mut self, w: &WebhookRow) -> StoreResult<()> {
        let sql = "UPDATE webhooks SET name = $2, url = $3, event_types = $4, secret = $5, \
                   active = $6, owner_id = $7, updated_at = $8 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(w.id)
            .bind(&w.name)
            .bind(&w.url)
            .bind(&w.event_types)
            .bind(&w.secret)
            .bind(w.active)
            .bind(w.owner_id)
            .bind(w.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn set_webhook_cursor(&mut self, id: i64, cursor: i64) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "UPDATE webhooks SET cursor = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(cursor)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Delete a subscription with its deliveries and log; `false` when it was not there.
    pub async fn delete_webhook(&mut self, id: i64) -> StoreResult<bool> {
        for sql in [
            "DELETE FROM webhook_attempts WHERE webhook_id = $1",
            "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
        ] {
            on_tx!(self, |c| sqlx::query(sql)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        let n = on_tx!(self, |c| sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Queue deliveries of one subscription, due at `now`.
    pub async fn insert_deliveries(
        &mut self,
        webhook_id: i64,
        rows: &[NewDelivery],
        now: i64,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO webhook_deliveries (webhook_id, seq, event_id, event_type, lane, \
                   body, state, attempts, created_at, next_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)";
        for d in rows {
            on_tx!(self, |c| sqlx::query(sql)
                .bind(webhook_id)
                .bind(d.seq)
                .bind(&d.event_id)
                .bind(&d.event_type)
                .bind(&d.lane)
                .bind(&d.body)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Whether any delivery is due and unclaimed (a read, so an idle worker takes no write
    /// lock).
    pub async fn deliveries_due(&mut self, now: i64) -> StoreResult<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE state = 'pending' \
                   AND next_at <= $1 AND (lease_until IS NULL OR lease_until < $1))";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, bool>(sql)
            .bind(now)
            .fetch_one(c)
            .await)?)
    }

    /// Claim up to `limit` due deliveries of active subscriptions whose lane has no
    /// earlier pending delivery, leasing them until `lease_until`.
    pub async fn claim_deliveries(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET lease_until = $2, attempts = attempts + 1, \
             first_at = COALESCE(first_at, $1) \
             WHERE id IN (SELECT d.id FROM webhook_deliveries d \
               JOIN webhooks w ON w.id = d.webhook_id \
               WHERE d.state = 'pending' AND d.next_at <= $1 \
               AND (d.lease_until IS NULL OR d.lease_until < $1) AND w.active = TRUE \
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                 WHERE e.webhook_id = d.webhook_id AND e.lane = d.lane \
                 AND e.state = 'pending' AND e.id < d.id) \
               ORDER BY d.next_at, d.id LIMIT $3{lock}) \
             RETURNING id, webhook_id, seq, event_id, event_type, body, attempts, first_at, \
             lease_until"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ClaimedDelivery>(
            &sql
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// Record how an attempt of a claimed delivery ended; `false` when the claim's lease
    /// is no longer held (another worker has the row now) and nothing was changed.
    pub async fn finish_delivery(
        &mut self,
        d: &ClaimedDelivery,
        outcome: &DeliveryOutcome,
        now: i64,
        status: Option<i64>,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let (state, next_at, done_at) = match outcome {
            DeliveryOutcome::Delivered => ("delivered", now, Some(now)),
            DeliveryOutcome::Retry(at) => ("pending", *at, None),
            DeliveryOutcome::Dead => ("dead", now, Some(now)),
        };
        let sql = "UPDATE webhook_deliveries SET state = $3, next_at = $4, done_at = $5, \
                   lease_until = NULL, last_status = $6, last_error = $7 \
                   WHERE id = $1 AND lease_until = $2 AND state = 'pending'";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(d.id)
            .bind(d.lease_until)
            .bind(state)
            .bind(next_at)
            .bind(done_at)
            .bind(status)
            .bind(error)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    pub async fn insert_webhook_attempt(&mut self, a: &WebhookAttemptRow) -> StoreResult<()> {
        let sql = "INSERT INTO webhook_attempts (webhook_id, delivery_id, attempt_id, seq, \
                   event_id, event_type, at, status, latency_ms, outcome, error) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(a.webhook_id)
            .bind(a.delivery_id)
            .bind(&a.attempt_id)
            .bind(a.seq)
            .bind(&a.event_id)
            .bind(&a.event_type)
            .bind(a.at)
            .bind(a.status)
            .bind(a.latency_ms)
            .bind(&a.outcome)
            .bind(&a.error)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The log of one subscription, newest first, below attempt id `before`.
    /// Attempts of a subscription below id `before`, newest first; with `outcome`, only
    /// those that ended so.
    pub async fn webhook_attempts(
        &mut self,
        webhook_id: i64,
        before: i64,
        limit: i64,
        outcome: Option<&str>,
    ) -> StoreResult<Vec<WebhookAttemptRow>> {
        let filter = match outcome {
            Some(_) => " AND outcome = $4",
            None => "",
        };
        let sql = format!(
            "SELECT {ATTEMPT_COLS} FROM webhook_attempts WHERE webhook_id = $1 AND id < $2\
             {filter} ORDER BY id DESC LIMIT $3"
        );
        Ok(on_tx!(self, |c| {
            let q = sqlx::query_as::<_, WebhookAttemptRow>(&sql)
                .bind(webhook_id)
                .bind(before)
                .bind(limit);
            match outcome {
                Some(o) => q.bind(o),
                None => q,
            }
            .fetch_all(c)
            .await
        })?)
    }

    /// The newest attempt of each of the first `limit` subscriptions (those
    /// [`Tx::webhooks`] lists) that has any, in one statement: each subscription's
    /// greatest attempt id, found in the index on `(webhook_id, id)`.
    pub async fn last_webhook_attempts(
        &mut self,
        limit: i64,
    ) -> StoreResult<Vec<WebhookAttemptRow>> {
        let sql = format!(
            "SELECT {ATTEMPT_COLS} FROM webhook_attempts WHERE id IN (\
             SELECT (SELECT MAX(a.id) FROM webhook_attempts a WHERE a.webhook_id = w.id) \
             FROM (SELECT id FROM webhooks ORDER BY id LIMIT $1) w) ORDER BY webhook_id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, WebhookAttemptRow>(
            &sql
        )
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    pub async fn delivery_counts(&mut self, webhook_id: i64) -> StoreResult<DeliveryCounts> {
        let sql = "SELECT state, COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 \
                   GROUP BY state";
        let rows: Vec<(String, i64)> = on_tx!(self, |c| sqlx::query_as(sql)
            .bind(webhook_id)
            .fetch_all(c)
            .await)?;
        let mut counts = DeliveryCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "pending" => counts.pending = n,
                "delivered" => counts.delivered = n,
                "dead" => counts.dead = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Delete log lines older than `before` and finished deliveries done before it (at
    /// most `max` of each). Returns how many rows went.
    pub async fn prune_webhook_log(&mut self, before: i64, max: i64) -> StoreResult<u64> {
        let mut total = 0;
        for sql in [
            "DELETE FROM webhook_attempts WHERE id IN \
             (SELECT id FROM webhook_attempts WHERE at < $1 ORDER BY id LIMIT $2)",
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND done_at < $1 \
              ORDER BY id LIMIT $2)",
            "DELETE FROM webhook_deliveries WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND done_at < $1 \
              ORDER BY id LIMIT $2)",
        ] {
            total += on_tx!(self, |c| sqlx::query(sql)
                .bind(before)
                .bind(max)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(total)
    }
}
