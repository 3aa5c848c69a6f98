//! Group notification channels (DingTalk, WeCom, generic webhooks) and the delivery of
//! each notification to each channel: pending → sent, or failed after the last attempt,
//! or cancelled when the channel was paused before it went.

use crate::{on_tx, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    /// `dingtalk`, `wecom` or `webhook`.
    pub kind: String,
    /// The receiver URL, encrypted.
    pub url_sealed: String,
    /// What lists show of the URL.
    pub url_hint: String,
    /// The signing secret, encrypted.
    pub secret_sealed: Option<String>,
    /// Notification kinds received, comma-separated.
    pub kinds: String,
    /// Department ids, comma-separated; empty: every department.
    pub departments: String,
    pub created_at: i64,
    pub created_by: Option<i64>,
    /// `false` while paused: nothing is queued for it or sent to it.
    pub active: bool,
}

/// A delivery claimed by a sender.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelDeliveryRow {
    pub id: i64,
    pub channel_id: i64,
    pub notification_id: i64,
    pub state: String,
    /// Attempts so far, the one just claimed included.
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// Deliveries of one channel by state.
#[derive(Debug, Clone, Default)]
pub struct ChannelDeliveryCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
}

const CHANNEL_COLS: &str = "id, name, kind, url_sealed, url_hint, secret_sealed, kinds, \
    departments, created_at, created_by, active";
const DELIVERY_COLS: &str =
    "id, channel_id, notification_id, state, attempts, next_at, last_error, sent_at";

impl Tx {
    /// Insert a channel; a taken name is a `Conflict`.
    pub async fn insert_notification_channel(&mut self, c: &ChannelRow) -> StoreResult<i64> {
        let sql = "INSERT INTO notification_channels (name, kind, url_sealed, url_hint, \
                   secret_sealed, kinds, departments, created_at, created_by, active) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
        Ok(on_tx!(self, |conn| sqlx::query_scalar::<_, i64>(sql)
            .bind(&c.name)
            .bind(&c.kind)
            .bind(&c.url_sealed)
            .bind(&c.url_hint)
            .bind(&c.secret_sealed)
            .bind(&c.kinds)
            .bind(&c.departments)
            .bind(c.created_at)
            .bind(c.created_by)
            .bind(c.active)
            .fetch_one(conn)
            .await)?)
    }

    /// Write a channel's settings back (its id, creation and deliveries stay); pausing
    /// goes with [`Tx::cancel_channel_deliveries`] in the same transaction.
    pub async fn update_notification_channel(&mut self, c: &ChannelRow) -> StoreResult<()> {
        let sql = "UPDATE notification_channels SET name = $2, url_sealed = $3, url_hint = $4, \
                   secret_sealed = $5, kinds = $6, departments = $7, active = $8 WHERE id = $1";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(c.id)
            .bind(&c.name)
            .bind(&c.url_sealed)
            .bind(&c.url_hint)
            .bind(&c.secret_sealed)
            .bind(&c.kinds)
            .bind(&c.departments)
            .bind(c.active)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn notification_channel(&mut self, id: i64) -> StoreResult<Option<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLS} FROM notification_channels WHERE id = $1");
        Ok(on_tx!(self, |conn| sqlx::query_as::<_, ChannelRow>(&sql)
            .bind(id)
            .fetch_optional(conn)
            .await)?)
    }

    /// Channels in id order, at most `limit`.
    pub async fn notification_channels(&mut self, limit: i64) -> StoreResult<Vec<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLS} FROM notification_channels ORDER BY id LIMIT $1");
        Ok(on_tx!(self, |conn| sqlx::query_as::<_, ChannelRow>(&sql)
            .bind(limit)
            .fetch_all(conn)
            .await)?)
    }

    pub async fn count_notification_channels(&mut self) -> StoreResult<i64> {
        Ok(on_tx!(self, |conn| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM notification_channels"
        )
        .fetch_one(conn)
        .await)?)
    }

    /// Delete a channel and its deliveries; `false` when it was not there.
    pub async fn delete_notification_channel(&mut self, id: i64) -> StoreResult<bool> {
        on_tx!(self, |conn| sqlx::query(
            "DELETE FROM channel_deliveries WHERE channel_id = $1"
        )
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        let n = on_tx!(self, |conn| sqlx::query(
            "DELETE FROM notification_channels WHERE id = $1"
        )
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Queue a notification for a channel, due at `now`.
    pub async fn insert_channel_delivery(
        &mut self,
        channel_id: i64,
        notification_id: i64,
        now: i64,
    ) -> StoreResult<()> {
        on_tx!(self, |conn| sqlx::query(
            "INSERT INTO channel_deliveries (channel_id, notification_id, state, attempts, \
             next_at, created_at) VALUES ($1, $2, 'pending', 0, $3, $3)"
        )
        .bind(channel_id)
        .bind(notification_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Mark every pending delivery of a channel `cancelled` (the channel is being paused:
    /// none of them goes out, also not after resuming), with `reason` as its last error.
    /// Returns how many.
    pub async fn cancel_channel_deliveries(
        &mut self,
        channel_id: i64,
        reason: &str,
    ) -> StoreResult<u64> {
        Ok(on_tx!(self, |conn| sqlx::query(
            "UPDATE channel_deliveries SET state = 'cancelled', last_error = $2, \
             lease_until = NULL WHERE channel_id = $1 AND state = 'pending'"
        )
        .bind(channel_id)
        .bind(reason)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Take up to `limit` pending deliveries of active channels due at `now` and not
    /// leased by another sender; each gets a lease until `lease_until` and one more
    /// attempt.
    pub async fn claim_channel_deliveries(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ChannelDeliveryRow>> {
        let free =
            "state = 'pending' AND next_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
             AND channel_id IN (SELECT id FROM notification_channels WHERE active = TRUE)";
        let sql = format!(
            "UPDATE channel_deliveries SET lease_until = $1, attempts = attempts + 1 \
             WHERE {free} AND id IN (SELECT id FROM channel_deliveries WHERE {free} \
             ORDER BY next_at, id LIMIT $3) RETURNING {DELIVERY_COLS}"
        );
        let mut rows = on_tx!(self, |conn| sqlx::query_as::<_, ChannelDeliveryRow>(&sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(conn)
            .await)?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Record how a claimed delivery went: `sent`, `failed` (given up) or `pending`
    /// again from `next_at`. A delivery cancelled meanwhile (its channel paused while it
    /// was being posted) stays cancelled unless it was in fact sent.
    pub async fn finish_channel_delivery(
        &mut self,
        id: i64,
        state: &str,
        next_at: i64,
        error: Option<&str>,
        sent_at: Option<i64>,
    ) -> StoreResult<()> {
        on_tx!(self, |conn| sqlx::query(
            "UPDATE channel_deliveries SET state = $2, next_at = $3, last_error = $4, \
             sent_at = $5, lease_until = NULL \
             WHERE id = $1 AND (state = 'pending' OR $2 = 'sent')"
        )
        .bind(id)
        .bind(state)
        .bind(next_at)
        .bind(error)
        .bind(sent_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The deliveries of one channel, newest first, at most `limit`.
    pub async fn channel_deliveries(
        &mut self,
        channel_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<ChannelDeliveryRow>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM channel_deliveries WHERE channel_id = $1 \
             ORDER BY id DESC LIMIT $2"
        );
        Ok(on_tx!(self, |conn| {
            sqlx::query_as::<_, ChannelDeliveryRow>(&sql)
                .bind(channel_id)
                .bind(limit)
                .fetch_all(conn)
                .await
        })?)
    }

    /// How many deliveries of a channel are in each state.
    pub async fn channel_delivery_counts(
        &mut self,
        channel_id: i64,
    ) -> StoreResult<ChannelDeliveryCounts> {
        let rows: Vec<(String, i64)> = on_tx!(self, |conn| {
            sqlx::query_as::<_, (String, i64)>(
            "SELECT state, COUNT(*) FROM channel_deliveries WHERE channel_id = $1 GROUP BY state"
        )
        .bind(channel_id)
        .fetch_all(conn)
        .await
        })?;
        let mut counts = ChannelDeliveryCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "pending" => counts.pending = n,
                "sent" => counts.sent = n,
                "cancelled" => counts.cancelled = n,
                _ => counts.failed += n,
            }
        }
        Ok(counts)
    }

    /// Delete finished deliveries (sent or given up) made before `before`, at most `max`
    /// of them; pending ones stay whatever their age. Returns how many went.
    pub async fn prune_channel_deliveries(&mut self, before: i64, max: i64) -> StoreResult<u64> {
        Ok(on_tx!(self, |c| sqlx::query(
            "DELETE FROM channel_deliveries WHERE id IN \
             (SELECT id FROM channel_deliveries WHERE state <> 'pending' AND created_at < $1 \
              ORDER BY id LIMIT $2)"
        )
        .bind(before)
        .bind(max)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
