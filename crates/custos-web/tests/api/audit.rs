//! The audit log through the API, and its hash chain against tampering.

#![allow(clippy::unwrap_used)]

use reqwest::Method;
use serde_json::{json, Value};

use custos_app::{Backend, ChainReport};

use crate::backend_test;
use crate::helpers::*;

/// GET /api/v1/audit with a query string; returns the page.
async fn audit(t: &TestApp, token: &str, query: &str) -> Value {
    body(t.get(&format!("/api/v1/audit?{query}"), token).await, 200).await
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("items")
}

fn find<'a>(page: &'a Value, action: &str, target_id: &str) -> &'a Value {
    items(page)
        .iter()
        .find(|e| e["action"] == action && e["target_id"] == target_id)
        .unwrap_or_else(|| panic!("no {action} on {target_id} in {page}"))
}

backend_test!(audit_records_who_did_what, |t| {
    let r = t
        .req(Method::POST, "/api/v1/auth/login", None)
        .header("x-request-id", "req-login-ok")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let login = body(r, 200).await;
    let admin = login["token"].as_str().unwrap().to_string();
    let admin_id = login["user"]["id"].as_i64().unwrap();
    let r = t
        .req(Method::POST, "/api/v1/auth/login", None)
        .header("x-request-id", "req-login-bad")
        .json(&json!({"username": "admin", "password": "not-the-password"}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    let r = t
        .req(Method::POST, "/api/v1/users", Some(&admin))
        .header("x-request-id", "req-create")
        .json(&json!({"username": "alice", "password": USER_PASSWORD,
                      "display_name": "Alice", "roles": [{"role": "clerk", "scope": "own"}]}))
        .send()
        .await
        .unwrap();
    let alice = body(r, 201).await["id"].as_i64().unwrap().to_string();
    body(
        t.patch(
            &format!("/api/v1/users/{alice}"),
            &admin,
            json!({"display_name": "Alice Liddell"}),
        )
        .await,
        200,
    )
    .await;
    body(
        t.patch(
            &format!("/api/v1/users/{alice}"),
            &admin,
            json!({"password": "Marble-Tundra-Falcon-55"}),
        )
        .await,
        200,
    )
    .await;
    body(
        t.patch(
            &format!("/api/v1/users/{alice}"),
            &admin,
            json!({"disabled": true}),
        )
        .await,
        200,
    )
    .await;

    let r = t.get("/api/v1/audit?limit=1000", &admin).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    // Password hashes never reach the log.
    assert!(!text.contains("$argon2"), "{text}");
    assert!(!text.contains("password_hash"), "{text}");
    assert!(!text.contains("Marble-Tundra-Falcon-55"));
    assert!(!text.contains(USER_PASSWORD));
    let page: Value = serde_json::from_str(&text).unwrap();

    let seqs: Vec<i64> = items(&page)
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first");

    let admin_s = admin_id.to_string();
    let e = find(&page, "auth.login", &admin_s);
    assert_eq!(e["request_id"], "req-login-ok");
    assert_eq!(e["actor"], "admin");
    assert_eq!(e["source"], "api");
    assert_eq!(e["ip"], "127.0.0.1");
    let e = find(&page, "auth.login_failed", &admin_s);
    assert_eq!(e["request_id"], "req-login-bad");
    assert!(e["reason"].as_str().unwrap().contains("wrong password"));

    let e = find(&page, "user.create", &alice);
    assert_eq!(e["request_id"], "req-create");
    assert_eq!(e["actor_id"], admin_id);
    assert_eq!(e["actor"], "admin");
    assert_eq!(e["target_type"], "user");
    assert_eq!(e["after"]["username"], "alice");
    assert_eq!(e["after"]["roles"][0]["role"], "clerk");
    assert!(e["before"].is_null());

    let e = find(&page, "user.update", &alice);
    assert_eq!(e["before"]["display_name"], "Alice");
    assert_eq!(e["after"]["display_name"], "Alice Liddell");
    assert!(e["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    find(&page, "user.password", &alice);
    let e = find(&page, "user.disable", &alice);
    assert_eq!(e["before"]["disabled"], false);
    assert_eq!(e["after"]["disabled"], true);
    for e in items(&page) {
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
    }
});

backend_test!(audit_filters_and_cursor, |t| {
    let admin = t.admin_token().await;
    let me = body(t.get("/api/v1/me", &admin).await, 200).await;
    let admin_id = me["id"].as_i64().unwrap();
    let bob = t.create_user(&admin, "bob", None, json!([])).await;
    let bob_token = t.login("bob", USER_PASSWORD).await;
    let _ = t
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "bob", "password": "wrong-password"}),
        )
        .await;
    body(
        t.patch(
            &format!("/api/v1/users/{bob}"),
            &bob_token,
            json!({"display_name": "Bobby"}),
        )
        .await,
        200,
    )
    .await;
    t.create_department(&admin, "Finance", None).await;

    let all = audit(&t, &admin, "limit=1000").await;
    let total = items(&all).len();
    assert!(total >= 7, "{all}");

    // Prefix filter.
    let page = audit(&t, &admin, "action=auth.").await;
    assert_eq!(items(&page).len(), 3, "{page}");
    assert!(items(&page)
        .iter()
        .all(|e| e["action"].as_str().unwrap().starts_with("auth.")));
    assert!(items(&page)
        .iter()
        .any(|e| e["action"] == "auth.login_failed"));
    // Exact action.
    let page = audit(&t, &admin, "action=auth.login").await;
    assert!(items(&page).iter().all(|e| e["action"] == "auth.login"));
    assert_eq!(items(&page).len(), 2);

    // By actor.
    let page = audit(&t, &admin, &format!("actor_id={bob}")).await;
    assert!(!items(&page).is_empty());
    assert!(items(&page).iter().all(|e| e["actor_id"] == bob));
    let page = audit(&t, &admin, &format!("actor_id={admin_id}")).await;
    assert!(items(&page)
        .iter()
        .any(|e| e["action"] == "department.create"));

    // By target.
    let page = audit(&t, &admin, &format!("target_type=user&target_id={bob}")).await;
    let actions: Vec<&str> = items(&page)
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.update",
            "auth.login_failed",
            "auth.login",
            "user.create"
        ]
    );
    let page = audit(&t, &admin, "target_type=department").await;
    assert_eq!(items(&page).len(), 1);

    // Time window: `from` inclusive, `to` exclusive.
    let mid = &items(&all)[total / 2];
    let at = mid["at"].as_str().unwrap().to_string();
    let at_t = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    let enc = at.replace('+', "%2B");
    let after = audit(&t, &admin, &format!("from={enc}&limit=1000")).await;
    let before = audit(&t, &admin, &format!("to={enc}&limit=1000")).await;
    assert_eq!(items(&after).len() + items(&before).len(), total);
    assert!(items(&after).iter().any(|e| e["seq"] == mid["seq"]));
    for e in items(&after) {
        assert!(chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap() >= at_t);
    }
    for e in items(&before) {
        assert!(chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap() < at_t);
    }
    let future = audit(&t, &admin, "from=2999-01-01T00:00:00Z").await;
    assert!(items(&future).is_empty());
    let p = problem(t.get("/api/v1/audit?from=yesterday", &admin).await, 422).await;
    assert_eq!(problem_fields(&p), ["from"]);
    assert_eq!(p["fields"][0]["code"], "query.invalid");
    let p = problem(
        t.get("/api/v1/audit?to=2026-13-01T00:00:00Z", &admin).await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["to"]);
    // A non-numeric cursor is a 422 naming it, as on every list.
    let p = problem(t.get("/api/v1/audit?before=abc", &admin).await, 422).await;
    assert_eq!(problem_fields(&p), ["before"]);

    // Cursor pagination walks everything exactly once, newest first.
    let mut seen = Vec::new();
    let mut query = "limit=3".to_string();
    loop {
        let page = audit(&t, &admin, &query).await;
        seen.extend(items(&page).iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["next_cursor"].as_i64() {
            Some(c) => query = format!("limit=3&before={c}"),
            None => break,
        }
        assert!(seen.len() <= total + 3, "cursor does not advance");
    }
    let expected: Vec<i64> = items(&all)
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, expected);
});

/// SQL that removes the append-only guards, as an attacker with database access would.
fn drop_guards(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        Backend::Postgres => "DROP TRIGGER audit_log_no_update ON audit_log;",
    }
}

async fn make_some_history(t: &TestApp) {
    let admin = t.admin_token().await;
    t.create_user(&admin, "carl", None, json!([])).await;
    t.create_department(&admin, "Ops", None).await;
}

backend_test!(edited_entry_breaks_the_chain, |t| {
    make_some_history(&t).await;
    let ChainReport::Ok { entries, .. } = t.app.audit().verify_audit().await.unwrap() else {
        panic!("fresh chain must verify");
    };
    assert!(entries >= 4, "{entries}");

    // The table refuses edits and deletions outright.
    assert!(t
        .app
        .db
        .execute_raw("UPDATE audit_log SET reason = 'edited' WHERE seq = 2")
        .await
        .is_err());
    assert!(t
        .app
        .db
        .execute_raw("DELETE FROM audit_log WHERE seq = 2")
        .await
        .is_err());
    assert!(matches!(
        t.app.audit().verify_audit().await.unwrap(),
        ChainReport::Ok { .. }
    ));

    t.app
        .db
        .execute_raw(drop_guards(t.app.db.backend()))
        .await
        .unwrap();
    let n = t
        .app
        .db
        .execute_raw("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(n, 1);
    match t.app.audit().verify_audit().await.unwrap() {
        ChainReport::Broken { seq, reason } => {
            assert_eq!(seq, 3, "{reason}");
        }
        other => panic!("tampering not detected: {other:?}"),
    }
});

backend_test!(deleted_last_entry_breaks_the_chain, |t| {
    make_some_history(&t).await;
    let ChainReport::Ok { entries, .. } = t.app.audit().verify_audit().await.unwrap() else {
        panic!("fresh chain must verify");
    };
    t.app
        .db
        .execute_raw(drop_guards(t.app.db.backend()))
        .await
        .unwrap();
    let n = t
        .app
        .db
        .execute_raw("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        .await
        .unwrap();
    assert_eq!(n, 1);
    match t.app.audit().verify_audit().await.unwrap() {
        ChainReport::Broken { seq, reason } => {
            assert_eq!(seq, entries, "{reason}");
        }
        other => panic!("deletion not detected: {other:?}"),
    }
});

backend_test!(deleted_middle_entry_breaks_the_chain, |t| {
    make_some_history(&t).await;
    t.app
        .db
        .execute_raw(drop_guards(t.app.db.backend()))
        .await
        .unwrap();
    t.app
        .db
        .execute_raw("DELETE FROM audit_log WHERE seq = 2")
        .await
        .unwrap();
    match t.app.audit().verify_audit().await.unwrap() {
        ChainReport::Broken { seq, .. } => assert_eq!(seq, 2),
        other => panic!("deletion not detected: {other:?}"),
    }
});

backend_test!(action_prefix_is_literal, |t| {
    let admin = t.admin_token().await;
    // Entries whose action holds LIKE wildcards (`_`), written straight to the store.
    let mut tx = t.app.db.begin().await.unwrap();
    for action in ["code_rule.create", "codexrule.create"] {
        tx.append_audit(&custos_store::AuditRecord {
            at: custos_store::now_us(),
            actor_name: "test".into(),
            source: "system".into(),
            action: action.into(),
            target_type: "code_rule".into(),
            target_id: "r1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let page = audit(&t, &admin, "action=code_rule.").await;
    let actions: Vec<&str> = items(&page)
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["code_rule.create"]);
    let page = audit(&t, &admin, "action=%25.").await;
    assert!(items(&page).is_empty(), "{page}");
});
