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
mod kinds;
mod message;
mod service;
mod views;
pub use service::Channels;

pub(crate) use deliver::queue_for_channels;
pub use deliver::{DeliveryRound, MAX_ATTEMPTS};
pub use kinds::{NotificationKind, Provider};
pub(crate) use kinds::{STORED_CODE_CAPACITY, STORED_DUPLICATES_FOUND};
pub use views::{ChannelPatch, ChannelView, DeliveryTally, DeliveryView, NewChannel, TestOutcome};

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
