//! Group notification channels (通知渠道): a DingTalk (钉钉) custom group robot, a WeCom
//! (企业微信) group robot or a generic webhook receives the notifications of chosen kinds
//! whose recipients sit in chosen departments.
//!
//! - Which notifications: each channel lists [`NotificationKind`]s, and optionally
//!   departments. A notification belongs to the department of its **recipient** (the
//!   approver of a task, the applicant of a decision, the owner of a follow-up); a listed
//!   department includes its sub-departments; no department listed: every department.
//! - When: a delivery row per (channel, notification) is written in the transaction of
//!   the notification (see [`queue_for_channels`]), so none is lost or sent for a change
//!   that rolled back; the worker of `custos serve` posts them (`deliver.rs`), with its
//!   own attempts, lease, backoff and last error per delivery, apart from e-mail.
//! - What: group robots reach a wider audience than the recipient, so their message is
//!   the notification's title (application number or customer code, never a masked field
//!   or a person's data), its kind and time; the generic webhook (a system of the
//!   organisation) also gets the body the recipient sees.
//! - Secrets: the URL (a WeCom robot's key is in it, a DingTalk robot's access token too)
//!   and the signing secret are stored encrypted under the PII key and never shown back;
//!   lists show the URL's scheme and host only.

mod admin;
mod deliver;
mod message;

use serde::{Deserialize, Serialize};

pub(crate) use deliver::queue_for_channels;
pub use deliver::{DeliveryRound, MAX_ATTEMPTS};

/// `[notification_channels]` settings.
#[derive(Debug, Clone)]
pub struct ChannelsConfig {
    /// Days a finished delivery (sent or given up) is kept for the channel's log
    /// (default 30); pending deliveries are kept until they finish.
    pub log_retention_days: u32,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig {
            log_retention_days: 30,
        }
    }
}

/// What kind of receiver a channel posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// DingTalk custom group robot (钉钉自定义机器人), optionally signed (加签).
    Dingtalk,
    /// WeCom group robot (企业微信群机器人); the key in its URL is the secret.
    Wecom,
    /// Any HTTPS receiver; signed with `X-Custos-Signature` when a secret is set.
    Webhook,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Dingtalk => "dingtalk",
            Provider::Wecom => "wecom",
            Provider::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        [Provider::Dingtalk, Provider::Wecom, Provider::Webhook]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// `notifications.kind` of a duplicate scan's new groups.
pub(crate) const STORED_DUPLICATES_FOUND: &str = "duplicates.found";
/// `notifications.kind` of a code-capacity warning.
pub(crate) const STORED_CODE_CAPACITY: &str = "code.capacity";

/// The kinds of notification a channel may receive (the notifications custos writes).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// An approval task waits (`task`: assigned, reassigned or handed over).
    TaskPending,
    /// A task has waited longer than `[applications] reminder_after_hours` (催办).
    TaskOverdue,
    /// An application was approved, rejected or returned for revision.
    ApplicationDecided,
    /// An application passed a step, or was withdrawn by its applicant.
    ApplicationProgress,
    /// Customers were assigned for completing their data (数据质量待完善).
    QualityAssigned,
    /// A follow-up's next date or a contract's service expiry is due (提醒).
    FollowupDue,
    /// A duplicate scan put new groups in the review queue (重复客户待处理); written to
    /// the holders of `duplicate.manage`.
    DuplicatesFound,
    /// A sequence scope of a code rule fell below its warning threshold of remaining
    /// codes (编码容量预警); written to the holders of `rule.manage`, once per crossing.
    CodeCapacity,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 8] = [
        NotificationKind::TaskPending,
        NotificationKind::TaskOverdue,
        NotificationKind::ApplicationDecided,
        NotificationKind::ApplicationProgress,
        NotificationKind::QualityAssigned,
        NotificationKind::FollowupDue,
        NotificationKind::DuplicatesFound,
        NotificationKind::CodeCapacity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::TaskPending => "task_pending",
            NotificationKind::TaskOverdue => "task_overdue",
            NotificationKind::ApplicationDecided => "application_decided",
            NotificationKind::ApplicationProgress => "application_progress",
            NotificationKind::QualityAssigned => "quality_assigned",
            NotificationKind::FollowupDue => "followup_due",
            NotificationKind::DuplicatesFound => "duplicates_found",
            NotificationKind::CodeCapacity => "code_capacity",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Its name in Chinese, as messages show it.
    pub fn zh(self) -> &'static str {
        match self {
            NotificationKind::TaskPending => "待审批",
            NotificationKind::TaskOverdue => "审批催办",
            NotificationKind::ApplicationDecided => "审批结果",
            NotificationKind::ApplicationProgress => "申请进展",
            NotificationKind::QualityAssigned => "资料待完善",
            NotificationKind::FollowupDue => "跟进与合同提醒",
            NotificationKind::DuplicatesFound => "重复客户待处理",
            NotificationKind::CodeCapacity => "编码容量预警",
        }
    }

    /// The kind of a stored notification (`notifications.kind`, and whether it is about
    /// an application); `None` for one no channel receives.
    pub fn of(kind: &str, application_id: Option<i64>) -> Option<NotificationKind> {
        Some(match (kind, application_id) {
            ("task", _) => NotificationKind::TaskPending,
            ("reminder", Some(_)) => NotificationKind::TaskOverdue,
            ("reminder", None) => NotificationKind::FollowupDue,
            ("approved" | "reject" | "return", _) => NotificationKind::ApplicationDecided,
            ("progress" | "withdrawn", _) => NotificationKind::ApplicationProgress,
            ("quality.assigned", _) => NotificationKind::QualityAssigned,
            (STORED_DUPLICATES_FOUND, _) => NotificationKind::DuplicatesFound,
            (STORED_CODE_CAPACITY, _) => NotificationKind::CodeCapacity,
            _ => return None,
        })
    }
}

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
}

/// Deliveries of a channel by state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryTally {
    pub pending: i64,
    pub sent: i64,
    /// Given up after the last attempt.
    pub failed: i64,
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
    pub created_at: String,
    pub deliveries: DeliveryTally,
}

/// One delivery of a channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub notification_id: i64,
    /// `pending`, `sent` or `failed` (given up).
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

/// The use cases of notification delivery: e-mail and group channels; `App::channels` gives it out.
pub struct Channels<'a> {
    pub(crate) app: &'a crate::App,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_kinds_map_to_channel_kinds() {
        use NotificationKind as K;
        assert_eq!(NotificationKind::of("task", Some(1)), Some(K::TaskPending));
        assert_eq!(
            NotificationKind::of("reminder", Some(1)),
            Some(K::TaskOverdue)
        );
        assert_eq!(NotificationKind::of("reminder", None), Some(K::FollowupDue));
        for decided in ["approved", "reject", "return"] {
            assert_eq!(
                NotificationKind::of(decided, Some(1)),
                Some(K::ApplicationDecided)
            );
        }
        for progress in ["progress", "withdrawn"] {
            assert_eq!(
                NotificationKind::of(progress, Some(1)),
                Some(K::ApplicationProgress)
            );
        }
        assert_eq!(
            NotificationKind::of("quality.assigned", None),
            Some(K::QualityAssigned)
        );
        assert_eq!(
            NotificationKind::of("duplicates.found", None),
            Some(K::DuplicatesFound)
        );
        assert_eq!(
            NotificationKind::of("code.capacity", None),
            Some(K::CodeCapacity)
        );
        assert_eq!(NotificationKind::of("something.else", None), None);
        for k in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_value(k).expect("json");
            assert_eq!(json, k.as_str());
        }
        assert_eq!(Provider::parse("wecom"), Some(Provider::Wecom));
        assert_eq!(Provider::parse("slack"), None);
    }
}
