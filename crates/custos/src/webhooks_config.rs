//! `[outbound]`, `[webhooks]` and `[notification_channels]` of `custos.toml`: timeouts and
//! CA of outbound HTTP, retries and the delivery log of webhook subscriptions, and how long
//! the deliveries of notification channels are kept.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[outbound]`: HTTP requests custos makes (webhook deliveries).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    /// Seconds to open a connection (default 5, 1–60).
    pub connect_timeout_seconds: Option<u64>,
    /// Seconds for a whole request, answer included (default 10, 1–120).
    pub timeout_seconds: Option<u64>,
    /// A PEM file of extra CA certificates (a company CA of internal receivers).
    pub ca_file: Option<PathBuf>,
}

impl OutboundSection {
    pub(crate) fn apply(self, to: &mut custos_app::outbound::OutboundConfig) -> Result<(), String> {
        if let Some(s) = self.connect_timeout_seconds {
            if !(1..=60).contains(&s) {
                return Err("[outbound] connect_timeout_seconds 须为 1–60 / must be 1–60".into());
            }
            to.connect_timeout = Duration::from_secs(s);
        }
        if let Some(s) = self.timeout_seconds {
            if !(1..=120).contains(&s) {
                return Err("[outbound] timeout_seconds 须为 1–120 / must be 1–120".into());
            }
            to.timeout = Duration::from_secs(s);
        }
        if self.ca_file.is_some() {
            to.ca_file = self.ca_file;
        }
        Ok(())
    }
}

/// `[webhooks]`: retries and the delivery log of webhook subscriptions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSection {
    /// Hours a delivery may keep failing before it is dead (default 24, 1–720).
    pub dead_letter_after_hours: Option<u64>,
    /// Deliveries in flight at once per server (default 16, 1–256).
    pub concurrency: Option<usize>,
    /// Days the delivery log is kept (default 30, 1–3650).
    pub log_retention_days: Option<u32>,
}

impl WebhooksSection {
    pub(crate) fn apply(self, to: &mut custos_app::webhooks::WebhooksConfig) -> Result<(), String> {
        if let Some(h) = self.dead_letter_after_hours {
            if !(1..=720).contains(&h) {
                return Err("[webhooks] dead_letter_after_hours 须为 1–720 / must be 1–720".into());
            }
            to.dead_letter_after = Duration::from_secs(h * 3600);
        }
        if let Some(n) = self.concurrency {
            if !(1..=256).contains(&n) {
                return Err("[webhooks] concurrency 须为 1–256 / must be 1–256".into());
            }
            to.concurrency = n;
        }
        if let Some(d) = self.log_retention_days {
            if !(1..=3650).contains(&d) {
                return Err("[webhooks] log_retention_days 须为 1–3650 / must be 1–3650".into());
            }
            to.log_retention_days = d;
        }
        Ok(())
    }
}

/// `[notification_channels]`: how long the deliveries of group channels are kept.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsSection {
    /// Days a sent or given-up delivery is kept (default 30, 1–3650).
    pub log_retention_days: Option<u32>,
}

impl ChannelsSection {
    pub(crate) fn apply(self, to: &mut custos_app::channels::ChannelsConfig) -> Result<(), String> {
        if let Some(d) = self.log_retention_days {
            if !(1..=3650).contains(&d) {
                return Err(
                    "[notification_channels] log_retention_days 须为 1–3650 / must be 1–3650"
                        .into(),
                );
            }
            to.log_retention_days = d;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::load;

    fn load_toml(dir: &std::path::Path, toml: &str) -> Result<crate::config::Settings, String> {
        let file = dir.join("custos.toml");
        std::fs::write(&file, toml).unwrap();
        load(Some(&file), None, None, None)
    }

    #[test]
    fn outbound_and_webhooks_sections() {
        let tmp = tempfile::tempdir().unwrap();
        let toml = format!("data_dir = {:?}\n", tmp.path().join("d").to_string_lossy());
        let s = load_toml(tmp.path(), &toml).unwrap();
        assert_eq!(
            s.app.webhooks.dead_letter_after,
            Duration::from_secs(24 * 3600)
        );
        assert_eq!(s.app.outbound.timeout, Duration::from_secs(10));
        let s = load_toml(
            tmp.path(),
            &format!(
                "{toml}[outbound]\ntimeout_seconds = 3\nconnect_timeout_seconds = 2\n\
             [webhooks]\ndead_letter_after_hours = 2\nconcurrency = 4\nlog_retention_days = 7\n\
             [notification_channels]\nlog_retention_days = 9\n"
            ),
        )
        .unwrap();
        assert_eq!(s.app.outbound.timeout, Duration::from_secs(3));
        assert_eq!(s.app.outbound.connect_timeout, Duration::from_secs(2));
        assert_eq!(s.app.webhooks.dead_letter_after, Duration::from_secs(7200));
        assert_eq!(s.app.webhooks.concurrency, 4);
        assert_eq!(s.app.webhooks.log_retention_days, 7);
        assert_eq!(s.app.channels.log_retention_days, 9);
        for bad in [
            "[webhooks]\ndead_letter_after_hours = 0\n",
            "[webhooks]\nconcurrency = 0\n",
            "[notification_channels]\nlog_retention_days = 0\n",
            "[webhooks]\nsecret = 1\n",
            "[outbound]\ntimeout_seconds = 0\n",
        ] {
            assert!(
                load_toml(tmp.path(), &format!("{toml}{bad}")).is_err(),
                "{bad}"
            );
        }
    }
}
