//! The administration and audit pages over HTTP on both databases: a query-role user is
//! refused every one of them; an administrator creates and disables a user, moves a
//! department (not under its own child), grants a role with an expiry; the audit log
//! filters by its query and verifies the chain.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::helpers::*;

async fn admin_visitor(t: &TestApp) -> (Visitor, String) {
    let mut v = Visitor::new(t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;
    (v, csrf)
}

backend_test!(query_user_is_refused_every_admin_and_audit_page, |t| {
    let admin = t.admin_token().await;
    let dept = t.create_department(&admin, "查询部", None).await;
    let query = t
        .create_user(
            &admin,
            "query_only",
            Some(dept),
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
    let mut v = Visitor::new(&t);
    v.login("query_only", USER_PASSWORD).await;
    let csrf = v.csrf().await;
    let home = v.get("/").await.text().await.unwrap();
    assert!(!home.contains("href=\"/admin/users\""), "no 管理 entry");
    assert!(!home.contains("href=\"/audit\""), "no 审计 entry");
    for path in [
        "/admin/users",
        "/admin/users/new",
        "/admin/users/1",
        "/admin/departments",
        "/admin/roles",
        "/admin/system",
        "/audit",
        "/audit/1",
    ] {
        let r = v.get(path).await;
        assert_eq!(r.status(), 403, "GET {path}");
    }
    let uid = query.to_string();
    for (path, form) in [
        (
            "/admin/users/new",
            vec![("username", "sneaky"), ("password", "Zq8!long-enough-pw")],
        ),
        ("/admin/users/1/disable", vec![]),
        (
            "/admin/users/1/password",
            vec![("password", "Zq8!long-enough-pw")],
        ),
        ("/admin/departments/new", vec![("name", "新部门")]),
        (
            "/admin/roles/grant",
            vec![("user_id", uid.as_str()), ("role", "admin")],
        ),
        ("/admin/system/test-mail", vec![("to", "a@example.cn")]),
        ("/audit/verify", vec![]),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        let r = v.post(path, &form).await;
        assert_eq!(r.status(), 403, "POST {path}");
    }
    // Nothing was granted.
    let me = body(
        t.get("/api/v1/me", &t.login("query_only", USER_PASSWORD).await)
            .await,
        200,
    )
    .await;
    assert_eq!(me["roles"].as_array().unwrap().len(), 1, "{me}");
});

backend_test!(admin_creates_disables_and_enables_a_user, |t| {
    let admin = t.admin_token().await;
    let dept = t.create_department(&admin, "销售部", None).await;
    let (mut v, csrf) = admin_visitor(&t).await;
    let page = v.get("/admin/users/new").await.text().await.unwrap();
    assert!(
        page.contains("name=\"roles[0].role\""),
        "roles by the API's keys"
    );
    // A refused form keeps what was typed and names the field.
    let dept_s = dept.to_string();
    let r = v
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("username", "x"),
                ("password", "short"),
                ("display_name", "王五"),
                ("department_id", &dept_s),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"username-error\""), "{html}");
    assert!(html.contains("id=\"password-error\""));
    assert!(html.contains("value=\"王五\""), "typed value kept");
    let r = v
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("username", "wangwu"),
                ("password", "Kp4#river-stone-2026"),
                ("display_name", "王五"),
                ("department_id", &dept_s),
                ("roles[2].role", "clerk"),
                ("roles[2].scope", "department"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    let id: i64 = to
        .trim_start_matches("/admin/users/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let user = body(t.get(&format!("/api/v1/users/{id}"), &admin).await, 200).await;
    assert_eq!(
        user["roles"],
        json!([{"role": "clerk", "scope": "department"}])
    );
    assert_eq!(user["department_id"], json!(dept));
    // Found by name in the list.
    let list = v
        .get("/admin/users?q=%E7%8E%8B")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains(&format!("id=\"user-{id}\"")), "{list}");
    assert!(!list.contains("id=\"user-1\""), "admin does not match 王");
    // Disabling ends the user's sessions; the page says so.
    let wang = t.login("wangwu", "Kp4#river-stone-2026").await;
    let detail = v
        .get(&format!("/admin/users/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        detail.contains("id=\"session-table\""),
        "the API session is listed"
    );
    let r = v
        .post(&format!("/admin/users/{id}/disable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(t.get("/api/v1/me", &wang).await.status(), 401);
    let detail = v
        .get(&format!("/admin/users/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(detail.contains("id=\"enable-user\""));
    assert!(detail.contains("id=\"no-sessions\""));
    let r = v
        .post(&format!("/admin/users/{id}/enable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    let user = body(t.get(&format!("/api/v1/users/{id}"), &admin).await, 200).await;
    assert_eq!(user["disabled"], json!(false));
    // A reset password is under the policy, its error beside the field.
    let r = v
        .post(
            &format!("/admin/users/{id}/password"),
            &[("csrf", &csrf), ("password", "abc")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"password-error\""));
    // Without the CSRF token nothing happens.
    let r = v.post(&format!("/admin/users/{id}/disable"), &[]).await;
    assert_eq!(r.status(), 403);
    let user = body(t.get(&format!("/api/v1/users/{id}"), &admin).await, 200).await;
    assert_eq!(user["disabled"], json!(false));
});

backend_test!(admin_ends_one_session_of_a_user, |t| {
    let admin = t.admin_token().await;
    let id = t
        .create_user(&admin, "zhaoliu", None, json!([{"role": "query"}]))
        .await;
    let first = t.login("zhaoliu", USER_PASSWORD).await;
    let (mut v, csrf) = admin_visitor(&t).await;
    let detail = v
        .get(&format!("/admin/users/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let session = Visitor::hidden(&detail, "session");
    assert_eq!(session.len(), 16, "{detail}");
    let r = v
        .post(
            &format!("/admin/users/{id}/end-session"),
            &[("csrf", &csrf), ("session", &session)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(t.get("/api/v1/me", &first).await.status(), 401);
    // Ending it again: it is gone.
    let r = v
        .post(
            &format!("/admin/users/{id}/end-session"),
            &[("csrf", &csrf), ("session", &session)],
        )
        .await;
    assert_eq!(r.status(), 404);
});

backend_test!(department_moves_but_not_under_its_own_child, |t| {
    let admin = t.admin_token().await;
    let sales = t.create_department(&admin, "销售中心", None).await;
    let east = t.create_department(&admin, "华东区", Some(sales)).await;
    let finance = t.create_department(&admin, "财务部", None).await;
    let (mut v, csrf) = admin_visitor(&t).await;
    let page = v.get("/admin/departments").await.text().await.unwrap();
    // The child is drawn under its parent.
    let at = |id: i64| page.find(&format!("id=\"department-{id}\"")).unwrap();
    assert!(at(sales) < at(east));
    assert!(page.contains("class=\"depth-1\""));
    // Move 华东区 under 财务部.
    let r = v
        .post(
            &format!("/admin/departments/{east}"),
            &[("csrf", &csrf), ("parent_id", &finance.to_string())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let d = body(
        t.get(&format!("/api/v1/departments/{east}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(d["parent_id"], json!(finance));
    // 财务部 under its own child is refused, with the use case's words.
    let r = v
        .post(
            &format!("/admin/departments/{finance}"),
            &[("csrf", &csrf), ("parent_id", &east.to_string())],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"department-errors\""));
    assert!(html.contains("下级部门"), "{html}");
    let d = body(
        t.get(&format!("/api/v1/departments/{finance}"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(d["parent_id"], json!(null));
    // Rename and create.
    let r = v
        .post(
            &format!("/admin/departments/{sales}"),
            &[("csrf", &csrf), ("name", "营销中心")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = v
        .post(
            "/admin/departments/new",
            &[
                ("csrf", &csrf),
                ("name", "华南区"),
                ("parent_id", &sales.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = v.get("/admin/departments").await.text().await.unwrap();
    assert!(page.contains("营销中心") && page.contains("华南区"));
    assert!(!page.contains(">销售中心 "));
});

backend_test!(admin_grants_a_role_with_an_expiry, |t| {
    let admin = t.admin_token().await;
    let id = t
        .create_user(&admin, "sunqi", None, json!([{"role": "query"}]))
        .await;
    let (mut v, csrf) = admin_visitor(&t).await;
    let uid = id.to_string();
    // An expiry in the past is refused beside the field.
    let r = v
        .post(
            "/admin/roles/grant",
            &[
                ("csrf", &csrf),
                ("user_id", &uid),
                ("role", "executive"),
                ("scope", "department"),
                ("expires_at", "2020-01-01T09:00"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"expires_at-error\""));
    let r = v
        .post(
            "/admin/roles/grant",
            &[
                ("csrf", &csrf),
                ("user_id", &uid),
                ("role", "executive"),
                ("scope", "department"),
                ("expires_at", "2099-06-30T18:00"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", location(&r));
    let user = body(t.get(&format!("/api/v1/users/{id}"), &admin).await, 200).await;
    let roles = user["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2, "{user}");
    let exec = roles.iter().find(|r| r["role"] == "executive").unwrap();
    assert_eq!(exec["scope"], "department");
    // 18:00 in Beijing.
    assert_eq!(exec["expires_at"], "2099-06-30T10:00:00.000Z");
    let page = v.get("/admin/roles").await.text().await.unwrap();
    assert!(page.contains("2099-06-30 18:00"), "local time on the page");
    assert!(page.contains(&format!("data-user=\"{id}\"")));
    assert!(page.contains("id=\"permission-matrix\""));
    // The grant is in the audit log.
    let r = v
        .get(&format!("/audit?action=user.grant&target_id={id}"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("class=\"audit-entry\""));
});

backend_test!(audit_search_filters_by_its_query_and_verifies, |t| {
    let admin = t.admin_token().await;
    let a = t
        .create_user(&admin, "zhouba", None, json!([{"role": "query"}]))
        .await;
    t.create_department(&admin, "审计测试部", None).await;
    let (mut v, csrf) = admin_visitor(&t).await;
    let all = v.get("/audit").await.text().await.unwrap();
    assert!(all.contains("user.create") && all.contains("department.create"));
    let only = v
        .get("/audit?action=department.")
        .await
        .text()
        .await
        .unwrap();
    assert!(only.contains("department.create"));
    assert!(!only.contains("<code>user.create</code>"), "prefix filter");
    let target = v
        .get(&format!("/audit?target_type=user&target_id={a}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        target.matches("class=\"audit-entry\"").count(),
        1,
        "{target}"
    );
    // Days: today in the business zone includes everything, a day long past nothing.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d")
        .to_string();
    let r = v
        .get(&format!("/audit?from={today}&to={today}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(r.contains("user.create"));
    let r = v.get("/audit?to=2001-01-01").await.text().await.unwrap();
    assert!(r.contains("id=\"audit-empty\""));
    // A bad filter is a 422 naming the field, the values kept.
    let r = v.get("/audit?actor_id=abc").await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"actor_id-error\""));
    assert!(html.contains("value=\"abc\""));
    // Paging: one entry a page, the next page older.
    let p1 = v.get("/audit?limit=1").await.text().await.unwrap();
    let older = p1.split("id=\"older-audit\"").next().unwrap();
    let href = older
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(href.contains("cursor="), "{href}");
    // An entry's page shows before and after.
    let seq = p1
        .split("href=\"/audit/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let entry = v.get(&format!("/audit/{seq}")).await;
    assert_eq!(entry.status(), 200);
    // The chain verifies.
    let r = v.post("/audit/verify", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"chain-ok\""), "{html}");
});

backend_test!(
    system_page_shows_the_database_and_refuses_mail_without_a_relay,
    |t| {
        let (mut v, csrf) = admin_visitor(&t).await;
        let page = v.get("/admin/system").await.text().await.unwrap();
        assert!(page.contains("id=\"db-size\""));
        assert!(page.contains("htmx.org") && page.contains("0BSD"));
        assert!(page.contains("id=\"mail-off\""));
        let r = v
            .post(
                "/admin/system/test-mail",
                &[("csrf", &csrf), ("to", "not-an-address")],
            )
            .await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("id=\"to-error\""));
        let r = v
            .post(
                "/admin/system/test-mail",
                &[("csrf", &csrf), ("to", "ops@example.cn")],
            )
            .await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("id=\"mail-error\""));
    }
);
