//! The table of the authorisation matrix (see `authz_matrix.rs`): for every operation of
//! the API, who may call it and a body that passes deserialisation where it matters.

use serde_json::{json, Value};

/// Who may call an operation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Need {
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
pub(crate) type Entry = (&'static str, &'static str, Need, Option<fn() -> Value>);

use Need::{Either, Perm, Public, Signed};

pub(crate) const MATRIX: &[Entry] = &[
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
pub(crate) fn empty() -> Value {
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
