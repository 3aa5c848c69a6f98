//! The SMTP client of notification e-mail against a local relay: STARTTLS and implicit
//! TLS with a self-signed certificate trusted through `ca_file`, AUTH PLAIN and LOGIN,
//! and the refusals: AUTH over plain text, a relay without STARTTLS, an untrusted
//! certificate, a wrong password (never echoed in the error).

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use custos_app::mail::{send_mail, Mail, SmtpAuth, SmtpConfig, SmtpTls};

const USER: &str = "custos@example.cn";
const PASSWORD: &str = "pw-Relay-2026";

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    StartTls,
    Implicit,
}

/// What the relay saw: logins (mechanism, user, password, over TLS) and messages (over TLS).
#[derive(Default)]
struct Seen {
    logins: Vec<(String, String, String, bool)>,
    messages: Vec<bool>,
}

/// A self-signed certificate for localhost, its PEM written to `dir/ca.pem`.
fn acceptor(dir: &Path) -> tokio_rustls::TlsAcceptor {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    std::fs::write(dir.join("ca.pem"), ck.cert.pem()).expect("write cert");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(ck.cert.der().to_vec())], key)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn line(r: &mut BufReader<Box<dyn Stream>>) -> Option<String> {
    let mut l = String::new();
    match r.read_line(&mut l).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(l.trim_end().to_string()),
    }
}

fn b64(s: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default();
    String::from_utf8_lossy(&raw).into_owned()
}

async fn session(
    tcp: tokio::net::TcpStream,
    mode: Mode,
    offer: &str,
    tls: tokio_rustls::TlsAcceptor,
    seen: Arc<Mutex<Seen>>,
) -> Option<()> {
    let mut secure = mode == Mode::Implicit;
    let stream: Box<dyn Stream> = match mode {
        Mode::Implicit => Box::new(tls.accept(tcp).await.ok()?),
        _ => Box::new(tcp),
    };
    let mut c = BufReader::new(stream);
    c.write_all(b"220 relay ready\r\n").await.ok()?;
    loop {
        let cmd = line(&mut c).await?;
        let upper = cmd.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") {
            let starttls = if mode == Mode::StartTls && !secure {
                "250-STARTTLS\r\n"
            } else {
                ""
            };
            format!("250-relay\r\n{starttls}250 AUTH {offer}\r\n")
        } else if upper == "STARTTLS" {
            c.write_all(b"220 go ahead\r\n").await.ok()?;
            let plain = c.into_inner();
            c = BufReader::new(Box::new(tls.accept(plain).await.ok()?));
            secure = true;
            continue;
        } else if let Some(token) = cmd.strip_prefix("AUTH PLAIN ") {
            let decoded = b64(token);
            let mut parts = decoded.split('\0').skip(1);
            let (u, p) = (parts.next()?.to_string(), parts.next()?.to_string());
            let good = u == USER && p == PASSWORD;
            seen.lock()
                .ok()?
                .logins
                .push(("PLAIN".into(), u, p, secure));
            if good {
                "235 ok\r\n"
            } else {
                "535 bad credentials\r\n"
            }
            .into()
        } else if upper == "AUTH LOGIN" {
            c.write_all(b"334 VXNlcm5hbWU6\r\n").await.ok()?;
            let u = b64(&line(&mut c).await?);
            c.write_all(b"334 UGFzc3dvcmQ6\r\n").await.ok()?;
            let p = b64(&line(&mut c).await?);
            let good = u == USER && p == PASSWORD;
            seen.lock()
                .ok()?
                .logins
                .push(("LOGIN".into(), u, p, secure));
            if good {
                "235 ok\r\n"
            } else {
                "535 bad credentials\r\n"
            }
            .into()
        } else if upper == "DATA" {
            c.write_all(b"354 go on\r\n").await.ok()?;
            while line(&mut c).await? != "." {}
            seen.lock().ok()?.messages.push(secure);
            "250 queued\r\n".into()
        } else if upper == "QUIT" {
            c.write_all(b"221 bye\r\n").await.ok()?;
            return Some(());
        } else {
            "250 ok\r\n".into()
        };
        c.write_all(answer.as_bytes()).await.ok()?;
    }
}

/// A relay on a random port; returns the port, what it saw and the directory of `ca.pem`.
async fn relay(mode: Mode, offer: &'static str) -> (u16, Arc<Mutex<Seen>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let tls = acceptor(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(session(tcp, mode, offer, tls.clone(), s.clone()));
        }
    });
    (port, seen, dir)
}

fn config(port: u16, tls: SmtpTls, ca: Option<&Path>, password: &str) -> SmtpConfig {
    let mut cfg = SmtpConfig::new("localhost", port, "custos@example.cn");
    cfg.tls = tls;
    cfg.ca_file = ca.map(|d| d.join("ca.pem"));
    cfg.auth = Some(SmtpAuth {
        user: USER.into(),
        password: password.into(),
    });
    cfg.timeout = std::time::Duration::from_secs(5);
    cfg
}

fn mail() -> Vec<Mail> {
    vec![Mail {
        to: "approver@example.cn".into(),
        subject: "【custos】待审批".into(),
        body: "申请单 #1 等待您审批。".into(),
    }]
}

#[tokio::test]
async fn starttls_then_auth_plain() {
    let (port, seen, dir) = relay(Mode::StartTls, "PLAIN LOGIN").await;
    let cfg = config(port, SmtpTls::StartTls, Some(dir.path()), PASSWORD);
    assert!(cfg.check().is_ok());
    send_mail(&cfg, &mail()).await.expect("sent");
    let seen = seen.lock().expect("seen");
    assert_eq!(
        seen.logins,
        vec![("PLAIN".into(), USER.into(), PASSWORD.into(), true)]
    );
    assert_eq!(seen.messages, vec![true]);
}

#[tokio::test]
async fn implicit_tls_with_auth_login() {
    let (port, seen, dir) = relay(Mode::Implicit, "LOGIN").await;
    let cfg = config(port, SmtpTls::Tls, Some(dir.path()), PASSWORD);
    send_mail(&cfg, &mail()).await.expect("sent");
    let seen = seen.lock().expect("seen");
    assert_eq!(
        seen.logins,
        vec![("LOGIN".into(), USER.into(), PASSWORD.into(), true)]
    );
    assert_eq!(seen.messages, vec![true]);
}

#[tokio::test]
async fn auth_is_never_sent_in_the_clear_or_to_an_untrusted_relay() {
    // Plain connection with a login: refused before AUTH, unless explicitly allowed.
    let (port, seen, _dir) = relay(Mode::Plain, "PLAIN").await;
    let cfg = config(port, SmtpTls::None, None, PASSWORD);
    assert!(cfg.check().is_err());
    let err = send_mail(&cfg, &mail()).await.expect_err("refused");
    assert!(err.to_string().contains("unencrypted"), "{err}");
    assert!(seen.lock().expect("seen").logins.is_empty());
    let mut allowed = cfg.clone();
    allowed.allow_plaintext_auth = true;
    send_mail(&allowed, &mail())
        .await
        .expect("allowed in the clear");
    assert!(
        !seen.lock().expect("seen").logins[0].3,
        "sent in the clear, as allowed"
    );

    // STARTTLS asked for, not offered: no fallback to plain text.
    let cfg = config(port, SmtpTls::StartTls, None, PASSWORD);
    let err = send_mail(&cfg, &mail()).await.expect_err("no starttls");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    assert_eq!(seen.lock().expect("seen").logins.len(), 1);

    // A self-signed certificate not in ca_file nor the system store.
    let (port, seen, _dir) = relay(Mode::StartTls, "PLAIN").await;
    let cfg = config(port, SmtpTls::StartTls, None, PASSWORD);
    let err = send_mail(&cfg, &mail()).await.expect_err("untrusted");
    assert!(err.to_string().contains("TLS"), "{err}");
    assert!(seen.lock().expect("seen").logins.is_empty());

    // A wrong password fails without showing it.
    let (port, _seen, dir) = relay(Mode::Implicit, "PLAIN").await;
    let cfg = config(port, SmtpTls::Tls, Some(dir.path()), "wrong-password-x");
    let err = send_mail(&cfg, &mail()).await.expect_err("535").to_string();
    assert!(
        err.contains("535") && !err.contains("wrong-password-x"),
        "{err}"
    );
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{USER}\0wrong-password-x"));
    assert!(!err.contains(&token), "{err}");
    // A CA file without a certificate is a configuration error.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let mut bad = cfg.clone();
    bad.ca_file = Some(empty);
    assert!(bad.check().is_err());
}
