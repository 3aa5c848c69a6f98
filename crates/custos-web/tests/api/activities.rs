//! The business-record endpoints over HTTP: created records read back, a merged code
//! answering 308 at its survivor's same resource, orders idempotent (201, 200, 409), and
//! errors as problem+json naming the field in Chinese by default and in English on request.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::{create, fields_of, seed_rules};
use crate::helpers::TestApp;

/// A request that does not follow redirects.
async fn send_raw(
    t: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut r = client
        .request(method, format!("{}{}", t.base, path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.expect("request")
}

backend_test!(records_over_http_and_merged_codes_redirect, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let a = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "接口甲科技有限公司"}),
    )
    .await;
    let b = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "接口乙实业有限公司"}),
    )
    .await;
    let (a, b) = (
        a["code"].as_str().unwrap().to_string(),
        b["code"].as_str().unwrap().to_string(),
    );

    let r = t
        .post(
            &format!("/api/v1/customers/{b}/followups"),
            Some(&admin),
            json!({"channel": "wechat", "content": "微信沟通需求", "result": "方案提交"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = t
        .get(&format!("/api/v1/customers/{b}/activities"), &admin)
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"][0]["kind"], "followup");
    assert_eq!(page["items"][0]["record"]["result"], "方案提交");

    let r = t
        .post(
            "/api/v1/merges",
            Some(&admin),
            json!({"survivor": a, "merged": [b], "reason": "同一客户"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let r = send_raw(
        &t,
        reqwest::Method::GET,
        &format!("/api/v1/customers/{b}/followups?limit=5"),
        &admin,
        None,
    )
    .await;
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/api/v1/customers/{a}/followups?limit=5")
    );
    let r = t
        .get(&format!("/api/v1/customers/{a}/followups"), &admin)
        .await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"][0]["recorded_on"], b.as_str());
});

backend_test!(orders_answer_201_then_200_then_409, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let c = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "接口订单有限公司"}),
    )
    .await;
    let path = format!("/api/v1/customers/{}/orders", c["code"].as_str().unwrap());
    let body = json!({"source_system": "erp", "document_number": "SO-7", "date": "2026-05-01", "amount": "88.80"});
    let r = t.post(&path, Some(&admin), body.clone()).await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    let r = t.post(&path, Some(&admin), body).await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["created"], false);
    let r = t
        .post(&path, Some(&admin), json!({"source_system": "erp", "document_number": "SO-7", "date": "2026-05-01", "amount": "1"}))
        .await;
    assert_eq!(r.status(), 409);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "order.document_conflict");
    let totals: Value = t.get(&path, &admin).await.json().await.unwrap();
    assert_eq!(totals["totals"]["lifetime_amount"], "88.80");
    assert_eq!(totals["totals"]["order_count"], 1);

    // Errors name the field and the rule, in Chinese by default and in English on request.
    let bad = json!({"source_system": "erp", "document_number": "SO-8", "date": "2026-02-30", "amount": -5});
    let r = t.post(&path, Some(&admin), bad.clone()).await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    let fields = fields_of(&p);
    assert_eq!(
        fields,
        [
            ("date".to_string(), "date.invalid".to_string()),
            ("amount".to_string(), "amount.invalid".to_string())
        ]
    );
    assert!(p["fields"][0]["message"].as_str().unwrap().contains("日期"));
    let r = t
        .req(reqwest::Method::POST, &path, Some(&admin))
        .header("accept-language", "en")
        .json(&bad)
        .send()
        .await
        .unwrap();
    let p: Value = r.json().await.unwrap();
    assert!(p["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("must be a date"));
});
