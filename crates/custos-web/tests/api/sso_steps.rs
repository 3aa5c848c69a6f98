//! The steps of a console sign-on through the sign-on fake of custos-app's login tests
//! (one server for the OpenID Connect provider and the platforms), shared by the OIDC and
//! the platform tests: a server with one provider, pressing its button and letting the
//! fake approve, and the callback.

#![allow(clippy::unwrap_used)]

use reqwest::{Client, Response, Url};

use custos_app::actor::Scope;
use custos_app::external::oidc::OidcProvider;
use custos_app::external::GroupMapping;

use crate::helpers::*;

#[allow(dead_code)]
#[path = "../../../custos-app/tests/login/sso_fake.rs"]
pub mod sso_fake;

/// A server whose one sign-on provider is `p`, its members of `group` made query users.
pub async fn spawn_with_provider(
    backend: custos_app::Backend,
    mut p: OidcProvider,
    group: &str,
) -> Option<TestApp> {
    p.mappings = vec![GroupMapping {
        group: group.into(),
        role: "query".into(),
        scope: Scope::All,
        department_id: None,
    }];
    spawn_with(backend, move |c| c.oidc = vec![p]).await
}

pub fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the cookie `name` that a response sets.
pub fn set_cookie(r: &Response, name: &str) -> Option<String> {
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

pub fn location(r: &Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Press provider `name`'s button and let the fake approve: the state cookie and the
/// callback URL the fake sent the browser back to.
pub async fn to_the_fake_and_back(t: &TestApp, c: &Client, name: &str) -> (String, Url) {
    let r = c
        .get(format!("{}/auth/oidc/{name}", t.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let state_cookie = set_cookie(&r, "custos_sso_state").expect("state cookie");
    let r = c.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    (state_cookie, Url::parse(&location(&r)).unwrap())
}

/// The callback `back` on this server, with the state cookie if given.
pub async fn callback(t: &TestApp, c: &Client, back: &Url, state_cookie: Option<&str>) -> Response {
    let path = format!("{}?{}", back.path(), back.query().unwrap());
    let mut r = c.get(format!("{}{path}", t.base));
    if let Some(cookie) = state_cookie {
        r = r.header("cookie", cookie);
    }
    r.send().await.unwrap()
}
