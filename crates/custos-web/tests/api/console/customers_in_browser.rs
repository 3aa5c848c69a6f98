//! The customer form and page in a real browser: create an enterprise customer and land
//! on its page with its code; duplicate hints while typing; a bad USCC beside its field
//! with the other values kept; a query user sees masked personal data and the 404 page
//! for a customer outside the scope.

use serde_json::json;

use crate::browser::Browser;
use crate::customers::seed_rules;
use crate::helpers::*;

const NAME: &str = "上海浦江精密机械有限公司";

/// Choose `value` in the select `css` (htmx replaces the cascader after each choice).
pub(crate) async fn choose(b: &Browser, css: &str, value: &str) {
    let option = format!("{css} option[value=\"{value}\"]");
    b.wait_for(&option).await;
    b.wait_for(css)
        .await
        .select_by_value(value)
        .await
        .expect("select");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_a_customer_see_hints_errors_and_masking() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let dept = t.create_department(&admin, "华东销售部", None).await;
    let sales = t
        .create_user(
            &admin,
            "sales1",
            Some(dept),
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    t.create_user(
        &admin,
        "reader1",
        Some(dept),
        json!([{"role": "query", "scope": "department"}]),
    )
    .await;
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "individual", "name": "王小二", "mobile": "13912345678",
                   "owner_id": sales}),
        )
        .await;
    let person = body(r, 201).await["code"].as_str().unwrap().to_string();

    let Some(b) = Browser::start("customers_in_browser", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;

    // Create an enterprise customer through the form, the region by the cascader.
    b.goto("/customers/new").await;
    b.wait_for("#f-customer_type option[value=\"enterprise\"]:checked")
        .await;
    b.fill("#f-name", NAME).await;
    choose(&b, "#region-province", "310000").await;
    choose(&b, "#region-city", "310100").await;
    choose(&b, "#region-county", "310115").await;
    b.wait_for("#f-region_code[value=\"310115\"]").await;
    // Two contact rows added by console.js, the second removed again.
    b.click("#add-contact").await;
    b.click("#add-contact").await;
    let row = |n: usize, key: &str| {
        format!("#contact-rows [data-row]:nth-child({n}) input[name=\"contacts[].{key}\"]")
    };
    b.fill(&row(1, "name"), "王五").await;
    b.fill(&row(1, "mobile"), "13700137000").await;
    b.fill(&row(2, "name"), "删掉的人").await;
    b.click("#contact-rows [data-row]:nth-child(2) [data-remove-row]")
        .await;
    b.click("#save").await;
    b.wait_for("#created").await;
    let code = b.text("#customer-code").await;
    b.check(code.starts_with('C'), "the new customer's code is shown")
        .await;
    b.expect_text_containing("#created", &code, "created notice names the code")
        .await;
    b.expect_text_containing("#basic", "浦东新区", "region name beside its code")
        .await;
    b.document("customer-detail").await;
    b.goto(&format!("/customers/{code}?tab=contacts")).await;
    b.expect_text_containing("main", "王五", "the contact entered with the customer")
        .await;
    let page = b.text("main").await;
    b.check(!page.contains("删掉的人"), "the removed row was not saved")
        .await;

    // Typing a near-duplicate name shows a hint naming the first customer's code.
    b.goto("/customers/new").await;
    b.fill("#f-name", "上海浦江精密机械股份有限公司").await;
    b.expect_text_containing("#duplicate-hints", &code, "duplicate hint")
        .await;

    // A bad USCC: the error beside the field, the other values kept.
    b.fill("#f-uscc", "91310115MA1K3YJ1").await;
    b.fill("#f-legal_representative", "张三").await;
    b.click("#save").await;
    b.wait_for("#f-uscc-error").await;
    let kept = b
        .wait_for("#f-legal_representative")
        .await
        .prop("value")
        .await
        .ok()
        .flatten();
    b.check(kept.as_deref() == Some("张三"), "other values kept")
        .await;
    let name = b
        .wait_for("#f-name")
        .await
        .prop("value")
        .await
        .ok()
        .flatten();
    b.check(
        name.as_deref() == Some("上海浦江精密机械股份有限公司"),
        "name kept",
    )
    .await;
    b.document("customer-form").await;

    // A query user: personal data masked; a customer outside the scope is the 404 page.
    b.click("#logout").await;
    b.wait_for("#login-submit").await;
    b.login("reader1", USER_PASSWORD).await;
    b.goto(&format!("/customers/{person}")).await;
    b.expect_text_containing("#pii-values", "139****5678", "masked mobile")
        .await;
    let shown = b.text("#pii-values").await;
    b.check(!shown.contains("13912345678"), "no clear mobile")
        .await;
    b.check(
        b.client
            .find(fantoccini::Locator::Css("#reveal"))
            .await
            .is_err(),
        "no reveal button without the permission",
    )
    .await;
    b.goto(&format!("/customers/{code}")).await;
    b.expect_text(
        "#error-message",
        "找不到该页面或记录，或您无权查看。",
        "out of scope is the 404 page",
    )
    .await;
    b.close().await;
    t.stop().await;
}
