//! Cross-references to source systems, and admin-defined field definitions.

use crate::{on_tx, StoreResult, Tx};

/// A cross-reference row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct XrefRow {
    pub customer_id: i64,
    pub system: String,
    pub source_id: String,
    pub created_at: i64,
    pub created_by: Option<i64>,
}

/// An admin-defined field (JSON definition).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FieldDefinitionRow {
    pub key: String,
    pub definition: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Tx {
    /// Link (or relink) a customer to a source system's id.
    pub async fn put_xref(&mut self, x: &XrefRow) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "DELETE FROM customer_xrefs WHERE customer_id = $1 AND system = $2"
        )
        .bind(x.customer_id)
        .bind(&x.system)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO customer_xrefs (customer_id, system, source_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(x.customer_id)
        .bind(&x.system)
        .bind(&x.source_id)
        .bind(x.created_at)
        .bind(x.created_by)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_xref(&mut self, customer_id: i64, system: &str) -> StoreResult<bool> {
        let n = on_tx!(self, |c| sqlx::query(
            "DELETE FROM customer_xrefs WHERE customer_id = $1 AND system = $2"
        )
        .bind(customer_id)
        .bind(system)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    pub async fn xrefs_of(&mut self, customer_id: i64) -> StoreResult<Vec<XrefRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, XrefRow>(
            "SELECT customer_id, system, source_id, created_at, created_by FROM customer_xrefs \
             WHERE customer_id = $1 ORDER BY system"
        )
        .bind(customer_id)
        .fetch_all(c)
        .await)?)
    }

    pub async fn xref_by_source(
        &mut self,
        system: &str,
        source_id: &str,
    ) -> StoreResult<Option<XrefRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, XrefRow>(
            "SELECT customer_id, system, source_id, created_at, created_by FROM customer_xrefs \
             WHERE system = $1 AND source_id = $2"
        )
        .bind(system)
        .bind(source_id)
        .fetch_optional(c)
        .await)?)
    }

    pub async fn field_definitions(&mut self) -> StoreResult<Vec<FieldDefinitionRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, FieldDefinitionRow>(
            "SELECT key, definition, created_at, updated_at FROM field_definitions ORDER BY key"
        )
        .fetch_all(c)
        .await)?)
    }

    pub async fn upsert_field_definition(&mut self, f: &FieldDefinitionRow) -> StoreResult<()> {
        on_tx!(self, |c| sqlx::query(
            "INSERT INTO field_definitions (key, definition, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (key) DO UPDATE SET \
             definition = excluded.definition, updated_at = excluded.updated_at"
        )
        .bind(&f.key)
        .bind(&f.definition)
        .bind(f.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
    /// Live customers (pending, active, dormant) of `customer_type` (any type when `None`)
    /// without a value of the custom field `key`, counted up to `cap` (bounded work).
    pub async fn count_customers_without_field(
        &mut self,
        key: &str,
        customer_type: Option<&str>,
        cap: i64,
    ) -> StoreResult<i64> {
        // An empty type stands for every type (no customer has an empty type).
        let sql = "SELECT COUNT(*) FROM (SELECT 1 FROM customers c \
             WHERE c.status IN ('pending', 'active', 'dormant') \
             AND ($3 = '' OR c.customer_type = $3) \
             AND NOT EXISTS (SELECT 1 FROM customer_field_values v \
             WHERE v.customer_id = c.id AND v.key = $1) LIMIT $2) capped";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .bind(key)
            .bind(cap)
            .bind(customer_type.unwrap_or(""))
            .fetch_one(c)
            .await)?)
    }

    /// The distinct stored values of the custom field `key` on live customers with how
    /// many customers hold each, most held first, at most `limit` values.
    pub async fn custom_field_value_counts(
        &mut self,
        key: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, (String, i64)>(
            "SELECT v.value, COUNT(*) AS n FROM customer_field_values v \
             JOIN customers c ON c.id = v.customer_id \
             WHERE v.key = $1 AND c.status IN ('pending', 'active', 'dormant') \
             GROUP BY v.value ORDER BY n DESC, v.value LIMIT $2"
        )
        .bind(key)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }
}
