//! Webhook subscriptions (`webhooks.manage` over everyone): create (the secret shown
//! once), list, read, change, delete, rotate the secret, the delivery log, replay, ping.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use custos_app::webhooks::{
    NewWebhook, PingResult, ReplayRequest, ReplayResult, WebhookAttemptPage, WebhookPatch,
    WebhookView, WebhookWithSecret,
};

use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Subscriptions, by id.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_webhooks(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    Ok(Json(s.app.webhooks().list_webhooks(&actor).await?))
}

/// Create a subscription; it receives events committed from now on. The signing secret
/// is in this answer only: store it now.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = NewWebhook,
    responses((status = 201, body = WebhookWithSecret),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_webhook(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewWebhook>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.webhooks().create_webhook(&actor, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 200, body = WebhookView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_webhook(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let id = parse_id("webhook", &id)?;
    Ok(Json(s.app.webhooks().get_webhook(&actor, id).await?))
}

/// Change a subscription (absent fields stay); new types or owner apply to events not
/// queued yet.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "webhook id")), request_body = WebhookPatch,
    responses((status = 200, body = WebhookView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_webhook(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(input): JsonInput<WebhookPatch>,
) -> Result<Json<WebhookView>, ApiError> {
    let id = parse_id("webhook", &id)?;
    Ok(Json(
        s.app.webhooks().update_webhook(&actor, id, input).await?,
    ))
}

/// Delete a subscription with its pending deliveries and its log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 204),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_webhook(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id("webhook", &id)?;
    s.app.webhooks().delete_webhook(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, in this answer only; the old one stops signing at once.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 200, body = WebhookWithSecret),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_webhook_secret(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    let id = parse_id("webhook", &id)?;
    Ok(Json(
        s.app.webhooks().rotate_webhook_secret(&actor, id).await?,
    ))
}

/// Query of the delivery log.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AttemptQuery {
    /// Lines older than this attempt id (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
    /// Only attempts that ended so: `delivered`, `retry` (failed, to be tried again),
    /// `dead`, `lost` or `ping`.
    pub outcome: Option<String>,
}

/// The delivery log, newest first: one line per HTTP attempt with its time, status,
/// latency, outcome and error (or the start of the answer).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "webhook id"), AttemptQuery),
    responses((status = 200, body = WebhookAttemptPage),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn webhook_deliveries(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AttemptQuery>,
) -> Result<Json<WebhookAttemptPage>, ApiError> {
    let id = parse_id("webhook", &id)?;
    Ok(Json(
        s.app
            .webhooks()
            .webhook_attempts_of(&actor, id, q.before, q.limit, q.outcome.as_deref())
            .await?,
    ))
}

/// Queue again the events from seq `from` up to the subscription's cursor (same event
/// ids), at most 10,000 per call (`next_from` says where to go on).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "webhook id")), request_body = ReplayRequest,
    responses((status = 200, body = ReplayResult),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 410, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn replay_webhook(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(input): JsonInput<ReplayRequest>,
) -> Result<Json<ReplayResult>, ApiError> {
    let id = parse_id("webhook", &id)?;
    Ok(Json(
        s.app.webhooks().replay_webhook(&actor, id, input).await?,
    ))
}

/// Post a signed `webhook.ping` event now and say what the receiver answered.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 200, body = PingResult),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn ping_webhook(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<PingResult>, ApiError> {
    let id = parse_id("webhook", &id)?;
    Ok(Json(s.app.webhooks().ping_webhook(&actor, id).await?))
}
