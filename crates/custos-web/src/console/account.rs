//! `/account`: the viewer's profile, console language and password.

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::AppError;

use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{clear_cookie, Viewer, SESSION_COOKIE};
use crate::AppState;

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    chrome: Chrome,
    username: String,
    display_name: String,
    roles: String,
    notice: Option<String>,
    errors: Vec<String>,
}

fn account_page(viewer: &Viewer, status: StatusCode, errors: Vec<String>) -> Response {
    let page = AccountPage {
        chrome: Chrome::new(viewer, "/account", "account.title"),
        username: viewer.actor.username.clone(),
        display_name: viewer.actor.display_name.clone(),
        roles: viewer.actor.roles.join("、"),
        notice: None,
        errors,
    };
    render(status, &page)
}

pub(crate) async fn page(viewer: Viewer) -> Response {
    account_page(&viewer, StatusCode::OK, Vec::new())
}

/// `POST /account/language`: remembered for the user, on every device.
pub(crate) async fn language(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(Chrome::new(&viewer, "/account", "account.title"));
    }
    let chosen = posted.get("language").unwrap_or("");
    match state.app.auth().set_language(&viewer.actor, chosen).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => {
            PageError::new(Chrome::new(&viewer, "/account", "account.title"), e).into_response()
        }
    }
}

/// `POST /account/password`: the current password, then the new one under the policy;
/// every session ends, so the viewer signs in again.
pub(crate) async fn password(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(Chrome::new(&viewer, "/account", "account.title"));
    }
    let current = posted.get("current_password").unwrap_or("");
    let new = posted.get("password").unwrap_or("");
    match state
        .app
        .auth()
        .change_own_password(&viewer.actor, current, new)
        .await
    {
        Ok(()) => {
            let mut r = Redirect::to("/login?changed=1").into_response();
            r.headers_mut()
                .append(header::SET_COOKIE, clear_cookie(&state, SESSION_COOKIE));
            r
        }
        Err(AppError::Validation(errors)) => {
            let messages = errors
                .iter()
                .map(|f| f.violation.message(viewer.lang).to_string())
                .collect();
            account_page(&viewer, StatusCode::UNPROCESSABLE_ENTITY, messages)
        }
        Err(e) => {
            PageError::new(Chrome::new(&viewer, "/account", "account.title"), e).into_response()
        }
    }
}

/// The notice the login page shows after a password change.
pub(crate) fn password_changed(lang: custos_core::violation::Lang) -> String {
    t(lang, "account.password_changed").to_string()
}
