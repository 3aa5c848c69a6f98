//! Logging in and out, bearer tokens, disabled accounts, and errors for bad bodies
//! (throttling of failed logins: `logins.rs`).

#![allow(clippy::unwrap_used)]

use serde_json::json;

use crate::backend_test;
use crate::helpers::*;

backend_test!(login_ok_and_me, |t| {
    let token = t.admin_token().await;
    let me: serde_json::Value = t.get("/api/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["username"], "admin");
});

backend_test!(wrong_password_is_401_problem, |t| {
    let r = t
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": "wrong-password"}),
        )
        .await;
    let p = problem(r, 401).await;
    assert_eq!(p["code"], "auth.invalid_credentials");
    assert_eq!(p["title"], "身份验证失败");
});

/// POST a login and return the raw response.
async fn try_login(t: &TestApp, username: &str, password: &str) -> reqwest::Response {
    t.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

backend_test!(wrong_password_in_english, |t| {
    let r = t
        .req(reqwest::Method::POST, "/api/v1/auth/login", None)
        .header("accept-language", "en-GB,en;q=0.9,zh;q=0.5")
        .json(&json!({"username": "admin", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let p = problem(r, 401).await;
    assert_eq!(p["code"], "auth.invalid_credentials");
    assert_eq!(p["title"], "Authentication failed");
    assert_eq!(p["detail"], "wrong username or password");
    assert_eq!(p["status"], 401);
});

backend_test!(unknown_user_looks_like_wrong_password, |t| {
    let wrong = problem(try_login(&t, "admin", "wrong-password").await, 401).await;
    let unknown = problem(try_login(&t, "nobody-here", "wrong-password").await, 401).await;
    // No user enumeration: same code, title and detail.
    for k in ["code", "title", "detail", "type"] {
        assert_eq!(wrong[k], unknown[k], "{k}");
    }
    assert_eq!(unknown["code"], "auth.invalid_credentials");
});

backend_test!(missing_or_garbage_bearer_is_401, |t| {
    let r = t
        .req(reqwest::Method::GET, "/api/v1/me", None)
        .send()
        .await
        .unwrap();
    let p = problem(r, 401).await;
    assert_eq!(p["code"], "auth.required");

    let r = t
        .req(reqwest::Method::GET, "/api/v1/me", None)
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 401).await["code"], "auth.required");

    let p = problem(t.get("/api/v1/me", "cst_not-a-real-token").await, 401).await;
    assert_eq!(p["code"], "auth.token_invalid");
});

backend_test!(logout_revokes_the_token, |t| {
    let token = t.admin_token().await;
    let other = t.admin_token().await;
    let r = t
        .req(reqwest::Method::POST, "/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let p = problem(t.get("/api/v1/me", &token).await, 401).await;
    assert_eq!(p["code"], "auth.token_invalid");
    // Only that session ends.
    body(t.get("/api/v1/me", &other).await, 200).await;
});

backend_test!(disabled_user_cannot_log_in_and_loses_sessions, |t| {
    let admin = t.admin_token().await;
    let id = t.create_user(&admin, "dora", None, json!([])).await;
    let token = t.login("dora", USER_PASSWORD).await;
    body(t.get("/api/v1/me", &token).await, 200).await;

    let u = body(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"disabled": true}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(u["disabled"], true);
    let p = problem(t.get("/api/v1/me", &token).await, 401).await;
    assert_eq!(p["code"], "auth.token_invalid");
    // The right password of a disabled account answers like a wrong one.
    let p = problem(try_login(&t, "dora", USER_PASSWORD).await, 401).await;
    assert_eq!(p["code"], "auth.invalid_credentials");

    body(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"disabled": false}),
        )
        .await,
        200,
    )
    .await;
    // Enabling again does not resurrect the old session.
    let p = problem(t.get("/api/v1/me", &token).await, 401).await;
    assert_eq!(p["code"], "auth.token_invalid");
    t.login("dora", USER_PASSWORD).await;
});

backend_test!(admin_cannot_disable_self, |t| {
    let admin = t.admin_token().await;
    let me = body(t.get("/api/v1/me", &admin).await, 200).await;
    let id = me["id"].as_i64().unwrap();
    let p = problem(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"disabled": true}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["disabled"]);
    assert_eq!(p["fields"][0]["code"], "user.disable_self");
});

backend_test!(password_change_revokes_sessions, |t| {
    let admin = t.admin_token().await;
    let id = t.create_user(&admin, "pete", None, json!([])).await;
    let first = t.login("pete", USER_PASSWORD).await;
    let second = t.login("pete", USER_PASSWORD).await;

    // A user may change their own password without user.manage.
    let new_password = "Marble-Tundra-Falcon-42";
    body(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &first,
            json!({"password": new_password}),
        )
        .await,
        200,
    )
    .await;
    for token in [&first, &second] {
        let p = problem(t.get("/api/v1/me", token).await, 401).await;
        assert_eq!(p["code"], "auth.token_invalid");
    }
    let p = problem(try_login(&t, "pete", USER_PASSWORD).await, 401).await;
    assert_eq!(p["code"], "auth.invalid_credentials");
    let third = t.login("pete", new_password).await;

    // An administrator's reset revokes too.
    body(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"password": "Marble-Tundra-Falcon-43"}),
        )
        .await,
        200,
    )
    .await;
    let p = problem(t.get("/api/v1/me", &third).await, 401).await;
    assert_eq!(p["code"], "auth.token_invalid");
    t.login("pete", "Marble-Tundra-Falcon-43").await;
});

backend_test!(bad_login_bodies_name_the_field, |t| {
    let send_raw = |body: &'static str, ct: &'static str| {
        t.req(reqwest::Method::POST, "/api/v1/auth/login", None)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    // Missing field.
    let p = problem(
        send_raw(r#"{"username":"admin"}"#, "application/json")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(p["code"], "validation.failed");
    assert_eq!(problem_fields(&p), ["password"]);
    assert_eq!(p["fields"][0]["code"], "required");

    // Wrong type.
    let p = problem(
        send_raw(
            r#"{"username":"admin","password":12345}"#,
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["password"]);
    assert_eq!(p["fields"][0]["code"], "json.type");

    // Unknown field.
    let p = problem(
        send_raw(
            r#"{"username":"admin","password":"x","remember":true}"#,
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["remember"]);
    assert_eq!(p["fields"][0]["code"], "json.unknown_field");

    // Malformed JSON.
    let p = problem(
        send_raw(r#"{"username":"admin","#, "application/json")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "json.syntax");
    assert!(!p["fields"][0]["field"].as_str().unwrap().is_empty());

    // Not JSON at all.
    let p = problem(
        send_raw(
            "username=admin&password=x",
            "application/x-www-form-urlencoded",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["body"]);
    assert_eq!(p["fields"][0]["code"], "request.content_type");

    // Nested path for a bad entry inside a list.
    let admin = t.admin_token().await;
    let p = problem(
        t.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "nina", "password": USER_PASSWORD,
                   "roles": [{"role": "query", "scope": 7}]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["roles[0].scope"]);
    let p = problem(
        t.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "nina", "password": USER_PASSWORD,
                   "roles": [{"scope": "all"}]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["roles[0].role"]);
    assert_eq!(p["fields"][0]["code"], "required");
    let p = problem(
        t.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "nina", "password": USER_PASSWORD,
                   "roles": [{"role": "query", "colour": "red"}]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["roles[0].colour"]);
    assert_eq!(p["fields"][0]["code"], "json.unknown_field");
});
