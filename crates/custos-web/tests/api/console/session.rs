//! Console sessions: the cookie, CSRF on every change, one session store with the API,
//! idle timeout, language, headers.

use reqwest::header;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::helpers::*;

backend_test!(console_requires_sign_in_and_sets_a_strict_cookie, |t| {
    let mut v = Visitor::new(&t);
    let r = v.get("/").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?next=%2F");
    let r = v.get("/account?tab=%E5%BC%A0").await;
    assert_eq!(
        location(&r),
        "/login?next=%2Faccount%3Ftab%3D%25E5%25BC%25A0"
    );

    let page = v.get("/login").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\"") && html.contains("用户名"));
    let csrf = Visitor::hidden(&html, "csrf");

    // A login posted without the form's own value (another site's form) is refused.
    let r = v
        .post(
            "/login",
            &[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("csrf", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(!v.cookies.contains_key("custos_session"));
    // The refusal's page carries a fresh form value.
    let html = r.text().await.unwrap();
    assert_ne!(Visitor::hidden(&html, "csrf"), csrf);
    let csrf = Visitor::hidden(&html, "csrf");

    let r = v
        .post(
            "/login",
            &[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("csrf", &csrf),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/", "next never leaves the site");
    let set: Vec<String> = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|h| h.to_str().unwrap().to_string())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("custos_session="))
        .expect("cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "plain HTTP: no Secure flag");

    let r = v.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("工作台") && html.contains("系统管理员"));
});

backend_test!(wrong_password_and_unknown_user_read_alike, |t| {
    let mut v = Visitor::new(&t);
    let mut bodies = Vec::new();
    for user in ["admin", "nobody-here"] {
        let html = v.get("/login").await.text().await.unwrap();
        let csrf = Visitor::hidden(&html, "csrf");
        let r = v
            .post(
                "/login",
                &[
                    ("username", user),
                    ("password", "Wrong-Password-123"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(r.status(), 401);
        let html = r.text().await.unwrap();
        let error = html
            .split("id=\"login-error\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        bodies.push(error.to_string());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0], "用户名或密码错误");
});

backend_test!(changing_forms_need_the_csrf_token, |t| {
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let r = v.post("/account/language", &[("language", "en")]).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("页面已过期"));
    let r = v.post("/logout", &[("csrf", "0000")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(v.get("/").await.status(), 200, "still signed in");

    let csrf = v.csrf().await;
    let r = v
        .post("/account/language", &[("language", "en"), ("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    let html = v.get("/account").await.text().await.unwrap();
    assert!(
        html.contains("lang=\"en\"") && html.contains("My account"),
        "English now"
    );
    let r = v
        .post("/account/language", &[("language", "fr"), ("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 422);

    // The choice belongs to the user: a new sign-in elsewhere reads English.
    let mut other = Visitor::new(&t);
    other.login("admin", ADMIN_PASSWORD).await;
    assert!(other
        .get("/")
        .await
        .text()
        .await
        .unwrap()
        .contains("Dashboard"));
});

backend_test!(console_and_api_share_one_session_store, |t| {
    let admin = t.admin_token().await;
    let id = t
        .create_user(
            &admin,
            "li.clerk",
            None,
            serde_json::json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let mut v = Visitor::new(&t);
    v.login("li.clerk", USER_PASSWORD).await;
    // The cookie's session is a session like any: the API accepts it, and the console
    // logout ends it there too.
    let token = v.session_token();
    assert_eq!(t.get("/api/v1/me", &token).await.status(), 200);
    let csrf = v.csrf().await;
    let r = v.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/login");
    assert_eq!(t.get("/api/v1/me", &token).await.status(), 401);
    assert_eq!(v.get("/").await.status(), 303);

    // Disabling the user ends a console session at once.
    let mut v = Visitor::new(&t);
    v.login("li.clerk", USER_PASSWORD).await;
    let r = t
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            serde_json::json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(v.get("/").await.status(), 303);
});

backend_test!(
    an_idle_console_session_ends,
    config = |c: &mut custos_app::AppConfig| c.session_idle = std::time::Duration::from_secs(1),
    |t| {
        let mut v = Visitor::new(&t);
        v.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(v.get("/").await.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
        let r = v.get("/").await;
        assert_eq!(r.status(), 303, "idle too long");
        // An API token of the same user is not a browser session and lives on.
        let token = t.admin_token().await;
        tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
        assert_eq!(t.get("/api/v1/me", &token).await.status(), 200);
    }
);

backend_test!(own_password_change_needs_the_current_one, |t| {
    let admin = t.admin_token().await;
    t.create_user(
        &admin,
        "wang.q",
        None,
        serde_json::json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut v = Visitor::new(&t);
    v.login("wang.q", USER_PASSWORD).await;
    let csrf = v.csrf().await;
    let r = v
        .post(
            "/account/password",
            &[
                ("current_password", "nope"),
                ("password", "Maple-Harbor-Quartz-42"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("当前密码不正确"));
    let r = v
        .post(
            "/account/password",
            &[
                ("current_password", USER_PASSWORD),
                ("password", "password123"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 422, "policy applies");
    let r = v
        .post(
            "/account/password",
            &[
                ("current_password", USER_PASSWORD),
                ("password", "Maple-Harbor-Quartz-42"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(location(&r), "/login?changed=1");
    assert_eq!(v.get("/").await.status(), 303, "every session ended");
    v.login("wang.q", "Maple-Harbor-Quartz-42").await;
});

backend_test!(unknown_console_paths_get_a_page_api_paths_a_problem, |t| {
    let mut v = Visitor::new(&t);
    let r = v.get("/no-such-page").await;
    assert_eq!(r.status(), 404);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let r = v.get("/api/v1/no-such").await;
    assert_eq!(r.status(), 404);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("problem+json"));
    let r = v.get("/assets/htmx.min.js").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
});
