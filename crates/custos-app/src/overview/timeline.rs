//! A customer's timeline (时间线): everything that happened to it in one stream, newest
//! first — the changes of its record (including merges, splits, undone merges and code
//! changes, which are written to its history), the applications about it and its
//! business records (follow-ups, interactions, service records, contracts, orders, for a
//! reader with `activity.read` over the customer) and the changes of its life-cycle stage
//! (客户状态) — filterable by kind and paginated by a cursor.
//!
//! Each source is read newest first from its own index, at most one page past the cursor;
//! the page is the newest `limit` of their union. The order is (time, source, id), all
//! descending, so two events at the same microsecond still have one place each.

use crate::overview::Overview;
use serde::{Deserialize, Serialize};

use custos_store::customer_master::HistoryRow;
use custos_store::{ActivityRow, ApplicationRow, TransitionRow};

use crate::activities::timeline::LISTED_KINDS;
use crate::actor::Actor;
use crate::clock::format_time;
use crate::customers::{in_scope, scoped_customer};
use crate::error::AppError;
use crate::error::AppResult;
use crate::flows::kind_zh;
use crate::paging::{invalid, page_limit};
use crate::terms::{term_or_code, Terms};
use custos_core::violation::Lang;

/// Events per page unless asked otherwise, and at most.
pub const TIMELINE_PAGE: i64 = 50;
pub const TIMELINE_MAX_PAGE: i64 = 200;

/// The kinds of event a timeline holds, in their order among events of one instant.
pub const TIMELINE_KINDS: &[&str] = &["change", "application", "activity", "lifecycle"];

/// One event of a customer's timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    /// `change` (the record changed: `action` says how), `application`, `activity`
    /// (a business record: `action` is its kind) or `lifecycle` (its stage changed:
    /// `action` is the stage entered, `reason` the rule and cause).
    pub kind: String,
    /// The id of the history entry, the application or the business record.
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// `change`: create, update, merge, split, unmerge, status, code…; `application`:
    /// the application's kind; `activity`: followup, interaction, service_record,
    /// contract, order or payment.
    pub action: String,
    /// Who did it (the applicant of an application).
    pub actor: Option<String>,
    /// One line in Chinese: the changed fields, or the kind and state of an application.
    pub summary: String,
    /// `change`: the keys of the fields that changed (their values are on the history).
    pub fields: Vec<String>,
    /// The state of an application, a complaint or a contract.
    pub state: Option<String>,
    pub reason: Option<String>,
}

/// One page of a timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelinePage {
    pub items: Vec<TimelineEvent>,
    /// Pass as `cursor` for the next (older) page; none at the end.
    pub next_cursor: Option<String>,
}

/// Query of `GET /api/v1/customers/{code}/timeline`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Only these kinds, separated by commas (`change`, `application`, `activity`);
    /// absent: all (business records only for a reader with `activity.read`).
    pub kind: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<String>,
}

/// A place in the timeline: events strictly older than (at, source rank, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    at: i64,
    rank: usize,
    id: i64,
}

impl Mark {
    const START: Mark = Mark {
        at: i64::MAX,
        rank: usize::MAX,
        id: i64::MAX,
    };

    fn parse(raw: &str) -> AppResult<Mark> {
        let bad = || {
            invalid(
                "cursor",
                raw,
                "不是本列表返回的游标",
                "not a cursor of this list",
            )
        };
        let mut parts = raw.trim().split('-');
        let (Some(at), Some(rank), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let mark = Mark {
            at: at.parse().map_err(|_| bad())?,
            rank: rank.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        };
        if mark.at < 0 || mark.id < 1 || mark.rank >= TIMELINE_KINDS.len() {
            return Err(bad());
        }
        Ok(mark)
    }

    fn text(&self) -> String {
        format!("{}-{}-{}", self.at, self.rank, self.id)
    }

    /// The bound of source `rank`'s query: its events at `self.at` count below this id.
    fn id_bound(&self, rank: usize) -> i64 {
        match rank.cmp(&self.rank) {
            std::cmp::Ordering::Less => i64::MAX,
            std::cmp::Ordering::Equal => self.id,
            std::cmp::Ordering::Greater => i64::MIN,
        }
    }
}

fn rank_of(kind: &str) -> usize {
    TIMELINE_KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(usize::MAX)
}

/// The kinds asked for, each one the timeline knows.
fn wanted_kinds(kinds: Option<&str>) -> AppResult<Vec<&'static str>> {
    let Some(kinds) = kinds.map(str::trim).filter(|k| !k.is_empty()) else {
        return Ok(TIMELINE_KINDS.to_vec());
    };
    let mut out = Vec::new();
    for k in kinds.split(',').map(str::trim) {
        match TIMELINE_KINDS.iter().find(|x| **x == k) {
            Some(x) if !out.contains(x) => out.push(*x),
            Some(_) => {}
            None => {
                return Err(invalid(
                    "kind",
                    k,
                    &format!("应为 {} 之一", TIMELINE_KINDS.join("、")),
                    &format!("must be one of {}", TIMELINE_KINDS.join(", ")),
                ))
            }
        }
    }
    Ok(out)
}

/// The keys of the fields a history entry changed.
fn changed_fields(h: &HistoryRow) -> Vec<String> {
    serde_json::from_str::<Vec<serde_json::Value>>(&h.changes)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["field"].as_str().map(str::to_string))
        .collect()
}

/// A history entry in one line: its action and the keys of the fields it changed.
fn change_summary(h: &HistoryRow, fields: &[String]) -> String {
    match (h.action.as_str(), fields.is_empty()) {
        ("create", _) => "新建客户".to_string(),
        (_, true) => h.action.clone(),
        (_, false) => format!("{}：{}", h.action, fields.join("、")),
    }
}

fn change_event(h: HistoryRow) -> (Mark, TimelineEvent) {
    let mark = Mark {
        at: h.at,
        rank: rank_of("change"),
        id: h.id,
    };
    let fields = changed_fields(&h);
    let summary = change_summary(&h, &fields);
    let event = TimelineEvent {
        fields,
        kind: "change".into(),
        id: h.id,
        at: format_time(h.at),
        action: h.action,
        actor: Some(h.actor_name),
        summary,
        state: None,
        reason: h.reason,
    };
    (mark, event)
}

fn application_event(a: ApplicationRow, applicant: Option<String>) -> (Mark, TimelineEvent) {
    let mark = Mark {
        at: a.created_at,
        rank: rank_of("application"),
        id: a.id,
    };
    let event = TimelineEvent {
        kind: "application".into(),
        id: a.id,
        at: format_time(a.created_at),
        summary: format!("{}申请 #{}", kind_zh(&a.kind), a.id),
        fields: Vec::new(),
        action: a.kind,
        actor: applicant,
        state: Some(a.state),
        reason: a.reason,
    };
    (mark, event)
}

fn activity_event(a: ActivityRow) -> (Mark, TimelineEvent) {
    let mark = Mark {
        at: a.occurred_at,
        rank: rank_of("activity"),
        id: a.id,
    };
    let event = TimelineEvent {
        kind: "activity".into(),
        id: a.id,
        at: format_time(a.occurred_at),
        summary: term_or_code(Terms::ActivityKind, &a.kind, Lang::Zh),
        fields: Vec::new(),
        action: a.kind,
        actor: None,
        state: a.status,
        reason: None,
    };
    (mark, event)
}

fn lifecycle_event(t: TransitionRow) -> (Mark, TimelineEvent) {
    let mark = Mark {
        at: t.at,
        rank: rank_of("lifecycle"),
        id: t.id,
    };
    let from = t.from_stage.as_deref().unwrap_or("prospect");
    let event = TimelineEvent {
        kind: "lifecycle".into(),
        id: t.id,
        at: format_time(t.at),
        summary: format!(
            "客户状态：{} → {}",
            crate::lifecycle::stage_label(from),
            crate::lifecycle::stage_label(&t.to_stage)
        ),
        fields: Vec::new(),
        actor: None,
        state: t.from_stage,
        reason: Some(format!("{} ({})", t.rule, t.cause)),
        action: t.to_stage,
    };
    (mark, event)
}

impl Overview<'_> {
    /// A page of the timeline of `code` (`customer.read` within the reader's scope; an
    /// archived customer only for a reader who may see it; business records only with
    /// `activity.read` over the customer, asked for explicitly without it: 403). No event
    /// carries personal data or free text: a change names its fields, an application and
    /// a business record their kind and state.
    pub async fn customer_timeline(
        &self,
        actor: &Actor,
        code: &str,
        q: TimelineQuery,
    ) -> AppResult<TimelinePage> {
        let scope = actor.require("customer.read")?;
        let limit = page_limit(q.limit.as_deref(), TIMELINE_PAGE, TIMELINE_MAX_PAGE)?;
        let kinds = wanted_kinds(q.kind.as_deref())?;
        let mark = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Mark::parse(c)?,
            None => Mark::START,
        };
        let mut tx = self.app.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        crate::customers::check_archive_readable(actor, &row)?;
        let records = match actor.permissions.get("activity.read") {
            Some(s) => in_scope(&mut tx, actor, *s, &row).await?,
            None if q.kind.as_deref().is_some_and(|k| k.contains("activity")) => {
                return Err(AppError::Forbidden {
                    permission: "activity.read".into(),
                })
            }
            None => false,
        };
        let mut events = Vec::new();
        for kind in kinds {
            let rank = rank_of(kind);
            let bound = mark.id_bound(rank);
            match kind {
                "change" => {
                    let rows = tx
                        .customer_history_before(row.id, mark.at, bound, limit + 1)
                        .await?;
                    events.extend(rows.into_iter().map(change_event));
                }
                "activity" if records => {
                    let rows = tx
                        .customer_activities(
                            row.id,
                            LISTED_KINDS,
                            Some((mark.at, bound)),
                            limit + 1,
                        )
                        .await?;
                    events.extend(rows.into_iter().map(activity_event));
                }
                "activity" => {}
                "lifecycle" => {
                    let rows = tx
                        .lifecycle_transitions_before(row.id, mark.at, bound, limit + 1)
                        .await?;
                    events.extend(rows.into_iter().map(lifecycle_event));
                }
                _ => {
                    let rows = tx
                        .applications_about(&row.code, mark.at, bound, limit + 1)
                        .await?;
                    let mut names = std::collections::HashMap::new();
                    for a in rows {
                        let name = match names.get(&a.applicant_id) {
                            Some(n) => Option::clone(n),
                            None => {
                                let n = tx.user(a.applicant_id).await?.map(|u| u.display_name);
                                names.insert(a.applicant_id, n.clone());
                                n
                            }
                        };
                        events.push(application_event(a, name));
                    }
                }
            }
        }
        tx.rollback().await?;
        Ok(page_of(events, limit))
    }
}

/// The newest `limit` events, and the cursor after the last when more remain.
fn page_of(mut events: Vec<(Mark, TimelineEvent)>, limit: i64) -> TimelinePage {
    events.sort_by_key(|e| std::cmp::Reverse((e.0.at, e.0.rank, e.0.id)));
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next_cursor = match more {
        true => events.last().map(|(m, _)| m.text()),
        false => None,
    };
    TimelinePage {
        items: events.into_iter().map(|(_, e)| e).collect(),
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let m = Mark {
            at: 1_733_500_000_000_000,
            rank: 1,
            id: 42,
        };
        assert_eq!(Mark::parse(&m.text()).unwrap(), m);
        for bad in [
            "", "1-2", "1-0-0", "x-0-1", "1-9-1", "-1-0-1", "1-0-1-2", "1-0-1e3",
        ] {
            assert!(Mark::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ties_at_one_instant_keep_one_order_across_pages() {
        let m = Mark {
            at: 10,
            rank: 0,
            id: 7,
        };
        // Newest first, applications (rank 1) sort before changes (rank 0) of one
        // instant: after change 7 the changes continue below id 7 and no application
        // of that instant is left; after an application every change of it is.
        assert_eq!(m.id_bound(0), 7);
        assert_eq!(m.id_bound(1), i64::MIN);
        let m = Mark { rank: 1, ..m };
        assert_eq!(m.id_bound(0), i64::MAX);
    }

    #[test]
    fn unknown_kinds_are_refused() {
        assert!(wanted_kinds(Some("change,application")).is_ok());
        assert!(wanted_kinds(Some("orders")).is_err());
        assert!(wanted_kinds(Some("change,")).is_err());
        assert_eq!(wanted_kinds(None).unwrap(), TIMELINE_KINDS.to_vec());
    }
}
