//! `custos doctor`: a fresh directory only warns, a started one passes, and each broken
//! part of a deployment — an open key file, a world-writable data directory, a database
//! migrated by a newer build, an unreachable PostgreSQL — fails naming what to fix, in
//! Chinese or English; `custos healthcheck` answers for a running server.

use super::*;

/// The findings of `doctor --json` by check name, with the exit code.
fn doctor(data_dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--json", "doctor"];
    args.extend_from_slice(extra);
    let o = custos(data_dir, &args);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).expect("doctor json");
    (o.status.code().unwrap_or(-1), report)
}

/// Run SQL on the SQLite file of `data_dir` without opening it as custos does.
fn sqlite_unmigrated(data_dir: &Path, sql: &str) {
    use sqlx::Connection;
    runtime().block_on(async {
        let url = format!("sqlite:{}", data_dir.join("custos.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        sqlx::raw_sql(sql).execute(&mut c).await.expect("raw sql");
        c.close().await.expect("close");
    });
}

fn status<'a>(report: &'a Value, check: &str) -> &'a Value {
    let found = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check);
    &found.unwrap_or_else(|| panic!("no {check} in {report}"))["status"]
}

fn finding<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} in {report}"))
}

#[cfg(unix)]
#[test]
fn doctor_checks_a_deployment_and_says_what_to_fix() {
    use std::os::unix::fs::PermissionsExt;
    // Before the first start: nothing is there yet, which is only a warning, and doctor
    // creates nothing.
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("data");
    let (code, report) = doctor(&fresh, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    for check in ["data_dir", "database", "pii_key"] {
        assert_eq!(status(&report, check), "warn", "{check}: {report}");
    }
    assert!(!fresh.exists(), "doctor created the data directory");

    let dir = bootstrap();
    let d = dir.path();
    // As custos creates a data directory (a temporary one may be open to others).
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (code, report) = doctor(d, &[]);
    assert_eq!(code, 0, "{report}");
    for check in ["config", "data_dir", "database", "pii_key", "clock", "tls"] {
        assert_eq!(status(&report, check), "ok", "{check}: {report}");
    }
    assert!(finding(&report, "database")["message"]
        .as_str()
        .unwrap()
        .contains("迁移已执行"));
    // Human output: one line per check and a summary; English on request.
    let out = ok(d, &["doctor"]);
    assert!(
        out.contains("[OK]   database") && out.contains("0 项失败"),
        "{out}"
    );
    let out = ok(d, &["doctor", "--lang", "en"]);
    assert!(
        out.contains("migrations applied") && out.contains("0 failed"),
        "{out}"
    );

    // A key file others may read: a failure with the command that fixes it.
    let key = d.join("pii.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, report) = doctor(d, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(status(&report, "pii_key"), "fail");
    assert!(finding(&report, "pii_key")["fix"]
        .as_str()
        .unwrap()
        .contains("chmod 0600"));
    let o = custos(d, &["doctor", "--lang", "en"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[FAIL] pii_key"), "{}", stdout(&o));
    assert!(stdout(&o).contains("fix: chown"), "{}", stdout(&o));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // A data directory anyone may write to.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, report) = doctor(d, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(status(&report, "data_dir"), "fail");
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();

    // A service user that does not own the files.
    let (code, report) = doctor(d, &["--user", "65534"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(status(&report, "data_dir"), "fail");
    assert_eq!(report["service_user"], "nobody");

    // A database a newer build migrated: no downgrade.
    sqlite_raw(
        d,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, x'00', 0)",
    );
    let (code, report) = doctor(d, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(status(&report, "database"), "fail");
    assert!(finding(&report, "database")["message"]
        .as_str()
        .unwrap()
        .contains("9999"));
    // A migration not applied yet: a warning (serve applies it at start). The database
    // no longer opens the usual way (which migrates): plain SQL on the file.
    sqlite_unmigrated(
        d,
        "DELETE FROM _sqlx_migrations WHERE version = 9999; \
         DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    );
    let (code, report) = doctor(d, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(status(&report, "database"), "warn");
}

#[test]
fn doctor_fails_on_an_unreachable_database_without_showing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let o = custos(
        dir.path(),
        &[
            "doctor",
            "--database-url",
            "postgres://custos:Hidden-Secret-77@127.0.0.1:1/custos",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("[FAIL] database"), "{out}");
    assert!(!out.contains("Hidden-Secret-77"), "{out}");
    assert!(!stderr(&o).contains("Hidden-Secret-77"), "{}", stderr(&o));
}

#[test]
fn doctor_on_postgres_compares_migrations() {
    let Some(url) = custos_store::testing::pg_url() else {
        eprintln!("skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let rt = runtime();
    let test_db = rt
        .block_on(custos_store::testing::TestDb::new(
            custos_store::Backend::Postgres,
        ))
        .expect("postgres")
        .expect("configured");
    let schema = test_db.options.pg_schema.clone().expect("schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped_url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let work = tempfile::tempdir().unwrap();
    let (code, report) = doctor(work.path(), &["--database-url", &scoped_url]);
    assert_eq!(status(&report, "database"), "ok", "{report}");
    // A migrated database without its PII key in place: its personal data is unreadable.
    assert_eq!(status(&report, "pii_key"), "fail", "{report}");
    assert_eq!(code, 1, "{report}");
    assert!(finding(&report, "database")["message"]
        .as_str()
        .unwrap()
        .contains("PostgreSQL"));
}

#[test]
fn healthcheck_answers_for_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let url = format!("http://{}/readyz", server.addr);
    let o = custos(dir.path(), &["healthcheck", "--url", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let listen = server.addr.replace("127.0.0.1", "0.0.0.0");
    let o = command(dir.path())
        .arg("healthcheck")
        .env("CUSTOS_LISTEN", &listen)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    server.stop();
    let o = custos(
        dir.path(),
        &["healthcheck", "--url", &url, "--timeout", "2"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not ready"), "{}", stderr(&o));
}

/// A self-signed certificate for localhost valid from `from` to `until` (years), as PEM
/// files in `dir` (mode 0600), and a configuration file naming them.
fn tls_config(dir: &Path, from: i32, until: i32) -> PathBuf {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(until, 1, 1);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
    let config = dir.join("custos.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            dir.join("cert.pem").to_string_lossy(),
            dir.join("key.pem").to_string_lossy()
        ),
    )
    .expect("write config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["key.pem", "custos.toml"] {
            std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o600))
                .expect("chmod");
        }
    }
    config
}

#[test]
fn doctor_reads_the_tls_certificate_s_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tls_config(tmp.path(), 2020, 2099);
    let data = tmp.path().join("data");
    let (_, report) = doctor(&data, &["--config", config.to_str().unwrap()]);
    assert_eq!(status(&report, "tls"), "ok", "{report}");
    assert!(finding(&report, "tls")["message"]
        .as_str()
        .unwrap()
        .contains("2099-01-01"));
    assert_eq!(status(&report, "config"), "ok", "{report}");

    let expired = tempfile::tempdir().unwrap();
    let config = tls_config(expired.path(), 2020, 2021);
    let (code, report) = doctor(&data, &["--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(status(&report, "tls"), "fail", "{report}");
    assert!(finding(&report, "tls")["message"]
        .as_str()
        .unwrap()
        .contains("2021-01-01"));

    // A key that is not the certificate's: the server could not load the pair.
    std::fs::write(expired.path().join("key.pem"), "not a key").unwrap();
    let (code, report) = doctor(&data, &["--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(status(&report, "tls"), "fail", "{report}");
}
