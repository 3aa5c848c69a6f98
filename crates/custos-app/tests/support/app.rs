//! The set-up the use-case tests share: an app on a fresh test database (SQLite, or
//! PostgreSQL when CUSTOS_TEST_PG_URL is set) with the built-in roles, an admin and the
//! default code rules; and `both!`, which runs one test body on each backend.

#![allow(dead_code)]

pub use custos_app::{Actor, App, AppConfig, Backend, Context, Source};
pub use custos_store::testing::TestDb;

pub struct T {
    pub app: App,
    pub admin: Actor,
    pub db: TestDb,
}

pub async fn setup(backend: Backend) -> Option<T> {
    setup_with(backend, AppConfig::default()).await
}

pub async fn setup_with(backend: Backend, config: AppConfig) -> Option<T> {
    let db = TestDb::new(backend).await.expect("test db")?;
    let app = App::from_db(db.db.clone(), config);
    app.org().ensure_builtin_roles().await.expect("roles");
    app.auth()
        .ensure_admin(Some("Quokka-Saffron-Lattice-19".into()))
        .await
        .expect("admin");
    let admin = app
        .auth()
        .actor_for_username("admin", Context::new(Source::System))
        .await
        .expect("admin actor");
    app.demo()
        .ensure_default_code_rules(&admin)
        .await
        .expect("rules");
    Some(T { app, admin, db })
}

/// A user holding `role` with `scope`, as an actor.
pub async fn user(t: &T, name: &str, role: &str, scope: &str) -> Actor {
    t.app
        .org()
        .create_user(
            &t.admin,
            custos_app::org::NewUser {
                username: name.into(),
                password: "Otter-Basalt-Meridian-42".into(),
                display_name: None,
                department_id: None,
                email: None,
                roles: vec![custos_app::org::RoleAssignment {
                    role: role.into(),
                    scope: scope.into(),
                    expires_at: None,
                }],
            },
        )
        .await
        .expect("user");
    t.app
        .auth()
        .actor_for_username(name, Context::new(Source::System))
        .await
        .expect("actor")
}

/// `both!(name, |t| { … })` (or `both!(name, setup_fn, |t| { … })`): a module `name` with
/// the body as a `sqlite` and a `postgres` test; the PostgreSQL half says it is skipped
/// when no server is configured.
macro_rules! both {
    ($name:ident, |$t:ident| $body:block) => {
        both!($name, setup, |$t| $body);
    };
    ($name:ident, $setup:ident, |$t:ident| $body:block) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $t = $setup(custos_app::Backend::Sqlite).await.expect("sqlite");
                $body
                $t.db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($t) = $setup(custos_app::Backend::Postgres).await else {
                    eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
                    return;
                };
                $body
                $t.db.cleanup().await;
            }
        }
    };
}
