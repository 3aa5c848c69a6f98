//! Group structure (集团 → 子公司 / 分支机构): a customer's parent, and its group with
//! order totals rolled up.

use axum::extract::{Path, State};
use axum::Json;

use custos_app::hierarchy::{GroupView, ParentView, SetParent};

use crate::error::{ApiError, Problem};
use crate::extract::Auth;
use crate::input::JsonInput;
use crate::AppState;

/// Set the parent of a customer in its group, or clear it with `"parent_code": null`
/// (`customer.update` over the customer; the parent must be readable). Individuals,
/// closed customers, cycles and groups deeper than 10 levels are refused (422).
#[utoipa::path(put, path = "/api/v1/customers/{code}/parent", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = SetParent,
    responses((status = 200, body = ParentView),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_parent(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    JsonInput(input): JsonInput<SetParent>,
) -> Result<Json<ParentView>, ApiError> {
    Ok(Json(
        s.app.overview().set_parent(&actor, &code, input).await?,
    ))
}

/// The group of a customer from its root down (at most 2,000 members); members outside
/// the caller's scope are counted, not shown; with `activity.read` each member's order
/// totals and the roll-up of everything below it.
#[utoipa::path(get, path = "/api/v1/customers/{code}/group", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = GroupView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_group(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(s.app.overview().customer_group(&actor, &code).await?))
}
