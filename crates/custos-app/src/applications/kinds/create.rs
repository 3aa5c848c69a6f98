//! `create`: a new customer, with a duplicate check approvers see next to the request.

use crate::applications::Applications;
use serde_json::{json, Value};

use custos_store::{ApplicationRow, Tx};

use super::{Approval, Effect, Pending, Prepared, Submission};
use crate::actor::{Actor, Scope};
use crate::applications::checks::parse_payload;
use crate::customers::{Lookups, NewCustomer};
use crate::error::AppResult;
use crate::App;

pub(super) struct Create;

impl Effect for Create {
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        tx: &'a mut Tx,
        s: Submission<'a>,
    ) -> Pending<'a, Prepared> {
        Box::pin(prepare(app, tx, s))
    }

    fn apply<'a>(&'a self, app: &'a App, tx: &'a mut Tx, e: Approval<'a>) -> Pending<'a, Value> {
        Box::pin(apply(app, tx, e))
    }

    fn duplicates_for_reader<'a>(
        &'a self,
        app: &'a App,
        tx: &'a mut Tx,
        actor: &'a Actor,
        a: &'a ApplicationRow,
        payload: &'a Value,
    ) -> Pending<'a, Option<Value>> {
        Box::pin(async move {
            app.applications()
                .duplicates_for_create_reader(tx, actor, a, payload)
                .await
        })
    }
}

async fn prepare(app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
    let mut p = Prepared::new(s.payload.clone());
    let mut input: NewCustomer = parse_payload(s.kind, s.payload)?;
    input.status = None;
    p.customer_type = Some(input.customer_type.trim().to_lowercase());
    p.region_code = input.region_code.clone();
    p.duplicates = app
        .applications()
        .duplicate_check(tx, s.actor, &input)
        .await?;
    let applicant = s.actor.clone();
    // The owner must be inside the applicant's scope, as for a direct create.
    let scope = s.actor.require("application.submit")?;
    app.dry_run(tx, move |app, tx| {
        Box::pin(async move {
            let mut lookups = Lookups::default();
            app.customers()
                .insert_new_customer(tx, &mut lookups, &applicant, scope, input)
                .await
                .map(|_| ())
        })
    })
    .await?;
    Ok(p)
}

async fn apply(app: &App, tx: &mut Tx, e: Approval<'_>) -> AppResult<Value> {
    let mut input: NewCustomer = parse_payload(e.kind(), e.payload)?;
    input.status = Some(crate::customers::CustomerStatus::Active.as_str().into());
    if input.reason.is_none() {
        input.reason = Some(format!("申请单 #{}", e.a.id));
    }
    let (row, _, _) = app
        .customers()
        .insert_new_customer(tx, &mut Lookups::default(), e.applicant, Scope::All, input)
        .await?;
    Ok(json!({"code": row.code, "customer_id": row.id}))
}

impl Applications<'_> {
    /// The duplicate check attached to a create application. The slot exists so approvers
    /// see candidates next to the request; filled by the duplicate detector.
    async fn duplicate_check(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        input: &NewCustomer,
    ) -> AppResult<Option<Value>> {
        let report = self
            .app
            .customers()
            .find_duplicates_for_input(tx, actor, input, &[])
            .await?;
        Ok(serde_json::to_value(&report).ok())
    }

    /// The duplicate check of a create application as `actor` may see it (scope and
    /// personal data, docs/duplicates.md): worked out again for each reader, since the
    /// check kept at submission is what the applicant could see. The customer the
    /// application created, once approved, is left out.
    async fn duplicates_for_create_reader(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        a: &ApplicationRow,
        payload: &Value,
    ) -> AppResult<Option<Value>> {
        if a.duplicates.is_none() {
            return Ok(None);
        }
        let Ok(input) = serde_json::from_value::<NewCustomer>(payload.clone()) else {
            return Ok(None);
        };
        let created = a
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .and_then(|r| r["code"].as_str().map(str::to_string));
        let mut exclude = Vec::new();
        if let Some(code) = created {
            if let Some(row) = tx.customer_by_code(&code).await? {
                exclude.push(row.id);
            }
        }
        let report = self
            .app
            .customers()
            .find_duplicates_for_input(tx, actor, &input, &exclude)
            .await?;
        Ok(serde_json::to_value(&report).ok())
    }
}
