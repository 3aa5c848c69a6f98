//! `merge`: several customers merged into a survivor, against the versions the applicant
//! read.

use serde_json::{json, Value};

use custos_store::Tx;

use super::{effect_actor, Approval, Prepared, Submission};
use crate::applications::checks::{parse_payload, rename_field};
use crate::customers::merge::MergeRequest;
use crate::error::AppResult;
use crate::flows::kind_zh;
use crate::App;

pub(super) struct Merge;

effect_by_fns!(Merge);

async fn prepare(app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
    let mut p = Prepared::new(s.payload.clone());
    let (mut req, _, group) = merge_payload(s.kind, s.payload)?;
    let mut versions = serde_json::Map::new();
    let mut first = None;
    let codes: Vec<String> = std::iter::once(req.survivor.clone())
        .chain(req.merged.iter().cloned())
        .collect();
    for (i, c) in codes.iter().enumerate() {
        let field = if i == 0 {
            "payload.survivor".to_string()
        } else {
            format!("payload.merged[{}]", i - 1)
        };
        let row = app
            .applications()
            .customer_for(tx, s.actor, c)
            .await
            .map_err(|e| rename_field(e, "payload.code", field))?;
        versions.insert(row.code.clone(), json!(row.row_version));
        first.get_or_insert(row);
    }
    if req.reason.is_none() {
        req.reason = Some(format!("申请单：{}", kind_zh(s.kind)));
    }
    if let Some(row) = &first {
        p.about(row);
    }
    let mut stored = s.payload.clone();
    stored["versions"] = Value::Object(versions);
    p.payload = stored;
    let elevated = effect_actor(s.actor, &["customer.merge"]);
    app.dry_run(tx, move |app, tx| {
        Box::pin(async move {
            app.customers()
                .merge_in(tx, &elevated, req, group)
                .await
                .map(|_| ())
        })
    })
    .await?;
    Ok(p)
}

async fn apply(app: &App, tx: &mut Tx, e: Approval<'_>) -> AppResult<Value> {
    let (mut req, versions, group) = merge_payload(e.kind(), e.payload)?;
    app.applications().check_versions(tx, &versions).await?;
    e.default_reason(&mut req.reason);
    let elevated = effect_actor(e.applicant, &["customer.merge"]);
    let r = app.customers().merge_in(tx, &elevated, req, group).await?;
    Ok(json!({"code": r.survivor.code, "merged": r.merged, "merge_id": r.merge_id}))
}

/// A merge payload is a merge request plus, once stored, the participants' versions,
/// and the review-queue group it was applied for from the review page (`group`): the
/// approved merge decides that group (`merged`), where any other merge would leave it
/// `stale`.
type MergePayload = (MergeRequest, Vec<(String, i64)>, Option<i64>);

fn merge_payload(kind: &str, v: &Value) -> AppResult<MergePayload> {
    let mut v = v.clone();
    let versions = take_versions(&mut v, "versions");
    let group = v
        .as_object_mut()
        .and_then(|m| m.remove("group"))
        .and_then(|g| g.as_i64());
    Ok((parse_payload(kind, &v)?, versions, group))
}

fn take_versions(v: &mut Value, key: &str) -> Vec<(String, i64)> {
    v.as_object_mut()
        .and_then(|m| m.remove(key))
        .and_then(|x| x.as_object().cloned())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, x)| x.as_i64().map(|n| (k, n)))
                .collect()
        })
        .unwrap_or_default()
}
