//! E-mail for notifications over SMTP (off unless configured).
//!
//! Notifications are written in the transaction of the change they announce; a sender
//! loop leases unsent ones, delivers them, and marks them sent, so an outage of the mail
//! relay delays e-mail without ever blocking or failing an approval. The client speaks
//! plain SMTP to a relay inside the organisation (no STARTTLS, no AUTH); subjects are RFC
//! 2047 encoded and bodies base64 UTF-8, so Chinese text arrives intact.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use custos_store::now_us;

use crate::error::{AppError, AppResult};
use crate::App;

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

/// One message to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
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
fn address_ok(a: &str) -> bool {
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

impl App {
    /// E-mail notifications that have not been sent yet (created within the last day).
    /// Returns how many were sent. A failed send leaves them for a later attempt.
    pub async fn send_notification_emails(&self, cfg: &SmtpConfig) -> AppResult<usize> {
        let now = now_us();
        let lease = now + 5 * 60 * 1_000_000;
        let mut tx = self.db.begin().await?;
        let claimed = tx
            .claim_email_notifications(now, lease, now - 86_400_000_000, cfg.max_attempts, 50)
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
                    "{}\r\n\r\n—— 客户主数据与编码管理系统 custos（系统自动发送，请勿回复）",
                    n.body
                ),
            })
            .collect();
        send_mail(cfg, &mails).await?;
        let mut tx = self.db.begin().await?;
        for (n, _) in &claimed {
            tx.mark_notification_emailed(n.id, now_us()).await?;
        }
        tx.commit().await?;
        Ok(claimed.len())
    }
}

impl App {
    /// Background work of notifications, run by `custos serve`: e-mail unsent
    /// notifications every 30 s (when SMTP is configured) and remind approvers of tasks
    /// pending longer than `reminder_after` (when set). Errors are logged and retried.
    pub async fn run_notification_worker(
        self,
        smtp: Option<SmtpConfig>,
        reminder_after: Option<Duration>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        let mut last_reminder = std::time::Instant::now();
        loop {
            tick.tick().await;
            if let Some(after) = reminder_after {
                let every = after.min(Duration::from_secs(3600));
                if last_reminder.elapsed() >= every {
                    last_reminder = std::time::Instant::now();
                    match self.remind_overdue_tasks(after).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(reminders = n, "reminded approvers of overdue tasks")
                        }
                        Err(e) => tracing::warn!(error = %e, "reminders failed"),
                    }
                }
            }
            if let Some(cfg) = &smtp {
                match self.send_notification_emails(cfg).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(emails = n, "notification e-mails sent"),
                    Err(e) => tracing::warn!(error = %e, "notification e-mail failed; will retry"),
                }
            }
        }
    }
}
