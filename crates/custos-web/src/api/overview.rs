//! The 360° view of a customer: its overview and its timeline.

use axum::extract::{Path, State};
use axum::Json;

use custos_app::overview::{CustomerOverview, TimelinePage, TimelineQuery};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::AppState;

/// The timeline (时间线) of a customer, newest first: changes of its record (merges,
/// splits and code changes included) and the applications about it; no personal data
/// (a change names its fields). Filter with `kind`, page with `cursor`.
#[utoipa::path(get, path = "/api/v1/customers/{code}/timeline", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path), TimelineQuery),
    responses((status = 200, body = TimelinePage), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_timeline(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> Result<Json<TimelinePage>, ApiError> {
    Ok(Json(
        s.app.overview().customer_timeline(&actor, &code, q).await?,
    ))
}

/// The overview (概览) of a customer: the record (personal data masked), its primary
/// contacts and lineage; with `activity.read` the totals of its orders, its open
/// complaints and its next planned follow-up; with `credit.read` its current credit.
#[utoipa::path(get, path = "/api/v1/customers/{code}/overview", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = CustomerOverview), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_overview(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<CustomerOverview>, ApiError> {
    Ok(Json(
        s.app.overview().customer_overview(&actor, &code).await?,
    ))
}
