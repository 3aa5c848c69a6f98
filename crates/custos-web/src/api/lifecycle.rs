//! The customer life cycle (客户状态) and the caller's reminders (提醒).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;

use custos_app::lifecycle::LifecycleView;
use custos_app::reminders::ReminderView;

use super::activities::answer;
use crate::error::{ApiError, Problem};
use crate::extract::Auth;
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
    let v = s.app.customer_lifecycle(&actor, &code).await?;
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
    Ok(Json(s.app.my_reminders(&actor).await?))
}
