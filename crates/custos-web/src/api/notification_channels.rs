//! Group notification channels (`notifications.manage`): DingTalk and WeCom group robots
//! and generic webhooks that receive chosen kinds of notification.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use custos_app::channels::{ChannelPatch, ChannelView, DeliveryView, NewChannel, TestOutcome};

use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::Auth;
use crate::input::JsonInput;
use crate::AppState;

/// Every channel; URLs are shown masked, secrets never.
#[utoipa::path(get, path = "/api/v1/notification-channels", tag = "notification channels", security(("bearer" = [])),
    responses((status = 200, body = Vec<ChannelView>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_channels(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    Ok(Json(
        s.app.channels().list_notification_channels(&actor).await?,
    ))
}

/// Make a channel. The URL and secret are stored encrypted and never shown back.
#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "notification channels", security(("bearer" = [])),
    request_body = NewChannel,
    responses((status = 201, body = ChannelView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_channel(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewChannel>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .channels()
                .create_notification_channel(&actor, input)
                .await?,
        ),
    ))
}

#[utoipa::path(get, path = "/api/v1/notification-channels/{id}", tag = "notification channels", security(("bearer" = [])),
    params(("id" = i64, Path, description = "channel id")),
    responses((status = 200, body = ChannelView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_channel(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let id = parse_id("notification_channel", &id)?;
    Ok(Json(
        s.app
            .channels()
            .get_notification_channel(&actor, id)
            .await?,
    ))
}

/// Change a channel's name, URL, secret (`null` removes it), kinds or departments, or pause and resume it.
///
/// `active: false` pauses it: nothing is queued for it and its pending deliveries are
/// cancelled; `active: true` resumes it for what happens afterwards.
#[utoipa::path(patch, path = "/api/v1/notification-channels/{id}", tag = "notification channels", security(("bearer" = [])),
    params(("id" = i64, Path, description = "channel id")), request_body = ChannelPatch,
    responses((status = 200, body = ChannelView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_channel(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(patch): JsonInput<ChannelPatch>,
) -> Result<Json<ChannelView>, ApiError> {
    let id = parse_id("notification_channel", &id)?;
    Ok(Json(
        s.app
            .channels()
            .update_notification_channel(&actor, id, patch)
            .await?,
    ))
}

/// Remove a channel; its pending deliveries are dropped.
#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "notification channels", security(("bearer" = [])),
    params(("id" = i64, Path, description = "channel id")),
    responses((status = 204),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn remove_channel(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id("notification_channel", &id)?;
    s.app
        .channels()
        .remove_notification_channel(&actor, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The latest deliveries of a channel (state, attempts, last error), newest first.
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}/deliveries", tag = "notification channels", security(("bearer" = [])),
    params(("id" = i64, Path, description = "channel id")),
    responses((status = 200, body = Vec<DeliveryView>),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_deliveries(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let id = parse_id("notification_channel", &id)?;
    Ok(Json(
        s.app
            .channels()
            .notification_channel_deliveries(&actor, id)
            .await?,
    ))
}

/// Send a test message now and say how the receiver answered (200 either way; `ok`
/// tells).
#[utoipa::path(post, path = "/api/v1/notification-channels/{id}/test", tag = "notification channels", security(("bearer" = [])),
    params(("id" = i64, Path, description = "channel id")),
    responses((status = 200, body = TestOutcome),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn test_channel(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<TestOutcome>, ApiError> {
    let id = parse_id("notification_channel", &id)?;
    let out = s.app.outbound_client()?;
    Ok(Json(
        s.app
            .channels()
            .test_notification_channel(&actor, id, &out)
            .await?,
    ))
}
