//! Issue 33: DingTalk sign-on in the console against the sign-on fake of custos-app's
//! login tests: the button, DingTalk's `authCode` on the callback opening a session, and a
//! platform's error shown on the login page (401, never a 5xx).

#![allow(clippy::unwrap_used)]

use reqwest::{Client, Response};
use serde_json::json;

use custos_app::external::oidc::OidcProvider;
use custos_app::external::platforms::{ProviderKind, MEMBER_GROUP};

use crate::helpers::*;
use crate::sso_steps::sso_fake::{Failure, SsoFake, DING_APP_KEY, DING_CORP, SECRET};
use crate::sso_steps::*;

async fn start(backend: custos_app::Backend) -> Option<(TestApp, SsoFake)> {
    let fake = SsoFake::start().await;
    fake.set_user(json!({"corpId": DING_CORP, "me": {"nick": "钉三", "unionId": "union-1"}}));
    let redirect = "https://custos.test/auth/oidc/ding/callback";
    let mut p = OidcProvider::platform(ProviderKind::DingTalk, "ding", DING_APP_KEY, redirect);
    p.label = "钉钉".into();
    p.platform.login_base = fake.base.clone();
    p.platform.api_base = fake.base.clone();
    p.platform.corp_id = Some(DING_CORP.into());
    p.client_secret = Some(SECRET.into());
    let t = spawn_with_provider(backend, p, MEMBER_GROUP).await?;
    Some((t, fake))
}

/// Press the button and let DingTalk approve; then the callback with the state cookie.
async fn sign_on(t: &TestApp, c: &Client) -> Response {
    let (state_cookie, back) = to_the_fake_and_back(t, c, "ding").await;
    assert!(back.query().unwrap().contains("authCode="));
    callback(t, c, &back, Some(&state_cookie)).await
}

async fn dingtalk_through_the_console(backend: custos_app::Backend) {
    let Some((t, fake)) = start(backend).await else {
        eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let c = no_redirects();
    let page = c.get(format!("{}/login", t.base)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("href=\"/auth/oidc/ding\"") && html.contains("钉钉"),
        "{html}"
    );
    let r = sign_on(&t, &c).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(location(&r), "/");
    let session = set_cookie(&r, "custos_session").expect("session cookie");
    let home = c
        .get(format!("{}/", t.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("钉三"));

    // DingTalk failing: the login page says so, in Chinese by default.
    for failure in [Failure::Http500, Failure::Garbled, Failure::ErrCode] {
        fake.fail(failure);
        let r = sign_on(&t, &c).await;
        assert_eq!(r.status(), 401, "{failure:?}");
        assert!(set_cookie(&r, "custos_session").is_none());
        let html = r.text().await.unwrap();
        assert!(
            html.contains("login-error") && html.contains("钉钉 返回了错误"),
            "{html}"
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    dingtalk_through_the_console(custos_app::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    dingtalk_through_the_console(custos_app::Backend::Postgres).await;
}
