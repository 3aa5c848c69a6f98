use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use custos_app::auth::LoginResult;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth, Bearer, Ctx};
use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Log in with a username (case-insensitive) and password; returns a bearer token.
/// Failed logins are throttled per client address and username (docs/users.md).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResult),
              (status = 401, description = "unknown user, wrong password or disabled account: one answer for all three", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "the body is not a login request", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "too many failed logins for this username from this address (or from everywhere, for an address that has failed too); the same for unknown names",
               body = Problem, content_type = "application/problem+json",
               headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn login(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResult>, ApiError> {
    Ok(Json(
        s.app
            .auth()
            .login(&req.username, &req.password, &ctx)
            .await?,
    ))
}

/// Revoke the current token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn logout(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Bearer(token): Bearer,
) -> Result<StatusCode, ApiError> {
    s.app.auth().logout(&actor, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}
