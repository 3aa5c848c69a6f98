//! What an application leaves behind: its sealed payload, its frozen flow, the trail
//! (痕迹) with its audit entries, and the notifications it sends.

use crate::applications::Applications;
use serde_json::{json, Value};

use custos_store::{now_us, ApplicationRow, EventRow, NotificationRow, Tx};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};
use crate::flows::FrozenFlow;
use crate::to_json;

pub(super) fn frozen(a: &ApplicationRow) -> AppResult<FrozenFlow> {
    serde_json::from_str(&a.flow)
        .map_err(|e| AppError::Internal(format!("application {} flow unreadable: {e}", a.id)))
}

pub(super) async fn notify(
    tx: &mut Tx,
    user_id: i64,
    application_id: i64,
    kind: &str,
    title: String,
    body: String,
) -> AppResult<()> {
    crate::notify::insert_notification(
        tx,
        &NotificationRow {
            id: 0,
            user_id,
            application_id: Some(application_id),
            kind: kind.to_string(),
            title,
            body,
            created_at: now_us(),
            read_at: None,
        },
    )
    .await?;
    Ok(())
}

pub(super) struct Trail<'a> {
    pub(super) actor: &'a Actor,
    pub(super) action: &'a str,
    pub(super) step: Option<i64>,
    pub(super) from: &'a str,
    pub(super) comment: Option<String>,
    pub(super) detail: Option<Value>,
}

pub(super) async fn trail(tx: &mut Tx, a: &ApplicationRow, t: Trail<'_>) -> AppResult<()> {
    tx.insert_application_event(&EventRow {
        id: 0,
        application_id: a.id,
        at: now_us(),
        actor_id: Some(t.actor.user_id),
        actor_name: t.actor.username.clone(),
        action: t.action.to_string(),
        step: t.step,
        from_state: Some(t.from.to_string()),
        to_state: Some(a.state.clone()),
        comment: t.comment.clone(),
        detail: t.detail.as_ref().and_then(to_json),
    })
    .await?;
    application_event(tx, a, &t).await?;
    let mut r = record(
        t.actor,
        &format!("application.{}", t.action),
        "application",
        &a.id.to_string(),
    );
    r.before = to_json(&json!({"state": t.from}));
    r.after = to_json(&json!({"state": a.state, "step": t.step, "kind": a.kind}));
    r.reason = t.comment;
    append(tx, r).await?;
    Ok(())
}

/// The event of a step in an application's trail that the feed announces: a submission
/// (and resubmission) and the final decision. An application about an existing customer
/// is an event of that customer (in its data scope); any other is about no customer.
async fn application_event(tx: &mut Tx, a: &ApplicationRow, t: &Trail<'_>) -> AppResult<()> {
    use crate::events::{emit_customer_event, emit_other_event};
    use crate::events::{APPLICATION_DECIDED, APPLICATION_SUBMITTED};
    let kind = match a.state.as_str() {
        "submitted" if t.from != "submitted" => APPLICATION_SUBMITTED,
        "approved" | "rejected" if t.from != a.state => APPLICATION_DECIDED,
        _ => return Ok(()),
    };
    let payload = json!({"application": a.id, "kind": a.kind, "state": a.state});
    let customer = match &a.target {
        Some(code) => tx.customer_by_code(code).await?,
        None => None,
    };
    match customer {
        Some(row) => emit_customer_event(tx, t.actor, &row, kind, payload),
        None => emit_other_event(tx, t.actor, kind, payload),
    }
    Ok(())
}

impl Applications<'_> {
    pub(super) fn seal_payload(&self, v: &Value) -> String {
        self.app.config.pii_key.encrypt(&v.to_string())
    }

    pub(super) fn open_payload(&self, a: &ApplicationRow) -> AppResult<Value> {
        let text = self.app.config.pii_key.decrypt(&a.payload)?;
        serde_json::from_str(&text)
            .map_err(|e| AppError::Internal(format!("application {} payload: {e}", a.id)))
    }
}
