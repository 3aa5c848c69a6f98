//! Company login (issue 33): LDAP against a real slapd, OpenID Connect, DingTalk, WeCom
//! and Feishu against one fake of their servers in this suite; each test on
//! SQLite and PostgreSQL.

#[macro_use]
#[allow(unused_macros)]
#[path = "support/app.rs"]
mod support;

/// `login_test!(name, |env| { … })`: a module `name` with the body as a `sqlite` and a
/// `postgres` test, each on the `Env` of its file's `start(backend, test name)`.
macro_rules! login_test {
    ($name:ident, |$env:ident| $body:block) => {
        mod $name {
            use super::*;
            #[allow(unused_mut)]
            async fn run(backend: Backend) {
                let Some(mut $env) = start(backend, stringify!($name)).await else {
                    return;
                };
                $body
                $env.t.db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await;
            }
        }
    };
}

#[path = "login/slapd.rs"]
mod slapd;

#[path = "login/ldap.rs"]
mod ldap;

#[path = "login/sso_fake.rs"]
mod sso_fake;

#[path = "login/sign_on.rs"]
mod sign_on;

#[path = "login/oidc.rs"]
mod oidc;

#[path = "login/platforms.rs"]
mod platforms;
