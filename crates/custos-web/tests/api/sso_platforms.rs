//! Issue 33: DingTalk sign-on in the console against the platform fake of custos-app's
//! login tests: the button, DingTalk's `authCode` on the callback opening a session, and a
//! platform's error shown on the login page (401, never a 5xx).

#![allow(clippy::unwrap_used)]

use reqwest::{Client, Response};
use serde_json::json;

use custos_app::actor::Scope;
use custos_app::external::oidc::OidcProvider;
use custos_app::external::platforms::{ProviderKind, MEMBER_GROUP};
use custos_app::external::GroupMapping;

use crate::helpers::*;

#[allow(dead_code)]
#[path = "../../../custos-app/tests/login/platform_fake.rs"]
mod platform_fake;

use platform_fake::{Failure, Fake, DING_APP_KEY, DING_CORP, SECRET};

async fn start(backend: custos_app::Backend) -> Option<(TestApp, Fake)> {
    let fake = Fake::start().await;
    fake.set_user(json!({"corpId": DING_CORP, "me": {"nick": "钉三", "unionId": "union-1"}}));
    let redirect = "https://custos.test/auth/oidc/ding/callback";
    let mut p = OidcProvider::platform(ProviderKind::DingTalk, "ding", DING_APP_KEY, redirect);
    p.label = "钉钉".into();
    p.platform.login_base = fake.base.clone();
    p.platform.api_base = fake.base.clone();
    p.platform.corp_id = Some(DING_CORP.into());
    p.client_secret = Some(SECRET.into());
    p.mappings = vec![GroupMapping {
        group: MEMBER_GROUP.into(),
        role: "query".into(),
        scope: Scope::All,
        department_id: None,
    }];
    let t = spawn_with(backend, move |c| c.oidc = vec![p]).await?;
    Some((t, fake))
}

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|kv| {
            kv.split_once('=')
                .is_some_and(|(k, v)| k.ends_with(name) && !v.is_empty())
        })
        .map(str::to_string)
}

fn location(r: &Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Press the button and let DingTalk approve; then the callback with the state cookie.
async fn sign_on(t: &TestApp, c: &Client) -> Response {
    let r = c
        .get(format!("{}/auth/oidc/ding", t.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let state_cookie = set_cookie(&r, "custos_sso_state").expect("state cookie");
    let r = c.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let back = reqwest::Url::parse(&location(&r)).unwrap();
    assert!(back.query().unwrap().contains("authCode="));
    let path = format!("{}?{}", back.path(), back.query().unwrap());
    c.get(format!("{}{path}", t.base))
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap()
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
