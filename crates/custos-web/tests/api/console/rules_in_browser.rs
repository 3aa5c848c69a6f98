//! 编码规则 in a real browser: from the dashboard's banner an administrator composes a
//! rule in the designer (each change checked by the engine, the preview following),
//! saves and publishes it, and the next new customer gets a code of that shape.

use std::time::Duration;

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::*;

const TAB: &str = "\u{E004}";
const CONTROL: &str = "\u{E009}";

/// Wait until htmx has no request running and the swapped body has settled.
async fn settle(b: &Browser) {
    for _ in 0..100 {
        let busy = b
            .client
            .execute(
                "return document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping') !== null;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if !busy {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.fail("htmx did not settle").await
}

/// Type `text` over an input's value and leave it (the change re-checks the rule and the
/// designer's body is swapped; the input is found again by its id).
async fn type_over(b: &Browser, css: &str, text: &str) {
    settle(b).await;
    let e = b.wait_for(css).await;
    e.click().await.expect("focus");
    e.send_keys(&format!("{CONTROL}a{CONTROL}"))
        .await
        .expect("select");
    e.send_keys(&format!("{text}{TAB}")).await.expect("type");
    settle(b).await;
}

async fn choose(b: &Browser, css: &str, value: &str) {
    settle(b).await;
    b.wait_for(css)
        .await
        .select_by_value(value)
        .await
        .expect("choose");
    settle(b).await;
}

async fn press(b: &Browser, css: &str) {
    settle(b).await;
    b.click(css).await;
    settle(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_administrator_composes_publishes_and_a_customer_gets_its_code() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    let Some(b) = Browser::start("rule_designer", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto("/").await;
    b.click("#rule-setup-link").await;
    b.wait_for("#no-published-rule").await;
    b.click("#new-rule").await;
    b.wait_for("#designer-form").await;
    b.expect_text_containing("#preview-codes", "C0001", "the starting rule's preview")
        .await;

    type_over(&b, "#f-key", "kh-code").await;
    type_over(&b, "#f-name", "客户编码 K").await;
    type_over(&b, "#f-types", "enterprise").await;
    type_over(&b, "#s0-value", "K").await;
    b.expect_text_containing("#preview-codes", "K0001", "preview after the constant")
        .await;
    // A value the engine refuses is named beside its field; the preview waits.
    type_over(&b, "#s1-width", "13").await;
    b.wait_for("#seg-1 .field-error").await;
    b.wait_for("#preview-none").await;
    type_over(&b, "#s1-width", "4").await;
    b.expect_text_containing("#preview-codes", "K0001", "preview again")
        .await;
    // Add a date, move it before the sequence, make it the year; then a check character.
    choose(&b, "#f-add-kind", "date").await;
    press(&b, "#add-segment").await;
    b.wait_for("#s2-format").await;
    press(&b, "#s2-up").await;
    b.wait_for("#s1-format").await;
    choose(&b, "#s1-format", "yyyy").await;
    let year = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y")
        .to_string();
    let shape = format!("K{year}0001");
    b.expect_text_containing("#preview-codes", &shape, "preview with the year")
        .await;
    choose(&b, "#f-add-kind", "check").await;
    press(&b, "#add-segment").await;
    b.wait_for("#s3-algorithm").await;
    b.expect_text_containing("#preview-codes", &shape, "preview with the check")
        .await;
    let preview = b.text("#preview-codes li:first-child").await;
    b.check(
        preview.len() == shape.len() + 1,
        &format!("check character in {preview}"),
    )
    .await;
    b.document("rule-designer").await;

    press(&b, "#save-rule").await;
    b.wait_for("#publish-rule").await;
    b.click("#publish-rule").await;
    b.expect_text("#published-version", "v1", "published").await;
    b.document("rule-detail").await;

    let c = body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "北京星河科技有限公司",
                   "region_code": "110105"}),
        )
        .await,
        201,
    )
    .await;
    let code = c["code"].as_str().unwrap_or_default().to_string();
    b.check(
        code == preview,
        &format!("customer code {code}, preview {preview}"),
    )
    .await;
    b.goto("/rules").await;
    b.wait_for("#rule-kh-code [data-scope]").await;
    b.document("rules").await;
    b.close().await;
    t.stop().await;
}
