//! Deliveries to channels: queued in the transaction of the notification, posted by the
//! worker with a lease, retried with backoff, given up after [`MAX_ATTEMPTS`].

use crate::channels::Channels;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use custos_store::{now_us, ChannelDeliveryRow, ChannelRow, NotificationRow, Tx};
use serde_json::json;

use super::admin::{channel, require_manager, stored_departments, stored_kinds, MAX_CHANNELS};
use super::message::{judge, prepare, Notice};
use super::{NotificationKind, Provider, TestOutcome};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::outbound::{check_url, Outbound};
use crate::to_json;

/// A delivery is given up after this many failed attempts.
pub const MAX_ATTEMPTS: i64 = 8;
/// Wait before the second attempt; doubled after each failure up to [`MAX_BACKOFF_US`].
const FIRST_BACKOFF_US: i64 = 30_000_000;
const MAX_BACKOFF_US: i64 = 3_600_000_000;
/// Deliveries claimed per round; with the outbound time limit (10 s by default) a round
/// ends well within the lease.
const BATCH: i64 = 10;
/// How long a sender holds the deliveries it claimed.
const LEASE_US: i64 = 5 * 60 * 1_000_000;

/// The wait after failed attempt number `attempts` (1-based).
pub(crate) fn backoff_us(attempts: i64) -> i64 {
    let doublings = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(0);
    FIRST_BACKOFF_US
        .saturating_mul(1_i64 << doublings)
        .min(MAX_BACKOFF_US)
}

/// Queue notification `id` (just written as `n`) for every active channel that receives
/// its kind and its recipient's department (a paused channel gets nothing), except the channels in `queued` (one announcement
/// written to several recipients reaches each channel once); the channels queued are
/// added to it. Runs in the notification's transaction.
pub(crate) async fn queue_for_channels(
    tx: &mut Tx,
    n: &NotificationRow,
    id: i64,
    queued: &mut HashSet<i64>,
) -> AppResult<()> {
    let Some(kind) = NotificationKind::of(&n.kind, n.application_id) else {
        return Ok(());
    };
    let channels = tx.notification_channels(MAX_CHANNELS).await?;
    if channels.is_empty() {
        return Ok(());
    }
    let mut recipient_department: Option<Option<i64>> = None;
    let mut subtrees: HashMap<i64, Vec<i64>> = HashMap::new();
    for c in channels {
        if !c.active || queued.contains(&c.id) || !stored_kinds(&c).contains(&kind) {
            continue;
        }
        let departments = stored_departments(&c);
        if !departments.is_empty() {
            let dept = match recipient_department {
                Some(d) => d,
                None => {
                    let d = tx.user(n.user_id).await?.and_then(|u| u.department_id);
                    recipient_department = Some(d);
                    d
                }
            };
            let Some(dept) = dept else {
                continue;
            };
            let mut inside = false;
            for root in departments {
                let sub = match subtrees.entry(root) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(tx.department_subtree(root).await?),
                };
                if sub.contains(&dept) {
                    inside = true;
                    break;
                }
            }
            if !inside {
                continue;
            }
        }
        tx.insert_channel_delivery(c.id, id, n.created_at).await?;
        queued.insert(c.id);
    }
    Ok(())
}

/// What one round of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    pub sent: usize,
    /// Failed and to be tried again.
    pub retrying: usize,
    /// Failed for the last time.
    pub given_up: usize,
}

impl DeliveryRound {
    pub fn is_empty(&self) -> bool {
        self.sent + self.retrying + self.given_up == 0
    }
}

/// A channel's provider, URL and secret, opened.
struct Target {
    provider: Provider,
    url: reqwest::Url,
    secret: Option<String>,
}

impl Channels<'_> {
    fn open_target(&self, row: &ChannelRow) -> AppResult<Target> {
        let key = &self.app.config.pii_key;
        let provider = Provider::parse(&row.kind).ok_or_else(|| {
            AppError::Internal(format!("channel {}: unknown provider {}", row.id, row.kind))
        })?;
        let url = check_url(&key.decrypt(&row.url_sealed)?)
            .map_err(|e| AppError::Internal(format!("channel {} url: {e}", row.id)))?;
        let secret = match &row.secret_sealed {
            Some(s) => Some(key.decrypt(s)?),
            None => None,
        };
        Ok(Target {
            provider,
            url,
            secret,
        })
    }

    async fn notice(&self, tx: &mut Tx, notification_id: i64) -> AppResult<Option<Notice>> {
        let Some(n) = tx.notification(notification_id).await? else {
            return Ok(None);
        };
        let department = match tx.user(n.user_id).await?.and_then(|u| u.department_id) {
            Some(d) => tx.department(d).await?.map(|row| (d, row.name)),
            None => None,
        };
        let link = self.link_of(&n.kind, n.application_id);
        Ok(Some(Notice {
            link,
            id: n.id,
            kind: NotificationKind::of(&n.kind, n.application_id),
            raw_kind: n.kind,
            title: n.title,
            body: n.body,
            time: format_time(n.created_at),
            local_time: self.app.local_time_us(n.created_at),
            application_id: n.application_id,
            department,
        }))
    }

    /// Post one claimed delivery; `Err` holds why it failed. `Ok(false)`: not posted, its
    /// channel was paused after the claim (the pause cancelled the delivery).
    async fn post_delivery(&self, out: &Outbound, d: &ChannelDeliveryRow) -> Result<bool, String> {
        let loaded = async {
            let mut tx = self.app.db.begin_read().await?;
            let row = tx.notification_channel(d.channel_id).await?;
            let notice = self.notice(&mut tx, d.notification_id).await?;
            tx.rollback().await?;
            AppResult::Ok((row, notice))
        }
        .await;
        let (Some(row), Some(notice)) = loaded.map_err(|e| e.to_string())? else {
            return Err("channel or notification no longer exists".into());
        };
        if !row.active {
            return Ok(false);
        }
        let target = self.open_target(&row).map_err(|e| e.to_string())?;
        let post = prepare(
            target.provider,
            &target.url,
            target.secret.as_deref(),
            &notice,
            now_us() / 1000,
        );
        let answer = out.post_json(&post.url, &post.headers, post.body).await;
        judge(target.provider, answer).map(|()| true)
    }

    /// Post the deliveries due at `now` (one round of the worker): each is claimed with a
    /// lease, so servers sharing the database never post one twice at once; a failure is
    /// tried again after a backoff, and given up after [`MAX_ATTEMPTS`].
    pub async fn deliver_channel_notifications(
        &self,
        out: &Outbound,
        now: i64,
    ) -> AppResult<DeliveryRound> {
        let mut tx = self.app.db.begin().await?;
        let claimed = tx
            .claim_channel_deliveries(now, now + LEASE_US, BATCH)
            .await?;
        tx.commit().await?;
        let mut round = DeliveryRound::default();
        for d in &claimed {
            let outcome = self.post_delivery(out, d).await;
            if outcome == Ok(false) {
                continue;
            }
            let mut tx = self.app.db.begin().await?;
            match outcome {
                Ok(_) => {
                    tx.finish_channel_delivery(d.id, "sent", d.next_at, None, Some(now_us()))
                        .await?;
                    round.sent += 1;
                }
                Err(e) => {
                    let last = d.attempts >= MAX_ATTEMPTS;
                    let (state, next) = match last {
                        true => ("failed", d.next_at),
                        false => ("pending", now + backoff_us(d.attempts)),
                    };
                    tracing::warn!(
                        channel = d.channel_id,
                        notification = d.notification_id,
                        attempt = d.attempts,
                        given_up = last,
                        error = %e,
                        "notification channel delivery failed"
                    );
                    tx.finish_channel_delivery(d.id, state, next, Some(&e), None)
                        .await?;
                    match last {
                        true => round.given_up += 1,
                        false => round.retrying += 1,
                    }
                }
            }
            tx.commit().await?;
        }
        Ok(round)
    }

    /// Delete finished deliveries older than `[notification_channels]
    /// log_retention_days` before `now`, in chunks. Returns how many went.
    pub async fn prune_channel_deliveries(&self, now: i64) -> AppResult<u64> {
        const CHUNK: i64 = 5_000;
        let days = i64::from(self.app.config.channels.log_retention_days);
        let before = now - days * 86_400_000_000;
        let mut total = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
            let n = tx.prune_channel_deliveries(before, CHUNK).await?;
            tx.commit().await?;
            total += n;
            if n < CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// Send a test message to a channel now, outside the queue, and say how it went.
    pub async fn test_notification_channel(
        &self,
        actor: &Actor,
        id: i64,
        out: &Outbound,
    ) -> AppResult<TestOutcome> {
        require_manager(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let row = channel(&mut tx, id).await?;
        tx.rollback().await?;
        let target = self.open_target(&row)?;
        let now = now_us();
        let notice = Notice {
            id: 0,
            raw_kind: "test".into(),
            kind: None,
            title: format!("通知渠道测试：{}", row.name),
            body: format!(
                "这是一条来自 custos 的测试消息，由 {} 发送。",
                actor.display_name
            ),
            time: format_time(now),
            local_time: self.app.local_time_us(now),
            application_id: None,
            department: None,
            link: self.app.config.public_url.clone(),
        };
        let post = prepare(
            target.provider,
            &target.url,
            target.secret.as_deref(),
            &notice,
            now / 1000,
        );
        let answer = out.post_json(&post.url, &post.headers, post.body).await;
        let status = answer.as_ref().ok().map(|r| r.status);
        let elapsed_ms = answer
            .as_ref()
            .map(|r| u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let judged = judge(target.provider, answer);
        let mut tx = self.app.db.begin().await?;
        let mut r = record(
            actor,
            "notification_channel.test",
            "notification_channel",
            &id.to_string(),
        );
        r.after = to_json(&json!({"ok": judged.is_ok(), "status": status}));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(TestOutcome {
            ok: judged.is_ok(),
            status,
            error: judged.err(),
            elapsed_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_us(1), 30_000_000);
        assert_eq!(backoff_us(2), 60_000_000);
        assert_eq!(backoff_us(4), 240_000_000);
        assert_eq!(backoff_us(12), MAX_BACKOFF_US);
        assert_eq!(backoff_us(i64::MAX), MAX_BACKOFF_US);
        assert_eq!(backoff_us(0), 30_000_000);
    }
}
