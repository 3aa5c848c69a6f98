//! Service accounts and their API keys (`user.manage` over everyone).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use custos_app::apikeys::{
    ApiKeyView, CreatedApiKey, NewApiKey, NewServiceAccount, ServiceAccountView,
};

use super::org::Page;
use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceAccountPage {
    pub items: Vec<ServiceAccountView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// Service accounts (`user.manage` over everyone).
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "service accounts", security(("bearer" = [])), params(Page),
    responses((status = 200, body = ServiceAccountPage),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_service_accounts(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<ServiceAccountPage>, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, 500);
    let items = s
        .app
        .api_keys()
        .list_service_accounts(&actor, page.after.unwrap_or(0), limit)
        .await?;
    let next_cursor = if items.len() as i64 == limit {
        items.last().map(|a| a.id)
    } else {
        None
    };
    Ok(Json(ServiceAccountPage { items, next_cursor }))
}

/// Create a service account: roles and a department like a user, no password.
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "service accounts", security(("bearer" = [])),
    request_body = NewServiceAccount,
    responses((status = 201, body = ServiceAccountView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_service_account(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewServiceAccount>,
) -> Result<(StatusCode, Json<ServiceAccountView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .api_keys()
                .create_service_account(&actor, input)
                .await?,
        ),
    ))
}

#[utoipa::path(get, path = "/api/v1/service-accounts/{id}", tag = "service accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "service account id")),
    responses((status = 200, body = ServiceAccountView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_service_account(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ServiceAccountView>, ApiError> {
    let id = parse_id("service_account", &id)?;
    Ok(Json(
        s.app.api_keys().get_service_account(&actor, id).await?,
    ))
}

/// Disable a service account: none of its keys works from the next request on.
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/disable", tag = "service accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "service account id")),
    responses((status = 200, body = ServiceAccountView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn disable_service_account(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ServiceAccountView>, ApiError> {
    let id = parse_id("service_account", &id)?;
    Ok(Json(
        s.app
            .api_keys()
            .set_service_account_disabled(&actor, id, true)
            .await?,
    ))
}

/// Enable a disabled service account again.
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/enable", tag = "service accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "service account id")),
    responses((status = 200, body = ServiceAccountView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn enable_service_account(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ServiceAccountView>, ApiError> {
    let id = parse_id("service_account", &id)?;
    Ok(Json(
        s.app
            .api_keys()
            .set_service_account_disabled(&actor, id, false)
            .await?,
    ))
}

/// The keys of a service account (never their secrets), revoked ones included.
#[utoipa::path(get, path = "/api/v1/service-accounts/{id}/keys", tag = "service accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "service account id")),
    responses((status = 200, body = Vec<ApiKeyView>),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_api_keys(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    let id = parse_id("service_account", &id)?;
    Ok(Json(s.app.api_keys().list_api_keys(&actor, id).await?))
}

/// Make an API key. The token is in this answer only: store it now.
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/keys", tag = "service accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "service account id")), request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_api_key(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(input): JsonInput<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let id = parse_id("service_account", &id)?;
    Ok((
        StatusCode::CREATED,
        Json(s.app.api_keys().create_api_key(&actor, id, input).await?),
    ))
}

/// Revoke an API key: it stops working with the next request.
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}/keys/{key_id}", tag = "service accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "service account id"), ("key_id" = i64, Path, description = "API key id")),
    responses((status = 200, body = ApiKeyView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_api_key(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let id = parse_id("service_account", &id)?;
    let key_id = parse_id("api_key", &key_id)?;
    Ok(Json(
        s.app.api_keys().revoke_api_key(&actor, id, key_id).await?,
    ))
}
