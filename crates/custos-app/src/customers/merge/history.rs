//! Reading merges and lineage: the merges a customer took part in, and the merge and
//! split edges touching it.

use crate::actor::Actor;
use crate::auth::format_time;
use crate::customers::scoped_customer;
use crate::customers::Customers;
use crate::error::AppResult;

use super::{LineageEdge, MergeInfo};

impl Customers<'_> {
    /// Merges a customer took part in, newest first.
    pub async fn merges_of(&self, actor: &Actor, code: &str) -> AppResult<Vec<MergeInfo>> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        let mut out = Vec::new();
        for m in tx.merges_of(row.id).await? {
            let ids: Vec<i64> = serde_json::from_str(&m.merged_ids).unwrap_or_default();
            let mut all = ids.clone();
            all.push(m.survivor_id);
            let rows = tx.customers_by_ids(&all).await?;
            let code_of = |id: i64| {
                rows.iter()
                    .find(|r| r.id == id)
                    .map(|r| r.code.clone())
                    .unwrap_or_default()
            };
            out.push(MergeInfo {
                merge_id: m.id,
                survivor: code_of(m.survivor_id),
                merged: ids.iter().map(|&i| code_of(i)).collect(),
                at: format_time(m.at),
                actor_id: m.actor_id,
                reason: m.reason,
                undone_at: m.undone_at.map(format_time),
            });
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Lineage edges (merges and splits) touching a customer.
    pub async fn lineage(&self, actor: &Actor, code: &str) -> AppResult<Vec<LineageEdge>> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        let edges = tx.lineage_of(row.id).await?;
        let mut ids: Vec<i64> = edges
            .iter()
            .flat_map(|e| [e.parent_id, e.child_id])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let rows = tx.customers_by_ids(&ids).await?;
        tx.rollback().await?;
        let code_of = |id: i64| {
            rows.iter()
                .find(|r| r.id == id)
                .map(|r| r.code.clone())
                .unwrap_or_default()
        };
        Ok(edges
            .into_iter()
            .map(|e| LineageEdge {
                kind: e.kind,
                from: code_of(e.parent_id),
                to: code_of(e.child_id),
                op_id: e.op_id,
                at: format_time(e.at),
            })
            .collect())
    }
}
