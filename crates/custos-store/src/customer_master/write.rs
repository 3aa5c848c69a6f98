//! Writing a customer's derived lookup rows, and the one-statement creation of a new
//! customer.

use sqlx::Row;

use super::indexes::CustomerIndexes;
use super::new_customer::{
    bind_new_customer, new_customer_sql, NewCustomerBinds, NewCustomerWrite,
};
use crate::lookups::{BLIND_INDEX, NAME_GRAMS};
use crate::sql_text::json_list;
use crate::{on_tx, StoreResult, Tx, TxConn};

/// The index lists of a customer as stored: sorted, without repeats.
struct IndexLists {
    blind: Vec<Vec<String>>,
    tags: Vec<Vec<String>>,
    grams: Vec<Vec<String>>,
    fields: Vec<Vec<String>>,
}

impl IndexLists {
    fn of(ix: &CustomerIndexes) -> IndexLists {
        let sorted = |mut v: Vec<Vec<String>>| {
            v.sort();
            v.dedup();
            v
        };
        IndexLists {
            blind: sorted(
                ix.blind
                    .iter()
                    .map(|(k, h)| vec![k.clone(), h.clone()])
                    .collect(),
            ),
            tags: sorted(ix.tags.iter().map(|t| vec![t.clone()]).collect()),
            grams: sorted(ix.grams.iter().map(|g| vec![g.clone()]).collect()),
            fields: sorted(
                ix.fields
                    .iter()
                    .map(|(k, v)| vec![k.clone(), v.clone()])
                    .collect(),
            ),
        }
    }
}

impl Tx {
    /// Replace the derived lookup rows of a customer (`fresh`: a new customer, nothing
    /// to delete). Each table gets one multi-row insert: fewer round trips per write.
    pub async fn replace_customer_indexes(
        &mut self,
        customer_id: i64,
        ix: &CustomerIndexes,
        fresh: bool,
    ) -> StoreResult<()> {
        self.flush_lookups().await?;
        if !fresh {
            self.delete_lookup_rows(BLIND_INDEX, customer_id).await?;
            self.delete_lookup_rows(NAME_GRAMS, customer_id).await?;
            for table in ["customer_tags", "customer_field_values"] {
                let sql = format!("DELETE FROM {table} WHERE customer_id = $1");
                on_tx!(self, |c| sqlx::query(&sql)
                    .bind(customer_id)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
            }
        }
        let IndexLists {
            blind,
            tags,
            grams,
            fields,
        } = IndexLists::of(ix);
        self.insert_rows(
            "customer_blind_index (customer_id, kind, hash)",
            customer_id,
            &blind,
        )
        .await?;
        self.insert_rows("customer_tags (customer_id, tag)", customer_id, &tags)
            .await?;
        self.insert_rows(
            "customer_name_grams (customer_id, gram)",
            customer_id,
            &grams,
        )
        .await?;
        self.insert_rows(
            "customer_field_values (customer_id, key, value)",
            customer_id,
            &fields,
        )
        .await?;
        self.replace_match_keys(customer_id, &ix.match_keys, fresh)
            .await?;
        Ok(())
    }

    /// Write a new customer after its code was drawn — the row, the code's registry
    /// entry, the search and match indexes, the first history entry and the audit entry —
    /// and return its id. One query on either backend (a multi-statement script on
    /// SQLite, one statement of data-modifying CTEs on PostgreSQL), plus a read of the
    /// audit head when the transaction does not hold it yet. The caller's transaction (or
    /// savepoint) makes it all-or-nothing; a code or identifier already taken is
    /// `StoreError::Conflict`.
    pub async fn insert_new_customer(&mut self, w: NewCustomerWrite<'_>) -> StoreResult<i64> {
        let place = self.advance_audit_head(w.audit).await?;
        self.cache.free_codes.remove(&w.row.code);
        let lists = IndexLists::of(w.indexes);
        let mut match_keys = w.indexes.match_keys.clone();
        match_keys.sort_unstable();
        match_keys.dedup();
        let mut binds = NewCustomerBinds {
            row: w.row,
            created_month: w.created_month,
            code: w.code,
            history: w.history,
            audit: w.audit,
            place: &place,
            quality: w.quality,
            blind: String::new(),
            tags: json_list(&lists.tags),
            grams: String::new(),
            fields: json_list(&lists.fields),
            match_keys: String::new(),
        };
        let sql = new_customer_sql();
        let id = match &mut self.conn {
            TxConn::Pg(t) => {
                binds.blind = json_list(&lists.blind);
                binds.grams = json_list(&lists.grams);
                binds.match_keys = json_list(&match_keys);
                let q = bind_new_customer(sqlx::query(&sql.pg), &binds, None);
                q.fetch_one(&mut **t).await?.try_get::<i64, _>(0)?
            }
            TxConn::Sqlite(_) | TxConn::Lent => {
                // Nothing this script writes can conflict: the code was checked free in
                // this transaction, the id is the next one, and only this transaction
                // writes. So it is sent ahead, and the caller prepares the next customer
                // while SQLite writes this one.
                let id = self.next_customer_id().await?;
                self.send_behind(|prefix| {
                    bind_new_customer(sqlx::query(sql.sqlite(prefix)), &binds, Some(id))
                })
                .await?;
                self.cache.next_customer_id = Some(id + 1);
                self.bulk_writes().pending.queue(
                    id,
                    &match_keys,
                    &w.indexes.grams,
                    &w.indexes.blind,
                );
                id
            }
        };
        self.audit_head_written(place.seq, place.hash);
        if let Some(postings) = &mut self.cache.postings {
            let stamp =
                crate::duplicates::CustomerStamp::new(id, 1, w.row.created_at, &w.row.status);
            postings.created(stamp, &match_keys);
        }
        Ok(id)
    }

    /// SQLite: the id the next customer inserted gets, read once per transaction.
    async fn next_customer_id(&mut self) -> StoreResult<i64> {
        if let Some(id) = self.cache.next_customer_id {
            return Ok(id);
        }
        let id: i64 = on_tx!(self, |c| sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM customers"
        )
        .fetch_one(c)
        .await)?;
        self.cache.next_customer_id = Some(id);
        Ok(id)
    }

    /// `INSERT INTO target VALUES ($1, …), …` with the customer id first in every row.
    async fn insert_rows(
        &mut self,
        target: &str,
        customer_id: i64,
        rows: &[Vec<String>],
    ) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut sql = format!("{} {target} VALUES ", self.insert_lookup_rows());
        let mut n = 1;
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str("($1");
            for _ in row {
                n += 1;
                sql.push_str(&format!(", ${n}"));
            }
            sql.push(')');
        }
        on_tx!(self, |c| {
            let mut q = sqlx::query(&sql).bind(customer_id);
            for row in rows {
                for v in row {
                    q = q.bind(v.clone());
                }
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }
}
