//! OpenID Connect sign-on against the test provider (of the sign-on fake): the full code flow with PKCE, and
//! every way a callback or token can be wrong.

use custos_app::actor::Scope;
use custos_app::error::AppError;
use custos_app::external::oidc::OidcProvider;
use serde_json::json;

use super::sign_on::*;
use super::sso_fake::{SsoFake, Tweaks, CLIENT_ID, CLIENT_SECRET};
use super::support::*;

const REDIRECT: &str = "https://custos.example/console/auth/oidc/test/callback";

/// The app and the fake (`_test`: the test's name, which only the directory tests use).
async fn start(backend: Backend, _test: &str) -> Option<Env> {
    let fake = SsoFake::start().await;
    let mut p = OidcProvider::new("test", CLIENT_ID, REDIRECT);
    p.label = "Keycloak".into();
    p.issuer = Some(fake.base.clone());
    p.client_secret = Some(CLIENT_SECRET.into());
    p.mappings = vec![mapping("/custos/stewards", "steward", Scope::All)];
    let config = AppConfig {
        oidc: vec![p],
        ..AppConfig::default()
    };
    let Some(t) = setup_with(backend, config).await else {
        eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return None;
    };
    fake.set_user(json!({
        "sub": "f3b7c9e0-0001", "preferred_username": "wang.wu", "name": "王五",
        "email": "wangwu@example.org", "groups": ["/custos/stewards", "/other"],
    }));
    Some(Env { t, fake })
}

/// Through the provider and back: the callback's code and state.
async fn authorize(env: &Env) -> (String, String) {
    let c = through_the_fake(env, "test").await;
    let q: std::collections::HashMap<String, String> = c.login.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    assert!(c.back.as_str().starts_with(REDIRECT));
    (c.code, c.state)
}

async fn refused_with(env: &Env, tweaks: Tweaks) {
    env.fake.set_tweaks(tweaks);
    let (code, state) = authorize(env).await;
    assert_code(
        finish(env, "test", &code, &state).await,
        "auth.oidc_refused",
    );
    env.fake.set_tweaks(Tweaks::default());
}

login_test!(the_code_flow_creates_the_user_and_a_session, |env| {
    let (code, state) = authorize(&env).await;
    let r = finish(&env, "test", &code, &state).await.expect("sign-on");
    assert_eq!(r.user.username, "wang.wu");
    assert_eq!(r.user.display_name, "王五");
    assert_eq!(r.user.auth_source, "oidc:test");
    let roles: Vec<(&str, &str)> = r
        .user
        .roles
        .iter()
        .map(|g| (g.role.as_str(), g.scope.as_str()))
        .collect();
    assert_eq!(roles, [("steward", "all")]);
    env.t
        .app
        .auth()
        .authenticate(&r.token, ctx())
        .await
        .expect("session works");
    // Again: the same user, through the same identity.
    let (code, state) = authorize(&env).await;
    let again = finish(&env, "test", &code, &state).await.expect("again");
    assert_eq!(again.user.id, r.user.id);
    // Such an account has no local password.
    assert!(env
        .t
        .app
        .auth()
        .login("wang.wu", "Otter-Basalt-Meridian-42", &ctx())
        .await
        .is_err());
});

login_test!(a_wrong_or_replayed_state_is_refused, |env| {
    let (code, state) = authorize(&env).await;
    assert_code(
        finish(&env, "test", &code, "not-the-state").await,
        "auth.oidc_state_invalid",
    );
    finish(&env, "test", &code, &state)
        .await
        .expect("the real one");
    // The state is spent …
    assert_code(
        finish(&env, "test", &code, &state).await,
        "auth.oidc_state_invalid",
    );
    // … and so is the code, even with a fresh state.
    let (_, fresh_state) = authorize(&env).await;
    assert_code(
        finish(&env, "test", &code, &fresh_state).await,
        "auth.oidc_refused",
    );
});

login_test!(forged_stale_or_misdirected_tokens_are_refused, |env| {
    refused_with(
        &env,
        Tweaks {
            foreign_key: true,
            ..Tweaks::default()
        },
    )
    .await;
    refused_with(
        &env,
        Tweaks {
            audience: Some("another-client".into()),
            ..Tweaks::default()
        },
    )
    .await;
    refused_with(
        &env,
        Tweaks {
            exp_offset: Some(-3600),
            ..Tweaks::default()
        },
    )
    .await;
    refused_with(
        &env,
        Tweaks {
            nonce: Some("someone-elses-nonce".into()),
            ..Tweaks::default()
        },
    )
    .await;
    let mut tx = env.t.app.db.begin_read().await.expect("tx");
    assert!(tx.user_by_name("wang.wu").await.expect("read").is_none());
    let failed: Vec<String> = tx
        .audit_entries(&custos_store::AuditFilter {
            action: Some("auth.login_failed".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    tx.rollback().await.expect("rollback");
    // Each refused for its own reason, audited with the provider.
    for why in [
        "InvalidSignature",
        "InvalidAudience",
        "ExpiredSignature",
        "nonce",
    ] {
        assert!(
            failed
                .iter()
                .any(|r| r.contains(why) && r.ends_with("(oidc:test)")),
            "{why}: {failed:?}"
        );
    }
    // With nothing tweaked the same user gets in.
    let (code, state) = authorize(&env).await;
    finish(&env, "test", &code, &state).await.expect("sign-on");
});

login_test!(groups_decide_who_gets_in, |env| {
    env.fake.set_user(json!({
        "sub": "f3b7c9e0-0002", "preferred_username": "zhao.liu", "groups": ["/other"],
    }));
    let (code, state) = authorize(&env).await;
    assert_code(
        finish(&env, "test", &code, &state).await,
        "auth.oidc_refused",
    );
    // Without a groups claim in the ID token, userinfo is asked; it has none either.
    env.fake
        .set_user(json!({"sub": "f3b7c9e0-0003", "preferred_username": "qian.qi"}));
    let (code, state) = authorize(&env).await;
    assert_code(
        finish(&env, "test", &code, &state).await,
        "auth.oidc_refused",
    );
    // A user who leaves the mapped group is disabled at the next sign-on.
    let (code, state) = authorize_as(&env, "/custos/stewards").await;
    let r = finish(&env, "test", &code, &state).await.expect("member");
    let (code, state) = authorize_as(&env, "/elsewhere").await;
    assert_code(
        finish(&env, "test", &code, &state).await,
        "auth.oidc_refused",
    );
    assert!(env
        .t
        .app
        .auth()
        .authenticate(&r.token, ctx())
        .await
        .is_err());
});

async fn authorize_as(env: &Env, group: &str) -> (String, String) {
    env.fake.set_user(json!({
        "sub": "f3b7c9e0-0004", "preferred_username": "sun.ba", "groups": [group],
    }));
    authorize(env).await
}

#[tokio::test]
async fn an_unknown_provider_is_not_found() {
    let Some(env) = start(Backend::Sqlite, "unknown_provider").await else {
        return;
    };
    assert!(matches!(
        env.t.app.auth().oidc_begin("nope").await,
        Err(AppError::NotFound { .. })
    ));
    env.t.db.cleanup().await;
}

/// Starting a sign-on needs no account, so what it stores is bounded: with the cap of
/// requests in flight reached, a new one is refused with 429 until some expire or finish.
#[tokio::test]
async fn sign_ons_in_flight_are_capped() {
    sign_ons_capped(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_sign_ons_in_flight_are_capped() {
    sign_ons_capped(Backend::Postgres).await;
}

async fn sign_ons_capped(backend: Backend) {
    {
        let Some(env) = start(backend, "sign_ons_capped").await else {
            return;
        };
        let cap = custos_app::external::oidc::MAX_REQUESTS_IN_FLIGHT;
        let now = custos_store::now_us();
        let mut tx = env.t.db.db.begin().await.expect("tx");
        // One short of the cap, written directly (as if started and never finished).
        for i in 0..cap - 1 {
            tx.insert_oidc_request(&custos_store::OidcRequestRow {
                state_hash: format!("{i:064x}"),
                provider: "test".into(),
                nonce: "n".into(),
                code_verifier: "v".into(),
                created_at: now,
                expires_at: now + 600_000_000,
            })
            .await
            .expect("insert");
        }
        tx.commit().await.expect("commit");
        // The last place is still free; then the door closes.
        env.t
            .app
            .auth()
            .oidc_begin("test")
            .await
            .expect("begin at the cap");
        match env.t.app.auth().oidc_begin("test").await {
            Err(e @ AppError::TooManyRequests { .. }) => {
                assert_eq!(e.status(), 429);
                assert_eq!(e.code(), "auth.sso_busy");
            }
            other => panic!("expected 429, got {:?}", other.map(|s| s.url)),
        }
        env.t.db.cleanup().await;
    }
}
