//! Counts of the customer reports (客户流转与复购): new customers by first deal, lost
//! customers by their transitions, and repeat purchases, read from the life-cycle rows,
//! the transitions and the orders per month kept with every change — never from the
//! records themselves — and counted only over the customers a data scope holds (the stage
//! rows carry each customer's owner, department and type for that).

use crate::customer_master::ScopeFilter;
use crate::{on_tx, StoreResult, Tx};

/// A count per month (`YYYY-MM`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MonthCount {
    pub month: String,
    pub count: i64,
}

/// Customers with orders and those with two or more, in one customer type and department.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BuyerCount {
    pub customer_type: String,
    pub department_id: Option<i64>,
    pub buyers: i64,
    pub repeat_buyers: i64,
}

/// Customers ordering in a month and those of them who had ordered before.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MonthBuyers {
    pub month: String,
    pub buyers: i64,
    pub returning_buyers: i64,
}

/// The condition a scope puts on the owner and department columns of table `t` (ids are
/// numbers, so they are written into the text); none for every customer.
fn scope_cond(scope: &ScopeFilter, t: &str) -> String {
    match scope {
        ScopeFilter::All => String::new(),
        ScopeFilter::Own(user) => format!(" AND {t}.owner_id = {user}"),
        ScopeFilter::Departments(user, deps) if deps.is_empty() => {
            format!(" AND {t}.owner_id = {user}")
        }
        ScopeFilter::Departments(user, deps) => {
            let ids: Vec<String> = deps.iter().map(i64::to_string).collect();
            format!(
                " AND ({t}.owner_id = {user} OR {t}.department_id IN ({}))",
                ids.join(", ")
            )
        }
    }
}

/// The join to `customers c` and the condition on it a scope needs; none for every
/// customer.
fn scope_sql(scope: &ScopeFilter, key: &str) -> (String, String) {
    match scope {
        ScopeFilter::All => (String::new(), String::new()),
        _ => (
            format!(" JOIN customers c ON c.id = {key}"),
            scope_cond(scope, "c"),
        ),
    }
}

impl Tx {
    /// Customers whose first deal (first signed contract or order) fell in each month of
    /// `from..to` (`YYYY-MM`, `to` exclusive).
    pub async fn first_deals_per_month(
        &mut self,
        scope: &ScopeFilter,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<MonthCount>> {
        let cond = scope_cond(scope, "l");
        let sql = format!(
            "SELECT substr(l.first_deal_on, 1, 7) AS month, COUNT(*) AS count \
             FROM customer_lifecycle l WHERE l.first_deal_on >= $1 \
             AND l.first_deal_on < $2{cond} GROUP BY substr(l.first_deal_on, 1, 7)"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MonthCount>(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await)?)
    }

    /// Customers that entered `stage` in each month of `from..to`.
    pub async fn entered_per_month(
        &mut self,
        scope: &ScopeFilter,
        stage: &str,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<MonthCount>> {
        let (join, cond) = scope_sql(scope, "t.customer_id");
        let sql = format!(
            "SELECT substr(t.on_date, 1, 7) AS month, COUNT(DISTINCT t.customer_id) AS count \
             FROM customer_lifecycle_transitions t{join} WHERE t.to_stage = $1 \
             AND t.on_date >= $2 AND t.on_date < $3{cond} GROUP BY substr(t.on_date, 1, 7)"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MonthCount>(&sql)
            .bind(stage)
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await)?)
    }

    /// Customers with one or more orders and with two or more, per customer type and
    /// department (the order counts of the stage rows, kept with the order totals).
    pub async fn buyers_per_group(&mut self, scope: &ScopeFilter) -> StoreResult<Vec<BuyerCount>> {
        let cond = scope_cond(scope, "l");
        let sql = format!(
            "SELECT COALESCE(l.customer_type, '') AS customer_type, l.department_id, \
             COUNT(*) AS buyers, \
             CAST(SUM(CASE WHEN l.order_count >= 2 THEN 1 ELSE 0 END) AS BIGINT) AS repeat_buyers \
             FROM customer_lifecycle l WHERE l.order_count >= 1{cond} \
             GROUP BY l.customer_type, l.department_id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, BuyerCount>(&sql)
            .fetch_all(c)
            .await)?)
    }

    /// Per month of `from..to`: customers with orders in it, and those of them with an
    /// order in an earlier month.
    pub async fn buyers_per_month(
        &mut self,
        scope: &ScopeFilter,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<MonthBuyers>> {
        // A first order (`YYYY-MM-DD`) sorts before the month (`YYYY-MM`) exactly when
        // it fell in an earlier month.
        let cond = scope_cond(scope, "l");
        let sql = format!(
            "SELECT m.month, COUNT(*) AS buyers, CAST(SUM(CASE WHEN l.first_order_on < m.month \
             THEN 1 ELSE 0 END) AS BIGINT) AS returning_buyers \
             FROM customer_order_months m JOIN customer_lifecycle l \
             ON l.customer_id = m.customer_id WHERE m.month >= $1 AND m.month < $2{cond} \
             GROUP BY m.month"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MonthBuyers>(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await)?)
    }
}
