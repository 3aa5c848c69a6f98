//! Building the events the use cases emit into their transaction (see `custos_store`'s
//! event log): one helper per kind of subject, so every writer fills the same fields.

use custos_store::{now_us, CustomerRow, NewEvent, Tx};
use serde_json::Value;

use crate::actor::Actor;

/// `customer.created`, with the code it was given.
pub(crate) const CUSTOMER_CREATED: &str = "customer.created";
/// `customer.updated`: the names of the changed fields (never their values).
pub(crate) const CUSTOMER_UPDATED: &str = "customer.updated";
pub(crate) const CUSTOMER_MERGED: &str = "customer.merged";
pub(crate) const CUSTOMER_UNMERGED: &str = "customer.unmerged";
pub(crate) const CUSTOMER_SPLIT: &str = "customer.split";
pub(crate) const CUSTOMER_RETIRED: &str = "customer.retired";
pub(crate) const CUSTOMER_ARCHIVED: &str = "customer.archived";
pub(crate) const CUSTOMER_REACTIVATED: &str = "customer.reactivated";
pub(crate) const CUSTOMER_CODE_CHANGED: &str = "customer.code_changed";
pub(crate) const CODE_ISSUED: &str = "code.issued";
pub(crate) const APPLICATION_SUBMITTED: &str = "application.submitted";
pub(crate) const APPLICATION_DECIDED: &str = "application.decided";
pub(crate) const DUPLICATES_FOUND: &str = "duplicates.found";
/// `customer.stage_changed`: the life-cycle stage moved (from, to, rule, cause).
pub(crate) const CUSTOMER_STAGE_CHANGED: &str = "customer.stage_changed";

/// Every event type, for checking a feed's `types` filter.
pub const EVENT_TYPES: &[&str] = &[
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_SPLIT,
    CUSTOMER_RETIRED,
    CUSTOMER_ARCHIVED,
    CUSTOMER_REACTIVATED,
    CUSTOMER_CODE_CHANGED,
    CODE_ISSUED,
    APPLICATION_SUBMITTED,
    APPLICATION_DECIDED,
    DUPLICATES_FOUND,
    CUSTOMER_STAGE_CHANGED,
];

/// Emit an event about the customer `row` as it is after the change (its code,
/// department and owner go with the event).
pub(crate) fn emit_customer_event(
    tx: &mut Tx,
    actor: &Actor,
    row: &CustomerRow,
    kind: &str,
    payload: Value,
) {
    tx.emit(NewEvent {
        customer_code: Some(row.code.clone()),
        department_id: row.department_id,
        owner_id: row.owner_id,
        ..event(actor, kind, payload)
    });
}

/// Emit an event about the customer `row` that the system made (a rule applied by the
/// daily job or to a new record), not a person.
pub(crate) fn emit_system_customer_event(
    tx: &mut Tx,
    row: &CustomerRow,
    kind: &str,
    payload: Value,
) {
    tx.emit(NewEvent {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.to_string(),
        customer_code: Some(row.code.clone()),
        department_id: row.department_id,
        owner_id: row.owner_id,
        at: now_us(),
        actor_id: None,
        actor_name: "system".to_string(),
        payload: payload.to_string(),
    });
}

/// Emit an event about no customer (only callers who see everything read it).
pub(crate) fn emit_other_event(tx: &mut Tx, actor: &Actor, kind: &str, payload: Value) {
    tx.emit(event(actor, kind, payload));
}

fn event(actor: &Actor, kind: &str, payload: Value) -> NewEvent {
    NewEvent {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.to_string(),
        customer_code: None,
        department_id: None,
        owner_id: None,
        at: now_us(),
        actor_id: Some(actor.user_id),
        actor_name: actor.username.clone(),
        payload: payload.to_string(),
    }
}
