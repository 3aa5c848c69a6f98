//! Per-request plumbing: request ids, language, Prometheus metrics, access logs, and
//! rendering of pending problems into localised problem+json.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::Violation;

use crate::error::{problem, PendingProblem};
use crate::AppState;

/// The id of the current request (from `x-request-id` or generated).
#[derive(Clone)]
pub struct RequestId(pub String);

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "custos_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )
        .unwrap_or_else(|_| unreachable_metric());
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "custos_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )
        .unwrap_or_else(|_| unreachable_histogram());
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(latency.clone()));
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

// Metric definitions above are constants; these only satisfy the type checker.
fn unreachable_metric() -> IntCounterVec {
    IntCounterVec::new(Opts::new("custos_unused_total", "unused"), &["x"])
        .unwrap_or_else(|_| std::process::abort())
}
fn unreachable_histogram() -> HistogramVec {
    HistogramVec::new(HistogramOpts::new("custos_unused", "unused"), &["x"])
        .unwrap_or_else(|_| std::process::abort())
}

fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!("{t:x}-{:x}", N.fetch_add(1, Ordering::Relaxed))
}

/// The longest client request id kept.
const MAX_CLIENT_REQUEST_ID: usize = 64;

/// A client's `x-request-id` is kept only when it is short and made of characters that
/// are inert everywhere it goes (audit log, log lines, headers, problem bodies): letters,
/// digits and `.` `_` `:` `-`. Anything else is replaced by a generated id, and the
/// replacement is logged (without the refused value, which may be hostile).
fn request_id_of(req: &Request) -> String {
    let Some(given) = req.headers().get("x-request-id") else {
        return new_request_id();
    };
    let bytes = given.as_bytes();
    let safe = (1..=MAX_CLIENT_REQUEST_ID).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if safe {
        // Only ASCII was accepted above.
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let generated = new_request_id();
    tracing::info!(
        request_id = %generated,
        given_len = bytes.len(),
        "client x-request-id refused (not 1-64 of A-Z a-z 0-9 . _ : -); using a generated id"
    );
    generated
}

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = request_id_of(&req);
    let lang = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let mut resp = next.run(req).await;

    if let Some(PendingProblem(err)) = resp.extensions_mut().remove::<PendingProblem>() {
        if let AppError::Internal(msg) = err.as_ref() {
            tracing::error!(request_id = %request_id, error = %msg, "internal error");
        }
        resp = render_problem(&err, lang, &request_id);
    } else if is_plain_client_error(&resp) {
        // Rejections from axum itself (bad path parameter, wrong method, …).
        let status = resp.status();
        let bytes = axum::body::to_bytes(std::mem::take(resp.body_mut()), 64 * 1024)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let err = AppError::Rejected(Violation::new(
            "request.invalid",
            format!("请求无效：{text}"),
            format!("invalid request: {text}"),
        ));
        let mut p = problem(&err, lang, Some(request_id.clone()));
        p.status = status.as_u16();
        resp = problem_response(status, &p);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16().to_string();
    state
        .metrics
        .requests
        .with_label_values(&[&method, &route, &status])
        .inc();
    state
        .metrics
        .latency
        .with_label_values(&[&method, &route])
        .observe(start.elapsed().as_secs_f64());
    tracing::debug!(request_id = %request_id, %method, %route, %status, "request");
    resp
}

fn is_plain_client_error(resp: &Response) -> bool {
    resp.status().is_client_error()
        && !resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            // Console pages render their own errors.
            .is_some_and(|v| v.contains("json") || v.starts_with("text/html"))
}

fn render_problem(err: &AppError, lang: Lang, request_id: &str) -> Response {
    let p = problem(err, lang, Some(request_id.to_string()));
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = problem_response(status, &p);
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let AppError::TooManyRequests { retry_after, .. } = err {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
    }
    resp
}

fn problem_response(status: StatusCode, p: &crate::error::Problem) -> Response {
    let body = serde_json::to_vec(p).unwrap_or_default();
    let mut resp = (status, Body::from(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}
