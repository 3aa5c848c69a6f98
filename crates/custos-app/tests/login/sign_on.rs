//! The steps of a sign-on through the fake (`sso_fake`) that the OpenID Connect and the
//! platform tests share: the app and the fake, following the login URL to the fake and
//! back, finishing the sign-on, and the refusal's code.

use std::collections::HashMap;

use custos_app::actor::Scope;
use custos_app::auth::{LoginResult, SessionKind};
use custos_app::error::AppError;
use custos_app::external::GroupMapping;
use serde_json::Value;

use super::sso_fake::SsoFake;
use super::support::*;

pub struct Env {
    pub t: T,
    pub fake: SsoFake,
}

/// Members of `group` get `role` over `scope`.
pub fn mapping(group: &str, role: &str, scope: Scope) -> GroupMapping {
    GroupMapping {
        group: group.into(),
        role: role.into(),
        scope,
        department_id: None,
    }
}

pub fn ctx() -> Context {
    let mut c = Context::new(Source::Console);
    c.ip = Some("127.0.0.1".into());
    c
}

/// Where a sign-on with one provider went: the login URL the app gave, and the callback
/// the fake redirected back to with its code and state.
pub struct Callback {
    pub login: reqwest::Url,
    pub back: reqwest::Url,
    pub code: String,
    pub state: String,
}

/// Begin a sign-on with provider `name` and follow its login URL to the fake, which
/// approves and redirects back to the provider's callback.
pub async fn through_the_fake(env: &Env, name: &str) -> Callback {
    let url = env.t.app.auth().oidc_begin(name).await.expect("begin").url;
    assert!(url.starts_with(&env.fake.base), "{url}");
    let login = reqwest::Url::parse(&url).expect("url");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = client.get(url).send().await.expect("login page");
    assert_eq!(answer.status(), 302);
    let back = answer.headers()["location"].to_str().expect("location");
    let back = reqwest::Url::parse(back).expect("callback url");
    assert!(back.path().ends_with(&format!("/{name}/callback")));
    let q: HashMap<String, String> = back.query_pairs().into_owned().collect();
    let code = q.get("code").or_else(|| q.get("authCode")).expect("code");
    Callback {
        code: code.clone(),
        state: q["state"].clone(),
        login,
        back,
    }
}

pub async fn finish(
    env: &Env,
    name: &str,
    code: &str,
    state: &str,
) -> Result<LoginResult, AppError> {
    env.t
        .app
        .auth()
        .oidc_finish(name, code, state, &ctx(), SessionKind::Browser)
        .await
}

/// `user` signs on with provider `name`, start to end.
pub async fn sign_on(env: &Env, name: &str, user: Value) -> Result<LoginResult, AppError> {
    env.fake.set_user(user);
    let c = through_the_fake(env, name).await;
    finish(env, name, &c.code, &c.state).await
}

pub fn assert_code(r: Result<LoginResult, AppError>, code: &str) {
    match r {
        Err(AppError::Unauthenticated(v)) => assert_eq!(v.code, code),
        Err(e) => panic!("expected {code}, got {e:?}"),
        Ok(r) => panic!("expected {code}, {} logged in", r.user.username),
    }
}
