//! One upsert by source key: the customer found by its cross-reference is updated; an
//! unknown source id is created, linked or queued as the system's policy says.

use crate::sources::Sources;
use custos_store::customer_master::XrefRow;
use custos_store::{now_us, CustomerRow, StoreError, Tx};

use super::{OnDefinite, OnPossible, UpsertOutcome, UpsertResult};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::customers::report::DuplicateReport;
use crate::customers::{in_scope, CustomerPatch, Lookups, NewCustomer};
use crate::error::{AppError, AppResult};
use crate::to_json;
use crate::xref::{check_source_id, check_system, xref_taken};

/// How often an upsert starts again after a concurrent one took its source id first.
const ATTEMPTS: usize = 5;

impl Sources<'_> {
    /// `PUT /sources/{system}/customers/{source_id}` (`xref.manage`, plus
    /// `customer.update` or `customer.create` for what it does): see the module docs.
    pub async fn upsert_from_source(
        &self,
        actor: &Actor,
        system: &str,
        source_id: &str,
        input: impl Into<crate::input::Input<NewCustomer>>,
    ) -> AppResult<UpsertResult> {
        actor.require("xref.manage")?;
        let input = input.into().get()?;
        let system = check_system(system)?;
        let source_id = check_source_id(source_id)?;
        let mut attempt = 1;
        loop {
            let mut tx = self.app.db.begin().await?;
            match self
                .upsert_in(&mut tx, actor, &system, &source_id, input.clone())
                .await
            {
                Ok(result) => {
                    tx.commit().await?;
                    return Ok(result);
                }
                // A concurrent upsert of the same source id came first: this one rolls
                // back (its code draw with it) and the next attempt finds what the
                // other wrote.
                Err(e) if attempt < ATTEMPTS && is_source_race(&e) => {
                    tx.rollback().await?;
                    // Apart a little, so the attempts do not meet again.
                    let pause = rand::random::<u64>() % (20 * attempt as u64) + 1;
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) async fn upsert_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        system: &str,
        source_id: &str,
        input: NewCustomer,
    ) -> AppResult<UpsertResult> {
        tx.lock_source_key(system, source_id).await?;
        if let Some(x) = tx.xref_by_source(system, source_id).await? {
            return self
                .update_from_source(tx, actor, system, source_id, x.customer_id, input)
                .await;
        }
        if let Some(q) = tx.source_queue_by_source(system, source_id).await? {
            if let Some(answer) = self.queued_answer(tx, actor, &q, &input).await? {
                return Ok(answer);
            }
        }
        self.place_new(tx, actor, system, source_id, input).await
    }

    /// The linked customer (its survivor, if it was merged) changed by the values sent;
    /// fields the system left out or empty stay as they are.
    async fn update_from_source(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        system: &str,
        source_id: &str,
        customer_id: i64,
        input: NewCustomer,
    ) -> AppResult<UpsertResult> {
        let missing = || AppError::not_found("xref", format!("{system}/{source_id}"));
        let home = crate::hierarchy::home_of(tx, customer_id).await?;
        let row = tx.customer(home).await?.ok_or_else(missing)?;
        let scope = actor.require("customer.update")?;
        // A source id linked to a customer outside the caller's scope answers as if it
        // were unknown to it, but is never created again.
        if !in_scope(tx, actor, scope, &row).await? {
            return Err(missing());
        }
        let patch = CustomerPatch::from_new(input, row.row_version);
        let after = self
            .app
            .customers()
            .update_customer_scoped_in(tx, actor, scope, &row.code, &patch, "update")
            .await?;
        let outcome = if after.row_version == row.row_version {
            UpsertOutcome::Unchanged
        } else {
            UpsertOutcome::Updated
        };
        Ok(UpsertResult::new(outcome, system, source_id).with_customer(&after))
    }

    /// An unknown source id: the duplicate check and the system's policy decide.
    async fn place_new(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        system: &str,
        source_id: &str,
        input: NewCustomer,
    ) -> AppResult<UpsertResult> {
        let scope = actor.require("customer.create")?;
        let policy = self.app.config.sources.policy(system);
        // An explicit override (`duplicate.manage` with a reason, checked by the
        // creation) is the caller's own decision.
        if !input.override_duplicates {
            let report = self
                .app
                .customers()
                .find_duplicates_for_input(tx, actor, &input, &[])
                .await?;
            let queue = match report.verdict.as_str() {
                "definite" => {
                    if policy.definite == OnDefinite::Link {
                        if let Some(target) = self.link_target(tx, actor, system, &report).await? {
                            return self
                                .link_source(tx, actor, system, source_id, &target)
                                .await;
                        }
                    }
                    true
                }
                "possible" => policy.possible == OnPossible::Queue,
                _ => false,
            };
            if queue {
                return self
                    .queue_source(tx, actor, system, source_id, input, &report)
                    .await;
            }
        }
        let (row, _, report) = self
            .app
            .customers()
            .insert_new_customer_excluding(
                tx,
                &mut Lookups::default(),
                actor,
                scope,
                input,
                None,
                &[],
            )
            .await?;
        self.put_source_xref(tx, actor, &row, system, source_id)
            .await?;
        let mut result =
            UpsertResult::new(UpsertOutcome::Created, system, source_id).with_customer(&row);
        result.possible_duplicates = report.candidates;
        Ok(result)
    }

    /// The one definite match a source id may be linked to without a person: inside the
    /// caller's `xref.manage` scope, not yet linked to another id of this system, and no
    /// definite match outside the scope beside it.
    async fn link_target(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        system: &str,
        report: &DuplicateReport,
    ) -> AppResult<Option<CustomerRow>> {
        let definite: Vec<_> = report
            .candidates
            .iter()
            .filter(|c| c.verdict == "definite")
            .collect();
        let [only] = definite.as_slice() else {
            return Ok(None);
        };
        if report.outside_scope_match {
            return Ok(None);
        }
        let Ok(scope) = actor.require("xref.manage") else {
            return Ok(None);
        };
        let Some(row) = tx.customer_by_code(&only.code).await? else {
            return Ok(None);
        };
        if !in_scope(tx, actor, scope, &row).await? {
            return Ok(None);
        }
        if tx
            .xrefs_of(row.id)
            .await?
            .iter()
            .any(|x| x.system == system)
        {
            return Ok(None);
        }
        Ok(Some(row))
    }

    async fn link_source(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        system: &str,
        source_id: &str,
        row: &CustomerRow,
    ) -> AppResult<UpsertResult> {
        self.put_source_xref(tx, actor, row, system, source_id)
            .await?;
        Ok(UpsertResult::new(UpsertOutcome::Linked, system, source_id).with_customer(row))
    }

    /// Link `row` to a (checked) source id, audited as `customer.xref_put`; a source id
    /// taken meanwhile is a conflict (`xref.taken`).
    pub(crate) async fn put_source_xref(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
        system: &str,
        source_id: &str,
    ) -> AppResult<()> {
        if tx.xref_by_source(system, source_id).await?.is_some() {
            return Err(xref_taken(system, source_id));
        }
        let x = XrefRow {
            customer_id: row.id,
            system: system.to_string(),
            source_id: source_id.to_string(),
            created_at: now_us(),
            created_by: Some(actor.user_id),
        };
        match tx.put_xref(&x).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => return Err(xref_taken(system, source_id)),
            Err(e) => return Err(e.into()),
        }
        let mut r = record(actor, "customer.xref_put", "customer", &row.code);
        r.after = to_json(&serde_json::json!({"system": system, "source_id": source_id}));
        append(tx, r).await?;
        Ok(())
    }
}

/// A conflict a concurrent upsert of the same source id causes: its link or queue entry
/// came first, it changed the customer first, or it created the customer between this
/// upsert's duplicate check and its creation (on PostgreSQL the creation's own check
/// sees the other's commit). Another attempt decides on what is there now.
fn is_source_race(e: &AppError) -> bool {
    matches!(e, AppError::Duplicate { .. })
        || matches!(e, AppError::Conflict(v) if [
            "xref.taken",
            "source.queued",
            "customer.version_stale",
            "conflict.concurrent",
        ].contains(&v.code.as_str()))
}
