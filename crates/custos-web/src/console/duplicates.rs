//! `/duplicates` (查重审核): the review queue with its filters and counts, one group's
//! records side by side with the value of each field the merge keeps, merge (or a merge
//! application when the steward may not merge directly) and dismiss. Every answer comes
//! from the review use cases the API calls (`duplicate.manage`, data scope, masking).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::customers::review::{
    DismissRequest, DuplicateGroupPage, GroupMergeRequest, GroupQuery,
};
use custos_app::customers::review_sheet::{DuplicateQueue, GroupMergeOutcome, GroupReview};
use custos_app::terms::{choices, term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::Lang;

use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::AppState;
use custos_app::clock::local_minutes;

/// A group in the queue as a row.
struct GroupRow {
    id: i64,
    status_text: String,
    status_class: &'static str,
    score: String,
    source: String,
    customer_type: String,
    members: Vec<(String, String, String)>,
    created: String,
}

/// One choice of a filter: value, words, selected.
struct Choice {
    value: String,
    text: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "console/duplicates/queue.html")]
struct QueuePage {
    chrome: Chrome,
    statuses: Vec<Choice>,
    sources: Vec<Choice>,
    bands: Vec<Choice>,
    types: Vec<Choice>,
    counts: Vec<(String, String, i64)>,
    rows: Vec<GroupRow>,
    next_href: Option<String>,
    first_href: Option<String>,
    /// A refused filter: `field: message`.
    errors: Vec<String>,
}

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/duplicates", "dup.title")
}

fn status_text(lang: Lang, s: &str) -> String {
    let key = format!("dup.status.{s}");
    t(lang, &key).to_string()
}

fn status_class(s: &str) -> &'static str {
    match s {
        "open" => "warn",
        "merged" => "ok",
        _ => "",
    }
}

fn type_text(lang: Lang, code: &str) -> String {
    match code {
        "mixed" => t(lang, "dup.type.mixed").to_string(),
        c => term_or_code(Terms::CustomerType, c, lang),
    }
}

fn choices_of(lang: Lang, prefix: &str, values: &[&str], current: &str) -> Vec<Choice> {
    std::iter::once(("", t(lang, "dup.any").to_string()))
        .chain(
            values
                .iter()
                .map(|v| (*v, t(lang, &format!("{prefix}.{v}")).to_string())),
        )
        .map(|(v, text)| Choice {
            selected: v == current,
            value: v.to_string(),
            text,
        })
        .collect()
}

fn group_query(q: &ListQuery) -> GroupQuery {
    let s = |k: &str| q.get(k).map(str::to_string);
    GroupQuery {
        status: s("status"),
        source: s("source"),
        band: s("band"),
        customer_type: s("customer_type"),
        cursor: s("cursor"),
        limit: None,
    }
}

fn queue_page(
    viewer: &Viewer,
    q: &ListQuery,
    queue: DuplicateQueue,
    tz: chrono_tz::Tz,
) -> QueuePage {
    let lang = viewer.lang;
    let status = q.get("status").unwrap_or("open");
    let mut statuses = choices_of(
        lang,
        "dup.status",
        &["open", "merged", "dismissed", "stale", "all"],
        status,
    );
    statuses.remove(0);
    let mut types: Vec<Choice> = choices_of(lang, "dup", &[], "");
    let current_type = q.get("customer_type").unwrap_or("");
    types.extend(
        choices(Terms::CustomerType, lang)
            .into_iter()
            .map(|(v, text)| (v.to_string(), text.to_string()))
            .chain(std::iter::once(("mixed".into(), type_text(lang, "mixed"))))
            .map(|(value, text)| Choice {
                selected: value == current_type,
                value,
                text,
            }),
    );
    let rows = queue
        .page
        .items
        .iter()
        .map(|g| GroupRow {
            id: g.id,
            status_text: status_text(lang, &g.status),
            status_class: status_class(&g.status),
            score: format!("{:.2}", g.score),
            source: t(lang, &format!("dup.source.{}", g.source)).to_string(),
            customer_type: g
                .customer_type
                .as_deref()
                .map(|c| type_text(lang, c))
                .unwrap_or_default(),
            members: g
                .members
                .iter()
                .map(|m| (m.code.clone(), encode_component(&m.code), m.name.clone()))
                .collect(),
            created: local_minutes(&g.created_at, tz),
        })
        .collect();
    let kept: Vec<(String, String)> = q
        .pairs
        .iter()
        .filter(|(k, _)| k != "cursor")
        .cloned()
        .collect();
    let href = |extra: Option<&str>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            s.append_pair(k, v);
        }
        if let Some(c) = extra {
            s.append_pair("cursor", c);
        }
        format!("/duplicates?{}", s.finish())
    };
    QueuePage {
        chrome: chrome(viewer),
        sources: choices_of(
            lang,
            "dup.source",
            &["scan", "import"],
            q.get("source").unwrap_or(""),
        ),
        bands: choices_of(
            lang,
            "dup.band",
            &["definite", "possible", "weak"],
            q.get("band").unwrap_or(""),
        ),
        statuses,
        types,
        counts: queue
            .counts
            .unwrap_or_default()
            .into_iter()
            .map(|(s, n)| (s.clone(), status_text(lang, &s), n))
            .collect(),
        rows,
        next_href: queue.page.next_cursor.as_deref().map(|c| href(Some(c))),
        first_href: q.get("cursor").map(|_| href(None)),
        errors: Vec::new(),
    }
}

/// `GET /duplicates`: the review queue, filtered by the URL.
pub(crate) async fn queue(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let tz = state.app.config.code_timezone;
    match state
        .app
        .customers()
        .duplicate_queue(&viewer.actor, group_query(&q))
        .await
    {
        Ok(queue) => render(StatusCode::OK, &queue_page(&viewer, &q, queue, tz)),
        // A refused filter: the form again with the values given and the rule broken.
        Err(AppError::Validation(errs)) => {
            let empty = DuplicateQueue {
                page: DuplicateGroupPage {
                    items: Vec::new(),
                    next_cursor: None,
                },
                counts: None,
            };
            let mut page = queue_page(&viewer, &q, empty, tz);
            page.errors = errs
                .iter()
                .map(|e| format!("{}: {}", e.field, e.violation.message(viewer.lang)))
                .collect();
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

/// A member's column head.
struct MemberHead {
    code: String,
    code_path: String,
    name: String,
    status: String,
    survivor: bool,
}

/// One row of the side-by-side view.
struct FieldRow {
    field: String,
    label: String,
    differs: bool,
    /// Per member: code, value shown, checked.
    cells: Vec<(String, String, bool)>,
    /// The default source when choosing it again may be left out of the request.
    default: Option<String>,
    choosable: bool,
    evidence: Vec<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/duplicates/group.html")]
struct GroupPage {
    chrome: Chrome,
    id: i64,
    open: bool,
    status_text: String,
    status_class: &'static str,
    source: String,
    score: String,
    decided: String,
    decision_reason: String,
    merge_href: Option<String>,
    heads: Vec<MemberHead>,
    rows: Vec<FieldRow>,
    pairs: Vec<(String, String, String, Vec<String>)>,
    survivor: String,
    may_merge: bool,
    may_apply: bool,
    reason: String,
    reason_error: Option<String>,
    errors: Vec<String>,
}

/// What a posted merge asked for, kept when the page comes back with errors.
#[derive(Default)]
struct Typed {
    choices: BTreeMap<String, String>,
    reason: String,
    errors: Vec<(String, String)>,
}

fn kind_text(lang: Lang, kind: &str) -> String {
    let key = format!("dup.kind.{kind}");
    match t(lang, &key) {
        k if k == key => kind.to_string(),
        w => w.to_string(),
    }
}

fn field_value(lang: Lang, field: &str, v: &Option<String>) -> String {
    match (field, v) {
        (_, None) => t(lang, "dup.empty_value").to_string(),
        ("customer_type", Some(c)) => term_or_code(Terms::CustomerType, c, lang),
        ("scale", Some(c)) => term_or_code(Terms::Scale, c, lang),
        (_, Some(s)) => s.clone(),
    }
}

fn group_page(viewer: &Viewer, r: GroupReview, typed: Typed, tz: chrono_tz::Tz) -> GroupPage {
    let lang = viewer.lang;
    let g = &r.group;
    let error_of = |f: &str| {
        typed
            .errors
            .iter()
            .find(|(k, _)| k == f)
            .map(|(_, m)| m.clone())
    };
    let rows = r
        .fields
        .iter()
        .map(|f| {
            // A different registration or ID number is kept only when the steward picks
            // one: no radio starts checked, so a form sent as shown leaves it out and the
            // merge's own identifier-conflict check refuses it, as the API does.
            let identifier = matches!(f.field.as_str(), "uscc" | "id_number") && f.differs;
            let chosen = typed
                .choices
                .get(&f.field)
                .cloned()
                .or_else(|| f.default_source.clone().filter(|_| !identifier));
            FieldRow {
                label: match lang {
                    Lang::Zh => f.label_zh.clone(),
                    Lang::En => f.label_en.clone(),
                },
                differs: f.differs,
                cells: r
                    .members
                    .iter()
                    .zip(&f.values)
                    .map(|(m, v)| {
                        (
                            m.code.clone(),
                            field_value(lang, &f.field, v),
                            chosen.as_deref() == Some(m.code.as_str()),
                        )
                    })
                    .collect(),
                default: f.default_source.clone().filter(|_| !identifier),
                choosable: f.values.iter().any(Option::is_some),
                evidence: f
                    .evidence
                    .iter()
                    .map(|e| {
                        let detail = if lang == Lang::Zh { &e.3 } else { &e.4 };
                        format!("{} · {}: {}", e.0, e.1, kind_text(lang, &e.2)) + " " + detail
                    })
                    .collect(),
                error: error_of(&format!("fields.{}", f.field)),
                field: f.field.clone(),
            }
        })
        .collect();
    let known: Vec<String> = r
        .fields
        .iter()
        .map(|f| format!("fields.{}", f.field))
        .chain(["reason".to_string()])
        .collect();
    GroupPage {
        chrome: {
            let mut c = chrome(viewer);
            c.title = format!("{} #{}", t(lang, "dup.group"), g.id);
            c
        },
        id: g.id,
        open: g.status == "open",
        status_text: status_text(lang, &g.status),
        status_class: status_class(&g.status),
        source: t(lang, &format!("dup.source.{}", g.source)).to_string(),
        score: format!("{:.2}", g.score),
        decided: g
            .decided_at
            .as_deref()
            .map(|d| local_minutes(d, tz))
            .unwrap_or_default(),
        decision_reason: g.decision_reason.clone().unwrap_or_default(),
        merge_href: g
            .merge_id
            .and_then(|_| r.members.first())
            .map(|m| format!("/customers/{}?tab=codes", encode_component(&m.code))),
        heads: r
            .members
            .iter()
            .map(|m| MemberHead {
                code: m.code.clone(),
                code_path: encode_component(&m.code),
                name: m.name.clone(),
                status: term_or_code(Terms::CustomerStatus, &m.status, lang),
                survivor: m.code == r.survivor,
            })
            .collect(),
        rows,
        pairs: g
            .pairs
            .iter()
            .map(|p| {
                let ev = p
                    .evidence
                    .iter()
                    .map(|e| {
                        let detail = if lang == Lang::Zh {
                            &e.detail_zh
                        } else {
                            &e.detail_en
                        };
                        format!("{}: {} {}", e.field, kind_text(lang, &e.kind), detail)
                    })
                    .collect();
                (p.a.clone(), p.b.clone(), format!("{:.2}", p.score), ev)
            })
            .collect(),
        survivor: r.survivor.clone(),
        may_merge: r.may_merge,
        may_apply: r.may_apply,
        reason: typed.reason.clone(),
        reason_error: error_of("reason"),
        errors: typed
            .errors
            .iter()
            .filter(|(k, _)| !known.contains(k))
            .map(|(_, m)| m.clone())
            .collect(),
    }
}

fn group_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "duplicate_group")
}

async fn show_group(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    survivor: Option<&str>,
    typed: Typed,
    status: StatusCode,
) -> Response {
    let review = match group_id(id) {
        Ok(id) => {
            state
                .app
                .customers()
                .duplicate_review(&viewer.actor, id, survivor)
                .await
        }
        Err(e) => Err(e),
    };
    match review {
        Ok(r) => render(
            status,
            &group_page(viewer, r, typed, state.app.config.code_timezone),
        ),
        Err(e) => PageError::new(chrome(viewer), e).into_response(),
    }
}

/// `GET /duplicates/{id}[?survivor=CODE]`: the records side by side.
pub(crate) async fn group(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    show_group(
        &state,
        &viewer,
        &id,
        q.get("survivor"),
        Typed::default(),
        StatusCode::OK,
    )
    .await
}

/// The field choices of a posted merge: `fields.<key>` = the member's code, left out
/// where it repeats the default the page offered (`default.<key>`).
fn posted_choices(posted: &Posted) -> BTreeMap<String, String> {
    posted
        .fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("fields.")?.to_string(), v.clone())))
        .filter(|(f, v)| posted.get(&format!("default.{f}")) != Some(v.as_str()))
        .collect()
}

/// `POST /duplicates/{id}/merge`: merge (or apply for the merge), then the survivor's
/// page or the application's.
pub(crate) async fn merge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let survivor = posted.get("survivor").unwrap_or("").to_string();
    let reason = posted.get("reason").unwrap_or("").trim().to_string();
    let shown: BTreeMap<String, String> = posted
        .fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("fields.")?.to_string(), v.clone())))
        .collect();
    let req = GroupMergeRequest {
        survivor: survivor.clone(),
        merged: None,
        fields: posted_choices(&posted),
        reason: Some(reason.clone()).filter(|r| !r.is_empty()),
    };
    let done = match group_id(&id) {
        Ok(gid) => {
            state
                .app
                .customers()
                .merge_or_apply_group(&viewer.actor, gid, req)
                .await
        }
        Err(e) => Err(e),
    };
    let errors = match done {
        Ok(GroupMergeOutcome::Merged(r)) => {
            let to = format!(
                "/customers/{}?tab=codes",
                encode_component(&r.survivor.code)
            );
            return Redirect::to(&to).into_response();
        }
        Ok(GroupMergeOutcome::Applied(a)) => {
            return Redirect::to(&format!("/applications/{}", a.id)).into_response();
        }
        Err(AppError::Validation(errs)) => errs
            .iter()
            .map(|e| {
                (
                    e.field.clone(),
                    e.violation.message(viewer.lang).to_string(),
                )
            })
            .collect(),
        Err(e @ (AppError::Conflict(_) | AppError::Rejected(_))) => {
            vec![(String::new(), e.detail(viewer.lang))]
        }
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let typed = Typed {
        choices: shown,
        reason,
        errors,
    };
    show_group(
        &state,
        &viewer,
        &id,
        Some(&survivor),
        typed,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// `POST /duplicates/{id}/dismiss`: not duplicates, remembered.
pub(crate) async fn dismiss(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let reason = posted
        .get("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let done = match group_id(&id) {
        Ok(gid) => {
            state
                .app
                .customers()
                .dismiss_duplicate_group(&viewer.actor, gid, DismissRequest { reason })
                .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(g) => Redirect::to(&format!("/duplicates/{}", g.id)).into_response(),
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}
