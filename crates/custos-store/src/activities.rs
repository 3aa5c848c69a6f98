//! Business records of a customer (follow-ups, interactions, service records, contracts,
//! orders and payments, credit ratings) and the order totals kept beside them. One table
//! for every kind: the kinds share their place in the customer's life (time, customer,
//! merges) and differ only in the fields of `body`.

use crate::{on_tx, StoreResult, Tx};

/// One stored record of a customer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: i64,
    pub kind: String,
    pub customer_id: i64,
    pub origin_customer_id: i64,
    /// When it happened (microseconds), the order of every list.
    pub occurred_at: i64,
    pub status: Option<String>,
    /// The contract number of a contract; the date (`YYYY-MM-DD`) of an order.
    pub ref_key: Option<String>,
    /// Orders: source system and document number, unique.
    pub source_key: Option<String>,
    /// A service record: the complaint that opened it.
    pub linked_id: Option<i64>,
    pub amount_fen: Option<i64>,
    /// The fields of the kind, JSON.
    pub body: String,
    pub recorded_at: i64,
    pub recorded_by: Option<i64>,
    pub updated_at: i64,
}

/// The order totals of a customer.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct OrderTotalsRow {
    pub customer_id: i64,
    pub total_fen: i64,
    pub order_count: i64,
    pub last_order_on: Option<String>,
}

const COLS: &str = "id, kind, customer_id, origin_customer_id, occurred_at, status, ref_key, \
                    source_key, linked_id, amount_fen, body, recorded_at, recorded_by, updated_at";

impl Tx {
    /// Store a new record; returns its id (`a.id` is ignored).
    pub async fn insert_activity(&mut self, a: &ActivityRow) -> StoreResult<i64> {
        let sql = "INSERT INTO customer_activities (kind, customer_id, origin_customer_id, \
                   occurred_at, status, ref_key, source_key, linked_id, amount_fen, body, \
                   recorded_at, recorded_by, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&a.kind)
            .bind(a.customer_id)
            .bind(a.origin_customer_id)
            .bind(a.occurred_at)
            .bind(&a.status)
            .bind(&a.ref_key)
            .bind(&a.source_key)
            .bind(a.linked_id)
            .bind(a.amount_fen)
            .bind(&a.body)
            .bind(a.recorded_at)
            .bind(a.recorded_by)
            .bind(a.updated_at)
            .fetch_one(c)
            .await)?)
    }

    /// Store many records at once (synthetic data for the demo and the benchmarks): a
    /// few hundred rows a statement. Order totals are not touched; see
    /// [`Tx::recount_all_order_totals`].
    pub async fn insert_activities(&mut self, rows: &[ActivityRow]) -> StoreResult<()> {
        // 13 parameters a row, well below either database's limit a statement.
        for chunk in rows.chunks(400) {
            let marks: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p: Vec<String> = (1..=13).map(|c| format!("${}", r * 13 + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO customer_activities (kind, customer_id, origin_customer_id, \
                 occurred_at, status, ref_key, source_key, linked_id, amount_fen, body, \
                 recorded_at, recorded_by, updated_at) VALUES {}",
                marks.join(", ")
            );
            on_tx!(self, |c| {
                let mut q = sqlx::query(&sql);
                for a in chunk {
                    q = q
                        .bind(&a.kind)
                        .bind(a.customer_id)
                        .bind(a.origin_customer_id)
                        .bind(a.occurred_at)
                        .bind(&a.status)
                        .bind(&a.ref_key)
                        .bind(&a.source_key)
                        .bind(a.linked_id)
                        .bind(a.amount_fen)
                        .bind(&a.body)
                        .bind(a.recorded_at)
                        .bind(a.recorded_by)
                        .bind(a.updated_at);
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// Count every customer's order totals again from its orders (after a bulk load).
    pub async fn recount_all_order_totals(&mut self) -> StoreResult<u64> {
        on_tx!(self, |c| sqlx::query("DELETE FROM customer_order_totals")
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = "INSERT INTO customer_order_totals (customer_id, total_fen, order_count, \
                   last_order_on) SELECT customer_id, CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT), COUNT(*), \
                   MAX(ref_key) FROM customer_activities WHERE kind = 'order' \
                   GROUP BY customer_id";
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Change the time, status, link and body of a record.
    pub async fn update_activity(&mut self, a: &ActivityRow) -> StoreResult<()> {
        let sql = "UPDATE customer_activities SET status = $2, linked_id = $3, body = $4, \
                   updated_at = $5, occurred_at = $6 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(a.id)
            .bind(&a.status)
            .bind(a.linked_id)
            .bind(&a.body)
            .bind(a.updated_at)
            .bind(a.occurred_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The record `id` of `kind` if it belongs to customer `customer_id` now.
    pub async fn activity(
        &mut self,
        customer_id: i64,
        kind: &str,
        id: i64,
    ) -> StoreResult<Option<ActivityRow>> {
        let sql = format!(
            "SELECT {COLS} FROM customer_activities WHERE id = $1 AND customer_id = $2 \
             AND kind = $3"
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ActivityRow>(&sql)
            .bind(id)
            .bind(customer_id)
            .bind(kind)
            .fetch_optional(c)
            .await)?)
    }

    /// A customer's records of the `kinds` given, newest first, `limit` of them after the
    /// position (`occurred_at`, `id`) of `before` (exclusive) when given.
    pub async fn customer_activities(
        &mut self,
        customer_id: i64,
        kinds: &[&str],
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<ActivityRow>> {
        let marks: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "SELECT {COLS} FROM customer_activities WHERE customer_id = $1 \
             AND kind IN ({}) AND (occurred_at < $2 OR (occurred_at = $2 AND id < $3)) \
             ORDER BY occurred_at DESC, id DESC LIMIT $4",
            marks.join(", ")
        );
        let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, ActivityRow>(&sql)
                .bind(customer_id)
                .bind(at)
                .bind(id)
                .bind(limit);
            for k in kinds {
                q = q.bind(*k);
            }
            q.fetch_all(c).await
        })?)
    }

    /// The position (`occurred_at`, `id`) of a record of a customer, for a cursor.
    pub async fn activity_position(
        &mut self,
        customer_id: i64,
        id: i64,
    ) -> StoreResult<Option<(i64, i64)>> {
        let sql = "SELECT occurred_at, id FROM customer_activities \
                   WHERE id = $1 AND customer_id = $2";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, (i64, i64)>(sql)
            .bind(id)
            .bind(customer_id)
            .fetch_optional(c)
            .await)?)
    }

    /// The record with this source key (an order of a source system).
    pub async fn activity_by_source_key(&mut self, key: &str) -> StoreResult<Option<ActivityRow>> {
        let sql = format!("SELECT {COLS} FROM customer_activities WHERE source_key = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ActivityRow>(&sql)
            .bind(key)
            .fetch_optional(c)
            .await)?)
    }

    /// The earliest next date (`YYYY-MM-DD`, kept in `ref_key`) of a customer's
    /// follow-ups on or after `from`.
    pub async fn next_followup_date(
        &mut self,
        customer_id: i64,
        from: &str,
    ) -> StoreResult<Option<String>> {
        let sql = "SELECT MIN(ref_key) FROM customer_activities WHERE customer_id = $1 \
                   AND kind = 'followup' AND ref_key >= $2";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, Option<String>>(
            sql
        )
        .bind(customer_id)
        .bind(from)
        .fetch_one(c)
        .await)?)
    }

    /// How many records of `kind` with `ref_key` a customer has, other than `except`.
    pub async fn count_activities_with_ref(
        &mut self,
        customer_id: i64,
        kind: &str,
        ref_key: &str,
        except: i64,
    ) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM customer_activities WHERE customer_id = $1 \
                   AND kind = $2 AND ref_key = $3 AND id <> $4";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(customer_id)
            .bind(kind)
            .bind(ref_key)
            .bind(except)
            .fetch_one(c)
            .await)?)
    }

    /// How many records of `kind` a customer has in one of `statuses`, other than `except`.
    pub async fn count_activities_in_status(
        &mut self,
        customer_id: i64,
        kind: &str,
        statuses: &[&str],
        except: i64,
    ) -> StoreResult<i64> {
        let marks: Vec<String> = (0..statuses.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT COUNT(*) FROM customer_activities WHERE customer_id = $1 AND kind = $2 \
             AND id <> $3 AND status IN ({})",
            marks.join(", ")
        );
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, i64>(&sql)
                .bind(customer_id)
                .bind(kind)
                .bind(except);
            for s in statuses {
                q = q.bind(*s);
            }
            q.fetch_one(c).await
        })?)
    }

    /// Move every record of the customers `from` to `to` (a merge); returns how many.
    pub async fn move_activities(&mut self, from: i64, to: i64) -> StoreResult<u64> {
        let sql = "UPDATE customer_activities SET customer_id = $2 WHERE customer_id = $1";
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .bind(from)
            .bind(to)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Move the records recorded on `origin` that are now on `holder` to `to` (an
    /// unmerge); returns how many.
    pub async fn return_activities(
        &mut self,
        origin: i64,
        holder: i64,
        to: i64,
    ) -> StoreResult<u64> {
        let sql = "UPDATE customer_activities SET customer_id = $3 \
                   WHERE origin_customer_id = $1 AND customer_id = $2";
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .bind(origin)
            .bind(holder)
            .bind(to)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Give the record `id` of customer `from` to `to` as if recorded there (a split).
    pub async fn give_activity(&mut self, id: i64, from: i64, to: i64) -> StoreResult<u64> {
        let sql = "UPDATE customer_activities SET customer_id = $3, origin_customer_id = $3 \
                   WHERE id = $1 AND customer_id = $2";
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(from)
            .bind(to)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// The customers the records now on `customer_id` were recorded on.
    pub async fn activity_origins(&mut self, customer_id: i64) -> StoreResult<Vec<i64>> {
        let sql = "SELECT DISTINCT origin_customer_id FROM customer_activities \
                   WHERE customer_id = $1 ORDER BY origin_customer_id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(customer_id)
            .fetch_all(c)
            .await)?)
    }

    /// Count the orders (records of `kind`) of a customer again into its totals; the
    /// last order date is the greatest `ref_key`.
    pub async fn recount_order_totals(
        &mut self,
        customer_id: i64,
        kind: &str,
    ) -> StoreResult<OrderTotalsRow> {
        let sql = "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT), COUNT(*), MAX(ref_key) \
                   FROM customer_activities WHERE customer_id = $1 AND kind = $2";
        let (total, count, last): (i64, i64, Option<String>) =
            on_tx!(self, |c| sqlx::query_as(sql)
                .bind(customer_id)
                .bind(kind)
                .fetch_one(c)
                .await)?;
        let t = OrderTotalsRow {
            customer_id,
            total_fen: total,
            order_count: count,
            last_order_on: last,
        };
        let sql = "INSERT INTO customer_order_totals (customer_id, total_fen, order_count, \
                   last_order_on) VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO UPDATE \
                   SET total_fen = excluded.total_fen, order_count = excluded.order_count, \
                   last_order_on = excluded.last_order_on";
        on_tx!(self, |c| sqlx::query(sql)
            .bind(t.customer_id)
            .bind(t.total_fen)
            .bind(t.order_count)
            .bind(&t.last_order_on)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        self.recount_order_months(customer_id, kind).await?;
        Ok(t)
    }

    /// The order totals of a customer (zeros when it has none).
    pub async fn order_totals(&mut self, customer_id: i64) -> StoreResult<OrderTotalsRow> {
        let sql = "SELECT customer_id, total_fen, order_count, last_order_on \
                   FROM customer_order_totals WHERE customer_id = $1";
        let row = on_tx!(self, |c| sqlx::query_as::<_, OrderTotalsRow>(sql)
            .bind(customer_id)
            .fetch_optional(c)
            .await)?;
        Ok(row.unwrap_or(OrderTotalsRow {
            customer_id,
            ..Default::default()
        }))
    }
}
