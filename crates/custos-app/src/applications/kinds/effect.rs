//! What one kind of application does ([`Effect`]) and what it is handed: the payload at
//! submission, the approved application. The table of kinds and every kind speak through
//! these, so they sit below both.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use custos_store::{ApplicationRow, CustomerRow, Tx};

use crate::actor::{Actor, Scope};
use crate::error::AppResult;
use crate::App;

/// Work of a kind, run inside the caller's transaction.
pub(in crate::applications) type Pending<'a, T> =
    Pin<Box<dyn Future<Output = AppResult<T>> + Send + 'a>>;

/// What one kind of application does.
pub(in crate::applications) trait Effect: Sync {
    /// Validate a payload completely (effects are dry-run in a savepoint) and learn what
    /// the flow is chosen by.
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        tx: &'a mut Tx,
        s: Submission<'a>,
    ) -> Pending<'a, Prepared>;

    /// Apply what an approved application asks for; returns the result kept with it.
    fn apply<'a>(&'a self, app: &'a App, tx: &'a mut Tx, e: Approval<'a>) -> Pending<'a, Value>;

    /// The duplicate check shown to `actor` next to the request, if the kind has one.
    fn duplicates_for_reader<'a>(
        &'a self,
        _app: &'a App,
        _tx: &'a mut Tx,
        _actor: &'a Actor,
        _a: &'a ApplicationRow,
        _payload: &'a Value,
    ) -> Pending<'a, Option<Value>> {
        Box::pin(async { Ok(None) })
    }
}

/// A payload being submitted.
pub(in crate::applications) struct Submission<'a> {
    pub(in crate::applications) actor: &'a Actor,
    pub(in crate::applications) kind: &'a str,
    pub(in crate::applications) payload: &'a Value,
}

/// An application whose last step was approved.
pub(in crate::applications) struct Approval<'a> {
    pub(in crate::applications) a: &'a ApplicationRow,
    /// Who gave the last approval.
    pub(in crate::applications) by: &'a Actor,
    /// The applicant as an actor, for effects done on their behalf.
    pub(in crate::applications) applicant: &'a Actor,
    pub(in crate::applications) payload: &'a Value,
}

impl Approval<'_> {
    pub(super) fn kind(&self) -> &str {
        &self.a.kind
    }

    /// The reason recorded with the effect when the request gives none: the
    /// application's, else its number.
    pub(super) fn default_reason(&self, reason: &mut Option<String>) {
        if reason.is_none() {
            *reason = Some(
                self.a
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("申请单 #{}", self.a.id)),
            );
        }
    }
}

/// What submission learnt from the payload.
pub(in crate::applications) struct Prepared {
    pub(in crate::applications) payload: Value,
    pub(in crate::applications) target: Option<String>,
    pub(in crate::applications) customer_type: Option<String>,
    pub(in crate::applications) region_code: Option<String>,
    pub(in crate::applications) duplicates: Option<Value>,
}

impl Prepared {
    pub(super) fn new(payload: Value) -> Prepared {
        Prepared {
            payload,
            target: None,
            customer_type: None,
            region_code: None,
            duplicates: None,
        }
    }

    /// The application is about `row`: its code is the target, its type and region
    /// choose the flow.
    pub(super) fn about(&mut self, row: &CustomerRow) {
        self.target = Some(row.code.clone());
        self.customer_type = Some(row.customer_type.clone());
        self.region_code = row.region_code.clone();
    }
}

/// The applicant with the permissions an approved application confers for its effect:
/// the flow, not the applicant's roles, authorised it.
pub(super) fn effect_actor(applicant: &Actor, permissions: &[&str]) -> Actor {
    let mut a = applicant.clone();
    for p in permissions {
        a.permissions.insert((*p).to_string(), Scope::All);
    }
    a
}
