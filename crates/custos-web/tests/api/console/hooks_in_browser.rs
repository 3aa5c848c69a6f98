//! Webhook 订阅 and 通知渠道 in a real browser: an administrator creates a webhook, sees
//! and copies its secret on the one page that shows it, finds it in the list without the
//! secret; then creates a channel to a local receiver and sends it a test message.

use crate::browser::Browser;
use crate::helpers::*;
use crate::notification_channels::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_a_webhook_and_test_a_channel() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let rx = Receiver::start((200, "{}")).await;
    let Some(b) = Browser::start("hooks_in_browser", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;

    // Webhook: from the administration sub-navigation to the secret shown once.
    b.click("nav a[href=\"/admin/users\"]").await;
    b.click("a[href=\"/admin/webhooks\"]").await;
    b.wait_for("#hook-form").await;
    b.expect_path_containing("/admin/webhooks", "the webhooks page")
        .await;
    b.fill("#name", "erp-hook").await;
    b.fill("#url", &format!("{}/hook", rx.base)).await;
    b.click("#event_types option[value=\"customer.created\"]")
        .await;
    b.click("#create-hook").await;
    b.wait_for("#new-secret").await;
    let secret = b.text("#new-secret").await;
    b.check(secret.len() >= 16, "the secret is shown").await;
    b.click("#copy-secret").await;
    b.expect_text("#copy-status", "已复制到剪贴板。", "copied")
        .await;
    b.document("webhook-secret").await;
    b.click("#secret-done").await;
    b.wait_for("#log-empty").await;
    b.click("#test-hook").await;
    b.wait_for("#notice").await;
    b.expect_text_containing("#notice", "HTTP 200", "the test event arrived")
        .await;
    b.wait_for("#log-table").await;
    b.document("webhook").await;
    b.goto("/admin/webhooks").await;
    b.wait_for("#hook-table").await;
    let listed = b.text("#hook-table").await;
    b.check(listed.contains("erp-hook"), "listed").await;
    b.check(!listed.contains(&secret), "the secret is never shown again")
        .await;
    b.document("webhooks").await;

    // Channel: a generic webhook to the receiver, tested from its page.
    b.click("a[href=\"/admin/channels\"]").await;
    b.wait_for("#channel-form").await;
    b.fill("#name", "集成测试渠道").await;
    b.set_value("#provider", "webhook").await;
    b.fill("#url", &format!("{}/notify", rx.base)).await;
    b.click("#kind-task_pending").await;
    b.click("#kind-duplicates_found").await;
    b.click("#create-channel").await;
    b.wait_for("#notice").await;
    b.expect_text_containing("#channel-kinds", "重复客户待处理", "kinds kept")
        .await;
    b.click("#test-channel").await;
    b.wait_for("#notice").await;
    b.expect_text_containing("#notice", "测试消息已送达", "the test message arrived")
        .await;
    b.document("channel").await;
    let posted: Vec<String> = rx.hits().into_iter().map(|h| h.target).collect();
    b.check(
        posted.iter().any(|p| p == "/hook") && posted.iter().any(|p| p == "/notify"),
        "both receivers were posted to",
    )
    .await;
    b.close().await;
    t.stop().await;
}
