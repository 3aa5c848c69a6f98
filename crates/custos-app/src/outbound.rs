//! Outbound HTTP for integrations: webhook deliveries and notification channels
//! (DingTalk, WeCom, generic webhooks) post JSON through one [`Outbound`] client.
//!
//! The client never follows redirects (a receiver that moved must be reconfigured, and
//! a redirect must not carry a signed body elsewhere), bounds the time of every request,
//! reads at most [`MAX_REPLY_BYTES`] of an answer, and trusts the system's certificate
//! store plus, when configured, one more CA file (internal receivers with a company CA).

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// At most this much of a receiver's answer is read (and kept in delivery logs).
pub const MAX_REPLY_BYTES: usize = 4096;
/// Longest URL accepted for a receiver.
pub const MAX_URL_LEN: usize = 2048;

/// `[outbound]` settings.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Time to open the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for the whole request, answer included.
    pub timeout: Duration,
    /// A PEM file with extra CA certificates, trusted beside the system's.
    pub ca_file: Option<PathBuf>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            ca_file: None,
        }
    }
}

/// What a receiver answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// The start of the answer's body (at most [`MAX_REPLY_BYTES`], lossy UTF-8).
    pub body: String,
    pub elapsed: Duration,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// The connection or the answer took longer than allowed.
    Timeout,
    /// No connection (refused, unreachable, name not resolved, TLS failed).
    Connect(String),
    /// Anything else on the way (broken connection, malformed answer).
    Failed(String),
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundError::Timeout => f.write_str("timeout"),
            OutboundError::Connect(m) => write!(f, "connect: {m}"),
            OutboundError::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

/// Why a receiver URL is refused (the message names the rule; callers wrap it into a
/// field error).
pub fn check_url(url: &str) -> Result<reqwest::Url, &'static str> {
    if url.is_empty() || url.len() > MAX_URL_LEN {
        return Err("地址为空或超过 2048 个字符");
    }
    if url.chars().any(char::is_control) || url.contains(char::is_whitespace) {
        return Err("地址不能含控制字符或空白");
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| "地址格式不正确")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("地址只能以 http:// 或 https:// 开头");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("地址缺少主机名");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("地址中不能含用户名或密码");
    }
    if parsed.fragment().is_some() {
        return Err("地址不能含 # 片段");
    }
    Ok(parsed)
}

/// One shared HTTP client for integrations (cheap to clone).
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbound")
    }
}

impl Outbound {
    /// Build the client; fails only when the CA file cannot be read or parsed.
    pub fn new(cfg: &OutboundConfig) -> Result<Outbound, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("custos/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "the CA file {} holds no PEM certificate: {e}",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "the CA file {} holds no PEM certificate",
                    path.display()
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up outbound HTTP: {e}"))?;
        Ok(Outbound { client })
    }

    /// POST `body` as `application/json` to `url` with extra `headers`; the answer's
    /// status and the start of its body, or why there was none.
    pub async fn post_json(
        &self,
        url: &reqwest::Url,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Reply, OutboundError> {
        let started = Instant::now();
        let mut request = self.client.post(url.clone()).header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        );
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.body(body).send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let mut kept: Vec<u8> = Vec::new();
        while kept.len() < MAX_REPLY_BYTES {
            match response.chunk().await.map_err(classify)? {
                Some(chunk) => {
                    let room = MAX_REPLY_BYTES - kept.len();
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                None => break,
            }
        }
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&kept).into_owned(),
            elapsed: started.elapsed(),
        })
    }
}

impl Outbound {
    /// GET `url` (optionally with a bearer token); the status and at most `max` bytes of
    /// the body (more is an error: an answer that large is not what was asked for).
    pub async fn get_limited(
        &self,
        url: &reqwest::Url,
        bearer: Option<&str>,
        max: usize,
    ) -> Result<(u16, Vec<u8>), OutboundError> {
        let mut request = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        read_limited(request.send().await.map_err(classify)?, max).await
    }

    /// POST `form` as `application/x-www-form-urlencoded`; the status and at most `max`
    /// bytes of the body.
    pub async fn post_form_limited(
        &self,
        url: &reqwest::Url,
        form: &[(&str, &str)],
        max: usize,
    ) -> Result<(u16, Vec<u8>), OutboundError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        read_limited(request.send().await.map_err(classify)?, max).await
    }

    /// GET `url` with extra `headers`; the status and at most `max` bytes of the body.
    pub async fn get_limited_with(
        &self,
        url: &reqwest::Url,
        headers: &[(&str, &str)],
        max: usize,
    ) -> Result<(u16, Vec<u8>), OutboundError> {
        let mut request = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read_limited(request.send().await.map_err(classify)?, max).await
    }

    /// POST `body` as JSON; the status and at most `max` bytes of the answer (more is an
    /// error, as for [`Outbound::get_limited`]).
    pub async fn post_json_limited(
        &self,
        url: &reqwest::Url,
        body: &serde_json::Value,
        max: usize,
    ) -> Result<(u16, Vec<u8>), OutboundError> {
        let request = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_string());
        read_limited(request.send().await.map_err(classify)?, max).await
    }
}

async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<(u16, Vec<u8>), OutboundError> {
    let status = response.status().as_u16();
    let mut kept: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if kept.len() + chunk.len() > max {
            return Err(OutboundError::Failed(format!(
                "the answer is larger than {max} bytes"
            )));
        }
        kept.extend_from_slice(&chunk);
    }
    Ok((status, kept))
}

impl crate::App {
    /// The outbound HTTP client of `[outbound]` (webhooks, notification channels), made
    /// on first use and shared.
    pub fn outbound_client(&self) -> crate::error::AppResult<Outbound> {
        self.outbound
            .get_or_init(|| Outbound::new(&self.config.outbound))
            .clone()
            .map_err(crate::error::AppError::Internal)
    }
}

fn classify(e: reqwest::Error) -> OutboundError {
    if e.is_timeout() {
        OutboundError::Timeout
    } else if e.is_connect() {
        OutboundError::Connect(error_chain(&e))
    } else {
        OutboundError::Failed(error_chain(&e))
    }
}

/// The error and its causes on one line (reqwest's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://oapi.dingtalk.com/robot/send?access_token=x").is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("ftp://example.com/").is_err());
        assert!(check_url("https://user:pw@example.com/").is_err());
        assert!(check_url("https://example.com/a\nb").is_err());
        assert!(check_url("https://example.com/#x").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[tokio::test]
    async fn answers_are_bounded_and_redirects_not_followed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            for answer in [
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n{}",
                    "x".repeat(10000)
                ),
                "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n"
                    .to_string(),
            ] {
                let (mut socket, _) = listener.accept().await.expect("accept");
                let mut buf = vec![0u8; 8192];
                let _ = socket.read(&mut buf).await;
                socket.write_all(answer.as_bytes()).await.expect("write");
                let _ = socket.shutdown().await;
            }
        });
        let out = Outbound::new(&OutboundConfig::default()).expect("client");
        let url = check_url(&format!("http://{addr}/hook")).expect("url");
        let reply = out
            .post_json(&url, &[("x-test", "1".into())], b"{}".to_vec())
            .await
            .expect("reply");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body.len(), MAX_REPLY_BYTES);
        let reply = out
            .post_json(&url, &[], b"{}".to_vec())
            .await
            .expect("reply");
        assert_eq!(reply.status, 302);
        assert!(!reply.is_success());
        server.await.expect("server");
        let closed = check_url("http://127.0.0.1:1/").expect("url");
        assert!(matches!(
            out.post_json(&closed, &[], vec![]).await,
            Err(OutboundError::Connect(_))
        ));
    }
}
