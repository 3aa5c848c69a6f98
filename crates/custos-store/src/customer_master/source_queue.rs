//! Source-system customers waiting for a steward: what an upsert by source key could not
//! place on its own, and how the steward decided.

use crate::{on_tx, Backend, StoreResult, Tx};

/// A queued source customer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SourceQueueRow {
    pub id: i64,
    pub system: String,
    pub source_id: String,
    /// `pending`, `created`, `linked` or `rejected`.
    pub state: String,
    /// The customer as the system sent it (sealed JSON).
    pub payload: String,
    /// The duplicate check's verdict when queued (`definite` or `possible`).
    pub verdict: String,
    /// JSON list of the candidate codes the submitting caller could see.
    pub candidates: String,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    pub queued_at: i64,
    pub queued_by: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<i64>,
    pub customer_id: Option<i64>,
    pub note: Option<String>,
}

const COLS: &str = "id, system, source_id, state, payload, verdict, candidates, owner_id, \
                    department_id, queued_at, queued_by, decided_at, decided_by, customer_id, note";

impl Tx {
    /// Hold off other upserts of the same source id until this transaction ends, so
    /// the second finds what the first wrote instead of deciding beside it. A SQLite
    /// writer is alone already; PostgreSQL takes a transaction-level advisory lock.
    pub async fn lock_source_key(&mut self, system: &str, source_id: &str) -> StoreResult<()> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        let key = format!("custos source key {system}/{source_id}");
        on_tx!(self, |c| sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text"
        )
        .bind(&key)
        .fetch_one(c)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Queue a source customer (one entry per source id); returns its id.
    pub async fn insert_source_queue(&mut self, q: &SourceQueueRow) -> StoreResult<i64> {
        let sql = "INSERT INTO source_queue (system, source_id, state, payload, verdict, \
                   candidates, owner_id, department_id, queued_at, queued_by) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(&q.system)
            .bind(&q.source_id)
            .bind(&q.state)
            .bind(&q.payload)
            .bind(&q.verdict)
            .bind(&q.candidates)
            .bind(q.owner_id)
            .bind(q.department_id)
            .bind(q.queued_at)
            .bind(q.queued_by)
            .fetch_one(c)
            .await)?)
    }

    pub async fn source_queue_by_source(
        &mut self,
        system: &str,
        source_id: &str,
    ) -> StoreResult<Option<SourceQueueRow>> {
        let sql = format!("SELECT {COLS} FROM source_queue WHERE system = $1 AND source_id = $2");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, SourceQueueRow>(&sql)
            .bind(system)
            .bind(source_id)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn source_queue_entry(&mut self, id: i64) -> StoreResult<Option<SourceQueueRow>> {
        let sql = format!("SELECT {COLS} FROM source_queue WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, SourceQueueRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    /// Up to `limit` entries in `state`, oldest first, after the entry `after_id`.
    pub async fn source_queue_page(
        &mut self,
        state: &str,
        system: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<SourceQueueRow>> {
        // One system's entries come from the (system, source_id) index's leading column.
        let of_system = match system {
            Some(_) => " AND system = $4",
            None => "",
        };
        let sql = format!(
            "SELECT {COLS} FROM source_queue WHERE state = $1 AND id > $2{of_system} \
             ORDER BY id LIMIT $3"
        );
        Ok(on_tx!(self, |c| {
            let q = sqlx::query_as::<_, SourceQueueRow>(&sql)
                .bind(state)
                .bind(after_id)
                .bind(limit);
            match system {
                Some(s) => q.bind(s),
                None => q,
            }
            .fetch_all(c)
            .await
        })?)
    }

    /// Record a steward's decision on a pending entry; false when it was no longer
    /// pending (decided meanwhile).
    pub async fn decide_source_queue(&mut self, q: &SourceQueueRow) -> StoreResult<bool> {
        let sql = "UPDATE source_queue SET state = $2, decided_at = $3, decided_by = $4, \
                   customer_id = $5, note = $6 WHERE id = $1 AND state = 'pending'";
        let n = on_tx!(self, |c| sqlx::query(sql)
            .bind(q.id)
            .bind(&q.state)
            .bind(q.decided_at)
            .bind(q.decided_by)
            .bind(q.customer_id)
            .bind(&q.note)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Forget a queue entry (the source sent other values, or its link was removed).
    pub async fn delete_source_queue(&mut self, id: i64) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "DELETE FROM source_queue WHERE id = $1"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
