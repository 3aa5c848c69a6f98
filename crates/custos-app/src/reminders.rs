//! Reminders (提醒): a follow-up's next date reminds the customer's owner (or, for a
//! customer without an owner, who recorded the follow-up) on that day; a signed
//! contract's service expiry reminds the customer's owner `[lifecycle]
//! expiry_notice_days` before. The daily job makes them, each item, user and day once
//! (a unique key), with a notification (e-mailed when SMTP is configured); a user sees
//! their own reminders due today and overdue.

use crate::lifecycle::Lifecycle;
use chrono::{Days, NaiveDate};
use serde::Serialize;

use custos_store::{now_us, DueItem, NotificationRow, ReminderRow};

use serde_json::json;

use crate::actor::Actor;
use crate::audit::{append, record_ctx};
use crate::codes::issue_date;
use crate::customers::in_scope;
use crate::error::AppResult;
use crate::{Context, Source};

/// Items read per transaction by the daily job.
const CHUNK: i64 = 500;
/// Days a missed run still catches up: an item due within them is reminded late.
const CATCH_UP_DAYS: u64 = 6;
/// Reminders one list shows.
const LISTED: i64 = 100;

/// One reminder of the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReminderView {
    pub id: i64,
    /// `followup` (the follow-up's next date) or `contract` (its service expiry).
    pub kind: String,
    pub customer_code: String,
    /// The record (follow-up or contract) it is about.
    pub activity_id: i64,
    /// The day it is due for.
    pub due_on: String,
    /// The follow-up's next date or the contract's service expiry.
    pub item_on: String,
    /// Due before today.
    pub overdue: bool,
    /// One line in Chinese.
    pub title: String,
}

fn title(kind: &str, code: &str, item_on: &str) -> String {
    match kind {
        "contract" => format!("客户 {code} 的合同服务将于 {item_on} 到期"),
        _ => format!("今日跟进客户 {code}（计划日期 {item_on}）"),
    }
}

impl Lifecycle<'_> {
    /// Make the reminders due on `on` (and those of the days just before, when a run was
    /// missed); returns how many are new.
    pub(crate) async fn make_reminders(&self, on: NaiveDate) -> AppResult<u64> {
        let from = on.checked_sub_days(Days::new(CATCH_UP_DAYS)).unwrap_or(on);
        let mut made = self.remind_of("followup", from, on, 0).await?;
        let days = u64::from(self.app.config.lifecycle.expiry_notice_days);
        let notice = Days::new(days);
        let (Some(efrom), Some(eto)) = (from.checked_add_days(notice), on.checked_add_days(notice))
        else {
            return Ok(made);
        };
        made += self.remind_of("contract", efrom, eto, days).await?;
        Ok(made)
    }

    /// Reminders of the items of `kind` whose day is within `from..=to`, each due
    /// `before` days ahead of its day.
    async fn remind_of(
        &self,
        kind: &str,
        from: NaiveDate,
        to: NaiveDate,
        before: u64,
    ) -> AppResult<u64> {
        let (from, to) = (from.to_string(), to.to_string());
        let mut after = 0;
        let mut made = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
            tx.lock_audit_head().await?;
            let items = tx.due_items(kind, &from, &to, after, CHUNK).await?;
            let Some(last) = items.last().map(|i| i.activity_id) else {
                tx.rollback().await?;
                return Ok(made);
            };
            let mut new_here = 0u64;
            for item in &items {
                if let Some(r) = reminder_of(kind, item, before) {
                    if tx.insert_reminder(&r).await? {
                        new_here += 1;
                        crate::notify::insert_notification(
                            &mut tx,
                            &NotificationRow {
                                id: 0,
                                user_id: r.user_id,
                                application_id: None,
                                kind: "reminder".into(),
                                title: title(kind, &item.customer_code, &item.item_on),
                                body: title(kind, &item.customer_code, &item.item_on),
                                created_at: r.created_at,
                                read_at: None,
                            },
                        )
                        .await?;
                    }
                }
            }
            if new_here > 0 {
                // The chunk's reminders and notifications are audited together (counts only).
                let ctx = Context::new(Source::System);
                let mut a = record_ctx(None, "system", &ctx, "reminder.create", "reminder", kind);
                a.after = Some(json!({ "kind": kind, "made": new_here }).to_string());
                append(&mut tx, a).await?;
            }
            made += new_here;
            tx.commit().await?;
            after = last;
        }
    }

    /// The caller's reminders due today or earlier, the latest first, for customers still
    /// inside their `customer.read` scope.
    pub async fn my_reminders(&self, actor: &Actor) -> AppResult<Vec<ReminderView>> {
        let scope = actor.require("customer.read")?;
        let today = issue_date(self.app.config.code_timezone).to_string();
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.user_reminders(actor.user_id, &today, LISTED).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(c) = tx.customer(r.customer_id).await? else {
                continue;
            };
            if !in_scope(&mut tx, actor, scope, &c).await? {
                continue;
            }
            out.push(ReminderView {
                title: title(&r.kind, &r.customer_code, &r.item_on),
                overdue: r.due_on < today,
                id: r.id,
                kind: r.kind,
                customer_code: r.customer_code,
                activity_id: r.activity_id,
                due_on: r.due_on,
                item_on: r.item_on,
            });
        }
        tx.rollback().await?;
        Ok(out)
    }
}

/// The reminder an item calls for: to the customer's owner, else who recorded it.
fn reminder_of(kind: &str, item: &DueItem, before: u64) -> Option<ReminderRow> {
    let user_id = item.owner_id.or(item.recorded_by)?;
    let day = NaiveDate::parse_from_str(&item.item_on, "%Y-%m-%d").ok()?;
    let due = day.checked_sub_days(Days::new(before))?;
    Some(ReminderRow {
        id: 0,
        user_id,
        customer_id: item.customer_id,
        customer_code: item.customer_code.clone(),
        kind: kind.to_string(),
        activity_id: item.activity_id,
        due_on: due.to_string(),
        item_on: item.item_on.clone(),
        created_at: now_us(),
    })
}
