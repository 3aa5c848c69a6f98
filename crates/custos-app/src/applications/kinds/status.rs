//! `retire`, `archive`, `reactivate`: a customer's status moves from one of a few
//! allowed statuses to another, against the version the applicant read.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use custos_store::{now_us, ApplicationRow, CustomerRow, Tx};

use super::{Approval, Effect, Pending, Prepared, Submission};
use crate::actor::Actor;
use crate::applications::checks::{parse_payload, status_refused, version_stale};
use crate::audit::{append, record};
use crate::customers::CustomerStatus;
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

/// Payload of retire, archive, reactivate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerRef {
    code: String,
    /// The customer version the request is about (filled in at submission when absent);
    /// approval fails if the customer changed meanwhile.
    #[serde(default)]
    version: Option<i64>,
}

/// A status-changing kind: the statuses it starts from and the one it sets.
pub(super) struct StatusChange {
    /// The action in the customer's history and the audit (`customer.<action>`).
    action: &'static str,
    /// Allowed source statuses.
    from: &'static [CustomerStatus],
    /// The target status.
    to: CustomerStatus,
}

pub(super) const RETIRE: StatusChange = StatusChange {
    action: "retire",
    from: &[
        CustomerStatus::Pending,
        CustomerStatus::Active,
        CustomerStatus::Dormant,
        CustomerStatus::Archived,
    ],
    to: CustomerStatus::Retired,
};

pub(super) const ARCHIVE: StatusChange = StatusChange {
    action: "archive",
    from: &[CustomerStatus::Active, CustomerStatus::Dormant],
    to: CustomerStatus::Archived,
};

pub(super) const REACTIVATE: StatusChange = StatusChange {
    action: "reactivate",
    from: &[CustomerStatus::Dormant, CustomerStatus::Archived],
    to: CustomerStatus::Active,
};

impl StatusChange {
    /// Whether a customer in `status` may be moved by this kind.
    pub(super) fn starts_from(&self, status: CustomerStatus) -> bool {
        self.from.contains(&status)
    }

    /// Whether the customer stored as `row` may be moved by this kind.
    fn starts_from_row(&self, row: &CustomerRow) -> bool {
        CustomerStatus::of(&row.status).is_some_and(|s| self.starts_from(s))
    }
}

impl Effect for StatusChange {
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        tx: &'a mut Tx,
        s: Submission<'a>,
    ) -> Pending<'a, Prepared> {
        Box::pin(self.prepare_in(app, tx, s))
    }

    fn apply<'a>(&'a self, app: &'a App, tx: &'a mut Tx, e: Approval<'a>) -> Pending<'a, Value> {
        Box::pin(async move {
            let c: CustomerRef = parse_payload(e.kind(), e.payload)?;
            let row = self.set_customer_status(tx, e.by, e.a, &c).await?;
            app.quality()
                .refresh_quality(tx, std::slice::from_ref(&row))
                .await?;
            Ok(json!({"code": row.code, "status": row.status, "version": row.row_version}))
        })
    }
}

impl StatusChange {
    async fn prepare_in(&self, app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
        let mut p = Prepared::new(s.payload.clone());
        let mut c: CustomerRef = parse_payload(s.kind, s.payload)?;
        let row = app
            .applications()
            .customer_for(tx, s.actor, &c.code)
            .await?;
        if !self.starts_from_row(&row) {
            return Err(status_refused(&row, self.from));
        }
        c.code = row.code.clone();
        c.version = Some(c.version.unwrap_or(row.row_version));
        if c.version != Some(row.row_version) {
            return Err(version_stale(
                &row.code,
                c.version.unwrap_or(0),
                row.row_version,
            ));
        }
        p.about(&row);
        p.payload = serde_json::to_value(&c).unwrap_or_default();
        Ok(p)
    }

    /// Retire, archive or reactivate a customer: status, history, registry, audit.
    async fn set_customer_status(
        &self,
        tx: &mut Tx,
        by: &Actor,
        a: &ApplicationRow,
        c: &CustomerRef,
    ) -> AppResult<CustomerRow> {
        let row = tx
            .customer_by_code(&c.code)
            .await?
            .ok_or_else(|| AppError::not_found("customer", &c.code))?;
        if let Some(v) = c.version {
            if v != row.row_version {
                return Err(version_stale(&row.code, v, row.row_version));
            }
        }
        let (from, to) = (self.from, self.to);
        if !self.starts_from_row(&row) {
            return Err(status_refused(&row, from));
        }
        let now = now_us();
        let updated = tx
            .update_customer(&CustomerRow {
                status: to.as_str().to_string(),
                updated_at: now,
                ..row.clone()
            })
            .await?;
        if self.to == CustomerStatus::Retired {
            // The code stays in the registry forever (never reissued); it now says retired.
            tx.update_code(&row.code, Some(row.id), "retired", None)
                .await?;
        }
        let action = self.action;
        let reason = a
            .reason
            .clone()
            .or_else(|| Some(format!("申请单 #{}", a.id)));
        let changes = json!([{"field": "status", "old": row.status, "new": to}]);
        tx.insert_customer_history(&crate::customers::history_entry(
            by,
            &updated,
            action,
            reason.clone(),
            changes.to_string(),
            now,
        ))
        .await?;
        let kind = match action {
            "retire" => crate::events::CUSTOMER_RETIRED,
            "archive" => crate::events::CUSTOMER_ARCHIVED,
            _ => crate::events::CUSTOMER_REACTIVATED,
        };
        let payload = json!({"from": row.status, "to": to, "application": a.id});
        crate::events::emit_customer_event(tx, by, &updated, kind, payload);
        let mut r = record(by, &format!("customer.{action}"), "customer", &row.code);
        r.before = to_json(&json!({"status": row.status}));
        r.after = to_json(&json!({"status": to, "application": a.id}));
        r.reason = reason;
        append(tx, r).await?;
        Ok(updated)
    }
}
