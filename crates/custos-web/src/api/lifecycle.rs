//! The customer life cycle (客户状态) and the caller's reminders (提醒).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;

use custos_app::lifecycle::LifecycleView;
use custos_app::reminders::ReminderView;
use custos_app::reports::{CustomerFlow, MonthsQuery, RepeatPurchase};

use super::activities::answer;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::AppState;

/// A customer's life-cycle stage with its cause and transitions (`customer.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/lifecycle", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = LifecycleView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_lifecycle(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let v = s.app.lifecycle().customer_lifecycle(&actor, &code).await?;
    Ok(answer(StatusCode::OK, v, "lifecycle", raw))
}

/// The caller's reminders due today and overdue, the latest first (`customer.read`).
#[utoipa::path(get, path = "/api/v1/reminders", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = Vec<ReminderView>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn my_reminders(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<ReminderView>>, ApiError> {
    Ok(Json(s.app.lifecycle().my_reminders(&actor).await?))
}

/// New and lost customers per month (新增/流失客户) within the caller's `stats.read`
/// scope: first signed contract or first order in the month, customers created in it,
/// customers that entered `lost` in it.
#[utoipa::path(get, path = "/api/v1/reports/customer-flow", tag = "reports", security(("bearer" = [])),
    params(MonthsQuery),
    responses((status = 200, body = CustomerFlow),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_flow(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<MonthsQuery>,
) -> Result<Json<CustomerFlow>, ApiError> {
    Ok(Json(s.app.reports().customer_flow(&actor, &q).await?))
}

/// The repeat-purchase rate (复购率) within the caller's `stats.read` scope: overall, per
/// customer type and department, and per month.
#[utoipa::path(get, path = "/api/v1/reports/repeat-purchase", tag = "reports", security(("bearer" = [])),
    params(MonthsQuery),
    responses((status = 200, body = RepeatPurchase),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn repeat_purchase(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<MonthsQuery>,
) -> Result<Json<RepeatPurchase>, ApiError> {
    Ok(Json(s.app.reports().repeat_purchase(&actor, &q).await?))
}
