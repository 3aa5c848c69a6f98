//! A channel as callers submit it and as the API shows it, with its deliveries.

use serde::{Deserialize, Serialize};

use super::kinds::{NotificationKind, Provider};

/// A new channel.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// Unique name (1–64 characters), e.g. `华东销售群`.
    pub name: String,
    pub provider: Provider,
    /// The robot's or receiver's URL (http/https, at most 2048 characters). DingTalk:
    /// `https://oapi.dingtalk.com/robot/send?access_token=…`; WeCom:
    /// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`.
    pub url: String,
    /// DingTalk signing secret (加签, `SEC…`) or the webhook's HMAC secret (16–256
    /// printable ASCII characters); WeCom robots have none.
    #[serde(default)]
    pub secret: Option<String>,
    /// The notification kinds it receives (at least one).
    pub kinds: Vec<NotificationKind>,
    /// Departments whose members' notifications it receives, sub-departments included;
    /// empty: every department.
    #[serde(default)]
    pub departments: Vec<i64>,
}

/// A change of a channel: only the fields given change (the provider cannot).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// A new secret, or `null` to remove it.
    #[serde(default, with = "crate::org::double_option")]
    #[schema(value_type = Option<String>)]
    pub secret: Option<Option<String>>,
    #[serde(default)]
    pub kinds: Option<Vec<NotificationKind>>,
    #[serde(default)]
    pub departments: Option<Vec<i64>>,
    /// `false` pauses the channel: nothing is queued for it from then on and its pending
    /// deliveries are cancelled (never sent, also not on resuming); `true` resumes it
    /// for what happens afterwards.
    #[serde(default)]
    pub active: Option<bool>,
}

impl ChannelPatch {
    /// Whether the patch changes a setting besides `active`.
    pub(super) fn changes_settings(&self) -> bool {
        self.name.is_some()
            || self.url.is_some()
            || self.secret.is_some()
            || self.kinds.is_some()
            || self.departments.is_some()
    }
}

/// Deliveries of a channel by state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryTally {
    pub pending: i64,
    pub sent: i64,
    /// Given up after the last attempt.
    pub failed: i64,
    /// Pending when the channel was paused, so never sent.
    pub cancelled: i64,
}

/// A channel as the API shows it: never its URL in full nor its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    pub provider: Provider,
    /// The URL's scheme and host only (`https://oapi.dingtalk.com/…`).
    pub url_masked: String,
    pub has_secret: bool,
    pub kinds: Vec<NotificationKind>,
    pub departments: Vec<i64>,
    /// `false` while paused: nothing is queued for it or sent to it.
    pub active: bool,
    pub created_at: String,
    pub deliveries: DeliveryTally,
}

/// One delivery of a channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub notification_id: i64,
    /// `pending`, `sent`, `failed` (given up) or `cancelled` (the channel was paused
    /// before it went).
    pub state: String,
    pub attempts: i64,
    /// When it is tried next (pending) .
    pub next_at: Option<String>,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
}

/// How a test message went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestOutcome {
    pub ok: bool,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it failed (transport error, HTTP status or the robot's `errcode`/`errmsg`).
    pub error: Option<String>,
    pub elapsed_ms: u64,
}
