//! `[nats]`: publish the event log to NATS JetStream, for shops that run an event bus.
//! Off unless `url` is set.
//!
//! ```toml
//! [nats]
//! url = "nats://127.0.0.1:4222"   # CUSTOS_NATS_URL; tls://… for TLS
//! subject_prefix = "custos"       # subjects custos.customer.merged, custos.code.issued …
//! stream = "CUSTOS"               # created when missing, on <prefix>.>; "" leaves streams to the operator
//! start = "latest"                # where the publisher starts the first time: latest | oldest
//! lease_seconds = 30              # a crashed server's turn passes to another this much later
//! user = "custos"                 # password: CUSTOS_NATS_PASSWORD or CUSTOS_NATS_PASSWORD_FILE
//! ca_file = "/etc/custos/nats-ca.pem"
//! ```
//!
//! Every event becomes one message on `<prefix>.<type>` with the event's JSON (as the
//! change feed shows it) and the event id as `Nats-Msg-Id`, so JetStream drops a message
//! handed on twice (after a crash) within the stream's duplicate window. Messages go
//! out in log order and the relay moves on only when JetStream acknowledged them.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use custos_app::events::{EventSink, EventView, RelayStart, SinkFuture};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::secret_env::secret_env;

/// The relay's name in the database.
pub const RELAY_NAME: &str = "nats";
/// Events per batch (each batch is acknowledged before the cursor moves).
const BATCH: u32 = 500;
/// Longest wait for the server to connect or acknowledge.
const TIMEOUT: Duration = Duration::from_secs(10);
/// JetStream's window for dropping a message id seen before, for a stream custos creates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSection {
    pub url: Option<String>,
    pub subject_prefix: Option<String>,
    pub stream: Option<String>,
    pub start: Option<String>,
    pub lease_seconds: Option<u64>,
    pub user: Option<String>,
    pub ca_file: Option<PathBuf>,
}

/// The publisher's settings, checked.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    pub url: String,
    pub subject_prefix: String,
    /// The stream to create when missing (none: the operator manages streams).
    pub stream: Option<String>,
    pub start: RelayStart,
    pub lease: Duration,
    pub user: Option<(String, String)>,
    pub token: Option<String>,
    pub ca_file: Option<PathBuf>,
}

impl NatsSection {
    /// The checked settings, or none when no URL is configured.
    pub fn settings(self) -> Result<Option<NatsSettings>, String> {
        let url = std::env::var("CUSTOS_NATS_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .or(self.url);
        let Some(url) = url else {
            return Ok(None);
        };
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) || url.len() > 1024 {
            return Err(
                "[nats] url 不能含空白或控制字符 / url must not hold blanks or control characters"
                    .into(),
            );
        }
        let subject_prefix = self.subject_prefix.unwrap_or_else(|| "custos".into());
        if !valid_subject(&subject_prefix) {
            return Err(format!(
                "[nats] subject_prefix “{subject_prefix}” 须由字母、数字、_ 或 - 组成，可用 . 分段 / \
                 must be letters, digits, _ or -, in parts separated by ."
            ));
        }
        let stream = match self.stream.as_deref() {
            None => Some("CUSTOS".to_string()),
            Some("") => None,
            Some(s) if s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
                Some(s.to_string())
            }
            Some(s) => {
                return Err(format!(
                    "[nats] stream “{s}” 须为 1–64 位字母、数字、_ 或 - / must be 1–64 letters, digits, _ or -"
                ))
            }
        };
        let start = match self.start.as_deref() {
            None | Some("latest") => RelayStart::Latest,
            Some("oldest") => RelayStart::Oldest,
            Some(other) => {
                return Err(format!(
                    "[nats] start “{other}” 须为 latest 或 oldest / must be latest or oldest"
                ))
            }
        };
        let lease = match self.lease_seconds.unwrap_or(30) {
            s @ 2..=600 => Duration::from_secs(s),
            _ => return Err("[nats] lease_seconds 须为 2–600 / must be 2–600".into()),
        };
        let password = secret_env("CUSTOS_NATS_PASSWORD")?;
        let user = match (self.user, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                return Err(
                    "[nats] user 与 CUSTOS_NATS_PASSWORD 须同时给出 / user and CUSTOS_NATS_PASSWORD go together"
                        .into(),
                )
            }
        };
        Ok(Some(NatsSettings {
            url,
            subject_prefix,
            stream,
            start,
            lease,
            user,
            token: secret_env("CUSTOS_NATS_TOKEN")?,
            ca_file: self.ca_file,
        }))
    }
}

/// A subject of NATS tokens (no wildcards, no blanks).
fn valid_subject(s: &str) -> bool {
    s.len() <= 128
        && s.split('.').all(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// The JetStream publisher: connects on first use and again after a failure.
pub struct NatsSink {
    settings: NatsSettings,
    context: Mutex<Option<jetstream::Context>>,
}

impl NatsSink {
    pub fn new(settings: NatsSettings) -> NatsSink {
        NatsSink {
            settings,
            context: Mutex::new(None),
        }
    }

    async fn context(&self) -> Result<jetstream::Context, String> {
        let mut held = self.context.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        let s = &self.settings;
        let mut options = async_nats::ConnectOptions::new()
            .name("custos")
            .connection_timeout(TIMEOUT)
            .request_timeout(Some(TIMEOUT));
        if let Some((user, password)) = &s.user {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &s.token {
            options = options.token(token.clone());
        }
        if let Some(ca) = &s.ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        let client = tokio::time::timeout(TIMEOUT, options.connect(s.url.as_str()))
            .await
            .map_err(|_| format!("no answer from NATS at {} within {TIMEOUT:?}", s.url))?
            .map_err(|e| format!("cannot connect to NATS at {}: {e}", s.url))?;
        let context = jetstream::ContextBuilder::new()
            .timeout(TIMEOUT)
            .build(client);
        if let Some(stream) = &s.stream {
            context
                .get_or_create_stream(jetstream::stream::Config {
                    name: stream.clone(),
                    subjects: vec![format!("{}.>", s.subject_prefix)],
                    duplicate_window: DUPLICATE_WINDOW,
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("cannot set up the JetStream stream {stream}: {e}"))?;
        }
        tracing::info!(url = %s.url, prefix = %s.subject_prefix, "publishing events to NATS JetStream");
        *held = Some(context.clone());
        Ok(context)
    }

    async fn publish_all(&self, events: &[EventView]) -> Result<(), String> {
        let context = self.context().await?;
        let mut acks: Vec<PublishAckFuture> = Vec::with_capacity(events.len());
        for e in events {
            let body = serde_json::to_vec(e).map_err(|e| e.to_string())?;
            let message = PublishMessage::build()
                .message_id(&e.id)
                .header("Custos-Seq", e.seq.to_string().as_str())
                .header("Custos-Type", e.kind.as_str())
                .payload(body.into());
            let subject = format!("{}.{}", self.settings.subject_prefix, e.kind);
            let ack = context
                .send_publish(subject, message)
                .await
                .map_err(|err| format!("publishing event {}: {err}", e.seq))?;
            acks.push(ack);
        }
        for (ack, e) in acks.into_iter().zip(events) {
            ack.await
                .map_err(|err| format!("JetStream did not take event {}: {err}", e.seq))?;
        }
        Ok(())
    }
}

impl EventSink for NatsSink {
    fn publish<'a>(&'a self, events: &'a [EventView]) -> SinkFuture<'a> {
        Box::pin(async move {
            let result = self.publish_all(events).await;
            if result.is_err() {
                // Connect afresh next time (the stream may have been deleted, the
                // credentials changed, the server moved).
                *self.context.lock().await = None;
            }
            result
        })
    }
}

/// The relay the server runs for `settings`.
pub fn relay(settings: &NatsSettings) -> custos_app::events::EventRelay {
    let mut relay = custos_app::events::EventRelay::new(RELAY_NAME, settings.start, BATCH);
    relay.lease = settings.lease;
    relay
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> Result<Option<NatsSettings>, String> {
        toml::from_str::<NatsSection>(toml_text)
            .map_err(|e| e.to_string())?
            .settings()
    }

    #[test]
    fn settings_are_checked() {
        assert!(section("").unwrap().is_none());
        let s = section("url = \"nats://127.0.0.1:4222\"").unwrap().unwrap();
        assert_eq!(s.subject_prefix, "custos");
        assert_eq!(s.stream.as_deref(), Some("CUSTOS"));
        assert_eq!(s.start, RelayStart::Latest);
        let s = section("url = \"nats://h\"\nstream = \"\"\nstart = \"oldest\"\nsubject_prefix = \"mdm.custos\"")
            .unwrap()
            .unwrap();
        assert!(s.stream.is_none());
        assert_eq!(s.start, RelayStart::Oldest);
        for bad in [
            "url = \"nats://h\"\nsubject_prefix = \"custos.>\"",
            "url = \"nats://h\"\nsubject_prefix = \"a..b\"",
            "url = \"nats://h\"\nsubject_prefix = \"客户\"",
            "url = \"nats://h\"\nstream = \"A B\"",
            "url = \"nats://h\"\nstart = \"yesterday\"",
            "url = \"nats://h\"\nlease_seconds = 1",
            "url = \"nats://h x\"",
            "url = \"nats://h\"\nuser = \"custos\"",
            "url = \"nats://h\"\nunknown = 1",
        ] {
            assert!(section(bad).is_err(), "{bad}");
        }
    }
}
