//! `/admin/webhooks` (Webhook 订阅): subscriptions that receive the event log by signed
//! HTTP POST — list (address, status, event types, owner, cursor and backlog, the last
//! attempt), create (the secret shown once, on the answer to the form), and per
//! subscription: pause / resume, rotate the secret (shown once again), remove, send a
//! test event, replay from a seq, and the delivery log filtered by outcome. Every action
//! is the API's use case (`webhooks.manage` over everyone, audit).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::events::EVENT_TYPES;
use custos_app::webhooks::{
    NewWebhook, ReplayRequest, WebhookAttemptView, WebhookPatch, WebhookView, ATTEMPT_OUTCOMES,
};
use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::Violation;

use super::admin_words::{refuse_unless_over_all, word, FormErrors, SubNav};
use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;
use custos_app::clock::local_minutes;

/// Lines of the delivery log one page shows.
const LOG_PAGE: u32 = 50;

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/admin/users", "wh.title")
}

/// Webhooks are an administrator's: `webhooks.manage` over everyone.
fn refused(viewer: &Viewer) -> Option<Response> {
    refuse_unless_over_all(viewer, "webhooks.manage", || chrome(viewer))
}

/// A subscription as the pages show it.
pub(crate) struct HookLine {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub active: bool,
    pub types: String,
    pub owner: String,
    pub cursor: i64,
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
    pub created: String,
    /// The last attempt: time and outcome in words, and the outcome key.
    pub last: Option<(String, String, String)>,
}

fn hook_line(
    w: &WebhookView,
    last: Option<&WebhookAttemptView>,
    lang: Lang,
    tz: chrono_tz::Tz,
) -> HookLine {
    HookLine {
        id: w.id,
        name: w.name.clone(),
        url: w.url.clone(),
        active: w.active,
        types: match w.event_types.is_empty() {
            true => t(lang, "wh.all_types").to_string(),
            false => w.event_types.join(", "),
        },
        owner: w.owner.clone(),
        cursor: w.cursor,
        pending: w.pending,
        delivered: w.delivered,
        dead: w.dead,
        created: local_minutes(&w.created_at, tz),
        last: last.map(|a| {
            (
                local_minutes(&a.at, tz),
                word(lang, "wh.outcome", &a.outcome),
                a.outcome.clone(),
            )
        }),
    }
}

/// What the new-subscription form shows again after a refusal.
#[derive(Default)]
struct NewValues {
    name: String,
    url: String,
    types: Vec<String>,
    owner: String,
}

/// A subscription form as posted.
fn posted_values(posted: &Posted) -> NewValues {
    let field = |k: &str| posted.get(k).unwrap_or("").to_string();
    NewValues {
        name: field("name"),
        url: field("url"),
        types: posted
            .all("event_types")
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        owner: field("owner"),
    }
}

#[derive(Template)]
#[template(path = "console/admin/webhooks.html")]
struct ListPage {
    chrome: Chrome,
    subnav: SubNav,
    hooks: Vec<HookLine>,
    values: NewValues,
    errors: FormErrors,
    others: Vec<String>,
    event_types: &'static [&'static str],
    notice: Option<String>,
}

impl ListPage {
    fn chosen(&self, ty: &str) -> bool {
        self.values.types.iter().any(|t| t == ty)
    }
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    values: NewValues,
    errors: FormErrors,
    notice: Option<String>,
) -> Response {
    let webhooks = state.app.webhooks();
    let hooks = match webhooks
        .list_webhooks_with_last_attempt(&viewer.actor)
        .await
    {
        Ok(h) => h,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let lines = hooks
        .iter()
        .map(|h| hook_line(&h.webhook, h.last_attempt.as_ref(), viewer.lang, tz))
        .collect();
    let page = ListPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/webhooks"),
        hooks: lines,
        others: errors.others(&["name", "url", "event_types", "owner"]),
        values,
        errors,
        event_types: EVENT_TYPES,
        notice,
    };
    render(status, &page)
}

/// `GET /admin/webhooks`: the subscriptions and the form for a new one.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let notice = q
        .get("removed")
        .map(|_| t(viewer.lang, "wh.removed").to_string());
    list_page(
        &state,
        &viewer,
        StatusCode::OK,
        NewValues::default(),
        FormErrors::default(),
        notice,
    )
    .await
}

#[derive(Template)]
#[template(path = "console/admin/webhook_secret.html")]
struct SecretPage {
    chrome: Chrome,
    subnav: SubNav,
    hook: HookLine,
    secret: String,
}

fn secret_page(viewer: &Viewer, tz: chrono_tz::Tz, w: &WebhookView, secret: String) -> Response {
    let page = SecretPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/webhooks"),
        hook: hook_line(w, None, viewer.lang, tz),
        secret,
    };
    render(StatusCode::CREATED, &page)
}

/// `POST /admin/webhooks`: the API's create_webhook. The secret is in this answer only
/// (never redirected to, never stored; pages are not cached).
pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    if let Some(r) = refused(&viewer) {
        return r;
    }
    let values = posted_values(&posted);
    let input = NewWebhook {
        name: values.name.clone(),
        url: values.url.trim().to_string(),
        event_types: values.types.clone(),
        active: Some(true),
        owner: Some(values.owner.trim().to_string()).filter(|o| !o.is_empty()),
    };
    let lang = viewer.lang;
    let (status, errors) = match state
        .app
        .webhooks()
        .create_webhook(&viewer.actor, input)
        .await
    {
        Ok(made) => {
            let tz = state.app.config.code_timezone;
            return secret_page(&viewer, tz, &made.webhook, made.secret);
        }
        Err(AppError::Validation(f)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_fields(&f, lang),
        ),
        Err(e @ AppError::Conflict(_)) => {
            (StatusCode::CONFLICT, FormErrors::general(e.detail(lang)))
        }
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    list_page(&state, &viewer, status, values, errors, None).await
}

/// One line of the delivery log as the page shows it.
struct LogLine {
    at: String,
    seq: String,
    event_type: String,
    outcome: String,
    outcome_text: String,
    status: String,
    latency_ms: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "console/admin/webhook.html")]
struct HookPage {
    chrome: Chrome,
    subnav: SubNav,
    hook: HookLine,
    log: Vec<LogLine>,
    outcome: String,
    outcomes: Vec<(&'static str, String)>,
    older_href: Option<String>,
    newest_href: Option<String>,
    notice: Option<String>,
    /// The last action's outcome when it failed (test event not delivered).
    warning: Option<String>,
    errors: FormErrors,
    replay_from: String,
    /// The change form's values: the subscription's, or what was typed.
    values: NewValues,
    event_types: &'static [&'static str],
}

impl HookPage {
    fn chosen(&self, ty: &str) -> bool {
        self.values.types.iter().any(|t| t == ty)
    }
}

fn hook_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "webhook")
}

/// What the subscription page shows beside the subscription itself.
#[derive(Default)]
struct Shown {
    notice: Option<String>,
    warning: Option<String>,
    errors: FormErrors,
    replay_from: String,
    values: Option<NewValues>,
}

async fn hook_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    q: &ListQuery,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let outcome = q.get("outcome").unwrap_or("").to_string();
    let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
    let found = async {
        let id = hook_id(id)?;
        let w = state.app.webhooks().get_webhook(&viewer.actor, id).await?;
        let log = state
            .app
            .webhooks()
            .webhook_attempts_of(
                &viewer.actor,
                id,
                before,
                Some(LOG_PAGE),
                Some(outcome.as_str()).filter(|o| !o.is_empty()),
            )
            .await?;
        Ok::<_, AppError>((w, log))
    }
    .await;
    let (w, log) = match found {
        Ok(f) => f,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let lang = viewer.lang;
    let filter = match outcome.is_empty() {
        true => String::new(),
        false => format!("&outcome={outcome}"),
    };
    let page = HookPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/webhooks"),
        hook: hook_line(&w, log.items.first(), lang, tz),
        log: log
            .items
            .iter()
            .map(|a| LogLine {
                at: local_minutes(&a.at, tz),
                seq: a.seq.map(|s| s.to_string()).unwrap_or_default(),
                event_type: a.event_type.clone(),
                outcome: a.outcome.clone(),
                outcome_text: word(lang, "wh.outcome", &a.outcome),
                status: a.status.map(|s| s.to_string()).unwrap_or_default(),
                latency_ms: a.latency_ms,
                error: a.error.clone().unwrap_or_default(),
            })
            .collect(),
        older_href: log
            .next_before
            .map(|b| format!("/admin/webhooks/{}?before={b}{filter}", w.id)),
        newest_href: before.map(|_| {
            format!(
                "/admin/webhooks/{}?{}",
                w.id,
                filter.trim_start_matches('&')
            )
        }),
        outcomes: ATTEMPT_OUTCOMES
            .iter()
            .map(|o| (*o, word(lang, "wh.outcome", o)))
            .collect(),
        outcome,
        notice: shown.notice,
        warning: shown.warning,
        errors: shown.errors,
        replay_from: shown.replay_from,
        values: shown.values.unwrap_or_else(|| NewValues {
            name: w.name.clone(),
            url: w.url.clone(),
            types: w.event_types.clone(),
            owner: w.owner.clone(),
        }),
        event_types: EVENT_TYPES,
    };
    render(status, &page)
}

/// `GET /admin/webhooks/{id}[?outcome=…&before=…]`: the subscription, its actions and
/// its delivery log.
pub(crate) async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let shown = Shown {
        notice: q
            .get("saved")
            .map(|_| t(viewer.lang, "admin.saved").to_string()),
        ..Shown::default()
    };
    hook_page(&state, &viewer, &id, &q, StatusCode::OK, shown).await
}

/// `POST /admin/webhooks/{id}`: the API's update_webhook (name, address, event types,
/// owner); new types and owner apply to events not queued yet.
pub(crate) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    if let Some(r) = refused(&viewer) {
        return r;
    }
    let wid = match hook_id(&id) {
        Ok(w) => w,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let values = posted_values(&posted);
    let patch = WebhookPatch {
        name: Some(values.name.clone()),
        url: Some(values.url.trim().to_string()),
        event_types: Some(values.types.clone()),
        active: None,
        owner: Some(values.owner.trim().to_string()).filter(|o| !o.is_empty()),
    };
    let lang = viewer.lang;
    let (status, errors) = match state
        .app
        .webhooks()
        .update_webhook(&viewer.actor, wid, patch)
        .await
    {
        Ok(w) => return Redirect::to(&format!("/admin/webhooks/{}?saved=1", w.id)).into_response(),
        Err(AppError::Validation(f)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_fields(&f, lang),
        ),
        Err(e @ AppError::Conflict(_)) => {
            (StatusCode::CONFLICT, FormErrors::general(e.detail(lang)))
        }
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let shown = Shown {
        errors,
        values: Some(values),
        ..Shown::default()
    };
    hook_page(&state, &viewer, &id, &ListQuery::default(), status, shown).await
}

/// `POST /admin/webhooks/{id}/{pause|resume|rotate|remove|test|replay}`.
pub(crate) async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    if let Some(r) = refused(&viewer) {
        return r;
    }
    let wid = match hook_id(&id) {
        Ok(w) => w,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let app = &state.app;
    let actor = &viewer.actor;
    let lang = viewer.lang;
    let saved = Redirect::to(&format!("/admin/webhooks/{wid}?saved=1"));
    let q = ListQuery::default();
    let result: Result<Response, AppError> = match action.as_str() {
        "pause" | "resume" => {
            let patch = WebhookPatch {
                active: Some(action == "resume"),
                ..WebhookPatch::default()
            };
            app.webhooks()
                .update_webhook(actor, wid, patch)
                .await
                .map(|_| saved.into_response())
        }
        "rotate" => app
            .webhooks()
            .rotate_webhook_secret(actor, wid)
            .await
            .map(|r| {
                let tz = app.config.code_timezone;
                secret_page(&viewer, tz, &r.webhook, r.secret)
            }),
        "remove" => app
            .webhooks()
            .delete_webhook(actor, wid)
            .await
            .map(|_| Redirect::to("/admin/webhooks?removed=1").into_response()),
        "test" => match app.webhooks().ping_webhook(actor, wid).await {
            Ok(p) => {
                let detail = [
                    p.status.map(|s| format!("HTTP {s}")),
                    Some(format!("{} ms", p.latency_ms)),
                    p.error.clone(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
                let shown = match p.delivered {
                    true => Shown {
                        notice: Some(format!("{}：{detail}", t(lang, "wh.test_ok"))),
                        ..Shown::default()
                    },
                    false => Shown {
                        warning: Some(format!("{}：{detail}", t(lang, "wh.test_failed"))),
                        ..Shown::default()
                    },
                };
                Ok(hook_page(&state, &viewer, &id, &q, StatusCode::OK, shown).await)
            }
            Err(e) => Err(e),
        },
        "replay" => {
            let text = posted.get("from").unwrap_or("").trim().to_string();
            let from = match text.parse::<i64>() {
                Ok(n) => Ok(n),
                Err(_) => Err(AppError::validation(
                    "from",
                    Violation::new(
                        "number.integer",
                        format!("from {}", t(Lang::Zh, "wh.not_number")),
                        format!("from {}", t(Lang::En, "wh.not_number")),
                    ),
                )),
            };
            let done = match from {
                Ok(from) => {
                    app.webhooks()
                        .replay_webhook(actor, wid, ReplayRequest { from })
                        .await
                }
                Err(e) => Err(e),
            };
            match done {
                Ok(r) => {
                    let mut notice = format!(
                        "{}：{}（{}–{}）",
                        t(lang, "wh.replayed"),
                        r.queued,
                        r.from,
                        r.through
                    );
                    if let Some(next) = r.next_from {
                        notice.push_str(&format!("；{} {next}", t(lang, "wh.replay_next")));
                    }
                    let shown = Shown {
                        notice: Some(notice),
                        ..Shown::default()
                    };
                    Ok(hook_page(&state, &viewer, &id, &q, StatusCode::OK, shown).await)
                }
                Err(AppError::Validation(f)) => {
                    let shown = Shown {
                        errors: FormErrors::from_fields(&f, lang),
                        replay_from: text,
                        ..Shown::default()
                    };
                    let status = StatusCode::UNPROCESSABLE_ENTITY;
                    Ok(hook_page(&state, &viewer, &id, &q, status, shown).await)
                }
                Err(e @ AppError::Gone(_)) => {
                    let shown = Shown {
                        errors: FormErrors::general(e.detail(lang)),
                        replay_from: text,
                        ..Shown::default()
                    };
                    Ok(hook_page(&state, &viewer, &id, &q, StatusCode::GONE, shown).await)
                }
                Err(e) => Err(e),
            }
        }
        other => Err(AppError::not_found("page", other)),
    };
    match result {
        Ok(r) => r,
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}
