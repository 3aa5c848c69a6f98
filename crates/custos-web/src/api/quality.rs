//! Data quality (数据质量): a customer's score, the summary with KPIs, the trend of daily
//! snapshots, the worklist 待完善 and its assignment, and the recompute. Answers name
//! rules and fields only, never values.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use custos_app::quality::{
    AssignInput, AssignOutcome, CustomerQuality, QualitySummary, QualityTrend, RecomputeReport,
    WorklistPage, WorklistQuery,
};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Chunks of 5,000 customers one recompute request may score.
const RECOMPUTE_CHUNKS_PER_REQUEST: u32 = 10;

/// The quality score of a customer (`quality.read` over it): the score 0–100, the
/// sub-score of each dimension, and the rules it fails (rule and field, never values).
#[utoipa::path(get, path = "/api/v1/customers/{code}/quality", tag = "quality", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = CustomerQuality), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_quality(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<CustomerQuality>, ApiError> {
    Ok(Json(s.app.quality().customer_quality(&actor, &code).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Add a breakdown: `owner`, `department` or `customer_type`.
    pub by: Option<String>,
}

/// Average score, dimension pass rates, KPIs against their targets and the customers
/// failing each rule — over the assessed customers in the caller's `quality.read` scope.
#[utoipa::path(get, path = "/api/v1/quality/summary", tag = "quality", security(("bearer" = [])),
    params(SummaryQuery),
    responses((status = 200, body = QualitySummary), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn quality_summary(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<QualitySummary>, ApiError> {
    Ok(Json(
        s.app
            .quality()
            .quality_summary(&actor, q.by.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// Days back from today (1–366, default 90).
    pub days: Option<String>,
}

/// The daily snapshots of the whole database's figures, oldest first; withheld (none,
/// `withheld: true`) unless the caller's `quality.read` reaches all customers.
#[utoipa::path(get, path = "/api/v1/quality/trend", tag = "quality", security(("bearer" = [])),
    params(TrendQuery),
    responses((status = 200, body = QualityTrend), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn quality_trend(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<TrendQuery>,
) -> Result<Json<QualityTrend>, ApiError> {
    Ok(Json(
        s.app
            .quality()
            .quality_trend(&actor, q.days.as_deref())
            .await?,
    ))
}

/// The worklist 待完善: customers failing rules, lowest score first, within the caller's
/// `quality.read` scope; filter by dimension, rule, owner, department, type, assignee.
#[utoipa::path(get, path = "/api/v1/quality/worklist", tag = "quality", security(("bearer" = [])),
    params(WorklistQuery),
    responses((status = 200, body = WorklistPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn quality_worklist(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<WorklistQuery>,
) -> Result<Json<WorklistPage>, ApiError> {
    Ok(Json(s.app.quality().quality_worklist(&actor, &q).await?))
}

/// Assign worklist customers to a user to mend (`quality.manage`); the user is notified.
#[utoipa::path(post, path = "/api/v1/quality/worklist/assign", tag = "quality", security(("bearer" = [])),
    request_body = AssignInput,
    responses((status = 200, body = AssignOutcome), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn assign_worklist(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(req): JsonInput<AssignInput>,
) -> Result<Json<AssignOutcome>, ApiError> {
    Ok(Json(
        s.app.quality().assign_quality_work(&actor, req).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecomputeRequest {
    /// Continue after this customer id (`last_id` of the previous answer); 0 or absent:
    /// from the start.
    #[serde(default)]
    pub after: Option<i64>,
}

/// Rescore customers (`quality.manage`), at most 50,000 per request: while `done` is
/// false, call again with `after` = `last_id`. `custos quality recompute` does all at once.
#[utoipa::path(post, path = "/api/v1/quality/recompute", tag = "quality", security(("bearer" = [])),
    request_body = RecomputeRequest,
    responses((status = 200, body = RecomputeReport), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn recompute_quality(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(req): JsonInput<RecomputeRequest>,
) -> Result<Json<RecomputeReport>, ApiError> {
    // 403 before the body is looked at (see `custos_app::input`).
    actor.require("quality.manage")?;
    let after = req.get()?.after.unwrap_or(0);
    Ok(Json(
        s.app
            .quality()
            .recompute_quality_bounded(&actor, after, RECOMPUTE_CHUNKS_PER_REQUEST, |_, _| {})
            .await?,
    ))
}
