//! Rotation end to end, on SQLite and (with `CUSTOS_TEST_PG_URL`) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use custos_store::{Backend, ChainReport};

use crate::customers::NewCustomer;
use crate::pii::PiiKey;
use crate::search::CustomerQuery;
use crate::test_support::open_with_admin;
use crate::{Actor, App, AppConfig, AppError};

const ID_A: &str = "110101199003074258";
const MOBILE_A: &str = "13812345678";
const ID_B: &str = "11010519491231002X";
const MOBILE_B: &str = "13987654321";
const COMPANY: &str = "上海轮换测算有限公司";

fn person(name: &str, id: &str, mobile: &str) -> NewCustomer {
    NewCustomer {
        customer_type: "individual".into(),
        name: name.into(),
        id_number: Some(id.into()),
        mobile: Some(mobile.into()),
        region_code: Some("110101".into()),
        ..Default::default()
    }
}

fn company(name: &str) -> NewCustomer {
    NewCustomer {
        customer_type: "enterprise".into(),
        name: name.into(),
        region_code: Some("310104".into()),
        ..Default::default()
    }
}

fn config(key: &PiiKey) -> AppConfig {
    AppConfig {
        pii_key: key.clone(),
        pii_key_refresh: Duration::from_millis(50),
        ..AppConfig::default()
    }
}

async fn data_of(app: &App, code: &str) -> String {
    let mut tx = app.db.begin_read().await.unwrap();
    let row = tx.customer_by_code(code).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    row.data
}

/// The stored body of the customer's one follow-up.
async fn followup_body_of(app: &App, code: &str) -> String {
    let mut tx = app.db.begin_read().await.unwrap();
    let row = tx.customer_by_code(code).await.unwrap().unwrap();
    let rows = tx
        .customer_activities(row.id, &["followup"], None, 10)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    rows[0].body.clone()
}

async fn found_by(app: &App, admin: &Actor, q: CustomerQuery) -> Vec<String> {
    let page = app.customers().search_customers(admin, q).await.unwrap();
    page.items.into_iter().map(|c| c.code).collect()
}

/// Lookups by ID number and mobile, the uniqueness of an ID number and the duplicate
/// check's candidates all find `old` (written under whichever key) and `company`.
async fn lookups_find(app: &App, admin: &Actor, old: &str, company_code: &str) {
    let by_id = CustomerQuery {
        id_number: Some(ID_A.into()),
        ..Default::default()
    };
    assert_eq!(found_by(app, admin, by_id).await, vec![old.to_string()]);
    let by_mobile = CustomerQuery {
        mobile: Some(MOBILE_A.into()),
        ..Default::default()
    };
    assert_eq!(found_by(app, admin, by_mobile).await, vec![old.to_string()]);
    match app
        .customers()
        .create_customer(admin, person("张三丰", ID_A, "13700001111"))
        .await
    {
        Err(AppError::Duplicate { report, .. }) => {
            assert!(report.candidates.iter().any(|c| c.code == old));
        }
        other => panic!("a second customer with the same ID number: {other:?}"),
    }
    let report = app
        .customers()
        .check_duplicates(admin, company(COMPANY))
        .await
        .unwrap();
    assert!(
        report.candidates.iter().any(|c| c.code == company_code),
        "{report:?}"
    );
}

async fn rotation_on(backend: Backend) {
    let Some((opts, _dir)) =
        custos_store::DbOptions::fresh(backend, custos_store::testing::pg_url().as_deref())
    else {
        eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let path = keys.path().join("pii.key");
    let key = PiiKey::load_or_create_file(&path).unwrap();
    let (app, admin) = open_with_admin(&opts, config(&key)).await;
    app.demo().ensure_default_code_rules(&admin).await.unwrap();
    // A second server on the same database, with its own copy of the ring.
    let other_key = PiiKey::load_file(&path).unwrap().unwrap();
    let other = App::open(&opts, config(&other_key)).await.unwrap();
    let old_id = key.key_id();

    let old = app
        .customers()
        .create_customer(&admin, person("张三", ID_A, MOBILE_A))
        .await
        .unwrap()
        .code;
    let firm = app
        .customers()
        .create_customer(&admin, company(COMPANY))
        .await
        .unwrap()
        .code;
    assert!(data_of(&app, &old)
        .await
        .contains(&format!("pii1:{old_id}:")));
    // The free text of a business record is personal data at rest too.
    let note = crate::activities::NewFollowup {
        channel: "call".into(),
        content: format!("请回电 {MOBILE_A}"),
        ..Default::default()
    };
    app.activities()
        .add_followup(&admin, &old, note)
        .await
        .unwrap();
    let body = followup_body_of(&app, &old).await;
    assert!(
        body.contains(&format!("pii1:{old_id}:")) && !body.contains(MOBILE_A),
        "{body}"
    );

    let rotated = app.keyring().rotate_pii_key(&admin, false).await.unwrap();
    let new_id = rotated.key_id.clone();
    assert_ne!(new_id, old_id);
    assert_eq!(key.key_id(), new_id);
    assert_eq!(key.ids(), vec![new_id.clone(), old_id.clone()]);
    // The other server learns of it from the database and reads the file again.
    assert!(other.keyring().refresh_pii_key().await.unwrap());
    assert_eq!(other_key.key_id(), new_id);

    // New writes are under the new key; old values still read.
    let new = app
        .customers()
        .create_customer(&admin, person("李四", ID_B, MOBILE_B))
        .await
        .unwrap()
        .code;
    let data = data_of(&app, &new).await;
    assert!(data.contains(&format!("pii1:{new_id}:")) && !data.contains(&old_id));
    let view = other.customers().get_customer(&admin, &old).await.unwrap();
    assert_eq!(view.id_number.as_deref(), Some(ID_A));

    // Mid-rotation: nothing re-keyed yet, every lookup still finds the old rows.
    lookups_find(&app, &admin, &old, &firm).await;
    let status = app.keyring().pii_key_status(&admin).await.unwrap();
    assert_eq!(status.active, new_id);
    let left: i64 = status.to_rekey.iter().map(|r| r.rows).sum();
    assert!(left >= 2, "{status:?}");
    match app.keyring().retire_pii_key(&admin, &old_id).await {
        Err(AppError::Rejected(v)) => assert_eq!(v.code, "pii_key.rekey_running"),
        other => panic!("retiring a key still in use: {other:?}"),
    }

    // One batch, then the rest: the job resumes from its cursor.
    app.keyring().rekey_step().await.unwrap();
    let job = other.keyring().run_rekey(|_| {}).await.unwrap().unwrap();
    assert!(job.finished_at.is_some());
    assert_eq!(job.target, new_id);
    assert!(data_of(&app, &old)
        .await
        .contains(&format!("pii1:{new_id}:")));
    let body = followup_body_of(&app, &old).await;
    assert!(body.contains(&format!("pii1:{new_id}:")) && !body.contains(&old_id));
    let notes = app
        .activities()
        .list_followups(&admin, &old, &Default::default())
        .await
        .unwrap();
    match notes {
        crate::activities::Located::Here(p) => {
            assert_eq!(p.items[0].followup.content, format!("请回电 {MOBILE_A}"))
        }
        crate::activities::Located::Moved { .. } => panic!("not merged"),
    }
    let status = app.keyring().pii_key_status(&admin).await.unwrap();
    assert!(status.to_rekey.iter().all(|r| r.rows == 0), "{status:?}");
    lookups_find(&app, &admin, &old, &firm).await;

    // Retire: the active key cannot go; the old one can, keeping its audit keys.
    match app.keyring().retire_pii_key(&admin, &new_id).await {
        Err(AppError::Rejected(v)) => assert_eq!(v.code, "pii_key.active"),
        other => panic!("retiring the active key: {other:?}"),
    }
    app.keyring().retire_pii_key(&admin, &old_id).await.unwrap();
    assert_eq!(key.ids(), vec![new_id.clone()]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\nretired "), "{text}");

    // After retirement, from the file alone: reads, lookups and the audit chain.
    let reread = PiiKey::load_file(&path).unwrap().unwrap();
    let later = App::open(&opts, config(&reread)).await.unwrap();
    assert_eq!(reread.key_id(), new_id);
    let view = later.customers().get_customer(&admin, &old).await.unwrap();
    assert_eq!(view.mobile.as_deref(), Some(MOBILE_A));
    lookups_find(&later, &admin, &old, &firm).await;
    match later.audit().verify_audit().await.unwrap() {
        ChainReport::Ok { .. } => {}
        broken => panic!("audit chain after rotation: {broken:?}"),
    }
    let mut tx = later.db.begin_read().await.unwrap();
    let actions: Vec<String> = tx
        .audit_entries(&custos_store::AuditFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("pii_key."))
        .collect();
    tx.rollback().await.unwrap();
    for a in ["pii_key.rotate", "pii_key.rekeyed", "pii_key.retire"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_data_readable_and_findable_on_sqlite() {
    rotation_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_data_readable_and_findable_on_postgres() {
    rotation_on(Backend::Postgres).await;
}

/// A server whose ring lacks the key the database records as active does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_without_the_active_key_refuses_to_start() {
    let (opts, _dir) = custos_store::DbOptions::fresh(Backend::Sqlite, None).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let path = keys.path().join("pii.key");
    let key = PiiKey::load_or_create_file(&path).unwrap();
    let (app, admin) = open_with_admin(&opts, config(&key)).await;
    app.demo().ensure_default_code_rules(&admin).await.unwrap();
    app.customers()
        .create_customer(&admin, person("张三", ID_A, MOBILE_A))
        .await
        .unwrap();
    let before = PiiKey::from_keys(vec![(*key.active()).clone()]);
    app.keyring().rotate_pii_key(&admin, false).await.unwrap();
    match App::open(&opts, config(&before)).await {
        Err(AppError::Internal(m)) => assert!(m.contains(&key.key_id()), "{m}"),
        Err(other) => panic!("unexpected error: {other:?}"),
        Ok(_) => panic!("started without the active key"),
    }
    // With the whole ring it starts, and the active key is the database's.
    let ring = PiiKey::load_file(&path).unwrap().unwrap();
    App::open(&opts, config(&ring)).await.unwrap();
    assert_eq!(ring.key_id(), key.key_id());
}
