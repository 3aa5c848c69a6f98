//! Issue 33: single sign-on in the console through an OpenID Connect provider (the sign-on
//! fake of custos-app's login tests): the login page's button, the redirect, the
//! callback opening a browser session, and a callback from another browser refused.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use custos_app::external::oidc::OidcProvider;

use crate::helpers::*;
use crate::sso_steps::sso_fake::{SsoFake, CLIENT_ID, CLIENT_SECRET};
use crate::sso_steps::*;

const REDIRECT: &str = "https://custos.test/auth/oidc/corp/callback";

async fn start(backend: custos_app::Backend) -> Option<(TestApp, SsoFake)> {
    let idp = SsoFake::start().await;
    idp.set_user(json!({
        "sub": "u-1", "preferred_username": "li.si", "name": "李四", "groups": ["custos-query"],
    }));
    let mut p = OidcProvider::new("corp", CLIENT_ID, REDIRECT);
    p.label = "企业微信".into();
    p.issuer = Some(idp.base.clone());
    p.client_secret = Some(CLIENT_SECRET.into());
    let t = spawn_with_provider(backend, p, "custos-query").await?;
    Some((t, idp))
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
    let (state_cookie, back) = to_the_fake_and_back(&t, &c, "corp").await;
    let r = callback(&t, &c, &back, None).await;
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "custos_session").is_none());

    let r = callback(&t, &c, &back, Some(&state_cookie)).await;
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
    let r = callback(&t, &c, &back, Some(&state_cookie)).await;
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
