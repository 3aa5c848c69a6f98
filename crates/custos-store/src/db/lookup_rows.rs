//! A write transaction's lookup rows (match keys, name bigrams, blind index): writing the
//! queued ones, moving rows written aside into the main tables, deleting a customer's.

use super::bulk::BulkWrites;
use super::tx::Tx;
use crate::error::StoreResult;
use crate::lookups::LookupTable;
use crate::on_tx;

impl Tx {
    /// Write the queued lookup rows of new customers (match keys, name bigrams, blind
    /// index), each table's sorted by key. Every statement that reads or changes those
    /// tables in a write transaction calls this first; commit does too.
    pub(crate) async fn flush_lookups(&mut self) -> StoreResult<()> {
        if self.bulk.as_ref().is_none_or(|b| b.pending.is_written()) {
            return Ok(());
        }
        self.release_stale_savepoint().await?;
        let next = self.cache.next_customer_id;
        let Some(b) = &mut self.bulk else {
            return Ok(());
        };
        let aside = b.write_aside(next);
        for (sql, rows) in b.pending.take_unwritten(aside) {
            on_tx!(self, |c| sqlx::query(&sql)
                .bind(rows)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// At the commit of a transaction that wrote lookup rows aside: move those (and any
    /// left by earlier ones) into the main tables if they are now enough for it (see
    /// [`crate::lookups`]).
    pub(super) async fn move_aside_rows_if_due(&mut self) -> StoreResult<()> {
        if !self.bulk.as_ref().is_some_and(BulkWrites::wrote_aside) {
            return Ok(());
        }
        // The customers aside, estimated by the range of their ids (dense within a bulk
        // job; an overestimate only moves them sooner), and all customers.
        let sql = format!(
            "SELECT COALESCE(hi - lo + 1, 0), (SELECT COALESCE(MAX(id), 0) FROM customers) \
             FROM ({})",
            crate::lookups::ASIDE_ID_RANGE
        );
        let (aside, total): (i64, i64) = on_tx!(self, |c| sqlx::query_as(&sql).fetch_one(c).await)?;
        let batch = self.bulk.as_ref().map_or(0, |b| b.pending.customers()) as i64;
        if !crate::lookups::due_for_moving(aside, total, batch) {
            return Ok(());
        }
        // Not under the savepoint of the last import row: its journal would copy every
        // page the move changes.
        self.release_stale_savepoint().await?;
        let moves = crate::lookups::WRITTEN_ASIDE.map(|t| t.move_aside_rows());
        for sql in moves
            .iter()
            .flatten()
            .map(String::as_str)
            .chain([crate::lookups::FORGET_ASIDE_ROWS])
        {
            on_tx!(self, |c| sqlx::query(sql)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Delete a customer's rows from `table` (and from its companion, on SQLite).
    pub(crate) async fn delete_lookup_rows(
        &mut self,
        table: LookupTable,
        customer_id: i64,
    ) -> StoreResult<()> {
        let sql = table.delete_customer_rows(self.backend());
        for sql in sql {
            on_tx!(self, |c| sqlx::query(&sql)
                .bind(customer_id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }
}
