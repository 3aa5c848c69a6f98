//! The data-quality endpoints over HTTP: a customer's score naming rules but no values,
//! the summary and worklist counting only the caller's scope, assignment notifying the
//! assignee, the recompute paged by `after`, and errors as problem+json naming the
//! parameter.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::{body, problem, TestApp, USER_PASSWORD};

async fn get_json(t: &TestApp, path: &str, token: &str) -> Value {
    body(t.get(path, token).await, 200).await
}

backend_test!(scores_summary_worklist_and_assignment, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let dept = t.create_department(&admin, "质量部", None).await;
    let clerk_id = t
        .create_user(
            &admin,
            "q_clerk",
            Some(dept),
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    t.create_user(
        &admin,
        "q_steward",
        Some(dept),
        json!([{"role": "steward", "scope": "own"}]),
    )
    .await;
    let steward = t.login("q_steward", USER_PASSWORD).await;
    let steward_id = get_json(&t, "/api/v1/me", &steward).await["id"]
        .as_i64()
        .unwrap();
    let mobile = "13812340001";
    let mine = create(
        &t,
        &admin,
        json!({"customer_type": "individual", "name": "质量甲", "mobile": mobile,
               "owner_id": steward_id}),
    )
    .await["code"]
        .as_str()
        .unwrap()
        .to_string();
    let other = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "质量乙有限公司", "mobile": "13812340002"}),
    )
    .await["code"]
        .as_str()
        .unwrap()
        .to_string();

    // The individual lacks only an address: completeness (3 + 3 + 3 required, 1 + 1
    // recommended) 100 × 10 / 11 = 90.9, score 0.3 × 90.9 + 70 = 97.3.
    let q = get_json(&t, &format!("/api/v1/customers/{mine}/quality"), &steward).await;
    assert_eq!(q["score"], json!(97.3));
    assert_eq!(q["failing"][0]["key"], "completeness.recommended.address");
    assert!(!q.to_string().contains(mobile), "{q}");
    // Outside the steward's own scope: the same 404 as a missing customer.
    problem(
        t.get(&format!("/api/v1/customers/{other}/quality"), &steward)
            .await,
        404,
    )
    .await;
    // The overview carries the score for a reader with quality.read.
    let o = get_json(&t, &format!("/api/v1/customers/{mine}/overview"), &steward).await;
    assert_eq!(o["quality"]["score"], json!(97.3));

    // Aggregates count the caller's scope only.
    let s = get_json(&t, "/api/v1/quality/summary", &steward).await;
    assert_eq!(s["customers"], 1);
    assert_eq!(s["average_score"], json!(97.3));
    let all = get_json(&t, "/api/v1/quality/summary?by=customer_type", &admin).await;
    assert_eq!(all["customers"], 2);
    assert_eq!(all["groups"].as_array().unwrap().len(), 2);
    let p = problem(
        t.get("/api/v1/quality/summary?by=colour", &admin).await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["field"], "by");
    // The trend counts every customer: withheld from an own-scope reader.
    let tr = get_json(&t, "/api/v1/quality/trend", &steward).await;
    assert_eq!(tr["withheld"], true);

    let w = get_json(
        &t,
        "/api/v1/quality/worklist?dimension=completeness",
        &steward,
    )
    .await;
    let codes: Vec<&str> = w["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec![mine.as_str()]);
    let p = problem(
        t.get("/api/v1/quality/worklist?limit=0", &steward).await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["field"], "limit");

    // Assignment: the assignee is notified; an unknown user is refused by field.
    let r = t
        .post(
            "/api/v1/quality/worklist/assign",
            Some(&steward),
            json!({"codes": [mine], "assignee_id": clerk_id, "note": "补充地址"}),
        )
        .await;
    assert_eq!(body(r, 200).await["assigned"], 1);
    let clerk = t.login("q_clerk", USER_PASSWORD).await;
    let notes = get_json(&t, "/api/v1/notifications", &clerk).await;
    assert!(notes.to_string().contains("quality.assigned"), "{notes}");
    let r = t
        .post(
            "/api/v1/quality/worklist/assign",
            Some(&steward),
            json!({"codes": [mine], "assignee_id": 999999}),
        )
        .await;
    assert_eq!(problem(r, 422).await["fields"][0]["field"], "assignee_id");
    // The clerk holds no quality permission.
    problem(t.get("/api/v1/quality/summary", &clerk).await, 403).await;

    // Recompute: everything fits in one request.
    let r = t
        .post("/api/v1/quality/recompute", Some(&admin), json!({}))
        .await;
    let rep = body(r, 200).await;
    assert_eq!(
        (rep["scored"].as_i64(), rep["done"].as_bool()),
        (Some(2), Some(true))
    );
    let r = t
        .post(
            "/api/v1/quality/recompute",
            Some(&admin),
            json!({"after": -1}),
        )
        .await;
    assert_eq!(problem(r, 422).await["fields"][0]["field"], "after");
});
