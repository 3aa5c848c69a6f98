//! The full recompute (`custos quality recompute`, `POST /quality/recompute`): every
//! assessed customer rescored in chunks of ids, one transaction each, so memory stays
//! bounded and an interrupted run resumes from the last id it reports.

use crate::quality::Quality;
use std::collections::HashSet;

use custos_store::Tx;
use serde::Serialize;

use super::keep::quality_row;
use super::rules::{assess, Context};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::codes::issue_date;
use crate::customers::{quality_facts, record_of, CustomerStatus, EDITABLE_STATUSES};
use crate::error::AppResult;
use crate::to_json;

/// Customers per transaction of a recompute.
const CHUNK: i64 = 5000;

/// What a recompute did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RecomputeReport {
    /// Customers scored.
    pub scored: u64,
    /// The last customer id done (resume after it).
    pub last_id: i64,
    /// False when the run stopped at its bound before the last customer: call again
    /// with `after` = `last_id`.
    pub done: bool,
    pub millis: u64,
}

impl Quality<'_> {
    /// Rescore every assessed customer with id above `after` (0: all) and drop the scores
    /// of customers no longer assessed (`quality.manage`). `progress` gets the customers
    /// scored so far and the last id after each chunk.
    pub async fn recompute_quality(
        &self,
        actor: &Actor,
        after: i64,
        progress: impl FnMut(u64, i64),
    ) -> AppResult<RecomputeReport> {
        self.recompute_quality_bounded(actor, after, u32::MAX, progress)
            .await
    }

    /// [`Quality::recompute_quality`] stopping after `max_chunks` chunks of 5,000 customers
    /// (a request's bounded share of the work).
    pub async fn recompute_quality_bounded(
        &self,
        actor: &Actor,
        after: i64,
        max_chunks: u32,
        mut progress: impl FnMut(u64, i64),
    ) -> AppResult<RecomputeReport> {
        actor.require("quality.manage")?;
        let started = std::time::Instant::now();
        let mut report = RecomputeReport {
            last_id: after,
            ..Default::default()
        };
        if after < 0 {
            return Err(crate::paging::invalid(
                "after",
                &after.to_string(),
                "应为 0 或正整数",
                "must be 0 or a positive integer",
            ));
        }
        for _ in 0..max_chunks {
            let mut tx = self.app.db.begin().await?;
            let (n, last, done) = self.recompute_chunk(&mut tx, report.last_id).await?;
            tx.commit().await?;
            report.scored += n;
            report.last_id = last;
            report.done = done;
            progress(report.scored, last);
            if done {
                break;
            }
        }
        report.millis = started.elapsed().as_millis() as u64;
        let mut tx = self.app.db.begin().await?;
        let mut r = record(actor, "quality.recompute", "quality", "all");
        r.after = to_json(&serde_json::json!({
            "from_id": after, "scored": report.scored, "last_id": report.last_id,
            "done": report.done, "millis": report.millis,
        }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Score the next chunk of customers after `after`: how many were scored, the last id
    /// covered, and whether that was the end.
    async fn recompute_chunk(&self, tx: &mut Tx, after: i64) -> AppResult<(u64, i64, bool)> {
        let rows = tx
            .customers_after(after, &CustomerStatus::keys(EDITABLE_STATUSES), CHUNK)
            .await?;
        let done = (rows.len() as i64) < CHUNK;
        let upto = match rows.last() {
            Some(r) if !done => r.id,
            _ => i64::MAX,
        };
        let grouped: HashSet<i64> = tx
            .in_open_duplicate_groups_between(after, upto)
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
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let rec = record_of(row, &key)?;
            let facts = quality_facts(&rec, row.updated_at, grouped.contains(&row.id));
            out.push(quality_row(
                row.id,
                row.row_version,
                &assess(&facts, &ctx),
                now,
            ));
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        tx.delete_quality_between(after, upto, &ids).await?;
        tx.put_quality(&out).await?;
        let last = if done {
            rows.last().map(|r| r.id).unwrap_or(after)
        } else {
            upto
        };
        Ok((out.len() as u64, last, done))
    }
}
