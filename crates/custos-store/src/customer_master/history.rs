//! Change history of a customer, with a snapshot per change.

use crate::{on_tx, StoreResult, Tx};

/// One change of a customer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub customer_id: i64,
    pub row_version: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub reason: Option<String>,
    /// JSON list of `{field, old, new}` (PII masked). Empty for a creation: its changes
    /// are every field of `snapshot`, derived when read.
    pub changes: String,
    /// JSON of the stored record after the change (PII encrypted).
    pub snapshot: String,
}

const HISTORY_COLS: &str =
    "id, customer_id, row_version, at, actor_id, actor_name, action, reason, changes, snapshot";

impl Tx {
    pub async fn insert_customer_history(&mut self, h: &HistoryRow) -> StoreResult<i64> {
        let sql = "INSERT INTO customer_history (customer_id, row_version, at, actor_id, \
                   actor_name, action, reason, changes, snapshot) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(h.customer_id)
            .bind(h.row_version)
            .bind(h.at)
            .bind(h.actor_id)
            .bind(&h.actor_name)
            .bind(&h.action)
            .bind(&h.reason)
            .bind(&h.changes)
            .bind(&h.snapshot)
            .fetch_one(c)
            .await)?)
    }

    /// Up to `limit` changes of a customer before a point, newest first: changes at
    /// `before_at` count only with an id below `before_id` (the timeline's cursor).
    pub async fn customer_history_before(
        &mut self,
        customer_id: i64,
        before_at: i64,
        before_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<HistoryRow>> {
        let sql = format!(
            "SELECT {HISTORY_COLS} FROM customer_history WHERE customer_id = $1 \
             AND (at < $2 OR (at = $2 AND id < $3)) ORDER BY at DESC, id DESC LIMIT $4"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, HistoryRow>(&sql)
            .bind(customer_id)
            .bind(before_at)
            .bind(before_id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// History of a customer, oldest first.
    pub async fn customer_history(&mut self, customer_id: i64) -> StoreResult<Vec<HistoryRow>> {
        let sql = format!(
            "SELECT {HISTORY_COLS} FROM customer_history WHERE customer_id = $1 ORDER BY id"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, HistoryRow>(&sql)
            .bind(customer_id)
            .fetch_all(c)
            .await)?)
    }

    /// The last change at or before `at` (microseconds).
    pub async fn customer_history_as_of(
        &mut self,
        customer_id: i64,
        at: i64,
    ) -> StoreResult<Option<HistoryRow>> {
        let sql = format!(
            "SELECT {HISTORY_COLS} FROM customer_history WHERE customer_id = $1 AND at <= $2 \
             ORDER BY at DESC, id DESC LIMIT 1"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, HistoryRow>(&sql)
            .bind(customer_id)
            .bind(at)
            .fetch_optional(c)
            .await)?)
    }
}
