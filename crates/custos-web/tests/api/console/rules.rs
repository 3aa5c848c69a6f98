//! 编码规则 over HTTP on both databases: the list with capacity, the designer's check and
//! preview (nothing consumed), saving a draft, publishing, replacing in one step,
//! disabling; the dashboard leading to /rules while no rule is published; 403 for a
//! viewer without the rule permissions.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::helpers::*;

/// The designer's form for a rule: a constant and a sequence of `width` digits.
fn rule_form<'a>(
    csrf: &'a str,
    key: &'a str,
    prefix: &'a str,
    width: &'a str,
    op: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("key", key),
        ("name", "测试规则"),
        ("applies_to.customer_types", "enterprise"),
        ("applies_to.region_prefixes", ""),
        ("segments[0].kind", "constant"),
        ("segments[0].value", prefix),
        ("segments[1].kind", "sequence"),
        ("segments[1].width", width),
        ("segments[1].start", "1"),
        ("segments[1].reset", "never"),
        ("customer_type", "enterprise"),
        ("region_code", "110105"),
        ("date", ""),
        ("attributes", ""),
        ("op", op),
    ]
}

async fn enterprise(t: &TestApp, admin: &str, name: &str) -> String {
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(admin),
            json!({"customer_type": "enterprise", "name": name, "region_code": "110105"}),
        )
        .await,
        201,
    )
    .await;
    c["code"].as_str().unwrap().to_string()
}

backend_test!(designer_checks_previews_saves_and_publishes, |t| {
    let admin = t.admin_token().await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    // A fresh install: the dashboard leads to /rules, and the list says why.
    let html = v.get("/").await.text().await.unwrap();
    assert!(html.contains("id=\"rule-setup-link\""), "{html}");
    let html = v.get("/rules").await.text().await.unwrap();
    assert!(html.contains("id=\"no-published-rule\""));
    // The designer starts with a template and previews it.
    let r = v.get("/rules/new?template=by-type").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<code>C0001</code>"), "{html}");
    let csrf = Visitor::hidden(&html, "csrf");

    // Each change is checked by the engine; the preview follows.
    let r = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "X", "3", "check"),
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<code>X001</code>") && html.contains("<code>X005</code>"),
        "{html}"
    );
    // A width that is no number, and one the engine refuses, are named beside the field.
    let r = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "X", "abc", "check"),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("应为非负整数"));
    let r = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "x", "13", "check"),
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("value=\"13\"") && html.contains("value=\"x\""),
        "typed values kept"
    );
    assert!(!html.contains("id=\"preview-codes\""));
    // Add, reorder and remove segments.
    let mut form = rule_form(&csrf, "ent-x", "X", "3", "add");
    form.push(("add_kind", "check"));
    let html = v.post("/rules/designer", &form).await.text().await.unwrap();
    assert!(html.contains("name=\"segments[2].algorithm\""), "{html}");
    let html = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "X", "3", "down:0"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<code>001X</code>"), "{html}");
    let html = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "X", "3", "remove:1"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("segments[1].kind"));
    // A missing CSRF token is refused.
    let r = v
        .post("/rules/designer", &rule_form("", "ent-x", "X", "3", "save"))
        .await;
    assert_eq!(r.status(), 403);

    // Save as a draft: nothing consumed, the rule's page shows the draft.
    let r = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "X", "3", "save"),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/rules/ent-x");
    let html = v.get("/rules/ent-x").await.text().await.unwrap();
    assert!(html.contains("id=\"publish-rule\""), "{html}");
    // A second draft of the same key is refused with the use case's words.
    let r = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "Y", "3", "save"),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("已有未发布的草稿版本"));
    // Publish: customers then get codes of that shape.
    let r = v.post("/rules/ent-x/publish", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(enterprise(&t, &admin, "北京一号科技有限公司").await, "X001");
    let html = v.get("/").await.text().await.unwrap();
    assert!(!html.contains("id=\"rule-setup\""));
    // The list shows the rule, its version and its gauge.
    let html = v.get("/rules").await.text().await.unwrap();
    assert!(
        html.contains("id=\"rule-ent-x\"") && html.contains("已发布"),
        "{html}"
    );
    assert!(html.contains("data-scope=\"X|\""), "{html}");
    assert!(html.contains("已用 1 / 剩余 998"), "{html}");

    // Replace it by another rule for the same customers in one step.
    let r = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-y", "Y", "4", "save"),
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = v.post("/rules/ent-y/publish", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 422, "overlapping publication is refused");
    let r = v
        .post(
            "/rules/ent-y/replace",
            &[("csrf", &csrf), ("replaces", "ent-x")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        enterprise(&t, &admin, "上海蓝海贸易有限公司").await,
        "Y0001"
    );
    let html = v.get("/rules/ent-x").await.text().await.unwrap();
    assert!(
        html.contains("已停用") && !html.contains("id=\"disable-rule\""),
        "{html}"
    );
    // Disable; an unknown rule is the 404 page.
    let r = v.post("/rules/ent-y/disable", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(v.get("/rules/nope").await.status(), 404);
    // Editing makes a new version; versions are shown side by side.
    let html = v.get("/rules/ent-x/edit").await.text().await.unwrap();
    assert!(
        html.contains("readonly") && html.contains("<code>X002</code>"),
        "{html}"
    );
    let r = v
        .post(
            "/rules/designer",
            &rule_form(&csrf, "ent-x", "X", "4", "save"),
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = v
        .get("/rules/ent-x?versions=1,2")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"version-1\"") && html.contains("id=\"version-2\""));
});

backend_test!(rule_pages_follow_the_rule_permissions, |t| {
    let admin = t.admin_token().await;
    t.create_user(
        &admin,
        "reader",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    t.create_user(
        &admin,
        "clerk1",
        None,
        json!([{"role": "clerk", "scope": "own"}]),
    )
    .await;
    crate::customers::seed_rules(&t, &admin).await;
    let mut q = Visitor::new(&t);
    q.login("reader", USER_PASSWORD).await;
    let csrf = q.csrf().await;
    let html = q.get("/").await.text().await.unwrap();
    assert!(
        !html.contains("href=\"/rules\""),
        "no nav entry without rule.read"
    );
    for path in ["/rules", "/rules/new", "/rules/ent", "/rules/ent/edit"] {
        assert_eq!(q.get(path).await.status(), 403, "{path}");
    }
    let r = q
        .post(
            "/rules/designer",
            &rule_form(&csrf, "q-x", "Q", "3", "check"),
        )
        .await;
    assert_eq!(r.status(), 403);
    for path in [
        "/rules/ent/publish",
        "/rules/ent/disable",
        "/rules/ind/replace",
    ] {
        let r = q.post(path, &[("csrf", &csrf), ("replaces", "ent")]).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    // A clerk reads the rules (rule.read) but may not compose or publish.
    let mut c = Visitor::new(&t);
    c.login("clerk1", USER_PASSWORD).await;
    let csrf = c.csrf().await;
    assert_eq!(c.get("/rules").await.status(), 200);
    assert_eq!(c.get("/rules/ent").await.status(), 200);
    assert_eq!(c.get("/rules/new").await.status(), 403);
    let r = c.post("/rules/ent/disable", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 403);
    let html = c.get("/").await.text().await.unwrap();
    assert!(!html.contains("id=\"rule-setup\""));
});

backend_test!(
    a_drafter_applies_to_publish_and_drafts_can_be_deleted,
    |t| {
        let admin = t.admin_token().await;
        let r = t
            .post(
                "/api/v1/roles",
                Some(&admin),
                json!({"key": "drafter", "name": "规则起草",
                   "permissions": ["rule.read", "rule.manage", "application.submit"]}),
            )
            .await;
        assert_eq!(r.status(), 201);
        t.create_user(
            &admin,
            "drafter1",
            None,
            json!([{"role": "drafter", "scope": "all"}]),
        )
        .await;
        let mut d = Visitor::new(&t);
        d.login("drafter1", USER_PASSWORD).await;
        let csrf = d.csrf().await;
        let r = d
            .post(
                "/rules/designer",
                &rule_form(&csrf, "ent-d", "D", "4", "save"),
            )
            .await;
        assert_eq!(r.status(), 303);
        let html = d.get("/rules/ent-d").await.text().await.unwrap();
        assert!(
            !html.contains("id=\"publish-rule\""),
            "no direct publication"
        );
        assert!(html.contains("id=\"apply-publish\""), "{html}");
        let r = d
            .post(
                "/rules/ent-d/apply-publish",
                &[("csrf", csrf.as_str()), ("reason", "新业务线")],
            )
            .await;
        assert_eq!(r.status(), 303);
        let to = location(&r);
        assert!(to.starts_with("/applications/"), "{to}");
        let id = to.trim_start_matches("/applications/").to_string();
        let rule = body(t.get("/api/v1/code-rules/ent-d", &admin).await, 200).await;
        assert!(rule["published_version"].is_null(), "not yet: {rule}");
        let r = t
            .post(
                &format!("/api/v1/applications/{id}/approve"),
                Some(&admin),
                json!({"comment": "同意"}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let rule = body(t.get("/api/v1/code-rules/ent-d", &admin).await, 200).await;
        assert_eq!(rule["published_version"], 1, "{rule}");

        // A new draft of the published rule is thrown away; the published version stays.
        let r = d
            .post(
                "/rules/designer",
                &rule_form(&csrf, "ent-d", "E", "4", "save"),
            )
            .await;
        assert_eq!(r.status(), 303);
        let html = d.get("/rules/ent-d").await.text().await.unwrap();
        assert!(html.contains("id=\"delete-draft\""), "{html}");
        let r = d
            .post("/rules/ent-d/delete-draft", &[("csrf", csrf.as_str())])
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/rules/ent-d");
        let rule = body(t.get("/api/v1/code-rules/ent-d", &admin).await, 200).await;
        assert_eq!(rule["published_version"], 1);
        assert_eq!(rule["versions"].as_array().map(Vec::len), Some(1), "{rule}");
        let r = d
            .post("/rules/ent-d/delete-draft", &[("csrf", csrf.as_str())])
            .await;
        assert_eq!(r.status(), 404, "no draft left");
        // A rule that was only a draft disappears with it.
        let r = d
            .post(
                "/rules/designer",
                &rule_form(&csrf, "ent-f", "F", "4", "save"),
            )
            .await;
        assert_eq!(r.status(), 303);
        let r = d
            .post("/rules/ent-f/delete-draft", &[("csrf", csrf.as_str())])
            .await;
        assert_eq!(location(&r), "/rules");
        assert_eq!(
            t.get("/api/v1/code-rules/ent-f", &admin).await.status(),
            404
        );
        let log = body(
            t.get("/api/v1/audit?action=code_rule.draft_delete", &admin)
                .await,
            200,
        )
        .await;
        assert_eq!(log["items"].as_array().map(Vec::len), Some(2), "{log}");
        // A reader may not throw drafts away.
        t.create_user(
            &admin,
            "reader2",
            None,
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
        let mut q = Visitor::new(&t);
        q.login("reader2", USER_PASSWORD).await;
        let qc = q.csrf().await;
        let r = q
            .post("/rules/ent-d/delete-draft", &[("csrf", qc.as_str())])
            .await;
        assert_eq!(r.status(), 403);
    }
);
