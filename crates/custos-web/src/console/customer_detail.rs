//! `/customers/{code}` (客户详情): the header and one section (`?tab=`) from the
//! `customer_page` use case, personal data masked; `POST /customers/{code}/pii` shows it
//! in full for a reader who may, with a reason kept in the audit log.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::TimeZone;
use serde::Deserialize;

use custos_app::customer_page::{CustomerPage, Section};
use custos_app::customers::{CustomerStatus, CustomerView, HistoryEntry};
use custos_app::fields::FieldDefinition;
use custos_app::terms::{term_or_code, Terms};
use custos_app::AppError;
use custos_core::violation::Lang;

use custos_app::clock::local_minutes as local_time;
use custos_app::overview::TimelineQuery;

use super::customer_group::{group_part, GroupPart};
use super::customer_timeline::{label, overview_part, timeline_part, OverviewPart, TimelinePart};
use super::customer_words::{duplicate_rows, family_rows, DuplicateRow};
use super::form::Posted;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::{encode_component, Viewer};
use crate::AppState;

type Tz = chrono_tz::Tz;

/// One tab of the page.
pub(crate) struct Tab {
    pub href: String,
    pub key: &'static str,
    pub active: bool,
}

/// A label and the value shown for it.
pub(crate) struct Pair {
    pub label: String,
    pub value: String,
}

pub(crate) struct ContactRow {
    pub name: String,
    pub title: String,
    pub mobile: String,
    pub phone: String,
    pub email: String,
    pub primary: bool,
}

pub(crate) struct HistoryRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub reason: String,
    pub changes: Vec<String>,
}

/// The personal data of a customer, masked or in full.
pub(crate) struct PiiPart {
    pub code_path: String,
    pub masked: bool,
    pub may_reveal: bool,
    pub pairs: Vec<Pair>,
    pub contacts: Vec<ContactRow>,
    pub reason: String,
    pub reason_error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/customers/detail.html")]
struct DetailPage {
    chrome: Chrome,
    code: String,
    code_path: String,
    name: String,
    status: String,
    status_class: &'static str,
    badges: Vec<String>,
    merged_into: Option<(String, String)>,
    created_notice: bool,
    tabs: Vec<Tab>,
    tab: &'static str,
    edit: bool,
    split: bool,
    apply: Vec<(String, String)>,
    basic: Vec<Pair>,
    pii: PiiPart,
    history: Vec<HistoryRow>,
    as_of_date: String,
    as_of_error: bool,
    as_of: Option<Vec<Pair>>,
    code_pairs: Vec<Pair>,
    code_changes: Vec<(String, String, String, String)>,
    lineage: Vec<(String, String, String, String, String, String)>,
    merges: Vec<MergeRow>,
    merged_from: Option<String>,
    xrefs: Vec<(String, String, String)>,
    duplicates: Vec<DuplicateRow>,
    duplicates_outside: Option<String>,
    duplicates_withheld: bool,
    /// Possible family members (同住), apart from the duplicates and never merged.
    family: Vec<DuplicateRow>,
    timeline: Option<TimelinePart>,
    overview: Option<OverviewPart>,
    group: Option<GroupPart>,
}

/// A merge this customer took part in, as the 编码 tab lists it.
struct MergeRow {
    id: i64,
    at: String,
    survivor: String,
    merged: String,
    reason: String,
    undone: Option<String>,
    /// The reader may undo it here (the survivor's page, not undone, `customer.merge`).
    undoable: bool,
}

#[derive(Deserialize)]
pub(crate) struct DetailQuery {
    /// The merged code that led here (its page redirects to the survivor).
    #[serde(default)]
    merged_from: Option<String>,
    #[serde(default)]
    tab: Option<String>,
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    created: Option<String>,
    /// The timeline's filter and cursor.
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

impl DetailQuery {
    /// The query of one tab and nothing else.
    pub(crate) fn for_tab(tab: &str) -> DetailQuery {
        DetailQuery {
            merged_from: None,
            tab: Some(tab.to_string()),
            as_of: None,
            created: None,
            kind: None,
            cursor: None,
        }
    }
}

/// The end of the day (`YYYY-MM-DD`), minute (`…THH:MM`) or second (`…THH:MM:SS`)
/// given, in the configured zone, in microseconds.
fn as_of_end(text: &str, tz: Tz) -> Option<i64> {
    let text = text.trim();
    let (t, span) = if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        (d.and_hms_opt(0, 0, 0)?, 86_400)
    } else if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        (t, 1)
    } else {
        (
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").ok()?,
            60,
        )
    };
    // The read includes the whole last millisecond.
    let start = tz.from_local_datetime(&t).earliest()?.timestamp_micros();
    Some(start + span * 1_000_000 - 1_000)
}

pub(crate) fn detail_chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/customers", "cust.detail_title")
}

/// `GET /customers/{code}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    page_with(state, viewer, code, q, None).await
}

/// The page; `parent_error` is a refused parent form's (parent code, relation, message),
/// shown on the 集团 tab with the values kept.
pub(crate) async fn page_with(
    state: AppState,
    viewer: Viewer,
    code: String,
    q: DetailQuery,
    parent_error: Option<(String, String, String)>,
) -> Response {
    let tz = state.app.config.code_timezone;
    let section = q
        .tab
        .as_deref()
        .and_then(Section::parse)
        .unwrap_or(Section::Basic);
    let date = q.as_of.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let as_of = date.and_then(|d| as_of_end(d, tz));
    let as_of_error = date.is_some() && as_of.is_none();
    let result = state
        .app
        .customers()
        .customer_page(&viewer.actor, &code, section, as_of)
        .await;
    let data = match result {
        Ok(p) => p,
        Err(e) => return PageError::new(detail_chrome(&viewer), e).into_response(),
    };
    // A merged code leads to its survivor, as the API's read does; its own tabs (history,
    // codes) stay reachable by naming them.
    if let (Some(survivor), None, None) = (&data.customer.merged_into, &q.tab, as_of) {
        let to = format!(
            "/customers/{}?merged_from={}",
            encode_component(survivor),
            encode_component(&data.customer.code)
        );
        return Redirect::to(&to).into_response();
    }
    let timeline = match section {
        Section::Timeline => {
            let query = TimelineQuery {
                kind: q.kind.clone(),
                cursor: q.cursor.clone(),
                limit: None,
            };
            match state
                .app
                .overview()
                .customer_timeline(&viewer.actor, &code, query)
                .await
            {
                Ok(t) => Some(timeline_part(
                    t,
                    &data.fields,
                    &data.customer.code,
                    q.kind.as_deref(),
                    viewer.lang,
                    tz,
                )),
                Err(e) => return PageError::new(detail_chrome(&viewer), e).into_response(),
            }
        }
        _ => None,
    };
    let overview = match section {
        Section::Overview => match state
            .app
            .overview()
            .customer_overview(&viewer.actor, &code)
            .await
        {
            Ok(o) => Some(overview_part(o, viewer.lang)),
            Err(e) => return PageError::new(detail_chrome(&viewer), e).into_response(),
        },
        _ => None,
    };
    let may_set_parent = data.actions.edit;
    let group = match section {
        Section::Group => match state
            .app
            .overview()
            .customer_group(&viewer.actor, &code)
            .await
        {
            Ok(g) => Some(group_part(g, may_set_parent, viewer.lang)),
            Err(e) => return PageError::new(detail_chrome(&viewer), e).into_response(),
        },
        _ => None,
    };
    let mut page = detail_page(&viewer, data, section, tz);
    page.timeline = timeline;
    page.overview = overview;
    page.group = group;
    let refused = parent_error.is_some();
    if let (Some(g), Some((parent, relation, message))) = (page.group.as_mut(), parent_error) {
        g.parent_code = parent;
        g.relation = relation;
        g.error = Some(message);
    }
    page.merged_from = q.merged_from.filter(|c| !c.trim().is_empty());
    page.created_notice = q.created.is_some();
    page.as_of_date = date.unwrap_or_default().to_string();
    page.as_of_error = as_of_error;
    if as_of.is_some() && page.as_of.is_none() {
        page.as_of = Some(Vec::new());
    }
    let status = match as_of_error || refused {
        true => StatusCode::UNPROCESSABLE_ENTITY,
        false => StatusCode::OK,
    };
    render(status, &page)
}

fn detail_page(viewer: &Viewer, data: CustomerPage, section: Section, tz: Tz) -> DetailPage {
    let lang = viewer.lang;
    let c = &data.customer;
    let code_path = encode_component(&c.code);
    let mut badges = vec![term_or_code(Terms::CustomerType, &c.customer_type, lang)];
    badges.extend(c.level.iter().cloned());
    badges.extend(c.tags.iter().cloned());
    DetailPage {
        chrome: {
            let mut chrome = detail_chrome(viewer);
            chrome.title = format!("{} {}", c.code, c.name);
            chrome
        },
        tabs: Section::ALL
            .into_iter()
            .map(|s| Tab {
                href: format!("/customers/{code_path}?tab={}", s.name()),
                key: tab_key(s),
                active: s == section,
            })
            .collect(),
        tab: section.name(),
        code: c.code.clone(),
        name: c.name.clone(),
        status: term_or_code(Terms::CustomerStatus, &c.status, lang),
        status_class: match CustomerStatus::of(&c.status) {
            Some(CustomerStatus::Active) => "ok",
            Some(CustomerStatus::Pending | CustomerStatus::Dormant) => "warn",
            _ => "danger",
        },
        badges,
        merged_into: c
            .merged_into
            .as_ref()
            .map(|m| (m.clone(), encode_component(m))),
        created_notice: false,
        edit: data.actions.edit,
        split: data.actions.split,
        apply: data
            .actions
            .apply
            .iter()
            .map(|k| {
                (
                    format!("/applications/new?kind={k}&customer={code_path}"),
                    term_or_code(Terms::ApplicationKind, k, lang),
                )
            })
            .collect(),
        basic: basic_pairs(&data, lang, tz),
        pii: pii_part(c, data.actions.reveal_pii, lang),
        history: data
            .history
            .iter()
            .rev()
            .map(|h| history_row(h, &data.fields, lang, tz))
            .collect(),
        as_of_date: String::new(),
        as_of_error: false,
        as_of: data
            .as_of
            .as_ref()
            .map(|v| record_pairs(v, &data.fields, lang)),
        code_pairs: code_pairs(&data, lang, tz),
        code_changes: data
            .code_changes
            .iter()
            .map(|x| {
                (
                    local_time(&x.at, tz),
                    x.old.clone(),
                    x.new.clone(),
                    x.reason.clone().unwrap_or_default(),
                )
            })
            .collect(),
        lineage: data
            .lineage
            .iter()
            .map(|e| {
                (
                    local_time(&e.at, tz),
                    e.kind.clone(),
                    e.from.clone(),
                    e.to.clone(),
                    encode_component(&e.from),
                    encode_component(&e.to),
                )
            })
            .collect(),
        merges: data
            .merges
            .iter()
            .map(|m| MergeRow {
                id: m.merge_id,
                at: local_time(&m.at, tz),
                survivor: m.survivor.clone(),
                merged: m.merged.join("、"),
                reason: m.reason.clone().unwrap_or_default(),
                undone: m.undone_at.as_deref().map(|u| local_time(u, tz)),
                undoable: m.undone_at.is_none()
                    && m.survivor == c.code
                    && viewer.actor.can("customer.merge"),
            })
            .collect(),
        merged_from: None,
        xrefs: data
            .xrefs
            .iter()
            .map(|x| {
                (
                    x.system.clone(),
                    x.source_id.clone(),
                    local_time(&x.created_at, tz),
                )
            })
            .collect(),
        duplicates: data
            .duplicates
            .as_ref()
            .map(|r| duplicate_rows(r, lang))
            .unwrap_or_default(),
        duplicates_outside: data
            .duplicates
            .as_ref()
            .filter(|r| r.outside_scope_match)
            .and_then(|r| match lang {
                Lang::Zh => r.outside_scope_message_zh.clone(),
                Lang::En => r.outside_scope_message_en.clone(),
            }),
        duplicates_withheld: data.duplicates.as_ref().is_some_and(|r| r.pii_withheld),
        family: data
            .duplicates
            .as_ref()
            .map(|r| family_rows(r, lang))
            .unwrap_or_default(),
        code_path,
        timeline: None,
        overview: None,
        group: None,
    }
}

fn tab_key(s: Section) -> &'static str {
    match s {
        Section::Basic => "cust.tab.basic",
        Section::Contacts => "cust.tab.contacts",
        Section::History => "cust.tab.history",
        Section::Codes => "cust.tab.codes",
        Section::Xrefs => "cust.tab.xrefs",
        Section::Duplicates => "cust.tab.duplicates",
        Section::Timeline => "cust.tab.timeline",
        Section::Overview => "cust.tab.overview",
        Section::Group => "cust.tab.group",
    }
}

/// Fields holding personal data: shown apart, with the reveal button.
const PII_KEYS: &[&str] = &["id_number", "address", "phone", "mobile", "email"];

/// The record's fields in the catalog's order as a reader sees them (personal data apart).
fn record_pairs(c: &CustomerView, fields: &[FieldDefinition], lang: Lang) -> Vec<Pair> {
    let json = serde_json::to_value(c).unwrap_or_default();
    let mut out = Vec::new();
    for f in fields {
        let key = f.key.as_str();
        if PII_KEYS.contains(&key) || matches!(key, "contacts" | "owner_id" | "department_id") {
            continue;
        }
        let value = match key {
            "customer_type" => term_or_code(Terms::CustomerType, &c.customer_type, lang),
            "status" => term_or_code(Terms::CustomerStatus, &c.status, lang),
            "scale" => c
                .scale
                .as_deref()
                .map(|s| term_or_code(Terms::Scale, s, lang))
                .unwrap_or_default(),
            "industry" => join_some(&[c.industry.as_deref(), c.industry_name.as_deref()]),
            "region_code" => join_some(&[
                c.region_code.as_deref(),
                c.province.as_deref(),
                c.city.as_deref(),
                c.district.as_deref(),
            ]),
            _ if !f.builtin => shown(c.custom.get(key)),
            _ => shown(json.get(key)),
        };
        // Fields without a value are left out: the page shows what the record holds.
        if !value.is_empty() {
            out.push(Pair {
                label: label(fields, key, lang),
                value,
            });
        }
    }
    out
}

fn basic_pairs(data: &CustomerPage, lang: Lang, tz: Tz) -> Vec<Pair> {
    let c = &data.customer;
    let mut out = record_pairs(c, &data.fields, lang);
    let named = |name: &Option<String>, id: Option<i64>| match (name, id) {
        (Some(n), Some(id)) => format!("{n}（{id}）"),
        (None, Some(id)) => id.to_string(),
        _ => String::new(),
    };
    let t = |k: &str| super::i18n::t(lang, k).to_string();
    out.push(Pair {
        label: t("cust.owner"),
        value: named(&data.owner_name, c.owner_id),
    });
    out.push(Pair {
        label: t("cust.department"),
        value: named(&data.department_name, c.department_id),
    });
    out.push(Pair {
        label: t("cust.created_at"),
        value: local_time(&c.created_at, tz),
    });
    out.push(Pair {
        label: t("cust.updated_at"),
        value: local_time(&c.updated_at, tz),
    });
    out.push(Pair {
        label: t("cust.version"),
        value: c.version.to_string(),
    });
    out
}

fn join_some(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn shown(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| shown(Some(i)))
            .collect::<Vec<_>>()
            .join("、"),
        Some(v) => v.to_string(),
    }
}

/// The personal data part of a customer as the use case gave it (masked or not).
pub(crate) fn pii_part(c: &CustomerView, may_reveal: bool, lang: Lang) -> PiiPart {
    let labels = custos_app::fields::builtin_fields();
    let json = serde_json::to_value(c).unwrap_or_default();
    PiiPart {
        code_path: encode_component(&c.code),
        masked: c.pii_masked,
        may_reveal: may_reveal && c.pii_masked,
        pairs: PII_KEYS
            .iter()
            .map(|k| Pair {
                label: label(&labels, k, lang),
                value: shown(json.get(*k)),
            })
            .collect(),
        contacts: c
            .contacts
            .iter()
            .map(|x| ContactRow {
                name: x.name.clone(),
                title: x.title.clone().unwrap_or_default(),
                mobile: x.mobile.clone().unwrap_or_default(),
                phone: x.phone.clone().unwrap_or_default(),
                email: x.email.clone().unwrap_or_default(),
                primary: x.is_primary,
            })
            .collect(),
        reason: String::new(),
        reason_error: None,
    }
}

fn history_row(h: &HistoryEntry, fields: &[FieldDefinition], lang: Lang, tz: Tz) -> HistoryRow {
    HistoryRow {
        at: local_time(&h.at, tz),
        actor: h.actor.clone(),
        action: super::customer_words::history_action(&h.action, lang),
        reason: h.reason.clone().unwrap_or_default(),
        changes: h
            .changes
            .iter()
            .map(|c| {
                let key = c.field.strip_prefix("custom.").unwrap_or(&c.field);
                let field = label(fields, key, lang);
                format!("{field}: {} → {}", shown(Some(&c.old)), shown(Some(&c.new)))
            })
            .collect(),
    }
}

fn code_pairs(data: &CustomerPage, lang: Lang, tz: Tz) -> Vec<Pair> {
    let t = |k: &str| super::i18n::t(lang, k).to_string();
    let mut out = vec![Pair {
        label: t("cust.code"),
        value: data.customer.code.clone(),
    }];
    if let Some(o) = &data.code_origin {
        let rule = match (&o.rule_key, o.rule_version, o.manual) {
            (_, _, true) => t("cust.code_manual"),
            (Some(k), Some(v), _) => format!("{k} v{v}"),
            (Some(k), None, _) => k.clone(),
            _ => String::new(),
        };
        out.push(Pair {
            label: t("cust.code_rule"),
            value: rule,
        });
        out.push(Pair {
            label: t("cust.code_issued"),
            value: local_time(&o.issued_at, tz),
        });
    }
    out
}

#[derive(Template)]
#[template(path = "console/customers/pii.html")]
struct PiiFragment {
    chrome: Chrome,
    pii: PiiPart,
}

/// `POST /customers/{code}/pii` (htmx): personal data in full, with the reason given;
/// the use case checks the permission and keeps the read in the audit log.
pub(crate) async fn reveal(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    posted: Posted,
) -> Response {
    let chrome = detail_chrome(&viewer);
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let reason = posted.get("reason").unwrap_or("");
    match state
        .app
        .customers()
        .reveal_customer_pii(&viewer.actor, &code, reason)
        .await
    {
        Ok(c) => {
            let pii = pii_part(&c, true, viewer.lang);
            render(StatusCode::OK, &PiiFragment { chrome, pii })
        }
        Err(AppError::Validation(errors)) => {
            let lang = viewer.lang;
            let message = errors
                .iter()
                .map(|e| e.violation.message(lang))
                .collect::<Vec<_>>()
                .join("；");
            // The masked part again (the reader may see it), with the message beside
            // the reason.
            let masked = state
                .app
                .customers()
                .customer_page(&viewer.actor, &code, Section::Basic, None)
                .await;
            match masked {
                Ok(p) => {
                    let mut pii = pii_part(&p.customer, p.actions.reveal_pii, lang);
                    pii.reason = reason.to_string();
                    pii.reason_error = Some(message);
                    render(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &PiiFragment { chrome, pii },
                    )
                }
                Err(e) => PageError::new(chrome, e).into_response(),
            }
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /customers/{code}/merges/{id}/undo`: undo a merge (the API's use case), then
/// the customer's 编码 tab again.
pub(crate) async fn undo_merge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((code, id)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(detail_chrome(&viewer));
    }
    let reason = posted
        .get("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let done = match id.parse::<i64>() {
        Ok(id) => {
            state
                .app
                .customers()
                .unmerge(&viewer.actor, id, reason)
                .await
        }
        Err(_) => Err(AppError::not_found("merge", &id)),
    };
    match done {
        Ok(_) => Redirect::to(&format!("/customers/{}?tab=codes", encode_component(&code)))
            .into_response(),
        Err(e) => PageError::new(detail_chrome(&viewer), e).into_response(),
    }
}

/// `POST /customers/{code}/parent`: set or clear the parent; back to the 集团 tab, or the
/// tab again with the error beside the input.
pub(crate) async fn set_parent(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(detail_chrome(&viewer));
    }
    let parent_code = posted
        .get("parent_code")
        .unwrap_or_default()
        .trim()
        .to_string();
    let relation = posted.get("relation").unwrap_or("subsidiary").to_string();
    let input = custos_app::hierarchy::SetParent {
        parent_code: Some(parent_code.clone()).filter(|p| !p.is_empty()),
        relation: Some(relation.clone()),
    };
    match state
        .app
        .overview()
        .set_parent(&viewer.actor, &code, input)
        .await
    {
        Ok(_) => Redirect::to(&format!("/customers/{}?tab=group", encode_component(&code)))
            .into_response(),
        Err(AppError::Validation(errors)) => {
            let message = errors
                .iter()
                .map(|e| e.violation.message(viewer.lang).to_string())
                .collect::<Vec<_>>()
                .join("；");
            let q = DetailQuery::for_tab("group");
            let kept = (parent_code, relation, message);
            page_with(state, viewer, code, q, Some(kept)).await
        }
        Err(e) => super::page::PageError::new(detail_chrome(&viewer), e).into_response(),
    }
}
