//! `change`: a patch to a customer's fields, against the version the applicant read.

use serde::Deserialize;
use serde_json::{json, Value};

use custos_core::Violation;
use custos_store::Tx;

use super::{Approval, Prepared, Submission};
use crate::applications::checks::parse_payload;
use crate::customers::CustomerPatch;
use crate::error::{AppError, AppResult};
use crate::App;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePayload {
    code: String,
    changes: CustomerPatch,
}

pub(super) struct Change;

effect_by_fns!(Change);

async fn prepare(app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
    let mut p = Prepared::new(s.payload.clone());
    let c: ChangePayload = parse_payload(s.kind, s.payload)?;
    let row = app
        .applications()
        .customer_for(tx, s.actor, &c.code)
        .await?;
    p.about(&row);
    if c.changes.version != row.row_version {
        return Err(AppError::validation(
            "payload.changes.version",
            Violation::new(
                "customer.version_stale",
                format!(
                    "客户“{}”当前版本为 {}，申请中的版本 {} 已过期，请重新读取",
                    row.code, row.row_version, c.changes.version
                ),
                format!(
                    "customer '{}' is at version {}; the application's version {} is stale",
                    row.code, row.row_version, c.changes.version
                ),
            ),
        ));
    }
    let applicant = s.actor.clone();
    app.dry_run(tx, move |app, tx| {
        Box::pin(async move {
            app.customers()
                .update_customer_in(tx, &applicant, &c.code, &c.changes, "update")
                .await
                .map(|_| ())
        })
    })
    .await?;
    Ok(p)
}

async fn apply(app: &App, tx: &mut Tx, e: Approval<'_>) -> AppResult<Value> {
    let mut c: ChangePayload = parse_payload(e.kind(), e.payload)?;
    e.default_reason(&mut c.changes.reason);
    let row = app
        .customers()
        .update_customer_in(tx, e.applicant, &c.code, &c.changes, "update")
        .await?;
    Ok(json!({"code": row.code, "version": row.row_version}))
}
