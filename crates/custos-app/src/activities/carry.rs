//! Business records follow merges: a merge moves the merged customers' records to the
//! survivor; an unmerge moves every record on the survivor whose origin is no longer
//! merged into it back to the customer its origin now is (itself, or the survivor of a
//! later merge it is still part of). Order totals are counted again for every customer
//! whose records moved. A split leaves the records on the customer that was split,
//! except those the split request gives to a new part by id: they move to it and count
//! as recorded there.

use custos_core::{FieldError, Violation};
use custos_store::Tx;

use super::kind;
use crate::error::AppResult;

/// Most records one part of a split may take.
const MAX_SPLIT_RECORDS: usize = 1000;

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

/// Each record a split gives to a part (`parts[i]`) must be the original's and go to one
/// part only; failures are added to `errors`.
pub(crate) async fn check_split_records(
    tx: &mut Tx,
    original: i64,
    parts: &[Vec<i64>],
    errors: &mut Vec<FieldError>,
) -> AppResult<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, ids) in parts.iter().enumerate() {
        let field = format!("parts[{i}].activities");
        if ids.len() > MAX_SPLIT_RECORDS {
            errors.push(
                Violation::new(
                    "list.too_long",
                    format!("每个新客户最多转移 {MAX_SPLIT_RECORDS} 条业务记录"),
                    format!("at most {MAX_SPLIT_RECORDS} records move to one part"),
                )
                .on(&field),
            );
            continue;
        }
        for id in ids {
            let mine = tx.activity_position(original, *id).await?.is_some();
            if !mine {
                errors.push(
                    Violation::new(
                        "split.activity_unknown",
                        format!("业务记录 {id} 不属于被拆分的客户"),
                        format!("record {id} does not belong to the customer being split"),
                    )
                    .on(&field),
                );
            } else if !seen.insert(*id) {
                errors.push(
                    Violation::new(
                        "split.activity_twice",
                        format!("业务记录 {id} 被分配给了多个新客户"),
                        format!("record {id} is given to more than one part"),
                    )
                    .on(&field),
                );
            }
        }
    }
    Ok(())
}

/// Inside the split's transaction: the records named for each part move to it.
pub(crate) async fn carry_split(
    tx: &mut Tx,
    original: i64,
    parts: &[i64],
    records: &[Vec<i64>],
) -> AppResult<()> {
    let mut moved = false;
    for (part, ids) in parts.iter().zip(records) {
        for id in ids {
            tx.give_activity(*id, original, *part).await?;
        }
        if !ids.is_empty() {
            tx.recount_order_totals(*part, kind::ORDER).await?;
            moved = true;
        }
    }
    if moved {
        tx.recount_order_totals(original, kind::ORDER).await?;
    }
    Ok(())
}
