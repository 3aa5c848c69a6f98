//! Group structure (集团 → 子公司 / 分支机构): each customer's parent, read a level at a
//! time by the group view.

use crate::sql_text::{padded_ids, padded_len, placeholders_from};
use crate::{on_tx, StoreResult, Tx};

/// A customer's link to its parent in its group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ParentRow {
    pub customer_id: i64,
    pub parent_id: i64,
    /// `subsidiary` (子公司) or `branch` (分支机构).
    pub relation: String,
    pub set_at: i64,
    pub set_by: Option<i64>,
}

const COLS: &str = "customer_id, parent_id, relation, set_at, set_by";

impl Tx {
    pub async fn parent_link(&mut self, customer_id: i64) -> StoreResult<Option<ParentRow>> {
        let sql = format!("SELECT {COLS} FROM customer_parents WHERE customer_id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ParentRow>(&sql)
            .bind(customer_id)
            .fetch_optional(c)
            .await)?)
    }

    /// Set (or replace) a customer's parent.
    pub async fn put_parent_link(&mut self, p: &ParentRow) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO customer_parents ({COLS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (customer_id) DO UPDATE SET parent_id = excluded.parent_id, \
             relation = excluded.relation, set_at = excluded.set_at, set_by = excluded.set_by"
        );
        on_tx!(self, |c| sqlx::query(&sql)
            .bind(p.customer_id)
            .bind(p.parent_id)
            .bind(&p.relation)
            .bind(p.set_at)
            .bind(p.set_by)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_parent_link(&mut self, customer_id: i64) -> StoreResult<u64> {
        Ok(on_tx!(self, |c| sqlx::query(
            "DELETE FROM customer_parents WHERE customer_id = $1"
        )
        .bind(customer_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Links whose parent is one of `parents`, at most `limit`, in customer order.
    pub async fn child_links(
        &mut self,
        parents: &[i64],
        limit: i64,
    ) -> StoreResult<Vec<ParentRow>> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let n = padded_len(parents.len());
        let sql = format!(
            "SELECT {COLS} FROM customer_parents WHERE parent_id IN ({}) \
             ORDER BY customer_id LIMIT ${}",
            placeholders_from(1, n),
            n + 1
        );
        let ids = padded_ids(parents);
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, ParentRow>(&sql);
            for id in &ids {
                q = q.bind(*id);
            }
            q.bind(limit).fetch_all(c).await
        })?)
    }

    /// `(id, merged_into)` of the customers merged into one of `ids`.
    pub async fn merged_into_any(&mut self, ids: &[i64]) -> StoreResult<Vec<(i64, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let n = padded_len(ids.len());
        let sql = format!(
            "SELECT id, merged_into FROM customers WHERE merged_into IN ({}) ORDER BY id",
            placeholders_from(1, n)
        );
        let ids = padded_ids(ids);
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, (i64, i64)>(&sql);
            for id in &ids {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?)
    }
}
