//! Rows a creation reads but no creation writes — customer types and custom fields (the
//! validation reference), published code rules, users and departments — read at most
//! once per transaction.
//!
//! A batch of creations (group commit, an import chunk, demo data) used to read each of
//! them again for every customer: four to five extra statements per row. What is kept
//! here is what the transaction would have read anyway, so on PostgreSQL it is the same
//! as reading it at the first use (READ COMMITTED), and on SQLite the writer sees nothing
//! new until it commits. A `Lookups` must not outlive the transaction it was filled in,
//! and must not serve a transaction that changes these rows (publishing a rule, adding a
//! field): such writes never run next to creations in one transaction.
//!
//! Whether the transaction already holds the audit head is the transaction's own business
//! (`Tx` keeps the head once read; taking it again costs nothing).

use std::collections::HashMap;
use std::sync::Arc;

use custos_store::{StoreResult, Tx, UserRow};

use super::duplicates;
use super::reference::Reference;
use crate::codes::PublishedRule;
use crate::error::AppResult;
use crate::App;

/// Creations from which a transaction counts as bulk (`Tx::set_bulk`): at a large
/// database each creation changes a few dozen pages.
const BULK_CREATIONS: usize = 100;

#[derive(Default)]
pub(crate) struct Lookups {
    reference: Option<Arc<Reference>>,
    rules: Option<Arc<Vec<PublishedRule>>>,
    users: HashMap<i64, Option<UserRow>>,
    departments: HashMap<i64, bool>,
    /// Codes drawn in this transaction per (rule key, sequence scope): how far ahead to
    /// look in the registry for that scope.
    pub(crate) codes_drawn: HashMap<(String, String), usize>,
    /// Code issuing was found not on hold in this transaction (see `restore_guard`).
    pub(crate) issuing_checked: bool,
}

impl Lookups {
    /// Start a batch of `count` creations in `tx` and return empty lookups. Locks the
    /// audit head for the rest of `tx` — call it before any savepoint, so the lock
    /// outlives a savepoint that is rolled back (PostgreSQL) — marks a large batch bulk
    /// (`Tx::set_bulk`), and reads ahead the duplicate candidates of the match keys the
    /// creations are known to look up (`match_keys`, one list per creation that has them);
    /// with `prepare_ahead`, also prepares those candidates not prepared yet
    /// (`Customers::prepare_candidates_ahead`: for large batches, whose checks reach far back).
    pub(crate) async fn for_creations<'k>(
        tx: &mut Tx,
        count: usize,
        match_keys: impl IntoIterator<Item = &'k [i64]>,
        prepare_ahead: Option<&App>,
    ) -> StoreResult<Lookups> {
        tx.lock_audit_head().await?;
        if count >= BULK_CREATIONS {
            tx.set_bulk();
        }
        // A batch of one gains nothing from reading ahead.
        if count > 1 {
            let lists: Vec<&[i64]> = match_keys.into_iter().collect();
            let hashes: Vec<i64> = lists.iter().flat_map(|k| k.iter()).copied().collect();
            duplicates::prefetch_candidates(tx, &hashes).await?;
            if let Some(app) = prepare_ahead {
                app.customers().prepare_candidates_ahead(tx, &lists).await?;
            }
        }
        Ok(Lookups::default())
    }

    /// Customer types and custom field definitions.
    pub(crate) async fn reference(&mut self, app: &App, tx: &mut Tx) -> AppResult<Arc<Reference>> {
        if let Some(r) = &self.reference {
            return Ok(r.clone());
        }
        let r = app
            .reference_seen
            .settle(app.customers().reference(tx).await?);
        self.reference = Some(r.clone());
        Ok(r)
    }

    /// Every published code rule, its conditions and segments parsed.
    pub(crate) async fn published_rules(
        &mut self,
        tx: &mut Tx,
    ) -> AppResult<Arc<Vec<PublishedRule>>> {
        if let Some(r) = &self.rules {
            return Ok(r.clone());
        }
        let r: Arc<Vec<PublishedRule>> = Arc::new(
            tx.published_code_rules()
                .await?
                .into_iter()
                .map(PublishedRule::new)
                .collect(),
        );
        self.rules = Some(r.clone());
        Ok(r)
    }

    pub(crate) async fn user(&mut self, tx: &mut Tx, id: i64) -> AppResult<Option<UserRow>> {
        if let Some(u) = self.users.get(&id) {
            return Ok(u.clone());
        }
        let u = tx.user(id).await?;
        self.users.insert(id, u.clone());
        Ok(u)
    }

    pub(crate) async fn department_exists(&mut self, tx: &mut Tx, id: i64) -> AppResult<bool> {
        if let Some(d) = self.departments.get(&id) {
            return Ok(*d);
        }
        let d = tx.department(id).await?.is_some();
        self.departments.insert(id, d);
        Ok(d)
    }
}
