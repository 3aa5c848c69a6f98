//! Set-ups shared by the crate's tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{Actor, App};

/// An app on a fresh SQLite database with an admin (returned as an actor) and the
/// default code rules. Keep the directory until the test ends.
pub(crate) async fn app_with_admin() -> (App, Actor, Option<tempfile::TempDir>) {
    let (opts, dir) = custos_store::testing::fresh_options(custos_store::Backend::Sqlite)
        .expect("a temporary directory");
    let app = App::open(&opts, crate::AppConfig::default()).await.unwrap();
    app.ensure_admin(Some("Quokka-Saffron-Lattice-19".into()))
        .await
        .unwrap();
    let admin = app
        .actor_for_username("admin", crate::Context::new(crate::Source::System))
        .await
        .unwrap();
    app.ensure_default_code_rules(&admin).await.unwrap();
    (app, admin, dir)
}
