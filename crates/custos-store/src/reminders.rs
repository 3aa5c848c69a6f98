//! Reminders (提醒): follow-ups due and contracts whose service expires, found by day,
//! and the reminders made of them, each item, user and day once.

use crate::{on_tx, StoreResult, Tx};

/// An item that calls for a reminder: a record with its day, its customer's owner and
/// who recorded it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueItem {
    pub activity_id: i64,
    pub customer_id: i64,
    pub customer_code: String,
    pub item_on: String,
    pub owner_id: Option<i64>,
    pub recorded_by: Option<i64>,
}

/// A reminder made for a user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReminderRow {
    pub id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    pub customer_code: String,
    pub kind: String,
    pub activity_id: i64,
    pub due_on: String,
    pub item_on: String,
    pub created_at: i64,
}

impl Tx {
    /// Follow-ups (next date in `ref_key`) or signed contracts (service expiry in
    /// `due_on`) whose day is within `from..=to`, `limit` of them after record `after`.
    pub async fn due_items(
        &mut self,
        kind: &str,
        from: &str,
        to: &str,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueItem>> {
        let (col, extra) = match kind {
            "contract" => ("a.due_on", " AND a.status = 'signed'"),
            _ => ("a.ref_key", ""),
        };
        let sql = format!(
            "SELECT a.id AS activity_id, a.customer_id, c.code AS customer_code, \
             {col} AS item_on, c.owner_id, a.recorded_by FROM customer_activities a \
             JOIN customers c ON c.id = a.customer_id \
             WHERE a.kind = $1 AND {col} >= $2 AND {col} <= $3 AND a.id > $4{extra} \
             ORDER BY a.id LIMIT $5"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, DueItem>(&sql)
            .bind(kind)
            .bind(from)
            .bind(to)
            .bind(after)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Keep a reminder unless the same item was already given to the user for that day;
    /// true when it is new.
    pub async fn insert_reminder(&mut self, r: &ReminderRow) -> StoreResult<bool> {
        let sql = "INSERT INTO customer_reminders (user_id, customer_id, kind, activity_id, \
                   due_on, item_on, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                   ON CONFLICT (kind, activity_id, user_id, due_on) DO NOTHING RETURNING id";
        let id = on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(r.user_id)
            .bind(r.customer_id)
            .bind(&r.kind)
            .bind(r.activity_id)
            .bind(&r.due_on)
            .bind(&r.item_on)
            .bind(r.created_at)
            .fetch_optional(c)
            .await)?;
        Ok(id.is_some())
    }

    /// A user's reminders due on or before `upto`, the latest first.
    pub async fn user_reminders(
        &mut self,
        user_id: i64,
        upto: &str,
        limit: i64,
    ) -> StoreResult<Vec<ReminderRow>> {
        let sql = "SELECT r.id, r.user_id, r.customer_id, c.code AS customer_code, r.kind, \
                   r.activity_id, r.due_on, r.item_on, r.created_at FROM customer_reminders r \
                   JOIN customers c ON c.id = r.customer_id \
                   WHERE r.user_id = $1 AND r.due_on <= $2 \
                   ORDER BY r.due_on DESC, r.id DESC LIMIT $3";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ReminderRow>(sql)
            .bind(user_id)
            .bind(upto)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Set the day a record falls due (a contract's service expiry).
    pub async fn set_activity_due(&mut self, id: i64, due_on: Option<&str>) -> StoreResult<()> {
        let sql = "UPDATE customer_activities SET due_on = $2 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(due_on)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
