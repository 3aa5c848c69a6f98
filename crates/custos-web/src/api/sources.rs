//! Integration by source key: a CRM, ERP or OA pushes its customers by its own ids
//! (one, or a batch for nightly syncs), a steward settles what the duplicate check left
//! open (来源待确认), and old codes on ERP documents resolve to today's code.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use custos_app::codes::ResolvedCode;
use custos_app::customers::NewCustomer;
use custos_app::sources::{
    BatchItemResult, QueueDecision, QueueEntryView, SourceBatch, UpsertOutcome, UpsertResult,
};

use super::{bad_query, parse_id};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Create or update a customer by a source system's id. Found by the cross-reference →
/// updated (absent or empty fields stay); unknown → the duplicate check and the system's
/// policy decide: `created` (201), `linked` to the matching customer, or `queued` for a
/// steward (202). Repeating the request changes nothing more (`unchanged`).
#[utoipa::path(put, path = "/api/v1/sources/{system}/customers/{source_id}", tag = "integration", security(("bearer" = [])),
    params(("system" = String, Path), ("source_id" = String, Path)), request_body = NewCustomer,
    responses((status = 200, body = UpsertResult), (status = 201, body = UpsertResult), (status = 202, body = UpsertResult),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn upsert_source_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((system, source_id)): Path<(String, String)>,
    JsonInput(input): JsonInput<NewCustomer>,
) -> Result<(StatusCode, Json<UpsertResult>), ApiError> {
    let r = s
        .app
        .sources()
        .upsert_from_source(&actor, &system, &source_id, input)
        .await?;
    let status = match r.outcome {
        UpsertOutcome::Created => StatusCode::CREATED,
        UpsertOutcome::Queued => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(r)))
}

/// The same for up to 1,000 customers of one system: each item all-or-nothing in its
/// own transaction, a result or an error per item, in order.
#[utoipa::path(post, path = "/api/v1/sources/{system}/customers/batch", tag = "integration", security(("bearer" = [])),
    params(("system" = String, Path)), request_body = SourceBatch,
    responses((status = 200, body = Vec<BatchItemResult>),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn upsert_source_batch(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(system): Path<String>,
    JsonInput(batch): JsonInput<SourceBatch>,
) -> Result<Json<Vec<BatchItemResult>>, ApiError> {
    Ok(Json(
        s.app
            .sources()
            .upsert_batch_from_source(&actor, &system, batch)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `pending` (default), `created`, `linked` or `rejected`.
    pub state: Option<String>,
    /// Entries after this id (the last id of the previous page).
    pub after: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<String>,
}

fn number(field: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|raw| {
        raw.parse::<i64>()
            .map_err(|_| bad_query(field, raw, "应为整数", "an integer"))
    })
    .transpose()
}

/// Source customers waiting for a steward (`duplicate.manage`), oldest first.
#[utoipa::path(get, path = "/api/v1/sources/queue", tag = "integration", security(("bearer" = [])),
    params(QueueQuery),
    responses((status = 200, body = Vec<QueueEntryView>), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_source_queue(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<Vec<QueueEntryView>>, ApiError> {
    let after = number("after", q.after.as_deref())?;
    let limit = number("limit", q.limit.as_deref())?;
    Ok(Json(
        s.app
            .sources()
            .list_source_queue(&actor, q.state.as_deref(), after, limit)
            .await?,
    ))
}

/// One queued source customer with its duplicate check as the steward may see it.
#[utoipa::path(get, path = "/api/v1/sources/queue/{id}", tag = "integration", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = QueueEntryView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn source_queue_entry(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<QueueEntryView>, ApiError> {
    let id = parse_id("source_queue", &id)?;
    Ok(Json(s.app.sources().source_queue_entry(&actor, id).await?))
}

/// Decide a queued source customer: `{"action":"link","code":…}`,
/// `{"action":"create","reason":…}` or `{"action":"reject","reason":…}`.
#[utoipa::path(post, path = "/api/v1/sources/queue/{id}/decision", tag = "integration", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = QueueDecision,
    responses((status = 200, body = QueueEntryView), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn decide_source_queue(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(decision): JsonInput<QueueDecision>,
) -> Result<Json<QueueEntryView>, ApiError> {
    let id = parse_id("source_queue", &id)?;
    Ok(Json(
        s.app
            .sources()
            .decide_source_queue(&actor, id, decision)
            .await?,
    ))
}

/// The current code for a code an old document carries, after code changes and merges.
#[utoipa::path(get, path = "/api/v1/codes/{code}/resolve", tag = "integration", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = ResolvedCode), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn resolve_code(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<ResolvedCode>, ApiError> {
    Ok(Json(s.app.codes().resolve_code(&actor, &code).await?))
}
