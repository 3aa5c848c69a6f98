//! Applications and approval flows through the HTTP API: every kind end to end, reject,
//! return → resubmit, withdraw, delegate, stale approvals, the concurrent-approval race,
//! bad input, inbox (notices: `application_notices.rs`).

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::{body, problem, problem_fields, TestApp, USER_PASSWORD};

/// A department with a manager, a clerk in it, two stewards, a spare approver.
pub(crate) struct Org {
    pub(crate) admin: String,
    pub(crate) clerk: String,
    pub(crate) clerk_id: i64,
    pub(crate) manager: String,
    pub(crate) manager_id: i64,
    pub(crate) steward: String,
    pub(crate) steward2: String,
    pub(crate) spare_id: i64,
    pub(crate) spare: String,
}

pub(crate) async fn org(t: &TestApp) -> Org {
    let admin = t.admin_token().await;
    seed_rules(t, &admin).await;
    let dept = t.create_department(&admin, "销售部", None).await;
    let manager_id = t
        .create_user(
            &admin,
            "manager",
            Some(dept),
            json!([{"role": "approver", "scope": "department"}]),
        )
        .await;
    let r = t
        .patch(
            &format!("/api/v1/departments/{dept}"),
            &admin,
            json!({"manager_id": manager_id}),
        )
        .await;
    assert_eq!(r.status(), 200, "set manager");
    let clerk_id = t
        .create_user(
            &admin,
            "clerk",
            Some(dept),
            json!([{"role": "clerk", "scope": "all"}]),
        )
        .await;
    t.create_user(
        &admin,
        "steward",
        None,
        json!([{"role": "steward", "scope": "all"}]),
    )
    .await;
    t.create_user(
        &admin,
        "steward2",
        None,
        json!([{"role": "steward", "scope": "all"}]),
    )
    .await;
    let spare_id = t
        .create_user(
            &admin,
            "spare",
            None,
            json!([{"role": "approver", "scope": "all"}]),
        )
        .await;
    Org {
        clerk: t.login("clerk", USER_PASSWORD).await,
        manager: t.login("manager", USER_PASSWORD).await,
        steward: t.login("steward", USER_PASSWORD).await,
        steward2: t.login("steward2", USER_PASSWORD).await,
        spare: t.login("spare", USER_PASSWORD).await,
        admin,
        clerk_id,
        manager_id,
        spare_id,
    }
}

/// A distinct phone per customer, so test customers are not duplicates of each other.
pub(crate) fn new_customer(name: &str) -> Value {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(7919, std::sync::atomic::Ordering::Relaxed);
    json!({"customer_type": "enterprise", "name": name, "region_code": "110108",
           "phone": format!("010-6{:07}", n % 10_000_000)})
}

pub(crate) async fn submit(t: &TestApp, token: &str, kind: &str, payload: Value) -> Value {
    let r = t
        .post(
            "/api/v1/applications",
            Some(token),
            json!({"kind": kind, "payload": payload, "reason": "测试"}),
        )
        .await;
    body(r, 201).await
}

pub(crate) async fn act(
    t: &TestApp,
    token: &str,
    id: i64,
    action: &str,
    b: Value,
) -> reqwest::Response {
    t.post(
        &format!("/api/v1/applications/{id}/{action}"),
        Some(token),
        b,
    )
    .await
}

pub(crate) async fn ok(t: &TestApp, token: &str, id: i64, action: &str, b: Value) -> Value {
    body(act(t, token, id, action, b).await, 200).await
}

pub(crate) fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

/// Create a customer directly as admin; returns its code.
pub(crate) async fn direct_customer(t: &TestApp, admin: &str, name: &str) -> String {
    let v = body(
        t.post("/api/v1/customers", Some(admin), new_customer(name))
            .await,
        201,
    )
    .await;
    v["code"].as_str().expect("code").to_string()
}

backend_test!(create_goes_through_manager_then_steward, |t| {
    let o = org(&t).await;
    // Clerks cannot create directly: the application is their path.
    let r = t
        .post(
            "/api/v1/customers",
            Some(&o.clerk),
            new_customer("直接新建公司"),
        )
        .await;
    problem(r, 403).await;

    let a = submit(&t, &o.clerk, "create", new_customer("北京申请科技有限公司")).await;
    assert_eq!(a["state"], "submitted");
    assert_eq!(a["tasks"][0]["user_id"], o.manager_id);
    assert!(a["code"].is_null());
    // Personal data is masked for a reader without customer.pii.read.
    assert!(
        a["payload"]["phone"].as_str().unwrap_or("").contains('*'),
        "{}",
        a["payload"]
    );

    let inbox = body(t.get("/api/v1/inbox", &o.manager).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 1);
    assert_eq!(inbox["pending"][0]["application"]["id"], id(&a));
    // A steward is not an approver of the first step.
    problem(act(&t, &o.steward, id(&a), "approve", json!({})).await, 403).await;

    let a1 = ok(
        &t,
        &o.manager,
        id(&a),
        "approve",
        json!({"comment": "同意"}),
    )
    .await;
    assert_eq!(a1["state"], "in_review");
    assert_eq!(a1["current_step"], 1);
    let a2 = ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    assert_eq!(a2["state"], "approved");
    let code = a2["code"]
        .as_str()
        .expect("code issued on approval")
        .to_string();
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.clerk).await,
        200,
    )
    .await;
    assert_eq!(c["status"], "active");
    assert_eq!(c["name"], "北京申请科技有限公司");

    let full = body(
        t.get(&format!("/api/v1/applications/{}", id(&a)), &o.clerk)
            .await,
        200,
    )
    .await;
    let actions: Vec<&str> = full["trail"]
        .as_array()
        .expect("trail")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, vec!["submit", "approve", "approve", "complete"]);
    assert_eq!(full["trail"][1]["comment"], "同意");
    assert_eq!(full["trail"][1]["actor"], "manager");

    // Closed: no more decisions.
    let p = problem(
        act(&t, &o.steward2, id(&a), "approve", json!({})).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "application.closed");

    let notes = body(
        t.get("/api/v1/notifications?unread=true", &o.clerk).await,
        200,
    )
    .await;
    let kinds: Vec<&str> = notes
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or(""))
        .collect();
    assert!(kinds.contains(&"approved"), "{kinds:?}");
    let approved = notes
        .as_array()
        .expect("list")
        .iter()
        .find(|n| n["kind"] == "approved")
        .expect("approved note");
    assert!(approved["body"].as_str().unwrap_or("").contains(&code));
    let nid = approved["id"].as_i64().expect("id");
    let r = t
        .post(
            &format!("/api/v1/notifications/{nid}/read"),
            Some(&o.clerk),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 204);
    // Someone else's notification is not found.
    let r = t
        .post(
            &format!("/api/v1/notifications/{nid}/read"),
            Some(&o.manager),
            json!({}),
        )
        .await;
    problem(r, 404).await;

    let mine = body(
        t.get(
            "/api/v1/applications?mine=true&kind=create&state=approved",
            &o.clerk,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
});

backend_test!(reject_needs_reason_and_closes, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("驳回测试有限公司")).await;
    let p = problem(act(&t, &o.manager, id(&a), "reject", json!({})).await, 422).await;
    assert_eq!(problem_fields(&p), vec!["reason"]);
    let r = ok(
        &t,
        &o.manager,
        id(&a),
        "reject",
        json!({"reason": "资料不全"}),
    )
    .await;
    assert_eq!(r["state"], "rejected");
    assert!(r["closed_at"].is_string());
    let p = problem(act(&t, &o.manager, id(&a), "approve", json!({})).await, 409).await;
    assert_eq!(p["code"], "application.closed");
    let p = problem(act(&t, &o.clerk, id(&a), "withdraw", json!({})).await, 409).await;
    assert_eq!(p["code"], "application.closed");
});

backend_test!(return_then_resubmit_with_corrected_payload, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("退回测试有限公司")).await;
    let r = ok(
        &t,
        &o.manager,
        id(&a),
        "return",
        json!({"comment": "名称写错"}),
    )
    .await;
    assert_eq!(r["state"], "returned");
    // Only the applicant resubmits, and the new payload is validated again.
    let p = problem(
        act(
            &t,
            &o.clerk,
            id(&a),
            "resubmit",
            json!({"payload": {"customer_type": "enterprise"}}),
        )
        .await,
        422,
    )
    .await;
    assert!(problem_fields(&p).contains(&"name".to_string()), "{p}");
    let r = ok(
        &t,
        &o.clerk,
        id(&a),
        "resubmit",
        json!({"payload": new_customer("退回后更正有限公司")}),
    )
    .await;
    assert_eq!(r["state"], "submitted");
    assert_eq!(r["round"], 2);
    ok(&t, &o.manager, id(&a), "approve", json!({})).await;
    let done = ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    let code = done["code"].as_str().expect("code");
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.admin).await,
        200,
    )
    .await;
    assert_eq!(c["name"], "退回后更正有限公司");
});

backend_test!(withdraw_closes_and_clears_inbox, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("撤回测试有限公司")).await;
    // Not the applicant: refused.
    problem(
        act(&t, &o.manager, id(&a), "withdraw", json!({})).await,
        403,
    )
    .await;
    let w = ok(&t, &o.clerk, id(&a), "withdraw", json!({})).await;
    assert_eq!(w["state"], "withdrawn");
    let inbox = body(t.get("/api/v1/inbox", &o.manager).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 0);
    let p = problem(act(&t, &o.manager, id(&a), "approve", json!({})).await, 409).await;
    assert_eq!(p["code"], "application.closed");
});

backend_test!(delegate_to_another_approver, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("转交测试有限公司")).await;
    let p = problem(
        act(&t, &o.manager, id(&a), "delegate", json!({"to_user": 9999})).await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["field"], "to_user");
    assert_eq!(p["fields"][0]["code"], "user.unknown");
    // A disabled user cannot take the task.
    let disabled = t.create_user(&o.admin, "gone", None, json!([])).await;
    let r = t
        .patch(
            &format!("/api/v1/users/{disabled}"),
            &o.admin,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p = problem(
        act(
            &t,
            &o.manager,
            id(&a),
            "delegate",
            json!({"to_user": disabled}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "user.disabled");
    let p = problem(
        act(
            &t,
            &o.manager,
            id(&a),
            "delegate",
            json!({"to_user": o.clerk_id}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "application.self_approval");
    // Someone who is not an approver cannot delegate.
    problem(
        act(
            &t,
            &o.spare,
            id(&a),
            "delegate",
            json!({"to_user": o.manager_id}),
        )
        .await,
        403,
    )
    .await;

    let d = ok(
        &t,
        &o.manager,
        id(&a),
        "delegate",
        json!({"to_user": o.spare_id, "comment": "出差"}),
    )
    .await;
    assert_eq!(d["state"], "submitted");
    let p = problem(act(&t, &o.manager, id(&a), "approve", json!({})).await, 409).await;
    assert_eq!(p["code"], "application.already_decided");
    let inbox = body(t.get("/api/v1/inbox", &o.spare).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 1);
    assert_eq!(inbox["pending"][0]["delegated_from"], o.manager_id);
    let r = ok(&t, &o.spare, id(&a), "approve", json!({})).await;
    assert_eq!(r["state"], "in_review");
    let done = ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
});

backend_test!(bad_input_is_refused_with_fields_and_nothing_written, |t| {
    let o = org(&t).await;
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "teleport", "payload": {}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "kind");
    assert_eq!(p["fields"][0]["code"], "application.kind_unknown");
    // Invalid customer fields are reported at submission, all of them.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "create", "payload": {"customer_type": "enterprise", "uscc": "123", "region_code": "999999"}}),
        )
        .await;
    let p = problem(r, 422).await;
    let fields = problem_fields(&p);
    assert!(fields.contains(&"name".to_string()), "{p}");
    assert!(fields.contains(&"uscc".to_string()), "{p}");
    // A malformed payload names the payload.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "retire", "payload": {"code": 5, "bogus": true}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "payload");
    assert_eq!(p["fields"][0]["code"], "application.payload_invalid");
    // Unknown customer.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "retire", "payload": {"code": "C999999"}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "payload.code");
    // Without the permission to submit.
    let q = t
        .create_user(
            &o.admin,
            "reader",
            None,
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
    let _ = q;
    let reader = t.login("reader", USER_PASSWORD).await;
    let r = t
        .post(
            "/api/v1/applications",
            Some(&reader),
            json!({"kind": "create", "payload": new_customer("X公司")}),
        )
        .await;
    problem(r, 403).await;
    // Not JSON at all.
    let r = t
        .req(Method::POST, "/api/v1/applications", Some(&o.clerk))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert!(r.status().is_client_error());
    let r = t.get("/api/v1/applications?state=bogus", &o.clerk).await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "state");
    let r = t.get("/api/v1/applications/abc", &o.clerk).await;
    problem(r, 404).await;
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "merge", "payload": {}}),
        )
        .await;
    // An empty merge request names what is missing.
    let p = problem(r, 422).await;
    assert_eq!(problem_fields(&p), vec!["payload.survivor"], "{p}");

    let mine = body(t.get("/api/v1/applications?mine=true", &o.clerk).await, 200).await;
    assert_eq!(
        mine.as_array().map(Vec::len),
        Some(0),
        "nothing half-written"
    );
});

backend_test!(flow_definitions_validated_and_used, |t| {
    let o = org(&t).await;
    let r = t
        .post(
            "/api/v1/flows",
            Some(&o.admin),
            json!({"key": "x", "kind": "nope", "name": "", "steps": []}),
        )
        .await;
    let p = problem(r, 422).await;
    let fields = problem_fields(&p);
    for f in ["key", "kind", "name", "steps"] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    let r = t
        .post(
            "/api/v1/flows",
            Some(&o.admin),
            json!({"key": "bad-approvers", "kind": "create", "name": "坏流程",
                   "steps": [{"approvers": {"type": "role", "role": "ghost"}},
                             {"approvers": {"type": "users", "users": [4242]}}]}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(
        problem_fields(&p),
        vec!["steps[0].approvers.role", "steps[1].approvers.users[0]"]
    );
    let r = t
        .post(
            "/api/v1/flows",
            Some(&o.admin),
            json!({"key": "typo", "kind": "create", "name": "x",
                   "steps": [{"approvers": {"type": "wizard"}}]}),
        )
        .await;
    assert_eq!(r.status(), 422);
    // Clerks cannot define flows.
    let r = t
        .post(
            "/api/v1/flows",
            Some(&o.clerk),
            json!({"key": "mine", "kind": "create", "name": "x", "steps": [{"approvers": {"type": "department_manager"}}]}),
        )
        .await;
    problem(r, 403).await;

    // A one-step flow for Beijing enterprises, approved by the spare approver.
    let f = body(
        t.post(
            "/api/v1/flows",
            Some(&o.admin),
            json!({"key": "bj-fast", "kind": "create", "name": "北京快速通道",
                   "conditions": {"customer_types": ["enterprise"], "region_prefixes": ["11"]},
                   "steps": [{"name": "指定审批人", "approvers": {"type": "users", "users": [o.spare_id]}}]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(f["version"], 1);
    let a = submit(&t, &o.clerk, "create", new_customer("快速通道有限公司")).await;
    assert_eq!(a["flow"]["key"], "bj-fast");
    let done = ok(&t, &o.spare, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
    // Another region falls back to the default flow.
    let mut other = new_customer("上海公司");
    other["region_code"] = json!("310101");
    let a = submit(&t, &o.clerk, "create", other).await;
    assert_eq!(a["flow"]["key"], "default.create");
    // Versioned: a new version replaces the old one.
    let f2 = body(
        t.post(
            "/api/v1/flows",
            Some(&o.admin),
            json!({"key": "bj-fast", "kind": "create", "name": "北京快速通道 v2",
                   "conditions": {"region_prefixes": ["11"]},
                   "steps": [{"approvers": {"type": "role", "role": "steward"}, "mode": "all"}]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(f2["version"], 2);
    let a = submit(&t, &o.clerk, "create", new_customer("全员审批有限公司")).await;
    assert_eq!(a["flow"]["version"], 2);
    // all-of: both stewards must approve.
    let r = ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    assert_eq!(r["state"], "in_review");
    let r = ok(&t, &o.steward2, id(&a), "approve", json!({})).await;
    assert_eq!(r["state"], "approved", "{r:#}");
    let flows = body(t.get("/api/v1/flows", &o.admin).await, 200).await;
    assert!(flows
        .as_array()
        .expect("list")
        .iter()
        .any(|f| f["key"] == "default.retire"));
});

backend_test!(concurrent_approvals_decide_once, |t| {
    let o = org(&t).await;
    // One any-of step with two stewards.
    body(
        t.post(
            "/api/v1/flows",
            Some(&o.admin),
            json!({"key": "one-step", "kind": "create", "name": "一步审批",
                   "steps": [{"approvers": {"type": "role", "role": "steward"}}]}),
        )
        .await,
        201,
    )
    .await;
    for round in 0..4 {
        let a = submit(
            &t,
            &o.clerk,
            "create",
            new_customer(&format!("并发审批{round}有限公司")),
        )
        .await;
        let path = format!("/api/v1/applications/{}/approve", id(&a));
        let (r1, r2) = tokio::join!(
            t.post(&path, Some(&o.steward), json!({})),
            t.post(&path, Some(&o.steward2), json!({}))
        );
        let mut statuses = vec![r1.status().as_u16(), r2.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, vec![200, 409], "round {round}");
        let full = body(
            t.get(&format!("/api/v1/applications/{}", id(&a)), &o.clerk)
                .await,
            200,
        )
        .await;
        assert_eq!(full["state"], "approved");
        let approvals = full["trail"]
            .as_array()
            .expect("trail")
            .iter()
            .filter(|e| e["action"] == "approve")
            .count();
        assert_eq!(approvals, 1);
    }
    let list = body(
        t.get("/api/v1/customers?name=并发审批&total=true", &o.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(list["total"], 4, "one customer per application: {list}");
    let audit = body(
        t.get("/api/v1/audit?action=customer.create", &o.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(4));
});

backend_test!(admin_role_needs_an_administrator_to_approve, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "grant_permission", json!({"role": "admin"})).await;
    // The default flow asks stewards; a steward cannot hand out administrative power.
    let p = problem(act(&t, &o.steward, id(&a), "approve", json!({})).await, 403).await;
    assert_eq!(p["code"], "auth.forbidden");
    let still = body(
        t.get(&format!("/api/v1/applications/{}", id(&a)), &o.clerk)
            .await,
        200,
    )
    .await;
    assert_eq!(still["state"], "submitted");
    // Reassigned to the administrator, who may.
    ok(
        &t,
        &o.admin,
        id(&a),
        "delegate",
        json!({"from_user": still["tasks"][0]["user_id"], "to_user": 1}),
    )
    .await;
    let done = ok(&t, &o.admin, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
});

backend_test!(merge_and_split_by_application, |t| {
    let o = org(&t).await;
    let a_code = direct_customer(&t, &o.admin, "合并甲有限公司").await;
    let b_code = direct_customer(&t, &o.admin, "合并乙有限公司").await;
    // Unknown participant: the field is named.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "merge", "payload": {"survivor": a_code, "merged": ["C999999"], "reason": "x"}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "payload.merged[0]");
    let m = submit(
        &t,
        &o.clerk,
        "merge",
        json!({"survivor": a_code, "merged": [b_code], "reason": "同一家公司"}),
    )
    .await;
    assert_eq!(m["target"], a_code.as_str());
    ok(&t, &o.steward, id(&m), "approve", json!({})).await;
    let done = ok(&t, &o.admin, id(&m), "approve", json!({})).await;
    assert_eq!(done["state"], "approved", "{done}");
    assert_eq!(done["code"], a_code.as_str());
    let b = body(
        t.get(&format!("/api/v1/customers/{b_code}"), &o.admin)
            .await,
        200,
    )
    .await;
    // The merged code now resolves to the survivor.
    assert_eq!(b["code"], a_code.as_str(), "{b}");
    assert!(
        b["former_names"].to_string().contains("合并乙有限公司"),
        "{b}"
    );

    // Split the survivor into a new customer; the original is kept.
    let s = submit(
        &t,
        &o.clerk,
        "split",
        json!({"code": a_code, "parts": [{"customer": new_customer("拆分出的分公司")}],
               "reason": "分公司独立核算"}),
    )
    .await;
    ok(&t, &o.steward, id(&s), "approve", json!({})).await;
    let done = ok(&t, &o.admin, id(&s), "approve", json!({})).await;
    assert_eq!(done["state"], "approved", "{done}");
    let part = done["result"]["parts"][0].as_str().expect("part code");
    let c = body(
        t.get(&format!("/api/v1/customers/{part}"), &o.admin).await,
        200,
    )
    .await;
    assert_eq!(c["name"], "拆分出的分公司");

    // A merge whose participant changed after submission fails and stays open.
    let c_code = direct_customer(&t, &o.admin, "合并丙有限公司").await;
    let d_code = direct_customer(&t, &o.admin, "合并丁有限公司").await;
    let m = submit(
        &t,
        &o.clerk,
        "merge",
        json!({"survivor": c_code, "merged": [d_code], "reason": "重复"}),
    )
    .await;
    let r = t
        .patch(
            &format!("/api/v1/customers/{d_code}"),
            &o.admin,
            json!({"version": 1, "remarks": "改了"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    ok(&t, &o.steward, id(&m), "approve", json!({})).await;
    let p = problem(act(&t, &o.admin, id(&m), "approve", json!({})).await, 409).await;
    assert_eq!(p["code"], "customer.version_stale");
    let still = body(
        t.get(&format!("/api/v1/applications/{}", id(&m)), &o.clerk)
            .await,
        200,
    )
    .await;
    assert_eq!(still["state"], "in_review");
});

backend_test!(
    duplicate_check_attached_and_definite_duplicate_refused,
    |t| {
        let o = org(&t).await;
        let uscc = custos_core::ident::Uscc::with_check("91110108MA01DUP01")
            .expect("uscc")
            .as_str()
            .to_string();
        let mut first = new_customer("查重甲科技有限公司");
        first["uscc"] = json!(uscc);
        body(
            t.post("/api/v1/customers", Some(&o.admin), first).await,
            201,
        )
        .await;
        // Similar name only: a possible duplicate, shown to the approvers.
        let a = submit(&t, &o.clerk, "create", new_customer("查重乙贸易有限公司")).await;
        assert!(
            a["duplicates"]["verdict"].is_string(),
            "{}",
            a["duplicates"]
        );
        // The same USCC is a definite duplicate: refused at submission with the candidates.
        let mut same = new_customer("另一个名字有限公司");
        same["uscc"] = json!(uscc);
        let r = t
            .post(
                "/api/v1/applications",
                Some(&o.clerk),
                json!({"kind": "create", "payload": same}),
            )
            .await;
        let p = problem(r, 409).await;
        assert_eq!(p["code"], "customer.duplicate");
    }
);

backend_test!(draft_then_submit_and_auto_approved_step, |t| {
    let o = org(&t).await;
    // A draft is stored without tasks, then submitted.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "create", "payload": new_customer("草稿有限公司"), "draft": true}),
        )
        .await;
    let d = body(r, 201).await;
    assert_eq!(d["state"], "draft");
    assert_eq!(d["tasks"].as_array().map(Vec::len), Some(0));
    let inbox = body(t.get("/api/v1/inbox", &o.manager).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 0);
    let s = ok(&t, &o.clerk, id(&d), "submit", json!({})).await;
    assert_eq!(s["state"], "submitted");
    assert_eq!(s["tasks"][0]["user_id"], o.manager_id);

    // A flow whose first step approves itself when the contact fields are filled.
    body(
        t.post(
            "/api/v1/flows",
            Some(&o.admin),
            json!({"key": "complete-records", "kind": "create", "name": "资料齐全自动通过",
                   "steps": [
                     {"name": "资料齐全", "approvers": {"type": "department_manager"},
                      "auto_approve": {"fields_filled": ["phone", "address"]}},
                     {"name": "数据管理员审核", "approvers": {"type": "role", "role": "steward"}}]}),
        )
        .await,
        201,
    )
    .await;
    let mut full = new_customer("资料齐全有限公司");
    full["address"] = json!("北京市海淀区中关村大街1号");
    let a = submit(&t, &o.clerk, "create", full).await;
    assert_eq!(a["state"], "in_review");
    assert_eq!(a["current_step"], 1);
    assert_eq!(a["trail"][1]["action"], "auto_approve");
    // Without the address the manager has to decide.
    let b = submit(&t, &o.clerk, "create", new_customer("资料不全有限公司")).await;
    assert_eq!(b["current_step"], 0);
    assert_eq!(b["tasks"][0]["user_id"], o.manager_id);
});
