//! Taking a role back and naming a department's manager from the console, on both
//! databases: the revoked role is gone from the user and audited, nobody revokes their
//! own role, and a manager is set and cleared by user id.

use serde_json::{json, Value};

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::helpers::*;

backend_test!(admin_revokes_a_grant_but_not_their_own, |t| {
    let admin = t.admin_token().await;
    let id = t
        .create_user(
            &admin,
            "clerk_r",
            None,
            json!([{"role": "clerk", "scope": "own"}, {"role": "query", "scope": "all"}]),
        )
        .await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let html = v.get("/admin/roles").await.text().await.unwrap();
    assert!(
        html.contains(&format!("id=\"revoke-{id}-clerk\"")),
        "{html}"
    );
    let csrf = Visitor::hidden(&html, "csrf");
    let uid = id.to_string();
    let r = v
        .post(
            "/admin/roles/revoke",
            &[
                ("csrf", csrf.as_str()),
                ("user_id", uid.as_str()),
                ("role", "clerk"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/roles?saved=1");
    let u: Value = body(t.get(&format!("/api/v1/users/{id}"), &admin).await, 200).await;
    let roles = u["roles"].to_string();
    assert!(!roles.contains("clerk") && roles.contains("query"), "{u}");
    let log: Value = body(
        t.get(
            &format!("/api/v1/audit?action=user.revoke&target_id={id}"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(log["items"].as_array().map(Vec::len), Some(1), "{log}");
    // A role the user does not hold, and the administrator's own role: refused, kept.
    let r = v
        .post(
            "/admin/roles/revoke",
            &[
                ("csrf", csrf.as_str()),
                ("user_id", uid.as_str()),
                ("role", "clerk"),
            ],
        )
        .await;
    assert_eq!(r.status(), 404);
    let me: Value = body(t.get("/api/v1/me", &admin).await, 200).await;
    let my_id = me["id"].as_i64().unwrap_or_default().to_string();
    let r = v
        .post(
            "/admin/roles/revoke",
            &[
                ("csrf", csrf.as_str()),
                ("user_id", my_id.as_str()),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("不能收回自己的角色"));
    let me: Value = body(t.get("/api/v1/me", &admin).await, 200).await;
    assert!(me["roles"].to_string().contains("admin"), "{me}");
    // Without the CSRF token nothing happens.
    let r = v
        .post(
            "/admin/roles/revoke",
            &[("user_id", uid.as_str()), ("role", "query")],
        )
        .await;
    assert_eq!(r.status(), 403);
});

backend_test!(admin_sets_and_clears_a_department_manager, |t| {
    let admin = t.admin_token().await;
    let dept = t.create_department(&admin, "华东销售部", None).await;
    let boss = t
        .create_user(
            &admin,
            "boss_e",
            Some(dept),
            json!([{"role": "approver", "scope": "all"}]),
        )
        .await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;
    let path = format!("/admin/departments/{dept}");
    let b = boss.to_string();
    let r = v
        .post(
            &path,
            &[("csrf", csrf.as_str()), ("manager_id", b.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let d: Value = body(
        t.get(&format!("/api/v1/departments/{dept}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(d["manager_id"], boss, "{d}");
    assert_eq!(d["name"], "华东销售部", "the name is kept");
    let html = v.get("/admin/departments").await.text().await.unwrap();
    assert!(html.contains("boss_e"), "the manager's name is shown");
    // An unknown user is named beside the field; the manager stays.
    let r = v
        .post(&path, &[("csrf", csrf.as_str()), ("manager_id", "999999")])
        .await;
    assert_eq!(r.status(), 422);
    let r = v
        .post(&path, &[("csrf", csrf.as_str()), ("manager_id", "abc")])
        .await;
    assert_eq!(r.status(), 422);
    let d: Value = body(
        t.get(&format!("/api/v1/departments/{dept}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(d["manager_id"], boss);
    let r = v
        .post(&path, &[("csrf", csrf.as_str()), ("manager_id", "")])
        .await;
    assert_eq!(r.status(), 303);
    let d: Value = body(
        t.get(&format!("/api/v1/departments/{dept}"), &admin).await,
        200,
    )
    .await;
    assert!(d["manager_id"].is_null(), "{d}");
});

backend_test!(admin_creates_a_role_then_ticks_its_permissions, |t| {
    let admin = t.admin_token().await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let html = v.get("/admin/roles").await.text().await.unwrap();
    assert!(html.contains("id=\"new-role-form\""), "{html}");
    let csrf = Visitor::hidden(&html, "csrf");
    let r = v
        .post(
            "/admin/roles/new",
            &[
                ("csrf", csrf.as_str()),
                ("key", "credit_desk"),
                ("name", "信用管理"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = v
        .post(
            "/admin/roles/credit_desk",
            &[
                ("csrf", csrf.as_str()),
                ("permissions", "customer.read"),
                ("permissions", "stats.read"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let roles: Value = body(t.get("/api/v1/roles", &admin).await, 200).await;
    let role = roles
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["key"] == "credit_desk")
        .cloned()
        .unwrap_or_default();
    assert_eq!(role["name"], "信用管理", "{roles}");
    let perms = role["permissions"].to_string();
    assert!(
        perms.contains("customer.read") && perms.contains("stats.read"),
        "{role}"
    );
    // A key that is no key is refused beside the form, nothing created.
    let r = v
        .post(
            "/admin/roles/new",
            &[("csrf", csrf.as_str()), ("key", "信用 desk"), ("name", "x")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let roles: Value = body(t.get("/api/v1/roles", &admin).await, 200).await;
    assert!(!roles.to_string().contains("信用 desk"));
});
