//! Duplicate check, review queue, merge/unmerge and split.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use custos_app::customers::merge::{
    LineageEdge, MergeInfo, MergeRequest, MergeResult, SplitRequest, SplitResult,
};
use custos_app::customers::review::{
    DismissRequest, DuplicateGroupPage, DuplicateGroupView, GroupMergeRequest, GroupQuery,
    ScanSummary,
};
use custos_app::customers::{CustomerView, NewCustomer};
use custos_app::duplicates::DuplicateReport;

use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Check a draft record against existing customers (nothing is written): ranked
/// candidates in the caller's data scope with score, verdict and per-field evidence.
/// Customers outside the scope are never shown: a definite match among them only sets
/// `outside_scope_match`. Without `customer.pii.read`, personal data is compared for
/// equality only (`same` or `withheld`). Limited per user (429 with `Retry-After`);
/// a draft with personal data is audited (field names only).
#[utoipa::path(post, path = "/api/v1/duplicates/check", tag = "duplicates", security(("bearer" = [])),
    request_body = NewCustomer,
    responses((status = 200, body = DuplicateReport),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json",
               headers(("Retry-After" = u64, description = "seconds until the next check is allowed")))))]
pub async fn check_duplicates(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(draft): ApiJson<NewCustomer>,
) -> Result<Json<DuplicateReport>, ApiError> {
    Ok(Json(
        s.app.customers().check_duplicates(&actor, draft).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Score cut for grouping (default: the `definite` threshold).
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// Scan all live customers for duplicate groups and queue the new ones for review.
#[utoipa::path(post, path = "/api/v1/duplicates/scan", tag = "duplicates", security(("bearer" = [])),
    request_body = ScanRequest,
    responses((status = 200, body = ScanSummary), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn scan_duplicates(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<ScanRequest>,
) -> Result<Json<ScanSummary>, ApiError> {
    Ok(Json(
        s.app
            .customers()
            .scan_duplicates(&actor, req.threshold)
            .await?,
    ))
}

/// The duplicate review queue, newest first.
#[utoipa::path(get, path = "/api/v1/duplicates/groups", tag = "duplicates", security(("bearer" = [])),
    params(GroupQuery),
    responses((status = 200, body = DuplicateGroupPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_groups(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> Result<Json<DuplicateGroupPage>, ApiError> {
    Ok(Json(s.app.customers().duplicate_groups(&actor, q).await?))
}

/// One duplicate group with the evidence of each pair.
#[utoipa::path(get, path = "/api/v1/duplicates/groups/{id}", tag = "duplicates", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = DuplicateGroupView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_group(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<DuplicateGroupView>, ApiError> {
    let id = parse_id("duplicate_group", &id)?;
    Ok(Json(s.app.customers().duplicate_group(&actor, id).await?))
}

/// Confirm a group: merge its members into the chosen survivor.
#[utoipa::path(post, path = "/api/v1/duplicates/groups/{id}/merge", tag = "duplicates", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = GroupMergeRequest,
    responses((status = 200, body = MergeResult), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn merge_group(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(req): JsonInput<GroupMergeRequest>,
) -> Result<Json<MergeResult>, ApiError> {
    let id = parse_id("duplicate_group", &id)?;
    Ok(Json(
        s.app
            .customers()
            .merge_duplicate_group(&actor, id, req)
            .await?,
    ))
}

/// Dismiss a group: its members are different customers and are not proposed again.
#[utoipa::path(post, path = "/api/v1/duplicates/groups/{id}/dismiss", tag = "duplicates", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DismissRequest,
    responses((status = 200, body = DuplicateGroupView), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn dismiss_group(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(req): JsonInput<DismissRequest>,
) -> Result<Json<DuplicateGroupView>, ApiError> {
    let id = parse_id("duplicate_group", &id)?;
    Ok(Json(
        s.app
            .customers()
            .dismiss_duplicate_group(&actor, id, req)
            .await?,
    ))
}

/// Merge customers into a survivor (field-by-field survivorship, merged codes redirect).
#[utoipa::path(post, path = "/api/v1/merges", tag = "duplicates", security(("bearer" = [])),
    request_body = MergeRequest,
    responses((status = 201, body = MergeResult), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_merge(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<MergeRequest>,
) -> Result<(StatusCode, Json<MergeResult>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.customers().merge_customers(&actor, req).await?),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UndoRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Undo a merge: every participant back exactly as it was, unless changed since.
#[utoipa::path(post, path = "/api/v1/merges/{id}/undo", tag = "duplicates", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = UndoRequest,
    responses((status = 200, body = Vec<CustomerView>), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn undo_merge(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UndoRequest>,
) -> Result<Json<Vec<CustomerView>>, ApiError> {
    let id = parse_id("merge", &id)?;
    Ok(Json(
        s.app.customers().unmerge(&actor, id, req.reason).await?,
    ))
}

/// Merges a customer took part in.
#[utoipa::path(get, path = "/api/v1/customers/{code}/merges", tag = "duplicates", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<MergeInfo>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_merges(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<Vec<MergeInfo>>, ApiError> {
    Ok(Json(s.app.customers().merges_of(&actor, &code).await?))
}

/// Lineage of a customer: merges into it or out of it, splits.
#[utoipa::path(get, path = "/api/v1/customers/{code}/lineage", tag = "duplicates", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<LineageEdge>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_lineage(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<Vec<LineageEdge>>, ApiError> {
    Ok(Json(s.app.customers().lineage(&actor, &code).await?))
}

/// Split a customer: new customers with new codes, selected contacts moved, the
/// original kept or retired.
#[utoipa::path(post, path = "/api/v1/customers/{code}/split", tag = "duplicates", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = SplitRequest,
    responses((status = 201, body = SplitResult), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn split_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<SplitRequest>,
) -> Result<(StatusCode, Json<SplitResult>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.customers().split_customer(&actor, &code, req).await?),
    ))
}
