//! 申请与审批 in a real browser: a clerk submits a new-customer application through the
//! console, the approvers approve it from 待办, after which the customer exists with its
//! code.

use super::customers_in_browser::choose;
use crate::applications::org;
use crate::browser::Browser;
use crate::helpers::*;

/// Approve the first task of the signed-in approver's inbox, which must be `aid`.
async fn approve_from_inbox(b: &Browser, aid: &str) {
    b.click("nav a[href=\"/inbox\"]").await;
    b.wait_for(&format!("#task-{aid}")).await;
    b.expect_text("#pending-badge", "1", "badge counts the task")
        .await;
    b.expect_text_containing(
        &format!("#task-{aid}"),
        "浏览器申请科技有限公司",
        "the task names the customer",
    )
    .await;
    b.fill(&format!("#comment-{aid}"), "同意").await;
    b.click(&format!("#approve-{aid}")).await;
    b.wait_for("#inbox-notice").await;
    b.wait_for("#inbox-empty").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clerk_applies_and_approvers_approve_from_the_inbox() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let o = org(&t).await;
    let Some(b) = Browser::start("clerk_applies_approvers_approve", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("clerk", USER_PASSWORD).await;
    b.click("nav a[href=\"/applications\"]").await;
    b.click("#new-application").await;
    b.click("#kind-create").await;
    b.wait_for("#f-name").await;
    b.wait_for("#f-customer_type")
        .await
        .select_by_value("enterprise")
        .await
        .expect("type");
    b.fill("#f-name", "浏览器申请科技有限公司").await;
    // The region by the customer form's cascader.
    choose(&b, "#region-province", "110000").await;
    choose(&b, "#region-city", "110100").await;
    choose(&b, "#region-county", "110108").await;
    b.wait_for("#f-region_code[value=\"110108\"]").await;
    b.fill("#f-phone", "010-62345678").await;
    b.fill("#reason", "新客户签约").await;
    b.click("#submit-application").await;
    b.expect_text("#application-state", "已提交", "submitted")
        .await;
    let path = b.path().await;
    let aid = path.trim_start_matches("/applications/").to_string();
    b.check(aid.parse::<i64>().is_ok(), "on the application's page")
        .await;
    b.expect_text_containing("#diff", "浏览器申请科技有限公司", "request shown")
        .await;
    b.document("application").await;
    b.click("#logout").await;
    b.wait_for("#login-submit").await;

    // The department manager, then a steward (the default flow of a new customer).
    b.login("manager", USER_PASSWORD).await;
    approve_from_inbox(&b, &aid).await;
    b.click("#logout").await;
    b.wait_for("#login-submit").await;
    b.login("steward", USER_PASSWORD).await;
    b.click("nav a[href=\"/inbox\"]").await;
    b.wait_for(&format!("#task-{aid}")).await;
    b.document("inbox").await;
    approve_from_inbox(&b, &aid).await;

    // Approved: the code issued is on the application's page and the customer exists.
    b.goto(&format!("/applications/{aid}")).await;
    b.expect_text("#application-state", "已通过", "approved")
        .await;
    let code = b.text("#result-code").await;
    b.check(code.starts_with('C'), "a customer code issued")
        .await;
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &o.clerk).await,
        200,
    )
    .await;
    b.check(c["name"] == "浏览器申请科技有限公司", "the customer exists")
        .await;
    b.close().await;
    t.stop().await;
}
