//! `publish_rule`: publish the draft of a code rule.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use custos_core::Violation;
use custos_store::Tx;

use super::{Approval, Effect, Pending, Prepared, Submission};
use crate::applications::checks::parse_payload;
use crate::error::{AppError, AppResult};
use crate::App;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRulePayload {
    key: String,
}

pub(super) struct PublishRule;

impl Effect for PublishRule {
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        tx: &'a mut Tx,
        s: Submission<'a>,
    ) -> Pending<'a, Prepared> {
        Box::pin(prepare(app, tx, s))
    }

    fn apply<'a>(&'a self, _app: &'a App, tx: &'a mut Tx, e: Approval<'a>) -> Pending<'a, Value> {
        Box::pin(async move {
            let r: PublishRulePayload = parse_payload(e.kind(), e.payload)?;
            let v = crate::codes::publish_code_rule_in(tx, e.by, &r.key).await?;
            Ok(json!({"rule": r.key, "published_version": v.published_version}))
        })
    }
}

async fn prepare(app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
    let mut p = Prepared::new(s.payload.clone());
    let r: PublishRulePayload = parse_payload(s.kind, s.payload)?;
    let key = r.key.clone();
    let applicant = s.actor.clone();
    app.dry_run(tx, move |_, tx| {
        Box::pin(async move {
            crate::codes::publish_code_rule_in(tx, &applicant, &key)
                .await
                .map(|_| ())
        })
    })
    .await
    .map_err(|e| match e {
        AppError::NotFound { what, key } => AppError::Validation(vec![Violation::new(
            "code_rule.unknown",
            format!("编码规则“{key}”不存在"),
            format!("code rule '{key}' does not exist ({what})"),
        )
        .on("payload.key")]),
        other => other,
    })?;
    p.target = Some(r.key);
    Ok(p)
}
