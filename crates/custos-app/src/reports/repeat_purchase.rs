//! The repeat-purchase rate (复购率): customers with two or more orders over customers
//! with one or more, overall, per customer type and per department; and per month, the
//! customers ordering in the month who had ordered in an earlier month over all who
//! ordered in it. Payments are not orders.

use crate::reports::Reports;
use std::collections::BTreeMap;

use serde::Serialize;

use super::months::{months_of, MonthsQuery};
use crate::actor::Actor;
use crate::codes::issue_date;
use crate::customers::scope_filter;
use crate::error::AppResult;

/// The rate within one group.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RateBucket {
    /// The customer type's key or the department's id (absent: no department).
    pub key: Option<String>,
    pub label: Option<String>,
    /// Customers with one or more orders.
    pub buyers: i64,
    /// Customers with two or more.
    pub repeat_buyers: i64,
    /// `repeat_buyers / buyers`, four decimals; absent without buyers.
    pub rate: Option<f64>,
}

/// One month of the repeat-purchase rate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MonthRate {
    pub month: String,
    /// Customers with an order in the month.
    pub buyers: i64,
    /// Of them, those with an order in an earlier month.
    pub returning: i64,
    pub rate: Option<f64>,
}

/// The repeat-purchase rate within the caller's `stats.read` scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepeatPurchase {
    pub buyers: i64,
    pub repeat_buyers: i64,
    pub rate: Option<f64>,
    /// Largest first.
    pub by_type: Vec<RateBucket>,
    pub by_department: Vec<RateBucket>,
    /// Oldest first, every month of `from..to`.
    pub months: Vec<MonthRate>,
}

fn buckets(groups: BTreeMap<Option<String>, (i64, i64)>) -> Vec<RateBucket> {
    let mut out: Vec<RateBucket> = groups
        .into_iter()
        .map(|(key, (buyers, repeat))| RateBucket {
            key,
            label: None,
            buyers,
            repeat_buyers: repeat,
            rate: rate(repeat, buyers),
        })
        .collect();
    out.sort_by(|a, b| b.buyers.cmp(&a.buyers).then(a.key.cmp(&b.key)));
    out
}

impl Reports<'_> {
    /// The repeat-purchase rate (`stats.read`, counted within its scope).
    pub async fn repeat_purchase(
        &self,
        actor: &Actor,
        q: &MonthsQuery,
    ) -> AppResult<RepeatPurchase> {
        let scope = actor.require("stats.read")?;
        let months = months_of(q, issue_date(self.app.config.code_timezone))?;
        let (from, end) = months.bounds();
        let mut tx = self.app.db.begin_read().await?;
        let sf = scope_filter(&mut tx, actor, scope).await?;
        let groups = tx.buyers_per_group(&sf).await?;
        let per_month = tx.buyers_per_month(&sf, &from, &end).await?;
        let types = crate::customers::load_customer_types(&mut tx).await?;
        let departments = tx.departments().await?;
        tx.rollback().await?;
        let (mut by_type, mut by_dept) = (BTreeMap::new(), BTreeMap::new());
        let (mut buyers, mut repeat) = (0, 0);
        for g in &groups {
            buyers += g.buyers;
            repeat += g.repeat_buyers;
            let t = by_type
                .entry(Some(g.customer_type.clone()))
                .or_insert((0, 0));
            *t = (t.0 + g.buyers, t.1 + g.repeat_buyers);
            let d = by_dept
                .entry(g.department_id.map(|d| d.to_string()))
                .or_insert((0, 0));
            *d = (d.0 + g.buyers, d.1 + g.repeat_buyers);
        }
        let mut by_type = buckets(std::mem::take(&mut by_type));
        for b in &mut by_type {
            b.label = types
                .iter()
                .find(|t| Some(&t.key) == b.key.as_ref())
                .map(|t| t.label_zh.clone());
        }
        let mut by_department = buckets(std::mem::take(&mut by_dept));
        for b in &mut by_department {
            b.label = departments
                .iter()
                .find(|d| Some(d.id.to_string()) == b.key)
                .map(|d| d.name.clone());
        }
        let months = months
            .list
            .into_iter()
            .map(|month| {
                let (b, r) = per_month
                    .iter()
                    .find(|m| m.month == month)
                    .map_or((0, 0), |m| (m.buyers, m.returning_buyers));
                MonthRate {
                    month,
                    buyers: b,
                    returning: r,
                    rate: rate(r, b),
                }
            })
            .collect();
        Ok(RepeatPurchase {
            buyers,
            repeat_buyers: repeat,
            rate: rate(repeat, buyers),
            by_type,
            by_department,
            months,
        })
    }
}

/// `part / whole` to four decimals; none of nothing.
pub(crate) fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}
