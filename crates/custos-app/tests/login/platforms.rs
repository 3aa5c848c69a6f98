//! Direct sign-on with DingTalk, WeCom and Feishu against the local fake: accounts and
//! roles from a first sign-on, another organisation or a non-member refused, every way a
//! platform can answer with an error, a state used twice.

use custos_app::actor::Scope;
use custos_app::auth::LoginResult;
use custos_app::external::oidc::OidcProvider;
use custos_app::external::platforms::{ProviderKind, MEMBER_GROUP};
use serde_json::{json, Value};

use super::sign_on::*;
use super::sso_fake::*;
use super::support::*;

fn provider(fake: &SsoFake, kind: ProviderKind, name: &str, client_id: &str) -> OidcProvider {
    let redirect = format!("https://custos.example/auth/oidc/{name}/callback");
    let mut p = OidcProvider::platform(kind, name, client_id, &redirect);
    p.platform.login_base = fake.base.clone();
    p.platform.api_base = fake.base.clone();
    p.client_secret = Some(SECRET.into());
    p
}

/// The app and the fake (`_test`: the test's name, which only the directory tests use).
async fn start(backend: Backend, _test: &str) -> Option<Env> {
    let fake = SsoFake::start().await;
    let mut ding = provider(&fake, ProviderKind::DingTalk, "ding", DING_APP_KEY);
    ding.platform.corp_id = Some(DING_CORP.into());
    ding.mappings = vec![mapping(MEMBER_GROUP, "clerk", Scope::Own)];
    let mut wx = provider(&fake, ProviderKind::WeCom, "wx", "");
    wx.platform.corp_id = Some(WECOM_CORP.into());
    wx.platform.agent_id = Some(WECOM_AGENT.into());
    wx.mappings = vec![
        mapping("2", "steward", Scope::All),
        mapping(MEMBER_GROUP, "clerk", Scope::Own),
    ];
    // The same WeCom application, mapping only a department nobody here is in.
    let mut wx_strict = wx.clone();
    wx_strict.name = "wx-strict".into();
    wx_strict.redirect_uri = "https://custos.example/auth/oidc/wx-strict/callback".into();
    wx_strict.cache = Default::default();
    wx_strict.mappings = vec![mapping("9", "steward", Scope::All)];
    let mut fs = provider(&fake, ProviderKind::Feishu, "fs", FEISHU_APP_ID);
    fs.platform.tenant_key = Some(FEISHU_TENANT.into());
    fs.mappings = vec![mapping(MEMBER_GROUP, "clerk", Scope::Department)];
    let config = AppConfig {
        oidc: vec![ding, wx, wx_strict, fs],
        ..AppConfig::default()
    };
    let Some(t) = setup_with(backend, config).await else {
        eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return None;
    };
    Some(Env { t, fake })
}

fn roles(r: &LoginResult) -> Vec<(String, String)> {
    let mut roles: Vec<(String, String)> = r
        .user
        .roles
        .iter()
        .map(|g| (g.role.clone(), g.scope.clone()))
        .collect();
    roles.sort();
    roles
}

/// The reasons of the audit entries with `action`.
async fn audited(env: &Env, action: &str) -> Vec<String> {
    let mut tx = env.t.app.db.begin_read().await.expect("tx");
    let reasons = tx
        .audit_entries(&custos_store::AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    tx.rollback().await.expect("rollback");
    reasons
}

fn assert_audited(reasons: &[String], why: &str, provider: &str) {
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(why) && r.ends_with(&format!("({provider})"))),
        "{why} ({provider}): {reasons:?}"
    );
}

fn ding_user(corp: &str) -> Value {
    json!({"corpId": corp, "me": {"nick": "钉三", "unionId": "dingunion001iE",
        "openId": "dingopen001", "email": "dingsan@example.org", "mobile": "13800000000"}})
}

fn wecom_member(userid: &str, user: Value) -> Value {
    json!({"getuserinfo": {"userid": userid}, "user": user})
}

fn feishu_user(tenant: &str, user_id: Option<&str>) -> Value {
    json!({"data": {"name": "飞四", "open_id": "ou_0001", "union_id": "on_0001",
        "user_id": user_id, "email": "feisi@example.org", "tenant_key": tenant}})
}

login_test!(
    dingtalk_creates_the_account_and_refuses_another_organisation,
    |env| {
        let r = sign_on(&env, "ding", ding_user(DING_CORP))
            .await
            .expect("sign-on");
        assert!(
            r.user.username.starts_with("dingtalk-"),
            "{}",
            r.user.username
        );
        assert_eq!(r.user.display_name, "钉三");
        assert_eq!(r.user.auth_source, "dingtalk:ding");
        assert_eq!(roles(&r), [("clerk".to_string(), "own".to_string())]);
        env.t
            .app
            .auth()
            .authenticate(&r.token, ctx())
            .await
            .expect("session works");
        let again = sign_on(&env, "ding", ding_user(DING_CORP))
            .await
            .expect("again");
        assert_eq!(again.user.id, r.user.id);
        let logins = audited(&env, "auth.login").await;
        assert!(
            logins.iter().any(|r| r == "via dingtalk:ding"),
            "{logins:?}"
        );
        // The same person, signed in for another organisation.
        assert_code(
            sign_on(&env, "ding", ding_user("another-corp")).await,
            "auth.oidc_refused",
        );
        assert_audited(
            &audited(&env, "auth.login_failed").await,
            "organisation another-corp",
            "dingtalk:ding",
        );
    }
);

login_test!(platform_errors_fail_clearly_and_are_audited, |env| {
    let cases = [
        (Failure::ErrCode, "HTTP 400 (invalidAuthCode)"),
        (Failure::Http500, "HTTP 500"),
        (Failure::Garbled, "not JSON"),
        (Failure::Oversized, "larger than"),
    ];
    for (failure, why) in cases {
        env.fake.fail(failure);
        assert_code(
            sign_on(&env, "ding", ding_user(DING_CORP)).await,
            "auth.sso_platform_error",
        );
        assert_audited(
            &audited(&env, "auth.login_failed").await,
            why,
            "dingtalk:ding",
        );
    }
    env.fake.fail(Failure::ErrCode);
    let member = wecom_member("zhangsan", json!({"errcode": 0, "name": "张三"}));
    assert_code(sign_on(&env, "wx", member).await, "auth.sso_platform_error");
    assert_code(
        sign_on(&env, "fs", feishu_user(FEISHU_TENANT, None)).await,
        "auth.sso_platform_error",
    );
    let failed = audited(&env, "auth.login_failed").await;
    assert_audited(&failed, "gettoken: errcode 40001", "wecom:wx");
    assert_audited(&failed, "oauth/token: code 20050", "feishu:fs");
    // No secret in what is kept.
    assert!(failed.iter().all(|r| !r.contains(SECRET)), "{failed:?}");
    env.fake.fail(Failure::None);
    sign_on(&env, "ding", ding_user(DING_CORP))
        .await
        .expect("works again");
});

login_test!(wecom_maps_departments_and_refuses_non_members, |env| {
    let member = |dept: i64| {
        wecom_member(
            "zhangsan",
            json!({"errcode": 0, "name": "张三", "email": "zs@example.org", "department": [dept, 7]}),
        )
    };
    let r = sign_on(&env, "wx", member(2)).await.expect("sign-on");
    assert_eq!(r.user.username, "zhangsan");
    assert_eq!(r.user.display_name, "张三");
    assert_eq!(r.user.auth_source, "wecom:wx");
    assert_eq!(
        roles(&r),
        [
            ("clerk".to_string(), "own".to_string()),
            ("steward".to_string(), "all".to_string())
        ]
    );
    // Moved out of department 2: the department's role goes at the next sign-on.
    let again = sign_on(&env, "wx", member(5)).await.expect("again");
    assert_eq!(again.user.id, r.user.id);
    assert_eq!(roles(&again), [("clerk".to_string(), "own".to_string())]);
    // The application's token was fetched once and kept.
    assert_eq!(env.fake.app_tokens_issued(), 1);
    // Someone who is not a member of the corp.
    let outsider = json!({"getuserinfo": {"openid": "oAbc", "external_userid": "wmX"}});
    assert_code(sign_on(&env, "wx", outsider).await, "auth.oidc_refused");
    assert_audited(
        &audited(&env, "auth.login_failed").await,
        "not a member",
        "wecom:wx",
    );
    // Without the contacts permission the userid is the name.
    let hidden = wecom_member("lisi", json!({"errcode": 60011, "errmsg": "no privilege"}));
    let r = sign_on(&env, "wx", hidden).await.expect("no details");
    assert_eq!(
        (r.user.username.as_str(), r.user.display_name.as_str()),
        ("lisi", "lisi")
    );
    assert_eq!(roles(&r), [("clerk".to_string(), "own".to_string())]);
    // Mapped to nothing: no way in.
    assert_code(
        sign_on(&env, "wx-strict", member(2)).await,
        "auth.oidc_refused",
    );
    assert_audited(
        &audited(&env, "auth.login_failed").await,
        "in no mapped group",
        "wecom:wx-strict",
    );
});

login_test!(feishu_checks_the_tenant_and_spends_state_and_code, |env| {
    let r = sign_on(&env, "fs", feishu_user(FEISHU_TENANT, Some("feisi")))
        .await
        .expect("sign-on");
    assert_eq!(r.user.username, "feisi");
    assert_eq!(r.user.display_name, "飞四");
    assert_eq!(r.user.auth_source, "feishu:fs");
    assert_eq!(roles(&r), [("clerk".to_string(), "department".to_string())]);
    assert_code(
        sign_on(&env, "fs", feishu_user("another-tenant", Some("feisi"))).await,
        "auth.oidc_refused",
    );
    assert_audited(
        &audited(&env, "auth.login_failed").await,
        "tenant another-tenant",
        "feishu:fs",
    );
    // A state is good once; the platform's code too, even with a fresh state.
    env.fake.set_user(feishu_user(FEISHU_TENANT, Some("feisi")));
    let Callback { code, state, .. } = through_the_fake(&env, "fs").await;
    finish(&env, "fs", &code, &state).await.expect("first use");
    assert_code(
        finish(&env, "fs", &code, &state).await,
        "auth.oidc_state_invalid",
    );
    let fresh = through_the_fake(&env, "fs").await.state;
    assert_code(
        finish(&env, "fs", &code, &fresh).await,
        "auth.sso_platform_error",
    );
    assert_audited(
        &audited(&env, "auth.login_failed").await,
        "HTTP 400 (20003)",
        "feishu:fs",
    );
});
