//! Webhook subscriptions through the HTTP API: the secret shown once and never listed,
//! bad input answered 4xx naming each field (in Chinese by default), a missing
//! subscription 404, the delivery log and a test ping against a closed port.

use serde_json::{json, Value};

use crate::backend_test;
use crate::helpers::{body, problem, problem_fields, TestApp};

async fn create(t: &TestApp, token: &str, v: Value) -> reqwest::Response {
    t.post("/api/v1/webhooks", Some(token), v).await
}

backend_test!(webhooks_through_the_api, |t| {
    let admin = t.admin_token().await;
    let made = body(
        create(
            &t,
            &admin,
            json!({"name": "ERP 生产", "url": "http://127.0.0.1:9/hook",
                   "event_types": ["customer.created", "customer.merged"]}),
        )
        .await,
        201,
    )
    .await;
    let secret = made["secret"].as_str().expect("secret");
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    let id = made["webhook"]["id"].as_i64().expect("id");
    assert_eq!(made["webhook"]["owner"], "admin");
    assert_eq!(
        made["webhook"]["event_types"],
        json!(["customer.created", "customer.merged"])
    );
    let list = t
        .get("/api/v1/webhooks", &admin)
        .await
        .text()
        .await
        .expect("list");
    assert!(!list.contains(secret) && !list.contains("whsec_"), "{list}");
    let one = t
        .get(&format!("/api/v1/webhooks/{id}"), &admin)
        .await
        .text()
        .await
        .expect("one");
    assert!(!one.contains("whsec_"));

    // Bad input: every field named, 422, Chinese messages.
    let p = problem(
        create(
            &t,
            &admin,
            json!({"name": "坏名", "url": "javascript:alert(1)",
                   "event_types": ["customer.exploded"], "owner": "nobody"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["url", "event_types", "owner"]);
    let text = p.to_string();
    assert!(text.contains("未知的事件类型"), "{text}");
    // A control character is refused before anything else, naming its field.
    let p = problem(
        create(
            &t,
            &admin,
            json!({"name": "坏\u{1b}名", "url": "http://h/"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["name"]);
    let p = problem(
        create(
            &t,
            &admin,
            json!({"name": "x", "url": "http://h/", "secret": "mine"}),
        )
        .await,
        422,
    )
    .await;
    assert!(p.to_string().contains("secret"), "{p}");
    let p = problem(
        create(
            &t,
            &admin,
            json!({"name": "ERP 生产", "url": "http://127.0.0.1:9/other"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "webhook.name_taken");
    let p = problem(
        t.patch(
            &format!("/api/v1/webhooks/{id}"),
            &admin,
            json!({"url": "http://a b/"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["url"]);
    problem(t.get("/api/v1/webhooks/424242", &admin).await, 404).await;
    let p = problem(
        t.get(&format!("/api/v1/webhooks/{id}/deliveries?limit=0"), &admin)
            .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["limit"]);
    let p = problem(
        t.post(
            &format!("/api/v1/webhooks/{id}/replay"),
            Some(&admin),
            json!({"from": -1}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["from"]);

    // A ping to a closed port: not delivered, logged with the reason.
    let ping = body(
        t.post(
            &format!("/api/v1/webhooks/{id}/test"),
            Some(&admin),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ping["delivered"], false);
    assert!(ping["error"]
        .as_str()
        .expect("error")
        .starts_with("connect"));
    let log = body(
        t.get(&format!("/api/v1/webhooks/{id}/deliveries"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(log["items"][0]["outcome"], "ping");
    assert_eq!(log["items"][0]["attempt_id"], ping["attempt_id"]);
    // Filtered by outcome: a known one, or the field named.
    for (outcome, lines) in [("ping", 1), ("dead", 0)] {
        let log = body(
            t.get(
                &format!("/api/v1/webhooks/{id}/deliveries?outcome={outcome}"),
                &admin,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(log["items"].as_array().map(Vec::len), Some(lines), "{log}");
    }
    let p = problem(
        t.get(
            &format!("/api/v1/webhooks/{id}/deliveries?outcome=exploded"),
            &admin,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["outcome"]);

    // Paused, then deleted.
    let v = body(
        t.patch(
            &format!("/api/v1/webhooks/{id}"),
            &admin,
            json!({"active": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["active"], false);
    let r = t.delete(&format!("/api/v1/webhooks/{id}"), &admin).await;
    assert_eq!(r.status(), 204);
    problem(t.get(&format!("/api/v1/webhooks/{id}"), &admin).await, 404).await;
});
