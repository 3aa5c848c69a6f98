//! Upgrading from the previous release: a data directory (SQLite) and a database dump
//! (PostgreSQL) written by release 0.1.0's binary (`scripts/make-upgrade-fixture.sh`) are
//! opened by today's `custos serve`. The schema is migrated forward — with a copy of the
//! old database kept first when any migration was due — and everything written then is
//! still there and usable: logins, encrypted identifiers, merged codes redirecting,
//! applications, the event log, the audit chain, and the next code follows the last one.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

#[path = "support/server.rs"]
mod server;
use server::{login, start};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade-v0.1.0")
}

fn facts() -> Value {
    serde_json::from_slice(&std::fs::read(fixture().join("facts.json")).unwrap()).unwrap()
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Copy the fixture's PII key into `dir`, mode 0600 as the server expects.
fn place_key(from: &Path, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let to = dir.join("pii.key");
    std::fs::copy(from.join("pii.key"), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The number of migrations this build carries for `backend`.
fn migrations_known(backend: custos_store::Backend) -> usize {
    custos_store::migrations_of(backend).len()
}

/// Everything the old release wrote is there and the server works on it.
async fn check_upgraded(base: &str, facts: &Value) {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The admin's password of the old release still logs in.
    assert_eq!(facts["admin_password"], server::ADMIN_PASSWORD);
    let token = login(&c, base).await;
    let get = |path: String| {
        c.get(format!("{base}/api/v1{path}"))
            .bearer_auth(&token)
            .send()
    };
    // The person's encrypted identifiers decrypt with the old key.
    let person = facts["person"].as_str().unwrap();
    let p: Value = get(format!("/customers/{person}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p["name"], "王嘉天");
    assert_eq!(p["id_number"], "11010519491231002X");
    assert_eq!(p["mobile"], "13912345678");
    // The merged code redirects to its survivor.
    let r = get(format!("/customers/{}", facts["merged"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.ends_with(facts["survivor"].as_str().unwrap()), "{to}");
    // As many customers as before; the application is still waiting.
    let list: Value = get("/customers?limit=1&total=true".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], facts["customers"]);
    let app: Value = get("/applications/1".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app["reason"], "升级样本：申请", "{app}");
    assert_eq!(app["state"], "submitted", "{app}");
    // The event log kept its events and goes on from there.
    let events: Value = get("/events?after=0&limit=1000".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = events["events"].as_array().unwrap().len();
    assert!(
        n as u64 >= facts["events_at_least"].as_u64().unwrap(),
        "{n}"
    );
    // The next person's code follows the last one without a gap.
    let last: u64 = person[1..].parse().unwrap();
    let created: Value = c
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(&token)
        .json(&json!({"customer_type": "individual", "name": "黎俐洁",
            "mobile": "13700001111", "reason": "升级后新建"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = created["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));
    assert_eq!(code, format!("P{:08}", last + 1));
}

/// `custos audit verify` over the upgraded database: the old chain and the new entries.
fn audit_verifies(dir: &Path, database_url: Option<&str>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
    cmd.args(["audit", "verify", "--data-dir"]).arg(dir);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The copies kept in `upgrade-backups/`: one when migrations were due, none otherwise.
fn upgrade_copies(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir.join("upgrade-backups")) {
        Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_database_of_the_previous_release_is_upgraded() {
    let facts = facts();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("custos.db");
    std::fs::write(&db, gunzip(&fixture().join("sqlite/custos.db.gz"))).unwrap();
    place_key(&fixture().join("sqlite"), dir.path());
    let applied: i64 = {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    };
    let due = migrations_known(custos_store::Backend::Sqlite) > applied as usize;

    let s = start(dir.path(), None, None);
    check_upgraded(&s.base, &facts).await;
    drop(s);
    audit_verifies(dir.path(), None);

    let copies = upgrade_copies(dir.path());
    if due {
        // The copy is the old database: its migrations stop where the release's did.
        assert_eq!(copies.len(), 1, "{copies:?}");
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", copies[0].display()))
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, applied);
        pool.close().await;
    } else {
        assert!(copies.is_empty(), "no migration was due: {copies:?}");
    }
    // A second start has nothing to migrate and takes no further copy.
    let s = start(dir.path(), None, None);
    drop(s);
    assert_eq!(upgrade_copies(dir.path()).len(), copies.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_of_the_previous_release_is_upgraded() {
    let Ok(url) = std::env::var("CUSTOS_TEST_PG_URL") else {
        eprintln!("postgres test skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let facts = facts();
    let facts = &facts["postgres"];
    assert!(facts.is_object(), "the fixture has no PostgreSQL half");
    let name = format!(
        "custos_upgrade_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let base_url = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let db_url = format!("{base_url}/{name}");
    // Load the release's dump with psql (it holds COPY blocks).
    let mut psql = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &db_url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql (the PostgreSQL client) is needed to load the fixture");
    {
        use std::io::Write;
        let mut stdin = psql.stdin.take().unwrap();
        stdin
            .write_all(&gunzip(&fixture().join("postgres/dump.sql.gz")))
            .unwrap();
    }
    assert!(psql.wait().unwrap().success(), "loading the dump failed");
    let applied: i64 = {
        let pool = sqlx::PgPool::connect(&db_url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    };
    let due = migrations_known(custos_store::Backend::Postgres) > applied as usize;

    let dir = tempfile::tempdir().unwrap();
    place_key(&fixture().join("postgres"), dir.path());
    let s = start(dir.path(), Some(&db_url), None);
    check_upgraded(&s.base, facts).await;
    drop(s);
    audit_verifies(dir.path(), Some(&db_url));
    let copies = upgrade_copies(dir.path());
    assert_eq!(copies.len(), usize::from(due), "{copies:?}");

    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
