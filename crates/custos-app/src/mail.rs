//! The SMTP channel of notifications (off unless configured); see `notify.rs` for the
//! worker that leases unsent notifications, hands them to a channel and marks them
//! sent, so an outage of the mail relay delays e-mail without ever blocking or failing
//! an approval. The client speaks plain SMTP to a relay inside the organisation (no
//! STARTTLS, no AUTH); subjects are RFC 2047 encoded and bodies base64 UTF-8, so Chinese
//! text arrives intact.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::{AppError, AppResult};
pub use crate::notify::Mail;
use crate::notify::{Delivery, Notifier};

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// Envelope and `From:` address.
    pub from: String,
    /// Per-command timeout.
    pub timeout: Duration,
    /// Give up on a notification after this many attempts.
    pub max_attempts: i64,
}

impl SmtpConfig {
    pub fn new(host: impl Into<String>, port: u16, from: impl Into<String>) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port,
            from: from.into(),
            timeout: Duration::from_secs(15),
            max_attempts: 5,
        }
    }
}

fn smtp_err(what: &str) -> AppError {
    AppError::Internal(format!("smtp: {what}"))
}

/// `=?UTF-8?B?…?=` for a header with non-ASCII text.
pub fn encode_header(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    format!("=?UTF-8?B?{}?=", STANDARD.encode(text.as_bytes()))
}

/// An address must not smuggle in SMTP commands or headers.
pub(crate) fn address_ok(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 254
        && a.contains('@')
        && !a
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>' || c == ' ')
}

/// The RFC 5322 message: headers, blank line, base64 body wrapped at 76.
pub fn render_message(from: &str, m: &Mail, now: chrono::DateTime<chrono::Utc>) -> String {
    let body = STANDARD.encode(m.body.as_bytes());
    let mut wrapped = String::new();
    for chunk in body.as_bytes().chunks(76) {
        wrapped.push_str(&String::from_utf8_lossy(chunk));
        wrapped.push_str("\r\n");
    }
    let id = format!(
        "<{}.{}@custos>",
        now.timestamp_micros(),
        rand::random::<u32>()
    );
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {id}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}",
        to = m.to,
        subject = encode_header(&m.subject),
        date = now.to_rfc2822(),
    )
}

struct Session {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    timeout: Duration,
}

impl Session {
    async fn reply(&mut self) -> AppResult<(u16, String)> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.timeout, self.reader.read_line(&mut line))
                .await
                .map_err(|_| smtp_err("timed out waiting for the server"))?
                .map_err(|e| smtp_err(&e.to_string()))?;
            if n == 0 {
                return Err(smtp_err("connection closed"));
            }
            text.push_str(&line);
            // "250-…" continues, "250 …" ends a reply.
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return Ok((code, text));
            }
        }
    }

    async fn send(&mut self, data: &str) -> AppResult<()> {
        tokio::time::timeout(self.timeout, self.writer.write_all(data.as_bytes()))
            .await
            .map_err(|_| smtp_err("timed out sending"))?
            .map_err(|e| smtp_err(&e.to_string()))
    }

    async fn command(&mut self, cmd: &str, expect: u16) -> AppResult<()> {
        self.send(&format!("{cmd}\r\n")).await?;
        let (code, text) = self.reply().await?;
        if code != expect {
            return Err(smtp_err(&format!("'{cmd}' answered {}", text.trim())));
        }
        Ok(())
    }
}

/// Send messages over one SMTP connection.
pub async fn send_mail(cfg: &SmtpConfig, mails: &[Mail]) -> AppResult<()> {
    if !address_ok(&cfg.from) {
        return Err(smtp_err("invalid sender address"));
    }
    let stream = tokio::time::timeout(
        cfg.timeout,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    .map_err(|_| smtp_err("connect timed out"))?
    .map_err(|e| smtp_err(&format!("cannot connect to {}:{}: {e}", cfg.host, cfg.port)))?;
    let (r, w) = stream.into_split();
    let mut s = Session {
        reader: BufReader::new(r),
        writer: w,
        timeout: cfg.timeout,
    };
    let (code, text) = s.reply().await?;
    if code != 220 {
        return Err(smtp_err(&format!("greeting {}", text.trim())));
    }
    s.command("EHLO custos", 250).await?;
    for m in mails {
        if !address_ok(&m.to) {
            continue;
        }
        s.command(&format!("MAIL FROM:<{}>", cfg.from), 250).await?;
        s.command(&format!("RCPT TO:<{}>", m.to), 250).await?;
        s.command("DATA", 354).await?;
        // Base64 lines never start with '.', so no dot-stuffing is needed.
        let msg = render_message(&cfg.from, m, chrono::Utc::now());
        s.send(&msg).await?;
        s.command(".", 250).await?;
    }
    let _ = s.command("QUIT", 221).await;
    Ok(())
}

impl Notifier for SmtpConfig {
    fn channel(&self) -> &'static str {
        "smtp"
    }

    fn max_attempts(&self) -> i64 {
        self.max_attempts
    }

    fn deliver<'a>(&'a self, messages: &'a [Mail]) -> Delivery<'a> {
        Box::pin(send_mail(self, messages))
    }
}

impl crate::App {
    /// [`crate::App::run_notifications`] with SMTP as the channel when it is configured.
    pub async fn run_notification_worker(
        self,
        smtp: Option<SmtpConfig>,
        outbound: crate::outbound::Outbound,
        reminder_after: Option<Duration>,
    ) {
        let notifier = smtp.map(|cfg| Box::new(cfg) as Box<dyn Notifier>);
        self.run_notifications(notifier, outbound, reminder_after)
            .await
    }
}
