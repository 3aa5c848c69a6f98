//! Reading the change feed, and pruning the log.

use crate::events::Events;
use std::time::{Duration, Instant};

use custos_core::Violation;
use custos_store::customer_master::ScopeFilter;
use custos_store::{now_us, EventLogRow};
use serde::Serialize;

use super::emit::EVENT_TYPES;
use crate::actor::Actor;
use crate::customers::scope_filter;
use crate::error::{AppError, AppResult};
use custos_core::FieldError;

/// Most events one page returns.
pub const MAX_LIMIT: u32 = 1000;
/// Longest a request waits for new events.
pub const MAX_WAIT_SECONDS: u32 = 30;
/// Most types one filter names.
const MAX_TYPES: usize = 32;
/// How often a waiting request looks for new events.
const POLL: Duration = Duration::from_millis(200);
/// Events deleted per transaction when pruning.
const PRUNE_CHUNK: i64 = 10_000;

/// A request for the feed.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Return events numbered above this (0: from the oldest kept).
    pub after: i64,
    /// Only these types (empty: all).
    pub types: Vec<String>,
    /// At most this many events (default 100, at most [`MAX_LIMIT`]).
    pub limit: Option<u32>,
    /// Seconds to wait when nothing is there yet (0: answer at once).
    pub wait: u32,
}

/// One event as the feed shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Position in the log: gap-free, in commit order.
    pub seq: i64,
    /// Stable id (UUID) for de-duplication.
    pub id: String,
    /// E.g. `customer.merged`.
    #[serde(rename = "type")]
    pub kind: String,
    pub customer_code: Option<String>,
    /// The customer's department and owner when the event happened.
    pub department_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// Microseconds since the Unix epoch.
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// A page of the feed: the events, and the cursor to ask `after` next time (it moves
/// past events the caller may not see, too).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    pub next: i64,
}

/// Which events a caller sees: those about customers inside its data scope (the rule of
/// `customers::scope`, as the customer's owner and department were when the event
/// happened), and events about no customer only with scope `all`.
struct Visibility {
    scope: ScopeFilter,
}

impl Visibility {
    fn sees(&self, e: &EventLogRow) -> bool {
        match e.customer_code {
            None => matches!(self.scope, ScopeFilter::All),
            Some(_) => self.scope.admits(e.owner_id, e.department_id),
        }
    }
}

impl Events<'_> {
    /// Events after `q.after` in order (`events.read`), waiting up to `q.wait` seconds
    /// when there are none the caller may see.
    pub async fn read_events(&self, actor: &Actor, q: EventQuery) -> AppResult<EventPage> {
        let scope = actor.require("events.read")?;
        let limit = check_query(&q)?;
        let scope = {
            let mut tx = self.app.db.begin_read().await?;
            let filter = scope_filter(&mut tx, actor, scope).await?;
            tx.rollback().await?;
            filter
        };
        let who = Visibility { scope };
        let deadline = Instant::now() + Duration::from_secs(u64::from(q.wait));
        let mut after = q.after;
        loop {
            let (rows, next) = self.events_page(after, &q.types, limit).await?;
            let events: Vec<EventView> =
                rows.into_iter().filter(|e| who.sees(e)).map(view).collect();
            // Out-of-scope events move the cursor but never end the wait early.
            if !events.is_empty() || Instant::now() + POLL > deadline {
                return Ok(EventPage { events, next });
            }
            after = next;
            tokio::time::sleep(POLL).await;
        }
    }

    /// [`Events::read_events`] with the query given as request parameters (see
    /// [`EventQuery::from_params`]); the permission is checked before them.
    pub async fn event_feed(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> AppResult<EventPage> {
        actor.require("events.read")?;
        self.read_events(actor, EventQuery::from_params(params)?)
            .await
    }

    /// One read of the log: up to `limit` events after `after` of the types, and the
    /// cursor past them (past every event committed when the page was read if it is
    /// not full). A position already pruned is gone.
    pub(super) async fn events_page(
        &self,
        after: i64,
        types: &[String],
        limit: i64,
    ) -> AppResult<(Vec<EventLogRow>, i64)> {
        let mut tx = self.app.db.begin_read().await?;
        let head = tx.event_log_head().await?;
        if after < head.pruned_through {
            tx.rollback().await?;
            return Err(pruned(after, head.pruned_through + 1));
        }
        let rows = tx.events_after(after, head.last, types, limit).await?;
        tx.rollback().await?;
        let next = match rows.last() {
            Some(last) if rows.len() as i64 == limit => last.seq,
            _ => head.last.max(after),
        };
        Ok((rows, next))
    }

    /// Delete events older than `[events] retention_days` (the daily job). Returns how
    /// many were deleted.
    pub async fn prune_events(&self) -> AppResult<u64> {
        let days = i64::from(self.app.config.events.retention_days);
        self.prune_events_before(now_us() - days * 86_400_000_000)
            .await
    }

    /// Delete the events older than `cutoff` (µs), oldest first, in bounded transactions.
    pub async fn prune_events_before(&self, cutoff: i64) -> AppResult<u64> {
        let mut total = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
            let Some(through) = tx.last_event_before(cutoff).await? else {
                tx.rollback().await?;
                return Ok(total);
            };
            let (deleted, upto) = tx.prune_events(through, PRUNE_CHUNK).await?;
            tx.commit().await?;
            total += deleted;
            if upto >= through {
                return Ok(total);
            }
        }
    }
}

/// The limit of a valid query; every bad parameter named at once.
fn check_query(q: &EventQuery) -> AppResult<i64> {
    let mut errors: Vec<FieldError> = Vec::new();
    if q.after < 0 {
        errors.push(
            Violation::new(
                "events.after_negative",
                "after 不能为负数",
                "after must not be negative",
            )
            .on("after"),
        );
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        errors.push(
            Violation::new(
                "events.limit_range",
                format!("limit 须在 1 到 {MAX_LIMIT} 之间"),
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )
            .on("limit"),
        );
    }
    if q.wait > MAX_WAIT_SECONDS {
        errors.push(
            Violation::new(
                "events.wait_range",
                format!("wait 须在 0 到 {MAX_WAIT_SECONDS} 秒之间"),
                format!("wait must be between 0 and {MAX_WAIT_SECONDS} seconds"),
            )
            .on("wait"),
        );
    }
    if q.types.len() > MAX_TYPES {
        errors.push(
            Violation::new(
                "events.types_too_many",
                format!("types 最多 {MAX_TYPES} 项"),
                format!("types may name at most {MAX_TYPES} types"),
            )
            .on("types"),
        );
    }
    for t in q
        .types
        .iter()
        .filter(|t| !EVENT_TYPES.contains(&t.as_str()))
    {
        let t: String = t.chars().take(64).collect();
        errors.push(
            Violation::new(
                "events.type_unknown",
                format!("未知的事件类型“{t}”，可用：{}", EVENT_TYPES.join("、")),
                format!(
                    "unknown event type '{t}'; known: {}",
                    EVENT_TYPES.join(", ")
                ),
            )
            .on("types"),
        );
    }
    if errors.is_empty() {
        Ok(i64::from(limit))
    } else {
        Err(AppError::Validation(errors))
    }
}

fn pruned(after: i64, oldest: i64) -> AppError {
    AppError::Gone(Violation::new(
        "events.pruned",
        format!("位置 {after} 之后的部分事件已按保留期删除，最早可读的序号为 {oldest}（请从 after={} 重新读取）", oldest - 1),
        format!(
            "events after {after} were pruned by retention; the oldest available seq is {oldest} (resume with after={})",
            oldest - 1
        ),
    ))
}

pub(crate) fn view(e: EventLogRow) -> EventView {
    EventView {
        seq: e.seq,
        id: e.id,
        kind: e.kind,
        customer_code: e.customer_code,
        department_id: e.department_id,
        owner_id: e.owner_id,
        at: e.at,
        actor_id: e.actor_id,
        actor_name: e.actor_name,
        payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
    }
}

impl EventQuery {
    /// The query of `GET /events` from its parameters: `after`, `types` (comma-separated,
    /// may repeat), `limit`, `wait` (seconds, optionally ending in `s`). Every bad or
    /// unknown parameter is named at once.
    pub fn from_params(params: &[(String, String)]) -> AppResult<EventQuery> {
        let mut q = EventQuery::default();
        let mut errors: Vec<FieldError> = Vec::new();
        let number = |name: &str, v: &str, errors: &mut Vec<FieldError>| -> Option<i64> {
            let n = v.trim().parse::<i64>().ok();
            if n.is_none() {
                errors.push(
                    Violation::new(
                        "events.not_a_number",
                        format!("{name} 须为整数"),
                        format!("{name} must be a whole number"),
                    )
                    .on(name),
                );
            }
            n
        };
        for (k, v) in params {
            match k.as_str() {
                "after" => q.after = number("after", v, &mut errors).unwrap_or(0),
                "limit" => {
                    q.limit = number("limit", v, &mut errors)
                        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                }
                "wait" => {
                    let v = v.trim().strip_suffix('s').unwrap_or(v.trim());
                    q.wait = number("wait", v, &mut errors)
                        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
                }
                "types" => q.types.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from),
                ),
                other => {
                    let other: String = other.chars().take(64).collect();
                    errors.push(
                        Violation::new(
                            "query.unknown_parameter",
                            format!("未知的查询参数“{other}”"),
                            format!("unknown query parameter '{other}'"),
                        )
                        .on(other),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(AppError::Validation(errors))
        }
    }
}
