//! Application kinds beyond creation through the HTTP API: retire keeps the code, a stale
//! change fails and stays open, code change, archive → retrieve → reactivate, temporary
//! permission grants, publishing a code rule.

use serde_json::{json, Value};

use crate::applications::*;
use crate::backend_test;
use crate::helpers::*;
backend_test!(retire_keeps_code_forever, |t| {
    let o = org(&t).await;
    let code = direct_customer(&t, &o.admin, "将废止有限公司").await;
    let a = submit(&t, &o.clerk, "retire", json!({"code": code})).await;
    assert_eq!(a["target"], code.as_str());
    ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    let done = ok(&t, &o.admin, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
    // Business references keep resolving.
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.admin).await,
        200,
    )
    .await;
    assert_eq!(c["status"], "retired");
    // A retired customer cannot be edited.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &o.admin,
            json!({"version": c["version"], "remarks": "x"}),
        )
        .await;
    assert!(r.status().is_client_error());
    // Force the retired code onto a new customer: refused.
    let mut forced = new_customer("抢注有限公司");
    forced["code"] = json!(code);
    let p = problem(
        t.post("/api/v1/customers", Some(&o.admin), forced).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "code.taken");
    // …and new codes never repeat it.
    for i in 0..3 {
        let c2 = direct_customer(&t, &o.admin, &format!("新公司{i}")).await;
        assert_ne!(c2, code);
    }
    let v = body(
        t.post(
            "/api/v1/codes/validate",
            Some(&o.admin),
            json!({"code": code}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["registry"]["status"], "retired", "{v}");
    // Retiring again: refused at submission.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "retire", "payload": {"code": code}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["code"], "customer.status_transition");
});

backend_test!(stale_change_fails_and_stays_open, |t| {
    let o = org(&t).await;
    let code = direct_customer(&t, &o.admin, "变更前有限公司").await;
    let a = submit(
        &t,
        &o.clerk,
        "change",
        json!({"code": code, "changes": {"version": 1, "name": "变更后有限公司", "reason": "工商变更"}}),
    )
    .await;
    // Meanwhile someone edits the customer.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &o.admin,
            json!({"version": 1, "remarks": "并发修改"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p = problem(act(&t, &o.steward, id(&a), "approve", json!({})).await, 409).await;
    assert_eq!(p["code"], "customer.version_stale");
    let still = body(
        t.get(&format!("/api/v1/applications/{}", id(&a)), &o.clerk)
            .await,
        200,
    )
    .await;
    assert_eq!(still["state"], "submitted");
    assert_eq!(still["tasks"][0]["decision"], Value::Null);
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.admin).await,
        200,
    )
    .await;
    assert_eq!(c["name"], "变更前有限公司");
    // Return, resubmit against the current version, approve.
    ok(
        &t,
        &o.steward,
        id(&a),
        "return",
        json!({"comment": "请按最新版本重提"}),
    )
    .await;
    ok(
        &t,
        &o.clerk,
        id(&a),
        "resubmit",
        json!({"payload": {"code": code, "changes": {"version": 2, "name": "变更后有限公司", "reason": "工商变更"}}}),
    )
    .await;
    let done = ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.admin).await,
        200,
    )
    .await;
    assert_eq!(c["name"], "变更后有限公司");
    let h = body(
        t.get(&format!("/api/v1/customers/{code}/history"), &o.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(h.as_array().map(Vec::len), Some(3));
});

backend_test!(change_code_redirects_and_never_reuses, |t| {
    let o = org(&t).await;
    let code = direct_customer(&t, &o.admin, "换码有限公司").await;
    let a = submit(&t, &o.clerk, "change_code", json!({"code": code})).await;
    ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    let done = ok(&t, &o.admin, id(&a), "approve", json!({})).await;
    let new_code = done["code"].as_str().expect("new code").to_string();
    assert_ne!(new_code, code);
    assert_eq!(done["result"]["old_code"], code.as_str());
    let c = body(
        t.get(&format!("/api/v1/customers/{new_code}"), &o.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(c["name"], "换码有限公司");
    let v = body(
        t.post(
            "/api/v1/codes/validate",
            Some(&o.admin),
            json!({"code": code}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["registry"]["status"], "changed", "{v}");
    // A manual code that is already taken is refused at submission, naming the field.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "change_code", "payload": {"code": new_code, "new_code": code}}),
        )
        .await;
    let p = problem(r, 409).await;
    assert_eq!(p["code"], "code.taken");
});

backend_test!(archive_retrieve_expires_and_reactivate, |t| {
    let o = org(&t).await;
    let code = direct_customer(&t, &o.admin, "归档有限公司").await;
    let a = submit(&t, &o.clerk, "archive", json!({"code": code})).await;
    ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.admin).await,
        200,
    )
    .await;
    assert_eq!(c["status"], "archived");
    // Reading the archive needs an approved retrieval.
    problem(
        t.get(&format!("/api/v1/archive/{code}"), &o.clerk).await,
        403,
    )
    .await;
    problem(
        t.get(&format!("/api/v1/customers/{code}"), &o.clerk).await,
        403,
    )
    .await;
    problem(
        t.get(&format!("/api/v1/customers/{code}/history"), &o.clerk)
            .await,
        403,
    )
    .await;
    let found = body(
        t.get("/api/v1/customers?name=归档&total=true", &o.clerk)
            .await,
        200,
    )
    .await;
    assert_eq!(found["total"], 0, "{found}");
    let found = body(
        t.get("/api/v1/customers?name=归档&total=true", &o.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(found["total"], 1, "{found}");
    let r = submit(&t, &o.clerk, "retrieve", json!({"code": code, "days": 1})).await;
    ok(&t, &o.steward, id(&r), "approve", json!({})).await;
    let c = body(
        t.get(&format!("/api/v1/archive/{code}"), &o.clerk).await,
        200,
    )
    .await;
    assert_eq!(c["name"], "归档有限公司");
    let audit = body(
        t.get(&format!("/api/v1/audit?target_id={code}"), &o.admin)
            .await,
        200,
    )
    .await;
    let text = audit.to_string();
    assert!(
        text.contains("customer.retrieve"),
        "retrieval audited: {text}"
    );
    // Expire the retrieval: access ends.
    t.app
        .db
        .execute_raw("UPDATE retrievals SET expires_at = 1")
        .await
        .expect("expire");
    problem(
        t.get(&format!("/api/v1/archive/{code}"), &o.clerk).await,
        403,
    )
    .await;
    // Out of the archive again.
    let b = submit(&t, &o.clerk, "reactivate", json!({"code": code})).await;
    ok(&t, &o.steward, id(&b), "approve", json!({})).await;
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.admin).await,
        200,
    )
    .await;
    assert_eq!(c["status"], "active");
    // A retrieval of an active customer makes no sense.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "retrieve", "payload": {"code": code}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["code"], "customer.not_archived");
});

backend_test!(temporary_permission_grant_expires, |t| {
    let o = org(&t).await;
    problem(t.get("/api/v1/stats/customers", &o.clerk).await, 403).await;
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "grant_permission", "payload": {"role": "ghost"}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "payload.role");
    let until = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339();
    let a = submit(
        &t,
        &o.clerk,
        "grant_permission",
        json!({"role": "executive", "scope": "all", "expires_at": until}),
    )
    .await;
    let done = ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
    body(t.get("/api/v1/stats/customers", &o.clerk).await, 200).await;
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    problem(t.get("/api/v1/stats/customers", &o.clerk).await, 403).await;
});

backend_test!(publish_rule_by_application, |t| {
    let o = org(&t).await;
    let r = t
        .post(
            "/api/v1/code-rules",
            Some(&o.admin),
            json!({"key": "ent", "name": "企业 v2", "applies_to": {"customer_types": ["enterprise"]},
                   "segments": [{"kind": "constant", "value": "E"}, {"kind": "sequence", "width": 7}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = t
        .post(
            "/api/v1/applications",
            Some(&o.steward),
            json!({"kind": "publish_rule", "payload": {"key": "nope"}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "payload.key");
    let a = submit(&t, &o.steward, "publish_rule", json!({"key": "ent"})).await;
    // The steward applied; only an administrator approves.
    problem(
        act(&t, &o.steward2, id(&a), "approve", json!({})).await,
        403,
    )
    .await;
    let done = ok(&t, &o.admin, id(&a), "approve", json!({})).await;
    assert_eq!(done["result"]["published_version"], 2);
    let code = direct_customer(&t, &o.admin, "新规则有限公司").await;
    assert!(code.starts_with('E'), "{code}");
});
