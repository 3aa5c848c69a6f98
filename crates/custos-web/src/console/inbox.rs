//! `/inbox` (待办): the tasks waiting for the viewer's decision, oldest first, each naming
//! the customer it is about and how long it has waited; approve / reject / return in
//! place (htmx posts to `/applications/{id}/decide` and swaps in the refreshed list).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use custos_app::applications::ApprovalQueue;
use custos_app::clock::waited;
use custos_app::terms::{term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::Lang;

use super::figures::waited_words;
use super::i18n::t;
use super::page::{render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;

/// One task in the list.
struct Item {
    id: i64,
    kind: String,
    customer: String,
    code: String,
    step: String,
    since: String,
    age: String,
    comment: String,
    comment_error: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/applications/inbox.html")]
struct InboxPage {
    chrome: Chrome,
    items: Vec<Item>,
    total: usize,
    /// A fragment replacing the list also replaces the navigation's badge.
    oob: bool,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/applications/inbox_list.html")]
struct InboxList {
    chrome: Chrome,
    items: Vec<Item>,
    total: usize,
    oob: bool,
    notice: Option<String>,
    error: Option<String>,
}

fn items(state: &AppState, lang: Lang, q: &ApprovalQueue) -> Vec<Item> {
    let now = chrono::Utc::now().timestamp_micros();
    q.items
        .iter()
        .map(|i| Item {
            id: i.application.id,
            kind: term_or_code(Terms::ApplicationKind, &i.application.kind, lang),
            customer: i.customer_name.clone().unwrap_or_default(),
            code: i.application.target.clone().unwrap_or_default(),
            step: i.step_name.clone(),
            since: state.app.local_time_us(i.waiting_since),
            age: waited_words(lang, waited(i.waiting_since, now)),
            comment: String::new(),
            comment_error: None,
            error: None,
        })
        .collect()
}

/// `GET /inbox` (`application.approve`; others get the 403 page).
pub(crate) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let chrome = Chrome::new(&viewer, "/inbox", "inbox.title");
    match state.app.applications().approval_queue(&viewer.actor).await {
        Ok(q) => {
            let page = InboxPage {
                items: items(&state, viewer.lang, &q),
                total: q.total,
                oob: false,
                notice: None,
                error: None,
                chrome,
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// The list after a decision posted from the inbox: refreshed, with the decision's
/// refusal (a rejection without reason, a task decided meanwhile …) beside its task and
/// the comment typed kept. Answered 200 so htmx swaps it in.
pub(super) async fn after_decision(
    state: &AppState,
    viewer: &Viewer,
    outcome: Result<i64, (i64, String, AppError)>,
) -> Response {
    let chrome = Chrome::new(viewer, "/inbox", "inbox.title");
    let q = match state.app.applications().approval_queue(&viewer.actor).await {
        Ok(q) => q,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let lang = viewer.lang;
    let mut list = items(state, lang, &q);
    let (mut notice, mut error) = (None, None);
    match outcome {
        Ok(_) => notice = Some(t(lang, "apps.decided").to_string()),
        Err((id, comment, e)) => {
            let (field, other) = match &e {
                AppError::Validation(f) => (
                    Some(
                        f.iter()
                            .map(|f| f.violation.message(lang).to_string())
                            .collect::<Vec<_>>()
                            .join("；"),
                    ),
                    None,
                ),
                AppError::NotFound { .. } => (None, Some(t(lang, "error.not_found").to_string())),
                AppError::Forbidden { .. } => (None, Some(t(lang, "error.forbidden").to_string())),
                other => (None, Some(other.detail(lang))),
            };
            match list.iter_mut().find(|i| i.id == id) {
                Some(item) => {
                    item.comment = comment;
                    item.comment_error = field;
                    item.error = other;
                }
                None => error = field.or(other),
            }
        }
    }
    let fragment = InboxList {
        chrome,
        items: list,
        total: q.total,
        oob: true,
        notice,
        error,
    };
    render(StatusCode::OK, &fragment)
}
