//! 来源待确认 and 服务账号与 API 密钥 in a real browser: a steward rejects a queued
//! source customer from the queue; an administrator creates a service account, makes a
//! key, copies it from the page that shows it once, and revokes it.

use crate::browser::Browser;
use crate::helpers::*;

/// Accept the page's confirmation questions (revoke, disable) without a dialog.
async fn accept_confirms(b: &Browser) {
    let _ = b
        .client
        .execute("window.confirm = function () { return true; };", vec![])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decide_a_source_entry_then_make_and_revoke_a_key() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    let (_, crm, _) = super::sources::queue_two(&t, &admin).await;
    let Some(b) = Browser::start("integrations_in_browser", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;

    // 来源待确认: from the navigation to the entry, rejected with a reason.
    b.click("nav a[href=\"/sources\"]").await;
    b.wait_for("#src-table").await;
    b.document("sources").await;
    b.fill("#f-system", "crm").await;
    b.click("#src-search").await;
    b.wait_for(&format!("#entry-{crm}")).await;
    b.expect_path_containing("system=crm", "filter in the URL")
        .await;
    b.click(&format!("#open-{crm}")).await;
    b.wait_for("#incoming").await;
    b.expect_text_containing("#incoming", "138****5678", "the mobile masked")
        .await;
    b.wait_for("#candidates").await;
    b.document("source-entry").await;
    b.click("#action-reject").await;
    b.click("#decide").await;
    b.wait_for("#reason-error").await;
    b.click("#action-reject").await;
    b.fill("#reason", "测试推送，不是真实客户").await;
    b.click("#decide").await;
    b.wait_for("#notice").await;
    b.expect_text("#entry-state", "已拒绝", "rejected").await;
    b.expect_text_containing("#entry-note", "测试推送", "the reason kept")
        .await;

    // 服务账号: create one, make a key, copy it, revoke it.
    b.goto("/admin/users").await;
    b.click("a[href=\"/admin/service-accounts\"]").await;
    b.wait_for("#account-form").await;
    b.fill("#name", "erp-sync").await;
    b.fill("#display_name", "ERP 同步").await;
    b.click("#role-clerk").await;
    b.click("#create-account").await;
    b.wait_for("#no-keys").await;
    b.expect_text_containing("#account-roles", "业务录入员", "role held")
        .await;
    b.fill("#key-name", "ERP 生产环境").await;
    b.click("#create-key").await;
    b.wait_for("#new-token").await;
    let token = b.text("#new-token").await;
    b.check(token.starts_with("custos_"), "the token is shown")
        .await;
    b.click("#copy-token").await;
    b.expect_text("#copy-status", "已复制到剪贴板。", "copied")
        .await;
    b.document("api-key-created").await;
    b.click("#token-done").await;
    b.wait_for("#key-table").await;
    let listed = b.text("#key-table").await;
    b.check(!listed.contains(&token), "never shown again").await;
    b.document("service-account").await;
    // The account page with its key table fits a tablet too.
    b.client
        .set_window_size(768, 1024)
        .await
        .expect("window size");
    b.goto(&b.path().await).await;
    b.wait_for("#key-table").await;
    let fits = b
        .client
        .execute(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    b.check(fits, "the account page fits 768 px").await;
    accept_confirms(&b).await;
    b.click("#key-table button[id^=\"revoke-\"]").await;
    b.wait_for("#notice").await;
    b.expect_text_containing("#key-table", "已吊销", "revoked")
        .await;
    let me = t.get("/api/v1/me", &token).await;
    b.check(me.status() == 401, "the revoked key is refused")
        .await;
    b.close().await;
    t.stop().await;
}
