//! The life cycle of customers (客户状态): each customer's stage with the facts the rules
//! read, the transitions between stages, and the facts counted from the records.

use crate::{on_tx, StoreResult, Tx};

/// The stage of one customer and the facts it was decided on.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct LifecycleRow {
    pub customer_id: i64,
    pub stage: String,
    /// `YYYY-MM-DD`: the day it entered the stage.
    pub since: String,
    /// The rule that decided it (`custos_core::lifecycle::Rule`).
    pub rule: String,
    /// What made it change: `record`, `merge`, `unmerge`, `split` or `daily`.
    pub cause: String,
    /// The record that caused it, when one did.
    pub activity_id: Option<i64>,
    pub first_deal_on: Option<String>,
    pub first_order_on: Option<String>,
    pub last_activity_on: Option<String>,
    pub order_count: i64,
    pub updated_at: i64,
}

/// One change of stage.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct TransitionRow {
    pub id: i64,
    pub customer_id: i64,
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub on_date: String,
    pub at: i64,
    pub rule: String,
    pub cause: String,
    pub activity_id: Option<i64>,
}

/// What the records of a customer say, times in microseconds.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct RecordFacts {
    /// When the first signed (or since expired) contract was signed or the first order
    /// placed.
    pub first_deal_at: Option<i64>,
    /// The date (`YYYY-MM-DD`) of the first order.
    pub first_order_on: Option<String>,
    /// When the latest record of any kind but credit ratings happened.
    pub last_activity_at: Option<i64>,
    pub order_count: i64,
}

const COLS: &str = "customer_id, stage, since, rule, cause, activity_id, first_deal_on, \
                    first_order_on, last_activity_on, order_count, updated_at";

const TRANSITION_COLS: &str =
    "id, customer_id, from_stage, to_stage, on_date, at, rule, cause, activity_id";

impl Tx {
    /// The facts of a customer's records now.
    pub async fn record_facts(&mut self, customer_id: i64) -> StoreResult<RecordFacts> {
        let sql = "SELECT MIN(CASE WHEN kind = 'order' OR (kind = 'contract' \
                   AND status IN ('signed', 'expired')) THEN occurred_at END) AS first_deal_at, \
                   MIN(CASE WHEN kind = 'order' THEN ref_key END) AS first_order_on, \
                   MAX(CASE WHEN kind <> 'credit' THEN occurred_at END) AS last_activity_at, \
                   CAST(COALESCE(SUM(CASE WHEN kind = 'order' THEN 1 ELSE 0 END), 0) AS BIGINT) \
                   AS order_count \
                   FROM customer_activities WHERE customer_id = $1";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, RecordFacts>(sql)
            .bind(customer_id)
            .fetch_one(c)
            .await)?)
    }

    /// The stage row of a customer, if it has one.
    pub async fn lifecycle(&mut self, customer_id: i64) -> StoreResult<Option<LifecycleRow>> {
        let sql = format!("SELECT {COLS} FROM customer_lifecycle WHERE customer_id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, LifecycleRow>(&sql)
            .bind(customer_id)
            .fetch_optional(c)
            .await)?)
    }

    /// Up to `limit` stage rows with a customer id above `after`, by customer id.
    pub async fn lifecycle_chunk(
        &mut self,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<LifecycleRow>> {
        let sql = format!(
            "SELECT {COLS} FROM customer_lifecycle WHERE customer_id > $1 \
             ORDER BY customer_id LIMIT $2"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, LifecycleRow>(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Up to `limit` customers above `after` that have records but no stage row yet
    /// (records from before the life cycle was kept).
    pub async fn customers_without_lifecycle(
        &mut self,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<i64>> {
        let sql = "SELECT DISTINCT a.customer_id FROM customer_activities a \
                   WHERE a.customer_id > $1 AND NOT EXISTS (SELECT 1 FROM customer_lifecycle l \
                   WHERE l.customer_id = a.customer_id) ORDER BY a.customer_id LIMIT $2";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(after)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Store the stage row of a customer.
    pub async fn put_lifecycle(&mut self, r: &LifecycleRow) -> StoreResult<()> {
        // The owner, department and type come along from the customer (a trigger keeps
        // them when the customer changes).
        let sql = "INSERT INTO customer_lifecycle (customer_id, stage, since, rule, cause, \
                   activity_id, first_deal_on, first_order_on, last_activity_on, order_count, \
                   updated_at, owner_id, department_id, customer_type) \
                   SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, c.owner_id, \
                   c.department_id, c.customer_type FROM customers c WHERE c.id = $1 \
                   ON CONFLICT (customer_id) DO UPDATE SET stage = excluded.stage, \
                   since = excluded.since, rule = excluded.rule, cause = excluded.cause, \
                   activity_id = excluded.activity_id, first_deal_on = excluded.first_deal_on, \
                   first_order_on = excluded.first_order_on, \
                   last_activity_on = excluded.last_activity_on, \
                   order_count = excluded.order_count, updated_at = excluded.updated_at, \
                   owner_id = excluded.owner_id, department_id = excluded.department_id, \
                   customer_type = excluded.customer_type";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(r.customer_id)
            .bind(&r.stage)
            .bind(&r.since)
            .bind(&r.rule)
            .bind(&r.cause)
            .bind(r.activity_id)
            .bind(&r.first_deal_on)
            .bind(&r.first_order_on)
            .bind(&r.last_activity_on)
            .bind(r.order_count)
            .bind(r.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forget the stage row of a customer that has no records any more.
    pub async fn delete_lifecycle(&mut self, customer_id: i64) -> StoreResult<()> {
        let sql = "DELETE FROM customer_lifecycle WHERE customer_id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(customer_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Record a change of stage; returns its id (`t.id` is ignored).
    pub async fn insert_lifecycle_transition(&mut self, t: &TransitionRow) -> StoreResult<i64> {
        let sql = "INSERT INTO customer_lifecycle_transitions (customer_id, from_stage, \
                   to_stage, on_date, at, rule, cause, activity_id) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(t.customer_id)
            .bind(&t.from_stage)
            .bind(&t.to_stage)
            .bind(&t.on_date)
            .bind(t.at)
            .bind(&t.rule)
            .bind(&t.cause)
            .bind(t.activity_id)
            .fetch_one(c)
            .await)?)
    }

    /// A customer's latest `limit` transitions, newest first.
    pub async fn lifecycle_transitions(
        &mut self,
        customer_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<TransitionRow>> {
        let sql = format!(
            "SELECT {TRANSITION_COLS} FROM customer_lifecycle_transitions \
             WHERE customer_id = $1 ORDER BY id DESC LIMIT $2"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, TransitionRow>(&sql)
            .bind(customer_id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// A customer's transitions older than (`at`, `id`), newest first (its timeline).
    pub async fn lifecycle_transitions_before(
        &mut self,
        customer_id: i64,
        at: i64,
        id: i64,
        limit: i64,
    ) -> StoreResult<Vec<TransitionRow>> {
        let sql = format!(
            "SELECT {TRANSITION_COLS} FROM customer_lifecycle_transitions \
             WHERE customer_id = $1 AND (at < $2 OR (at = $2 AND id < $3)) \
             ORDER BY at DESC, id DESC LIMIT $4"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, TransitionRow>(&sql)
            .bind(customer_id)
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Count a customer's orders per month (`YYYY-MM` of the order date) again.
    pub(crate) async fn recount_order_months(
        &mut self,
        customer_id: i64,
        kind: &str,
    ) -> StoreResult<()> {
        let sql = "DELETE FROM customer_order_months WHERE customer_id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(customer_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = "INSERT INTO customer_order_months (customer_id, month, order_count) \
                   SELECT customer_id, substr(ref_key, 1, 7), COUNT(*) FROM customer_activities \
                   WHERE customer_id = $1 AND kind = $2 AND ref_key IS NOT NULL \
                   GROUP BY customer_id, substr(ref_key, 1, 7)";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(customer_id)
            .bind(kind)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
