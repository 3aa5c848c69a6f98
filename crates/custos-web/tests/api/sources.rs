//! Upsert by source key over HTTP: the status says what happened (201 created, 202
//! queued, 200 otherwise), the batch answers per item, old codes resolve, and odd input
//! gets a problem naming the field.

use reqwest::Method;
use serde_json::json;

use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

backend_test!(upsert_batch_queue_and_resolve_over_http, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let put = |path: &str, body: serde_json::Value| {
        t.req(Method::PUT, path, Some(&admin)).json(&body).send()
    };
    let firm = json!({"customer_type": "enterprise", "name": "杭州青松贸易有限公司",
                      "uscc": "91330106MA2H0QW30T", "region_code": "330106"});
    let v = body(
        put("/api/v1/sources/erp/customers/K-1", firm.clone())
            .await
            .expect("answer"),
        201,
    )
    .await;
    assert_eq!(v["outcome"], "created");
    let code = v["code"].as_str().expect("answer").to_string();
    let v = body(
        put("/api/v1/sources/erp/customers/K-1", firm.clone())
            .await
            .expect("answer"),
        200,
    )
    .await;
    assert_eq!(v["outcome"], "unchanged");
    assert_eq!(v["code"], code.as_str());

    // The same company under another system's id is linked, under a third it waits.
    let v = body(
        put("/api/v1/sources/crm/customers/C-1", firm.clone())
            .await
            .expect("answer"),
        200,
    )
    .await;
    assert_eq!(v["outcome"], "linked");
    let v = body(
        put("/api/v1/sources/crm/customers/C-2", firm.clone())
            .await
            .expect("answer"),
        202,
    )
    .await;
    assert_eq!(v["outcome"], "queued");
    let id = v["queue_id"].as_i64().expect("answer");
    let queue = body(t.get("/api/v1/sources/queue", &admin).await, 200).await;
    assert_eq!(queue[0]["id"], id);
    let entry = body(
        t.get(&format!("/api/v1/sources/queue/{id}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(entry["duplicates"]["candidates"][0]["code"], code.as_str());
    let decided = body(
        t.post(
            &format!("/api/v1/sources/queue/{id}/decision"),
            Some(&admin),
            json!({"action": "reject", "reason": "重复推送"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(decided["state"], "rejected");

    let v = body(
        t.post(
            "/api/v1/sources/erp/customers/batch",
            Some(&admin),
            json!({"items": [
                {"source_id": "K-2", "customer": {"customer_type": "enterprise", "name": "宁波远帆物流有限公司"}},
                {"source_id": "K-3", "customer": {"customer_type": "enterprise", "name": ""}}
            ]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v[0]["result"]["outcome"], "created");
    assert_eq!(v[1]["error"]["status"], 422);
    assert_eq!(v[1]["error"]["fields"][0]["field"], "name");

    let v = body(
        t.get(&format!("/api/v1/codes/{code}/resolve"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(v["current_code"], code.as_str());

    // Odd input: a problem naming the field, never a 5xx.
    let p = problem(
        put("/api/v1/sources/ERP%20X/customers/K-1", firm.clone())
            .await
            .expect("answer"),
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["field"], "system");
    let p = problem(
        put(
            "/api/v1/sources/erp/customers/K-1",
            json!({"name": "x", "colour": 1}),
        )
        .await
        .expect("answer"),
        422,
    )
    .await;
    assert!(p["fields"].as_array().is_some_and(|f| !f.is_empty()), "{p}");
    problem(t.get("/api/v1/sources/queue?limit=x", &admin).await, 422).await;
    problem(
        t.get("/api/v1/sources/queue?state=maybe", &admin).await,
        422,
    )
    .await;
    problem(t.get("/api/v1/sources/queue/abc", &admin).await, 404).await;
    problem(t.get("/api/v1/codes/NOPE/resolve", &admin).await, 404).await;
});
