//! The SMTP channel of notifications (off unless configured); see `notify.rs` for the
//! worker that leases unsent notifications, hands them to a channel and marks them
//! sent, so an outage of the mail relay delays e-mail without ever blocking or failing
//! an approval. The client speaks SMTP to a relay: plain, STARTTLS or implicit TLS
//! (rustls with the ring provider, the system's CA certificates plus an optional CA
//! file), with AUTH PLAIN or LOGIN when a user is configured — never over a connection
//! that is not encrypted unless that is explicitly allowed. Subjects are RFC 2047 encoded
//! and bodies base64 UTF-8, so Chinese text arrives intact.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::error::{AppError, AppResult};
pub use crate::notify::Mail;
use crate::notify::{Delivery, Notifier};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    /// Plain SMTP (a relay inside the organisation).
    #[default]
    None,
    /// Plain at first, then `STARTTLS` (usually port 587); refused if not offered.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpTls {
    /// `none`, `starttls` or `tls`.
    pub fn parse(s: &str) -> Option<SmtpTls> {
        match s {
            "none" => Some(SmtpTls::None),
            "starttls" => Some(SmtpTls::StartTls),
            "tls" => Some(SmtpTls::Tls),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::None => "none",
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
        }
    }
}

/// The relay's login; the password is never printed.
#[derive(Clone)]
pub struct SmtpAuth {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpAuth {{ user: {:?}, password: *** }}", self.user)
    }
}

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
    pub tls: SmtpTls,
    /// Log in with AUTH PLAIN or LOGIN (whichever the relay offers, PLAIN first).
    pub auth: Option<SmtpAuth>,
    /// Allow AUTH over a connection that is not encrypted (`tls = "none"`): the password
    /// then crosses the network readable. Off by default.
    pub allow_plaintext_auth: bool,
    /// A PEM file of CA certificates trusted beside the system's (a company CA).
    pub ca_file: Option<PathBuf>,
}

impl SmtpConfig {
    pub fn new(host: impl Into<String>, port: u16, from: impl Into<String>) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port,
            from: from.into(),
            timeout: Duration::from_secs(15),
            max_attempts: 5,
            tls: SmtpTls::None,
            auth: None,
            allow_plaintext_auth: false,
            ca_file: None,
        }
    }

    /// Why this configuration cannot work, before any connection is tried.
    pub fn check(&self) -> Result<(), String> {
        if self.auth.is_some() && self.tls == SmtpTls::None && !self.allow_plaintext_auth {
            return Err("[mail] smtp_user 需要 smtp_tls = \"starttls\" 或 \"tls\"；明文连接上登录须显式设置 \
                 smtp_allow_plaintext_auth = true / AUTH over an unencrypted connection is refused: \
                 set smtp_tls, or smtp_allow_plaintext_auth = true"
                .into());
        }
        if let Some(a) = &self.auth {
            if a.user.is_empty() || a.user.chars().any(char::is_control) {
                return Err("[mail] smtp_user is empty or holds control characters".into());
            }
            if a.password.is_empty() {
                return Err("[mail] smtp_user needs smtp_password or smtp_password_file".into());
            }
        }
        if self.tls != SmtpTls::None {
            tls_connector(self.ca_file.as_deref())?;
        }
        Ok(())
    }
}

/// A client TLS connector: the system's roots plus the certificates of `ca_file`.
fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector, String> {
    Ok(tokio_rustls::TlsConnector::from(tls_client_config(
        ca_file,
    )?))
}

/// A client TLS configuration (mail relays, LDAP directories): the system's roots plus
/// the certificates of `ca_file`.
pub(crate) fn tls_client_config(
    ca_file: Option<&std::path::Path>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped; the CA file may still be enough.
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "the CA file {} holds no certificate",
                path.display()
            ));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "the CA file {} holds no usable certificate",
                path.display()
            ));
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate to check the server with (set a CA file)".into());
    }
    // ring, as in `custos serve`'s HTTPS: no C toolchain for aws-lc-rs (deprecated for
    // lacking post-quantum key exchange, which a mail relay does not need).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
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

/// A connection to the relay, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Session {
    /// Reads are buffered; writes pass straight through `BufReader`.
    conn: BufReader<Box<dyn Stream>>,
    timeout: Duration,
    /// Whether the connection is encrypted now.
    encrypted: bool,
}

impl Session {
    async fn reply(&mut self) -> AppResult<(u16, String)> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.timeout, self.conn.read_line(&mut line))
                .await
                .map_err(|_| smtp_err("timed out waiting for the server"))?
                .map_err(|e| smtp_err(&e.to_string()))?;
            if n == 0 {
                return Err(smtp_err("connection closed"));
            }
            if text.len() > 64 * 1024 {
                return Err(smtp_err("reply too long"));
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
        let write = async {
            self.conn.write_all(data.as_bytes()).await?;
            self.conn.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| smtp_err("timed out sending"))?
            .map_err(|e| smtp_err(&e.to_string()))
    }

    /// Send a command and expect `expect`; `shown` replaces the command in errors (so
    /// credentials never reach a log).
    async fn command_shown(&mut self, cmd: &str, expect: u16, shown: &str) -> AppResult<String> {
        self.send(&format!("{cmd}\r\n")).await?;
        let (code, text) = self.reply().await?;
        if code != expect {
            return Err(smtp_err(&format!("'{shown}' answered {}", text.trim())));
        }
        Ok(text)
    }

    async fn command(&mut self, cmd: &str, expect: u16) -> AppResult<String> {
        self.command_shown(cmd, expect, cmd).await
    }

    /// EHLO; the extensions the relay offers, upper case (`STARTTLS`, `AUTH PLAIN LOGIN`).
    async fn ehlo(&mut self) -> AppResult<Vec<String>> {
        let text = self.command("EHLO custos", 250).await?;
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|l| l.get(4..))
            .map(|l| l.trim().to_ascii_uppercase())
            .collect())
    }

    /// Log in with PLAIN or LOGIN, whichever `extensions` offer (PLAIN first).
    async fn login(&mut self, auth: &SmtpAuth, extensions: &[String]) -> AppResult<()> {
        let mechanisms: Vec<&str> = extensions
            .iter()
            .filter_map(|e| e.strip_prefix("AUTH"))
            .flat_map(|m| m.split([' ', '=']))
            .collect();
        if mechanisms.contains(&"PLAIN") {
            let token = STANDARD.encode(format!("\0{}\0{}", auth.user, auth.password));
            self.command_shown(&format!("AUTH PLAIN {token}"), 235, "AUTH PLAIN ***")
                .await?;
        } else if mechanisms.contains(&"LOGIN") {
            self.command("AUTH LOGIN", 334).await?;
            self.command_shown(&STANDARD.encode(&auth.user), 334, "AUTH LOGIN user")
                .await?;
            self.command_shown(&STANDARD.encode(&auth.password), 235, "AUTH LOGIN ***")
                .await?;
        } else {
            return Err(smtp_err(
                "the server offers neither AUTH PLAIN nor AUTH LOGIN",
            ));
        }
        Ok(())
    }
}

async fn start_tls(
    stream: Box<dyn Stream>,
    host: &str,
    ca_file: Option<&std::path::Path>,
    timeout: Duration,
) -> AppResult<Box<dyn Stream>> {
    let connector = tls_connector(ca_file).map_err(|e| smtp_err(&e))?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| smtp_err(&format!("'{host}' is not a valid TLS server name")))?;
    let tls = tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .map_err(|_| smtp_err("TLS handshake timed out"))?
        .map_err(|e| smtp_err(&format!("TLS handshake with {host} failed: {e}")))?;
    Ok(Box::new(tls))
}

/// Connect, greet, secure and log in as `cfg` says.
async fn open_session(cfg: &SmtpConfig) -> AppResult<Session> {
    let tcp = tokio::time::timeout(
        cfg.timeout,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    .map_err(|_| smtp_err("connect timed out"))?
    .map_err(|e| smtp_err(&format!("cannot connect to {}:{}: {e}", cfg.host, cfg.port)))?;
    let ca = cfg.ca_file.as_deref();
    let mut stream: Box<dyn Stream> = Box::new(tcp);
    if cfg.tls == SmtpTls::Tls {
        stream = start_tls(stream, &cfg.host, ca, cfg.timeout).await?;
    }
    let mut s = Session {
        conn: BufReader::new(stream),
        timeout: cfg.timeout,
        encrypted: cfg.tls == SmtpTls::Tls,
    };
    let (code, text) = s.reply().await?;
    if code != 220 {
        return Err(smtp_err(&format!("greeting {}", text.trim())));
    }
    let mut extensions = s.ehlo().await?;
    if cfg.tls == SmtpTls::StartTls {
        if !extensions.iter().any(|e| e == "STARTTLS") {
            return Err(smtp_err("the server does not offer STARTTLS"));
        }
        s.command("STARTTLS", 220).await?;
        // Nothing may be buffered past the 220: that would be plain text injected
        // before the handshake.
        if !s.conn.buffer().is_empty() {
            return Err(smtp_err("data sent before the TLS handshake"));
        }
        let plain = s.conn.into_inner();
        s = Session {
            conn: BufReader::new(start_tls(plain, &cfg.host, ca, cfg.timeout).await?),
            timeout: cfg.timeout,
            encrypted: true,
        };
        extensions = s.ehlo().await?;
    }
    if let Some(auth) = &cfg.auth {
        if !s.encrypted && !cfg.allow_plaintext_auth {
            return Err(smtp_err(
                "AUTH over an unencrypted connection is refused (set smtp_tls)",
            ));
        }
        s.login(auth, &extensions).await?;
    }
    Ok(s)
}

/// Send messages over one SMTP connection.
pub async fn send_mail(cfg: &SmtpConfig, mails: &[Mail]) -> AppResult<()> {
    if !address_ok(&cfg.from) {
        return Err(smtp_err("invalid sender address"));
    }
    let mut s = open_session(cfg).await?;
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
