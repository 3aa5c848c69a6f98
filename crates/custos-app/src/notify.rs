//! Notifications leave custos through a [`Notifier`]: the use cases write notifications
//! in the transaction of the change they announce, and the worker here hands the unsent
//! ones to the configured channel. The channel knows only how to deliver a message (SMTP
//! in `mail.rs`); which notifications are due, leases between servers, attempts and the
//! record of delivery stay here, so a DingTalk, WeCom or webhook channel is one more
//! implementation of the trait beside SMTP.
//!
//! Delivery state in the database is the e-mail state (`emailed_at`, `email_lease`,
//! `email_attempts`) and recipients are addressed by their e-mail address. Group channels
//! (DingTalk, WeCom, webhooks: `channels/`) address a group, not a person, and keep their
//! own delivery per (channel, notification), queued by [`insert_notification`]; the same
//! worker posts them, apart from e-mail, so neither path delays the other.

use crate::channels::Channels;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use custos_store::{now_us, NotificationRow, Tx};

use crate::error::AppResult;
use crate::outbound::Outbound;
use crate::App;

/// Write a notification and queue it for the group channels that receive it, in the
/// caller's transaction. Every notification is written through here.
pub(crate) async fn insert_notification(tx: &mut Tx, n: &NotificationRow) -> AppResult<i64> {
    let id = tx.insert_notification(n).await?;
    crate::channels::queue_for_channels(tx, n, id, &mut HashSet::new()).await?;
    Ok(id)
}

/// Write one announcement to every enabled person holding `permission` (through any
/// role with an unexpired grant), in the caller's transaction. Each receives it in the
/// inbox and by e-mail; a group channel receives it once, through the first recipient
/// in its departments. Returns how many were written.
pub(crate) async fn notify_holders(
    tx: &mut Tx,
    permission: &str,
    kind: &str,
    title: &str,
    body: &str,
) -> AppResult<usize> {
    let now = now_us();
    let mut users: Vec<i64> = Vec::new();
    for role in tx.roles().await? {
        let perms: Vec<String> = serde_json::from_str(&role.permissions).unwrap_or_default();
        if perms.iter().any(|p| p == permission) {
            users.extend(tx.users_with_role(&role.key, now).await?);
        }
    }
    users.sort_unstable();
    users.dedup();
    let mut queued = HashSet::new();
    let mut written = 0;
    for user_id in users {
        let person = tx
            .user(user_id)
            .await?
            .is_some_and(|u| u.kind != custos_store::SERVICE_KIND && !u.disabled);
        if !person {
            continue;
        }
        let n = NotificationRow {
            id: 0,
            user_id,
            application_id: None,
            kind: kind.to_string(),
            title: title.to_string(),
            body: body.to_string(),
            created_at: now,
            read_at: None,
        };
        let id = tx.insert_notification(&n).await?;
        crate::channels::queue_for_channels(tx, &n, id, &mut queued).await?;
        written += 1;
    }
    Ok(written)
}

/// One message to one recipient.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// What [`Notifier::deliver`] returns: a future borrowing the notifier and the messages.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = AppResult<()>> + Send + 'a>>;

/// A way to deliver notifications outside custos.
pub trait Notifier: Send + Sync {
    /// The channel's name in logs, e.g. `smtp`.
    fn channel(&self) -> &'static str;
    /// A notification is given up after this many failed deliveries.
    fn max_attempts(&self) -> i64;
    /// Deliver every message, or fail: a failure leaves all of them for a later attempt
    /// (each counts one attempt).
    fn deliver<'a>(&'a self, messages: &'a [Mail]) -> Delivery<'a>;
}

/// How long a server holds the notifications it claimed before another may retry them.
const LEASE_US: i64 = 5 * 60 * 1_000_000;
/// Notifications older than this are not sent any more.
const FRESH_FOR_US: i64 = 86_400_000_000;
/// Notifications claimed per round.
const BATCH: i64 = 50;

impl Channels<'_> {
    /// Deliver notifications that have not been sent yet (created within the last day)
    /// through `notifier`. Returns how many were sent. A failed delivery leaves them for
    /// a later attempt.
    pub async fn send_notification_emails(&self, notifier: &dyn Notifier) -> AppResult<usize> {
        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        let claimed = tx
            .claim_email_notifications(
                now,
                now + LEASE_US,
                now - FRESH_FOR_US,
                notifier.max_attempts(),
                BATCH,
            )
            .await?;
        tx.commit().await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let mails: Vec<Mail> = claimed
            .iter()
            .map(|(n, to)| Mail {
                to: to.clone(),
                subject: format!("【custos】{}", n.title),
                body: format!(
                    "{}{}\r\n\r\n—— 客户主数据与编码管理系统 custos（系统自动发送，请勿回复）",
                    n.body,
                    self.link_of(&n.kind, n.application_id)
                        .map(|l| format!("\r\n\r\n查看详情：{l}"))
                        .unwrap_or_default()
                ),
            })
            .collect();
        notifier.deliver(&mails).await?;
        let mut tx = self.app.db.begin().await?;
        for (n, _) in &claimed {
            tx.mark_notification_emailed(n.id, now_us()).await?;
        }
        tx.commit().await?;
        Ok(claimed.len())
    }
}

impl App {
    /// Background work of notifications, run by `custos serve`: deliver unsent
    /// notifications every 30 s through `notifier` (when one is configured), post the
    /// group channels' deliveries through `outbound` (every 10 s), and remind approvers
    /// of tasks pending longer than `reminder_after` (when set). Errors are logged and
    /// retried.
    pub async fn run_notifications(
        self,
        notifier: Option<Box<dyn Notifier>>,
        outbound: Outbound,
        reminder_after: Option<Duration>,
    ) {
        // Group channels in their own task: a slow relay or robot never holds up the other.
        let channels = tokio::spawn(self.clone().run_channel_deliveries(outbound));
        let _abort_on_drop = AbortOnDrop(channels);
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        let mut last_reminder = std::time::Instant::now();
        loop {
            tick.tick().await;
            if let Some(after) = reminder_after {
                let every = after.min(Duration::from_secs(3600));
                if last_reminder.elapsed() >= every {
                    last_reminder = std::time::Instant::now();
                    match self.applications().remind_overdue_tasks(after).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(reminders = n, "reminded approvers of overdue tasks")
                        }
                        Err(e) => tracing::warn!(error = %e, "reminders failed"),
                    }
                }
            }
            if let Some(n) = &notifier {
                match self.channels().send_notification_emails(n.as_ref()).await {
                    Ok(0) => {}
                    Ok(sent) => tracing::info!(channel = n.channel(), sent, "notifications sent"),
                    Err(e) => tracing::warn!(
                        channel = n.channel(),
                        error = %e,
                        "notification delivery failed; will retry"
                    ),
                }
            }
        }
    }

    /// Post group channels' deliveries every 10 s (a full round is followed at once by
    /// the next); prune finished deliveries past their retention hourly.
    async fn run_channel_deliveries(self, outbound: Outbound) {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            if last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                last_prune = Some(std::time::Instant::now());
                match self.channels().prune_channel_deliveries(now_us()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "notification channel deliveries pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning channel deliveries failed"),
                }
            }
            loop {
                match self
                    .channels()
                    .deliver_channel_notifications(&outbound, now_us())
                    .await
                {
                    Ok(r) if r.is_empty() => break,
                    Ok(r) => tracing::info!(
                        sent = r.sent,
                        retrying = r.retrying,
                        given_up = r.given_up,
                        "notification channel deliveries"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "notification channel deliveries failed; will retry");
                        break;
                    }
                }
            }
        }
    }
}

/// Stops a spawned task when its owner ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The console address of `public_url` (the configuration's text): http or https, a
/// host, no user name or password, no query or fragment, no control characters; kept
/// without its trailing `/`. `Err` says which rule failed (Chinese / English).
pub fn check_public_url(text: &str) -> Result<String, String> {
    let url = crate::outbound::check_url(text.trim()).map_err(|rule| {
        format!("public_url：{rule} / public_url is not a valid http(s) address")
    })?;
    if url.query().is_some() {
        return Err("public_url 不能含 ? 查询参数 / public_url must not hold a query".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The console page a notification is about, as a path: the application, or the queue
/// or list its kind is handled on. `None`: no page.
pub(crate) fn page_of(kind: &str, application_id: Option<i64>) -> Option<String> {
    if let Some(id) = application_id {
        return Some(format!("/applications/{id}"));
    }
    let path = match kind {
        "quality.assigned" => "/quality",
        crate::channels::STORED_DUPLICATES_FOUND => "/duplicates",
        crate::channels::STORED_CODE_CAPACITY => "/rules",
        // Reminders are listed on the dashboard.
        "reminder" => "/",
        _ => return None,
    };
    Some(path.to_string())
}

impl Channels<'_> {
    /// The full link to a notification's page under `public_url`, when configured.
    pub(crate) fn link_of(&self, kind: &str, application_id: Option<i64>) -> Option<String> {
        let base = self.app.config.public_url.as_deref()?;
        page_of(kind, application_id).map(|p| format!("{base}{p}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked() {
        assert_eq!(
            check_public_url("https://custos.example.com/").as_deref(),
            Ok("https://custos.example.com")
        );
        assert_eq!(
            check_public_url("http://10.0.0.5:8080/custos").as_deref(),
            Ok("http://10.0.0.5:8080/custos")
        );
        for bad in [
            "ftp://custos.example.com",
            "https://admin:pw@custos.example.com",
            "https://custos.example.com/\u{7}",
            "https://custos.example.com/?a=1",
            "https://custos.example.com/#top",
            "custos.example.com",
            "",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn notifications_link_to_their_page() {
        assert_eq!(
            page_of("task", Some(12)).as_deref(),
            Some("/applications/12")
        );
        assert_eq!(
            page_of("duplicates.found", None).as_deref(),
            Some("/duplicates")
        );
        assert_eq!(page_of("code.capacity", None).as_deref(), Some("/rules"));
        assert_eq!(page_of("something", None), None);
    }
}
