//! Keeping scores current: every writer of a customer (creation, change, application
//! effects, merge, unmerge, split, code change, retire, archive) and every opening or
//! closing of a duplicate group rescores the customers it touched in its own
//! transaction, so a committed write never leaves a stale score behind (timeliness, which
//! moves with the clock alone, is caught up by the daily snapshot).

use crate::quality::Quality;
use std::collections::HashSet;

use custos_store::{CustomerRow, QualityRow, Tx};

use super::rules::{assess, Assessment, Context};
use crate::codes::issue_date;
use crate::customers::{quality_facts, record_of, CustomerStatus, Record};
use crate::error::AppResult;

/// Custom fields required per type, as the catalog says: (key, labels, types).
pub(crate) type RequiredCustom = Vec<(String, String, String, Vec<String>)>;

/// The row of `customer_id`'s assessment `a`, computed at `now` from its `version`.
pub(crate) fn quality_row(customer_id: i64, version: i64, a: &Assessment, now: i64) -> QualityRow {
    let [completeness, validity, consistency, timeliness, uniqueness] = a.dimensions;
    QualityRow {
        customer_id,
        score: a.score,
        completeness,
        validity,
        consistency,
        timeliness,
        uniqueness,
        failing: serde_json::to_string(&a.failing).unwrap_or_else(|_| "[]".into()),
        computed_at: now,
        customer_version: version,
    }
}

/// Is a customer in this status assessed? Merged, retired and archived ones are not:
/// nobody is to mend them.
pub(crate) fn assessed(status: &str) -> bool {
    CustomerStatus::editable(status)
}

impl Quality<'_> {
    /// The custom fields the catalog requires, as the last write transaction read them
    /// (every writer validated against them just before), else read in `tx`.
    pub(crate) async fn required_custom(&self, tx: &mut Tx) -> AppResult<RequiredCustom> {
        if let Some(r) = self.app.reference_seen.latest() {
            return Ok(r.required_custom());
        }
        let r = self
            .app
            .reference_seen
            .settle(self.app.customers().reference(tx).await?);
        Ok(r.required_custom())
    }

    /// The quality row of a customer being created from `rec` at `now` (in no duplicate
    /// group yet); written with the customer by the store. The reference data was read
    /// by the creation's validation, so nothing is read here.
    pub(crate) fn quality_of_new(&self, rec: &Record, now: i64) -> QualityRow {
        let required = self
            .app
            .reference_seen
            .latest()
            .map(|r| r.required_custom())
            .unwrap_or_default();
        let ctx = Context {
            config: &self.app.config.quality,
            required_custom: &required,
            today: issue_date(self.app.config.code_timezone),
            now,
        };
        quality_row(0, 1, &assess(&quality_facts(rec, now, false), &ctx), now)
    }

    /// Rescore these customers as stored now (rows as the caller just wrote them): those
    /// in an assessed status get their score written, the others lose theirs.
    pub(crate) async fn refresh_quality(&self, tx: &mut Tx, rows: &[CustomerRow]) -> AppResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (live, gone): (Vec<&CustomerRow>, Vec<&CustomerRow>) =
            rows.iter().partition(|r| assessed(&r.status));
        if !gone.is_empty() {
            tx.delete_quality(&gone.iter().map(|r| r.id).collect::<Vec<_>>())
                .await?;
        }
        if live.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = live.iter().map(|r| r.id).collect();
        let grouped: HashSet<i64> = tx
            .in_open_duplicate_groups(&ids)
            .await?
            .into_iter()
            .collect();
        let required = self.required_custom(tx).await?;
        let now = custos_store::now_us();
        let key = self.app.config.pii_key.pinned();
        let ctx = Context {
            config: &self.app.config.quality,
            required_custom: &required,
            today: issue_date(self.app.config.code_timezone),
            now,
        };
        let mut out = Vec::with_capacity(live.len());
        for row in live {
            let rec = record_of(row, &key)?;
            let facts = quality_facts(&rec, row.updated_at, grouped.contains(&row.id));
            out.push(quality_row(
                row.id,
                row.row_version,
                &assess(&facts, &ctx),
                now,
            ));
        }
        tx.put_quality(&out).await?;
        Ok(())
    }

    /// [`Quality::refresh_quality`] of customers known by id (duplicate groups opened or
    /// closed, merges).
    pub(crate) async fn refresh_quality_of(&self, tx: &mut Tx, ids: &[i64]) -> AppResult<()> {
        for chunk in ids.chunks(500) {
            let rows = tx.customers_by_ids(chunk).await?;
            self.refresh_quality(tx, &rows).await?;
        }
        Ok(())
    }
}
