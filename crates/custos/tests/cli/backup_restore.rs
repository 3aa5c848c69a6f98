//! Backups and restores through the command: round trips, a restore refused while a server
//! runs, never a code issued twice, damaged or foreign files, encrypted backups carrying the
//! PII key, and PostgreSQL's pointer to pg_dump.

use super::*;

#[test]
fn backup_and_restore_round_trip() {
    let dir = bootstrap();
    let d = dir.path();
    ok(
        d,
        &[
            "user",
            "create",
            "bob",
            "--password",
            "Marble-Tundra-Falcon-31",
            "--role",
            "steward:all",
        ],
    );
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("custos.backup");
    let f = file.to_str().unwrap();
    let out = ok(d, &["backup", f]);
    assert!(out.contains("backup written"), "{out}");
    let users = json(d, &["user", "list"]);
    let chain = json(d, &["audit", "verify"]);

    // Into a fresh directory, with the key kept apart from the plain backup (the audit
    // chain is keyed with it).
    let d2 = work.path().join("restored");
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::copy(d.join("pii.key"), d2.join("pii.key")).unwrap();
    let out = ok(&d2, &["restore", f]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(json(&d2, &["user", "list"]), users);
    let chain2 = json(&d2, &["audit", "verify"]);
    assert_eq!(chain2["ok"], true);
    // The backup's chain, and the restore recorded on top of it.
    assert_eq!(
        chain2["entries"].as_i64().unwrap(),
        chain["entries"].as_i64().unwrap() + 1
    );
    // The backup recorded itself.
    assert!(chain["entries"].as_i64().unwrap() >= 3);

    // Over a database that holds data: only with --force.
    ok(
        d,
        &[
            "user",
            "create",
            "carol",
            "--password",
            "Marble-Tundra-Falcon-41",
        ],
    );
    let reason = fails(d, &["restore", f]);
    assert!(reason.contains("--force"), "{reason}");
    assert_eq!(
        usernames(&json(d, &["user", "list"])),
        ["admin", "bob", "carol"]
    );
    ok(d, &["restore", f, "--force"]);
    assert_eq!(json(d, &["user", "list"]), users);
    let chain3 = json(d, &["audit", "verify"]);
    assert_eq!(chain3["ok"], true);
    assert_eq!(chain3["entries"], chain2["entries"]);

    // A server starts on the restored directory.
    let server = Server::start(&d2);
    assert!(server.get("/readyz").starts_with("HTTP/1.1 200"));
    server.stop();
}

/// Every code of the customers in `d` (at most 200).
fn all_codes(d: &Path) -> std::collections::BTreeSet<String> {
    let page = json(d, &["customer", "search", "--limit", "200"]);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn restore_refuses_while_a_server_runs() {
    let dir = bootstrap();
    let d = dir.path();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("custos.backup");
    let f = file.to_str().unwrap();
    ok(d, &["backup", f]);
    let server = Server::start(d);
    // Commands still work beside the server; a restore does not.
    ok(
        d,
        &[
            "user",
            "create",
            "dave",
            "--password",
            "Tundra-Marble-Quiver-58",
        ],
    );
    let reason = fails(d, &["restore", f, "--force"]);
    assert!(reason.contains("restore.in_use"), "{reason}");
    assert!(reason.contains("停止服务"), "{reason}");
    // Nothing changed, and the server kept running.
    assert!(server.get("/readyz").starts_with("HTTP/1.1 200"));
    assert_eq!(usernames(&json(d, &["user", "list"])), ["admin", "dave"]);
    server.stop();
    ok(d, &["restore", f, "--force"]);
    assert_eq!(usernames(&json(d, &["user", "list"])), ["admin"]);
}

#[test]
fn restore_never_issues_a_code_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["demo", "--customers", "4", "--seed", "1"]);
    let in_backup = all_codes(d);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("custos.backup");
    let f = file.to_str().unwrap();
    ok(d, &["backup", f]);
    ok(d, &["demo", "--customers", "6", "--seed", "2"]);
    let issued = all_codes(d);
    let lost: Vec<&String> = issued.difference(&in_backup).collect();
    assert_eq!(lost.len(), 6);

    // Restore the older backup over the live directory.
    let o = custos(d, &["restore", f, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("lost_in_restore"), "{}", stderr(&o));
    assert_eq!(all_codes(d), in_backup);
    for code in &lost {
        let v = json(d, &["code", "validate", code]);
        assert_eq!(v["registry"]["status"], "lost_in_restore", "{v}");
    }
    let shown = ok(d, &["code", "validate", lost[0]]);
    assert!(shown.contains("lost when it was restored"), "{shown}");
    ok(d, &["demo", "--customers", "6", "--seed", "3"]);
    let new: Vec<String> = all_codes(d).difference(&in_backup).cloned().collect();
    assert_eq!(new.len(), 6);
    for code in &new {
        assert!(
            !issued.contains(code),
            "{code} was issued before the restore"
        );
    }

    // Disaster recovery: the live directory is gone, the backup goes to a new one.
    let d2 = work.path().join("new-machine");
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::copy(d.join("pii.key"), d2.join("pii.key")).unwrap();
    let o = custos(&d2, &["restore", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("resume-after-restore"),
        "{}",
        stderr(&o)
    );
    let reason = fails(&d2, &["demo", "--customers", "1", "--seed", "4"]);
    assert!(reason.contains("code.issue_on_hold"), "{reason}");
    // A server starts (reads work) and says why creations fail.
    let server = Server::start(&d2);
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains("code issuing is on hold")),
        "{:?}",
        server.log
    );
    // The operator confirms the last codes ERP knows, one per rule.
    let last: Vec<String> = ["C", "P"]
        .iter()
        .filter_map(|p| issued.iter().filter(|c| c.starts_with(p)).max().cloned())
        .collect();
    let confirm = work.path().join("last-codes.txt");
    std::fs::write(&confirm, format!("# from ERP\n{}\n", last.join("\n"))).unwrap();
    let report = json(
        &d2,
        &[
            "code",
            "resume-after-restore",
            "--confirm-last",
            confirm.to_str().unwrap(),
        ],
    );
    let unknown_there = last.iter().filter(|c| !in_backup.contains(*c)).count();
    assert!(unknown_there >= 1);
    assert_eq!(report["codes_recorded"], unknown_there);
    assert_eq!(report["lifted"]["reason"], "live_missing");
    let reason = fails(&d2, &["code", "resume-after-restore", "--accept"]);
    assert!(reason.contains("code.not_on_hold"), "{reason}");
    ok(&d2, &["demo", "--customers", "6", "--seed", "5"]);
    server.stop();
    let new: Vec<String> = all_codes(&d2).difference(&in_backup).cloned().collect();
    assert_eq!(new.len(), 6);
    for code in &new {
        assert!(
            !issued.contains(code),
            "{code} was issued before the restore"
        );
    }
}

#[test]
fn restore_refuses_damaged_or_foreign_files() {
    let dir = bootstrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("good.backup");
    ok(dir.path(), &["backup", file.to_str().unwrap()]);
    let good = std::fs::read(&file).unwrap();

    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = work.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let flipped = write("flipped.backup", &flipped);
    let truncated = write("truncated.backup", &good[..good.len() - 4096]);
    let foreign = write("notes.txt", "这不是备份\njust some text\n".as_bytes());
    let empty = write("empty.backup", b"");

    let target = work.path().join("target");
    for (file, expect) in [
        (&flipped, "校验和"),
        (&truncated, "校验和"),
        (&foreign, "不是 custos 备份文件"),
        (&empty, "不是 custos 备份文件"),
    ] {
        let reason = fails(&target, &["restore", file.to_str().unwrap()]);
        assert!(reason.contains(expect), "{}: {reason}", file.display());
        assert!(reason.contains("backup.invalid"), "{reason}");
        // Nothing was put in place.
        assert!(
            !target.join("custos.db").exists(),
            "{} left a database behind",
            file.display()
        );
    }
    let reason = fails(&target, &["restore", "/nonexistent/custos.backup"]);
    assert!(reason.contains("backup.io"), "{reason}");

    // The good file still restores (its key put in place: the audit chain needs it).
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(dir.path().join("pii.key"), target.join("pii.key")).unwrap();
    ok(&target, &["restore", file.to_str().unwrap()]);
    assert_eq!(json(&target, &["audit", "verify"])["ok"], true);
}

#[test]
fn encrypted_backup_carries_the_pii_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["demo", "--customers", "20"]);
    let page = json(d, &["customer", "search", "--type", "individual"]);
    let code = page["items"][0]["code"].as_str().unwrap().to_string();
    let before = json(d, &["customer", "get", &code]);
    assert!(
        before["id_number"]
            .as_str()
            .is_some_and(|s| !s.contains('*')),
        "{before}"
    );

    let work = tempfile::tempdir().unwrap();
    let pass_file = work.path().join("backup.pass");
    std::fs::write(&pass_file, "a long backup passphrase\n").unwrap();
    let file = work.path().join("enc.backup");
    let f = file.to_str().unwrap();
    let out = ok(
        d,
        &[
            "backup",
            f,
            "--passphrase-file",
            pass_file.to_str().unwrap(),
        ],
    );
    assert!(out.contains("encrypted"), "{out}");

    // Wrong passphrase: refused, nothing put in place.
    let d2 = work.path().join("restored");
    let restore = |pass: &str| {
        command(&d2)
            .env("BACKUP_PASS", pass)
            .args(["restore", f, "--passphrase-env", "BACKUP_PASS"])
            .output()
            .unwrap()
    };
    let o = restore("not the passphrase");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("backup.passphrase"), "{}", stderr(&o));
    assert!(!d2.join("custos.db").exists() && !d2.join("pii.key").exists());

    // Right passphrase into an empty directory: the key comes along, the data reads back.
    let o = restore("a long backup passphrase");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("pii.key"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(d2.join("pii.key")).unwrap(),
        std::fs::read_to_string(d.join("pii.key")).unwrap()
    );
    assert_eq!(json(&d2, &["customer", "get", &code]), before);

    // A plain backup restored where another key is in place: refused with both key ids.
    let plain = work.path().join("plain.backup");
    ok(d, &["backup", plain.to_str().unwrap()]);
    let d3 = work.path().join("other-key");
    std::fs::create_dir_all(&d3).unwrap();
    std::fs::write(
        d3.join("pii.key"),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    )
    .unwrap();
    let reason = fails(&d3, &["restore", plain.to_str().unwrap()]);
    assert!(reason.contains("restore.pii_key_mismatch"), "{reason}");
    assert!(!d3.join("custos.db").exists());
}

#[test]
fn restore_is_for_sqlite_only() {
    let dir = tempfile::tempdir().unwrap();
    let reason = fails(
        dir.path(),
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "restore",
            "whatever.backup",
        ],
    );
    assert!(reason.contains("pg_restore"), "{reason}");
}

#[test]
fn backup_on_postgres_points_to_pg_dump() {
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
    let app = custos_app::App::from_db(test_db.db.clone(), custos_app::AppConfig::default());
    rt.block_on(async {
        app.org().ensure_builtin_roles().await.expect("roles");
        app.auth()
            .ensure_admin(Some(ADMIN_PASSWORD.into()))
            .await
            .expect("admin");
    });
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped_url = format!("{url}{sep}options=-c%20search_path%3D{schema}");

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("pg.backup");
    let reason = fails(
        work.path(),
        &[
            "--database-url",
            &scoped_url,
            "backup",
            file.to_str().unwrap(),
        ],
    );
    assert!(reason.contains("pg_dump"), "{reason}");
    assert!(!file.exists());
    // The CLI really used that database: its users are there.
    let users = json(
        work.path(),
        &["--database-url", &scoped_url, "user", "list"],
    );
    assert_eq!(usernames(&users), ["admin"]);
    // And a refused backup leaves no trace in the audit log.
    let entries = rt.block_on(async {
        let actor = app
            .auth()
            .actor_for_username(
                "admin",
                custos_app::Context::new(custos_app::Source::System),
            )
            .await
            .expect("actor");
        app.audit()
            .list_audit(
                &actor,
                custos_app::AuditFilter {
                    action: Some("system.backup".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .expect("audit")
    });
    assert!(entries.is_empty(), "{entries:?}");
    rt.block_on(test_db.cleanup());
}
