//! `/` (工作台): what the viewer has to do, their recent customers and how the customers
//! they may see stand — each part only for a viewer whose permissions allow it, all from
//! the one dashboard use case.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use custos_app::dashboard::Dashboard;
use custos_app::terms::{term_or_code, Terms};
use custos_core::region;
use custos_core::violation::Lang;

use custos_app::clock::{local_minutes, waited_since};

use super::figures::{figure_groups, waited_words, FigureGroup};
use super::page::{render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;

/// A pending task as the dashboard lists it.
struct TaskRow {
    application_id: i64,
    kind: String,
    target: String,
    step: String,
    age: String,
}

/// A recent customer as the dashboard lists it.
struct CustomerRow {
    code: String,
    name: String,
    customer_type: String,
    status: String,
    region: String,
    updated_at: String,
}

#[derive(Template)]
#[template(path = "console/dashboard/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    tasks: Option<Vec<TaskRow>>,
    recent: Option<Vec<CustomerRow>>,
    total: Option<i64>,
    groups: Vec<FigureGroup>,
    needs_rule: bool,
    /// `(due on, customer code, what, overdue)` of the viewer's reminders.
    reminders: Vec<(String, String, String, bool)>,
}

/// A region code with its name beside it: `110105 北京市朝阳区`.
pub(crate) fn region_with_name(code: &str) -> String {
    match region::names(code) {
        Some(n) => format!(
            "{code} {}{}{}",
            n.province,
            n.city.unwrap_or(""),
            n.district.unwrap_or("")
        ),
        None => code.to_string(),
    }
}

type Rows = (Option<Vec<TaskRow>>, Option<Vec<CustomerRow>>);

fn rows(d: Dashboard, lang: Lang, tz: chrono_tz::Tz) -> Rows {
    let now = chrono::Utc::now().timestamp_micros();
    let tasks = d.tasks.map(|tasks| {
        tasks
            .into_iter()
            .map(|t| TaskRow {
                application_id: t.application.id,
                kind: term_or_code(Terms::ApplicationKind, &t.application.kind, lang),
                target: t.application.target.clone().unwrap_or_default(),
                step: t.step_name.clone(),
                age: waited_since(&t.waiting_since, now)
                    .map(|w| waited_words(lang, w))
                    .unwrap_or_default(),
            })
            .collect()
    });
    let recent = d.recent.map(|list| {
        list.into_iter()
            .map(|c| CustomerRow {
                customer_type: term_or_code(Terms::CustomerType, &c.customer_type, lang),
                status: term_or_code(Terms::CustomerStatus, &c.status, lang),
                region: c
                    .region_code
                    .as_deref()
                    .map(region_with_name)
                    .unwrap_or_default(),
                updated_at: local_minutes(&c.updated_at, tz),
                code: c.code,
                name: c.name,
            })
            .collect()
    });
    (tasks, recent)
}

pub(crate) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let mut chrome = Chrome::new(&viewer, "/", "nav.dashboard");
    let dashboard = match state.app.reports().dashboard(&viewer.actor).await {
        Ok(d) => d,
        Err(e) => return PageError::new(chrome, e).into_response(),
    };
    let lang = viewer.lang;
    let (total, groups) = match &dashboard.figures {
        Some(f) => {
            chrome = chrome.with_charts();
            (Some(f.stats.total), figure_groups(lang, f, false))
        }
        None => (None, Vec::new()),
    };
    let needs_rule = dashboard.needs_rule;
    let reminders = dashboard
        .reminders
        .iter()
        .flatten()
        .map(|r| {
            (
                r.due_on.clone(),
                r.customer_code.clone(),
                r.title.clone(),
                r.overdue,
            )
        })
        .collect();
    let (tasks, recent) = rows(dashboard, lang, state.app.config.code_timezone);
    render(
        StatusCode::OK,
        &DashboardPage {
            chrome,
            tasks,
            recent,
            total,
            groups,
            needs_rule,
            reminders,
        },
    )
}
