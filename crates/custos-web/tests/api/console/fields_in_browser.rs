//! 字段目录 and 审批流程 in a real browser: an administrator adds a custom select field
//! and finds it in the new-customer form; the flow editor previews who approves.

use serde_json::json;

use crate::browser::Browser;
use crate::customers::seed_rules;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_administrator_adds_a_select_field_and_uses_it() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let dept = t.create_department(&admin, "华南销售部", None).await;
    t.create_user(
        &admin,
        "sales2",
        Some(dept),
        json!([{"role": "clerk", "scope": "own"}]),
    )
    .await;
    let Some(b) = Browser::start("fields_in_browser", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;

    b.goto("/fields").await;
    b.click("#new-field").await;
    b.fill("#f-key", "channel").await;
    b.wait_for("#f-type")
        .await
        .select_by_value("single_select")
        .await
        .expect("select");
    b.fill("#f-label_zh", "销售渠道").await;
    b.fill("#f-label_en", "Sales channel").await;
    b.fill("#f-allowed_values", "直销\n代理\n电商").await;
    b.fill("#f-help_zh", "客户从哪个渠道来").await;
    b.click("#check").await;
    b.wait_for("#effect-none").await;
    b.click("#save").await;
    b.wait_for("#field-saved").await;
    b.expect_text_containing("#field-channel", "销售渠道", "the new field is listed")
        .await;
    b.document("fields").await;

    b.goto("/customers/new").await;
    b.wait_for("#f-custom-channel option[value=\"代理\"]").await;
    b.expect_text_containing("#customer-form", "销售渠道", "labelled in the form")
        .await;

    // The flow editor: a new flow for new customers, then the preview for the clerk.
    b.goto("/flows").await;
    b.click("#new-create").await;
    b.fill("#f-key", "create-south").await;
    b.fill("#f-name", "华南新客户流程").await;
    b.fill("#step-0-name", "部门负责人审核").await;
    b.wait_for("#step-0-type")
        .await
        .select_by_value("department_manager")
        .await
        .expect("select");
    b.click("#add-step").await;
    b.fill("#step-1-name", "数据管理员审核").await;
    b.wait_for("#step-1-role")
        .await
        .select_by_value("steward")
        .await
        .expect("select");
    b.click("#save").await;
    b.wait_for("#flow-notice").await;
    b.wait_for("#p-applicant option").await;
    let options = b
        .wait_for("#p-applicant")
        .await
        .find_all(fantoccini::Locator::Css("option"))
        .await
        .expect("options");
    let mut chosen = false;
    for o in options {
        if o.text().await.unwrap_or_default().contains("sales2") {
            o.click().await.expect("choose");
            chosen = true;
        }
    }
    b.check(chosen, "the clerk is offered as applicant").await;
    b.click("#show-preview").await;
    b.wait_for("#preview-result").await;
    b.expect_text_containing("#preview-flow", "华南新客户流程", "the flow previewed")
        .await;
    b.document("flow-editor").await;
    b.close().await;
    t.stop().await;
}
