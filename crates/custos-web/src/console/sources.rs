//! `/sources` (来源待确认): source-system customers an upsert by source key left to a
//! steward — the list by system and state, one entry's values beside the candidate
//! customers with the match reasons, and the decision (link / create / reject). Every
//! answer is the use case the API's `/api/v1/sources/queue` calls (`duplicate.manage`,
//! data scope, masking, audit).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::sources::{QueueDecision, QueueEntrySheet, QueueEntryView, QueueFilter};
use custos_app::terms::{term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::Violation;

use super::admin_words::{word, FormErrors};
use super::customer_timeline::label;
use super::customer_words::{duplicate_rows, family_rows, DuplicateRow};
use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::AppState;
use custos_app::clock::local_minutes;

/// Entries on one page of the list.
const PAGE_SIZE: i64 = 50;

const STATES: &[&str] = &["pending", "created", "linked", "rejected"];

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/sources", "src.title")
}

fn state_class(s: &str) -> &'static str {
    match s {
        "pending" => "warn",
        "rejected" => "danger",
        _ => "ok",
    }
}

/// An entry as a row of the list or the head of its page.
pub(crate) struct EntryLine {
    pub id: i64,
    pub system: String,
    pub source_id: String,
    pub state: String,
    pub state_text: String,
    pub state_class: &'static str,
    pub name: String,
    pub customer_type: String,
    pub verdict: String,
    pub queued: String,
    pub decided: String,
    /// The customer created or linked, and its code as a path segment.
    pub code: Option<(String, String)>,
    pub note: String,
}

fn entry_line(e: &QueueEntryView, lang: Lang, tz: chrono_tz::Tz) -> EntryLine {
    EntryLine {
        id: e.id,
        system: e.system.clone(),
        source_id: e.source_id.clone(),
        state: e.state.clone(),
        state_text: word(lang, "src.state", &e.state),
        state_class: state_class(&e.state),
        name: e.name.clone(),
        customer_type: term_or_code(Terms::CustomerType, &e.customer_type, lang),
        verdict: word(lang, "src.verdict", &e.verdict),
        queued: local_minutes(&e.queued_at, tz),
        decided: e
            .decided_at
            .as_deref()
            .map(|d| local_minutes(d, tz))
            .unwrap_or_default(),
        code: e.code.as_ref().map(|c| (c.clone(), encode_component(c))),
        note: e.note.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "console/sources/list.html")]
struct ListPage {
    chrome: Chrome,
    system: String,
    states: Vec<(&'static str, String, bool)>,
    rows: Vec<EntryLine>,
    errors: Vec<String>,
    next_href: Option<String>,
    first_href: Option<String>,
}

fn list_href(system: &str, state: &str, after: Option<i64>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if !system.is_empty() {
        s.append_pair("system", system);
    }
    s.append_pair("state", state);
    if let Some(a) = after {
        s.append_pair("after", &a.to_string());
    }
    format!("/sources?{}", s.finish())
}

/// `GET /sources?system=…&state=…&after=…`: the queue, oldest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let system = q.get("system").unwrap_or("").to_string();
    let current = q.get("state").unwrap_or("pending").to_string();
    let after = q.get("after").map(|a| a.parse::<i64>());
    let mut errors = Vec::new();
    let rows = match after {
        Some(Err(_)) => {
            let v = Violation::new(
                "paging.cursor",
                "after 应为队列编号（非负整数）",
                "after must be a queue entry id (a non-negative integer)",
            );
            errors.push(v.message(viewer.lang).to_string());
            Vec::new()
        }
        _ => {
            let filter = QueueFilter {
                state: Some(current.clone()),
                system: Some(system.clone()),
                after: after.clone().and_then(Result::ok),
                limit: Some(PAGE_SIZE),
            };
            match state
                .app
                .sources()
                .list_source_queue_filtered(&viewer.actor, &filter)
                .await
            {
                Ok(rows) => rows,
                Err(AppError::Validation(f)) => {
                    errors.extend(
                        f.iter()
                            .map(|e| e.violation.message(viewer.lang).to_string()),
                    );
                    Vec::new()
                }
                Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
            }
        }
    };
    let tz = state.app.config.code_timezone;
    let next_href = (rows.len() as i64 == PAGE_SIZE)
        .then(|| {
            rows.last()
                .map(|r| list_href(&system, &current, Some(r.id)))
        })
        .flatten();
    let first_href = after.map(|_| list_href(&system, &current, None));
    let status = match errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let page = ListPage {
        chrome: chrome(&viewer),
        states: STATES
            .iter()
            .map(|s| (*s, word(viewer.lang, "src.state", s), *s == current))
            .collect(),
        rows: rows
            .iter()
            .map(|r| entry_line(r, viewer.lang, tz))
            .collect(),
        system,
        errors,
        next_href,
        first_href,
    };
    render(status, &page)
}

/// What the decision form shows again after a refusal.
#[derive(Default)]
struct Typed {
    action: String,
    code: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "console/sources/entry.html")]
struct EntryPage {
    chrome: Chrome,
    entry: EntryLine,
    values: Vec<(String, String)>,
    /// The candidate customers (the shared duplicate table calls them `duplicates`).
    duplicates: Vec<DuplicateRow>,
    family: Vec<DuplicateRow>,
    outside: Option<String>,
    pii_withheld: bool,
    can_link: bool,
    can_create: bool,
    typed: Typed,
    errors: FormErrors,
    notice: Option<String>,
}

/// The label of a flattened key: `contacts[0].mobile` → 联系人 1 · 手机.
fn value_label(fields: &[custos_app::fields::FieldDefinition], key: &str, lang: Lang) -> String {
    let mut parts = Vec::new();
    for part in key.split('.') {
        match part.split_once('[') {
            Some((name, index)) => {
                let n = index.trim_end_matches(']').parse::<usize>().unwrap_or(0) + 1;
                let name = match name {
                    "contacts" => t(lang, "cust.tab.contacts").to_string(),
                    other => label(fields, other, lang),
                };
                parts.push(format!("{name} {n}"));
            }
            None if part == "custom" => {}
            // A contact's name is a person's, not the customer's.
            None if part == "name" && !parts.is_empty() => {
                parts.push(t(lang, "cust.contact_name").to_string())
            }
            None => parts.push(label(fields, part, lang)),
        }
    }
    parts.join(" · ")
}

fn entry_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "source_queue")
}

async fn entry_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    typed: Typed,
    errors: FormErrors,
    notice: Option<String>,
) -> Response {
    let sheet: Result<QueueEntrySheet, AppError> = match entry_id(id) {
        Ok(id) => {
            state
                .app
                .sources()
                .source_queue_sheet(&viewer.actor, id)
                .await
        }
        Err(e) => Err(e),
    };
    let sheet = match sheet {
        Ok(s) => s,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let lang = viewer.lang;
    let fields = state
        .app
        .fields()
        .list_fields(&viewer.actor)
        .await
        .unwrap_or_default();
    let report = sheet.entry.duplicates.as_ref();
    let candidates = report.map(|r| duplicate_rows(r, lang)).unwrap_or_default();
    let typed = match typed.action.is_empty() {
        true => Typed {
            action: "link".into(),
            code: candidates
                .first()
                .map(|c| c.code.clone())
                .unwrap_or_default(),
            reason: String::new(),
        },
        false => typed,
    };
    let page = EntryPage {
        chrome: chrome(viewer),
        entry: entry_line(&sheet.entry, lang, state.app.config.code_timezone),
        values: sheet
            .values
            .iter()
            .map(|v| {
                let value = match v.field.as_str() {
                    "customer_type" => term_or_code(Terms::CustomerType, &v.value, lang),
                    "status" => term_or_code(Terms::CustomerStatus, &v.value, lang),
                    "scale" => term_or_code(Terms::Scale, &v.value, lang),
                    _ => v.value.clone(),
                };
                (value_label(&fields, &v.field, lang), value)
            })
            .collect(),
        family: report.map(|r| family_rows(r, lang)).unwrap_or_default(),
        outside: report
            .filter(|r| r.outside_scope_match)
            .and_then(|r| match lang {
                Lang::Zh => r.outside_scope_message_zh.clone(),
                Lang::En => r.outside_scope_message_en.clone(),
            }),
        pii_withheld: report.is_some_and(|r| r.pii_withheld),
        duplicates: candidates,
        can_link: viewer.actor.can("xref.manage"),
        can_create: viewer.actor.can("customer.create"),
        typed,
        errors,
        notice,
    };
    render(status, &page)
}

/// `GET /sources/{id}`: the entry's values beside its candidates, and the decision.
pub(crate) async fn entry(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let notice = q
        .get("decided")
        .map(|_| t(viewer.lang, "src.decided").to_string());
    let typed = Typed::default();
    entry_page(
        &state,
        &viewer,
        &id,
        StatusCode::OK,
        typed,
        FormErrors::default(),
        notice,
    )
    .await
}

/// The decision a form posted, as the API's body would say it.
fn decision_of(typed: &Typed) -> Result<QueueDecision, AppError> {
    match typed.action.as_str() {
        "link" => Ok(QueueDecision::Link {
            code: typed.code.trim().to_string(),
        }),
        "create" => Ok(QueueDecision::Create {
            reason: typed.reason.clone(),
        }),
        "reject" => Ok(QueueDecision::Reject {
            reason: typed.reason.clone(),
        }),
        other => Err(AppError::validation(
            "action",
            Violation::new(
                "source.action",
                format!("处理方式“{other}”应为 link、create 或 reject"),
                format!("action '{other}' must be link, create or reject"),
            ),
        )),
    }
}

/// `POST /sources/{id}/decide`: the API's decision use case; errors beside the fields.
pub(crate) async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let typed = Typed {
        action: posted.get("action").unwrap_or("").to_string(),
        code: posted.get("code").unwrap_or("").to_string(),
        reason: posted.get("reason").unwrap_or("").to_string(),
    };
    let qid = match entry_id(&id) {
        Ok(i) => i,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let result = match decision_of(&typed) {
        Ok(d) => {
            state
                .app
                .sources()
                .decide_source_queue(&viewer.actor, qid, d)
                .await
        }
        Err(e) => Err(e),
    };
    let lang = viewer.lang;
    let (status, errors) = match result {
        Ok(_) => return Redirect::to(&format!("/sources/{qid}?decided=1")).into_response(),
        Err(AppError::Validation(f)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_fields(&f, lang),
        ),
        // The customer to link to is missing or out of scope: said beside the code (the
        // entry itself was found, or the use case would have stopped before).
        Err(AppError::NotFound { what, .. }) if what != "source_queue" => {
            let v = Violation::new(
                "source.code",
                t(Lang::Zh, "src.code_missing"),
                t(Lang::En, "src.code_missing"),
            )
            .on("code");
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                FormErrors::from_fields(&[v], lang),
            )
        }
        Err(e @ (AppError::Conflict(_) | AppError::Rejected(_))) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT),
            FormErrors::general(e.detail(lang)),
        ),
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    entry_page(&state, &viewer, &id, status, typed, errors, None).await
}
