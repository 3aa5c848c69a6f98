//! The business records of a customer: follow-ups, interactions, service records,
//! contracts, orders and payments, credit ratings, and all of them in one list. A merged
//! customer's code answers 308 with `Location` at the same resource of its survivor.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use custos_app::activities::{
    ActivityItem, ContractPatch, ContractView, CreditHistory, CreditView, FollowupView,
    InteractionPatch, InteractionView, Located, NewContract, NewCredit, NewFollowup,
    NewInteraction, NewOrder, NewServiceRecord, OrderPage, OrderReceipt, Page, PageQuery,
    ServiceRecordView,
};

use super::customers::urlencoding_path;
use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// `status` with the value, or 308 to `/api/v1/customers/{survivor}/{rest}` (the query
/// string kept).
pub(crate) fn answer<T: Serialize>(
    status: StatusCode,
    located: Located<T>,
    rest: &str,
    query: Option<String>,
) -> Response {
    match located {
        Located::Here(v) => (status, Json(v)).into_response(),
        Located::Moved { survivor } => {
            let mut location = format!("/api/v1/customers/{}/{rest}", urlencoding_path(&survivor));
            if let Some(q) = query.filter(|q| !q.is_empty()) {
                location.push('?');
                location.push_str(&q);
            }
            (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, location)],
                Json(serde_json::json!({ "merged_into": survivor })),
            )
                .into_response()
        }
    }
}

/// A customer's follow-ups (跟进记录), newest first (`activity.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/followups", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), PageQuery),
    responses((status = 200, body = Page<FollowupView>),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_followups(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = s.app.activities().list_followups(&actor, &code, &q).await?;
    Ok(answer(StatusCode::OK, page, "followups", raw))
}

/// Record a follow-up (`activity.write`).
#[utoipa::path(post, path = "/api/v1/customers/{code}/followups", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = NewFollowup,
    responses((status = 201, body = FollowupView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_followup(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    JsonInput(input): JsonInput<NewFollowup>,
) -> Result<Response, ApiError> {
    let v = s
        .app
        .activities()
        .add_followup(&actor, &code, input)
        .await?;
    Ok(answer(StatusCode::CREATED, v, "followups", None))
}

/// A customer's interactions (visits, calls, complaints), newest first (`activity.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/interactions", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), PageQuery),
    responses((status = 200, body = Page<InteractionView>),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_interactions(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = s
        .app
        .activities()
        .list_interactions(&actor, &code, &q)
        .await?;
    Ok(answer(StatusCode::OK, page, "interactions", raw))
}

/// Record an interaction (`activity.write`); a complaint opens a service record.
#[utoipa::path(post, path = "/api/v1/customers/{code}/interactions", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = NewInteraction,
    responses((status = 201, body = InteractionView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_interaction(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    JsonInput(input): JsonInput<NewInteraction>,
) -> Result<Response, ApiError> {
    let v = s
        .app
        .activities()
        .add_interaction(&actor, &code, input)
        .await?;
    Ok(answer(StatusCode::CREATED, v, "interactions", None))
}

/// Move a complaint on: status (forward only), resolution, satisfaction, handler
/// (`activity.write`).
#[utoipa::path(patch, path = "/api/v1/customers/{code}/interactions/{id}", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), ("id" = i64, Path)), request_body = InteractionPatch,
    responses((status = 200, body = InteractionView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_interaction(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((code, id)): Path<(String, String)>,
    JsonInput(patch): JsonInput<InteractionPatch>,
) -> Result<Response, ApiError> {
    let id = parse_id("interaction", &id)?;
    let v = s
        .app
        .activities()
        .update_interaction(&actor, &code, id, patch)
        .await?;
    Ok(answer(
        StatusCode::OK,
        v,
        &format!("interactions/{id}"),
        None,
    ))
}

/// A customer's service records (服务记录), newest first (`activity.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/service-records", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), PageQuery),
    responses((status = 200, body = Page<ServiceRecordView>),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_service_records(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = s
        .app
        .activities()
        .list_service_records(&actor, &code, &q)
        .await?;
    Ok(answer(StatusCode::OK, page, "service-records", raw))
}

/// Add a service record (`activity.write`).
#[utoipa::path(post, path = "/api/v1/customers/{code}/service-records", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = NewServiceRecord,
    responses((status = 201, body = ServiceRecordView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_service_record(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    JsonInput(input): JsonInput<NewServiceRecord>,
) -> Result<Response, ApiError> {
    let v = s
        .app
        .activities()
        .add_service_record(&actor, &code, input)
        .await?;
    Ok(answer(StatusCode::CREATED, v, "service-records", None))
}

/// A customer's contracts (合同), newest first (`activity.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/contracts", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), PageQuery),
    responses((status = 200, body = Page<ContractView>),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_contracts(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = s.app.activities().list_contracts(&actor, &code, &q).await?;
    Ok(answer(StatusCode::OK, page, "contracts", raw))
}

/// Add a contract (`activity.write`); the customer's first signed contract moves its
/// cooperation status.
#[utoipa::path(post, path = "/api/v1/customers/{code}/contracts", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = NewContract,
    responses((status = 201, body = ContractView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_contract(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    JsonInput(input): JsonInput<NewContract>,
) -> Result<Response, ApiError> {
    let v = s
        .app
        .activities()
        .add_contract(&actor, &code, input)
        .await?;
    Ok(answer(StatusCode::CREATED, v, "contracts", None))
}

/// Change a contract's status (`activity.write`).
#[utoipa::path(patch, path = "/api/v1/customers/{code}/contracts/{id}", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), ("id" = i64, Path)), request_body = ContractPatch,
    responses((status = 200, body = ContractView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_contract(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((code, id)): Path<(String, String)>,
    JsonInput(patch): JsonInput<ContractPatch>,
) -> Result<Response, ApiError> {
    let id = parse_id("contract", &id)?;
    let v = s
        .app
        .activities()
        .update_contract(&actor, &code, id, patch)
        .await?;
    Ok(answer(StatusCode::OK, v, &format!("contracts/{id}"), None))
}

/// A customer's orders and payments (交易与回款), newest first, with its order totals
/// (`activity.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/orders", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), PageQuery),
    responses((status = 200, body = OrderPage),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_orders(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = s.app.activities().list_orders(&actor, &code, &q).await?;
    Ok(answer(StatusCode::OK, page, "orders", raw))
}

/// Record an order or payment (`activity.write`), idempotent on (source_system,
/// document_number): the same document again answers 200 with the stored record, another
/// one under the same number 409.
#[utoipa::path(post, path = "/api/v1/customers/{code}/orders", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = NewOrder,
    responses((status = 201, body = OrderReceipt),
              (status = 200, description = "the same document was recorded before", body = OrderReceipt),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_order(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    JsonInput(input): JsonInput<NewOrder>,
) -> Result<Response, ApiError> {
    let v = s.app.activities().add_order(&actor, &code, input).await?;
    let status = match &v {
        Located::Here(r) if !r.created => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    Ok(answer(status, v, "orders", None))
}

/// A customer's current credit rating and its history (信用, `credit.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/credit", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), PageQuery),
    responses((status = 200, body = CreditHistory),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn credit_history(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let v = s.app.activities().credit_history(&actor, &code, &q).await?;
    Ok(answer(StatusCode::OK, v, "credit", raw))
}

/// Record a credit rating (`credit.write`).
#[utoipa::path(post, path = "/api/v1/customers/{code}/credit", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = NewCredit,
    responses((status = 201, body = CreditView),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_credit(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    JsonInput(input): JsonInput<NewCredit>,
) -> Result<Response, ApiError> {
    let v = s.app.activities().add_credit(&actor, &code, input).await?;
    Ok(answer(StatusCode::CREATED, v, "credit", None))
}

/// Every business record of a customer in one list, newest first: follow-ups,
/// interactions, service records, contracts, orders and payments (`activity.read`).
#[utoipa::path(get, path = "/api/v1/customers/{code}/activities", tag = "activities", security(("bearer" = [])),
    params(("code" = String, Path), PageQuery),
    responses((status = 200, body = Page<ActivityItem>),
              (status = 308, description = "merged code: `Location` is the survivor's"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_activities(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = s
        .app
        .activities()
        .list_activities(&actor, &code, &q)
        .await?;
    Ok(answer(StatusCode::OK, page, "activities", raw))
}
