//! Signing in and out of the console, and the language switch before signing in.
//!
//! The login form is protected by its own CSRF value (a random cookie the form repeats)
//! so another site cannot sign a browser in as someone else; the login itself is the
//! API's use case, with its throttling, audit and identical answers for unknown and
//! throttled names.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::Deserialize;

use custos_app::{AppError, Source};
use custos_core::violation::Lang;

use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome};
use super::session::{
    anonymous_lang, clear_cookie, cookie, safe_next, same_secret, set_cookie, Viewer, LANG_COOKIE,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use crate::extract::Ctx;
use crate::AppState;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    next: String,
    username: String,
    notice: Option<String>,
    error: Option<String>,
    /// Single sign-on providers: (name, button label).
    providers: Vec<(String, String)>,
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    /// Set after a password change, which ended the session.
    changed: Option<String>,
}

fn random_value() -> String {
    let mut b = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

pub(super) fn login_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    next: String,
    username: String,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let csrf = random_value();
    let page = LoginPage {
        chrome: Chrome::anonymous(lang, "login.title"),
        csrf: csrf.clone(),
        next,
        username,
        notice,
        error,
        providers: state
            .app
            .config
            .oidc
            .iter()
            .map(|p| (p.name.clone(), p.label.clone()))
            .collect(),
    };
    let mut r = render(status, &page);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, None, "Strict"),
    );
    r
}

/// `GET /login`: the form, or straight on for someone already signed in.
pub(crate) async fn form(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if viewer.is_some() {
        return Redirect::to(&next).into_response();
    }
    let lang = anonymous_lang(&headers);
    // Coming from a page that needed a session: say why the form is shown.
    let notice = if q.changed.is_some() {
        Some(super::account::password_changed(lang))
    } else {
        (next != "/").then(|| t(lang, "login.expired").to_string())
    };
    login_page(
        &state,
        lang,
        StatusCode::OK,
        next,
        String::new(),
        notice,
        None,
    )
}

/// `POST /login`: open a browser session and go where the viewer was heading.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Ctx(mut ctx): Ctx,
    headers: HeaderMap,
    posted: Posted,
) -> Response {
    let lang = anonymous_lang(&headers);
    let next = safe_next(posted.get("next"));
    let username = posted.get("username").unwrap_or("").to_string();
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !same_secret(posted.get("csrf").unwrap_or(""), expected) {
        let notice = Some(t(lang, "login.form_expired").to_string());
        return login_page(
            &state,
            lang,
            StatusCode::FORBIDDEN,
            next,
            username,
            notice,
            None,
        );
    }
    ctx.source = Source::Console;
    let password = posted.get("password").unwrap_or("");
    match state
        .app
        .auth()
        .login_browser(&username, password, &ctx)
        .await
    {
        Ok(done) => {
            let mut r = Redirect::to(&next).into_response();
            let age = state.app.config.session_ttl.as_secs();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &done.token, Some(age), "Lax"),
            );
            h.append(header::SET_COOKIE, clear_cookie(&state, LOGIN_CSRF_COOKIE));
            r
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let message = login_error(&e, lang);
            let mut r = login_page(&state, lang, status, next, username, None, Some(message));
            if let AppError::TooManyRequests { retry_after, .. } = e {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            r
        }
    }
}

/// What the login page says about a refusal: the use case's message, with the wait of a
/// throttled attempt in minutes (the API gives it in `Retry-After`).
pub(super) fn login_error(e: &AppError, lang: Lang) -> String {
    match e {
        AppError::TooManyRequests { retry_after, .. } => {
            let minutes = retry_after.div_ceil(60).max(1);
            match lang {
                Lang::Zh => format!("登录失败次数过多，请 {minutes} 分钟后再试。"),
                Lang::En => format!("Too many failed logins; try again in {minutes} min."),
            }
        }
        other => other.detail(lang),
    }
}

/// `POST /logout`: end the session (console and API alike) and return to the login page.
pub(crate) async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(Chrome::new(&viewer, "", "error.title"));
    }
    if let Err(e) = state.app.auth().logout(&viewer.actor, &viewer.token).await {
        tracing::warn!(error = %e, "console logout failed");
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&state, SESSION_COOKIE));
    r
}

/// `POST /language` (before signing in): remember the choice in a cookie.
pub(crate) async fn language(State(state): State<AppState>, posted: Posted) -> Response {
    let lang = match posted.get("language") {
        Some("en") => "en",
        _ => "zh",
    };
    let next = format!(
        "/login?next={}",
        super::session::encode_component(&safe_next(posted.get("next")))
    );
    let mut r = Redirect::to(&next).into_response();
    // A preference, not a secret; a year.
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, LANG_COOKIE, lang, Some(365 * 24 * 3600), "Lax"),
    );
    r
}
