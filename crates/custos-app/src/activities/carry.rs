//! Business records follow merges: a merge moves the merged customers' records to the
//! survivor; an unmerge moves every record on the survivor whose origin is no longer
//! merged into it back to the customer its origin now is (itself, or the survivor of a
//! later merge it is still part of). Order totals are counted again for every customer
//! whose records moved. A split moves nothing: the records stay on the customer that was
//! split.

use custos_store::Tx;

use super::kind;
use crate::error::AppResult;

/// Inside the merge's transaction: the records of `merged` now belong to `survivor`.
pub(crate) async fn carry_merged(tx: &mut Tx, survivor: i64, merged: &[i64]) -> AppResult<()> {
    let mut moved = false;
    for id in merged {
        if tx.move_activities(*id, survivor).await? > 0 {
            tx.recount_order_totals(*id, kind::ORDER).await?;
            moved = true;
        }
    }
    if moved {
        tx.recount_order_totals(survivor, kind::ORDER).await?;
    }
    Ok(())
}

/// Inside the unmerge's transaction (after every participant is restored): records on
/// `survivor` recorded on a customer that is no longer merged into it go back.
pub(crate) async fn carry_unmerged(tx: &mut Tx, survivor: i64) -> AppResult<()> {
    let mut changed = Vec::new();
    for origin in tx.activity_origins(survivor).await? {
        if origin == survivor {
            continue;
        }
        let home = home_of(tx, origin).await?;
        if home != survivor && tx.return_activities(origin, survivor, home).await? > 0 {
            changed.push(home);
        }
    }
    if !changed.is_empty() {
        changed.push(survivor);
        changed.sort_unstable();
        changed.dedup();
        for id in changed {
            tx.recount_order_totals(id, kind::ORDER).await?;
        }
    }
    Ok(())
}

/// The customer a record of `origin` belongs with: `origin`, or the end of its chain of
/// merges (bounded, in case of a cycle in damaged data).
async fn home_of(tx: &mut Tx, origin: i64) -> AppResult<i64> {
    let mut at = origin;
    for _ in 0..64 {
        match tx.merged_into(at).await? {
            Some(next) if next != at => at = next,
            _ => break,
        }
    }
    Ok(at)
}
