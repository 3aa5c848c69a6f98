//! 拆分 in the console on both databases: a steward splits one customer out of a record
//! with the contact that belongs to it, the lineage shows the new code, errors name their
//! field with the values kept, a clerk's split becomes an application, a query-role user
//! gets 403 and a customer outside the scope 404.

use serde_json::{json, Value};

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

/// A customer with two contacts, the second belonging to another company.
async fn mixed(t: &TestApp, admin: &str) -> (String, Vec<i64>) {
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(admin),
            json!({"customer_type": "enterprise", "name": "无锡太湖船舶配件有限公司",
                   "region_code": "320211",
                   "contacts": [{"name": "陈立新", "mobile": "13912345678", "is_primary": true},
                                {"name": "吴海燕", "mobile": "13812345678"}]}),
        )
        .await,
        201,
    )
    .await;
    let ids = c["contacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["id"].as_i64())
        .collect();
    (c["code"].as_str().unwrap_or_default().to_string(), ids)
}

async fn page(v: &mut Visitor, path: &str, status: u16) -> String {
    let r = v.get(path).await;
    assert_eq!(r.status(), status, "{path}");
    r.text().await.unwrap()
}

backend_test!(a_steward_splits_out_a_customer_with_its_contact, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let (code, contacts) = mixed(&t, &admin).await;
    assert_eq!(contacts.len(), 2);
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let detail = page(&mut v, &format!("/customers/{code}"), 200).await;
    assert!(detail.contains(&format!("href=\"/customers/{code}/split\"")));
    let html = page(&mut v, &format!("/customers/{code}/split"), 200).await;
    assert!(html.contains("吴海燕") && html.contains("陈立新"), "{html}");
    let csrf = Visitor::hidden(&html, "csrf");
    let moved = contacts[1].to_string();

    // No reason: named, the ticked contact still ticked, nothing split.
    let r = v
        .post(
            &format!("/customers/{code}/split"),
            &[
                ("csrf", csrf.as_str()),
                ("customer_type", "enterprise"),
                ("name", ""),
                ("contacts", moved.as_str()),
                ("original", "keep"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-reason-error\""), "{html}");
    assert!(
        html.contains(&format!("value=\"{moved}\" checked")),
        "{html}"
    );
    // With a reason, the new customer's own fields are checked: the name is missing.
    let r = v
        .post(
            &format!("/customers/{code}/split"),
            &[
                ("csrf", csrf.as_str()),
                ("customer_type", "enterprise"),
                ("name", ""),
                ("contacts", moved.as_str()),
                ("original", "keep"),
                ("reason", "两家单位的资料录在了一起"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-name-error\""), "{html}");
    assert!(
        html.contains("两家单位的资料录在了一起"),
        "the reason is kept"
    );
    let lineage = body(
        t.get(&format!("/api/v1/customers/{code}/lineage"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(lineage, json!([]), "nothing half-written");

    let r = v
        .post(
            &format!("/customers/{code}/split"),
            &[
                ("csrf", csrf.as_str()),
                ("customer_type", "enterprise"),
                ("name", "无锡滨湖游艇服务有限公司"),
                ("region_code", "320211"),
                ("contacts", moved.as_str()),
                ("original", "keep"),
                ("reason", "两家单位的资料录在了一起"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/customers/{code}?tab=codes"));
    let lineage = body(
        t.get(&format!("/api/v1/customers/{code}/lineage"), &admin)
            .await,
        200,
    )
    .await;
    let part = lineage[0]["to"].as_str().unwrap_or_default().to_string();
    assert_eq!(lineage[0]["kind"], "split", "{lineage}");
    assert_ne!(part, code);
    let original = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(original["status"], "active", "kept");
    assert_eq!(original["contacts"].as_array().map(Vec::len), Some(1));
    assert_eq!(original["contacts"][0]["name"], "陈立新");
    let new = body(
        t.get(&format!("/api/v1/customers/{part}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(new["name"], "无锡滨湖游艇服务有限公司");
    assert_eq!(new["contacts"][0]["name"], "吴海燕", "{new}");
    let codes = page(&mut v, &format!("/customers/{code}?tab=codes"), 200).await;
    assert!(codes.contains("id=\"lineage\"") && codes.contains(&part));
});

backend_test!(split_by_application_and_refusals, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let (code, contacts) = mixed(&t, &admin).await;
    t.create_user(
        &admin,
        "clerk1",
        None,
        json!([{"role": "clerk", "scope": "all"}]),
    )
    .await;
    t.create_user(
        &admin,
        "query1",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    t.create_user(
        &admin,
        "clerk2",
        None,
        json!([{"role": "clerk", "scope": "own"}]),
    )
    .await;

    let mut q = Visitor::new(&t);
    q.login("query1", USER_PASSWORD).await;
    page(&mut q, &format!("/customers/{code}/split"), 403).await;
    let detail = page(&mut q, &format!("/customers/{code}"), 200).await;
    assert!(!detail.contains("/split\""), "no split link for a reader");

    let mut own = Visitor::new(&t);
    own.login("clerk2", USER_PASSWORD).await;
    page(&mut own, &format!("/customers/{code}/split"), 404).await;

    let mut c = Visitor::new(&t);
    c.login("clerk1", USER_PASSWORD).await;
    let html = page(&mut c, &format!("/customers/{code}/split"), 200).await;
    assert!(html.contains("id=\"split-applies\""), "{html}");
    let csrf = Visitor::hidden(&html, "csrf");
    let moved = contacts[1].to_string();
    let r = c
        .post(
            &format!("/customers/{code}/split"),
            &[
                ("csrf", csrf.as_str()),
                ("customer_type", "enterprise"),
                ("name", "无锡滨湖游艇服务有限公司"),
                ("region_code", "320211"),
                ("contacts", moved.as_str()),
                ("original", "keep"),
                ("reason", "两家单位的资料录在了一起"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/applications/"), "{to}");
    let id = to.trim_start_matches("/applications/");
    let a: Value = body(
        t.get(&format!("/api/v1/applications/{id}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(a["kind"], "split", "{a}");
    let lineage = body(
        t.get(&format!("/api/v1/customers/{code}/lineage"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(lineage, json!([]), "nothing split before approval");
    // A contact of another customer is refused by name.
    let r = c
        .post(
            &format!("/customers/{code}/split"),
            &[
                ("csrf", csrf.as_str()),
                ("customer_type", "enterprise"),
                ("name", "无锡滨湖游艇服务有限公司"),
                ("contacts", "999999"),
                ("reason", "再拆一个"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"split-contacts-error\""), "{html}");
});

/// The split in a real browser: from the customer's page to the new code in its lineage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_in_the_browser() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let (code, contacts) = mixed(&t, &admin).await;
    let Some(b) = crate::browser::Browser::start("split_in_browser", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto(&format!("/customers/{code}")).await;
    b.click("#split").await;
    b.wait_for("#split-form").await;
    b.fill("#f-name", "无锡滨湖游艇服务有限公司").await;
    b.click(&format!("#split-contacts input[value=\"{}\"]", contacts[1]))
        .await;
    b.fill("#f-reason", "两家单位的资料录在了一起").await;
    b.document("customer-split").await;
    b.click("button#split").await;
    b.wait_for("#lineage").await;
    b.expect_text_containing("#lineage", "拆分", "the lineage names the split")
        .await;
    b.expect_text_containing("h1", &code, "back on the original")
        .await;
    b.close().await;
    t.stop().await;
}
