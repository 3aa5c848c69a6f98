//! Service accounts and API keys: both headers, one answer for every bad key, disabled
//! accounts, data scope, no password login, rotation, per-key rate limits, audit.

#![allow(clippy::unwrap_used)]

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::{body, problem, TestApp};

/// Create a service account as `admin`; returns its id.
async fn account(t: &TestApp, admin: &str, name: &str, roles: Value) -> i64 {
    let r = t
        .post(
            "/api/v1/service-accounts",
            Some(admin),
            json!({"name": name, "roles": roles}),
        )
        .await;
    body(r, 201).await["id"].as_i64().expect("id")
}

/// Make a key of account `id`; returns (token, key view).
async fn key(t: &TestApp, admin: &str, id: i64, extra: Value) -> (String, Value) {
    let mut req = json!({"name": "ERP 生产环境"});
    if let (Some(o), Some(e)) = (req.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let r = t
        .post(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(admin),
            req,
        )
        .await;
    let v = body(r, 201).await;
    let token = v["token"].as_str().expect("token").to_string();
    (token, v["key"].clone())
}

/// GET `path` with the key in `X-API-Key`.
async fn get_with_header(t: &TestApp, path: &str, token: &str) -> reqwest::Response {
    t.req(Method::GET, path, None)
        .header("X-API-Key", token)
        .send()
        .await
        .expect("request")
}

/// A 401 body without what differs from request to request.
async fn refusal(r: reqwest::Response) -> Value {
    let mut p = problem(r, 401).await;
    if let Some(o) = p.as_object_mut() {
        o.remove("request_id");
    }
    p
}

backend_test!(
    keys_work_with_both_headers_and_bad_keys_get_one_answer,
    |t| {
        let admin = t.admin_token().await;
        let id = account(
            &t,
            &admin,
            "erp-sync",
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
        let (token, view) = key(&t, &admin, id, json!({})).await;
        assert!(token.starts_with(&format!("custos_{}_", view["prefix"].as_str().unwrap())));
        assert_eq!(view["status"], "active");
        // The token is never shown again.
        let listed = body(
            t.get(&format!("/api/v1/service-accounts/{id}/keys"), &admin)
                .await,
            200,
        )
        .await;
        assert!(!listed.to_string().contains(&token[20..]), "{listed}");

        assert_eq!(t.get("/api/v1/customers", &token).await.status(), 200);
        assert_eq!(
            get_with_header(&t, "/api/v1/customers", &token)
                .await
                .status(),
            200
        );
        let me = body(t.get("/api/v1/me", &token).await, 200).await;
        assert_eq!(me["username"], "erp-sync");
        assert_eq!(me["kind"], "service");

        // Wrong secret, unknown prefix, malformed, expired, revoked: one answer.
        let mut wrong = token.clone();
        let last = if wrong.ends_with('A') { "B" } else { "A" };
        wrong.replace_range(wrong.len() - 1.., last);
        let unknown = format!("custos_zzzzzzzz_{}", &token[16..]);
        let expected = refusal(t.get("/api/v1/customers", &wrong).await).await;
        assert_eq!(expected["code"], "auth.api_key_invalid", "{expected}");
        for bad in [unknown.as_str(), "custos_nonsense", "custos_"] {
            assert_eq!(
                refusal(t.get("/api/v1/customers", bad).await).await,
                expected
            );
            assert_eq!(
                refusal(get_with_header(&t, "/api/v1/customers", bad).await).await,
                expected
            );
        }
        let (expiring, ev) = key(&t, &admin, id, json!({})).await;
        t.app
            .db
            .execute_raw(&format!(
                "UPDATE api_keys SET expires_at = 1 WHERE id = {}",
                ev["id"]
            ))
            .await
            .expect("expire");
        assert_eq!(
            refusal(t.get("/api/v1/customers", &expiring).await).await,
            expected
        );
        let r = t
            .delete(
                &format!("/api/v1/service-accounts/{id}/keys/{}", view["id"]),
                &admin,
            )
            .await;
        assert_eq!(body(r, 200).await["status"], "revoked");
        assert_eq!(
            refusal(get_with_header(&t, "/api/v1/customers", &token).await).await,
            expected
        );
        assert_eq!(
            refusal(t.get("/api/v1/customers", &token).await).await,
            expected
        );

        // Keys are for the API only: the console does not take them.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let (live, _) = key(&t, &admin, id, json!({})).await;
        let page = client
            .get(format!("{}/", t.base))
            .header("X-API-Key", &live)
            .bearer_auth(&live)
            .send()
            .await
            .expect("console");
        assert!(page.status().is_redirection(), "{}", page.status());
    }
);

backend_test!(disabled_accounts_and_people_get_no_keys_to_work, |t| {
    let admin = t.admin_token().await;
    let id = account(
        &t,
        &admin,
        "crm-sync",
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let (token, _) = key(&t, &admin, id, json!({})).await;
    assert_eq!(t.get("/api/v1/customers", &token).await.status(), 200);
    let r = t
        .post(
            &format!("/api/v1/service-accounts/{id}/disable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(body(r, 200).await["disabled"], true);
    let p = refusal(t.get("/api/v1/customers", &token).await).await;
    assert_eq!(p["code"], "auth.api_key_invalid");
    let r = t
        .post(
            &format!("/api/v1/service-accounts/{id}/enable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(body(r, 200).await["disabled"], false);
    assert_eq!(t.get("/api/v1/customers", &token).await.status(), 200);

    // A person gets no key, and is no service account.
    let me = body(t.get("/api/v1/me", &admin).await, 200).await;
    let admin_id = me["id"].as_i64().unwrap();
    let r = t
        .post(
            &format!("/api/v1/service-accounts/{admin_id}/keys"),
            Some(&admin),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = t
        .get(&format!("/api/v1/service-accounts/{admin_id}"), &admin)
        .await;
    assert_eq!(r.status(), 404);
    let list = body(t.get("/api/v1/service-accounts", &admin).await, 200).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["crm-sync"]);
    assert_eq!(list["items"][0]["active_keys"], 1);

    // Bad input names the field; a key that is not the admin's to make is refused.
    let r = t
        .post(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(&admin),
            json!({"name": "old", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(p["fields"][0]["field"], "expires_at", "{p}");
    let r = t
        .post(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(&admin),
            json!({"name": "", "rate_per_second": 0}),
        )
        .await;
    let p = problem(r, 422).await;
    let fields: Vec<&str> = p["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "rate_per_second"], "{p}");
    // A key may not make keys unless its account may (the query role may not).
    let r = t
        .post(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(&token),
            json!({"name": "self"}),
        )
        .await;
    assert_eq!(r.status(), 403);
});

backend_test!(a_service_account_cannot_log_in_with_a_password, |t| {
    let admin = t.admin_token().await;
    let id = account(
        &t,
        &admin,
        "oa-sync",
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let login = |name: &'static str| {
        t.post(
            "/api/v1/auth/login",
            None,
            json!({"username": name, "password": "Any-Password-At-All-1"}),
        )
    };
    let for_account = refusal(login("oa-sync").await).await;
    let for_wrong_password = refusal(login("admin").await).await;
    assert_eq!(for_account, for_wrong_password);
    assert_eq!(for_account["code"], "auth.invalid_credentials");
    // Nor can it be given a password.
    let r = t
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"password": "Velvet-Orbit-Canyon-77"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(
        p["fields"][0]["code"], "user.service_account_password",
        "{p}"
    );
});

backend_test!(the_accounts_data_scope_applies, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let c = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "范围外科技有限公司"}),
    )
    .await;
    let code = c["code"].as_str().unwrap().to_string();
    let own = account(
        &t,
        &admin,
        "bi-own",
        json!([{"role": "query", "scope": "own"}]),
    )
    .await;
    let all = account(
        &t,
        &admin,
        "bi-all",
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let (own_key, _) = key(&t, &admin, own, json!({})).await;
    let (all_key, _) = key(&t, &admin, all, json!({})).await;
    let path = format!("/api/v1/customers/{code}");
    assert_eq!(t.get(&path, &all_key).await.status(), 200);
    assert_eq!(t.get(&path, &own_key).await.status(), 404);
    let list = body(t.get("/api/v1/customers", &own_key).await, 200).await;
    assert!(!list.to_string().contains("范围外科技有限公司"), "{list}");
    let list = body(t.get("/api/v1/customers", &all_key).await, 200).await;
    assert!(list.to_string().contains("范围外科技有限公司"), "{list}");
});

backend_test!(rotation_keeps_the_other_key_working, |t| {
    let admin = t.admin_token().await;
    let id = account(
        &t,
        &admin,
        "erp-rotate",
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let (old, old_view) = key(&t, &admin, id, json!({})).await;
    let (new, _) = key(&t, &admin, id, json!({"name": "ERP 新密钥"})).await;
    assert_eq!(t.get("/api/v1/customers", &old).await.status(), 200);
    assert_eq!(t.get("/api/v1/customers", &new).await.status(), 200);
    let r = t
        .delete(
            &format!("/api/v1/service-accounts/{id}/keys/{}", old_view["id"]),
            &admin,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(t.get("/api/v1/customers", &old).await.status(), 401);
    assert_eq!(t.get("/api/v1/customers", &new).await.status(), 200);
    // Last use and address are recorded.
    let keys = body(
        t.get(&format!("/api/v1/service-accounts/{id}/keys"), &admin)
            .await,
        200,
    )
    .await;
    let statuses: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["revoked", "active"]);
    assert!(keys[1]["last_used_at"].is_string(), "{keys}");
    assert_eq!(keys[1]["last_used_ip"], "127.0.0.1");
});

backend_test!(a_key_over_its_rate_gets_429_with_retry_after, |t| {
    let admin = t.admin_token().await;
    let id = account(
        &t,
        &admin,
        "bulk-sync",
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let (token, _) = key(&t, &admin, id, json!({"rate_per_second": 1, "burst": 3})).await;
    let (other, _) = key(&t, &admin, id, json!({"rate_per_second": 1, "burst": 3})).await;
    for _ in 0..3 {
        assert_eq!(t.get("/api/v1/me", &token).await.status(), 200);
    }
    let r = t.get("/api/v1/me", &token).await;
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&wait), "{wait}");
    let p = problem(r, 429).await;
    assert_eq!(p["code"], "api_key.rate_limited");
    // Each key has its own bucket.
    assert_eq!(t.get("/api/v1/me", &other).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(t.get("/api/v1/me", &token).await.status(), 200);
});

backend_test!(audit_entries_name_the_account_and_the_key, |t| {
    let admin = t.admin_token().await;
    let id = account(
        &t,
        &admin,
        "hr-sync",
        json!([{"role": "admin", "scope": "all"}]),
    )
    .await;
    let (token, view) = key(&t, &admin, id, json!({})).await;
    let r = t
        .post(
            "/api/v1/departments",
            Some(&token),
            json!({"name": "接口建的部门"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let page = body(
        t.get("/api/v1/audit?action=department.create", &admin)
            .await,
        200,
    )
    .await;
    let entry = page["items"][0].clone();
    assert_eq!(entry["actor"], "hr-sync", "{entry}");
    assert_eq!(entry["actor_id"], id);
    let reference = format!("{}:{}", view["id"], view["prefix"].as_str().unwrap());
    assert_eq!(entry["api_key"], reference.as_str(), "{entry}");
    // Entries with and without a key verify in one chain.
    let report = t.app.audit().verify_audit().await.expect("verify");
    assert!(
        matches!(report, custos_app::ChainReport::Ok { .. }),
        "{report:?}"
    );
    // The key's creation and revocation are audited too.
    let page = body(t.get("/api/v1/audit?action=api_key.", &admin).await, 200).await;
    assert_eq!(page["items"][0]["action"], "api_key.create");
});

backend_test!(an_address_sending_bad_keys_is_throttled, |t| {
    let admin = t.admin_token().await;
    let id = account(
        &t,
        &admin,
        "scan-target",
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let (good, _) = key(&t, &admin, id, json!({})).await;
    let bad = format!("custos_zzzzzzzz_{}", &good[16..]);
    // A burst of failures gets the ordinary answer…
    for _ in 0..30 {
        assert_eq!(t.get("/api/v1/me", &bad).await.status(), 401);
    }
    // …then bad keys from the address wait; a good key from the same address (a real
    // client behind the scanner's proxy) and sessions are not concerned.
    let r = t.get("/api/v1/me", &bad).await;
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(problem(r, 429).await["code"], "auth.throttled");
    assert_eq!(t.get("/api/v1/me", &good).await.status(), 200);
    assert_eq!(t.get("/api/v1/me", &admin).await.status(), 200);
    assert_eq!(t.get("/api/v1/me", &bad).await.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(t.get("/api/v1/me", &bad).await.status(), 401);
});
