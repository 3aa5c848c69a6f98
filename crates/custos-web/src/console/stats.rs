//! `/stats` (统计): the customer statistics of `GET /api/v1/stats/customers` — within the
//! viewer's `stats.read` scope — as charts and tables, each figure linking to the customer
//! list it counts, and the same figures as an XLSX workbook.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::figures::{figure_groups, FigureGroup};
use super::form::Posted;
use super::page::{csrf_refused, render, xlsx_download, Chrome, PageError};
use super::report_figures::{report_part, ReportPart};
use super::session::Viewer;
use crate::AppState;
use custos_app::reports::MonthsQuery;

#[derive(Template)]
#[template(path = "console/stats/stats.html")]
struct StatsPage {
    chrome: Chrome,
    total: i64,
    groups: Vec<FigureGroup>,
    reports: ReportPart,
}

pub(crate) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let chrome = Chrome::new(&viewer, "/stats", "stats.title");
    let app = &state.app;
    let months = MonthsQuery::default();
    let figures = async {
        let view = app.reports().customer_figures(&viewer.actor).await?;
        let flow = app.reports().customer_flow(&viewer.actor, &months).await?;
        let rp = app
            .reports()
            .repeat_purchase(&viewer.actor, &months)
            .await?;
        Ok::<_, custos_app::AppError>((view, flow, rp))
    };
    match figures.await {
        Ok((view, flow, rp)) => {
            let groups = figure_groups(viewer.lang, &view, true);
            let page = StatsPage {
                chrome: chrome.with_charts(),
                total: view.stats.total,
                groups,
                reports: report_part(viewer.lang, &flow, &rp),
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /stats/export.xlsx`: the statistics as a workbook (audited by the use case).
pub(crate) async fn export_xlsx(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/stats", "stats.title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    match state
        .app
        .reports()
        .export_customer_stats_xlsx(&viewer.actor, viewer.lang)
        .await
    {
        Ok(bytes) => xlsx_download(bytes, "customer-stats.xlsx"),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}
