//! The kinds of application, each with its own rules in its own module: how its payload
//! is checked at submission ([`Effect::prepare`]) and what its approval changes
//! ([`Effect::apply`]). The generic paths — submission, approval, reading — look a kind
//! up in one table ([`KINDS`]) and call it; adding a kind is a module plus one line there
//! (and its variant of [`Kind`]).

use crate::applications::Applications;
use serde_json::Value;

use custos_core::Violation;
use custos_store::{ApplicationRow, CustomerRow, Tx};

use super::checks::version_stale;
use crate::actor::Actor;
use crate::auth::load_actor;
use crate::error::{AppError, AppResult};
use crate::flows::unknown_kind;
use crate::App;

/// `impl Effect for $kind` by the two functions of its module that hold the kind's rules,
/// `async fn prepare(&App, &mut Tx, Submission) -> AppResult<Prepared>` and
/// `async fn apply(&App, &mut Tx, Approval) -> AppResult<Value>`. A kind with more to say
/// (a duplicate check shown to readers) or whose rules are data writes its own impl.
macro_rules! effect_by_fns {
    ($kind:ident) => {
        impl super::Effect for $kind {
            fn prepare<'a>(
                &'a self,
                app: &'a $crate::App,
                tx: &'a mut custos_store::Tx,
                s: super::Submission<'a>,
            ) -> super::Pending<'a, super::Prepared> {
                Box::pin(prepare(app, tx, s))
            }

            fn apply<'a>(
                &'a self,
                app: &'a $crate::App,
                tx: &'a mut custos_store::Tx,
                e: super::Approval<'a>,
            ) -> super::Pending<'a, serde_json::Value> {
                Box::pin(apply(app, tx, e))
            }
        }
    };
}

mod change;
mod change_code;
mod create;
mod effect;
mod grant;
mod merge;
mod publish_rule;
pub(super) mod retrieve;
mod split;
mod status;

use effect::effect_actor;
pub(super) use effect::{Approval, Effect, Pending, Prepared, Submission};

/// The kinds of application, one effect each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Change,
    ChangeCode,
    Retire,
    Reactivate,
    Merge,
    Split,
    Archive,
    Retrieve,
    GrantPermission,
    PublishRule,
}

/// Every kind: its variant, its name in requests and storage, and its rules.
const KINDS: &[(Kind, &str, &dyn Effect)] = &[
    (Kind::Create, "create", &create::Create),
    (Kind::Change, "change", &change::Change),
    (Kind::ChangeCode, "change_code", &change_code::ChangeCode),
    (Kind::Retire, "retire", &status::RETIRE),
    (Kind::Reactivate, "reactivate", &status::REACTIVATE),
    (Kind::Merge, "merge", &merge::Merge),
    (Kind::Split, "split", &split::Split),
    (Kind::Archive, "archive", &status::ARCHIVE),
    (Kind::Retrieve, "retrieve", &retrieve::Retrieve),
    (
        Kind::GrantPermission,
        "grant_permission",
        &grant::GrantPermission,
    ),
    (
        Kind::PublishRule,
        "publish_rule",
        &publish_rule::PublishRule,
    ),
];

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find(|(_, name, _)| *name == s)
            .map(|(k, _, _)| *k)
    }
}

/// The names of every kind, in the order of [`KINDS`].
pub fn kind_names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(_, name, _)| *name)
}

/// The kinds of application about one existing customer that its status allows, in the
/// order of [`KINDS`] (what a customer's page offers to start).
pub fn kinds_for_customer(status: &str) -> Vec<&'static str> {
    use crate::customers::CustomerStatus;
    let Some(status) = CustomerStatus::of(status) else {
        return Vec::new();
    };
    let editable = status.is_editable();
    let mut out = Vec::new();
    for (kind, name, _) in KINDS {
        let applies = match kind {
            Kind::Change | Kind::ChangeCode => editable,
            Kind::Retire => status::RETIRE.starts_from(status),
            Kind::Archive => status::ARCHIVE.starts_from(status),
            Kind::Reactivate => status::REACTIVATE.starts_from(status),
            Kind::Retrieve => status == CustomerStatus::Archived,
            Kind::Create
            | Kind::Merge
            | Kind::Split
            | Kind::GrantPermission
            | Kind::PublishRule => false,
        };
        if applies {
            out.push(*name);
        }
    }
    out
}

/// The rules of the kind named `name`, if it is one.
fn effect_named(name: &str) -> Option<&'static dyn Effect> {
    KINDS
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(_, _, e)| *e)
}

impl Applications<'_> {
    /// Validate a payload completely; effects are dry-run in a savepoint.
    pub(super) async fn prepare(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        kind: &str,
        payload: &Value,
    ) -> AppResult<Prepared> {
        let Some(effect) = effect_named(kind) else {
            return Err(AppError::Validation(vec![unknown_kind("kind", kind)]));
        };
        let s = Submission {
            actor,
            kind,
            payload,
        };
        effect.prepare(self.app, tx, s).await
    }

    /// Apply what an approved application asks for, inside the approval's transaction.
    pub(super) async fn apply_effect(
        &self,
        tx: &mut Tx,
        a: &ApplicationRow,
        by: &Actor,
    ) -> AppResult<Value> {
        let payload = self.open_payload(a)?;
        let kind = a.kind.as_str();
        let effect =
            effect_named(kind).ok_or_else(|| AppError::Internal(format!("stored kind {kind}")))?;
        let applicant = self.applicant(tx, a, by).await?;
        let e = Approval {
            a,
            by,
            applicant: &applicant,
            payload: &payload,
        };
        effect.apply(self.app, tx, e).await
    }

    /// The duplicate check of an application as `actor` may see it (none for kinds
    /// without one).
    pub(super) async fn duplicates_for_reader(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        a: &ApplicationRow,
        payload: &Value,
    ) -> AppResult<Option<Value>> {
        match effect_named(&a.kind) {
            Some(effect) => {
                effect
                    .duplicates_for_reader(self.app, tx, actor, a, payload)
                    .await
            }
            None => Ok(None),
        }
    }

    /// The applicant as an actor, for effects done on their behalf.
    async fn applicant(&self, tx: &mut Tx, a: &ApplicationRow, by: &Actor) -> AppResult<Actor> {
        let user = tx
            .user(a.applicant_id)
            .await?
            .ok_or_else(|| AppError::not_found("user", a.applicant_id))?;
        load_actor(tx, user, by.ctx.clone()).await
    }

    /// A customer the applicant refers to, which must be inside their read scope.
    async fn customer_for(&self, tx: &mut Tx, actor: &Actor, code: &str) -> AppResult<CustomerRow> {
        let code = code.trim().to_ascii_uppercase();
        let scope = actor.permissions.get("customer.read").copied();
        let row = tx.customer_by_code(&code).await?;
        match (row, scope) {
            (Some(row), Some(scope))
                if crate::customers::in_scope(tx, actor, scope, &row).await? =>
            {
                Ok(row)
            }
            _ => Err(AppError::Validation(vec![Violation::new(
                "customer.unknown",
                format!("客户“{code}”不存在或不在您的数据范围内"),
                format!("customer '{code}' does not exist or is outside your data scope"),
            )
            .on("payload.code")])),
        }
    }
}

impl App {
    /// Run `f` in a savepoint and undo it whatever happens: a complete validation of an
    /// effect without applying it.
    async fn dry_run<'a, F>(&'a self, tx: &'a mut Tx, f: F) -> AppResult<()>
    where
        F: for<'t> FnOnce(
            &'t App,
            &'t mut Tx,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = AppResult<()>> + Send + 't>,
        >,
    {
        tx.savepoint().await?;
        let result = f(self, tx).await;
        tx.rollback_to_savepoint().await?;
        result
    }
}

impl Applications<'_> {
    /// The customers must still be at the versions the application was submitted against.
    async fn check_versions(&self, tx: &mut Tx, versions: &[(String, i64)]) -> AppResult<()> {
        for (code, v) in versions {
            let row = tx
                .customer_by_code(code)
                .await?
                .ok_or_else(|| AppError::not_found("customer", code))?;
            if row.row_version != *v {
                return Err(version_stale(code, *v, row.row_version));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod customer_kind_tests {
    use super::kinds_for_customer;

    /// What a customer's page offers follows the rules the kinds check at submission.
    #[test]
    fn kinds_follow_the_customer_status() {
        assert_eq!(
            kinds_for_customer("active"),
            ["change", "change_code", "retire", "archive"]
        );
        assert_eq!(
            kinds_for_customer("archived"),
            ["retire", "reactivate", "retrieve"]
        );
        assert!(kinds_for_customer("dormant").contains(&"reactivate"));
        assert!(kinds_for_customer("retired").is_empty());
        assert!(kinds_for_customer("merged").is_empty());
    }
}
