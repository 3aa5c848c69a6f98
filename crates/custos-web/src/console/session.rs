//! Who is looking at a console page: the session cookie resolved by the same use case as
//! an API token, the page language, and the CSRF token every changing form carries.
//!
//! The cookie holds the session token itself (HttpOnly, SameSite=Lax, Secure over TLS),
//! so logging out, disabling the user or changing the password ends console and API
//! sessions alike. The CSRF token is derived from the session token: a page of another
//! site can neither read it nor compute it, and it needs no storage.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use custos_app::Actor;
use custos_core::violation::Lang;

use crate::extract::context;
use crate::AppState;

pub(crate) const SESSION_COOKIE: &str = "custos_session";
/// The language chosen before logging in (the login page's switch).
pub(crate) const LANG_COOKIE: &str = "custos_lang";
/// The login form's own CSRF value (double submit: cookie and hidden field).
pub(crate) const LOGIN_CSRF_COOKIE: &str = "custos_login_csrf";
/// Header by which htmx requests carry the CSRF token (set by `console.js`).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in viewer of a page.
pub(crate) struct Viewer {
    pub actor: Actor,
    pub token: String,
    pub lang: Lang,
    pub csrf: String,
    /// Tasks waiting for the viewer's decision (approvers only).
    pub pending: Option<i64>,
}

/// The value of one cookie in the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value for the console: path `/`, HttpOnly, SameSite, Secure over TLS.
pub(crate) fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<u64>,
    same_site: &str,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.web.secure_cookies {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("custos_bad=1"))
}

/// A `Set-Cookie` value that removes the cookie.
pub(crate) fn clear_cookie(state: &AppState, name: &str) -> HeaderValue {
    set_cookie(state, name, "", Some(0), "Lax")
}

/// The CSRF token of a session.
pub(crate) fn csrf_of(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"custos/console/csrf/v1\0");
    h.update(token.as_bytes());
    hex::encode(&h.finalize()[..20])
}

/// Whether `given` is `expected`, in time that does not depend on where they differ.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    !given.is_empty() && Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

/// The language of a page for someone not signed in: the login page's switch, else Chinese.
pub(crate) fn anonymous_lang(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

pub(crate) fn lang_of(actor: &Actor, headers: &HeaderMap) -> Lang {
    match actor.language.as_deref() {
        Some("en") => Lang::En,
        Some(_) => Lang::Zh,
        None => anonymous_lang(headers),
    }
}

/// Where a page sends someone who must sign in first.
pub(crate) struct SignIn {
    next: String,
    htmx: bool,
}

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        let to = format!("/login?next={}", encode_component(&self.next));
        if self.htmx {
            // htmx follows this header with a full page load.
            let mut r = StatusCode::NO_CONTENT.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert("hx-redirect", v);
            }
            return r;
        }
        Redirect::to(&to).into_response()
    }
}

pub(crate) fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A `next` target that stays on this site (a path, never `//host` or a scheme).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = SignIn;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SignIn> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let htmx = parts.headers.contains_key("hx-request");
        let sign_in = SignIn { next, htmx };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(sign_in);
        };
        let mut ctx = context(parts, state);
        ctx.source = custos_app::Source::Console;
        match state.app.auth().authenticate(token, ctx).await {
            Ok(actor) => Ok(Viewer {
                lang: lang_of(&actor, &parts.headers),
                // The badge beside 待办; a failed count only loses the badge.
                pending: state
                    .app
                    .applications()
                    .pending_task_count(&actor)
                    .await
                    .ok()
                    .flatten(),
                csrf: csrf_of(token),
                token: token.to_string(),
                actor,
            }),
            Err(_) => Err(sign_in),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, std::convert::Infallible> {
        Ok(
            <Viewer as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_site() {
        assert_eq!(safe_next(Some("/customers?q=1")), "/customers?q=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; custos_session=cst_x; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("cst_x"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn csrf_depends_on_the_session() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert!(same_secret(&csrf_of("a"), &csrf_of("a")));
        assert!(!same_secret("", &csrf_of("a")));
    }
}
