//! `/rules` (编码规则): every rule with its status, version, the customers it applies to
//! and how full its sequence scopes are; `/rules/{key}`: its versions side by side
//! (read-only) with 发布, 替换发布 and 停用 — the API's use cases, permissions included.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use custos_app::codes::{AppliesTo, CodeRuleVersion, RuleOverview};
use custos_app::terms::{term_or_code, Terms};
use custos_app::AppError;
use custos_core::code_rule::Segment;
use custos_core::violation::Lang;

use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;
use custos_app::clock::local_minutes;

/// Versions shown side by side unless `?versions=` picks others.
const SIDE_BY_SIDE: usize = 3;

/// A sequence scope's gauge.
pub(crate) struct Gauge {
    pub scope: String,
    pub used: i64,
    pub remaining: i64,
    pub capacity: i64,
    pub percent: String,
    pub warning: bool,
}

/// A rule as the list shows it.
pub(crate) struct RuleRow {
    pub key: String,
    pub name: String,
    pub published: Option<i64>,
    pub draft: Option<i64>,
    pub newest: i64,
    pub status: String,
    pub status_class: &'static str,
    pub applies: String,
    pub gauges: Vec<Gauge>,
    pub more_scopes: usize,
    pub unbounded: bool,
}

/// One version as the side-by-side view shows it.
pub(crate) struct VersionCard {
    pub version: i64,
    pub name: String,
    pub status: String,
    pub status_class: &'static str,
    pub applies: String,
    /// `(kind word, parameters)` per segment.
    pub segments: Vec<(String, String)>,
    pub created: String,
    pub published: String,
    pub disabled: String,
}

fn status_of(lang: Lang, status: &str) -> (String, &'static str) {
    let class = match status {
        "published" => "ok",
        "draft" => "warn",
        _ => "",
    };
    (
        t(lang, &format!("rules.status.{status}")).to_string(),
        class,
    )
}

/// The customers a rule applies to, in business terms.
pub(crate) fn applies_text(lang: Lang, a: &AppliesTo) -> String {
    let types = match a.customer_types.is_empty() {
        true => t(lang, "rules.all_types").to_string(),
        false => a
            .customer_types
            .iter()
            .map(|ty| term_or_code(Terms::CustomerType, ty, lang))
            .collect::<Vec<_>>()
            .join("、"),
    };
    match a.region_prefixes.is_empty() {
        true => types,
        false => format!(
            "{types}（{} {}）",
            t(lang, "rules.regions"),
            a.region_prefixes.join("、")
        ),
    }
}

fn word(lang: Lang, group: &str, value: &str) -> String {
    super::admin_words::word(lang, &format!("rules.{group}"), value)
}

/// The JSON name of a value (`daily`, `mod37-2`, `province`).
fn json_name(v: impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A segment as words: its kind and its parameters.
pub(crate) fn segment_text(lang: Lang, s: &Segment) -> (String, String) {
    let kind = word(lang, "kind", s.kind());
    let params = match s {
        Segment::Constant { value } => value.clone(),
        Segment::Attribute { field, map } => {
            let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}→{v}")).collect();
            format!("{field}: {}", pairs.join(", "))
        }
        Segment::Region { level } => word(lang, "level", &json_name(level)),
        Segment::Date { format } => format.pattern().to_string(),
        Segment::Sequence {
            width,
            start,
            reset,
        } => format!(
            "{} {width}, {} {start}, {}",
            t(lang, "rules.field.width"),
            t(lang, "rules.field.start"),
            word(lang, "reset", &json_name(reset))
        ),
        Segment::Check { algorithm } => json_name(algorithm),
        Segment::Random { width } => format!("{} {width}", t(lang, "rules.field.width")),
    };
    (kind, params)
}

fn rule_row(lang: Lang, o: &RuleOverview) -> RuleRow {
    let newest = o.rule.versions.last();
    let draft = o
        .rule
        .versions
        .iter()
        .find(|v| v.status == "draft")
        .map(|v| v.version);
    let shown = o
        .rule
        .versions
        .iter()
        .find(|v| v.status == "published")
        .or(newest);
    let (status, status_class) = status_of(lang, shown.map_or("", |v| v.status.as_str()));
    RuleRow {
        key: o.rule.key.clone(),
        name: o.rule.name.clone(),
        published: o.rule.published_version,
        draft,
        newest: newest.map_or(0, |v| v.version),
        status,
        status_class,
        applies: shown
            .map(|v| applies_text(lang, &v.applies_to))
            .unwrap_or_default(),
        gauges: o
            .capacity
            .scopes
            .iter()
            .map(|s| Gauge {
                scope: s.scope.clone(),
                used: s.used,
                remaining: s.remaining,
                capacity: s.capacity,
                percent: format!("{:.1}", s.percent_used),
                warning: s.warning,
            })
            .collect(),
        more_scopes: o.scope_count.saturating_sub(o.capacity.scopes.len()),
        unbounded: o.capacity.capacity_per_scope.is_none(),
    }
}

fn card(lang: Lang, v: &CodeRuleVersion, tz: chrono_tz::Tz) -> VersionCard {
    let (status, status_class) = status_of(lang, &v.status);
    VersionCard {
        version: v.version,
        name: v.name.clone(),
        status,
        status_class,
        applies: applies_text(lang, &v.applies_to),
        segments: v.segments.iter().map(|s| segment_text(lang, s)).collect(),
        created: local_minutes(&v.created_at, tz),
        published: v
            .published_at
            .as_deref()
            .map(|p| local_minutes(p, tz))
            .unwrap_or_default(),
        disabled: v
            .disabled_at
            .as_deref()
            .map(|p| local_minutes(p, tz))
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "console/rules/list.html")]
struct ListPage {
    chrome: Chrome,
    rules: Vec<RuleRow>,
    none_published: bool,
    may_manage: bool,
}

#[derive(Template)]
#[template(path = "console/rules/detail.html")]
struct DetailPage {
    chrome: Chrome,
    r: RuleRow,
    cards: Vec<VersionCard>,
    all_versions: Vec<i64>,
    /// Other published rules this one's draft could replace.
    replaceable: Vec<(String, String)>,
    may_manage: bool,
    may_publish: bool,
    /// Applies for publication (drafts rules, may not publish them).
    may_apply: bool,
    message: Option<String>,
}

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/rules", "rules.title")
}

/// `GET /rules`.
pub(crate) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let overview = match state.app.codes().code_rule_overview(&viewer.actor).await {
        Ok(o) => o,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let rules: Vec<RuleRow> = overview.iter().map(|o| rule_row(viewer.lang, o)).collect();
    let page = ListPage {
        chrome: chrome(&viewer),
        none_published: rules.iter().all(|r| r.published.is_none()),
        may_manage: viewer.actor.can("rule.manage"),
        rules,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub(crate) struct DetailQuery {
    /// Versions to show side by side, `1,3`.
    versions: Option<String>,
}

async fn detail_page(
    state: &AppState,
    viewer: &Viewer,
    key: &str,
    versions: Option<&str>,
    message: Option<String>,
) -> Response {
    let overview = match state.app.codes().code_rule_overview(&viewer.actor).await {
        Ok(o) => o,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let Some(this) = overview.iter().find(|o| o.rule.key == key) else {
        let e = AppError::not_found("code_rule", key);
        return PageError::new(chrome(viewer), e).into_response();
    };
    let lang = viewer.lang;
    let tz = state.app.config.code_timezone;
    let picked: Vec<i64> = versions
        .unwrap_or("")
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let mut shown: Vec<&CodeRuleVersion> = this
        .rule
        .versions
        .iter()
        .filter(|v| picked.contains(&v.version))
        .collect();
    if shown.is_empty() {
        let n = this.rule.versions.len();
        shown = this.rule.versions[n.saturating_sub(SIDE_BY_SIDE)..]
            .iter()
            .collect();
    }
    let replaceable = overview
        .iter()
        .filter(|o| o.rule.key != key && o.rule.published_version.is_some())
        .map(|o| (o.rule.key.clone(), o.rule.name.clone()))
        .collect();
    let page = DetailPage {
        chrome: Chrome::new(viewer, "/rules", "rules.title"),
        r: rule_row(lang, this),
        cards: shown.iter().rev().map(|v| card(lang, v, tz)).collect(),
        all_versions: this.rule.versions.iter().map(|v| v.version).collect(),
        replaceable,
        may_manage: viewer.actor.can("rule.manage"),
        may_publish: viewer.actor.can("rule.publish"),
        may_apply: viewer.actor.can("application.submit"),
        message: message.clone(),
    };
    let status = match message {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    render(status, &page)
}

/// `GET /rules/{key}[?versions=1,2]`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    detail_page(&state, &viewer, &key, q.versions.as_deref(), None).await
}

/// After a change: back to the rule's page, or the page with the refusal above it.
async fn after(
    state: &AppState,
    viewer: &Viewer,
    key: &str,
    done: Result<custos_app::codes::CodeRuleView, AppError>,
) -> Response {
    match done {
        // Changed, so `key` names a stored rule: lower-case letters, digits, - and _.
        Ok(view) => Redirect::to(&format!("/rules/{}", view.key)).into_response(),
        Err(e @ (AppError::Conflict(_) | AppError::Rejected(_) | AppError::Validation(_))) => {
            detail_page(state, viewer, key, None, Some(e.detail(viewer.lang))).await
        }
        Err(e) => PageError::new(chrome(viewer), e).into_response(),
    }
}

/// `POST /rules/{key}/publish`: the draft becomes the version codes come from.
pub(crate) async fn publish(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let done = state
        .app
        .codes()
        .publish_code_rule(&viewer.actor, &key)
        .await;
    after(&state, &viewer, &key, done).await
}

/// `POST /rules/{key}/replace` (`replaces`): publish the draft and disable the rule it
/// replaces in one step.
pub(crate) async fn replace(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let replaces = posted.get("replaces").unwrap_or("");
    let done = state
        .app
        .codes()
        .replace_code_rule(&viewer.actor, &key, replaces)
        .await;
    after(&state, &viewer, &key, done).await
}

/// `POST /rules/{key}/delete-draft`: the draft thrown away, back to the rule (or to the
/// list when the rule was only a draft).
pub(crate) async fn delete_draft(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    match state
        .app
        .codes()
        .delete_code_rule_draft(&viewer.actor, &key)
        .await
    {
        Ok(()) => match state.app.codes().get_code_rule(&viewer.actor, &key).await {
            Ok(v) => Redirect::to(&format!("/rules/{}", v.key)).into_response(),
            Err(_) => Redirect::to("/rules").into_response(),
        },
        Err(e) => after(&state, &viewer, &key, Err(e)).await,
    }
}

/// `POST /rules/{key}/apply-publish`: a `publish_rule` application for the draft, then
/// the application's page.
pub(crate) async fn apply_publish(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
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
    match state
        .app
        .codes()
        .apply_to_publish_code_rule(&viewer.actor, &key, reason)
        .await
    {
        Ok(a) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
        Err(e) => after(&state, &viewer, &key, Err(e)).await,
    }
}

/// `POST /rules/{key}/disable`: no more codes from the rule (its codes stay valid).
pub(crate) async fn disable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let done = state
        .app
        .codes()
        .disable_code_rule(&viewer.actor, &key)
        .await;
    after(&state, &viewer, &key, done).await
}
