//! New and lost customers per month (新增客户/流失客户): new = customers whose first deal
//! (first signed contract or first order) fell in the month, with the customers created
//! in it beside; lost = customers that entered the `lost` stage in the month (from the
//! transitions, each customer once a month).

use crate::reports::Reports;
use serde::Serialize;

use custos_store::customer_master::StatGroup;

use super::months::{months_of, MonthsQuery};
use crate::actor::Actor;
use crate::codes::issue_date;
use crate::customers::scope_filter;
use crate::error::AppResult;

/// One month of the customer flow.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// First signed contract or first order in the month.
    pub new_customers: i64,
    /// Customers created in the month.
    pub created: i64,
    /// Customers that entered `lost` in the month.
    pub lost: i64,
}

/// New and lost customers per month within the caller's `stats.read` scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerFlow {
    pub from: String,
    pub to: String,
    /// Oldest first, every month of the range.
    pub months: Vec<FlowMonth>,
    pub new_customers: i64,
    pub created: i64,
    pub lost: i64,
}

impl Reports<'_> {
    /// New and lost customers per month (`stats.read`, counted within its scope).
    pub async fn customer_flow(&self, actor: &Actor, q: &MonthsQuery) -> AppResult<CustomerFlow> {
        let scope = actor.require("stats.read")?;
        let months = months_of(q, issue_date(self.app.config.code_timezone))?;
        let (from, end) = months.bounds();
        let mut tx = self.app.db.begin_read().await?;
        let sf = scope_filter(&mut tx, actor, scope).await?;
        let deals = tx.first_deals_per_month(&sf, &from, &end).await?;
        let lost = tx.entered_per_month(&sf, "lost", &from, &end).await?;
        let created = tx.customer_group_counts(&sf, StatGroup::Month).await?;
        tx.rollback().await?;
        let mut out = CustomerFlow {
            from: from.clone(),
            to: months.list.last().cloned().unwrap_or_default(),
            months: Vec::with_capacity(months.list.len()),
            new_customers: 0,
            created: 0,
            lost: 0,
        };
        for month in months.list {
            let m = FlowMonth {
                new_customers: deals
                    .iter()
                    .find(|d| d.month == month)
                    .map_or(0, |d| d.count),
                created: created
                    .iter()
                    .find(|c| c.key.as_deref() == Some(month.as_str()))
                    .map_or(0, |c| c.count),
                lost: lost
                    .iter()
                    .find(|d| d.month == month)
                    .map_or(0, |d| d.count),
                month,
            };
            out.new_customers += m.new_customers;
            out.created += m.created;
            out.lost += m.lost;
            out.months.push(m);
        }
        Ok(out)
    }
}
