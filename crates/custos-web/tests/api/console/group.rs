//! The 集团 tab in the console on both databases: a steward places a subsidiary under its
//! parent from the customer's page, a refused parent is named beside the input with the
//! value kept, the group lists its members indented with their totals, and a query-role
//! user sees the group without the form.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

async fn company(t: &TestApp, admin: &str, name: &str) -> String {
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(admin),
            json!({"customer_type": "enterprise", "name": name, "region_code": "320211"}),
        )
        .await,
        201,
    )
    .await;
    c["code"].as_str().unwrap_or_default().to_string()
}

backend_test!(a_steward_builds_a_group_on_the_customer_page, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let root = company(&t, &admin, "无锡太湖控股集团有限公司").await;
    let sub = company(&t, &admin, "无锡蠡湖精密铸造有限公司").await;
    let order = json!({"source_system": "erp", "document_number": "SO-9", "date": "2026-03-01",
                       "amount": "12.50"});
    let r = t
        .post(
            &format!("/api/v1/customers/{sub}/orders"),
            Some(&admin),
            order,
        )
        .await;
    assert_eq!(r.status(), 201);

    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let html = v.get(&format!("/customers/{sub}?tab=group")).await;
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(html.contains("id=\"group-alone\""), "{html}");
    let csrf = Visitor::hidden(&html, "csrf");

    // The customer itself as parent: named beside the input, the value kept, nothing set.
    let r = v
        .post(
            &format!("/customers/{sub}/parent"),
            &[
                ("csrf", csrf.as_str()),
                ("parent_code", sub.as_str()),
                ("relation", "branch"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"parent-error\""), "{html}");
    assert!(html.contains(&format!("value=\"{sub}\"")), "{html}");
    assert!(html.contains("value=\"branch\" selected"), "{html}");

    let r = v
        .post(
            &format!("/customers/{sub}/parent"),
            &[
                ("csrf", csrf.as_str()),
                ("parent_code", root.as_str()),
                ("relation", "subsidiary"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/customers/{sub}?tab=group"));
    let html = v
        .get(&format!("/customers/{root}?tab=group"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("id=\"group-{root}\"")), "{html}");
    assert!(html.contains(&format!("id=\"group-{sub}\"")), "{html}");
    assert!(html.contains("class=\"depth-1\""), "{html}");
    // The root's roll-up holds the subsidiary's order.
    assert!(html.contains("12.50"), "{html}");

    // A query-role user reads the group but gets no form; a post is refused.
    t.create_user(
        &admin,
        "qgroup",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut q = Visitor::new(&t);
    q.login("qgroup", USER_PASSWORD).await;
    let html = q
        .get(&format!("/customers/{sub}?tab=group"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("id=\"group-{root}\"")), "{html}");
    assert!(!html.contains("id=\"parent-form\""), "{html}");
    let qcsrf = Visitor::hidden(&html, "csrf");
    let r = q
        .post(
            &format!("/customers/{sub}/parent"),
            &[("csrf", qcsrf.as_str()), ("parent_code", "")],
        )
        .await;
    assert_eq!(r.status(), 403);
});

/// The group tab in a real browser: set the parent, see the indented group.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_in_the_browser() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let root = company(&t, &admin, "常州龙城控股集团有限公司").await;
    let sub = company(&t, &admin, "常州天宁纺织机械有限公司").await;
    let Some(b) = crate::browser::Browser::start("group_in_browser", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto(&format!("/customers/{sub}?tab=group")).await;
    b.wait_for("#parent-form").await;
    b.fill("#parent_code", &root).await;
    b.click("#parent-save").await;
    b.wait_for("#group").await;
    b.expect_text_containing("#group", &root, "the root is listed")
        .await;
    b.expect_text_containing("#group", "子公司", "the relation is named")
        .await;
    b.document("customer-group").await;
    b.close().await;
    t.stop().await;
}
