//! Single sign-on through the `[[oidc]]` providers (OpenID Connect, DingTalk, WeCom,
//! Feishu): the login page's buttons lead to `GET /auth/oidc/{name}`, which sends the
//! browser to the provider; the provider sends it back to `GET /auth/oidc/{name}/callback`,
//! which opens a browser session as the login form does.
//!
//! The use case keeps the state, nonce and PKCE verifier; this handler also binds the
//! state to the browser with a short-lived cookie and refuses a callback whose state is
//! not the browser's own, so a callback URL made in another browser cannot sign this
//! one in.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use custos_app::auth::SessionKind;
use custos_app::Source;

use super::i18n::t;
use super::login::{login_error, login_page};
use super::session::{
    anonymous_lang, clear_cookie, cookie, same_secret, set_cookie, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
};
use crate::extract::Ctx;
use crate::AppState;

/// The state of the browser's sign-on in flight.
const SSO_STATE_COOKIE: &str = "custos_sso_state";
/// As long as the use case keeps the request.
const SSO_STATE_SECONDS: u64 = 600;

#[derive(Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    /// DingTalk's name for the code.
    #[serde(rename = "authCode")]
    auth_code: Option<String>,
    state: Option<String>,
    /// Set by the provider when the user cancelled or it refused.
    error: Option<String>,
}

fn back_to_login(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: String,
) -> Response {
    let lang = anonymous_lang(headers);
    let mut r = login_page(
        state,
        lang,
        status,
        "/".into(),
        String::new(),
        None,
        Some(error),
    );
    r.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(state, SSO_STATE_COOKIE));
    r
}

/// `GET /auth/oidc/{name}`: off to the provider.
pub(crate) async fn begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    match state.app.auth().oidc_begin(&name).await {
        Ok(start) => {
            let mut r = Redirect::to(&start.url).into_response();
            // Lax: the provider's redirect back is a top-level navigation, which carries it.
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    &state,
                    SSO_STATE_COOKIE,
                    &start.state,
                    Some(SSO_STATE_SECONDS),
                    "Lax",
                ),
            );
            r
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let lang = anonymous_lang(&headers);
            back_to_login(&state, &headers, status, login_error(&e, lang))
        }
    }
}

/// `GET /auth/oidc/{name}/callback`: the provider's answer.
pub(crate) async fn callback(
    State(state): State<AppState>,
    Ctx(mut ctx): Ctx,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<Callback>,
) -> Response {
    let lang = anonymous_lang(&headers);
    let (Some(code), Some(sso_state), None) = (q.code.or(q.auth_code), q.state, q.error) else {
        let message = t(lang, "login.sso_cancelled").to_string();
        return back_to_login(&state, &headers, StatusCode::UNAUTHORIZED, message);
    };
    let expected = cookie(&headers, SSO_STATE_COOKIE).unwrap_or("");
    // Not this browser's sign-on: refused before the state is even looked at, which also
    // leaves the state usable by the browser that started it.
    if !same_secret(&sso_state, expected) {
        let message = t(lang, "login.sso_cancelled").to_string();
        return back_to_login(&state, &headers, StatusCode::UNAUTHORIZED, message);
    }
    ctx.source = Source::Console;
    match state
        .app
        .auth()
        .oidc_finish(&name, &code, &sso_state, &ctx, SessionKind::Browser)
        .await
    {
        Ok(done) => {
            let mut r = Redirect::to("/").into_response();
            let age = state.app.config.session_ttl.as_secs();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &done.token, Some(age), "Lax"),
            );
            h.append(header::SET_COOKIE, clear_cookie(&state, SSO_STATE_COOKIE));
            h.append(header::SET_COOKIE, clear_cookie(&state, LOGIN_CSRF_COOKIE));
            r
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            back_to_login(&state, &headers, status, login_error(&e, lang))
        }
    }
}
