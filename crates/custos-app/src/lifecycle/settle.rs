//! Deciding one customer's stage inside the transaction of the event that may change it,
//! and the step both this and the daily job share: the next stage row and, when the stage
//! changes, its transition.

use crate::lifecycle::Lifecycle;
use chrono::{DateTime, NaiveDate};
use serde_json::json;

use custos_core::lifecycle::{evaluate, Facts, LifecycleRules};
use custos_store::{now_us, LifecycleRow, TransitionRow, Tx};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::codes::issue_date;
use crate::error::AppResult;

/// What triggered an evaluation: `record` (with its id), `merge`, `unmerge`, `split` or
/// `daily`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cause {
    pub kind: &'static str,
    pub activity_id: Option<i64>,
}

impl Cause {
    pub fn record(id: i64) -> Cause {
        Cause {
            kind: "record",
            activity_id: Some(id),
        }
    }

    pub fn of(kind: &'static str) -> Cause {
        Cause {
            kind,
            activity_id: None,
        }
    }
}

pub(crate) fn parse_day(s: Option<&str>) -> Option<NaiveDate> {
    s.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// The facts a stored row holds.
pub(crate) fn row_facts(r: &LifecycleRow) -> Facts {
    Facts {
        first_deal_on: parse_day(r.first_deal_on.as_deref()),
        last_activity_on: parse_day(r.last_activity_on.as_deref()),
        order_count: r.order_count,
    }
}

/// The stage row after evaluating `facts` on `on`, and the transition when the stage
/// changed (a customer without a row was a prospect).
pub(crate) fn next_row(
    prev: Option<&LifecycleRow>,
    customer_id: i64,
    facts: &Facts,
    first_order_on: Option<String>,
    rules: &LifecycleRules,
    on: NaiveDate,
    cause: Cause,
) -> (LifecycleRow, Option<TransitionRow>) {
    let rule = evaluate(facts, rules, on);
    let stage = rule.stage();
    let day = on.to_string();
    let from = prev.map_or("prospect", |p| p.stage.as_str());
    let changed = from != stage;
    let mut row = match prev {
        Some(p) if !changed => p.clone(),
        _ => LifecycleRow {
            customer_id,
            stage: stage.to_string(),
            since: day.clone(),
            rule: rule.as_str().to_string(),
            cause: cause.kind.to_string(),
            activity_id: cause.activity_id,
            ..Default::default()
        },
    };
    row.first_deal_on = facts.first_deal_on.map(|d| d.to_string());
    row.first_order_on = first_order_on;
    row.last_activity_on = facts.last_activity_on.map(|d| d.to_string());
    row.order_count = facts.order_count;
    row.updated_at = now_us();
    let transition = changed.then(|| TransitionRow {
        id: 0,
        customer_id,
        from_stage: Some(from.to_string()),
        to_stage: stage.to_string(),
        on_date: day,
        at: row.updated_at,
        rule: rule.as_str().to_string(),
        cause: cause.kind.to_string(),
        activity_id: cause.activity_id,
    });
    (row, transition)
}

/// Keep a stage change: its transition row and the `customer.stage_changed` event.
pub(crate) async fn keep_transition(tx: &mut Tx, t: &TransitionRow) -> AppResult<()> {
    tx.insert_lifecycle_transition(t).await?;
    if let Some(row) = tx.customer(t.customer_id).await? {
        crate::events::emit_system_customer_event(
            tx,
            &row,
            crate::events::CUSTOMER_STAGE_CHANGED,
            json!({
                "from": t.from_stage, "to": t.to_stage, "on": t.on_date,
                "rule": t.rule, "cause": t.cause,
            }),
        );
    }
    Ok(())
}

impl Lifecycle<'_> {
    /// The day in the business time zone of a time in microseconds.
    pub(crate) fn local_day(&self, us: i64) -> Option<NaiveDate> {
        DateTime::from_timestamp_micros(us)
            .map(|t| t.with_timezone(&self.app.config.code_timezone).date_naive())
    }

    /// Evaluate the stage of `customer_id` today from its records, inside `tx`; a change
    /// is kept as a transition and audited as `customer.lifecycle` by `actor`.
    pub(crate) async fn settle_lifecycle(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        customer_id: i64,
        cause: Cause,
    ) -> AppResult<()> {
        let on = issue_date(self.app.config.code_timezone);
        let Some(t) = self.settle_lifecycle_on(tx, customer_id, cause, on).await? else {
            return Ok(());
        };
        let code = tx.customer(customer_id).await?.map(|c| c.code);
        let mut r = record(
            actor,
            "customer.lifecycle",
            "customer",
            code.as_deref().unwrap_or_default(),
        );
        r.before = Some(json!({ "stage": t.from_stage }).to_string());
        r.after = Some(
            json!({
                "stage": t.to_stage, "on": t.on_date, "rule": t.rule,
                "cause": t.cause, "activity_id": t.activity_id,
            })
            .to_string(),
        );
        append(tx, r).await?;
        Ok(())
    }

    /// Evaluate the stage of `customer_id` on `on` from its records; returns the
    /// transition when the stage changed. A customer without records and without a row
    /// stays without one (a prospect).
    pub(crate) async fn settle_lifecycle_on(
        &self,
        tx: &mut Tx,
        customer_id: i64,
        cause: Cause,
        on: NaiveDate,
    ) -> AppResult<Option<TransitionRow>> {
        let counted = tx.record_facts(customer_id).await?;
        let prev = tx.lifecycle(customer_id).await?;
        if counted.last_activity_at.is_none() && counted.first_deal_at.is_none() {
            // No records (any more: merged away, or given to parts by a split): a
            // prospect without a row, like a customer that never had any.
            return match prev {
                None => Ok(None),
                Some(p) => {
                    tx.delete_lifecycle(customer_id).await?;
                    let (_, t) = next_row(
                        Some(&p),
                        customer_id,
                        &Facts::default(),
                        None,
                        &self.app.config.lifecycle.rules,
                        on,
                        cause,
                    );
                    if let Some(t) = &t {
                        keep_transition(tx, t).await?;
                    }
                    Ok(t)
                }
            };
        }
        let facts = Facts {
            first_deal_on: counted.first_deal_at.and_then(|t| self.local_day(t)),
            last_activity_on: counted.last_activity_at.and_then(|t| self.local_day(t)),
            order_count: counted.order_count,
        };
        let (row, transition) = next_row(
            prev.as_ref(),
            customer_id,
            &facts,
            counted.first_order_on,
            &self.app.config.lifecycle.rules,
            on,
            cause,
        );
        tx.put_lifecycle(&row).await?;
        if let Some(t) = &transition {
            keep_transition(tx, t).await?;
        }
        Ok(transition)
    }

    /// Evaluate every customer in `ids` (records moved between them), each once.
    pub(crate) async fn settle_lifecycles(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        ids: &[i64],
        cause: &'static str,
    ) -> AppResult<()> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.settle_lifecycle(tx, actor, id, Cause::of(cause))
                .await?;
        }
        Ok(())
    }
}
