use axum::extract::State;
use axum::Json;

use custos_app::audit_list::AuditPage;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::AppState;

/// Query parameters of the audit log (documentation: the use case reads them, after the
/// permission check, with the same page rules as every list).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditQuery {
    /// Only entries by this user id.
    actor_id: Option<i64>,
    /// Exact action, e.g. `user.create`; or a prefix ending in `.`, e.g. `auth.`.
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    /// RFC 3339 lower bound (inclusive).
    from: Option<String>,
    /// RFC 3339 upper bound (exclusive).
    to: Option<String>,
    /// `next_cursor` of the previous page: entries with a sequence number below it.
    #[param(minimum = 1)]
    cursor: Option<i64>,
    /// The same as `cursor` (its earlier name).
    #[param(minimum = 1)]
    before: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// The audit log (操作日志), newest first (`audit.read`: admins and stewards).
///
/// A parameter that is not one of these, or out of its range, is a 422 naming it.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_audit(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(s.app.audit().audit_page(&actor, &params).await?))
}
