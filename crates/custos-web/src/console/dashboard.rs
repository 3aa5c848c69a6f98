//! `/` (工作台): what the viewer has to do and how the customers they may see stand.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::page::{render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    pending: Option<usize>,
}

pub(crate) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let chrome = Chrome::new(&viewer, "/", "nav.dashboard");
    let pending = match viewer.actor.permissions.contains_key("application.approve") {
        true => match state.app.inbox(&viewer.actor).await {
            Ok(inbox) => Some(inbox.pending.len()),
            Err(e) => return PageError::new(chrome, e).into_response(),
        },
        false => None,
    };
    render(StatusCode::OK, &DashboardPage { chrome, pending })
}
