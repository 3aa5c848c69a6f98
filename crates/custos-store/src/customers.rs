//! The customer master table.

use crate::{on_tx, StoreError, StoreResult, Tx};

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct CustomerRow {
    pub id: i64,
    pub code: String,
    pub customer_type: String,
    pub name: String,
    pub name_key: String,
    pub status: String,
    pub uscc: Option<String>,
    pub region_code: Option<String>,
    pub industry: Option<String>,
    pub level: Option<String>,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    /// JSON object with every other field.
    pub data: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub row_version: i64,
}

pub(crate) const CUSTOMER_COLS: &str = "id, code, customer_type, name, name_key, status, uscc, \
    region_code, industry, level, owner_id, department_id, data, created_by, created_at, \
    updated_at, row_version";

impl Tx {
    /// Insert a new customer; `created_month` (`YYYY-MM` in the business time zone) feeds
    /// the new-per-month statistics.
    pub async fn insert_customer(
        &mut self,
        c: &CustomerRow,
        created_month: &str,
    ) -> StoreResult<i64> {
        let sql = "INSERT INTO customers (code, customer_type, name, name_key, status, uscc, \
                   region_code, industry, level, owner_id, department_id, data, created_by, \
                   created_at, updated_at, row_version, created_month) VALUES \
                   ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, 1, $15) \
                   RETURNING id";
        self.cache.postings = None;
        self.cache.next_customer_id = None;
        Ok(on_tx!(self, |conn| sqlx::query_scalar::<_, i64>(sql)
            .bind(&c.code)
            .bind(&c.customer_type)
            .bind(&c.name)
            .bind(&c.name_key)
            .bind(&c.status)
            .bind(&c.uscc)
            .bind(&c.region_code)
            .bind(&c.industry)
            .bind(&c.level)
            .bind(c.owner_id)
            .bind(c.department_id)
            .bind(&c.data)
            .bind(c.created_by)
            .bind(c.created_at)
            .bind(created_month)
            .fetch_one(conn)
            .await)?)
    }

    /// Update a customer if nobody changed it since `c.row_version` was read; returns the
    /// row as stored (its version one higher).
    pub async fn update_customer(&mut self, c: &CustomerRow) -> StoreResult<CustomerRow> {
        let sql = "UPDATE customers SET code = $2, customer_type = $3, name = $4, name_key = $5, \
                   status = $6, uscc = $7, region_code = $8, industry = $9, level = $10, \
                   owner_id = $11, department_id = $12, data = $13, updated_at = $14, \
                   row_version = row_version + 1 WHERE id = $1 AND row_version = $15";
        self.cache.postings = None;
        let n = on_tx!(self, |conn| sqlx::query(sql)
            .bind(c.id)
            .bind(&c.code)
            .bind(&c.customer_type)
            .bind(&c.name)
            .bind(&c.name_key)
            .bind(&c.status)
            .bind(&c.uscc)
            .bind(&c.region_code)
            .bind(&c.industry)
            .bind(&c.level)
            .bind(c.owner_id)
            .bind(c.department_id)
            .bind(&c.data)
            .bind(c.updated_at)
            .bind(c.row_version)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::Busy);
        }
        Ok(CustomerRow {
            row_version: c.row_version + 1,
            ..c.clone()
        })
    }

    pub async fn customer_by_code(&mut self, code: &str) -> StoreResult<Option<CustomerRow>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE code = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CustomerRow>(&sql)
            .bind(code)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn customer(&mut self, id: i64) -> StoreResult<Option<CustomerRow>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, CustomerRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn count_customers(&mut self) -> StoreResult<i64> {
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM customers"
        )
        .fetch_one(c)
        .await)?)
    }
}
