//! The console on a 768 px tablet: list → detail → edit without the page scrolling
//! sideways (wide tables scroll inside their own box).

use serde_json::json;

use crate::browser::Browser;
use crate::customers::seed_rules;
use crate::helpers::*;

/// Whether the page is no wider than the window.
async fn fits(b: &Browser) -> bool {
    b.client
        .execute(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_detail_and_edit_fit_a_tablet() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise",
                   "name": "平板宽度验证用的一个名称相当长的科技发展有限责任公司",
                   "region_code": "440305", "phone": "0755-86001234",
                   "address": "广东省深圳市南山区粤海街道科技园南区高新南七道某某大厦二十层"}),
        )
        .await;
    let code = body(r, 201).await["code"].as_str().unwrap().to_string();

    let Some(b) = Browser::start("tablet_in_browser", &t.base, 768).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto("/customers").await;
    b.wait_for(&format!("a[href=\"/customers/{code}\"]")).await;
    b.check(fits(&b).await, "the list fits 768 px").await;
    b.click(&format!("a[href=\"/customers/{code}\"]")).await;
    b.wait_for("h1").await;
    b.check(
        b.path().await == format!("/customers/{code}"),
        "on the detail page",
    )
    .await;
    b.check(fits(&b).await, "the detail page fits 768 px").await;
    b.goto(&format!("/customers/{code}/edit")).await;
    b.wait_for("#customer-form").await;
    b.check(fits(&b).await, "the edit form fits 768 px").await;
    for path in [
        "/",
        "/stats",
        "/applications",
        "/applications/new?kind=create",
        "/exports",
        "/account",
        // The stewards' and administrators' pages.
        "/duplicates",
        "/imports",
        "/imports/new",
        "/rules",
        "/rules/new?template=by-type",
        "/flows",
        "/flows/new?kind=create",
        "/fields",
        "/fields/new",
        "/admin/users",
        "/admin/departments",
        "/admin/roles",
        "/admin/service-accounts",
        "/admin/system",
        "/sources",
        "/audit",
    ] {
        b.goto(path).await;
        b.wait_for("main").await;
        b.check(fits(&b).await, &format!("{path} fits 768 px"))
            .await;
    }
    b.document("tablet-edit").await;
    b.close().await;
    t.stop().await;
}
