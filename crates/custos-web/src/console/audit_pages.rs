//! `/audit` (操作日志): the log searched by actor, action, target and days (the URL is
//! the query of `GET /api/v1/audit`), one entry with its before and after (as the API
//! shows them: personal data was masked when the entry was written), and 校验链, which
//! verifies the hash chain as `custos audit verify` does, within the use case's bound.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use custos_app::audit::AuditView;
use custos_app::{AppError, ChainReport};

use super::admin_words::day_start;
use super::form::Posted;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::AppState;
use custos_app::clock::local_minutes;

/// Entries on one page unless the query says `limit`.
const PAGE_SIZE: &str = "50";
/// The filter's fields, by their API names.
const FILTERS: &[&str] = &[
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "from",
    "to",
];

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/audit", "audit.title")
}

pub(crate) struct EntryLine {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub actor_id: Option<i64>,
    pub source: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub reason: String,
}

fn entry_line(e: &AuditView, tz: chrono_tz::Tz) -> EntryLine {
    EntryLine {
        seq: e.seq,
        at: local_minutes(&e.at, tz),
        actor: e.actor.clone(),
        actor_id: e.actor_id,
        source: e.source.clone(),
        action: e.action.clone(),
        target_type: e.target_type.clone(),
        target_id: e.target_id.clone(),
        reason: e.reason.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "console/audit/list.html")]
struct AuditListPage {
    chrome: Chrome,
    /// The filter as typed, by field name.
    filter: Vec<(&'static str, String)>,
    entries: Vec<EntryLine>,
    next_href: Option<String>,
    first_href: Option<String>,
    error: Option<(String, String)>,
    can_verify: bool,
}

impl AuditListPage {
    fn value(&self, field: &str) -> &str {
        self.filter
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn error_on(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// `GET /audit?…`: the filter goes to the audit_page use case; days become the
/// business day's bounds (`to` includes its day).
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let tz = state.app.config.code_timezone;
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, v) in &q.pairs {
        let v = match k.as_str() {
            "from" => day_start(v, tz, false),
            "to" => day_start(v, tz, true),
            _ => v.clone(),
        };
        params.push((k.clone(), v));
    }
    if q.get("limit").is_none() {
        params.push(("limit".into(), PAGE_SIZE.into()));
    }
    let filter: Vec<(&'static str, String)> = FILTERS
        .iter()
        .map(|f| (*f, q.get(f).unwrap_or("").to_string()))
        .collect();
    let filter_query: String = filter
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}&", encode_component(v)))
        .collect();
    let (entries, next, error) = match state.app.audit().audit_page(&viewer.actor, &params).await {
        Ok(p) => (p.items, p.next_cursor, None),
        Err(AppError::Validation(f)) => {
            let first = f.first().map(|e| {
                (
                    e.field.clone(),
                    e.violation.message(viewer.lang).to_string(),
                )
            });
            (Vec::new(), None, first)
        }
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let status = match error {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    let page = AuditListPage {
        chrome: chrome(&viewer),
        entries: entries.iter().map(|e| entry_line(e, tz)).collect(),
        next_href: next.map(|c| format!("/audit?{filter_query}cursor={c}")),
        first_href: q
            .get("cursor")
            .map(|_| format!("/audit?{}", filter_query.trim_end_matches('&'))),
        filter,
        error,
        can_verify: viewer.actor.can("audit.verify"),
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "console/audit/entry.html")]
struct EntryPage {
    chrome: Chrome,
    entry: EntryLine,
    request_id: String,
    ip: String,
    hash: String,
    before: Option<String>,
    after: Option<String>,
}

fn pretty(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref()
        .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
}

/// `GET /audit/{seq}`: one entry within the viewer's audit scope.
pub(crate) async fn entry(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(seq): Path<String>,
) -> Response {
    let found = match seq.parse::<i64>() {
        Ok(s) if s > 0 => state.app.system().audit_entry(&viewer.actor, s).await,
        _ => Err(AppError::not_found("audit_entry", &seq)),
    };
    match found {
        Ok(e) => {
            let page = EntryPage {
                chrome: chrome(&viewer),
                entry: entry_line(&e, state.app.config.code_timezone),
                request_id: e.request_id.clone().unwrap_or_default(),
                ip: e.ip.clone().unwrap_or_default(),
                hash: e.hash.clone(),
                before: pretty(&e.before),
                after: pretty(&e.after),
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "console/audit/verify.html")]
struct VerifyPage {
    chrome: Chrome,
    ok: bool,
    entries: i64,
    checkpoints: usize,
    head_hash: String,
    broken_seq: i64,
    reason: String,
    broken: Option<EntryLine>,
}

/// `POST /audit/verify`: the chain verified now (`audit.verify`).
pub(crate) async fn verify(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let check = match state.app.system().verify_audit_chain(&viewer.actor).await {
        Ok(c) => c,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let mut page = VerifyPage {
        chrome: chrome(&viewer),
        ok: false,
        entries: 0,
        checkpoints: 0,
        head_hash: String::new(),
        broken_seq: 0,
        reason: String::new(),
        broken: check.broken_entry.as_ref().map(|e| entry_line(e, tz)),
    };
    match check.report {
        ChainReport::Ok {
            entries,
            head_hash,
            checkpoints,
            ..
        } => {
            page.ok = true;
            page.entries = entries;
            page.head_hash = head_hash;
            page.checkpoints = checkpoints;
        }
        ChainReport::Broken { seq, reason } => {
            page.broken_seq = seq;
            page.reason = reason;
        }
    }
    render(StatusCode::OK, &page)
}
