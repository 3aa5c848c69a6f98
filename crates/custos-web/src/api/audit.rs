use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use custos_app::audit::AuditView;
use custos_store::AuditFilter;

use super::bad_query;
use crate::error::{ApiError, Problem};
use crate::extract::Auth;
use crate::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only entries by this user id.
    pub actor_id: Option<i64>,
    /// Exact action, e.g. `user.create`; or a prefix ending in `.`, e.g. `auth.`.
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// RFC 3339 lower bound (inclusive).
    pub from: Option<String>,
    /// RFC 3339 upper bound (exclusive).
    pub to: Option<String>,
    /// Cursor: entries with a sequence number below this.
    pub before: Option<i64>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    pub next_cursor: Option<i64>,
}

fn parse_time(field: &str, v: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_micros())
        .map_err(|_| bad_query(field, v, "应为 RFC 3339 时间", "expected an RFC 3339 time"))
}

/// The audit log (操作日志), newest first (`audit.read`: admins and stewards).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_audit(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (action, action_prefix) = match q.action {
        Some(a) if a.ends_with('.') => (None, Some(a)),
        other => (other, None),
    };
    let filter = AuditFilter {
        actor_id: q.actor_id,
        actor_departments: None,
        action,
        action_prefix,
        target_type: q.target_type,
        target_id: q.target_id,
        from_us: q
            .from
            .as_deref()
            .map(|v| parse_time("from", v))
            .transpose()?,
        to_us: q.to.as_deref().map(|v| parse_time("to", v)).transpose()?,
        before_seq: q.before,
        limit,
    };
    let items = s.app.list_audit(&actor, filter).await?;
    let next_cursor = if items.len() as i64 == limit {
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
}
