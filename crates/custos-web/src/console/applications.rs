//! `/applications` (我的申请) and `/applications/{id}`: one's own applications with their
//! state, and one application as a readable diff against the current record with its
//! trail as a timeline; withdrawing, and deciding (approve / reject / return) for the
//! current approvers — the inbox posts its decisions here too.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use custos_app::applications::{ApplicationQuery, ApplicationReview, ApplicationSummary};
use custos_app::terms::{choices, term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::Lang;

use super::form::Posted;
use super::i18n::t;
use super::inbox;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;

/// A stored value as people read it: business terms for codes, the region's name beside
/// its code, lists joined.
pub(super) fn show_value(lang: Lang, key: &str, v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => t(lang, if *b { "apps.yes" } else { "apps.no" }).to_string(),
        Value::Array(a) => a
            .iter()
            .map(|x| show_value(lang, key, x))
            .collect::<Vec<_>>()
            .join("、"),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match key {
        "customer_type" => term_or_code(Terms::CustomerType, &text, lang),
        "scale" => term_or_code(Terms::Scale, &text, lang),
        "status" => term_or_code(Terms::CustomerStatus, &text, lang),
        "scope" => term_or_code(Terms::Scope, &text, lang),
        "region_code" => match custos_core::region::names(&text) {
            Some(n) => {
                let names: Vec<&str> = [Some(n.province), n.city, n.district]
                    .into_iter()
                    .flatten()
                    .collect();
                format!("{} {text}", names.join(" "))
            }
            None => text,
        },
        "industry" => match custos_core::industry::name(&text) {
            Some(name) => format!("{name} {text}"),
            None => text,
        },
        _ => text,
    }
}

/// One row of a list of applications.
pub(super) struct Row {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub state_code: String,
    pub target: String,
    pub created: String,
    pub updated: String,
}

fn row(state: &AppState, lang: Lang, a: &ApplicationSummary) -> Row {
    Row {
        id: a.id,
        kind: term_or_code(Terms::ApplicationKind, &a.kind, lang),
        state: term_or_code(Terms::ApplicationState, &a.state, lang),
        state_code: a.state.clone(),
        target: a.target.clone().unwrap_or_default(),
        created: state.app.local_time(&a.created_at),
        updated: state.app.local_time(&a.updated_at),
    }
}

/// The query string's fields (a bad one is the use case's to name).
pub(super) fn query_fields(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .take(20)
        .collect()
}

pub(super) fn query_get<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

#[derive(Template)]
#[template(path = "console/applications/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    states: Vec<(&'static str, &'static str)>,
    state: String,
    older: Option<i64>,
}

const PAGE_SIZE: i64 = 50;

/// `GET /applications?state=…&before=…`: the viewer's own applications, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let chrome = Chrome::new(&viewer, "/applications", "apps.title");
    let q = query_fields(raw);
    let wanted = query_get(&q, "state").unwrap_or("").to_string();
    let query = ApplicationQuery {
        mine: Some(true),
        state: Some(wanted.clone()).filter(|s| !s.is_empty()),
        before: query_get(&q, "before").and_then(|b| b.parse().ok()),
        limit: Some(PAGE_SIZE),
        ..Default::default()
    };
    match state
        .app
        .applications()
        .list_applications(&viewer.actor, query)
        .await
    {
        Ok(list) => {
            let older = match list.len() as i64 {
                PAGE_SIZE => list.last().map(|a| a.id),
                _ => None,
            };
            let page = ListPage {
                rows: list.iter().map(|a| row(&state, viewer.lang, a)).collect(),
                states: choices(Terms::ApplicationState, viewer.lang),
                state: wanted,
                older,
                chrome,
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// One field of the request: label, now, requested.
struct ChangeRow {
    label: String,
    old: String,
    new: String,
}

/// One entry of the timeline.
struct Event {
    at: String,
    actor: String,
    action: String,
    step: String,
    comment: String,
}

#[derive(Template)]
#[template(path = "console/applications/detail.html")]
struct DetailPage {
    chrome: Chrome,
    id: i64,
    kind: String,
    state: String,
    state_code: String,
    applicant: String,
    created: String,
    target: Option<String>,
    target_name: Option<String>,
    reason: String,
    code: Option<String>,
    flow: String,
    changes: Vec<ChangeRow>,
    events: Vec<Event>,
    can_withdraw: bool,
    can_decide: bool,
    /// The applicant may submit it again (returned) or for the first time (a draft).
    can_resubmit: bool,
    is_draft: bool,
    resubmit_error: Option<String>,
    /// Who the viewer may hand their task to (approvers of the current step).
    delegates: Vec<(i64, String)>,
    delegate_error: Option<String>,
    comment: String,
    comment_error: Option<String>,
    decision_error: Option<String>,
}

fn detail_page(
    state: &AppState,
    viewer: &Viewer,
    r: ApplicationReview,
    comment: String,
    error: Option<AppError>,
) -> DetailPage {
    let lang = viewer.lang;
    let a = r.application;
    let changes = r
        .changes
        .iter()
        .map(|c| {
            let show = |v: &Option<Value>| {
                v.as_ref()
                    .map(|v| show_value(lang, &c.key, v))
                    .filter(|s| !s.is_empty())
            };
            let new = match (show(&c.new), a.kind.as_str()) {
                (Some(v), _) => v,
                (None, "change_code") => t(lang, "apps.code_by_rule").to_string(),
                (None, _) => t(lang, "apps.empty").to_string(),
            };
            ChangeRow {
                label: match lang {
                    Lang::Zh => c.label_zh.clone(),
                    Lang::En => c.label_en.clone(),
                },
                old: show(&c.old).unwrap_or_else(|| t(lang, "apps.empty").to_string()),
                new,
            }
        })
        .collect();
    let step_name = |s: Option<i64>| {
        s.and_then(|i| a.flow.steps.get(i as usize))
            .map(|st| st.name.clone())
            .unwrap_or_default()
    };
    let events = a
        .trail
        .iter()
        .map(|e| Event {
            at: state.app.local_time(&e.at),
            actor: e.actor.clone(),
            action: {
                let key = format!("apps.action.{}", e.action);
                match t(lang, &key) {
                    k if k == key => e.action.clone(),
                    words => words.to_string(),
                }
            },
            step: step_name(e.step),
            comment: e.comment.clone().unwrap_or_default(),
        })
        .collect();
    let (comment_error, decision_error) = match error {
        Some(AppError::Validation(fields)) => (
            Some(
                fields
                    .iter()
                    .map(|f| f.violation.message(lang).to_string())
                    .collect::<Vec<_>>()
                    .join("；"),
            ),
            None,
        ),
        Some(e) => (None, Some(e.detail(lang))),
        None => (None, None),
    };
    DetailPage {
        chrome: Chrome::new(viewer, "/applications", "apps.application"),
        id: a.id,
        kind: term_or_code(Terms::ApplicationKind, &a.kind, lang),
        state: term_or_code(Terms::ApplicationState, &a.state, lang),
        state_code: a.state.clone(),
        applicant: a.applicant.clone(),
        created: state.app.local_time(&a.created_at),
        target_name: r.customer.as_ref().map(|c| c.name.clone()),
        target: a.target.clone().filter(|_| a.kind != "grant_permission"),
        reason: a.reason.clone().unwrap_or_default(),
        code: a.code.clone(),
        flow: a
            .flow
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" → "),
        changes,
        events,
        can_withdraw: r.can_withdraw,
        can_decide: r.can_decide,
        can_resubmit: a.applicant_id == viewer.actor.user_id
            && ["returned", "draft"].contains(&a.state.as_str()),
        is_draft: a.state == "draft",
        resubmit_error: None,
        delegates: Vec::new(),
        delegate_error: None,
        comment,
        comment_error,
        decision_error,
    }
}

/// An application id from the path; anything else is the missing application's page.
pub(super) fn application_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "application")
}

/// `GET /applications/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Response {
    let chrome = Chrome::new(&viewer, "/applications", "apps.application");
    let review = match application_id(&raw) {
        Ok(id) => {
            state
                .app
                .applications()
                .review_application(&viewer.actor, id)
                .await
        }
        Err(e) => Err(e),
    };
    match review {
        Ok(r) => {
            let mut page = detail_page(&state, &viewer, r, String::new(), None);
            page.delegates = delegates(&state, &viewer, &page).await;
            render(StatusCode::OK, &page)
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// The users the viewer may hand their task to, when they hold one; a failure to list
/// them only leaves the select out.
async fn delegates(state: &AppState, viewer: &Viewer, page: &DetailPage) -> Vec<(i64, String)> {
    if !page.can_decide {
        return Vec::new();
    }
    state
        .app
        .applications()
        .delegate_choices(&viewer.actor, page.id)
        .await
        .unwrap_or_default()
}

/// The application's page again after a refused resubmission or delegation, the
/// use case's message beside the form it came from.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    error: AppError,
    delegation: bool,
) -> Response {
    let chrome = Chrome::new(viewer, "/applications", "apps.application");
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let message = match &error {
        AppError::Validation(fields) => fields
            .iter()
            .map(|f| f.violation.message(viewer.lang).to_string())
            .collect::<Vec<_>>()
            .join("；"),
        e => e.detail(viewer.lang),
    };
    match state
        .app
        .applications()
        .review_application(&viewer.actor, id)
        .await
    {
        Ok(r) => {
            let mut page = detail_page(state, viewer, r, String::new(), None);
            page.delegates = delegates(state, viewer, &page).await;
            match delegation {
                true => page.delegate_error = Some(message),
                false => page.resubmit_error = Some(message),
            }
            render(status, &page)
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /applications/{id}/resubmit`: the applicant submits a returned application
/// again, or a draft for the first time, with an optional note (`reason`) — the use case
/// of `POST /api/v1/applications/{id}/resubmit` and `/submit`.
pub(crate) async fn resubmit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/applications", "apps.application");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let id = match application_id(&raw) {
        Ok(id) => id,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let reason = posted
        .get("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    match state
        .app
        .applications()
        .resubmit_application(&viewer.actor, id, None, reason)
        .await
    {
        Ok(a) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Denied(_))) => {
            refused(&state, &viewer, id, e, false).await
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /applications/{id}/delegate`: an approver hands their task to `to_user` (a user
/// id) with an optional `comment` — the use case of `POST
/// /api/v1/applications/{id}/delegate`, which checks that the delegate may decide.
pub(crate) async fn delegate(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/applications", "apps.application");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let id = match application_id(&raw) {
        Ok(id) => id,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let given = posted.get("to_user").unwrap_or("").trim().to_string();
    let comment = posted
        .get("comment")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let done = match given.parse::<i64>() {
        Ok(to_user) => {
            state
                .app
                .applications()
                .delegate_application(&viewer.actor, id, to_user, None, comment)
                .await
        }
        Err(_) => Err(AppError::validation(
            "to_user",
            custos_core::Violation::new(
                "application.delegate_unknown",
                format!("请选择转办的用户（“{given}”不是用户编号）"),
                format!("choose the user to hand the task to ('{given}' is not a user id)"),
            ),
        )),
    };
    match done {
        Ok(a) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Denied(_))) => {
            refused(&state, &viewer, id, e, true).await
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /applications/{id}/withdraw`: the applicant's own, before it ends.
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/applications", "apps.application");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let done = match application_id(&raw) {
        Ok(id) => {
            state
                .app
                .applications()
                .withdraw_application(&viewer.actor, id)
                .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(a) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /applications/{id}/decide`: `decision` approve / reject / return with a
/// `comment` (a rejection's reason). From the inbox (`from=inbox`, by htmx) the answer is
/// the refreshed list; from the application's page, the page again.
pub(crate) async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    posted: Posted,
) -> Response {
    let from_inbox = posted.get("from") == Some("inbox");
    let chrome = match from_inbox {
        true => Chrome::new(&viewer, "/inbox", "nav.inbox"),
        false => Chrome::new(&viewer, "/applications", "apps.application"),
    };
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let id = match application_id(&raw) {
        Ok(id) => id,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let comment = posted.get("comment").unwrap_or("").to_string();
    let text = Some(comment.clone()).filter(|c| !c.trim().is_empty());
    let app = &state.app;
    let actor = &viewer.actor;
    let done = match posted.get("decision").unwrap_or("") {
        "approve" => {
            app.applications()
                .approve_application(actor, id, text)
                .await
        }
        "reject" => app.applications().reject_application(actor, id, text).await,
        "return" => app.applications().return_application(actor, id, text).await,
        other => Err(AppError::validation(
            "decision",
            custos_core::Violation::new(
                "application.decision_unknown",
                format!("审批结果“{other}”不存在，可选：approve、reject、return"),
                format!("decision '{other}' does not exist; choose approve, reject or return"),
            ),
        )),
    };
    if from_inbox {
        let outcome = match done {
            Ok(_) => Ok(id),
            Err(e) => Err((id, comment, e)),
        };
        return inbox::after_decision(&state, &viewer, outcome).await;
    }
    match done {
        Ok(a) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Denied(_))) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            match app.applications().review_application(actor, id).await {
                Ok(r) => {
                    let mut page = detail_page(&state, &viewer, r, comment, Some(e));
                    page.delegates = delegates(&state, &viewer, &page).await;
                    render(status, &page)
                }
                Err(e) => PageError::new(chrome, e).into_response(),
            }
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}
