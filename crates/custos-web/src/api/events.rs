//! The change feed: the ordered event log after a cursor.

use axum::extract::State;
use axum::Json;

use custos_app::events::EventPage;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};
use crate::AppState;

/// Query parameters of the change feed (documentation: the use case reads them after the
/// permission check).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventsQuery {
    /// Events numbered above this (the `next` of the previous page; 0 or absent: from
    /// the oldest kept).
    #[param(minimum = 0)]
    after: Option<i64>,
    /// Comma-separated event types, e.g. `customer.merged,code.issued` (absent: all).
    types: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Seconds to wait for an event when there is none yet, 0–30 (default 0).
    #[param(minimum = 0, maximum = 30)]
    wait: Option<i64>,
}

/// The change feed (`events.read`): events in commit order after `after`, with `next`,
/// the cursor to ask next. Events about customers outside the caller's data scope are
/// skipped (the cursor moves past them); events about no customer need scope `all`.
/// With `wait`, an empty answer waits until an event commits or the time is up. A
/// position older than retention keeps is 410 `events.pruned`, naming the oldest seq.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, body = EventPage),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 410, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_events(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<EventPage>, ApiError> {
    Ok(Json(s.app.events().event_feed(&actor, &params).await?))
}
