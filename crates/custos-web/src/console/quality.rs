//! `/quality` (质量): the data-quality page — KPIs against their targets, the dimension
//! scores, the trend of daily snapshots as a chart, and the worklist 待完善 with a form
//! assigning the checked customers — all from the `custos_app::quality` use cases (scope,
//! permissions and masking decided there); `POST /quality/export.xlsx` downloads the report.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use custos_app::quality::{AssignInput, QualitySummary, QualityTrend, WorklistPage, WorklistQuery};
use custos_app::AppError;
use custos_core::violation::Lang;
use custos_core::Violation;

use super::form::Posted;
use super::page::{csrf_refused, render, xlsx_download, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;

/// One point of the trend chart's series.
fn trend_option(lang: Lang, trend: &QualityTrend) -> String {
    if trend.points.is_empty() {
        return String::new();
    }
    let name = match lang {
        Lang::Zh => "平均得分",
        Lang::En => "Average score",
    };
    json!({
        "animation": false,
        "tooltip": {"trigger": "axis", "renderMode": "richText"},
        "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": true},
        "xAxis": {"type": "category",
                  "data": trend.points.iter().map(|p| p.day.clone()).collect::<Vec<_>>()},
        "yAxis": {"type": "value", "min": 0, "max": 100},
        "series": [{"type": "line", "name": name, "itemStyle": {"color": "#0b5cad"},
                    "data": trend.points.iter().map(|p| p.average_score).collect::<Vec<_>>()}],
    })
    .to_string()
}

#[derive(Template)]
#[template(path = "console/quality/quality.html")]
struct QualityPage {
    chrome: Chrome,
    summary: QualitySummary,
    trend_withheld: bool,
    trend_json: String,
    worklist: WorklistPage,
    dimension: String,
    dimensions: Vec<(&'static str, String)>,
    can_manage: bool,
    /// Labels in English (the use cases give both).
    en: bool,
    next_href: Option<String>,
    error: Option<String>,
}

async fn build(
    state: &AppState,
    viewer: &Viewer,
    q: WorklistQuery,
    error: Option<String>,
) -> Result<QualityPage, AppError> {
    let actor = &viewer.actor;
    let summary = state.app.quality().quality_summary(actor, None).await?;
    let trend = state.app.quality().quality_trend(actor, None).await?;
    let worklist = state.app.quality().quality_worklist(actor, &q).await?;
    let dimension = q.dimension.clone().unwrap_or_default();
    let next_href = worklist.next_cursor.as_ref().map(|c| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !dimension.is_empty() {
            s.append_pair("dimension", &dimension);
        }
        s.append_pair("cursor", c);
        format!("/quality?{}", s.finish())
    });
    let lang = viewer.lang;
    Ok(QualityPage {
        chrome: Chrome::new(viewer, "/quality", "quality.title").with_charts(),
        dimensions: custos_app::quality::Dimension::ALL
            .iter()
            .map(|d| {
                let label = match lang {
                    Lang::Zh => d.label_zh(),
                    Lang::En => d.label_en(),
                };
                (d.key(), label.to_string())
            })
            .collect(),
        trend_json: trend_option(lang, &trend),
        trend_withheld: trend.withheld,
        can_manage: actor.can("quality.manage"),
        en: lang == Lang::En,
        summary,
        worklist,
        dimension,
        next_href,
        error,
    })
}

pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<WorklistQuery>,
) -> Response {
    match build(&state, &viewer, q, None).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => {
            PageError::new(Chrome::new(&viewer, "/quality", "quality.title"), e).into_response()
        }
    }
}

/// `POST /quality/assign`: the checked codes (`code`, repeated) to `assignee_id`.
pub(crate) async fn assign(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/quality", "quality.title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    let codes: Vec<String> = posted
        .fields
        .iter()
        .filter(|(k, _)| k == "code")
        .map(|(_, v)| v.clone())
        .collect();
    let assignee = posted.get("assignee_id").unwrap_or("").trim();
    let outcome = match assignee.parse::<i64>() {
        Ok(id) => {
            let input = AssignInput {
                codes,
                assignee_id: id,
                note: posted.get("note").map(str::to_string),
            };
            state
                .app
                .quality()
                .assign_quality_work(&viewer.actor, input)
                .await
        }
        Err(_) => Err(AppError::validation(
            "assignee_id",
            Violation::new(
                "quality.assignee_unknown",
                "请填写处理人的用户 ID",
                "give the assignee's user id",
            ),
        )),
    };
    match outcome {
        Ok(_) => Redirect::to("/quality").into_response(),
        Err(e @ (AppError::Validation(_) | AppError::Rejected(_))) => {
            let message = e.detail(viewer.lang);
            match build(&state, &viewer, WorklistQuery::default(), Some(message)).await {
                Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(e) => PageError::new(chrome, e).into_response(),
            }
        }
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}

/// `POST /quality/export.xlsx`: the quality report as a workbook (audited by the use case).
pub(crate) async fn export_xlsx(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    let chrome = Chrome::new(&viewer, "/quality", "quality.title");
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome);
    }
    match state
        .app
        .quality()
        .export_quality_xlsx(&viewer.actor, viewer.lang)
        .await
    {
        Ok(bytes) => xlsx_download(bytes, "data-quality.xlsx"),
        Err(e) => PageError::new(chrome, e).into_response(),
    }
}
