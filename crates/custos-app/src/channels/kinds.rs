//! What a channel posts to ([`Provider`]) and which notifications it may receive
//! ([`NotificationKind`]): what the administration, the messages and the delivery all
//! speak of.

use serde::{Deserialize, Serialize};

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
