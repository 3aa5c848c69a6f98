//! What a duplicate check tells whom (issue 28, defect 1): no graded evidence or score on
//! personal data without `customer.pii.read`, nothing but one flag about customers outside
//! the caller's data scope, a rate limit per user, and an audit entry for every check
//! that gives personal data. Each on SQLite and PostgreSQL.

use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::{body, problem, TestApp, USER_PASSWORD};

const MOBILE: &str = "13812345678";

fn uscc(org: &str) -> String {
    custos_core::ident::Uscc::with_check(&format!("91440106{org}"))
        .expect("valid uscc")
        .as_str()
        .to_string()
}

async fn create(t: &TestApp, token: &str, body_json: Value) -> Value {
    body(
        t.post("/api/v1/customers", Some(token), body_json).await,
        201,
    )
    .await
}

pub(crate) async fn check(t: &TestApp, token: &str, draft: Value) -> Value {
    body(
        t.post("/api/v1/duplicates/check", Some(token), draft).await,
        200,
    )
    .await
}

/// A person whose name, district and industry alone make a possible duplicate of the
/// draft below, so that the phone's evidence decides the score.
async fn seed_person(t: &TestApp, admin: &str) -> Value {
    seed_rules(t, admin).await;
    create(
        t,
        admin,
        json!({"customer_type": "individual", "name": "李明", "mobile": MOBILE,
               "region_code": "110108", "industry": "65"}),
    )
    .await
}

fn draft_with_mobile(mobile: &str) -> Value {
    json!({"customer_type": "individual", "name": "李明", "mobile": mobile,
           "region_code": "110108", "industry": "65"})
}

/// `mobile` with its last digit replaced by `d`.
fn with_last_digit(d: char) -> String {
    let mut m = MOBILE.to_string();
    m.pop();
    m.push(d);
    m
}

fn phone_kinds(report: &Value) -> Vec<String> {
    report["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["evidence"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["field"] == "phone")
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn audit_entries(t: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let page = body(
        t.get(&format!("/api/v1/audit?action={action}&limit=200"), admin)
            .await,
        200,
    )
    .await;
    page["items"].as_array().cloned().unwrap_or_default()
}

fn after_of(entry: &Value) -> Value {
    match &entry["after"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    }
}

backend_test!(one_digit_variants_answer_like_any_wrong_number, |t| {
    let admin = t.admin_token().await;
    let person = seed_person(&t, &admin).await;
    t.create_user(
        &admin,
        "query1",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let query = t.login("query1", USER_PASSWORD).await;

    // Every wrong number — one digit off or nothing alike — gets the same answer.
    let far = check(&t, &query, draft_with_mobile("13998765432")).await;
    assert_eq!(far["verdict"], "possible", "{far}");
    assert_eq!(far["candidates"][0]["code"], person["code"], "{far}");
    assert_eq!(phone_kinds(&far), vec!["withheld"], "{far}");
    assert_eq!(far["pii_withheld"], true, "{far}");
    for d in ['0', '1', '2', '3', '4', '5', '6', '7', '9'] {
        let near = check(&t, &query, draft_with_mobile(&with_last_digit(d))).await;
        assert_eq!(
            near, far,
            "one digit off ({d}) must answer like any wrong number"
        );
    }
    // Only exact equality counts; the stored number is never shown.
    let right = check(&t, &query, draft_with_mobile(MOBILE)).await;
    assert_eq!(right["verdict"], "definite", "{right}");
    assert_eq!(phone_kinds(&right), vec!["same"], "{right}");
    let text = right.to_string();
    assert!(!text.contains("similar"), "{text}");
    assert!(!text.contains(MOBILE), "{text}");
});

backend_test!(full_evidence_for_a_steward_with_pii_and_scope_all, |t| {
    let admin = t.admin_token().await;
    let person = seed_person(&t, &admin).await;
    t.create_user(
        &admin,
        "steward1",
        None,
        json!([{"role": "steward", "scope": "all"}]),
    )
    .await;
    let steward = t.login("steward1", USER_PASSWORD).await;
    let near = check(&t, &steward, draft_with_mobile(&with_last_digit('0'))).await;
    let far = check(&t, &steward, draft_with_mobile("13998765432")).await;
    assert_eq!(near["pii_withheld"], false, "{near}");
    assert_eq!(near["outside_scope_match"], false, "{near}");
    assert_eq!(near["candidates"][0]["code"], person["code"], "{near}");
    assert_eq!(phone_kinds(&near), vec!["similar"], "{near}");
    assert_eq!(phone_kinds(&far), vec!["different"], "{far}");
    let score = |r: &Value| r["candidates"][0]["score"].as_f64().unwrap_or(0.0);
    assert!(score(&near) > score(&far), "{near} / {far}");
});

backend_test!(own_scope_learns_one_flag_for_a_strong_match_only, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let theirs = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "广州南方重工机械有限公司",
               "uscc": uscc("MA03NF001"), "region_code": "440106"}),
    )
    .await;
    let clerk_id = t
        .create_user(
            &admin,
            "clerk1",
            None,
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let clerk = t.login("clerk1", USER_PASSWORD).await;
    let hidden = |r: &Value| {
        let text = r.to_string();
        assert!(
            !text.contains(theirs["code"].as_str().unwrap_or("?"))
                && !text.contains("南方重工机械")
                && !text.contains("\"score\""),
            "out-of-scope data leaked: {text}"
        );
    };

    // A strong match: one flag and a message, no code, name, score, evidence or count.
    let strong =
        json!({"customer_type": "enterprise", "name": "南方重工", "uscc": uscc("MA03NF001")});
    let r = check(&t, &clerk, strong.clone()).await;
    assert_eq!(r["outside_scope_match"], true, "{r}");
    assert_eq!(r["verdict"], "definite", "{r}");
    assert_eq!(r["candidates"], json!([]), "{r}");
    assert_eq!(
        r["outside_scope_message_zh"],
        "范围外存在疑似重复客户，请联系档案管理员"
    );
    assert!(
        r["outside_scope_message_en"]
            .as_str()
            .is_some_and(|m| m.contains("outside your data scope")),
        "{r}"
    );
    hidden(&r);
    // Applying for it is refused the same way, with nothing more said.
    let r = t
        .post(
            "/api/v1/applications",
            Some(&clerk),
            json!({"kind": "create", "payload": strong}),
        )
        .await;
    let p = problem(r, 409).await;
    assert_eq!(p["code"], "customer.duplicate", "{p}");
    assert_eq!(p["duplicates"]["outside_scope_match"], true, "{p}");
    assert_eq!(p["duplicates"]["candidates"], json!([]), "{p}");
    hidden(&p);

    // A weak match (a warning for someone who sees everything) tells the clerk nothing.
    let weak = json!({"customer_type": "enterprise", "name": "南方重工机械销售有限公司"});
    let seen = check(&t, &admin, weak.clone()).await;
    assert_eq!(
        seen["verdict"], "possible",
        "the admin sees a warning: {seen}"
    );
    assert_eq!(seen["candidates"][0]["code"], theirs["code"], "{seen}");
    let r = check(&t, &clerk, weak).await;
    assert_eq!(r["verdict"], "none", "{r}");
    assert_eq!(r["candidates"], json!([]), "{r}");
    assert_eq!(r["outside_scope_match"], false, "{r}");
    assert!(r.get("outside_scope_message_zh").is_none(), "{r}");
    hidden(&r);

    // The clerk's own customer is shown in full (a customer of its own).
    let mine = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "佛山顺德家具制造有限公司",
               "region_code": "440606", "owner_id": clerk_id}),
    )
    .await;
    let r = check(&t, &clerk, json!({"customer_type": "enterprise", "name": "佛山顺德家具制造有限公司", "region_code": "440606"})).await;
    assert_eq!(r["candidates"][0]["code"], mine["code"], "{r}");
    assert_eq!(r["outside_scope_match"], false, "{r}");
});

backend_test!(duplicate_checks_are_rate_limited_per_user, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let limit = t
        .app
        .config
        .duplicate_check_limit
        .expect("a limit by default");
    for name in ["query1", "query2"] {
        t.create_user(
            &admin,
            name,
            None,
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
    }
    let q1 = t.login("query1", USER_PASSWORD).await;
    let q2 = t.login("query2", USER_PASSWORD).await;
    let draft = json!({"customer_type": "enterprise", "name": "深圳前海数据服务有限公司"});
    for _ in 0..limit.burst {
        check(&t, &q1, draft.clone()).await;
    }
    let r = t
        .post("/api/v1/duplicates/check", Some(&q1), draft.clone())
        .await;
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let p = problem(r, 429).await;
    assert_eq!(p["code"], "duplicate.rate_limited", "{p}");
    assert_eq!(p["status"], 429);
    // Another user is not held back by the first one's checks.
    check(&t, &q2, draft).await;
});

backend_test!(checks_with_personal_data_are_audited_without_values, |t| {
    let admin = t.admin_token().await;
    seed_person(&t, &admin).await;
    t.create_user(
        &admin,
        "query1",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let query = t.login("query1", USER_PASSWORD).await;
    // Without personal data: not audited.
    check(
        &t,
        &query,
        json!({"customer_type": "enterprise", "name": "无锡太湖纺织有限公司"}),
    )
    .await;
    assert!(audit_entries(&t, &admin, "duplicate.check")
        .await
        .is_empty());

    let r = check(&t, &query, draft_with_mobile(MOBILE)).await;
    assert_eq!(r["verdict"], "definite", "{r}");
    let entries = audit_entries(&t, &admin, "duplicate.check").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["actor"], "query1", "{entry}");
    let after = after_of(entry);
    assert_eq!(
        after["fields"],
        json!(["customer_type", "industry", "mobile", "name", "region_code"]),
        "{entry}"
    );
    assert_eq!(after["candidates"], 1, "{entry}");
    assert_eq!(after["outside_scope_match"], false, "{entry}");
    let text = entry.to_string();
    assert!(
        !text.contains(MOBILE) && !text.contains("李明"),
        "the audit holds a value: {text}"
    );
    assert!(!after.to_string().contains("5678"), "{after}");
});

backend_test!(review_queue_follows_the_same_rules, |t| {
    let admin = t.admin_token().await;
    let a = seed_person(&t, &admin).await;
    let mut twin = draft_with_mobile(&with_last_digit('0'));
    twin["override_duplicates"] = json!(true);
    twin["reason"] = json!("历史数据");
    let b = create(&t, &admin, twin).await;
    let s = body(
        t.post("/api/v1/duplicates/scan", Some(&admin), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(s["new_groups"], 1, "{s}");
    let r = t
        .post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "reviewer", "name": "查重", "permissions": ["customer.read", "duplicate.manage"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    for (name, scope) in [("reviewer1", "all"), ("reviewer2", "own")] {
        t.create_user(
            &admin,
            name,
            None,
            json!([{"role": "reviewer", "scope": scope}]),
        )
        .await;
    }

    // Without customer.pii.read: the pair is scored again by equality, no "similar".
    let all = t.login("reviewer1", USER_PASSWORD).await;
    let page = body(t.get("/api/v1/duplicates/groups", &all).await, 200).await;
    let group = &page["items"][0];
    let full = body(t.get("/api/v1/duplicates/groups", &admin).await, 200).await;
    let stored = full["items"][0]["pairs"][0]["score"]
        .as_f64()
        .unwrap_or(0.0);
    let shown = group["pairs"][0]["score"].as_f64().unwrap_or(1.0);
    assert!(stored > 0.9 && shown < stored, "{group} / {full}");
    assert_eq!(group["score"], group["pairs"][0]["score"], "{group}");
    let one = body(
        t.get(&format!("/api/v1/duplicates/groups/{}", group["id"]), &all)
            .await,
        200,
    )
    .await;
    let phone: Vec<&Value> = one["pairs"][0]["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["field"] == "phone")
        .collect();
    assert_eq!(phone.len(), 1, "{one}");
    assert_eq!(phone[0]["kind"], "withheld", "{one}");
    let mut codes = vec![a["code"].clone(), b["code"].clone()];
    codes.sort_by_key(|c| c.to_string());
    let mut members: Vec<Value> = one["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["code"].clone())
        .collect();
    members.sort_by_key(|c| c.to_string());
    assert_eq!(members, codes, "{one}");

    // Scope own: neither member is its own, so the group does not exist for it.
    let own = t.login("reviewer2", USER_PASSWORD).await;
    let page = body(t.get("/api/v1/duplicates/groups", &own).await, 200).await;
    assert_eq!(page["items"], json!([]), "{page}");
    problem(
        t.get(&format!("/api/v1/duplicates/groups/{}", group["id"]), &own)
            .await,
        404,
    )
    .await;
});
