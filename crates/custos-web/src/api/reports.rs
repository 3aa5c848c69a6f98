//! Reports (统计分析报表) over calendar months of the business time zone.

use axum::extract::State;
use axum::Json;

use custos_app::reports::{CodeUsageReport, MonthsQuery};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::AppState;

/// Codes issued per rule and month, codes by status and the room left in each rule's
/// sequence (`stats.read`; the whole registry's figures).
#[utoipa::path(get, path = "/api/v1/reports/code-usage", tag = "reports", security(("bearer" = [])),
    params(MonthsQuery),
    responses((status = 200, body = CodeUsageReport),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn code_usage(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<MonthsQuery>,
) -> Result<Json<CodeUsageReport>, ApiError> {
    Ok(Json(s.app.reports().code_usage_report(&actor, &q).await?))
}
