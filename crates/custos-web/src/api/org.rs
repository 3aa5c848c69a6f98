use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use custos_app::org::{
    DepartmentPatch, DepartmentView, NewDepartment, NewUser, RoleInput, RolePatch, RoleView,
    UserPatch, UserView,
};

use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(State(s): State<AppState>, Auth(actor): Auth) -> Result<Json<UserView>, ApiError> {
    Ok(Json(s.app.org().me(&actor).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return items with an id greater than this (cursor).
    pub after: Option<i64>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// Users within the caller's data scope.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(Page),
    responses((status = 200, body = UserPage), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_users(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<UserPage>, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, 500);
    let items = s
        .app
        .org()
        .list_users(&actor, page.after.unwrap_or(0), limit)
        .await?;
    let next_cursor = if items.len() as i64 == limit {
        items.last().map(|u| u.id)
    } else {
        None
    };
    Ok(Json(UserPage { items, next_cursor }))
}

/// Create a user (`user.manage`).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = UserView), (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.org().create_user(&actor, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_user(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id = parse_id("user", &id)?;
    Ok(Json(s.app.org().get_user(&actor, id).await?))
}

/// Change a user: name, password, department, roles, disable/enable, unlock.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "user id")), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_user(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let id = parse_id("user", &id)?;
    Ok(Json(s.app.org().update_user(&actor, id, patch).await?))
}

/// Clear a user's failed-login throttling from every address (needs `user.manage`
/// over the user; audited as `user.unlock`).
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = UserView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn unlock_user(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id = parse_id("user", &id)?;
    Ok(Json(s.app.org().unlock_user(&actor, id).await?))
}

#[utoipa::path(get, path = "/api/v1/departments", tag = "departments", security(("bearer" = [])),
    responses((status = 200, body = Vec<DepartmentView>)))]
pub async fn list_departments(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<DepartmentView>>, ApiError> {
    Ok(Json(s.app.org().list_departments(&actor).await?))
}

#[utoipa::path(post, path = "/api/v1/departments", tag = "departments", security(("bearer" = [])),
    request_body = NewDepartment,
    responses((status = 201, body = DepartmentView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_department(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewDepartment>,
) -> Result<(StatusCode, Json<DepartmentView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.org().create_department(&actor, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/departments/{id}", tag = "departments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "department id")),
    responses((status = 200, body = DepartmentView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_department(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<DepartmentView>, ApiError> {
    let id = parse_id("department", &id)?;
    Ok(Json(s.app.org().get_department(&actor, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "departments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "department id")), request_body = DepartmentPatch,
    responses((status = 200, body = DepartmentView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_department(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonInput(patch): JsonInput<DepartmentPatch>,
) -> Result<Json<DepartmentView>, ApiError> {
    let id = parse_id("department", &id)?;
    Ok(Json(
        s.app.org().update_department(&actor, id, patch).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleView>)))]
pub async fn list_roles(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    Ok(Json(s.app.org().list_roles(&actor).await?))
}

/// Define a custom role (`role.manage`).
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])), request_body = RoleInput,
    responses((status = 201, body = RoleView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_role(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<RoleInput>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.org().create_role(&actor, input).await?),
    ))
}

#[utoipa::path(patch, path = "/api/v1/roles/{key}", tag = "roles", security(("bearer" = [])),
    params(("key" = String, Path, description = "role key")), request_body = RolePatch,
    responses((status = 200, body = RoleView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_role(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
    JsonInput(patch): JsonInput<RolePatch>,
) -> Result<Json<RoleView>, ApiError> {
    Ok(Json(s.app.org().update_role(&actor, &key, patch).await?))
}
