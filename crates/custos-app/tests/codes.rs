//! Code rules and code issuing through the use cases, on SQLite and (when
//! CUSTOS_TEST_PG_URL is set) PostgreSQL.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use custos_app::codes::{AppliesTo, NewCodeRule, SampleCustomer};
use custos_app::customers::NewCustomer;
use custos_app::{Actor, App, AppConfig, AppError, Backend, Context, FaultAfterDraw, Source};
use custos_core::code_rule::Segment;
use custos_store::testing::TestDb;
use serde_json::json;

struct T {
    app: App,
    admin: Actor,
    db: TestDb,
}

async fn setup(backend: Backend, config: AppConfig) -> Option<T> {
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
    Some(T { app, admin, db })
}

macro_rules! both {
    ($name:ident, |$t:ident| $body:block) => {
        both!($name, AppConfig::default(), |$t| $body);
    };
    ($name:ident, $config:expr, |$t:ident| $body:block) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $t = setup(Backend::Sqlite, $config).await.expect("sqlite");
                $body
                $t.db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some($t) = setup(Backend::Postgres, $config).await else {
                    eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
                    return;
                };
                $body
                $t.db.cleanup().await;
            }
        }
    };
}

fn segments(v: serde_json::Value) -> Vec<Segment> {
    serde_json::from_value(v).expect("segments")
}

async fn publish(t: &T, key: &str, types: &[&str], segs: serde_json::Value) {
    t.app
        .codes()
        .create_code_rule(
            &t.admin,
            NewCodeRule {
                key: key.into(),
                name: format!("规则 {key}"),
                applies_to: AppliesTo {
                    customer_types: types.iter().map(|s| s.to_string()).collect(),
                    region_prefixes: vec![],
                },
                segments: segments(segs),
            },
        )
        .await
        .expect("create rule");
    t.app
        .codes()
        .publish_code_rule(&t.admin, key)
        .await
        .expect("publish");
}

fn customer(ty: &str, name: &str) -> NewCustomer {
    NewCustomer {
        customer_type: ty.into(),
        name: name.into(),
        // Individuals need an ID number or a mobile.
        mobile: (ty == "individual").then(|| "13800138000".to_string()),
        ..Default::default()
    }
}

async fn create(t: &T, ty: &str, name: &str) -> String {
    t.app
        .customers()
        .create_customer(&t.admin, customer(ty, name))
        .await
        .expect("create customer")
        .code
}

/// The newest `limit` audit entries of `action`.
async fn audit_of(t: &T, action: &str, limit: i64) -> Vec<custos_app::audit::AuditView> {
    t.app
        .audit()
        .list_audit(
            &t.admin,
            custos_app::AuditFilter {
                action: Some(action.into()),
                limit,
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

fn today_yyyymmdd() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y%m%d")
        .to_string()
}

#[path = "codes/designer.rs"]
mod designer;
#[path = "codes/duplicate_checks.rs"]
mod duplicate_checks;
#[path = "codes/input_checks.rs"]
mod input_checks;
#[path = "codes/issuing.rs"]
mod issuing;
#[path = "codes/notices.rs"]
mod notices;
#[path = "codes/restore_hold.rs"]
mod restore_hold;
#[path = "codes/rules.rs"]
mod rules;
#[path = "codes/sequences.rs"]
mod sequences;
#[path = "codes/standard_fields.rs"]
mod standard_fields;
#[path = "codes/usage.rs"]
mod usage;
