//! The customer form's parts over HTTP on both databases: one builder for the customer
//! form and the application form (the same fields for the same viewer), contacts, owner
//! and department entered with the record, and an owner outside the writer's scope
//! refused beside its field.

use serde_json::{json, Value};

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

/// A signed-in visitor for a new user with `roles`, and the user's id.
async fn visitor_for(t: &TestApp, admin: &str, username: &str, roles: Value) -> (Visitor, i64) {
    let id = t.create_user(admin, username, None, roles).await;
    let mut v = Visitor::new(t);
    v.login(username, USER_PASSWORD).await;
    (v, id)
}

/// The `(data-field, data-required-for)` pairs of a form's inputs, in order.
fn offered_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("data-field=\"").skip(1) {
        let name = part.split('"').next().unwrap_or("").to_string();
        let required = part
            .split('>')
            .next()
            .and_then(|tag| tag.split("data-required-for=\"").nth(1))
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        out.push((name, required));
    }
    out
}

const ASSIGNMENT: [&str; 3] = ["owner_id", "department_id", "contacts"];

backend_test!(customer_and_application_forms_offer_the_same_fields, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let r = t
        .post(
            "/api/v1/fields",
            Some(&admin),
            json!({"key": "vip_note", "label_zh": "贵宾备注", "label_en": "VIP note",
                   "type": "text", "required_for": ["individual"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    t.create_department(&admin, "华东销售部", None).await;
    let (mut steward, _) = visitor_for(
        &t,
        &admin,
        "steward9",
        json!([{"role": "steward", "scope": "all"}]),
    )
    .await;
    let customer = steward.get("/customers/new").await.text().await.unwrap();
    let application = steward
        .get("/applications/new?kind=create")
        .await
        .text()
        .await
        .unwrap();
    let direct = offered_fields(&customer);
    let applied = offered_fields(&application);
    assert!(
        direct.iter().any(|(n, _)| n == "custom.vip_note"),
        "{direct:?}"
    );
    assert!(
        direct
            .iter()
            .any(|(n, r)| n == "custom.vip_note" && r == "individual"),
        "{direct:?}"
    );
    // The direct form adds whom and where the customer belongs to, and its contacts.
    for key in ASSIGNMENT {
        assert!(direct.iter().any(|(n, _)| n == key), "{key}: {direct:?}");
    }
    let catalog: Vec<_> = direct
        .into_iter()
        .filter(|(n, _)| !ASSIGNMENT.contains(&n.as_str()))
        .collect();
    assert_eq!(catalog, applied);
    // Both draw the region with the one cascader, and neither has a script of its own.
    for html in [&customer, &application] {
        assert!(html.contains("id=\"region-cascade\"") && !html.contains("<script>"));
    }
});

backend_test!(create_with_contacts_and_an_owner, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let top = t.create_department(&admin, "销售中心", None).await;
    let east = t.create_department(&admin, "华东销售部", Some(top)).await;
    let owner_id = t
        .create_user(
            &admin,
            "sales7",
            None,
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let form = v.get("/customers/new").await.text().await.unwrap();
    assert!(form.contains("id=\"f-owner_id\"") && form.contains("id=\"f-department_id\""));
    // The department tree, each below its parent.
    assert!(
        form.contains(&format!("<option value=\"{east}\">　华东销售部</option>")),
        "{form}"
    );
    assert!(form.contains("data-add-row=\"contact-row-template\""));
    let csrf = Visitor::hidden(&form, "csrf");
    let owner = owner_id.to_string();
    let east_id = east.to_string();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("customer_type", "enterprise"),
        ("name", "联系人测试科技有限公司"),
        ("owner_id", owner.as_str()),
        ("department_id", east_id.as_str()),
        ("contacts[].name", "张三"),
        ("contacts[].title", "采购经理"),
        ("contacts[].mobile", "13800138001"),
        ("contacts[].phone", ""),
        ("contacts[].email", "zhang@example.com"),
        ("contacts[].name", "李四"),
        ("contacts[].title", ""),
        ("contacts[].mobile", "13800138002"),
        ("contacts[].phone", ""),
        ("contacts[].email", "不是邮箱"),
    ];
    // A bad e-mail in the second row: refused beside that row, every value kept.
    let r = v.post("/customers/new", &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"contact-1-error\""), "{html}");
    assert!(!html.contains("id=\"contact-0-error\""), "{html}");
    assert!(html.contains("value=\"张三\"") && html.contains("value=\"不是邮箱\""));
    assert!(html.contains(&format!("<option value=\"{owner_id}\" selected>")));

    fields[14] = ("contacts[].email", "li@example.com");
    let r = v.post("/customers/new", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let to = location(&r);
    let code = to
        .trim_start_matches("/customers/")
        .trim_end_matches("?created=1")
        .to_string();
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(c["owner_id"], json!(owner_id));
    assert_eq!(c["department_id"], json!(east));
    let names: Vec<&str> = c["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["张三", "李四"]);

    // A query user sees the contacts with their personal data masked.
    t.create_user(
        &admin,
        "reader7",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut reader = Visitor::new(&t);
    reader.login("reader7", USER_PASSWORD).await;
    let html = reader
        .get(&format!("/customers/{code}?tab=contacts"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("张三") && html.contains("李四"), "{html}");
    assert!(
        !html.contains("13800138001") && !html.contains("zhang@example.com"),
        "masked: {html}"
    );
});

backend_test!(a_clerk_with_scope_own_keeps_the_owner, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let (mut clerk, clerk_id) = visitor_for(
        &t,
        &admin,
        "clerk8",
        json!([{"role": "clerk", "scope": "own"}]),
    )
    .await;
    let other = t
        .create_user(
            &admin,
            "other8",
            None,
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "归属测试有限公司",
                   "owner_id": clerk_id}),
        )
        .await,
        201,
    )
    .await;
    let code = c["code"].as_str().unwrap().to_string();
    let edit = format!("/customers/{code}/edit");
    let form = clerk.get(&edit).await.text().await.unwrap();
    // Only the clerk is offered as the owner.
    assert!(form.contains(&format!("<option value=\"{clerk_id}\" selected>")));
    assert!(
        !form.contains(&format!("<option value=\"{other}\"")),
        "{form}"
    );
    // No contacts on an edit: they are kept on the customer's page.
    assert!(!form.contains("data-add-row"));
    let csrf = Visitor::hidden(&form, "csrf");
    let version = Visitor::hidden(&form, "version");
    let other_id = other.to_string();
    let r = clerk
        .post(
            &edit,
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("customer_type", "enterprise"),
                ("name", "归属测试有限公司"),
                ("owner_id", &other_id),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-owner_id-error\""), "{html}");
    assert!(html.contains("数据范围"), "{html}");
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(c["owner_id"], json!(clerk_id));
});
