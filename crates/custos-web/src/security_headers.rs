//! Response headers that tell browsers how to treat what custos sends.
//!
//! Every response: no MIME sniffing, no referrer, never framed (both the old
//! `X-Frame-Options` and CSP `frame-ancestors`). The API's JSON needs no browser
//! capability at all, so its policy is `default-src 'none'`: markup injected into a
//! response could neither run nor load anything. The API docs page gets exactly what
//! Swagger UI needs: its own script and stylesheet (no inline script: the page's start-up
//! code is a file too), styles it sets at run time, its inline SVG icons, and fetching
//! the OpenAPI document from the same origin. Everything under `/api/` carries tokens or
//! personal data and is never stored by a browser or proxy cache.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Policy of every response except the docs page.
pub(crate) const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
                                  form-action 'none'";

/// Policy of the API docs page (Swagger UI).
pub(crate) const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' \
                                   'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
                                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Policy of console pages: scripts and styles from custos itself only (no inline script
/// or style attribute runs), forms post only to custos, charts draw on canvas.
pub(crate) const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                                      img-src 'self' data:; connect-src 'self'; \
                                      form-action 'self'; frame-ancestors 'none'; \
                                      base-uri 'none'";

pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let docs_page = path == "/docs";
    let api = path.starts_with("/api/");
    let mut resp = next.run(req).await;
    let page = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    let csp = if docs_page {
        DOCS_CSP
    } else if page && !api {
        CONSOLE_CSP
    } else {
        API_CSP
    };
    set(h, header::CONTENT_SECURITY_POLICY, csp);
    if api {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    resp
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &'static str) {
    h.insert(name, HeaderValue::from_static(value));
}
