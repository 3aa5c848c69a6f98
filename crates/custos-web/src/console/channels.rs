//! `/admin/channels` (通知渠道): DingTalk and WeCom group robots and generic webhooks that
//! receive notifications of chosen kinds for chosen departments — list (the address
//! masked as the API shows it), create, change, remove, send a test message with its
//! outcome, pause and resume, and the recent deliveries of each. Every action is the API's use case
//! (`notifications.manage` over everyone, audit with the masked address only).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::channels::{
    ChannelPatch, ChannelView, DeliveryView, NewChannel, NotificationKind, Provider,
};
use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::{FieldError, Violation};

use super::admin_users::department_names;
use super::admin_words::{refuse_unless_over_all, word, FormErrors, SubNav};
use super::form::Posted;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;
use custos_app::clock::local_minutes;

/// The providers a form offers.
const PROVIDERS: [Provider; 3] = [Provider::Dingtalk, Provider::Wecom, Provider::Webhook];

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/admin/users", "ch.title")
}

/// Channels are an administrator's: `notifications.manage` over everyone.
fn refused(viewer: &Viewer) -> Option<Response> {
    refuse_unless_over_all(viewer, "notifications.manage", || chrome(viewer))
}

/// A channel as the pages show it.
struct ChannelLine {
    id: i64,
    name: String,
    provider: String,
    provider_text: String,
    url_masked: String,
    has_secret: bool,
    kinds: Vec<String>,
    kind_texts: String,
    departments: Vec<i64>,
    department_texts: String,
    created: String,
    active: bool,
    pending: i64,
    sent: i64,
    failed: i64,
    cancelled: i64,
}

fn channel_line(
    c: &ChannelView,
    lang: Lang,
    tz: chrono_tz::Tz,
    names: &[(i64, String)],
) -> ChannelLine {
    let dept = |d: &i64| {
        names
            .iter()
            .find(|(id, _)| id == d)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| d.to_string())
    };
    ChannelLine {
        id: c.id,
        name: c.name.clone(),
        provider: c.provider.as_str().to_string(),
        provider_text: word(lang, "ch.provider", c.provider.as_str()),
        url_masked: c.url_masked.clone(),
        has_secret: c.has_secret,
        kinds: c.kinds.iter().map(|k| k.as_str().to_string()).collect(),
        kind_texts: c
            .kinds
            .iter()
            .map(|k| word(lang, "ch.kind", k.as_str()))
            .collect::<Vec<_>>()
            .join("、"),
        departments: c.departments.clone(),
        department_texts: match c.departments.is_empty() {
            true => t(lang, "ch.all_departments").to_string(),
            false => c
                .departments
                .iter()
                .map(dept)
                .collect::<Vec<_>>()
                .join("、"),
        },
        created: local_minutes(&c.created_at, tz),
        active: c.active,
        pending: c.deliveries.pending,
        sent: c.deliveries.sent,
        failed: c.deliveries.failed,
        cancelled: c.deliveries.cancelled,
    }
}

/// What a channel form shows again after a refusal (the URL and secret never: they are
/// typed again).
#[derive(Default)]
struct Values {
    name: String,
    provider: String,
    kinds: Vec<String>,
    departments: Vec<String>,
}

impl Values {
    fn from_posted(posted: &Posted) -> Values {
        let many = |k: &str| -> Vec<String> {
            posted
                .all(k)
                .into_iter()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        };
        Values {
            name: posted.get("name").unwrap_or("").to_string(),
            provider: posted.get("provider").unwrap_or("").to_string(),
            kinds: many("kinds"),
            departments: many("departments"),
        }
    }

    fn of(c: &ChannelLine) -> Values {
        Values {
            name: c.name.clone(),
            provider: c.provider.clone(),
            kinds: c.kinds.clone(),
            departments: c.departments.iter().map(i64::to_string).collect(),
        }
    }

    /// The kinds and departments as the use case takes them, or the fields' errors.
    fn parsed(&self) -> Result<(Vec<NotificationKind>, Vec<i64>), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut kinds = Vec::new();
        for k in &self.kinds {
            match NotificationKind::parse(k) {
                Some(k) => kinds.push(k),
                None => {
                    let all: Vec<&str> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
                    let shown: String = k.chars().filter(|c| !c.is_control()).take(32).collect();
                    errors.push(
                        Violation::new(
                            "channel.kind",
                            format!("kinds：未知的通知类型“{shown}”，可用：{}", all.join("、")),
                            format!("kinds: unknown kind '{shown}'; known: {}", all.join(", ")),
                        )
                        .on("kinds"),
                    );
                }
            }
        }
        let departments: Result<Vec<i64>, _> =
            self.departments.iter().map(|d| d.parse::<i64>()).collect();
        let departments = departments.unwrap_or_else(|_| {
            errors.push(
                Violation::new(
                    "number.integer",
                    format!("departments {}", t(Lang::Zh, "ch.not_number")),
                    format!("departments {}", t(Lang::En, "ch.not_number")),
                )
                .on("departments"),
            );
            Vec::new()
        });
        match errors.is_empty() {
            true => Ok((kinds, departments)),
            false => Err(errors),
        }
    }
}

/// What both channel forms need: the catalog of kinds, providers and departments.
struct Choices {
    kinds: Vec<(&'static str, String)>,
    providers: Vec<(&'static str, String)>,
    departments: Vec<(i64, String)>,
}

async fn choices(state: &AppState, viewer: &Viewer) -> Choices {
    let lang = viewer.lang;
    Choices {
        kinds: NotificationKind::ALL
            .iter()
            .map(|k| (k.as_str(), word(lang, "ch.kind", k.as_str())))
            .collect(),
        providers: PROVIDERS
            .iter()
            .map(|p| (p.as_str(), word(lang, "ch.provider", p.as_str())))
            .collect(),
        departments: department_names(state, viewer).await,
    }
}

#[derive(Template)]
#[template(path = "console/admin/channels.html")]
struct ListPage {
    chrome: Chrome,
    subnav: SubNav,
    channels: Vec<ChannelLine>,
    values: Values,
    errors: FormErrors,
    others: Vec<String>,
    choices: Choices,
    notice: Option<String>,
}

impl ListPage {
    fn kind_chosen(&self, k: &str) -> bool {
        self.values.kinds.iter().any(|v| v == k)
    }

    fn department_chosen(&self, d: &i64) -> bool {
        self.values.departments.iter().any(|v| *v == d.to_string())
    }
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    values: Values,
    errors: FormErrors,
    notice: Option<String>,
) -> Response {
    let found = match state
        .app
        .channels()
        .list_notification_channels(&viewer.actor)
        .await
    {
        Ok(c) => c,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let choices = choices(state, viewer).await;
    let page = ListPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/channels"),
        channels: found
            .iter()
            .map(|c| channel_line(c, viewer.lang, tz, &choices.departments))
            .collect(),
        others: errors.others(&["name", "provider", "url", "secret", "kinds", "departments"]),
        values,
        errors,
        choices,
        notice,
    };
    render(status, &page)
}

/// `GET /admin/channels`: the channels and the form for a new one.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let notice = q
        .get("removed")
        .map(|_| t(viewer.lang, "ch.removed").to_string());
    let values = Values {
        provider: "dingtalk".into(),
        ..Values::default()
    };
    list_page(
        &state,
        &viewer,
        StatusCode::OK,
        values,
        FormErrors::default(),
        notice,
    )
    .await
}

fn provider_error() -> FieldError {
    Violation::new(
        "channel.provider",
        "provider 须为 dingtalk、wecom 或 webhook",
        "provider must be dingtalk, wecom or webhook",
    )
    .on("provider")
}

/// A refusal as the form shows it, or the error page for the rest.
fn form_refusal(e: AppError, lang: Lang) -> Result<(StatusCode, FormErrors), AppError> {
    match e {
        AppError::Validation(f) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_fields(&f, lang),
        )),
        e @ AppError::Conflict(_) => {
            Ok((StatusCode::CONFLICT, FormErrors::general(e.detail(lang))))
        }
        e => Err(e),
    }
}

/// `POST /admin/channels`: the API's create_notification_channel.
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
    let values = Values::from_posted(&posted);
    let result = match (Provider::parse(&values.provider), values.parsed()) {
        (Some(provider), Ok((kinds, departments))) => {
            let input = NewChannel {
                name: values.name.clone(),
                provider,
                url: posted.get("url").unwrap_or("").trim().to_string(),
                secret: posted
                    .get("secret")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                kinds,
                departments,
            };
            state
                .app
                .channels()
                .create_notification_channel(&viewer.actor, input)
                .await
        }
        (None, parsed) => {
            let mut errors = parsed.err().unwrap_or_default();
            errors.push(provider_error());
            Err(AppError::Validation(errors))
        }
        (_, Err(errors)) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(c) => Redirect::to(&format!("/admin/channels/{}?saved=1", c.id)).into_response(),
        Err(e) => match form_refusal(e, viewer.lang) {
            Ok((status, errors)) => list_page(&state, &viewer, status, values, errors, None).await,
            Err(e) => PageError::new(chrome(&viewer), e).into_response(),
        },
    }
}

#[derive(Template)]
#[template(path = "console/admin/channel.html")]
struct ChannelPage {
    chrome: Chrome,
    subnav: SubNav,
    channel: ChannelLine,
    deliveries: Vec<DeliveryLine>,
    values: Values,
    errors: FormErrors,
    choices: Choices,
    notice: Option<String>,
    warning: Option<String>,
}

impl ChannelPage {
    fn kind_chosen(&self, k: &str) -> bool {
        self.values.kinds.iter().any(|v| v == k)
    }

    fn department_chosen(&self, d: &i64) -> bool {
        self.values.departments.iter().any(|v| *v == d.to_string())
    }
}

struct DeliveryLine {
    notification_id: i64,
    state: String,
    state_text: String,
    attempts: i64,
    next_at: String,
    sent_at: String,
    last_error: String,
}

fn delivery_line(d: &DeliveryView, lang: Lang, tz: chrono_tz::Tz) -> DeliveryLine {
    let time = |v: &Option<String>| {
        v.as_deref()
            .map(|x| local_minutes(x, tz))
            .unwrap_or_default()
    };
    DeliveryLine {
        notification_id: d.notification_id,
        state: d.state.clone(),
        state_text: word(lang, "ch.state", &d.state),
        attempts: d.attempts,
        next_at: time(&d.next_at),
        sent_at: time(&d.sent_at),
        last_error: d.last_error.clone().unwrap_or_default(),
    }
}

fn channel_id(raw: &str) -> Result<i64, AppError> {
    super::admin_words::path_id(raw, "notification_channel")
}

/// What the channel page shows besides the channel.
#[derive(Default)]
struct Shown {
    values: Option<Values>,
    errors: FormErrors,
    notice: Option<String>,
    warning: Option<String>,
}

async fn channel_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let found = async {
        let id = channel_id(id)?;
        let c = state
            .app
            .channels()
            .get_notification_channel(&viewer.actor, id)
            .await?;
        let d = state
            .app
            .channels()
            .notification_channel_deliveries(&viewer.actor, id)
            .await?;
        Ok::<_, AppError>((c, d))
    }
    .await;
    let (c, deliveries) = match found {
        Ok(f) => f,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let lang = viewer.lang;
    let choices = choices(state, viewer).await;
    let channel = channel_line(&c, lang, tz, &choices.departments);
    let page = ChannelPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/channels"),
        values: shown.values.unwrap_or_else(|| Values::of(&channel)),
        channel,
        deliveries: deliveries
            .iter()
            .map(|d| delivery_line(d, lang, tz))
            .collect(),
        errors: shown.errors,
        choices,
        notice: shown.notice,
        warning: shown.warning,
    };
    render(status, &page)
}

/// `GET /admin/channels/{id}`: the channel, its form, test and removal, its deliveries.
pub(crate) async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let notice = [
        ("saved", "admin.saved"),
        ("paused", "ch.paused_notice"),
        ("resumed", "ch.resumed_notice"),
    ]
    .into_iter()
    .find(|(k, _)| q.get(k).is_some())
    .map(|(_, word)| t(viewer.lang, word).to_string());
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    channel_page(&state, &viewer, &id, StatusCode::OK, shown).await
}

/// `POST /admin/channels/{id}`: the API's update_notification_channel. An empty URL or
/// secret keeps the stored one.
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
    let cid = match channel_id(&id) {
        Ok(c) => c,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let values = Values::from_posted(&posted);
    let typed = |k: &str| {
        posted
            .get(k)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let result = match values.parsed() {
        Ok((kinds, departments)) => {
            let secret = match (posted.get("remove_secret").is_some(), typed("secret")) {
                (true, _) => Some(None),
                (false, Some(s)) => Some(Some(s)),
                (false, None) => None,
            };
            let patch = ChannelPatch {
                name: Some(values.name.clone()),
                url: typed("url"),
                secret,
                kinds: Some(kinds),
                departments: Some(departments),
                active: None,
            };
            state
                .app
                .channels()
                .update_notification_channel(&viewer.actor, cid, patch)
                .await
        }
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(c) => Redirect::to(&format!("/admin/channels/{}?saved=1", c.id)).into_response(),
        Err(e) => match form_refusal(e, viewer.lang) {
            Ok((status, errors)) => {
                let shown = Shown {
                    values: Some(values),
                    errors,
                    ..Shown::default()
                };
                channel_page(&state, &viewer, &id, status, shown).await
            }
            Err(e) => PageError::new(chrome(&viewer), e).into_response(),
        },
    }
}

/// `POST /admin/channels/{id}/{test|pause|resume|remove}`.
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
    let cid = match channel_id(&id) {
        Ok(c) => c,
        Err(e) => return PageError::new(chrome(&viewer), e).into_response(),
    };
    let app = &state.app;
    let lang = viewer.lang;
    let result = match action.as_str() {
        "pause" | "resume" => {
            let patch = ChannelPatch {
                active: Some(action == "resume"),
                ..ChannelPatch::default()
            };
            app.channels()
                .update_notification_channel(&viewer.actor, cid, patch)
                .await
                .map(|c| {
                    let shown = format!("/admin/channels/{}?{action}d=1", c.id);
                    Redirect::to(&shown).into_response()
                })
        }
        "remove" => app
            .channels()
            .remove_notification_channel(&viewer.actor, cid)
            .await
            .map(|_| Redirect::to("/admin/channels?removed=1").into_response()),
        "test" => {
            let tested = match app.outbound_client() {
                Ok(out) => {
                    app.channels()
                        .test_notification_channel(&viewer.actor, cid, &out)
                        .await
                }
                Err(e) => Err(e),
            };
            match tested {
                Ok(o) => {
                    let detail = [
                        o.status.map(|s| format!("HTTP {s}")),
                        Some(format!("{} ms", o.elapsed_ms)),
                        o.error.clone(),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ");
                    let shown = match o.ok {
                        true => Shown {
                            notice: Some(format!("{}：{detail}", t(lang, "ch.test_ok"))),
                            ..Shown::default()
                        },
                        false => Shown {
                            warning: Some(format!("{}：{detail}", t(lang, "ch.test_failed"))),
                            ..Shown::default()
                        },
                    };
                    Ok(channel_page(&state, &viewer, &id, StatusCode::OK, shown).await)
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
