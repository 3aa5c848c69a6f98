//! The console's frame in a real browser: sign in, the language switch, sign out.

use crate::browser::Browser;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_in_switch_language_and_sign_out() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let Some(b) = Browser::start("sign_in_switch_language", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    // A fresh install's `/` leads to the login page, in Chinese.
    b.goto("/").await;
    b.wait_for("#login-submit").await;
    b.check(
        b.path().await.starts_with("/login"),
        "/ leads to the login page",
    )
    .await;
    b.expect_text("h1", "客户主数据管理", "Chinese by default")
        .await;
    b.document("login").await;

    // A wrong password is said in plain Chinese, the name typed is kept.
    b.fill("#username", "admin").await;
    b.fill("#password", "not-the-password").await;
    b.click("#login-submit").await;
    b.expect_text("#login-error", "用户名或密码错误", "wrong password message")
        .await;
    let kept = b
        .wait_for("#username")
        .await
        .prop("value")
        .await
        .ok()
        .flatten();
    b.check(kept.as_deref() == Some("admin"), "username kept")
        .await;

    // The switch before signing in, then signing in keeps the page in English.
    b.click("#lang-switch").await;
    b.expect_text("#login-submit", "Log in", "English login page")
        .await;
    b.fill("#username", "admin").await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("#login-submit").await;
    b.wait_for("#logout").await;
    b.expect_text("#main h1", "Dashboard", "English dashboard")
        .await;

    // The account page's switch remembers Chinese for the user.
    b.click("#me").await;
    b.wait_for("#language")
        .await
        .select_by_value("zh")
        .await
        .expect("select");
    b.click("#save-language").await;
    b.expect_text("#main h1", "我的账户", "Chinese again").await;
    b.document("account").await;

    b.click("#logout").await;
    b.wait_for("#login-submit").await;
    b.goto("/").await;
    b.wait_for("#login-submit").await;
    b.close().await;
    t.stop().await;
}
