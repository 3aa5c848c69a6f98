//! `split`: one customer split into parts, against the version the applicant read.

use serde::Deserialize;
use serde_json::{json, Value};

use custos_store::Tx;

use super::{effect_actor, Approval, Prepared, Submission};
use crate::applications::checks::parse_payload;
use crate::customers::merge::{SplitPart, SplitRequest};
use crate::error::AppResult;
use crate::App;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitPayload {
    code: String,
    #[serde(default)]
    parts: Vec<SplitPart>,
    #[serde(default)]
    original: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

pub(super) struct Split;

effect_by_fns!(Split);

async fn prepare(app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
    let mut p = Prepared::new(s.payload.clone());
    let (code, req, _) = split_payload(s.kind, s.payload)?;
    let row = app.applications().customer_for(tx, s.actor, &code).await?;
    p.about(&row);
    let mut stored = s.payload.clone();
    stored["version"] = json!(row.row_version);
    p.payload = stored;
    let elevated = effect_actor(s.actor, &["customer.merge", "customer.create"]);
    app.dry_run(tx, move |app, tx| {
        Box::pin(async move {
            app.customers()
                .split_in(tx, &elevated, &code, req)
                .await
                .map(|_| ())
        })
    })
    .await?;
    Ok(p)
}

async fn apply(app: &App, tx: &mut Tx, e: Approval<'_>) -> AppResult<Value> {
    let (code, mut req, version) = split_payload(e.kind(), e.payload)?;
    if let Some(v) = version {
        app.applications()
            .check_versions(tx, &[(code.clone(), v)])
            .await?;
    }
    e.default_reason(&mut req.reason);
    let elevated = effect_actor(e.applicant, &["customer.merge", "customer.create"]);
    let r = app.customers().split_in(tx, &elevated, &code, req).await?;
    let parts: Vec<&str> = r.parts.iter().map(|p| p.code.as_str()).collect();
    Ok(json!({"code": r.original.code, "parts": parts}))
}

/// A split payload: the customer's code and a split request (plus its version once
/// stored).
fn split_payload(kind: &str, v: &Value) -> AppResult<(String, SplitRequest, Option<i64>)> {
    let mut v = v.clone();
    let version = v
        .as_object_mut()
        .and_then(|m| m.remove("version"))
        .and_then(|x| x.as_i64());
    let p: SplitPayload = parse_payload(kind, &v)?;
    Ok((
        p.code.trim().to_ascii_uppercase(),
        SplitRequest {
            parts: p.parts,
            original: p.original,
            reason: p.reason,
        },
        version,
    ))
}
