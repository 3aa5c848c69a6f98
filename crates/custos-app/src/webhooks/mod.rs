//! Webhooks (`webhooks.manage`): subscriptions that receive the events of the ordered
//! event log by HTTP POST, signed with a per-subscription secret.
//!
//! The write path never waits for a receiver: a use case only writes its event. The
//! worker ([`App::run_webhook_worker`], started by `custos serve`) fans events out after
//! each subscription's cursor into delivery rows — filtered by the subscription's types
//! and by its owner account's data scope, the rule of the change feed — and moves the
//! cursor in the same transaction; then it claims due deliveries with a lease and posts
//! them, a bounded number at a time, each bounded by the outbound client's timeouts.
//!
//! Order: for one subscription, the events of one customer (its *lane*; events about no
//! customer share one lane) are delivered in `seq` order — a delivery is claimed only
//! when no earlier delivery of its lane is pending — so a failing customer holds back
//! only its own later events. At least once: a worker that dies mid-delivery loses its
//! lease and the delivery is posted again, with the same event id, for the receiver to
//! de-duplicate. Failures are retried with exponential backoff and jitter, and moved to
//! the dead letters after `[webhooks] dead_letter_after_hours` of failing.
//!
//! Outcomes are recorded in batches: the worker keeps the outcomes of the attempts that
//! finish within a short window (see [`WebhooksConfig::record_window`]) and writes them,
//! with their log lines, in one transaction — on SQLite's single writer one commit per
//! attempt was what limited throughput. A delivery whose outcome is not yet written is
//! still pending under its lease, so its lane waits and no other worker takes it; if the
//! worker dies before the write, the lease runs out and the delivery is posted again with
//! the same event id, as for a death mid-request.

mod deliver;
mod manage;
mod service;
mod sign;
mod worker;
pub use service::Webhooks;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use sign::{signature_header, verify_signature};

/// How an attempt of the delivery log ended (`WebhookAttemptView::outcome`).
pub const ATTEMPT_OUTCOMES: [&str; 5] = ["delivered", "retry", "dead", "lost", "ping"];

/// Event type of a test ping (never in the event log).
pub const PING_TYPE: &str = "webhook.ping";

/// `[webhooks]` settings.
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// A delivery failing for this long since its first attempt is dead (default 24 h).
    pub dead_letter_after: Duration,
    /// The first retry waits this long, doubling each time (default 1 s) …
    pub retry_base: Duration,
    /// … up to this (default 10 min); each wait is drawn at random from its upper half.
    pub retry_cap: Duration,
    /// How long a claimed delivery is held before another worker may take it; at least
    /// the outbound timeout plus a second (default 60 s).
    pub lease: Duration,
    /// How often the worker looks for new events and due deliveries (default 200 ms).
    pub poll: Duration,
    /// Deliveries in flight at once per server (default 16).
    pub concurrency: usize,
    /// The worker records the outcomes (and log lines) of the attempts that finish within
    /// this window of the first one in one transaction (default 50 ms) …
    pub record_window: Duration,
    /// … or as soon as this many wait (default 64). Until then a delivery stays leased,
    /// holding back the later events of its lane.
    pub record_batch: usize,
    /// Days the delivery log and finished deliveries are kept (default 30).
    pub log_retention_days: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            dead_letter_after: Duration::from_secs(24 * 3600),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(200),
            concurrency: 16,
            record_window: Duration::from_millis(50),
            record_batch: 64,
            log_retention_days: 30,
        }
    }
}

/// A new subscription.
#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Unique name, 1–64 characters.
    pub name: String,
    /// `http://` or `https://` address the events are posted to.
    pub url: String,
    /// Event types to send (see the change feed); empty: every type.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Default true.
    #[serde(default)]
    pub active: Option<bool>,
    /// Username of the account (a user or a service account holding `events.read`)
    /// whose data scope filters the events; default: the caller.
    #[serde(default)]
    pub owner: Option<String>,
}

/// A change of a subscription: absent fields stay.
#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub owner: Option<String>,
}

/// A subscription as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub active: bool,
    pub owner_id: i64,
    pub owner: String,
    /// The last event seq queued for this subscription.
    pub cursor: i64,
    /// Deliveries waiting (or being retried), delivered (still in the log), dead.
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A subscription just made, or whose secret was just rotated: the secret is in this
/// answer only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookWithSecret {
    /// HMAC-SHA256 key of `X-Custos-Signature` (the text itself, as UTF-8 bytes).
    pub secret: String,
    pub webhook: WebhookView,
}

/// One HTTP attempt of the delivery log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookAttemptView {
    pub id: i64,
    /// The `X-Custos-Delivery` header of the attempt.
    pub attempt_id: String,
    pub delivery_id: Option<i64>,
    pub seq: Option<i64>,
    pub event_id: String,
    pub event_type: String,
    pub at: String,
    /// The receiver's HTTP status; absent when there was no answer.
    pub status: Option<i64>,
    pub latency_ms: i64,
    /// `delivered`, `retry` (failed, will be tried again), `dead` (failed, given up),
    /// `lost` (answered after the lease ran out; another worker redelivers) or `ping`.
    pub outcome: String,
    /// Why it failed, or the start of the receiver's answer.
    pub error: Option<String>,
}

/// A subscription with the newest line of its delivery log (what the console's list
/// shows).
#[derive(Debug, Clone)]
pub struct WebhookWithLastAttempt {
    pub webhook: WebhookView,
    /// Absent when nothing was ever sent to it (or the log was pruned).
    pub last_attempt: Option<WebhookAttemptView>,
}

/// A page of the delivery log, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookAttemptPage {
    pub items: Vec<WebhookAttemptView>,
    /// Pass as `before` for older lines; absent on the last page.
    pub next_before: Option<i64>,
}

/// A replay: queue the events from this seq again.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The first event seq to send again (1 or more).
    pub from: i64,
}

/// What a replay queued.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplayResult {
    /// Deliveries queued (events the subscription's types and owner's scope admit).
    pub queued: i64,
    /// Events from this seq …
    pub from: i64,
    /// … through this one were looked at.
    pub through: i64,
    /// When more events remain up to the cursor: replay again from this seq.
    pub next_from: Option<i64>,
}

/// What a test ping got.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PingResult {
    pub delivered: bool,
    pub attempt_id: String,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}
