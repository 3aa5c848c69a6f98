//! The shapes of applications at the edge: what callers send (a new application, a list
//! query) and what they get back (views, summaries, the inbox, notifications).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use custos_store::ApplicationRow;

use crate::auth::format_time;
use crate::flows::{kind_zh, FrozenFlow};

/// States of an application.
pub const STATES: &[&str] = &[
    "draft",
    "submitted",
    "in_review",
    "returned",
    "approved",
    "rejected",
    "withdrawn",
    "failed",
];

/// A new application.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// create, change, change_code, retire, reactivate, merge, split, archive, retrieve,
    /// grant_permission, publish_rule.
    pub kind: String,
    /// The request; its shape depends on the kind (see docs/applications.md).
    #[schema(value_type = Object)]
    pub payload: Value,
    #[serde(default)]
    pub reason: Option<String>,
    /// Save without submitting (state `draft`); submit later with `/submit`.
    #[serde(default)]
    pub draft: bool,
}

/// One approver's task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: i64,
    pub round: i64,
    pub step: i64,
    pub user_id: i64,
    pub username: String,
    /// null while pending; approve, reject, return, delegated, skipped, cancelled.
    pub decision: Option<String>,
    pub decided_at: Option<String>,
    pub comment: Option<String>,
    pub delegated_from: Option<i64>,
    pub created_at: String,
}

/// One transition of the trail (痕迹).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub step: Option<i64>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub comment: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    pub id: i64,
    pub kind: String,
    pub kind_name: String,
    pub state: String,
    pub applicant_id: i64,
    pub applicant: String,
    pub department_id: Option<i64>,
    /// The customer code, rule key or user the application is about.
    pub target: Option<String>,
    pub reason: Option<String>,
    /// Personal data masked unless the reader may see it.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub flow: FrozenFlow,
    pub current_step: i64,
    pub round: i64,
    /// Duplicate check of a create application, worked out for the reader when read
    /// (what the reader may see: scope and personal data as for `POST
    /// /duplicates/check`).
    #[schema(value_type = Option<Object>)]
    pub duplicates: Option<Value>,
    /// What the effect produced (e.g. `{"code": …}`), once approved.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// The customer code issued or affected, once approved.
    pub code: Option<String>,
    pub tasks: Vec<TaskView>,
    pub trail: Vec<EventView>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub version: i64,
    /// Set while nobody qualifies to decide the current step: an administrator must
    /// assign an approver.
    pub needs_admin: Option<NeedsAdmin>,
}

/// A row of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApplicationSummary {
    pub id: i64,
    pub kind: String,
    pub kind_name: String,
    pub state: String,
    pub applicant_id: i64,
    pub target: Option<String>,
    pub current_step: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Set while nobody qualifies to decide the current step.
    pub needs_admin: Option<NeedsAdmin>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationQuery {
    /// Only my own applications.
    #[serde(default)]
    pub mine: Option<bool>,
    /// Only applications where I have or had a task.
    #[serde(default)]
    pub involved: Option<bool>,
    pub kind: Option<String>,
    pub state: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`: created at or after.
    pub from: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`: created before.
    pub to: Option<String>,
    /// Only open applications waiting for an administrator to assign an approver.
    #[serde(default)]
    pub needs_admin: Option<bool>,
    /// Cursor: ids below this.
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxItem {
    pub task_id: i64,
    pub step: i64,
    pub step_name: String,
    pub waiting_since: String,
    pub delegated_from: Option<i64>,
    pub application: ApplicationSummary,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxCounts {
    pub pending: usize,
    /// Applications waiting for an administrator (administrators only, else 0).
    pub needs_admin: usize,
    pub by_kind: BTreeMap<String, usize>,
    pub unread_notifications: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Inbox {
    pub counts: InboxCounts,
    pub pending: Vec<InboxItem>,
    /// For administrators (`role.manage`): open applications nobody qualifies to decide,
    /// with the reason.
    pub needs_admin: Vec<ApplicationSummary>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub application_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub read: bool,
}

/// Why an open application waits for an administrator.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NeedsAdmin {
    /// `application.no_qualified_approver`.
    pub code: String,
    /// The step nobody may decide (0-based).
    pub step: i64,
    /// Why, in Chinese.
    pub reason: String,
    /// Why, in English.
    pub reason_en: String,
    pub since: String,
}

/// The flag of an application, only while it is open.
pub(super) fn needs_admin_of(a: &ApplicationRow) -> Option<NeedsAdmin> {
    if !["submitted", "in_review"].contains(&a.state.as_str()) {
        return None;
    }
    a.needs_admin
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
}

pub(super) fn summary(a: &ApplicationRow) -> ApplicationSummary {
    ApplicationSummary {
        id: a.id,
        kind: a.kind.clone(),
        kind_name: kind_zh(&a.kind).to_string(),
        state: a.state.clone(),
        applicant_id: a.applicant_id,
        target: a.target.clone(),
        current_step: a.current_step,
        created_at: format_time(a.created_at),
        updated_at: format_time(a.updated_at),
        needs_admin: needs_admin_of(a),
    }
}

const PII_KEYS: &[&str] = &["id_number", "phone", "mobile", "email", "address"];

/// Mask personal data anywhere in a payload.
pub(crate) fn mask_payload(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if PII_KEYS.contains(&k.as_str()) {
                    if let Value::String(s) = x {
                        *s = match k.as_str() {
                            "id_number" => crate::pii::mask_id_number(s),
                            "mobile" => crate::pii::mask_mobile(s),
                            "phone" => crate::pii::mask_phone(s),
                            "email" => crate::pii::mask_email(s),
                            _ => crate::pii::mask_address(s),
                        };
                    }
                } else {
                    mask_payload(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_payload),
        _ => {}
    }
}
