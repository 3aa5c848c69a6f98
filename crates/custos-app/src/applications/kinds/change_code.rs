//! `change_code`: a customer gets a new code, drawn or chosen by hand; the old one stays
//! in the registry, redirecting to the new one.

use crate::applications::Applications;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use custos_store::{now_us, ApplicationRow, CustomerRow, Tx};

use super::{Approval, Effect, Pending, Prepared, Submission};
use crate::actor::Actor;
use crate::applications::checks::{parse_payload, rename_field, status_refused, version_stale};
use crate::audit::{append, record};
use crate::customers::{CustomerStatus, Lookups, EDITABLE_STATUSES};
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeCodePayload {
    code: String,
    #[serde(default)]
    version: Option<i64>,
    /// A code chosen by hand (must fit the rule, never issued before); absent: drawn.
    #[serde(default)]
    new_code: Option<String>,
}

pub(super) struct ChangeCode;

impl Effect for ChangeCode {
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        tx: &'a mut Tx,
        s: Submission<'a>,
    ) -> Pending<'a, Prepared> {
        Box::pin(prepare(app, tx, s))
    }

    fn apply<'a>(&'a self, app: &'a App, tx: &'a mut Tx, e: Approval<'a>) -> Pending<'a, Value> {
        Box::pin(async move {
            let c: ChangeCodePayload = parse_payload(e.kind(), e.payload)?;
            let (old, new) = app
                .applications()
                .change_code_in(tx, e.by, &c, Some(e.a))
                .await?;
            Ok(json!({"code": new, "old_code": old}))
        })
    }
}

async fn prepare(app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
    let mut p = Prepared::new(s.payload.clone());
    let mut c: ChangeCodePayload = parse_payload(s.kind, s.payload)?;
    let row = app
        .applications()
        .customer_for(tx, s.actor, &c.code)
        .await?;
    if !CustomerStatus::editable(&row.status) {
        return Err(status_refused(&row, EDITABLE_STATUSES));
    }
    c.code = row.code.clone();
    c.version = Some(c.version.unwrap_or(row.row_version));
    c.new_code = c.new_code.map(|n| n.trim().to_ascii_uppercase());
    p.about(&row);
    p.payload = serde_json::to_value(&c).unwrap_or_default();
    let applicant = s.actor.clone();
    app.dry_run(tx, move |app, tx| {
        Box::pin(async move {
            app.applications()
                .change_code_in(tx, &applicant, &c, None)
                .await
                .map(|_| ())
        })
    })
    .await?;
    Ok(p)
}

impl Applications<'_> {
    /// Give a customer a new code; the old one stays in the registry, redirecting to the
    /// new one, and is never issued again. Returns (old, new).
    async fn change_code_in(
        &self,
        tx: &mut Tx,
        by: &Actor,
        c: &ChangeCodePayload,
        a: Option<&ApplicationRow>,
    ) -> AppResult<(String, String)> {
        let row = tx
            .customer_by_code(&c.code)
            .await?
            .ok_or_else(|| AppError::not_found("customer", &c.code))?;
        if let Some(v) = c.version {
            if v != row.row_version {
                return Err(version_stale(&row.code, v, row.row_version));
            }
        }
        if !CustomerStatus::editable(&row.status) {
            return Err(status_refused(&row, EDITABLE_STATUSES));
        }
        let drawn = crate::codes::draw_code(
            tx,
            &mut Lookups::default(),
            &self.app.config,
            &code_attributes(&row),
            &row.customer_type,
            row.region_code.as_deref(),
            c.new_code.as_deref(),
        )
        .await
        .map_err(|e| rename_field(e, "code", "payload.new_code".into()))?;
        let reason = a
            .and_then(|a| a.reason.clone())
            .or_else(|| a.map(|a| format!("申请单 #{}", a.id)));
        let now = now_us();
        let updated = tx
            .update_customer(&CustomerRow {
                code: drawn.code.clone(),
                updated_at: now,
                ..row.clone()
            })
            .await?;
        crate::codes::register_code(tx, &drawn, row.id, "active", by, reason.clone()).await?;
        tx.update_code(&row.code, Some(row.id), "changed", Some(&drawn.code))
            .await?;
        let changes = json!([{"field": "code", "old": row.code, "new": drawn.code}]);
        tx.insert_customer_history(&crate::customers::history_entry(
            by,
            &updated,
            "change_code",
            reason.clone(),
            changes.to_string(),
            now,
        ))
        .await?;
        self.app
            .quality()
            .refresh_quality(tx, std::slice::from_ref(&updated))
            .await?;
        let payload = json!({"old_code": row.code, "new_code": drawn.code});
        crate::events::emit_customer_event(
            tx,
            by,
            &updated,
            crate::events::CUSTOMER_CODE_CHANGED,
            payload,
        );
        let payload = json!({
            "rule_key": drawn.rule_key,
            "rule_version": drawn.rule_version,
            "manual": drawn.manual,
        });
        crate::events::emit_customer_event(tx, by, &updated, crate::events::CODE_ISSUED, payload);
        let mut r = record(by, "customer.change_code", "customer", &drawn.code);
        r.before = to_json(&json!({"code": row.code}));
        r.after = to_json(&json!({"code": drawn.code, "application": a.map(|a| a.id)}));
        r.reason = reason;
        append(tx, r).await?;
        Ok((row.code, drawn.code))
    }
}

/// The customer's attributes a code rule may draw on.
fn code_attributes(row: &CustomerRow) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("customer_type".to_string(), row.customer_type.clone());
    if let Some(l) = &row.level {
        attributes.insert("level".to_string(), l.clone());
    }
    if let Some(i) = &row.industry {
        attributes.insert("industry".to_string(), i.clone());
    }
    attributes
}
