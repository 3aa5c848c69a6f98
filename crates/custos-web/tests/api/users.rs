//! Users, departments, roles and data scopes through the API.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::backend_test;
use crate::helpers::*;

/// Usernames in a user page.
fn usernames(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Create a custom role as admin.
async fn create_role(t: &TestApp, admin: &str, key: &str, permissions: Value) -> Value {
    body(
        t.post(
            "/api/v1/roles",
            Some(admin),
            json!({"key": key, "name": key, "permissions": permissions}),
        )
        .await,
        201,
    )
    .await
}

backend_test!(query_user_is_forbidden_to_manage, |t| {
    let admin = t.admin_token().await;
    t.create_user(
        &admin,
        "quinn",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let q = t.login("quinn", USER_PASSWORD).await;
    let cases = [
        t.post(
            "/api/v1/users",
            Some(&q),
            json!({"username": "sneaky", "password": USER_PASSWORD}),
        )
        .await,
        t.post("/api/v1/departments", Some(&q), json!({"name": "X"}))
            .await,
        t.post(
            "/api/v1/roles",
            Some(&q),
            json!({"key": "mine", "name": "mine", "permissions": ["user.manage"]}),
        )
        .await,
        t.get("/api/v1/audit", &q).await,
        t.get("/api/v1/users", &q).await,
    ];
    for r in cases {
        let url = r.url().path().to_string();
        let p = problem(r, 403).await;
        assert_eq!(p["code"], "auth.forbidden", "{url}");
    }
    // Nothing was created on the way.
    let users = body(t.get("/api/v1/users", &admin).await, 200).await;
    assert!(!usernames(&users).contains("sneaky"));
    // Their own record is always readable.
    body(t.get("/api/v1/me", &q).await, 200).await;
});

backend_test!(validation_lists_every_failing_field, |t| {
    let admin = t.admin_token().await;
    let p = problem(
        t.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "no spaces!", "password": "short",
                   "roles": [{"role": "no_such_role", "scope": "galaxy"}]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["code"], "validation.failed");
    let fields: BTreeSet<String> = problem_fields(&p).into_iter().collect();
    assert_eq!(
        fields,
        set(&["username", "password", "roles[0].role", "roles[0].scope"]),
        "{p}"
    );
    let codes: BTreeSet<String> = p["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        codes,
        set(&[
            "username.format",
            "password.too_short",
            "role.unknown",
            "scope.unknown"
        ])
    );
    assert!(p["fields"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| !f["message"].as_str().unwrap().is_empty()));
});

backend_test!(duplicate_username_is_409, |t| {
    let admin = t.admin_token().await;
    t.create_user(&admin, "sam", None, json!([])).await;
    let p = problem(
        t.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "sam", "password": "Marble-Tundra-Falcon-31"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "user.username_taken");
    let p = problem(
        t.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "admin", "password": "Marble-Tundra-Falcon-31"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "user.username_taken");
});

/// Replace a user's roles with `user_reader` at `scope`.
async fn set_scope(t: &TestApp, admin: &str, user: i64, scope: &str) {
    body(
        t.patch(
            &format!("/api/v1/users/{user}"),
            admin,
            json!({"roles": [{"role": "user_reader", "scope": scope}]}),
        )
        .await,
        200,
    )
    .await;
}

backend_test!(data_scope_limits_what_users_see, |t| {
    let admin = t.admin_token().await;
    let a = t.create_department(&admin, "A", None).await;
    let a1 = t.create_department(&admin, "A1", Some(a)).await;
    let b = t.create_department(&admin, "B", None).await;
    create_role(&t, &admin, "user_reader", json!(["user.read"])).await;

    let reader = t
        .create_user(
            &admin,
            "reader",
            Some(a),
            json!([{"role": "user_reader", "scope": "department"}]),
        )
        .await;
    let ua = t.create_user(&admin, "usera", Some(a), json!([])).await;
    let ua1 = t.create_user(&admin, "usera1", Some(a1), json!([])).await;
    let ub = t.create_user(&admin, "userb", Some(b), json!([])).await;
    let tok = t.login("reader", USER_PASSWORD).await;

    // Department scope: own department and below, plus self.
    let page = body(t.get("/api/v1/users", &tok).await, 200).await;
    assert_eq!(usernames(&page), set(&["reader", "usera", "usera1"]));
    body(t.get(&format!("/api/v1/users/{ua1}"), &tok).await, 200).await;
    // Outside the scope looks exactly like absent.
    let outside = problem(t.get(&format!("/api/v1/users/{ub}"), &tok).await, 404).await;
    assert_eq!(outside["code"], "user.not_found");
    let absent = problem(t.get("/api/v1/users/999999", &tok).await, 404).await;
    assert_eq!(absent["code"], outside["code"]);
    assert_eq!(absent["title"], outside["title"]);

    // Scope all: everyone. Grants are read on every request, no new login needed.
    set_scope(&t, &admin, reader, "all").await;
    let page = body(t.get("/api/v1/users", &tok).await, 200).await;
    assert_eq!(
        usernames(&page),
        set(&["admin", "reader", "usera", "usera1", "userb"])
    );
    body(t.get(&format!("/api/v1/users/{ub}"), &tok).await, 200).await;

    // Scope own: only self.
    set_scope(&t, &admin, reader, "own").await;
    let page = body(t.get("/api/v1/users", &tok).await, 200).await;
    assert_eq!(usernames(&page), set(&["reader"]));
    let p = problem(t.get(&format!("/api/v1/users/{ua}"), &tok).await, 404).await;
    assert_eq!(p["code"], "user.not_found");
    body(t.get(&format!("/api/v1/users/{reader}"), &tok).await, 200).await;
});

backend_test!(custom_roles_are_validated_and_builtins_frozen, |t| {
    let admin = t.admin_token().await;
    let p = problem(
        t.post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "auditor", "name": "Auditor",
                   "permissions": ["audit.read", "audit.everything"]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["permissions[1]"]);
    assert_eq!(p["fields"][0]["code"], "permission.unknown");

    let p = problem(
        t.post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "Bad Key", "name": "", "permissions": []}),
        )
        .await,
        422,
    )
    .await;
    let fields: BTreeSet<String> = problem_fields(&p).into_iter().collect();
    assert_eq!(fields, set(&["key", "name"]));

    let role = create_role(&t, &admin, "auditor", json!(["audit.read", "audit.read"])).await;
    assert_eq!(role["permissions"], json!(["audit.read"]));
    assert_eq!(role["builtin"], false);
    let p = problem(
        t.post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "auditor", "name": "again", "permissions": []}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "role.key_taken");

    let p = problem(
        t.patch(
            "/api/v1/roles/steward",
            &admin,
            json!({"permissions": ["user.manage"]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["code"], "role.builtin");
    let roles = body(t.get("/api/v1/roles", &admin).await, 200).await;
    let steward = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "steward")
        .unwrap();
    assert!(!steward["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("user.manage")));

    let updated = body(
        t.patch(
            "/api/v1/roles/auditor",
            &admin,
            json!({"permissions": ["audit.read", "user.read"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["permissions"], json!(["audit.read", "user.read"]));
    let p = problem(
        t.patch("/api/v1/roles/nope", &admin, json!({"name": "x"}))
            .await,
        404,
    )
    .await;
    assert_eq!(p["code"], "role.not_found");
});

backend_test!(department_cannot_move_under_its_descendant, |t| {
    let admin = t.admin_token().await;
    let a = t.create_department(&admin, "Sales", None).await;
    let a1 = t.create_department(&admin, "Sales North", Some(a)).await;
    let a11 = t.create_department(&admin, "Sales North 1", Some(a1)).await;
    for target in [a1, a11, a] {
        let p = problem(
            t.patch(
                &format!("/api/v1/departments/{a}"),
                &admin,
                json!({"parent_id": target}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(problem_fields(&p), ["parent_id"], "target {target}");
        assert_eq!(p["fields"][0]["code"], "department.cycle");
    }
    let p = problem(
        t.patch(
            &format!("/api/v1/departments/{a1}"),
            &admin,
            json!({"parent_id": 424242}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["parent_id"]);
    // Moving a child to the top level is fine.
    let d = body(
        t.patch(
            &format!("/api/v1/departments/{a1}"),
            &admin,
            json!({"parent_id": null}),
        )
        .await,
        200,
    )
    .await;
    assert!(d["parent_id"].is_null());
    // And now the old parent may go under it.
    body(
        t.patch(
            &format!("/api/v1/departments/{a}"),
            &admin,
            json!({"parent_id": a1}),
        )
        .await,
        200,
    )
    .await;
});

backend_test!(expired_grant_confers_nothing, |t| {
    let admin = t.admin_token().await;
    create_role(&t, &admin, "user_reader", json!(["user.read"])).await;
    let id = t
        .create_user(
            &admin,
            "temp",
            None,
            json!([{"role": "user_reader", "scope": "all",
                    "expires_at": "2020-01-01T00:00:00+08:00"}]),
        )
        .await;
    let tok = t.login("temp", USER_PASSWORD).await;
    let p = problem(t.get("/api/v1/users", &tok).await, 403).await;
    assert_eq!(p["code"], "auth.forbidden");
    let me = body(t.get("/api/v1/me", &tok).await, 200).await;
    assert_eq!(me["permissions"], json!([]));
    assert_eq!(me["roles"][0]["role"], "user_reader");
    assert!(me["roles"][0]["expires_at"].is_string());

    // The same grant with a future expiry works.
    body(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"roles": [{"role": "user_reader", "scope": "all",
                              "expires_at": "2999-01-01T00:00:00Z"}]}),
        )
        .await,
        200,
    )
    .await;
    body(t.get("/api/v1/users", &tok).await, 200).await;

    // A malformed expiry names its field.
    let p = problem(
        t.patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"roles": [{"role": "user_reader", "expires_at": "tomorrow"}]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["roles[0].expires_at"]);
});
