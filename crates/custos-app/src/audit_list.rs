//! Reading the audit log page by page from query parameters: the permission first, then
//! every parameter checked (422 naming it), with the same page size and cursor rules as
//! the other lists (`paging`).

use crate::audit::Audit;
use serde::Serialize;

use custos_store::AuditFilter;

use crate::actor::Actor;
use crate::audit::AuditView;
use crate::error::AppResult;
use crate::paging::{invalid, page_cursor, page_limit};

/// Default and largest page of the audit log.
pub const AUDIT_PAGE_DEFAULT: i64 = 100;
pub const AUDIT_PAGE_MAX: i64 = 1000;

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// Pass as `cursor` (or `before`) for the next page; absent on the last page.
    pub next_cursor: Option<i64>,
}

fn time(field: &str, v: &str) -> AppResult<i64> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.timestamp_micros())
        .map_err(|_| invalid(field, v, "应为 RFC 3339 时间", "expected an RFC 3339 time"))
}

impl Audit<'_> {
    /// The audit log (`audit.read`) filtered by query parameters: `actor_id`, `action`
    /// (exact, or a prefix ending in `.`), `target_type`, `target_id`, `from`, `to`
    /// (RFC 3339), `limit` (1–1000, default 100) and `cursor` (alias `before`: the
    /// `next_cursor` of the previous page). Any other parameter is refused.
    pub async fn audit_page(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> AppResult<AuditPage> {
        actor.require("audit.read")?;
        let mut filter = AuditFilter {
            limit: AUDIT_PAGE_DEFAULT,
            ..AuditFilter::default()
        };
        let mut limit = None;
        for (key, value) in params {
            match key.as_str() {
                "actor_id" => {
                    filter.actor_id = Some(value.trim().parse().map_err(|_| {
                        invalid(key, value, "应为用户编号（整数）", "expected a user id")
                    })?)
                }
                "action" if value.ends_with('.') => filter.action_prefix = Some(value.clone()),
                "action" => filter.action = Some(value.clone()),
                "target_type" => filter.target_type = Some(value.clone()),
                "target_id" => filter.target_id = Some(value.clone()),
                "from" => filter.from_us = Some(time(key, value)?),
                "to" => filter.to_us = Some(time(key, value)?),
                "cursor" | "before" => filter.before_seq = page_cursor(key, Some(value))?,
                "limit" => limit = Some(value.as_str()),
                other => {
                    return Err(invalid(other, value, "不认识的参数", "unknown parameter"));
                }
            }
        }
        filter.limit = page_limit(limit, AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX)?;
        let page_size = filter.limit;
        let items = self.list_audit(actor, filter).await?;
        let next_cursor = if items.len() as i64 == page_size {
            items.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }
}
