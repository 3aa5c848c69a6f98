//! Applications (申请单): a request that passes an approval flow before it takes effect.
//!
//! Submission validates the payload completely — for kinds with an effect on data by
//! running the effect in a savepoint that is rolled back — so an invalid request is
//! refused at once with its field errors. The effect itself is applied in the transaction
//! that records the last approval: state change, effect, trail and audit commit together
//! or not at all. Decisions lock the application row (PostgreSQL `FOR UPDATE`; SQLite
//! writers are exclusive) and a task is decided only while it is still pending, so two
//! approvers acting at once on one step yield exactly one decision; the other gets 409.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use custos_core::{FieldError, Violation};
use custos_store::{
    now_us, ApplicationFilter, ApplicationRow, CustomerRow, EventRow, NotificationRow, TaskRow, Tx,
};

use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::{format_time, load_actor};
use crate::customers::merge::{MergeRequest, SplitPart, SplitRequest};
use crate::customers::{CustomerPatch, Lookups, NewCustomer};
use crate::error::{AppError, AppResult};
use crate::flows::{
    choose_flow, department_chain, kind_zh, unknown_kind, FlowSubject, FrozenFlow, StepMode,
};
use crate::{to_json, App};

mod deciders;

pub use deciders::NeedsAdmin;
pub(crate) use deciders::{managers_above, recheck_open_tasks};
use deciders::{needs_admin_of, resolve_approvers};

/// Longest a retrieval (调阅) may last.
const MAX_RETRIEVAL_DAYS: i64 = 90;
const DEFAULT_RETRIEVAL_DAYS: i64 = 7;
const DAY_US: i64 = 86_400_000_000;

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

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "create" => Kind::Create,
            "change" => Kind::Change,
            "change_code" => Kind::ChangeCode,
            "retire" => Kind::Retire,
            "reactivate" => Kind::Reactivate,
            "merge" => Kind::Merge,
            "split" => Kind::Split,
            "archive" => Kind::Archive,
            "retrieve" => Kind::Retrieve,
            "grant_permission" => Kind::GrantPermission,
            "publish_rule" => Kind::PublishRule,
            _ => return None,
        })
    }
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePayload {
    code: String,
    changes: CustomerPatch,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrievePayload {
    code: String,
    /// RFC 3339; default 7 days after approval, at most 90 days.
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    days: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantPayload {
    /// Whom the role is for; default: the applicant.
    #[serde(default)]
    user_id: Option<i64>,
    role: String,
    /// own, department, all (default own).
    #[serde(default)]
    scope: Option<String>,
    /// RFC 3339; absent: unlimited.
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRulePayload {
    key: String,
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

/// What submission learnt from the payload.
struct Prepared {
    payload: Value,
    target: Option<String>,
    customer_type: Option<String>,
    region_code: Option<String>,
    duplicates: Option<Value>,
}

fn payload_error(kind: &str, e: &serde_json::Error) -> AppError {
    let msg = e.to_string();
    AppError::Validation(vec![Violation::new(
        "application.payload_invalid",
        format!("“{}”申请的内容格式不正确：{msg}", kind_zh(kind)),
        format!("the payload of a '{kind}' application is malformed: {msg}"),
    )
    .on("payload")])
}

fn parse_payload<T: serde::de::DeserializeOwned>(kind: &str, v: &Value) -> AppResult<T> {
    serde_json::from_value(v.clone()).map_err(|e| payload_error(kind, &e))
}

fn closed_states() -> &'static [&'static str] {
    &["approved", "rejected", "withdrawn", "failed"]
}

fn application_closed(a: &ApplicationRow) -> AppError {
    AppError::Conflict(Violation::new(
        "application.closed",
        format!("申请单 #{} 已结束（{}），不能再处理", a.id, a.state),
        format!(
            "application #{} is closed ({}) and cannot be acted on",
            a.id, a.state
        ),
    ))
}

fn not_in_review(a: &ApplicationRow) -> AppError {
    if closed_states().contains(&a.state.as_str()) {
        return application_closed(a);
    }
    AppError::Conflict(Violation::new(
        "application.not_in_review",
        format!("申请单 #{} 当前状态为 {}，不在审批中", a.id, a.state),
        format!("application #{} is {}, not under review", a.id, a.state),
    ))
}

fn version_stale(code: &str, read: i64, now: i64) -> AppError {
    AppError::Conflict(Violation::new(
        "customer.version_stale",
        format!(
            "客户“{code}”在申请提交后已被修改（申请时版本 {read}，当前版本 {now}），不能按原申请执行；请退回申请人重新提交"
        ),
        format!(
            "customer '{code}' changed after the application was submitted (version {read}, now {now}); return the application for resubmission"
        ),
    ))
}

fn parse_time(field: &str, s: &str) -> AppResult<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    Err(AppError::validation(
        field,
        Violation::new(
            "time.invalid",
            format!("时间“{s}”无效，须为 RFC 3339（如 2026-01-31T08:00:00Z）或 YYYY-MM-DD"),
            format!(
                "time '{s}' is invalid; use RFC 3339 (e.g. 2026-01-31T08:00:00Z) or YYYY-MM-DD"
            ),
        ),
    ))
}

const PII_KEYS: &[&str] = &["id_number", "phone", "mobile", "email", "address"];

/// Mask personal data anywhere in a payload.
fn mask_payload(v: &mut Value) {
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

fn summary(a: &ApplicationRow) -> ApplicationSummary {
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

fn frozen(a: &ApplicationRow) -> AppResult<FrozenFlow> {
    serde_json::from_str(&a.flow)
        .map_err(|e| AppError::Internal(format!("application {} flow unreadable: {e}", a.id)))
}

async fn notify(
    tx: &mut Tx,
    user_id: i64,
    application_id: i64,
    kind: &str,
    title: String,
    body: String,
) -> AppResult<()> {
    tx.insert_notification(&NotificationRow {
        id: 0,
        user_id,
        application_id: Some(application_id),
        kind: kind.to_string(),
        title,
        body,
        created_at: now_us(),
        read_at: None,
    })
    .await?;
    Ok(())
}

struct Trail<'a> {
    actor: &'a Actor,
    action: &'a str,
    step: Option<i64>,
    from: &'a str,
    comment: Option<String>,
    detail: Option<Value>,
}

async fn trail(tx: &mut Tx, a: &ApplicationRow, t: Trail<'_>) -> AppResult<()> {
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

/// A reason or comment: several lines allowed (CRLF kept as LF), no control or invisible
/// format characters.
fn clean_text(field: &str, v: Option<&str>, max: usize) -> AppResult<Option<String>> {
    if let Some(v) = v {
        custos_core::text_guard::check_text(field, v, custos_core::text_guard::Lines::Multi)
            .map_err(|e| AppError::Validation(vec![e]))?;
    }
    let v = v.map(custos_core::text_guard::lf_line_breaks);
    let Some(v) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(AppError::validation(
            field,
            Violation::new(
                "text.too_long",
                format!("{field} 最多 {max} 个字"),
                format!("{field}: at most {max} characters"),
            ),
        ));
    }
    Ok(Some(v.to_string()))
}

impl App {
    fn seal_payload(&self, v: &Value) -> String {
        self.config.pii_key.encrypt(&v.to_string())
    }

    fn open_payload(&self, a: &ApplicationRow) -> AppResult<Value> {
        let text = self.config.pii_key.decrypt(&a.payload)?;
        serde_json::from_str(&text)
            .map_err(|e| AppError::Internal(format!("application {} payload: {e}", a.id)))
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

    /// Validate a payload completely; effects are dry-run in a savepoint.
    async fn prepare(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        kind: &str,
        payload: &Value,
    ) -> AppResult<Prepared> {
        let Some(k) = Kind::parse(kind) else {
            return Err(AppError::Validation(vec![unknown_kind("kind", kind)]));
        };
        let mut p = Prepared {
            payload: payload.clone(),
            target: None,
            customer_type: None,
            region_code: None,
            duplicates: None,
        };
        match k {
            Kind::Create => {
                let mut input: NewCustomer = parse_payload(kind, payload)?;
                input.status = None;
                p.customer_type = Some(input.customer_type.trim().to_lowercase());
                p.region_code = input.region_code.clone();
                p.duplicates = self.duplicate_check(tx, actor, &input).await?;
                let applicant = actor.clone();
                // The owner must be inside the applicant's scope, as for a direct create.
                let scope = actor.require("application.submit")?;
                self.dry_run(tx, move |app, tx| {
                    Box::pin(async move {
                        let mut lookups = Lookups::default();
                        app.insert_new_customer(tx, &mut lookups, &applicant, scope, input)
                            .await
                            .map(|_| ())
                    })
                })
                .await?;
            }
            Kind::Change => {
                let c: ChangePayload = parse_payload(kind, payload)?;
                let row = self.customer_for(tx, actor, &c.code).await?;
                p.target = Some(row.code.clone());
                p.customer_type = Some(row.customer_type.clone());
                p.region_code = row.region_code.clone();
                if c.changes.version != row.row_version {
                    return Err(AppError::validation(
                        "payload.changes.version",
                        Violation::new(
                            "customer.version_stale",
                            format!("客户“{}”当前版本为 {}，申请中的版本 {} 已过期，请重新读取", row.code, row.row_version, c.changes.version),
                            format!("customer '{}' is at version {}; the application's version {} is stale", row.code, row.row_version, c.changes.version),
                        ),
                    ));
                }
                let applicant = actor.clone();
                self.dry_run(tx, move |app, tx| {
                    Box::pin(async move {
                        app.update_customer_in(tx, &applicant, &c.code, &c.changes, "update")
                            .await
                            .map(|_| ())
                    })
                })
                .await?;
            }
            Kind::Retire | Kind::Archive | Kind::Reactivate => {
                let mut c: CustomerRef = parse_payload(kind, payload)?;
                let row = self.customer_for(tx, actor, &c.code).await?;
                let (from, _) = status_transition(k);
                if !from.contains(&row.status.as_str()) {
                    return Err(status_refused(&row, k));
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
                p.target = Some(row.code.clone());
                p.customer_type = Some(row.customer_type.clone());
                p.region_code = row.region_code.clone();
                p.payload = serde_json::to_value(&c).unwrap_or_default();
            }
            Kind::ChangeCode => {
                let mut c: ChangeCodePayload = parse_payload(kind, payload)?;
                let row = self.customer_for(tx, actor, &c.code).await?;
                if !crate::customers::EDITABLE_STATUSES.contains(&row.status.as_str()) {
                    return Err(status_refused(&row, k));
                }
                c.code = row.code.clone();
                c.version = Some(c.version.unwrap_or(row.row_version));
                c.new_code = c.new_code.map(|n| n.trim().to_ascii_uppercase());
                p.target = Some(row.code.clone());
                p.customer_type = Some(row.customer_type.clone());
                p.region_code = row.region_code.clone();
                p.payload = serde_json::to_value(&c).unwrap_or_default();
                let applicant = actor.clone();
                self.dry_run(tx, move |app, tx| {
                    Box::pin(async move {
                        app.change_code_in(tx, &applicant, &c, None)
                            .await
                            .map(|_| ())
                    })
                })
                .await?;
            }
            Kind::Retrieve => {
                let mut c: RetrievePayload = parse_payload(kind, payload)?;
                let row = self.customer_for(tx, actor, &c.code).await?;
                if row.status != "archived" {
                    return Err(AppError::validation(
                        "payload.code",
                        Violation::new(
                            "customer.not_archived",
                            format!("客户“{}”未归档（状态 {}），无需调阅", row.code, row.status),
                            format!(
                                "customer '{}' is not archived ({}); no retrieval needed",
                                row.code, row.status
                            ),
                        ),
                    ));
                }
                retrieval_duration(&c)?;
                c.code = row.code.clone();
                p.target = Some(row.code.clone());
                p.customer_type = Some(row.customer_type.clone());
                p.region_code = row.region_code.clone();
                p.payload = serde_json::to_value(&c).unwrap_or_default();
            }
            Kind::GrantPermission => {
                let mut g: GrantPayload = parse_payload(kind, payload)?;
                g.user_id = Some(g.user_id.unwrap_or(actor.user_id));
                self.check_grant(tx, &g).await?;
                p.target = g.user_id.map(|u| format!("user:{u}"));
                p.payload = serde_json::to_value(&g).unwrap_or_default();
            }
            Kind::PublishRule => {
                let r: PublishRulePayload = parse_payload(kind, payload)?;
                let key = r.key.clone();
                let applicant = actor.clone();
                self.dry_run(tx, move |_, tx| {
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
            }
            Kind::Merge => {
                let (mut req, _) = merge_payload(kind, payload)?;
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
                    let row = self
                        .customer_for(tx, actor, c)
                        .await
                        .map_err(|e| rename_field(e, "payload.code", field))?;
                    versions.insert(row.code.clone(), json!(row.row_version));
                    first.get_or_insert(row);
                }
                if req.reason.is_none() {
                    req.reason = Some(format!("申请单：{}", kind_zh(kind)));
                }
                if let Some(row) = &first {
                    p.target = Some(row.code.clone());
                    p.customer_type = Some(row.customer_type.clone());
                    p.region_code = row.region_code.clone();
                }
                let mut stored = payload.clone();
                stored["versions"] = Value::Object(versions);
                p.payload = stored;
                let elevated = effect_actor(actor, &["customer.merge"]);
                self.dry_run(tx, move |app, tx| {
                    Box::pin(
                        async move { app.merge_in(tx, &elevated, req, None).await.map(|_| ()) },
                    )
                })
                .await?;
            }
            Kind::Split => {
                let (code, req, _) = split_payload(kind, payload)?;
                let row = self.customer_for(tx, actor, &code).await?;
                p.target = Some(row.code.clone());
                p.customer_type = Some(row.customer_type.clone());
                p.region_code = row.region_code.clone();
                let mut stored = payload.clone();
                stored["version"] = json!(row.row_version);
                p.payload = stored;
                let elevated = effect_actor(actor, &["customer.merge", "customer.create"]);
                self.dry_run(tx, move |app, tx| {
                    Box::pin(
                        async move { app.split_in(tx, &elevated, &code, req).await.map(|_| ()) },
                    )
                })
                .await?;
            }
        }
        Ok(p)
    }

    /// The duplicate check attached to a create application. The slot exists so approvers
    /// see candidates next to the request; filled by the duplicate detector.
    async fn duplicate_check(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        input: &NewCustomer,
    ) -> AppResult<Option<Value>> {
        let report = self
            .find_duplicates_for_input(tx, actor, input, &[])
            .await?;
        Ok(serde_json::to_value(&report).ok())
    }

    /// The duplicate check of a create application as `actor` may see it (scope and
    /// personal data, docs/duplicates.md): worked out again for each reader, since the
    /// check kept at submission is what the applicant could see. The customer the
    /// application created, once approved, is left out.
    async fn duplicates_for_reader(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        a: &ApplicationRow,
        payload: &Value,
    ) -> AppResult<Option<Value>> {
        if a.duplicates.is_none() || a.kind != "create" {
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
            .find_duplicates_for_input(tx, actor, &input, &exclude)
            .await?;
        Ok(serde_json::to_value(&report).ok())
    }

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

    async fn check_grant(&self, tx: &mut Tx, g: &GrantPayload) -> AppResult<()> {
        let mut e: Vec<FieldError> = Vec::new();
        let user_id = g.user_id.unwrap_or_default();
        match tx.user(user_id).await? {
            None => e.push(
                Violation::new(
                    "user.unknown",
                    format!("用户 {user_id} 不存在"),
                    format!("user {user_id} does not exist"),
                )
                .on("payload.user_id"),
            ),
            Some(u) if u.disabled => e.push(
                Violation::new(
                    "user.disabled",
                    format!("用户 {user_id} 已停用"),
                    format!("user {user_id} is disabled"),
                )
                .on("payload.user_id"),
            ),
            Some(_) => {}
        }
        match tx.role_by_key(&g.role).await? {
            None => e.push(
                Violation::new(
                    "role.unknown",
                    format!("角色“{}”不存在", g.role),
                    format!("role '{}' does not exist", g.role),
                )
                .on("payload.role"),
            ),
            Some(role) => {
                let now = now_us();
                if tx
                    .grants_of(user_id)
                    .await?
                    .iter()
                    .any(|x| x.role_id == role.id && x.expires_at.is_none_or(|t| t > now))
                {
                    e.push(
                        Violation::new(
                            "grant.exists",
                            format!("用户 {user_id} 已拥有角色“{}”", g.role),
                            format!("user {user_id} already holds role '{}'", g.role),
                        )
                        .on("payload.role"),
                    );
                }
            }
        }
        if let Some(s) = &g.scope {
            if Scope::parse(s).is_none() {
                e.push(
                    Violation::new(
                        "scope.unknown",
                        format!("数据范围“{s}”无效，可选 own、department、all"),
                        format!("data scope '{s}' is invalid; use own, department or all"),
                    )
                    .on("payload.scope"),
                );
            }
        }
        if let Some(t) = &g.expires_at {
            match parse_time("payload.expires_at", t) {
                Ok(at) if at <= now_us() => e.push(
                    Violation::new(
                        "time.past",
                        "到期时间须晚于现在",
                        "the expiry must be in the future",
                    )
                    .on("payload.expires_at"),
                ),
                Ok(_) => {}
                Err(AppError::Validation(f)) => e.extend(f),
                Err(other) => return Err(other),
            }
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(e))
        }
    }

    /// Submit an application (`application.submit`), or save it as a draft.
    pub async fn submit_application(
        &self,
        actor: &Actor,
        input: NewApplication,
    ) -> AppResult<ApplicationView> {
        actor.require("application.submit")?;
        let kind = input.kind.trim().to_string();
        if Kind::parse(&kind).is_none() {
            return Err(AppError::Validation(vec![unknown_kind("kind", &kind)]));
        }
        let reason = clean_text("reason", input.reason.as_deref(), 500)?;
        crate::text_input::refuse_in_value("payload", &input.payload)?;
        let mut tx = self.db.begin().await?;
        let prepared = self.prepare(&mut tx, actor, &kind, &input.payload).await?;
        let now = now_us();
        let mut a = ApplicationRow {
            id: 0,
            kind: kind.clone(),
            state: "draft".into(),
            applicant_id: actor.user_id,
            department_id: actor.department_id,
            target: prepared.target.clone(),
            payload: self.seal_payload(&prepared.payload),
            reason,
            flow: serde_json::to_string(&crate::flows::default_flow(&kind)).unwrap_or_default(),
            current_step: 0,
            round: 1,
            duplicates: prepared.duplicates.as_ref().and_then(to_json),
            result: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            row_version: 1,
            needs_admin: None,
        };
        a.id = tx.insert_application(&a).await?;
        if input.draft {
            trail(
                &mut tx,
                &a,
                Trail {
                    actor,
                    action: "draft",
                    step: None,
                    from: "draft",
                    comment: None,
                    detail: None,
                },
            )
            .await?;
        } else {
            self.start_round(&mut tx, &mut a, actor, &prepared, "submit", "draft")
                .await?;
            tx.update_application(&a).await?;
            a.row_version += 1;
        }
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Choose the flow and enter its first step (submit and resubmit).
    async fn start_round(
        &self,
        tx: &mut Tx,
        a: &mut ApplicationRow,
        actor: &Actor,
        p: &Prepared,
        action: &str,
        from: &str,
    ) -> AppResult<()> {
        let departments = department_chain(tx, a.department_id).await?;
        let subject = FlowSubject {
            customer_type: p.customer_type.as_deref(),
            region_code: p.region_code.as_deref(),
            departments: &departments,
        };
        let flow = choose_flow(tx, &a.kind, &subject).await?;
        a.flow = serde_json::to_string(&flow).unwrap_or_default();
        a.state = "submitted".into();
        a.updated_at = now_us();
        trail(
            tx,
            a,
            Trail {
                actor,
                action,
                step: None,
                from,
                comment: a.reason.clone(),
                detail: Some(
                    json!({"flow": flow.key, "flow_version": flow.version, "round": a.round}),
                ),
            },
        )
        .await?;
        self.enter_step(tx, a, &flow, 0, actor).await
    }

    /// Enter step `i`: auto-approve it when its rule holds, otherwise create the tasks
    /// and notify the approvers. Past the last step, apply the effect.
    async fn enter_step(
        &self,
        tx: &mut Tx,
        a: &mut ApplicationRow,
        flow: &FrozenFlow,
        mut i: usize,
        actor: &Actor,
    ) -> AppResult<()> {
        loop {
            let Some(s) = flow.steps.get(i) else {
                return self.complete(tx, a, actor).await;
            };
            if let Some(rule) = &s.auto_approve {
                if self.auto_rule_holds(a, rule)? {
                    let from = a.state.clone();
                    a.state = "in_review".into();
                    trail(
                        tx,
                        a,
                        Trail {
                            actor,
                            action: "auto_approve",
                            step: Some(i as i64),
                            from: &from,
                            comment: Some(format!("步骤“{}”满足自动通过条件", s.name)),
                            detail: Some(serde_json::to_value(rule).unwrap_or_default()),
                        },
                    )
                    .await?;
                    i += 1;
                    continue;
                }
            }
            let approvers = resolve_approvers(tx, s, a.applicant_id, a.department_id).await?;
            let now = now_us();
            for u in &approvers {
                tx.insert_task(&TaskRow {
                    id: 0,
                    application_id: a.id,
                    round: a.round,
                    step: i as i64,
                    user_id: *u,
                    decision: None,
                    decided_at: None,
                    comment: None,
                    delegated_from: None,
                    created_at: now,
                })
                .await?;
                notify(
                    tx,
                    *u,
                    a.id,
                    "task",
                    format!("待审批：{} #{}", kind_zh(&a.kind), a.id),
                    format!("申请单 #{} 等待您在步骤“{}”审批。", a.id, s.name),
                )
                .await?;
            }
            a.current_step = i as i64;
            if i > 0 {
                a.state = "in_review".into();
            }
            return Ok(());
        }
    }

    fn auto_rule_holds(
        &self,
        a: &ApplicationRow,
        rule: &crate::flows::AutoApprove,
    ) -> AppResult<bool> {
        if rule.no_duplicates {
            let none = a
                .duplicates
                .as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .is_some_and(|d| {
                    d["candidates"].as_array().is_some_and(|c| c.is_empty())
                        && d["outside_scope_match"] != Value::Bool(true)
                });
            if !none {
                return Ok(false);
            }
        }
        if !rule.fields_filled.is_empty() {
            let payload = self.open_payload(a)?;
            let filled = rule.fields_filled.iter().all(|f| match payload.get(f) {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) => !s.trim().is_empty(),
                Some(Value::Array(x)) => !x.is_empty(),
                Some(_) => true,
            });
            if !filled {
                return Ok(false);
            }
        }
        Ok(rule.no_duplicates || !rule.fields_filled.is_empty())
    }

    /// The last step approved: apply the effect, close, notify.
    async fn complete(&self, tx: &mut Tx, a: &mut ApplicationRow, actor: &Actor) -> AppResult<()> {
        let result = self.apply_effect(tx, a, actor).await?;
        if let Some(code) = result.get("code").and_then(Value::as_str) {
            a.target = Some(code.to_string());
        }
        let from = a.state.clone();
        let now = now_us();
        a.state = "approved".into();
        a.result = to_json(&result);
        a.closed_at = Some(now);
        a.updated_at = now;
        tx.close_pending_tasks(a.id, "skipped", now).await?;
        trail(
            tx,
            a,
            Trail {
                actor,
                action: "complete",
                step: None,
                from: &from,
                comment: None,
                detail: Some(result.clone()),
            },
        )
        .await?;
        let code = result
            .get("code")
            .and_then(Value::as_str)
            .map(|c| format!("，客户编码 {c}"))
            .unwrap_or_default();
        notify(
            tx,
            a.applicant_id,
            a.id,
            "approved",
            format!("申请已通过：{} #{}", kind_zh(&a.kind), a.id),
            format!("您的申请单 #{} 已审批通过并生效{code}。", a.id),
        )
        .await
    }

    /// Apply what an approved application asks for, inside the approval's transaction.
    /// One arm per kind.
    async fn apply_effect(&self, tx: &mut Tx, a: &ApplicationRow, by: &Actor) -> AppResult<Value> {
        let payload = self.open_payload(a)?;
        let kind = a.kind.as_str();
        let k =
            Kind::parse(kind).ok_or_else(|| AppError::Internal(format!("stored kind {kind}")))?;
        let applicant = self.applicant(tx, a, by).await?;
        match k {
            Kind::Create => {
                let mut input: NewCustomer = parse_payload(kind, &payload)?;
                input.status = Some("active".into());
                if input.reason.is_none() {
                    input.reason = Some(format!("申请单 #{}", a.id));
                }
                let (row, _, _) = self
                    .insert_new_customer(tx, &mut Lookups::default(), &applicant, Scope::All, input)
                    .await?;
                Ok(json!({"code": row.code, "customer_id": row.id}))
            }
            Kind::Change => {
                let mut c: ChangePayload = parse_payload(kind, &payload)?;
                if c.changes.reason.is_none() {
                    c.changes.reason = a
                        .reason
                        .clone()
                        .or_else(|| Some(format!("申请单 #{}", a.id)));
                }
                let row = self
                    .update_customer_in(tx, &applicant, &c.code, &c.changes, "update")
                    .await?;
                Ok(json!({"code": row.code, "version": row.row_version}))
            }
            Kind::Retire | Kind::Archive | Kind::Reactivate => {
                let c: CustomerRef = parse_payload(kind, &payload)?;
                let row = self.set_customer_status(tx, by, a, k, &c).await?;
                Ok(json!({"code": row.code, "status": row.status, "version": row.row_version}))
            }
            Kind::ChangeCode => {
                let c: ChangeCodePayload = parse_payload(kind, &payload)?;
                let (old, new) = self.change_code_in(tx, by, &c, Some(a)).await?;
                Ok(json!({"code": new, "old_code": old}))
            }
            Kind::Retrieve => {
                let c: RetrievePayload = parse_payload(kind, &payload)?;
                let row = tx
                    .customer_by_code(&c.code)
                    .await?
                    .ok_or_else(|| AppError::not_found("customer", &c.code))?;
                if row.status != "archived" {
                    return Err(AppError::Conflict(Violation::new(
                        "customer.not_archived",
                        format!("客户“{}”已不再是归档状态（{}）", row.code, row.status),
                        format!(
                            "customer '{}' is no longer archived ({})",
                            row.code, row.status
                        ),
                    )));
                }
                let now = now_us();
                let expires = now + retrieval_duration(&c)?;
                tx.insert_retrieval(row.id, a.applicant_id, a.id, expires, now)
                    .await?;
                let mut r = record(by, "customer.retrieval_grant", "customer", &row.code);
                r.after = to_json(
                    &json!({"user_id": a.applicant_id, "expires_at": format_time(expires), "application": a.id}),
                );
                append(tx, r).await?;
                Ok(json!({"code": row.code, "expires_at": format_time(expires)}))
            }
            Kind::GrantPermission => {
                let g: GrantPayload = parse_payload(kind, &payload)?;
                self.check_grant(tx, &g).await.map_err(|e| match e {
                    AppError::Validation(f) => AppError::Conflict(Violation::new(
                        "grant.no_longer_valid",
                        format!(
                            "权限申请已无法执行：{}",
                            f.first()
                                .map(|x| x.violation.zh.clone())
                                .unwrap_or_default()
                        ),
                        format!(
                            "the grant can no longer be applied: {}",
                            f.first()
                                .map(|x| x.violation.en.clone())
                                .unwrap_or_default()
                        ),
                    )),
                    other => other,
                })?;
                let user_id = g.user_id.unwrap_or(a.applicant_id);
                let role = tx
                    .role_by_key(&g.role)
                    .await?
                    .ok_or_else(|| AppError::not_found("role", &g.role))?;
                // Administrative power is only handed out by an administrator.
                let perms: Vec<String> =
                    serde_json::from_str(&role.permissions).unwrap_or_default();
                if perms
                    .iter()
                    .any(|p| p == "role.manage" || p == "user.manage")
                    && !by.can("role.manage")
                {
                    return Err(AppError::Forbidden {
                        permission: format!("role.manage（授予含管理权限的角色“{}”须由系统管理员审批 / granting '{}' needs an administrator's approval)", g.role, g.role),
                    });
                }
                let scope = g.scope.clone().unwrap_or_else(|| "own".into());
                let expires = match &g.expires_at {
                    Some(t) => Some(parse_time("payload.expires_at", t)?),
                    None => None,
                };
                tx.upsert_grant(user_id, role.id, &scope, expires).await?;
                let mut r = record(by, "user.grant", "user", &user_id.to_string());
                r.after = to_json(
                    &json!({"role": g.role, "scope": scope, "expires_at": expires.map(format_time), "application": a.id}),
                );
                r.reason = a.reason.clone();
                append(tx, r).await?;
                Ok(
                    json!({"user_id": user_id, "role": g.role, "scope": scope, "expires_at": expires.map(format_time)}),
                )
            }
            Kind::PublishRule => {
                let r: PublishRulePayload = parse_payload(kind, &payload)?;
                let v = crate::codes::publish_code_rule_in(tx, by, &r.key).await?;
                Ok(json!({"rule": r.key, "published_version": v.published_version}))
            }
            Kind::Merge => {
                let (mut req, versions) = merge_payload(kind, &payload)?;
                self.check_versions(tx, &versions).await?;
                if req.reason.is_none() {
                    req.reason = a
                        .reason
                        .clone()
                        .or_else(|| Some(format!("申请单 #{}", a.id)));
                }
                let elevated = effect_actor(&applicant, &["customer.merge"]);
                let r = self.merge_in(tx, &elevated, req, None).await?;
                Ok(json!({"code": r.survivor.code, "merged": r.merged, "merge_id": r.merge_id}))
            }
            Kind::Split => {
                let (code, mut req, version) = split_payload(kind, &payload)?;
                if let Some(v) = version {
                    self.check_versions(tx, &[(code.clone(), v)]).await?;
                }
                if req.reason.is_none() {
                    req.reason = a
                        .reason
                        .clone()
                        .or_else(|| Some(format!("申请单 #{}", a.id)));
                }
                let elevated = effect_actor(&applicant, &["customer.merge", "customer.create"]);
                let r = self.split_in(tx, &elevated, &code, req).await?;
                let parts: Vec<&str> = r.parts.iter().map(|p| p.code.as_str()).collect();
                Ok(json!({"code": r.original.code, "parts": parts}))
            }
        }
    }

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

    /// Retire, archive or reactivate a customer: status, history, registry, audit.
    async fn set_customer_status(
        &self,
        tx: &mut Tx,
        by: &Actor,
        a: &ApplicationRow,
        k: Kind,
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
        let (from, to) = status_transition(k);
        if !from.contains(&row.status.as_str()) {
            return Err(status_refused(&row, k));
        }
        let now = now_us();
        let updated = tx
            .update_customer(&CustomerRow {
                status: to.to_string(),
                updated_at: now,
                ..row.clone()
            })
            .await?;
        if k == Kind::Retire {
            // The code stays in the registry forever (never reissued); it now says retired.
            tx.update_code(&row.code, Some(row.id), "retired", None)
                .await?;
        }
        let action = match k {
            Kind::Retire => "retire",
            Kind::Archive => "archive",
            _ => "reactivate",
        };
        let reason = a
            .reason
            .clone()
            .or_else(|| Some(format!("申请单 #{}", a.id)));
        let changes = json!([{"field": "status", "old": row.status, "new": to}]);
        tx.insert_customer_history(&custos_store::customer_master::HistoryRow {
            id: 0,
            customer_id: row.id,
            row_version: updated.row_version,
            at: now,
            actor_id: Some(by.user_id),
            actor_name: by.username.clone(),
            action: action.to_string(),
            reason: reason.clone(),
            changes: changes.to_string(),
            snapshot: crate::customers::snapshot_of(&updated),
        })
        .await?;
        let mut r = record(by, &format!("customer.{action}"), "customer", &row.code);
        r.before = to_json(&json!({"status": row.status}));
        r.after = to_json(&json!({"status": to, "application": a.id}));
        r.reason = reason;
        append(tx, r).await?;
        Ok(updated)
    }

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
        if !crate::customers::EDITABLE_STATUSES.contains(&row.status.as_str()) {
            return Err(status_refused(&row, Kind::ChangeCode));
        }
        let mut attributes = BTreeMap::new();
        attributes.insert("customer_type".to_string(), row.customer_type.clone());
        if let Some(l) = &row.level {
            attributes.insert("level".to_string(), l.clone());
        }
        if let Some(i) = &row.industry {
            attributes.insert("industry".to_string(), i.clone());
        }
        let drawn = crate::codes::draw_code(
            tx,
            &mut Lookups::default(),
            self.config.code_timezone,
            &attributes,
            &row.customer_type,
            row.region_code.as_deref(),
            c.new_code.as_deref(),
        )
        .await
        .map_err(|e| match e {
            AppError::Validation(f) => AppError::Validation(
                f.into_iter()
                    .map(|x| FieldError {
                        field: if x.field == "code" {
                            "payload.new_code".into()
                        } else {
                            x.field
                        },
                        violation: x.violation,
                    })
                    .collect(),
            ),
            other => other,
        })?;
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
        tx.insert_customer_history(&custos_store::customer_master::HistoryRow {
            id: 0,
            customer_id: row.id,
            row_version: updated.row_version,
            at: now,
            actor_id: Some(by.user_id),
            actor_name: by.username.clone(),
            action: "change_code".into(),
            reason: reason.clone(),
            changes: changes.to_string(),
            snapshot: crate::customers::snapshot_of(&updated),
        })
        .await?;
        let mut r = record(by, "customer.change_code", "customer", &drawn.code);
        r.before = to_json(&json!({"code": row.code}));
        r.after = to_json(&json!({"code": drawn.code, "application": a.map(|a| a.id)}));
        r.reason = reason;
        append(tx, r).await?;
        Ok((row.code, drawn.code))
    }

    /// Lock an application for a decision and find the caller's pending task in the
    /// current step.
    async fn my_task(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: i64,
    ) -> AppResult<(ApplicationRow, TaskRow, Vec<TaskRow>)> {
        let a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        let tasks = tx.tasks_of(id).await?;
        let current: Vec<&TaskRow> = tasks
            .iter()
            .filter(|t| {
                t.round == a.round && t.step == a.current_step && t.user_id == actor.user_id
            })
            .collect();
        if !self.can_view(tx, actor, &a, &tasks).await? {
            return Err(AppError::not_found("application", id));
        }
        if !["submitted", "in_review"].contains(&a.state.as_str()) {
            return Err(not_in_review(&a));
        }
        if let Some(t) = current.iter().find(|t| t.decision.is_none()) {
            let t = (*t).clone();
            deciders::ensure_may_decide(tx, &a, &t).await?;
            return Ok((a, t, tasks));
        }
        if current
            .iter()
            .any(|t| t.decision.as_deref() == Some(deciders::REASSIGNED))
        {
            return Err(deciders::task_reassigned(id));
        }
        if !current.is_empty() {
            return Err(AppError::Conflict(Violation::new(
                "application.already_decided",
                format!("申请单 #{id} 的当前步骤已处理（您或其他审批人已作出决定）"),
                format!("the current step of application #{id} has already been decided (by you or another approver)"),
            )));
        }
        Err(not_approver(id))
    }

    /// Approve the current step as one of its approvers; the last approval applies the
    /// effect in the same transaction.
    pub async fn approve_application(
        &self,
        actor: &Actor,
        id: i64,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let comment = clean_text("comment", comment.as_deref(), 1000)?;
        let mut tx = self.db.begin().await?;
        let (mut a, task, tasks) = self.my_task(&mut tx, actor, id).await?;
        let now = now_us();
        if !tx
            .decide_task(task.id, "approve", comment.as_deref(), now)
            .await?
        {
            return Err(AppError::Conflict(Violation::new(
                "application.already_decided",
                format!("申请单 #{id} 的当前步骤已由他人处理"),
                format!("the current step of application #{id} was decided by someone else"),
            )));
        }
        let flow = frozen(&a)?;
        let step = flow.steps.get(a.current_step as usize).cloned();
        let mode = step.as_ref().map(|s| s.mode).unwrap_or_default();
        let others_pending = tasks
            .iter()
            .filter(|t| {
                t.round == a.round
                    && t.step == a.current_step
                    && t.id != task.id
                    && t.decision.is_none()
            })
            .count();
        let from = a.state.clone();
        let step_done = mode == StepMode::Any || others_pending == 0;
        a.state = "in_review".into();
        a.updated_at = now;
        trail(
            &mut tx,
            &a,
            Trail {
                actor,
                action: "approve",
                step: Some(a.current_step),
                from: &from,
                comment: comment.clone(),
                detail: None,
            },
        )
        .await?;
        if step_done {
            tx.close_pending_tasks(a.id, "skipped", now).await?;
            let next = a.current_step as usize + 1;
            if next < flow.steps.len() {
                notify(
                    &mut tx,
                    a.applicant_id,
                    a.id,
                    "progress",
                    format!("申请进展：{} #{}", kind_zh(&a.kind), a.id),
                    format!(
                        "您的申请单 #{} 已通过步骤“{}”（{}）。",
                        a.id,
                        step.as_ref().map(|s| s.name.as_str()).unwrap_or(""),
                        actor.display_name
                    ),
                )
                .await?;
            }
            self.enter_step(&mut tx, &mut a, &flow, next, actor).await?;
        }
        tx.update_application(&a).await?;
        a.row_version += 1;
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Reject (a reason is required): the application is closed.
    pub async fn reject_application(
        &self,
        actor: &Actor,
        id: i64,
        reason: Option<String>,
    ) -> AppResult<ApplicationView> {
        let Some(reason) = clean_text("reason", reason.as_deref(), 1000)? else {
            return Err(AppError::validation(
                "reason",
                Violation::new(
                    "reason.required",
                    "驳回必须填写原因",
                    "a rejection needs a reason",
                ),
            ));
        };
        self.close_step(actor, id, "reject", "rejected", Some(reason))
            .await
    }

    /// Return for revision (退回修改): the applicant may resubmit.
    pub async fn return_application(
        &self,
        actor: &Actor,
        id: i64,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let comment = clean_text("comment", comment.as_deref(), 1000)?;
        self.close_step(actor, id, "return", "returned", comment)
            .await
    }

    async fn close_step(
        &self,
        actor: &Actor,
        id: i64,
        decision: &str,
        state: &str,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let mut tx = self.db.begin().await?;
        let (mut a, task, _) = self.my_task(&mut tx, actor, id).await?;
        let now = now_us();
        if !tx
            .decide_task(task.id, decision, comment.as_deref(), now)
            .await?
        {
            return Err(AppError::Conflict(Violation::new(
                "application.already_decided",
                format!("申请单 #{id} 的当前步骤已由他人处理"),
                format!("the current step of application #{id} was decided by someone else"),
            )));
        }
        tx.close_pending_tasks(a.id, "cancelled", now).await?;
        let from = a.state.clone();
        a.state = state.to_string();
        a.updated_at = now;
        if state == "rejected" {
            a.closed_at = Some(now);
        }
        trail(
            &mut tx,
            &a,
            Trail {
                actor,
                action: decision,
                step: Some(a.current_step),
                from: &from,
                comment: comment.clone(),
                detail: None,
            },
        )
        .await?;
        let (title, body) = if state == "rejected" {
            (
                format!("申请被驳回：{} #{}", kind_zh(&a.kind), a.id),
                format!(
                    "您的申请单 #{} 被 {} 驳回，原因：{}",
                    a.id,
                    actor.display_name,
                    comment.clone().unwrap_or_default()
                ),
            )
        } else {
            (
                format!("申请被退回修改：{} #{}", kind_zh(&a.kind), a.id),
                format!(
                    "您的申请单 #{} 被 {} 退回修改{}，请修改后重新提交。",
                    a.id,
                    actor.display_name,
                    comment
                        .clone()
                        .map(|c| format!("（{c}）"))
                        .unwrap_or_default()
                ),
            )
        };
        notify(&mut tx, a.applicant_id, a.id, decision, title, body).await?;
        tx.update_application(&a).await?;
        a.row_version += 1;
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Resubmit a returned application (or submit a draft), optionally with a new
    /// payload; it is validated again and starts the flow from its first step.
    pub async fn resubmit_application(
        &self,
        actor: &Actor,
        id: i64,
        payload: Option<Value>,
        reason: Option<String>,
    ) -> AppResult<ApplicationView> {
        actor.require("application.submit")?;
        let reason = clean_text("reason", reason.as_deref(), 500)?;
        if let Some(p) = &payload {
            crate::text_input::refuse_in_value("payload", p)?;
        }
        let mut tx = self.db.begin().await?;
        let mut a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        if a.applicant_id != actor.user_id {
            return Err(AppError::not_found("application", id));
        }
        if !["returned", "draft"].contains(&a.state.as_str()) {
            return Err(AppError::Conflict(Violation::new(
                "application.not_returned",
                format!("申请单 #{id} 状态为 {}，只有退回或草稿状态的申请可以（重新）提交", a.state),
                format!("application #{id} is {}; only returned applications and drafts can be (re)submitted", a.state),
            )));
        }
        let payload = match payload {
            Some(p) => p,
            None => self.open_payload(&a)?,
        };
        let prepared = self.prepare(&mut tx, actor, &a.kind, &payload).await?;
        let from = a.state.clone();
        if from == "returned" {
            a.round += 1;
        }
        a.payload = self.seal_payload(&prepared.payload);
        a.target = prepared.target.clone();
        a.duplicates = prepared.duplicates.as_ref().and_then(to_json);
        if reason.is_some() {
            a.reason = reason;
        }
        a.current_step = 0;
        let action = if from == "draft" {
            "submit"
        } else {
            "resubmit"
        };
        self.start_round(&mut tx, &mut a, actor, &prepared, action, &from)
            .await?;
        tx.update_application(&a).await?;
        a.row_version += 1;
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Withdraw one's own application before it ends.
    pub async fn withdraw_application(&self, actor: &Actor, id: i64) -> AppResult<ApplicationView> {
        let mut tx = self.db.begin().await?;
        let mut a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        if a.applicant_id != actor.user_id {
            let tasks = tx.tasks_of(id).await?;
            if self.can_view(&mut tx, actor, &a, &tasks).await? {
                return Err(AppError::Forbidden {
                    permission: "application.withdraw (applicant only / 仅申请人)".into(),
                });
            }
            return Err(AppError::not_found("application", id));
        }
        if closed_states().contains(&a.state.as_str()) {
            return Err(application_closed(&a));
        }
        let now = now_us();
        let pending: Vec<i64> = tx
            .tasks_of(id)
            .await?
            .into_iter()
            .filter(|t| t.decision.is_none())
            .map(|t| t.user_id)
            .collect();
        tx.close_pending_tasks(id, "cancelled", now).await?;
        let from = a.state.clone();
        a.state = "withdrawn".into();
        a.closed_at = Some(now);
        a.updated_at = now;
        trail(
            &mut tx,
            &a,
            Trail {
                actor,
                action: "withdraw",
                step: Some(a.current_step),
                from: &from,
                comment: None,
                detail: None,
            },
        )
        .await?;
        for u in pending {
            notify(
                &mut tx,
                u,
                a.id,
                "withdrawn",
                format!("申请已撤回：{} #{}", kind_zh(&a.kind), a.id),
                format!("申请单 #{} 已被申请人撤回，无需再审批。", a.id),
            )
            .await?;
        }
        tx.update_application(&a).await?;
        a.row_version += 1;
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Hand one's pending task to another user; an administrator (`role.manage`) may
    /// reassign anyone's task with `from_user`.
    pub async fn delegate_application(
        &self,
        actor: &Actor,
        id: i64,
        to_user: i64,
        from_user: Option<i64>,
        comment: Option<String>,
    ) -> AppResult<ApplicationView> {
        let comment = clean_text("comment", comment.as_deref(), 1000)?;
        let mut tx = self.db.begin().await?;
        let a = tx
            .application_for_update(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        let tasks = tx.tasks_of(id).await?;
        if !self.can_view(&mut tx, actor, &a, &tasks).await? {
            return Err(AppError::not_found("application", id));
        }
        if !["submitted", "in_review"].contains(&a.state.as_str()) {
            return Err(not_in_review(&a));
        }
        if a.needs_admin.is_some() && from_user.is_none() && actor.can("role.manage") {
            // Nobody holds the step: the administrator names its approver.
            let mut a = a;
            deciders::assign_waiting(&mut tx, actor, &mut a, to_user, comment).await?;
            let view = self.view_in(&mut tx, actor, &a).await?;
            tx.commit().await?;
            return Ok(view);
        }
        let from_user = from_user.unwrap_or(actor.user_id);
        if from_user != actor.user_id && !actor.can("role.manage") {
            actor.require("role.manage")?;
        }
        let in_step = |u: i64| {
            tasks
                .iter()
                .find(|t| {
                    t.round == a.round
                        && t.step == a.current_step
                        && t.user_id == u
                        && t.decision.is_none()
                })
                .cloned()
        };
        let Some(task) = in_step(from_user) else {
            return Err(if from_user == actor.user_id {
                not_approver(id)
            } else {
                AppError::validation(
                    "from_user",
                    Violation::new(
                        "application.no_task",
                        format!("用户 {from_user} 在申请单 #{id} 的当前步骤没有待办"),
                        format!("user {from_user} has no pending task in the current step of application #{id}"),
                    ),
                )
            });
        };
        if from_user == actor.user_id {
            // Handing a task on is a decision: only someone who still qualifies may.
            deciders::ensure_may_decide(&mut tx, &a, &task).await?;
        }
        let bad = |code: &str, zh: String, en: String| {
            AppError::validation("to_user", Violation::new(code, zh, en))
        };
        if to_user == from_user || in_step(to_user).is_some() {
            return Err(bad(
                "application.already_approver",
                format!("用户 {to_user} 已是当前步骤的审批人"),
                format!("user {to_user} is already an approver of the current step"),
            ));
        }
        // The delegate must be someone who may decide the step themselves.
        deciders::check_delegate(&mut tx, &a, to_user).await?;
        let now = now_us();
        if !tx
            .decide_task(task.id, "delegated", comment.as_deref(), now)
            .await?
        {
            return Err(AppError::Conflict(Violation::new(
                "application.already_decided",
                format!("申请单 #{id} 的当前步骤已由他人处理"),
                format!("the current step of application #{id} was decided by someone else"),
            )));
        }
        tx.insert_task(&TaskRow {
            id: 0,
            application_id: a.id,
            round: a.round,
            step: a.current_step,
            user_id: to_user,
            decision: None,
            decided_at: None,
            comment: None,
            delegated_from: Some(from_user),
            created_at: now,
        })
        .await?;
        trail(
            &mut tx,
            &a,
            Trail {
                actor,
                action: "delegate",
                step: Some(a.current_step),
                from: &a.state,
                comment: comment.clone(),
                detail: Some(json!({"from_user": from_user, "to_user": to_user})),
            },
        )
        .await?;
        notify(
            &mut tx,
            to_user,
            a.id,
            "task",
            format!("待审批（转交）：{} #{}", kind_zh(&a.kind), a.id),
            format!("{} 将申请单 #{} 的审批转交给您。", actor.display_name, a.id),
        )
        .await?;
        // Bump the version so a concurrent decision based on the old task list notices.
        let mut a = a;
        a.updated_at = now;
        tx.update_application(&a).await?;
        a.row_version += 1;
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Applicant, anyone with a task on it, and reviewers with an unrestricted scope.
    async fn can_view(
        &self,
        _tx: &mut Tx,
        actor: &Actor,
        a: &ApplicationRow,
        tasks: &[TaskRow],
    ) -> AppResult<bool> {
        Ok(a.applicant_id == actor.user_id
            || tasks.iter().any(|t| t.user_id == actor.user_id)
            || actor.permissions.get("application.approve") == Some(&Scope::All)
            || actor.can("role.manage"))
    }

    async fn view_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        a: &ApplicationRow,
    ) -> AppResult<ApplicationView> {
        let tasks = tx.tasks_of(a.id).await?;
        let events = tx.application_events(a.id).await?;
        let mut names: BTreeMap<i64, String> = BTreeMap::new();
        for id in tasks.iter().map(|t| t.user_id).chain([a.applicant_id]) {
            if let std::collections::btree_map::Entry::Vacant(e) = names.entry(id) {
                let n = tx.user(id).await?.map(|u| u.username).unwrap_or_default();
                e.insert(n);
            }
        }
        let mut payload = self.open_payload(a)?;
        let duplicates = self.duplicates_for_reader(tx, actor, a, &payload).await?;
        if !actor.can("customer.pii.read") {
            mask_payload(&mut payload);
        }
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
        };
        let result = parse(&a.result);
        Ok(ApplicationView {
            id: a.id,
            kind: a.kind.clone(),
            kind_name: kind_zh(&a.kind).to_string(),
            state: a.state.clone(),
            applicant_id: a.applicant_id,
            applicant: names.get(&a.applicant_id).cloned().unwrap_or_default(),
            department_id: a.department_id,
            target: a.target.clone(),
            reason: a.reason.clone(),
            payload,
            flow: frozen(a)?,
            current_step: a.current_step,
            round: a.round,
            duplicates,
            code: result
                .as_ref()
                .and_then(|r| r.get("code"))
                .and_then(Value::as_str)
                .map(str::to_string),
            result,
            tasks: tasks
                .iter()
                .map(|t| TaskView {
                    id: t.id,
                    round: t.round,
                    step: t.step,
                    user_id: t.user_id,
                    username: names.get(&t.user_id).cloned().unwrap_or_default(),
                    decision: t.decision.clone(),
                    decided_at: t.decided_at.map(format_time),
                    comment: t.comment.clone(),
                    delegated_from: t.delegated_from,
                    created_at: format_time(t.created_at),
                })
                .collect(),
            trail: events
                .into_iter()
                .map(|e| EventView {
                    at: format_time(e.at),
                    actor_id: e.actor_id,
                    actor: e.actor_name,
                    action: e.action,
                    step: e.step,
                    from_state: e.from_state,
                    to_state: e.to_state,
                    comment: e.comment,
                    detail: e.detail.and_then(|d| serde_json::from_str(&d).ok()),
                })
                .collect(),
            created_at: format_time(a.created_at),
            updated_at: format_time(a.updated_at),
            closed_at: a.closed_at.map(format_time),
            version: a.row_version,
            needs_admin: needs_admin_of(a),
        })
    }

    /// One application with its whole trail.
    pub async fn get_application(&self, actor: &Actor, id: i64) -> AppResult<ApplicationView> {
        let mut tx = self.db.begin_read().await?;
        let a = tx
            .application(id)
            .await?
            .ok_or_else(|| AppError::not_found("application", id))?;
        let tasks = tx.tasks_of(id).await?;
        if !self.can_view(&mut tx, actor, &a, &tasks).await? {
            return Err(AppError::not_found("application", id));
        }
        let view = self.view_in(&mut tx, actor, &a).await?;
        tx.rollback().await?;
        Ok(view)
    }

    /// Applications, newest first. Without a broad reviewer scope only one's own (or,
    /// with `involved`, those one has a task on).
    pub async fn list_applications(
        &self,
        actor: &Actor,
        q: ApplicationQuery,
    ) -> AppResult<Vec<ApplicationSummary>> {
        let mut e = Vec::new();
        if let Some(k) = &q.kind {
            if Kind::parse(k).is_none() {
                e.push(unknown_kind("kind", k));
            }
        }
        if let Some(s) = &q.state {
            if !STATES.contains(&s.as_str()) {
                e.push(
                    Violation::new(
                        "application.state_unknown",
                        format!("状态“{s}”不存在，可选：{}", STATES.join("、")),
                        format!(
                            "state '{s}' does not exist; choose one of {}",
                            STATES.join(", ")
                        ),
                    )
                    .on("state"),
                );
            }
        }
        let mut created_from = None;
        let mut created_to = None;
        for (field, v, slot) in [
            ("from", &q.from, &mut created_from),
            ("to", &q.to, &mut created_to),
        ] {
            if let Some(v) = v {
                match parse_time(field, v) {
                    Ok(t) => *slot = Some(t),
                    Err(AppError::Validation(f)) => e.extend(f),
                    Err(other) => return Err(other),
                }
            }
        }
        if !e.is_empty() {
            return Err(AppError::Validation(e));
        }
        let broad = actor.permissions.get("application.approve") == Some(&Scope::All)
            || actor.can("role.manage");
        let mut f = ApplicationFilter {
            kind: q.kind.clone(),
            state: q.state.clone(),
            created_from,
            created_to,
            before_id: q.before,
            needs_admin: q.needs_admin == Some(true),
            limit: q.limit.unwrap_or(50).clamp(1, 500),
            ..Default::default()
        };
        if q.involved == Some(true) {
            f.involving = Some(actor.user_id);
        } else if q.mine == Some(true) || !broad {
            f.applicant_id = Some(actor.user_id);
        }
        let mut tx = self.db.begin_read().await?;
        let rows = tx.applications(&f).await?;
        tx.rollback().await?;
        Ok(rows.iter().map(summary).collect())
    }

    /// My pending tasks with counts.
    pub async fn inbox(&self, actor: &Actor) -> AppResult<Inbox> {
        let mut tx = self.db.begin_read().await?;
        let tasks = tx.pending_tasks_of_user(actor.user_id).await?;
        let mut pending = Vec::new();
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        for t in tasks {
            let Some(a) = tx.application(t.application_id).await? else {
                continue;
            };
            if a.round != t.round || a.current_step != t.step {
                continue;
            }
            let step_name = frozen(&a)
                .ok()
                .and_then(|f| f.steps.get(t.step as usize).map(|s| s.name.clone()))
                .unwrap_or_default();
            *by_kind.entry(a.kind.clone()).or_default() += 1;
            pending.push(InboxItem {
                task_id: t.id,
                step: t.step,
                step_name,
                waiting_since: format_time(t.created_at),
                delegated_from: t.delegated_from,
                application: summary(&a),
            });
        }
        let unread = tx.count_unread_notifications(actor.user_id).await?;
        let needs_admin = deciders::waiting_for_admin(&mut tx, actor).await?;
        tx.rollback().await?;
        Ok(Inbox {
            counts: InboxCounts {
                pending: pending.len(),
                needs_admin: needs_admin.len(),
                by_kind,
                unread_notifications: unread,
            },
            pending,
            needs_admin,
        })
    }

    /// My notifications, newest first.
    pub async fn notifications(
        &self,
        actor: &Actor,
        unread_only: bool,
    ) -> AppResult<Vec<NotificationView>> {
        let mut tx = self.db.begin_read().await?;
        let rows = tx.notifications(actor.user_id, unread_only, 200).await?;
        tx.rollback().await?;
        Ok(rows
            .into_iter()
            .map(|n| NotificationView {
                id: n.id,
                application_id: n.application_id,
                kind: n.kind,
                title: n.title,
                body: n.body,
                created_at: format_time(n.created_at),
                read: n.read_at.is_some(),
            })
            .collect())
    }

    pub async fn mark_notification_read(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        if !tx
            .mark_notification_read(id, actor.user_id, now_us())
            .await?
        {
            return Err(AppError::not_found("notification", id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Remind approvers of tasks pending longer than `older_than` (one reminder per task
    /// per period). Returns how many reminders were written.
    pub async fn remind_overdue_tasks(&self, older_than: std::time::Duration) -> AppResult<usize> {
        let period = older_than.as_micros() as i64;
        let now = now_us();
        let mut tx = self.db.begin().await?;
        let mut n = 0;
        for t in tx.pending_tasks_older_than(now - period).await? {
            let recent = tx
                .notifications(t.user_id, false, 200)
                .await?
                .into_iter()
                .any(|x| {
                    x.kind == "reminder"
                        && x.application_id == Some(t.application_id)
                        && x.created_at > now - period
                });
            if recent {
                continue;
            }
            let Some(a) = tx.application(t.application_id).await? else {
                continue;
            };
            notify(
                &mut tx,
                t.user_id,
                a.id,
                "reminder",
                format!("催办：{} #{}", kind_zh(&a.kind), a.id),
                format!(
                    "申请单 #{} 自 {} 起等待您审批。",
                    a.id,
                    format_time(t.created_at)
                ),
            )
            .await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Read an archived customer under an approved, unexpired retrieval (调阅); every
    /// read is audited.
    pub async fn retrieve_archived_customer(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<crate::customers::CustomerView> {
        let code = code.trim().to_ascii_uppercase();
        let mut tx = self.db.begin().await?;
        let row = tx
            .customer_by_code(&code)
            .await?
            .ok_or_else(|| AppError::not_found("customer", &code))?;
        if row.status != "archived" {
            return Err(AppError::not_found("archived customer", &code));
        }
        let Some(until) = tx.open_retrieval(row.id, actor.user_id, now_us()).await? else {
            return Err(AppError::Forbidden {
                permission: format!(
                    "retrieve {code}（需经批准的调阅申请 / an approved retrieve application）"
                ),
            });
        };
        let rec = crate::customers::record_of(&row, &self.config.pii_key)?;
        let reveal = actor.can("customer.pii.read");
        let mut r = record(actor, "customer.retrieve", "customer", &code);
        r.after = to_json(
            &json!({"until": format_time(until), "pii": reveal && crate::customers::has_pii(&rec)}),
        );
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(crate::customers::view(&row, &rec, reveal))
    }
}

/// Archived customers are hidden from normal search and reads, except for archive
/// managers (`customer.retire`); others read them through an approved retrieval.
pub(crate) fn archive_hidden_from(actor: &Actor) -> bool {
    !actor.can("customer.retire")
}

/// Refuse a normal read of an archived customer, pointing to the retrieval path.
pub(crate) fn check_archive_readable(actor: &Actor, row: &CustomerRow) -> AppResult<()> {
    if row.status == "archived" && archive_hidden_from(actor) {
        return Err(AppError::Forbidden {
            permission: format!(
                "retrieve {}（客户已归档，须经批准的调阅申请后在 /api/v1/archive/{} 查看 / archived: read it at /api/v1/archive/{} after an approved retrieve application）",
                row.code, row.code, row.code
            ),
        });
    }
    Ok(())
}

/// The applicant with the permissions an approved application confers for its effect:
/// the flow, not the applicant's roles, authorised it.
fn effect_actor(applicant: &Actor, permissions: &[&str]) -> Actor {
    let mut a = applicant.clone();
    for p in permissions {
        a.permissions.insert((*p).to_string(), Scope::All);
    }
    a
}

fn rename_field(e: AppError, from: &str, to: String) -> AppError {
    match e {
        AppError::Validation(f) => AppError::Validation(
            f.into_iter()
                .map(|x| FieldError {
                    field: if x.field == from { to.clone() } else { x.field },
                    violation: x.violation,
                })
                .collect(),
        ),
        other => other,
    }
}

/// A merge payload is a merge request plus, once stored, the participants' versions.
fn merge_payload(kind: &str, v: &Value) -> AppResult<(MergeRequest, Vec<(String, i64)>)> {
    let mut v = v.clone();
    let versions = take_versions(&mut v, "versions");
    Ok((parse_payload(kind, &v)?, versions))
}

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

fn not_approver(id: i64) -> AppError {
    AppError::Forbidden {
        permission: format!("application.approve（申请单 #{id} 当前步骤的审批人 / an approver of the current step of #{id}）"),
    }
}

/// Allowed source statuses and the target status of a status-changing kind.
fn status_transition(k: Kind) -> (&'static [&'static str], &'static str) {
    match k {
        Kind::Retire => (&["pending", "active", "dormant", "archived"], "retired"),
        Kind::Archive => (&["active", "dormant"], "archived"),
        Kind::Reactivate => (&["dormant", "archived"], "active"),
        _ => (crate::customers::EDITABLE_STATUSES, ""),
    }
}

fn status_refused(row: &CustomerRow, k: Kind) -> AppError {
    let (from, _) = status_transition(k);
    AppError::validation(
        "payload.code",
        Violation::new(
            "customer.status_transition",
            format!(
                "客户“{}”状态为 {}，不能执行此申请（须为 {}）",
                row.code,
                row.status,
                from.join("、")
            ),
            format!(
                "customer '{}' is {}; this application needs one of {}",
                row.code,
                row.status,
                from.join(", ")
            ),
        ),
    )
}

fn retrieval_duration(c: &RetrievePayload) -> AppResult<i64> {
    let max = MAX_RETRIEVAL_DAYS * DAY_US;
    let d = match (&c.expires_at, c.days) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "payload.days",
                Violation::new(
                    "retrieve.both",
                    "expires_at 与 days 只能给一个",
                    "give expires_at or days, not both",
                ),
            ))
        }
        (Some(t), None) => parse_time("payload.expires_at", t)? - now_us(),
        (None, Some(d)) => d.saturating_mul(DAY_US),
        (None, None) => DEFAULT_RETRIEVAL_DAYS * DAY_US,
    };
    if d <= 0 || d > max {
        return Err(AppError::validation(
            if c.days.is_some() {
                "payload.days"
            } else {
                "payload.expires_at"
            },
            Violation::new(
                "retrieve.duration",
                format!("调阅期限须在现在之后且不超过 {MAX_RETRIEVAL_DAYS} 天"),
                format!(
                    "a retrieval must end in the future and last at most {MAX_RETRIEVAL_DAYS} days"
                ),
            ),
        ));
    }
    Ok(d)
}
