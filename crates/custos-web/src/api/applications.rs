//! Applications (申请单), approval flows (审批流程), the inbox and notifications.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use custos_app::applications::{
    ApplicationQuery, ApplicationSummary, ApplicationView, Inbox, NewApplication, NotificationView,
};
use custos_app::customers::CustomerView;
use custos_app::flows::{FlowView, NewFlow};

use super::parse_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Submit an application (or save a draft with `"draft": true`). The payload is validated
/// completely now; the effect happens when the last approver approves.
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", security(("bearer" = [])),
    request_body = NewApplication,
    responses((status = 201, body = ApplicationView), (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn submit_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<NewApplication>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .applications()
                .submit_application(&actor, input)
                .await?,
        ),
    ))
}

/// Applications, newest first: `mine=true` for one's own, `involved=true` for those one
/// has a task on; filters by kind, state and creation time.
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", security(("bearer" = [])),
    params(ApplicationQuery),
    responses((status = 200, body = Vec<ApplicationSummary>), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_applications(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ApplicationQuery>,
) -> Result<Json<Vec<ApplicationSummary>>, ApiError> {
    Ok(Json(
        s.app.applications().list_applications(&actor, q).await?,
    ))
}

/// One application with its flow, tasks and whole trail.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app.applications().get_application(&actor, id).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Required.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResubmitBody {
    /// A corrected payload; absent: the previous one.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegateBody {
    pub to_user: i64,
    /// Administrators only: whose task to reassign (default: the caller's own).
    #[serde(default)]
    pub from_user: Option<i64>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Approve the current step (current approvers only). The last approval applies the
/// effect in the same transaction; a concurrent decision on the same step gets 409.
#[utoipa::path(post, path = "/api/v1/applications/{id}/approve", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = CommentBody,
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn approve_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app
            .applications()
            .approve_application(&actor, id, body.comment)
            .await?,
    ))
}

/// Reject (reason required); the application is closed.
#[utoipa::path(post, path = "/api/v1/applications/{id}/reject", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RejectBody,
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn reject_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app
            .applications()
            .reject_application(&actor, id, body.reason)
            .await?,
    ))
}

/// Return for revision (退回修改).
#[utoipa::path(post, path = "/api/v1/applications/{id}/return", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = CommentBody,
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn return_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app
            .applications()
            .return_application(&actor, id, body.comment)
            .await?,
    ))
}

/// Resubmit a returned application, optionally with a corrected payload.
#[utoipa::path(post, path = "/api/v1/applications/{id}/resubmit", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ResubmitBody,
    responses((status = 200, body = ApplicationView), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn resubmit_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResubmitBody>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app
            .applications()
            .resubmit_application(&actor, id, body.payload, body.reason)
            .await?,
    ))
}

/// Submit a draft.
#[utoipa::path(post, path = "/api/v1/applications/{id}/submit", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ResubmitBody,
    responses((status = 200, body = ApplicationView), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn submit_draft(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResubmitBody>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app
            .applications()
            .resubmit_application(&actor, id, body.payload, body.reason)
            .await?,
    ))
}

/// Withdraw one's own application before it ends.
#[utoipa::path(post, path = "/api/v1/applications/{id}/withdraw", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ApplicationView), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app
            .applications()
            .withdraw_application(&actor, id)
            .await?,
    ))
}

/// Hand a pending task to another user (approver), or reassign one (administrator).
///
/// The delegate must qualify for the step like any approver, else 422 on `to_user`.
/// Without `from_user` an administrator names the approver of an application that
/// needs one (`needs_admin`).
#[utoipa::path(post, path = "/api/v1/applications/{id}/delegate", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DelegateBody,
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn delegate_application(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DelegateBody>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = parse_id("application", &id)?;
    Ok(Json(
        s.app
            .applications()
            .delegate_application(&actor, id, body.to_user, body.from_user, body.comment)
            .await?,
    ))
}

/// My pending approval tasks, with counts.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "applications", security(("bearer" = [])),
    responses((status = 200, body = Inbox)))]
pub async fn inbox(State(s): State<AppState>, Auth(actor): Auth) -> Result<Json<Inbox>, ApiError> {
    Ok(Json(s.app.applications().inbox(&actor).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only unread ones.
    pub unread: Option<bool>,
}

/// My notifications (in-app messages), newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "applications", security(("bearer" = [])),
    params(NotificationQuery),
    responses((status = 200, body = Vec<NotificationView>)))]
pub async fn list_notifications(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    Ok(Json(
        s.app
            .applications()
            .notifications(&actor, q.unread.unwrap_or(false))
            .await?,
    ))
}

/// Mark a notification read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "applications", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn read_notification(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id("notification", &id)?;
    s.app
        .applications()
        .mark_notification_read(&actor, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every flow version, plus the built-in defaults.
#[utoipa::path(get, path = "/api/v1/flows", tag = "applications", security(("bearer" = [])),
    responses((status = 200, body = Vec<FlowView>)))]
pub async fn list_flows(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<FlowView>>, ApiError> {
    Ok(Json(s.app.flows().list_flows(&actor).await?))
}

/// Define a flow, or a new version of one (same key).
#[utoipa::path(post, path = "/api/v1/flows", tag = "applications", security(("bearer" = [])),
    request_body = NewFlow,
    responses((status = 201, body = FlowView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_flow(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewFlow>,
) -> Result<(StatusCode, Json<FlowView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.flows().create_flow(&actor, input).await?),
    ))
}

/// Stop using a flow (all versions).
#[utoipa::path(post, path = "/api/v1/flows/{key}/disable", tag = "applications", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn disable_flow(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.app.flows().disable_flow(&actor, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Read an archived customer under an approved, unexpired retrieval (调阅); audited.
#[utoipa::path(get, path = "/api/v1/archive/{code}", tag = "applications", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = CustomerView), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn retrieve_archived(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        s.app
            .applications()
            .retrieve_archived_customer(&actor, &code)
            .await?,
    ))
}
