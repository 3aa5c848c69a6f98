//! The authorisation matrix: every operation of the OpenAPI document (generated from the
//! router, so it lists every route) × every built-in role × a target inside and outside the
//! caller's data scope. An operation without an entry in [`MATRIX`] fails the test, so a new
//! endpoint cannot land without its expected access being written down here.
//!
//! What is asserted for each request:
//! - never a 5xx, and never a 401 for a valid token;
//! - a role without the operation's permission gets 403 (or a 422 that only names the body's
//!   shape, which tells nothing about any record);
//! - a role with it does not get 403, and on a customer outside its scope gets 404;
//! - no body shown to a role without `customer.pii.read` holds a seeded customer's unmasked
//!   ID number or mobile, and no body holds the name of a customer outside the caller's scope.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::{TestApp, USER_PASSWORD};
use custos_core::ident::IdNumber;

/// Who may call an operation.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// No token needed (login).
    Public,
    /// Any signed-in user (own notifications, own applications, `me`).
    Signed,
    /// Signed in and holding this permission.
    Perm(&'static str),
    /// Signed in and holding either permission.
    Either(&'static str, &'static str),
}

/// Operation → (who may call it, a body that passes deserialisation where it matters).
type Entry = (&'static str, &'static str, Need, Option<fn() -> Value>);

use Need::{Either, Perm, Public, Signed};

const MATRIX: &[Entry] = &[
    ("GET", "/api/v1/applications", Signed, None),
    (
        "POST",
        "/api/v1/applications",
        Perm("application.submit"),
        Some(new_application),
    ),
    ("GET", "/api/v1/applications/{id}", Signed, None),
    (
        "POST",
        "/api/v1/applications/{id}/approve",
        Perm("application.approve"),
        Some(decision),
    ),
    (
        "POST",
        "/api/v1/applications/{id}/delegate",
        Perm("application.approve"),
        Some(delegation),
    ),
    (
        "POST",
        "/api/v1/applications/{id}/reject",
        Perm("application.approve"),
        Some(decision),
    ),
    (
        "POST",
        "/api/v1/applications/{id}/resubmit",
        Perm("application.submit"),
        None,
    ),
    (
        "POST",
        "/api/v1/applications/{id}/return",
        Perm("application.approve"),
        Some(decision),
    ),
    (
        "POST",
        "/api/v1/applications/{id}/submit",
        Perm("application.submit"),
        None,
    ),
    (
        "POST",
        "/api/v1/applications/{id}/withdraw",
        Perm("application.submit"),
        None,
    ),
    ("GET", "/api/v1/archive/{code}", Perm("customer.read"), None),
    ("GET", "/api/v1/audit", Perm("audit.read"), None),
    ("POST", "/api/v1/auth/login", Public, None),
    ("POST", "/api/v1/auth/logout", Signed, None),
    ("GET", "/api/v1/code-rules", Perm("rule.read"), None),
    (
        "POST",
        "/api/v1/code-rules",
        Perm("rule.manage"),
        Some(new_rule),
    ),
    ("GET", "/api/v1/code-rules/{key}", Perm("rule.read"), None),
    (
        "GET",
        "/api/v1/code-rules/{key}/capacity",
        Perm("rule.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/code-rules/{key}/disable",
        Perm("rule.publish"),
        None,
    ),
    (
        "POST",
        "/api/v1/code-rules/{key}/preview",
        Perm("rule.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/code-rules/{key}/publish",
        Perm("rule.publish"),
        None,
    ),
    (
        "POST",
        "/api/v1/codes/validate",
        Perm("code.validate"),
        Some(code_check),
    ),
    ("GET", "/api/v1/customer-types", Signed, None),
    (
        "PUT",
        "/api/v1/customer-types",
        Perm("field.manage"),
        Some(customer_types),
    ),
    ("GET", "/api/v1/customers", Perm("customer.read"), None),
    ("POST", "/api/v1/customers", Perm("customer.create"), None),
    (
        "GET",
        "/api/v1/customers/{code}",
        Perm("customer.read"),
        None,
    ),
    (
        "PATCH",
        "/api/v1/customers/{code}",
        Perm("customer.update"),
        Some(customer_patch),
    ),
    (
        "GET",
        "/api/v1/customers/{code}/activities",
        Perm("activity.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/contracts",
        Perm("activity.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/customers/{code}/contracts",
        Perm("activity.write"),
        Some(new_contract),
    ),
    (
        "PATCH",
        "/api/v1/customers/{code}/contracts/{id}",
        Perm("activity.write"),
        Some(contract_patch),
    ),
    (
        "GET",
        "/api/v1/customers/{code}/credit",
        Perm("credit.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/customers/{code}/credit",
        Perm("credit.write"),
        Some(new_credit),
    ),
    (
        "GET",
        "/api/v1/customers/{code}/followups",
        Perm("activity.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/customers/{code}/followups",
        Perm("activity.write"),
        Some(new_followup),
    ),
    (
        "GET",
        "/api/v1/customers/{code}/interactions",
        Perm("activity.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/customers/{code}/interactions",
        Perm("activity.write"),
        Some(new_complaint),
    ),
    (
        "PATCH",
        "/api/v1/customers/{code}/interactions/{id}",
        Perm("activity.write"),
        Some(complaint_patch),
    ),
    (
        "GET",
        "/api/v1/customers/{code}/orders",
        Perm("activity.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/customers/{code}/orders",
        Perm("activity.write"),
        Some(new_order),
    ),
    (
        "GET",
        "/api/v1/customers/{code}/service-records",
        Perm("activity.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/customers/{code}/service-records",
        Perm("activity.write"),
        Some(new_service_record),
    ),
    (
        "POST",
        "/api/v1/customers/{code}/contacts",
        Perm("customer.update"),
        None,
    ),
    (
        "DELETE",
        "/api/v1/customers/{code}/contacts/{id}",
        Perm("customer.update"),
        None,
    ),
    (
        "PATCH",
        "/api/v1/customers/{code}/contacts/{id}",
        Perm("customer.update"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/history",
        Perm("customer.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/timeline",
        Perm("customer.read"),
        None,
    ),
    (
        "PUT",
        "/api/v1/customers/{code}/parent",
        Perm("customer.update"),
        Some(empty),
    ),
    (
        "GET",
        "/api/v1/customers/{code}/group",
        Perm("customer.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/overview",
        Perm("customer.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/lifecycle",
        Perm("customer.read"),
        None,
    ),
    ("GET", "/api/v1/reminders", Perm("customer.read"), None),
    (
        "GET",
        "/api/v1/customers/{code}/quality",
        Perm("quality.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/lineage",
        Perm("customer.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/merges",
        Perm("customer.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/customers/{code}/split",
        Perm("customer.merge"),
        None,
    ),
    (
        "GET",
        "/api/v1/customers/{code}/xrefs",
        Perm("customer.read"),
        None,
    ),
    (
        "PUT",
        "/api/v1/customers/{code}/xrefs/{system}",
        Perm("xref.manage"),
        Some(xref),
    ),
    (
        "DELETE",
        "/api/v1/customers/{code}/xrefs/{system}",
        Perm("xref.manage"),
        None,
    ),
    ("GET", "/api/v1/departments", Signed, None),
    (
        "POST",
        "/api/v1/departments",
        Perm("department.manage"),
        Some(department),
    ),
    ("GET", "/api/v1/departments/{id}", Signed, None),
    (
        "PATCH",
        "/api/v1/departments/{id}",
        Perm("department.manage"),
        Some(empty),
    ),
    (
        "POST",
        "/api/v1/duplicates/check",
        Perm("customer.read"),
        Some(dup_check),
    ),
    (
        "GET",
        "/api/v1/duplicates/groups",
        Perm("duplicate.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/duplicates/groups/{id}",
        Perm("duplicate.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/duplicates/groups/{id}/dismiss",
        Perm("duplicate.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/duplicates/groups/{id}/merge",
        Perm("duplicate.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/duplicates/scan",
        Perm("duplicate.manage"),
        Some(empty),
    ),
    ("GET", "/api/v1/events", Perm("events.read"), None),
    ("GET", "/api/v1/exports", Perm("export"), None),
    ("POST", "/api/v1/exports", Perm("export"), Some(export_job)),
    ("GET", "/api/v1/exports/jobs", Perm("export"), None),
    ("GET", "/api/v1/exports/{id}", Perm("export"), None),
    ("DELETE", "/api/v1/exports/{id}", Perm("export"), None),
    ("GET", "/api/v1/exports/{id}/file", Perm("export"), None),
    ("GET", "/api/v1/fields", Signed, None),
    ("POST", "/api/v1/fields", Perm("field.manage"), None),
    (
        "POST",
        "/api/v1/fields/standard",
        Perm("field.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/flows",
        Either("role.manage", "application.approve"),
        None,
    ),
    ("POST", "/api/v1/flows", Perm("role.manage"), None),
    (
        "POST",
        "/api/v1/flows/{key}/disable",
        Perm("role.manage"),
        None,
    ),
    ("POST", "/api/v1/imports", Perm("import"), None),
    ("GET", "/api/v1/imports/template", Perm("import"), None),
    ("GET", "/api/v1/imports/{id}", Perm("import"), None),
    ("GET", "/api/v1/imports/{id}/rejected", Perm("import"), None),
    ("POST", "/api/v1/imports/{id}/resume", Perm("import"), None),
    ("GET", "/api/v1/imports/{id}/sample", Perm("import"), None),
    ("GET", "/api/v1/inbox", Signed, None),
    ("GET", "/api/v1/me", Signed, None),
    ("POST", "/api/v1/merges", Perm("customer.merge"), None),
    (
        "POST",
        "/api/v1/merges/{id}/undo",
        Perm("customer.merge"),
        None,
    ),
    (
        "GET",
        "/api/v1/notification-channels",
        Perm("notifications.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/notification-channels",
        Perm("notifications.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/notification-channels/{id}",
        Perm("notifications.manage"),
        None,
    ),
    (
        "PATCH",
        "/api/v1/notification-channels/{id}",
        Perm("notifications.manage"),
        Some(empty),
    ),
    (
        "DELETE",
        "/api/v1/notification-channels/{id}",
        Perm("notifications.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/notification-channels/{id}/deliveries",
        Perm("notifications.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/notification-channels/{id}/test",
        Perm("notifications.manage"),
        None,
    ),
    ("GET", "/api/v1/notifications", Signed, None),
    ("POST", "/api/v1/notifications/{id}/read", Signed, None),
    ("GET", "/api/v1/roles", Signed, None),
    ("POST", "/api/v1/roles", Perm("role.manage"), None),
    (
        "PATCH",
        "/api/v1/roles/{key}",
        Perm("role.manage"),
        Some(empty),
    ),
    ("GET", "/api/v1/quality/summary", Perm("quality.read"), None),
    ("GET", "/api/v1/quality/trend", Perm("quality.read"), None),
    (
        "GET",
        "/api/v1/quality/worklist",
        Perm("quality.read"),
        None,
    ),
    (
        "POST",
        "/api/v1/quality/worklist/assign",
        Perm("quality.manage"),
        Some(quality_assign),
    ),
    (
        "POST",
        "/api/v1/quality/recompute",
        Perm("quality.manage"),
        Some(empty),
    ),
    ("GET", "/api/v1/stats/customers", Perm("stats.read"), None),
    (
        "GET",
        "/api/v1/reports/customer-flow",
        Perm("stats.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/reports/repeat-purchase",
        Perm("stats.read"),
        None,
    ),
    (
        "GET",
        "/api/v1/reports/code-usage",
        Perm("stats.read"),
        None,
    ),
    ("GET", "/api/v1/service-accounts", Perm("user.manage"), None),
    (
        "POST",
        "/api/v1/service-accounts",
        Perm("user.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/service-accounts/{id}",
        Perm("user.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/service-accounts/{id}/disable",
        Perm("user.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/service-accounts/{id}/enable",
        Perm("user.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/service-accounts/{id}/keys",
        Perm("user.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/service-accounts/{id}/keys",
        Perm("user.manage"),
        Some(new_api_key),
    ),
    (
        "DELETE",
        "/api/v1/service-accounts/{id}/keys/{key_id}",
        Perm("user.manage"),
        None,
    ),
    ("GET", "/api/v1/webhooks", Perm("webhooks.manage"), None),
    (
        "POST",
        "/api/v1/webhooks",
        Perm("webhooks.manage"),
        Some(new_webhook),
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}",
        Perm("webhooks.manage"),
        None,
    ),
    (
        "PATCH",
        "/api/v1/webhooks/{id}",
        Perm("webhooks.manage"),
        Some(empty),
    ),
    (
        "DELETE",
        "/api/v1/webhooks/{id}",
        Perm("webhooks.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}/deliveries",
        Perm("webhooks.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/webhooks/{id}/replay",
        Perm("webhooks.manage"),
        Some(replay),
    ),
    (
        "POST",
        "/api/v1/webhooks/{id}/rotate-secret",
        Perm("webhooks.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/webhooks/{id}/test",
        Perm("webhooks.manage"),
        None,
    ),
    ("GET", "/api/v1/users", Perm("user.read"), None),
    ("POST", "/api/v1/users", Perm("user.manage"), None),
    ("GET", "/api/v1/users/{id}", Signed, None),
    (
        "PATCH",
        "/api/v1/users/{id}",
        Perm("user.manage"),
        Some(empty),
    ),
    (
        "POST",
        "/api/v1/users/{id}/unlock",
        Perm("user.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/xrefs/{system}/{source_id}",
        Perm("customer.read"),
        None,
    ),
    (
        "PUT",
        "/api/v1/sources/{system}/customers/{source_id}",
        Perm("xref.manage"),
        Some(source_customer),
    ),
    (
        "POST",
        "/api/v1/sources/{system}/customers/batch",
        Perm("xref.manage"),
        Some(source_batch),
    ),
    (
        "GET",
        "/api/v1/sources/queue",
        Perm("duplicate.manage"),
        None,
    ),
    (
        "GET",
        "/api/v1/sources/queue/{id}",
        Perm("duplicate.manage"),
        None,
    ),
    (
        "POST",
        "/api/v1/sources/queue/{id}/decision",
        Perm("duplicate.manage"),
        Some(queue_decision),
    ),
    (
        "GET",
        "/api/v1/codes/{code}/resolve",
        Perm("customer.read"),
        None,
    ),
];

fn source_customer() -> Value {
    json!({"customer_type": "enterprise", "name": "矩阵来源有限公司"})
}
fn source_batch() -> Value {
    json!({"items": [{"source_id": "ERP-2", "customer": source_customer()}]})
}
fn queue_decision() -> Value {
    json!({"action": "reject", "reason": "矩阵"})
}

fn new_api_key() -> Value {
    json!({"name": "矩阵"})
}
fn new_webhook() -> Value {
    json!({"name": "矩阵", "url": "http://127.0.0.1:9/hook"})
}
fn replay() -> Value {
    json!({"from": 1})
}
fn empty() -> Value {
    json!({})
}
fn new_application() -> Value {
    json!({"kind": "new_code", "payload": {"customer_type": "enterprise", "name": "矩阵测试有限公司"}})
}
fn decision() -> Value {
    json!({"comment": "矩阵"})
}
fn delegation() -> Value {
    json!({"to": 1, "comment": "矩阵"})
}
fn new_rule() -> Value {
    json!({"key": "matrix", "name": "矩阵", "segments": [{"kind": "constant", "value": "M"},
        {"kind": "sequence", "width": 5}]})
}
fn code_check() -> Value {
    json!({"code": "C000001"})
}
fn customer_types() -> Value {
    json!({"types": [{"key": "enterprise", "name": "企业"}]})
}
fn customer_patch() -> Value {
    json!({"version": 1, "short_name": "矩阵"})
}
fn new_contract() -> Value {
    json!({"number": "HT-1", "amount": "1000.00", "status": "signed", "signed_on": "2026-01-05"})
}
fn contract_patch() -> Value {
    json!({"status": "terminated"})
}
fn new_credit() -> Value {
    json!({"rating": "A", "rated_on": "2026-01-05", "limit": 5000})
}
fn new_followup() -> Value {
    json!({"channel": "call", "content": "矩阵跟进", "result": "需求确认"})
}
fn new_complaint() -> Value {
    json!({"kind": "complaint", "content": "矩阵投诉"})
}
fn complaint_patch() -> Value {
    json!({"status": "in_progress"})
}
fn new_order() -> Value {
    json!({"source_system": "erp", "document_number": "SO-1", "date": "2026-01-05", "amount": 10})
}
fn new_service_record() -> Value {
    json!({"problem": "矩阵服务"})
}
fn xref() -> Value {
    json!({"source_id": "ERP-1"})
}
fn department() -> Value {
    json!({"name": "矩阵部"})
}
fn dup_check() -> Value {
    json!({"customer_type": "individual", "name": "张三"})
}
fn quality_assign() -> Value {
    json!({"codes": ["C00000001"], "assignee_id": 1})
}
fn export_job() -> Value {
    json!({"format": "csv"})
}

/// The built-in roles and the permissions each holds (from the app's own table).
fn role_permissions() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    custos_app::actor::builtin_roles()
        .into_iter()
        .map(|(key, _, perms)| (key, perms.into_iter().collect()))
        .collect()
}

/// A seeded individual customer: code, name and the plaintext PII that must not leak.
struct Seeded {
    code: String,
    name: String,
    pii: Vec<String>,
}

async fn seed_customer(t: &TestApp, admin: &str, n: usize, owner: Option<i64>) -> Seeded {
    let today = chrono::Utc::now().date_naive();
    let id = IdNumber::with_check(&format!("11010519800101{:03}", 100 + n), today)
        .expect("id number")
        .as_str()
        .to_string();
    let mobile = format!("139{:08}", 12_345_670 + n);
    let name = format!(
        "矩阵客户{}号",
        ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛"][n % 8]
    );
    let v = create(
        t,
        admin,
        json!({"customer_type": "individual", "name": name, "id_number": id,
               "mobile": mobile, "owner_id": owner}),
    )
    .await;
    Seeded {
        code: v["code"].as_str().expect("code").to_string(),
        name,
        pii: vec![id, mobile],
    }
}

/// Fill a path template's parameters; `{code}` with the given customer code.
fn fill(path: &str, code: &str) -> String {
    path.replace("{code}", code)
        .replace("{id}", "999999")
        .replace("{key_id}", "999999")
        .replace("{key}", "ind")
        .replace("{system}", "erp")
        .replace("{source_id}", "ERP-1")
}

/// Shape-only problems (the body did not deserialise): they say nothing about any record.
fn shape_only(body: &Value) -> bool {
    let fields = body["fields"].as_array().cloned().unwrap_or_default();
    !fields.is_empty()
        && fields.iter().all(|f| {
            let code = f["code"].as_str().unwrap_or("");
            code == "required" || code.starts_with("json.") || code.starts_with("request.")
        })
}

struct Call<'a> {
    role: &'a str,
    method: &'a str,
    template: &'a str,
    path: String,
    status: u16,
    body: String,
}

async fn call(
    t: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let m = Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = t.req(m.clone(), path, token);
    if m != Method::GET && m != Method::DELETE {
        req = req.json(&body.unwrap_or_else(empty));
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// What one role may see: its permissions, whether its scope is `all`, whether it reads PII.
struct Seer<'a> {
    held: &'a BTreeSet<&'static str>,
    scope_all: bool,
    pii_ok: bool,
}

fn problems(
    c: &Call,
    need: Need,
    seer: &Seer,
    in_scope: bool,
    out: &Seeded,
    all: &[Seeded],
) -> Vec<String> {
    let (held, in_scope_all, pii_ok) = (seer.held, seer.scope_all, seer.pii_ok);
    let mut bad = Vec::new();
    let what = format!(
        "{} {} {} as {} → {}",
        c.method, c.template, c.path, c.role, c.status
    );
    if c.status >= 500 {
        bad.push(format!("{what}: server error {}", c.body));
    }
    let allowed = match need {
        Public | Signed => true,
        Perm(p) => held.contains(p),
        Either(p, q) => held.contains(p) || held.contains(q),
    };
    if c.status == 401 && !matches!(need, Public) {
        bad.push(format!("{what}: a valid token was refused"));
    }
    if !allowed {
        let body: Value = serde_json::from_str(&c.body).unwrap_or(Value::Null);
        // A decision on an application the caller has no task in is "not found" to it.
        let hidden = c.status == 404 && c.template.starts_with("/api/v1/applications/{id}/");
        if c.status != 403 && !hidden && !(c.status == 422 && shape_only(&body)) {
            bad.push(format!(
                "{what}: expected 403 without the permission; body {}",
                c.body
            ));
        }
    } else if c.status == 403 && !c.template.contains("/applications/") {
        bad.push(format!(
            "{what}: refused although the role holds the permission; body {}",
            c.body
        ));
    }
    if allowed && !in_scope && c.template.contains("{code}") && c.status != 404 {
        bad.push(format!("{what}: a customer outside the scope must be 404"));
    }
    if !pii_ok {
        for s in all {
            for secret in &s.pii {
                if c.body.contains(secret.as_str()) {
                    bad.push(format!("{what}: body shows unmasked PII of {}", s.code));
                }
            }
        }
    }
    if !in_scope_all && c.body.contains(out.name.as_str()) {
        bad.push(format!("{what}: body names the customer outside the scope"));
    }
    bad
}

backend_test!(every_operation_by_every_role, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;

    // Every operation of the document has an entry, and every entry is an operation.
    let doc = serde_json::to_value(custos_web::openapi()).expect("openapi");
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                ops.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = ops.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "operations without a matrix entry: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&ops).collect();
    assert!(
        stale.is_empty(),
        "matrix entries for no operation: {stale:?}"
    );

    // One user per built-in role in department A with scope `own`, each owning one customer;
    // one more customer in department B owned by nobody in A.
    let dept_a = t.create_department(&admin, "矩阵甲部", None).await;
    let dept_b = t.create_department(&admin, "矩阵乙部", None).await;
    let owner_b = t
        .create_user(
            &admin,
            "matrix_owner_b",
            Some(dept_b),
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let roles = role_permissions();
    let mut seeded = Vec::new();
    let mut users = Vec::new();
    for (i, role) in roles.keys().enumerate() {
        let name = format!("matrix_{role}");
        let scope = if *role == "admin" { "all" } else { "own" };
        let id = t
            .create_user(
                &admin,
                &name,
                Some(dept_a),
                json!([{"role": role, "scope": scope}]),
            )
            .await;
        seeded.push(seed_customer(&t, &admin, i, Some(id)).await);
        users.push((role.to_string(), name));
    }
    let outside = seed_customer(&t, &admin, 7, Some(owner_b)).await;
    seeded.push(Seeded {
        code: outside.code.clone(),
        name: outside.name.clone(),
        pii: outside.pii.clone(),
    });

    let mut bad = Vec::new();
    let mut calls = 0usize;
    for (i, (role, user)) in users.iter().enumerate() {
        let held = &roles[role.as_str()];
        let seer = Seer {
            held,
            scope_all: role == "admin",
            pii_ok: held.contains("customer.pii.read"),
        };
        let token = t.login(user, USER_PASSWORD).await;
        let mine = &seeded[i];
        for (method, template, need, body) in MATRIX {
            let targets: Vec<(&str, bool)> = if template.contains("{code}") {
                vec![
                    (mine.code.as_str(), true),
                    (outside.code.as_str(), *role == "admin"),
                ]
            } else {
                vec![(mine.code.as_str(), true)]
            };
            for (code, in_scope) in targets {
                let path = fill(template, code);
                // Logging out ends the token: use one of its own.
                let own_token;
                let tok = if *template == "/api/v1/auth/logout" {
                    own_token = t.login(user, USER_PASSWORD).await;
                    Some(own_token.as_str())
                } else if matches!(need, Public) {
                    None
                } else {
                    Some(token.as_str())
                };
                let payload = if *template == "/api/v1/auth/login" {
                    Some(json!({"username": user, "password": "not-the-password-at-all"}))
                } else {
                    body.map(|f| f())
                };
                let (status, text) = call(&t, tok, method, &path, payload).await;
                calls += 1;
                let c = Call {
                    role,
                    method,
                    template,
                    path,
                    status,
                    body: text,
                };
                bad.extend(problems(&c, *need, &seer, in_scope, &outside, &seeded));
            }
        }
    }
    // Without a token every operation but login is 401.
    for (method, template, need, body) in MATRIX {
        if matches!(need, Public) {
            continue;
        }
        let (status, _) = call(
            &t,
            None,
            method,
            &fill(template, &outside.code),
            body.map(|f| f()),
        )
        .await;
        calls += 1;
        if status != 401 {
            bad.push(format!(
                "{method} {template} without a token → {status}, expected 401"
            ));
        }
    }
    assert!(calls > 600, "the matrix ran {calls} requests");
    assert!(
        bad.is_empty(),
        "{} problems:\n{}",
        bad.len(),
        bad.join("\n")
    );
});
