//! Many requests at once: nothing fails with "database is locked", nothing is lost.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use serde_json::{json, Value};

use custos_app::{AuditFilter, ChainReport};

use crate::backend_test;
use crate::helpers::*;

const N: usize = 32;

/// Count audit entries with this exact action, straight from the app.
async fn count_action(t: &TestApp, admin: &custos_app::Actor, action: &str) -> usize {
    t.app
        .audit()
        .list_audit(
            admin,
            AuditFilter {
                action: Some(action.into()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .len()
}

backend_test!(parallel_logins_and_user_creations, |t| {
    let admin = t.admin_token().await;
    let mut tasks = Vec::new();
    for i in 0..N {
        // Each login from an address of its own, as people logging in at once: parallel
        // attempts of one name from one address are checked five at a time on purpose
        // (logins.rs), which on a loaded machine would make this a test of patience.
        let client = reqwest::Client::builder()
            .local_address(
                format!("127.0.4.{}", i + 1)
                    .parse::<std::net::IpAddr>()
                    .ok(),
            )
            .build()
            .unwrap();
        let base = t.base.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
                .send()
                .await
                .expect("login request");
            (
                format!("login {i}"),
                r.status().as_u16(),
                r.text().await.unwrap_or_default(),
            )
        }));
        let (client, base, token) = (t.client.clone(), t.base.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/users"))
                .bearer_auth(token)
                .json(
                    &json!({"username": format!("load{i:02}"), "password": USER_PASSWORD,
                              "roles": [{"role": "query", "scope": "own"}]}),
                )
                .send()
                .await
                .expect("create request");
            (
                format!("create {i}"),
                r.status().as_u16(),
                r.text().await.unwrap_or_default(),
            )
        }));
    }
    for task in tasks {
        let (what, status, text) = task.await.expect("task");
        assert!(status == 200 || status == 201, "{what}: {status} {text}");
    }

    let page = body(t.get("/api/v1/users?limit=500", &admin).await, 200).await;
    let names: BTreeSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    let mut expected: BTreeSet<String> = (0..N).map(|i| format!("load{i:02}")).collect();
    expected.insert("admin".into());
    assert_eq!(names, expected);

    let report = t.app.audit().verify_audit().await.expect("verify");
    assert!(matches!(report, ChainReport::Ok { .. }), "{report:?}");
    let actor = t
        .app
        .auth()
        .actor_for_username(
            "admin",
            custos_app::Context::new(custos_app::Source::System),
        )
        .await
        .unwrap();
    assert!(count_action(&t, &actor, "user.create").await > N);
    assert!(count_action(&t, &actor, "auth.login").await > N);
});

backend_test!(parallel_wrong_passwords_are_throttled_exactly, |t| {
    let admin = t.admin_token().await;
    t.create_user(&admin, "target", None, json!([])).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, base) = (t.client.clone(), t.base.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"username": "target", "password": "wrong-password"}))
                .send()
                .await
                .expect("login request");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            (status, v["code"].as_str().unwrap_or("").to_string())
        }));
    }
    let mut invalid = 0;
    let mut throttled = 0;
    for task in tasks {
        match task.await.expect("task") {
            (401, code) if code == "auth.invalid_credentials" => invalid += 1,
            (429, code) if code == "auth.throttled" => throttled += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // Each attempt is counted before its password is checked, so parallel requests
    // cannot all slip past the threshold: five are checked, five wait.
    assert_eq!((invalid, throttled), (5, 5));
    let r = t
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "target", "password": USER_PASSWORD}),
        )
        .await;
    assert_eq!(problem(r, 429).await["code"], "auth.throttled");
    // The owner, elsewhere, is not kept out.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().ok())
        .build()
        .unwrap();
    let r = elsewhere
        .post(format!("{}/api/v1/auth/login", t.base))
        .json(&json!({"username": "target", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
});
