//! Set-ups shared by the crate's tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use custos_store::DbOptions;

use crate::pii::PiiKey;
use crate::{Actor, App, AppConfig};

/// An app on `opts` with `config` and an admin, returned as an actor.
pub(crate) async fn open_with_admin(opts: &DbOptions, config: AppConfig) -> (App, Actor) {
    let app = App::open(opts, config).await.unwrap();
    app.auth()
        .ensure_admin(Some("Quokka-Saffron-Lattice-19".into()))
        .await
        .unwrap();
    let admin = app
        .auth()
        .actor_for_username("admin", crate::Context::new(crate::Source::System))
        .await
        .unwrap();
    (app, admin)
}

/// An app on the SQLite database of `dir` whose personal data is under `key`, with an
/// admin (no code rules).
pub(crate) async fn app_in_dir(dir: &Path, key: &PiiKey) -> (App, Actor) {
    let config = AppConfig {
        pii_key: key.clone(),
        ..AppConfig::default()
    };
    open_with_admin(&DbOptions::sqlite(dir), config).await
}

/// An app on a fresh SQLite database with an admin (returned as an actor) and the
/// default code rules. Keep the directory until the test ends.
pub(crate) async fn app_with_admin() -> (App, Actor, Option<tempfile::TempDir>) {
    let (opts, dir) =
        DbOptions::fresh(custos_store::Backend::Sqlite, None).expect("a temporary directory");
    let (app, admin) = open_with_admin(&opts, AppConfig::default()).await;
    app.demo().ensure_default_code_rules(&admin).await.unwrap();
    (app, admin, dir)
}
