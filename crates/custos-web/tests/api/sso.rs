//! Issue 33: single sign-on in the console through an OpenID Connect provider (the test
//! provider of custos-app's login tests): the login page's button, the redirect, the
//! callback opening a browser session, and a callback from another browser refused.

#![allow(clippy::unwrap_used)]

use reqwest::{Client, Response};
use serde_json::json;

use custos_app::actor::Scope;
use custos_app::external::oidc::OidcProvider;
use custos_app::external::GroupMapping;

use crate::helpers::*;

#[allow(dead_code)]
#[path = "../../../custos-app/tests/login/oidc_provider.rs"]
mod oidc_provider;

use oidc_provider::{Provider, CLIENT_ID, CLIENT_SECRET};

const REDIRECT: &str = "https://custos.test/auth/oidc/corp/callback";

async fn start(backend: custos_app::Backend) -> Option<(TestApp, Provider)> {
    let idp = Provider::start().await;
    idp.set_user(json!({
        "sub": "u-1", "preferred_username": "li.si", "name": "李四", "groups": ["custos-query"],
    }));
    let mut p = OidcProvider::new("corp", CLIENT_ID, REDIRECT);
    p.label = "企业微信".into();
    p.issuer = Some(idp.issuer.clone());
    p.client_secret = Some(CLIENT_SECRET.into());
    p.mappings = vec![GroupMapping {
        group: "custos-query".into(),
        role: "query".into(),
        scope: Scope::All,
        department_id: None,
    }];
    let t = spawn_with(backend, move |c| c.oidc = vec![p]).await?;
    Some((t, idp))
}

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the cookie `name` that a response sets.
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

/// Press the button and let the provider approve: the state cookie and the callback path.
async fn to_provider_and_back(t: &TestApp, c: &Client) -> (String, String) {
    let r = c
        .get(format!("{}/auth/oidc/corp", t.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let state_cookie = set_cookie(&r, "custos_sso_state").expect("state cookie");
    let r = c.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let back = reqwest::Url::parse(&location(&r)).unwrap();
    let path = format!("{}?{}", back.path(), back.query().unwrap());
    (state_cookie, path)
}

async fn sign_on_through_the_console(backend: custos_app::Backend) {
    let Some((t, _idp)) = start(backend).await else {
        eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let c = no_redirects();
    let page = c.get(format!("{}/login", t.base)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("href=\"/auth/oidc/corp\"") && html.contains("企业微信"),
        "{html}"
    );

    // A callback URL made in another browser (login CSRF) is refused here, and stays
    // usable by the browser that started it.
    let (state_cookie, callback) = to_provider_and_back(&t, &c).await;
    let r = c.get(format!("{}{callback}", t.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "custos_session").is_none());

    let r = c
        .get(format!("{}{callback}", t.base))
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
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
    assert!(home.text().await.unwrap().contains("李四"));

    // The callback again: the state is spent.
    let r = c
        .get(format!("{}{callback}", t.base))
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The provider's own refusal comes back as the login page, not an error.
    let r = c
        .get(format!(
            "{}/auth/oidc/corp/callback?error=access_denied&state=x",
            t.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("login-error"));
    // An unknown provider is a 404 page.
    let r = c
        .get(format!("{}/auth/oidc/nope", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    sign_on_through_the_console(custos_app::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    sign_on_through_the_console(custos_app::Backend::Postgres).await;
}
