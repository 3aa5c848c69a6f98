//! Issue 28: failed logins are throttled per (client address, username) and per username
//! instead of locking accounts; one answer for unknown, wrong, disabled and throttled;
//! administrator unlock; case-insensitive usernames; the password policy.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::Instant;

use reqwest::{Client, Response};
use serde_json::{json, Value};

use custos_app::login_throttle::{client_key, login_subject};
use custos_store::now_us;

use crate::backend_test;
use crate::helpers::*;

/// A client whose requests come from `ip` (any 127.0.0.0/8 address reaches the server).
fn client_from(ip: &str) -> Client {
    Client::builder()
        .local_address(ip.parse::<IpAddr>().ok())
        .build()
        .unwrap()
}

async fn login_from(t: &TestApp, c: &Client, username: &str, password: &str) -> Response {
    c.post(format!("{}/api/v1/auth/login", t.base))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Status, `Retry-After` and the problem body without what differs per request.
async fn answer(r: Response) -> (u16, Option<u64>, Value) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let mut v: Value = r.json().await.unwrap();
    v.as_object_mut().unwrap().remove("request_id");
    (status, retry, v)
}

/// Let the wait of (`username`, `ip`) end now, as if its time had passed.
async fn end_wait(t: &TestApp, username: &str, ip: &str) {
    let mut tx = t.app.db.begin().await.unwrap();
    let mut row = tx
        .lock_login_throttle(&login_subject(username), &client_key(Some(ip)))
        .await
        .unwrap();
    row.blocked_until = Some(now_us() - 1);
    tx.put_login_throttle(&row).await.unwrap();
    tx.commit().await.unwrap();
}

async fn fail_times(t: &TestApp, c: &Client, username: &str, n: usize) {
    for i in 0..n {
        let r = login_from(t, c, username, "not-the-password").await;
        assert_eq!(r.status(), 401, "attempt {i} for {username}");
    }
}

backend_test!(wrong_guesses_elsewhere_do_not_keep_the_owner_out, |t| {
    // Five anonymous wrong guesses used to lock `admin` for 15 minutes.
    let stranger = client_from("127.0.0.2");
    fail_times(&t, &stranger, "admin", 5).await;
    let (status, _, p) = answer(login_from(&t, &stranger, "admin", ADMIN_PASSWORD).await).await;
    assert_eq!((status, p["code"].as_str()), (429, Some("auth.throttled")));
    // The owner, from another address, logs in with the right password.
    let owner = client_from("127.0.0.3");
    let r = login_from(&t, &owner, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 200);
});

backend_test!(unknown_wrong_disabled_and_throttled_answer_alike, |t| {
    let admin = t.admin_token().await;
    let dora = t.create_user(&admin, "dora", None, json!([])).await;
    t.patch(
        &format!("/api/v1/users/{dora}"),
        &admin,
        json!({"disabled": true}),
    )
    .await;
    let c = client_from("127.0.0.4");
    let wrong = answer(login_from(&t, &c, "admin", "not-the-password").await).await;
    let unknown = answer(login_from(&t, &c, "nobody-here", "not-the-password").await).await;
    let disabled = answer(login_from(&t, &c, "dora", USER_PASSWORD).await).await;
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong.2["code"], "auth.invalid_credentials");
    assert_eq!(unknown, wrong);
    assert_eq!(disabled, wrong);

    // Throttled: an existing and an unknown name, the same number of failures each.
    t.create_user(&admin, "lucy", None, json!([])).await;
    let c = client_from("127.0.0.5");
    for _ in 0..5 {
        fail_times(&t, &c, "lucy", 1).await;
        fail_times(&t, &c, "lucy-does-not-exist", 1).await;
    }
    let existing = answer(login_from(&t, &c, "lucy", USER_PASSWORD).await).await;
    let unknown = answer(login_from(&t, &c, "lucy-does-not-exist", USER_PASSWORD).await).await;
    assert_eq!(existing.0, 429);
    assert_eq!(existing.2["code"], "auth.throttled");
    assert_eq!((unknown.0, &unknown.2), (existing.0, &existing.2));
    // Both wait the first delay (whole seconds, counted from their fifth failure).
    for retry in [existing.1, unknown.1] {
        assert!(retry.is_some_and(|s| (55..=60).contains(&s)), "{retry:?}");
    }
});

backend_test!(unknown_names_cost_the_time_of_a_wrong_password, |t| {
    // Three attempts each, from addresses of their own, so nothing is throttled.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..3 {
        let c = client_from(&format!("127.0.1.{i}"));
        let start = Instant::now();
        assert_eq!(
            login_from(&t, &c, "admin", "not-the-password")
                .await
                .status(),
            401
        );
        known.push(start.elapsed());
        let start = Instant::now();
        assert_eq!(
            login_from(&t, &c, "ghost", "not-the-password")
                .await
                .status(),
            401
        );
        unknown.push(start.elapsed());
    }
    known.sort();
    unknown.sort();
    // Both verify an argon2 hash (a dummy one for the unknown name); without that an
    // unknown name answers many times faster.
    assert!(
        unknown[1] * 3 >= known[1],
        "unknown {unknown:?} vs existing {known:?}"
    );
});

backend_test!(waits_double_from_one_address, |t| {
    let admin = t.admin_token().await;
    t.create_user(&admin, "target", None, json!([])).await;
    let ip = "127.0.0.6";
    let c = client_from(ip);
    fail_times(&t, &c, "target", 4).await;
    // The fifth failure is still checked, then the pair waits 60 s, 120 s, 240 s.
    for (round, wait) in [60u64, 120, 240].into_iter().enumerate() {
        let r = login_from(&t, &c, "target", "not-the-password").await;
        assert_eq!(r.status(), 401, "round {round}");
        // Even the right password is not checked while the pair waits.
        let (status, retry, p) = answer(login_from(&t, &c, "target", USER_PASSWORD).await).await;
        assert_eq!(status, 429, "round {round}: {p}");
        assert!(
            retry.is_some_and(|s| s <= wait && s + 5 > wait),
            "round {round}: {retry:?}"
        );
        end_wait(&t, "target", ip).await;
    }
    // After the wait the right password works and the address starts afresh.
    let r = login_from(&t, &c, "target", USER_PASSWORD).await;
    assert_eq!(r.status(), 200);
    fail_times(&t, &c, "target", 4).await;
    // The name is looked up whatever its case, and throttled as one name.
    let r = login_from(&t, &c, "TARGET", "not-the-password").await;
    assert_eq!(r.status(), 401);
    let r = login_from(&t, &c, "Target", USER_PASSWORD).await;
    assert_eq!(r.status(), 429);
});

backend_test!(
    the_name_ceiling_spares_addresses_that_have_not_failed,
    config = |c: &mut custos_app::AppConfig| {
        c.login_throttle.pair_failures = 3;
        c.login_throttle.user_failures = 4;
    },
    |t| {
        let admin = t.admin_token().await;
        let lucy = t.create_user(&admin, "lucy", None, json!([])).await;
        // Guesses spread over addresses: two each from two addresses reach the ceiling.
        let a = client_from("127.0.2.1");
        let b = client_from("127.0.2.2");
        fail_times(&t, &a, "lucy", 2).await;
        fail_times(&t, &b, "lucy", 2).await;
        // Addresses that have failed now wait, below their own threshold.
        let (status, _, _) = answer(login_from(&t, &a, "lucy", USER_PASSWORD).await).await;
        assert_eq!(status, 429);
        let u = body(t.get(&format!("/api/v1/users/{lucy}"), &admin).await, 200).await;
        assert!(u["locked_until"].is_string(), "{u}");
        // An address that has not failed still gets the right password checked.
        let fresh = client_from("127.0.2.3");
        assert_eq!(
            login_from(&t, &fresh, "lucy", USER_PASSWORD).await.status(),
            200
        );
    }
);

backend_test!(an_administrator_clears_the_throttling, |t| {
    let admin = t.admin_token().await;
    let lucy = t.create_user(&admin, "lucy", None, json!([])).await;
    t.create_user(
        &admin,
        "quinn",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let c = client_from("127.0.0.7");
    fail_times(&t, &c, "lucy", 5).await;
    assert_eq!(
        login_from(&t, &c, "lucy", USER_PASSWORD).await.status(),
        429
    );

    // Only with user.manage.
    let quinn = t.login("quinn", USER_PASSWORD).await;
    let unlock = format!("/api/v1/users/{lucy}/unlock");
    let p = problem(t.post(&unlock, Some(&quinn), json!({})).await, 403).await;
    assert_eq!(p["code"], "auth.forbidden");
    assert_eq!(
        login_from(&t, &c, "lucy", USER_PASSWORD).await.status(),
        429
    );

    let u = body(t.post(&unlock, Some(&admin), json!({})).await, 200).await;
    assert_eq!(u["username"], "lucy");
    assert!(u["locked_until"].is_null());
    assert_eq!(
        login_from(&t, &c, "lucy", USER_PASSWORD).await.status(),
        200
    );
    let page = body(t.get("/api/v1/audit?action=user.unlock", &admin).await, 200).await;
    let lucy_id = lucy.to_string();
    let entry = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target_id"].as_str() == Some(lucy_id.as_str()))
        .unwrap_or_else(|| panic!("no user.unlock entry in {page}"));
    assert_eq!(entry["actor"], "admin");
    let p = problem(
        t.post("/api/v1/users/999999/unlock", Some(&admin), json!({}))
            .await,
        404,
    )
    .await;
    assert_eq!(p["code"], "user.not_found");
});

backend_test!(usernames_ignore_case, |t| {
    let admin = t.admin_token().await;
    let p = problem(
        t.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "Admin", "password": USER_PASSWORD}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "user.username_taken");
    // Login ignores case; the name is kept as typed.
    let r = t
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "ADMIN", "password": ADMIN_PASSWORD}),
        )
        .await;
    let v = body(r, 200).await;
    assert_eq!(v["user"]["username"], "admin");
    t.create_user(&admin, "MixedCase", None, json!([])).await;
    let token = t.login("mixedcase", USER_PASSWORD).await;
    let me = body(t.get("/api/v1/me", &token).await, 200).await;
    assert_eq!(me["username"], "MixedCase");
});

/// Create `username` with `password`; the problem's single field and its code.
async fn refused(t: &TestApp, admin: &str, body: Value) -> (String, String) {
    let p = problem(t.post("/api/v1/users", Some(admin), body).await, 422).await;
    assert_eq!(problem_fields(&p), ["password"], "{p}");
    let f = &p["fields"][0];
    assert!(!f["message"].as_str().unwrap().is_empty());
    (
        f["field"].as_str().unwrap().to_string(),
        f["code"].as_str().unwrap().to_string(),
    )
}

backend_test!(password_policy_names_the_field_and_rule, |t| {
    let admin = t.admin_token().await;
    let cases = [
        (
            json!({"username": "zoey", "password": "password123"}),
            "password.too_short",
        ),
        (
            json!({"username": "zoey", "password": "Tq7!vR2#mZ9"}),
            "password.too_short",
        ),
        (
            json!({"username": "zoey", "password": "password1234"}),
            "password.guessable",
        ),
        (
            json!({"username": "zoey", "password": "qwertyuiop12"}),
            "password.guessable",
        ),
        (
            json!({"username": "zoey", "password": "ZOEY-Marble-Tundra-9"}),
            "password.contains_name",
        ),
        (
            json!({"username": "zoey", "display_name": "Zoe Liddell",
                   "password": "Marble-liddell-Tundra-9"}),
            "password.contains_name",
        ),
        (
            json!({"username": "zoey", "password": "x7Q!".repeat(33)}),
            "password.too_long",
        ),
    ];
    for (req, rule) in cases {
        let (field, code) = refused(&t, &admin, req.clone()).await;
        assert_eq!((field.as_str(), code.as_str()), ("password", rule), "{req}");
    }
    // Nothing was created; twelve characters of the right kind pass.
    let id = t.create_user(&admin, "zoey", None, json!([])).await;
    // A change of one's own password follows the same policy.
    let zoey = t.login("zoey", USER_PASSWORD).await;
    let p = problem(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &zoey,
            json!({"password": "zoey-Marble-Tundra-9"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["password"]);
    assert_eq!(p["fields"][0]["code"], "password.contains_name");
    // English on request.
    let r = t
        .req(reqwest::Method::POST, "/api/v1/users", Some(&admin))
        .header("accept-language", "en")
        .json(&json!({"username": "yves", "password": "password1234"}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert!(
        p["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too common"),
        "{p}"
    );
});

#[tokio::test]
async fn the_first_administrators_password_follows_the_policy() {
    let db = custos_store::testing::TestDb::new(custos_app::Backend::Sqlite)
        .await
        .unwrap()
        .unwrap();
    let app = custos_app::App::from_db(db.db.clone(), Default::default());
    app.org().ensure_builtin_roles().await.unwrap();
    for (password, rule) in [
        ("Admin-Quokka-Saffron-19", "password.contains_name"),
        ("admin123", "password.too_short"),
    ] {
        match app.auth().ensure_admin(Some(password.into())).await {
            Err(custos_app::AppError::Validation(fields)) => {
                assert_eq!(fields[0].field, "CUSTOS_ADMIN_PASSWORD");
                assert_eq!(fields[0].violation.code, rule);
            }
            other => panic!("{password}: {other:?}"),
        }
    }
    // The demo users' password passes.
    custos_app::password_policy::check_password(
        custos_app::demo::DEMO_PASSWORD,
        12,
        &["clerk_east", "钱录入"],
    )
    .unwrap();
    db.cleanup().await;
}

backend_test!(forwarded_for_is_ignored_from_an_untrusted_peer, |t| {
    // Without trusted proxies a client cannot pose as many addresses.
    for _ in 0..5 {
        let r = t
            .req(reqwest::Method::POST, "/api/v1/auth/login", None)
            .header("x-forwarded-for", "10.9.9.1")
            .json(&json!({"username": "admin", "password": "not-the-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = t
        .req(reqwest::Method::POST, "/api/v1/auth/login", None)
        .header("x-forwarded-for", "10.9.9.2")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
});

backend_test!(
    forwarded_for_names_the_client_behind_a_trusted_proxy,
    config = |c: &mut custos_app::AppConfig| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    },
    |t| {
        let login = |xff: &'static str, password: &'static str| {
            t.req(reqwest::Method::POST, "/api/v1/auth/login", None)
                .header("x-forwarded-for", xff)
                .json(&json!({"username": "admin", "password": password}))
                .send()
        };
        for _ in 0..5 {
            assert_eq!(
                login("10.9.9.1", "not-the-password")
                    .await
                    .unwrap()
                    .status(),
                401
            );
        }
        // A client-written address left of the proxy's entry is not believed.
        let r = login("10.9.9.2, 10.9.9.1", ADMIN_PASSWORD).await.unwrap();
        assert_eq!(r.status(), 429);
        let v = body(login("10.9.9.2", ADMIN_PASSWORD).await.unwrap(), 200).await;
        let admin = v["token"].as_str().unwrap();
        let page = body(t.get("/api/v1/audit?action=auth.login", admin).await, 200).await;
        assert_eq!(page["items"][0]["ip"], "10.9.9.2", "{page}");
    }
);

backend_test!(parallel_right_passwords_from_one_address_all_succeed, |t| {
    // At most five attempts of a pair are checked at once; the others wait in the server
    // for them to settle instead of being refused.
    let c = client_from("127.0.0.8");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (c, url) = (c.clone(), format!("{}/api/v1/auth/login", t.base));
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
});
