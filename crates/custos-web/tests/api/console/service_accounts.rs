//! 服务账号与 API 密钥 over HTTP on both databases: an administrator creates an account
//! with roles and a data scope, makes a key (its token on that answer only, working on
//! the API), lists it by prefix, revokes it (refused on the API from then on) and
//! disables the account; odd input comes back beside its field; anyone without
//! `user.manage` over everyone gets no entry and 403.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::helpers::*;

/// The token in a key's answer page.
fn token_in(html: &str) -> String {
    html.split("id=\"new-token\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("")
        .to_string()
}

backend_test!(admin_creates_an_account_and_a_key_shown_once, |t| {
    let admin = t.admin_token().await;
    let dept = t.create_department(&admin, "信息部", None).await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;
    let page = v.get("/admin/users").await.text().await.expect("page");
    assert!(
        page.contains("href=\"/admin/service-accounts\""),
        "sub-nav entry"
    );
    let page = v
        .get("/admin/service-accounts")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("id=\"accounts-empty\""));
    assert!(
        page.contains("name=\"roles[0].role\""),
        "roles by the API's keys"
    );

    // Refusals keep what was typed and name the field.
    let dept_s = dept.to_string();
    for (name, department, marker) in [
        ("x", dept_s.as_str(), "id=\"name-error\""),
        (
            "<script>alert(1)</script>",
            dept_s.as_str(),
            "id=\"name-error\"",
        ),
        ("erp\u{0007}sync", dept_s.as_str(), "id=\"name-error\""),
        ("erp-sync", "abc", "id=\"department_id-error\""),
        ("erp-sync", "999999", "id=\"department_id-error\""),
    ] {
        let r = v
            .post(
                "/admin/service-accounts",
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("display_name", "ERP 同步"),
                    ("department_id", department),
                    ("roles[0].role", "clerk"),
                    ("roles[0].scope", "department"),
                ],
            )
            .await;
        assert_eq!(r.status(), 422, "{name} / {department}");
        let html = r.text().await.expect("page");
        assert!(html.contains(marker), "{name}: {html}");
        assert!(!html.contains("<script>alert"), "escaped");
        assert!(html.contains("value=\"ERP 同步\""), "typed value kept");
    }
    let r = v
        .post(
            "/admin/service-accounts",
            &[
                ("csrf", &csrf),
                ("name", "erp-sync"),
                ("display_name", "ERP 同步"),
                ("department_id", &dept_s),
                ("roles[3].role", "clerk"),
                ("roles[3].scope", "department"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let at = location(&r);
    assert!(at.starts_with("/admin/service-accounts/"), "{at}");
    let base = at.split('?').next().unwrap_or("").to_string();
    let page = v.get(&at).await.text().await.expect("page");
    assert!(page.contains("id=\"no-keys\""));
    assert!(page.contains("业务录入员（本部门及下级）"), "{page}");
    // The name is taken now, by accounts and users alike.
    let r = v
        .post(
            "/admin/service-accounts",
            &[("csrf", &csrf), ("name", "ERP-SYNC")],
        )
        .await;
    assert_eq!(r.status(), 409);

    // Keys: odd input beside the fields.
    let keys = format!("{base}/keys");
    for (form, marker) in [
        (vec![("name", "")], "id=\"key-name-error\""),
        (vec![("name", "ERP\u{0007}")], "id=\"key-name-error\""),
        (
            vec![("name", "ERP"), ("rate_per_second", "fast")],
            "id=\"rate_per_second-error\"",
        ),
        (vec![("name", "ERP"), ("burst", "0")], "id=\"burst-error\""),
        (
            vec![("name", "ERP"), ("expires_at", "2001-01-01T00:00")],
            "id=\"expires_at-error\"",
        ),
        (
            vec![("name", "ERP"), ("expires_at", "next year")],
            "id=\"expires_at-error\"",
        ),
    ] {
        let mut f = form.clone();
        f.push(("csrf", &csrf));
        let r = v.post(&keys, &f).await;
        assert_eq!(r.status(), 422, "{form:?}");
        let html = r.text().await.expect("page");
        assert!(html.contains(marker), "{form:?}: {html}");
        assert!(!html.contains("id=\"new-token\""), "no key made");
    }
    let r = v
        .post(
            &keys,
            &[
                ("csrf", &csrf),
                ("name", "ERP 生产环境"),
                ("expires_at", "2027-06-30T18:00"),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|h| h.to_str().ok()),
        Some("no-store")
    );
    let html = r.text().await.expect("page");
    let token = token_in(&html);
    assert!(token.starts_with("custos_"), "{html}");
    assert!(html.contains("data-copy=\"new-token\""), "copy button");
    assert!(html.contains("2027-06-30 18:00"), "expiry in local time");

    // The token works on the API; the account's page never shows it again.
    let me = body(t.get("/api/v1/me", &token).await, 200).await;
    assert_eq!(me["username"], "erp-sync", "{me}");
    let page = v.get(&base).await.text().await.expect("page");
    assert!(!page.contains(&token), "shown once");
    let prefix = token.split('_').nth(1).unwrap_or("");
    assert!(
        page.contains(&format!("custos_{prefix}_")),
        "listed by prefix"
    );
    assert!(page.contains("data-status=\"active\""));
    let key_id = page
        .split("<tr id=\"key-")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string();

    // Revoke: refused on the API from the next request.
    let r = v
        .post(&format!("{base}/keys/{key_id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    let page = v.get(&base).await.text().await.expect("page");
    assert!(page.contains("data-status=\"revoked\""), "{page}");
    assert_eq!(t.get("/api/v1/me", &token).await.status(), 401);
    let r = v
        .post(&format!("{base}/keys/abc/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 404);

    // Disable and enable the account.
    let r = v.post(&format!("{base}/disable"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let page = v.get(&base).await.text().await.expect("page");
    assert!(page.contains("id=\"enable-account\""));
    let r = v.post(&format!("{base}/enable"), &[]).await;
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = v.post(&format!("{base}/explode"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 404);
    // A person's id is not a service account.
    let r = v.get("/admin/service-accounts/1").await;
    assert_eq!(r.status(), 404);
});

backend_test!(service_account_pages_need_user_manage_over_everyone, |t| {
    let admin = t.admin_token().await;
    let dept = t.create_department(&admin, "销售部", None).await;
    let account = body(
        t.post(
            "/api/v1/service-accounts",
            Some(&admin),
            json!({"name": "crm-sync", "roles": [{"role": "clerk", "scope": "all"}]}),
        )
        .await,
        201,
    )
    .await;
    let id = account["id"].as_i64().expect("id");
    t.create_user(
        &admin,
        "dept_admin",
        Some(dept),
        json!([{"role": "admin", "scope": "department"}]),
    )
    .await;
    t.create_user(
        &admin,
        "query1",
        Some(dept),
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    for user in ["dept_admin", "query1"] {
        let mut v = Visitor::new(&t);
        v.login(user, USER_PASSWORD).await;
        let csrf = v.csrf().await;
        let home = v.get("/admin/users").await.text().await.expect("page");
        assert!(
            !home.contains("href=\"/admin/service-accounts\""),
            "{user}: no entry"
        );
        for path in [
            "/admin/service-accounts".to_string(),
            format!("/admin/service-accounts/{id}"),
        ] {
            assert_eq!(v.get(&path).await.status(), 403, "{user} GET {path}");
        }
        for path in [
            "/admin/service-accounts".to_string(),
            format!("/admin/service-accounts/{id}/keys"),
            format!("/admin/service-accounts/{id}/disable"),
            format!("/admin/service-accounts/{id}/keys/1/revoke"),
        ] {
            let r = v
                .post(&path, &[("csrf", &csrf), ("name", "sneaky-key")])
                .await;
            assert_eq!(r.status(), 403, "{user} POST {path}");
        }
    }
    let keys = body(
        t.get(&format!("/api/v1/service-accounts/{id}/keys"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(keys.as_array().map(Vec::len), Some(0), "{keys}");
});
