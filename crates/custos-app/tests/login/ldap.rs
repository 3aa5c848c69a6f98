//! LDAP login: search-then-bind against slapd, users created on first login with the
//! mapped role, disabled when their entry or group goes, filter injection, an absent
//! directory.

use std::time::Duration;

use custos_app::actor::Scope;
use custos_app::error::AppError;
use custos_app::external::ldap::LdapConfig;
use custos_app::external::GroupMapping;

use super::slapd::{Slapd, ADMIN_DN, ADMIN_PW};
use super::support::*;

struct Env {
    t: T,
    slapd: Slapd,
}

fn ldap_config(url: &str) -> LdapConfig {
    LdapConfig {
        url: url.to_string(),
        bind_dn: Some(ADMIN_DN.into()),
        bind_password: Some(ADMIN_PW.into()),
        user_base: "ou=people,dc=example,dc=org".into(),
        group_base: Some("ou=groups,dc=example,dc=org".into()),
        group_filter: Some("(&(objectClass=groupOfNames)(member={dn}))".into()),
        mappings: vec![
            GroupMapping {
                group: "stewards".into(),
                role: "steward".into(),
                scope: Scope::Department,
                department_id: None,
            },
            GroupMapping {
                group: "cn=clerks,ou=groups,dc=example,dc=org".into(),
                role: "clerk".into(),
                scope: Scope::Own,
                department_id: None,
            },
        ],
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        ..LdapConfig::default()
    }
}

async fn start(backend: Backend, test: &str) -> Option<Env> {
    let slapd = Slapd::start(test)?;
    let config = AppConfig {
        ldap: Some(ldap_config(&slapd.url)),
        ..AppConfig::default()
    };
    let Some(t) = setup_with(backend, config).await else {
        eprintln!("{test}: postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return None;
    };
    Some(Env { t, slapd })
}

fn ctx() -> Context {
    let mut c = Context::new(Source::Api);
    c.ip = Some("127.0.0.1".into());
    c
}

fn assert_refused(r: Result<custos_app::auth::LoginResult, AppError>) {
    match r {
        Err(AppError::Unauthenticated(v)) => assert_eq!(v.code, "auth.invalid_credentials"),
        Err(e) => panic!("expected invalid credentials, got {e:?}"),
        Ok(r) => panic!("expected a refusal, {} logged in", r.user.username),
    }
}

async fn stored_user(t: &T, name: &str) -> Option<custos_store::UserRow> {
    let mut tx = t.app.db.begin_read().await.expect("tx");
    let u = tx.user_by_name(name).await.expect("user");
    tx.rollback().await.expect("rollback");
    u
}

async fn audit_reasons(t: &T, action: &str) -> Vec<String> {
    let mut tx = t.app.db.begin_read().await.expect("tx");
    let rows = tx
        .audit_entries(&custos_store::AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit entries");
    tx.rollback().await.expect("rollback");
    rows.into_iter().filter_map(|e| e.reason).collect()
}

login_test!(first_login_creates_the_user_with_the_mapped_role, |env| {
    let r = env
        .t
        .app
        .auth()
        .login("alice", "Alice-Secret-11", &ctx())
        .await
        .expect("alice logs in");
    assert_eq!(r.user.username, "alice");
    assert_eq!(r.user.display_name, "Alice Zhang");
    assert_eq!(r.user.email.as_deref(), Some("alice@example.org"));
    let roles: Vec<(String, String)> = r
        .user
        .roles
        .iter()
        .map(|g| (g.role.clone(), g.scope.clone()))
        .collect();
    assert_eq!(
        roles,
        vec![("steward".to_string(), "department".to_string())]
    );
    let stored = stored_user(&env.t, "alice").await.expect("stored");
    assert_eq!(stored.auth_source, "ldap");
    // The token works, and a second login is the same user.
    let actor = env
        .t
        .app
        .auth()
        .authenticate(&r.token, ctx())
        .await
        .expect("token");
    assert!(actor.permissions.contains_key("customer.read"));
    let again = env
        .t
        .app
        .auth()
        .login_browser("ALICE", "Alice-Secret-11", &ctx())
        .await
        .expect("again");
    assert_eq!(again.user.id, r.user.id);
    let logins = audit_reasons(&env.t, "auth.login").await;
    assert!(logins.iter().any(|r| r == "via ldap"), "{logins:?}");
    // A user in two mapped groups holds both roles.
    let carol = env
        .t
        .app
        .auth()
        .login("carol", "Carol-Secret-33", &ctx())
        .await
        .expect("carol");
    let mut roles: Vec<&str> = carol.user.roles.iter().map(|g| g.role.as_str()).collect();
    roles.sort();
    assert_eq!(roles, ["clerk", "steward"]);
});

login_test!(wrong_and_empty_passwords_are_refused, |env| {
    assert_refused(
        env.t
            .app
            .auth()
            .login("alice", "Alice-Secret-12", &ctx())
            .await,
    );
    // An empty password would be an anonymous bind, which slapd accepts.
    assert_refused(env.t.app.auth().login("alice", "", &ctx()).await);
    assert!(stored_user(&env.t, "alice").await.is_none());
    let failed = audit_reasons(&env.t, "auth.login_failed").await;
    assert!(
        failed
            .iter()
            .any(|r| r.starts_with("wrong password (ldap)")),
        "{failed:?}"
    );
});

login_test!(unknown_and_unmapped_users_are_refused, |env| {
    assert_refused(
        env.t
            .app
            .auth()
            .login("nobody", "Whatever-123", &ctx())
            .await,
    );
    // Bob is in the directory with the right password but in no mapped group.
    assert_refused(env.t.app.auth().login("bob", "Bob-Secret-22", &ctx()).await);
    assert!(stored_user(&env.t, "nobody").await.is_none());
    assert!(stored_user(&env.t, "bob").await.is_none());
});

login_test!(filter_injection_finds_nobody, |env| {
    for name in ["*)(uid=*", "*", "alice)(|(uid=*", "al*"] {
        assert_refused(
            env.t
                .app
                .auth()
                .login(name, "Alice-Secret-11", &ctx())
                .await,
        );
    }
    assert!(stored_user(&env.t, "alice").await.is_none());
});

login_test!(
    leaving_the_groups_or_the_directory_disables_the_account,
    |env| {
        let alice = env
            .t
            .app
            .auth()
            .login("alice", "Alice-Secret-11", &ctx())
            .await
            .expect("alice");
        let carol = env
            .t
            .app
            .auth()
            .login("carol", "Carol-Secret-33", &ctx())
            .await
            .expect("carol");
        // Alice leaves the only group she had; Carol's entry is deleted.
        env.slapd.ldif(
            "ldapmodify",
            "dn: cn=stewards,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\n\
         member: uid=alice,ou=people,dc=example,dc=org\n",
        );
        env.slapd
            .ldif("ldapdelete", "uid=carol,ou=people,dc=example,dc=org\n");
        assert_refused(
            env.t
                .app
                .auth()
                .login("alice", "Alice-Secret-11", &ctx())
                .await,
        );
        assert_refused(
            env.t
                .app
                .auth()
                .login("carol", "Carol-Secret-33", &ctx())
                .await,
        );
        for (name, token) in [("alice", &alice.token), ("carol", &carol.token)] {
            assert!(stored_user(&env.t, name).await.expect(name).disabled);
            assert!(env.t.app.auth().authenticate(token, ctx()).await.is_err());
        }
        let disabled = audit_reasons(&env.t, "user.disable").await;
        assert_eq!(disabled.len(), 2, "{disabled:?}");
        // Back in the group, Alice stays disabled until an administrator enables her.
        env.slapd.ldif(
            "ldapmodify",
            "dn: cn=stewards,ou=groups,dc=example,dc=org\nchangetype: modify\nadd: member\n\
         member: uid=alice,ou=people,dc=example,dc=org\n",
        );
        assert_refused(
            env.t
                .app
                .auth()
                .login("alice", "Alice-Secret-11", &ctx())
                .await,
        );
    }
);

login_test!(local_accounts_keep_their_passwords, |env| {
    // The directory has an `admin` too: it never logs in as the local administrator.
    assert_refused(
        env.t
            .app
            .auth()
            .login("admin", "Directory-Admin-44", &ctx())
            .await,
    );
    let r = env
        .t
        .app
        .auth()
        .login("admin", "Quokka-Saffron-Lattice-19", &ctx())
        .await
        .expect("local admin");
    assert_eq!(r.user.username, "admin");
    // … even while the directory is down.
    env.slapd.stop();
    env.t
        .app
        .auth()
        .login("admin", "Quokka-Saffron-Lattice-19", &ctx())
        .await
        .expect("local admin, directory down");
});

login_test!(
    a_directory_that_is_down_answers_503_and_counts_no_failure,
    |env| {
        env.slapd.stop();
        for _ in 0..7 {
            match env
                .t
                .app
                .auth()
                .login("alice", "Alice-Secret-11", &ctx())
                .await
            {
                Err(e @ AppError::Unavailable(_)) => assert_eq!(e.status(), 503),
                other => panic!("expected 503, got {other:?}"),
            }
        }
    }
);

login_test!(
    directory_accounts_are_throttled_and_have_no_local_password,
    |env| {
        let alice = env
            .t
            .app
            .auth()
            .login("alice", "Alice-Secret-11", &ctx())
            .await
            .expect("alice");
        // No password can be set here for an account whose directory keeps it.
        let patch = custos_app::org::UserPatch {
            password: Some("Heron-Cobalt-Tundra-58".into()),
            ..Default::default()
        };
        match env
            .t
            .app
            .org()
            .update_user(&env.t.admin, alice.user.id, patch)
            .await
        {
            Err(AppError::Validation(fields)) => {
                assert_eq!(fields[0].violation.code, "user.external_account_password")
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        // Wrong directory passwords count like wrong local ones.
        for _ in 0..5 {
            assert_refused(
                env.t
                    .app
                    .auth()
                    .login("alice", "Not-Her-Password-1", &ctx())
                    .await,
            );
        }
        match env
            .t
            .app
            .auth()
            .login("alice", "Alice-Secret-11", &ctx())
            .await
        {
            Err(AppError::TooManyRequests { .. }) => {}
            other => panic!("expected throttling, got {other:?}"),
        }
    }
);

/// TLS is transport only, the same on either database: SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldaps_and_starttls_check_the_certificate() {
    let Some(slapd) = Slapd::start_tls("ldaps_and_starttls_check_the_certificate") else {
        return;
    };
    let ca = slapd.ca_file.clone().expect("ca");
    let ldaps = slapd.ldaps_url.clone().expect("ldaps url");
    let mut over_ldaps = ldap_config(&ldaps);
    over_ldaps.ca_file = Some(ca.clone());
    let mut over_starttls = ldap_config(&slapd.url);
    over_starttls.starttls = true;
    over_starttls.ca_file = Some(ca);
    for cfg in [over_ldaps.clone(), over_starttls] {
        match cfg.check("alice", "Alice-Secret-11").await {
            Ok(custos_app::external::ExternalCheck::Verified(i)) => assert_eq!(i.username, "alice"),
            other => panic!("{}: expected alice, got {other:?}", cfg.url),
        }
    }
    // Without the company CA the certificate is not trusted: no login, and no password
    // sent to a server that could not prove who it is.
    over_ldaps.ca_file = None;
    assert!(over_ldaps.check("alice", "Alice-Secret-11").await.is_err());
}
