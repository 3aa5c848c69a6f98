//! The `custos` binary end to end: serve and graceful shutdown, user commands, audit
//! verification against tampering, backup and restore. Each test works in its own
//! temporary data directory (SQLite); the PostgreSQL case runs when CUSTOS_TEST_PG_URL
//! is set.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_custos");
const ADMIN_PASSWORD: &str = "Quokka-Saffron-Lattice-19";

/// The binary with a clean environment: no configuration leaks in from the caller.
fn command(data_dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(data_dir);
    for var in [
        "CUSTOS_CONFIG",
        "CUSTOS_DATA_DIR",
        "CUSTOS_DATABASE_URL",
        "CUSTOS_DATABASE_URL_FILE",
        "CUSTOS_LISTEN",
        "CUSTOS_ADMIN_PASSWORD",
        "CUSTOS_ADMIN_PASSWORD_FILE",
        "CUSTOS_LOG",
        "CUSTOS_PII_KEY",
        "CUSTOS_PII_KEY_FILE",
        "CUSTOS_AUDIT_CHECKPOINT_FILE",
    ] {
        c.env_remove(var);
    }
    c.env("NO_COLOR", "1").stdin(Stdio::null());
    c
}

/// Run `custos --data-dir DIR ARGS…` to completion.
fn custos(data_dir: &Path, args: &[&str]) -> Output {
    command(data_dir).args(args).output().expect("run custos")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and require success; returns stdout.
fn ok(data_dir: &Path, args: &[&str]) -> String {
    let o = custos(data_dir, args);
    assert!(
        o.status.success(),
        "custos {args:?} failed ({}):\n{}{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Run and require failure; returns the single `custos: …` reason line from stderr.
fn fails(data_dir: &Path, args: &[&str]) -> String {
    let o = custos(data_dir, args);
    assert!(
        !o.status.success(),
        "custos {args:?} should fail:\n{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    let reasons: Vec<&str> = err.lines().filter(|l| l.starts_with("custos: ")).collect();
    assert_eq!(reasons.len(), 1, "one reason line expected in:\n{err}");
    reasons[0].to_string()
}

fn json(data_dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(data_dir, &all)).expect("json output")
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A running `custos serve` whose stderr is collected line by line.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    addr: String,
}

impl Server {
    /// Start `serve` on a random port and wait until it logs that it is listening.
    fn start(data_dir: &Path) -> Server {
        let mut child = command(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CUSTOS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn custos serve");
        let err = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            log: Vec::new(),
            addr: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.addr.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match server.lines.recv_timeout(left) {
                Ok(line) => {
                    if line.contains("listening") {
                        server.addr = line
                            .split("http://")
                            .nth(1)
                            .and_then(|s| s.split_whitespace().next())
                            .expect("address in the listening line")
                            .to_string();
                    }
                    server.log.push(line);
                }
                Err(_) => {
                    let _ = server.child.kill();
                    panic!("serve did not start:\n{}", server.log.join("\n"));
                }
            }
        }
        server
    }

    /// Plain HTTP/1.1 GET; returns the whole response text.
    fn get(&self, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    /// SIGTERM, then wait for a clean exit; returns everything it logged.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let Some(exit) = wait_with_timeout(&mut self.child, Duration::from_secs(30)) else {
            let _ = self.child.kill();
            panic!("serve did not stop on SIGTERM");
        };
        // The reader thread ends with the pipe.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.log.push(line);
        }
        let log = self.log.join("\n");
        assert!(exit.success(), "serve exited with {exit}:\n{log}");
        log
    }
}

/// A fresh data directory with the first administrator, made the way an operator does
/// it: start the server once with CUSTOS_ADMIN_PASSWORD, then stop it.
fn bootstrap() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    Server::start(dir.path()).stop();
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Run raw SQL on the SQLite database of `data_dir`, as someone with file access could.
fn sqlite_raw(data_dir: &Path, sql: &str) {
    runtime().block_on(async {
        let db = custos_store::Db::open(&custos_store::DbOptions::sqlite(data_dir))
            .await
            .expect("open db");
        db.execute_raw(sql).await.expect("raw sql");
        db.close().await;
    });
}

fn usernames(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("user list")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_string())
        .collect()
}

#[test]
fn serve_bootstraps_admin_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let health = server.get("/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok"), "{health}");
    let ready = server.get("/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let log = server.stop();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("custos stopped"), "{log}");
    // The password came from the environment, so none is printed.
    assert!(!log.contains("with password"), "{log}");
    assert!(!log.contains(ADMIN_PASSWORD), "{log}");

    let users = json(dir.path(), &["user", "list"]);
    assert_eq!(usernames(&users), ["admin"]);
    assert_eq!(users[0]["roles"][0]["role"], "admin");
    assert_eq!(users[0]["roles"][0]["scope"], "all");

    // A second start on the same directory keeps the data and creates nobody.
    Server::start(dir.path()).stop();
    assert_eq!(usernames(&json(dir.path(), &["user", "list"])), ["admin"]);
}

#[test]
fn user_commands() {
    let dir = bootstrap();
    let d = dir.path();
    let out = ok(
        d,
        &[
            "user",
            "create",
            "bob",
            "--password",
            "Marble-Tundra-Falcon-31",
            "--role",
            "query:own",
        ],
    );
    assert!(out.contains("created user bob"), "{out}");
    let users = json(d, &["user", "list"]);
    assert_eq!(usernames(&users), ["admin", "bob"]);
    let bob = &users[1];
    assert_eq!(bob["roles"][0]["role"], "query");
    assert_eq!(bob["roles"][0]["scope"], "own");
    assert_eq!(bob["disabled"], false);
    // Human output is a table.
    let table = ok(d, &["user", "list"]);
    assert!(
        table.contains("bob") && table.contains("query:own"),
        "{table}"
    );

    // Too short: one line, in Chinese, naming the rule; nothing created.
    let reason = fails(d, &["user", "create", "carol", "--password", "short"]);
    assert!(reason.contains("密码至少需要 12 个字符"), "{reason}");
    assert!(reason.contains("validation.failed"), "{reason}");
    let reason = fails(
        d,
        &[
            "user",
            "create",
            "bob",
            "--password",
            "Marble-Tundra-Falcon-32",
        ],
    );
    assert!(reason.contains("user.username_taken"), "{reason}");
    // Usernames ignore case.
    let reason = fails(
        d,
        &[
            "user",
            "create",
            "BOB",
            "--password",
            "Marble-Tundra-Falcon-32",
        ],
    );
    assert!(reason.contains("user.username_taken"), "{reason}");
    // The password policy applies on the command line too, naming the field and rule.
    for (password, rule) in [
        ("password123", "至少需要 12 个字符"),
        ("password1234", "太常见"),
        ("carol-Falcon-Tundra-7", "不能包含用户名"),
    ] {
        let reason = fails(d, &["user", "create", "carol", "--password", password]);
        assert!(
            reason.contains("password: ") && reason.contains(rule),
            "{reason}"
        );
    }
    assert_eq!(usernames(&json(d, &["user", "list"])), ["admin", "bob"]);

    // Permissions apply on the command line too.
    let reason = fails(d, &["--as", "bob", "user", "list"]);
    assert!(reason.contains("auth.forbidden"), "{reason}");
    let reason = fails(d, &["--as", "nobody", "user", "list"]);
    assert!(reason.contains("user.not_found"), "{reason}");

    ok(d, &["user", "disable", "bob"]);
    assert_eq!(json(d, &["user", "list"])[1]["disabled"], true);
    let reason = fails(d, &["--as", "bob", "user", "list"]);
    assert!(reason.contains("auth.disabled"), "{reason}");
    ok(d, &["user", "enable", "bob"]);
    ok(
        d,
        &[
            "user",
            "passwd",
            "bob",
            "--password",
            "Marble-Tundra-Falcon-39",
        ],
    );
    assert!(fails(d, &["user", "passwd", "bob", "--password", "x"]).contains("密码"));
    // Unlock clears the throttling of failed logins, by any case of the name; audited.
    let out = ok(d, &["user", "unlock", "BOB"]);
    assert!(out.contains("bob"), "{out}");
    assert!(fails(d, &["--as", "bob", "user", "unlock", "admin"]).contains("auth.forbidden"));
}

#[test]
fn audit_verify_detects_tampering() {
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
        ],
    );
    let out = ok(d, &["audit", "verify"]);
    assert!(out.starts_with("OK"), "{out}");
    let report = json(d, &["audit", "verify"]);
    assert_eq!(report["ok"], true);
    // The admin's and bob's creation, and the day's quality snapshot if the server took
    // it before it stopped.
    let entries = report["entries"].as_i64().unwrap_or(0);
    assert!((2..=3).contains(&entries), "{report}");

    sqlite_raw(
        d,
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; \
         UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 2;",
    );
    let o = custos(d, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stdout(&o).contains("BROKEN at entry 2"), "{}", stdout(&o));
    let o = custos(d, &["--json", "audit", "verify"]);
    assert_eq!(o.status.code(), Some(2));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["seq"], 2);
}

#[test]
fn audit_checkpoints_catch_a_cut_tail_and_forged_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("audit-checkpoints.log");
    // `serve` anchors the chain when a checkpoint is due (at once: there is none yet).
    let server = Server::start(d);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&file).map_or(true, |t| t.is_empty()) {
        assert!(Instant::now() < deadline, "serve wrote no checkpoint");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    for name in ["bob", "carol", "dave"] {
        ok(
            d,
            &["user", "create", name, "--password", "long-password-12"],
        );
    }
    let out = ok(d, &["audit", "checkpoint"]);
    assert!(out.starts_with("checkpoint written: entry "), "{out}");
    let head = json(d, &["audit", "verify"]);
    assert_eq!(head["ok"], true);
    assert_eq!(head["checkpoints"], 2);
    let last = head["entries"].as_i64().unwrap();
    assert!(out.contains(&format!("entry {last},")), "{out}");
    let genuine = std::fs::read_to_string(&file).unwrap();
    let cp: Value = serde_json::from_str(genuine.lines().last().unwrap()).unwrap();
    assert_eq!(cp["seq"], last);
    assert_eq!(cp["hash"], head["head_hash"]);

    // A forged line: another entry named with the MAC of the genuine one.
    let forged = genuine
        .lines()
        .last()
        .unwrap()
        .replace(&format!("\"seq\":{last}"), &format!("\"seq\":{}", last - 1));
    std::fs::write(&file, format!("{genuine}{forged}\n")).unwrap();
    let o = custos(d, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("BROKEN at entry {}", last - 1)) && stdout(&o).contains("MAC"),
        "{}",
        stdout(&o)
    );
    std::fs::write(&file, &genuine).unwrap();
    ok(d, &["audit", "verify"]);

    // The tail cut and the head rewound: a valid chain, but short of the checkpoint.
    sqlite_raw(
        d,
        &format!(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; \
             DELETE FROM audit_log WHERE seq > {keep}; \
             UPDATE audit_head SET seq = {keep}, \
                 hash = (SELECT hash FROM audit_log WHERE seq = {keep}) WHERE id = 1;",
            keep = last - 2
        ),
    );
    let o = custos(d, &["--json", "audit", "verify"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["seq"], last);
    assert!(
        report["reason"].as_str().unwrap().contains("checkpoint"),
        "{report}"
    );
    // Nor is the rewound head anchored.
    let o = custos(d, &["audit", "checkpoint"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("no checkpoint written"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), genuine);
}

#[test]
fn dedupe_database_queues_groups_and_rejects_mixed_arguments() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["demo", "--customers", "40"]);
    let summary = json(dir.path(), &["dedupe", "--database"]);
    assert_eq!(summary["customers"], 40, "{summary}");
    assert!(summary["groups"].as_u64().is_some());
    // A second scan finds the same groups and queues nothing new.
    let again = json(dir.path(), &["dedupe", "--database"]);
    assert_eq!(again["new_groups"], 0, "{again}");
    assert_eq!(again["groups"], summary["groups"]);

    // --database with file arguments, or neither: a usage error, nothing run.
    let o = custos(dir.path(), &["dedupe", "--database", "--input", "x.csv"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = custos(dir.path(), &["dedupe"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = custos(dir.path(), &["dedupe", "--database", "--threshold", "7"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("threshold"), "{}", stderr(&o));
}

// `custos import` of a CSV whose quote is never closed: exit code 1 and one reason line
// naming the line the quote opened on; the rows before it are imported, none after.
#[test]
fn import_of_an_unclosed_quote_fails_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["demo", "--customers", "0"]);
    let mut csv = String::from("客户类型,客户名称,地区\n");
    for i in 1..=12 {
        csv.push_str(&format!("企业客户,深圳第{i}测试科技有限公司,440305\n"));
    }
    csv.push_str("企业客户,\"深圳恒星物流有限公司,440305\n企业客户,之后,440305\n");
    let file = dir.path().join("quote.csv");
    std::fs::write(&file, csv).unwrap();
    let o = custos(dir.path(), &["import", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let reason = fails(dir.path(), &["import", file.to_str().unwrap()]);
    assert!(reason.contains("14"), "{reason}");
    assert!(
        reason.contains("引号") || reason.contains("quote"),
        "{reason}"
    );
    let list = json(dir.path(), &["customer", "search", "--name", "之后"]);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
}

/// Plain HTTP/1.1 request with a JSON body; returns the status and the body.
fn http_json(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let text = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(text).unwrap_or(Value::Null))
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file under `dir` 0600 and every directory 0700; returns the files.
#[cfg(unix)]
fn assert_private_tree(dir: &Path) -> Vec<PathBuf> {
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(assert_private_tree(&path));
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files.push(path);
        }
    }
    files
}

#[cfg(unix)]
#[test]
fn files_custos_creates_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    // The data directory does not exist yet: custos creates it.
    let data = tmp.path().join("data");
    let server = Server::start(&data);
    // An export job through the API leaves its (sealed) file in the exports directory.
    let body = format!(r#"{{"username":"admin","password":"{ADMIN_PASSWORD}"}}"#);
    let (status, login) = http_json(&server.addr, "POST", "/api/v1/auth/login", None, &body);
    assert_eq!(status, 200, "{login}");
    let token = login["token"].as_str().unwrap().to_string();
    let (status, job) = http_json(&server.addr, "POST", "/api/v1/exports", Some(&token), "{}");
    assert_eq!(status, 202, "{job}");
    let path = format!("/api/v1/exports/{}", job["id"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, j) = http_json(&server.addr, "GET", &path, Some(&token), "");
        if j["status"] == "done" {
            break;
        }
        assert!(Instant::now() < deadline, "export did not finish: {j}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // While the server runs, the database's -wal and -shm exist: private too.
    let running: Vec<String> = assert_private_tree(&data)
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(running.iter().any(|n| n == "custos.db-wal"), "{running:?}");
    server.stop();
    let files = assert_private_tree(&data);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["custos.db", "pii.key"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    assert!(
        files
            .iter()
            .any(|f| f.parent().unwrap().ends_with("exports")),
        "{names:?}"
    );
    // Files the commands write: an export, a backup, the import template.
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let export = out.join("customers.csv");
    ok(&data, &["export", "--output", export.to_str().unwrap()]);
    let backup = out.join("backup.custos");
    ok(&data, &["backup", backup.to_str().unwrap()]);
    let template = out.join("template.xlsx");
    ok(&data, &["template", template.to_str().unwrap()]);
    for f in [&export, &backup, &template] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // A restore into a new directory creates it private, with private files.
    let restored = tmp.path().join("restored");
    ok(&restored, &["restore", backup.to_str().unwrap()]);
    assert_private_tree(&restored);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = bootstrap();
    let d = dir.path();
    let commands: [&[&str]; 7] = [
        &["--json", "rule", "list"],
        &["rule", "list"],
        &["--json", "user", "list"],
        &["user", "list"],
        &["audit", "verify"],
        &["--json", "customer", "search"],
        &["openapi"],
    ];
    for args in commands {
        let mut child = command(d)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before anything is written (`custos … | head -0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

mod backup_restore;
mod doctor;

#[test]
fn service_account_and_apikey_commands() {
    let dir = bootstrap();
    let d = dir.path();
    let out = ok(
        d,
        &[
            "service-account",
            "create",
            "erp-cli",
            "--role",
            "query:all",
        ],
    );
    assert!(out.contains("created service account erp-cli"), "{out}");
    let created = json(d, &["apikey", "create", "erp-cli", "--name", "生产"]);
    let token = created["token"].as_str().unwrap().to_string();
    let prefix = created["key"]["prefix"].as_str().unwrap().to_string();
    assert!(token.starts_with(&format!("custos_{prefix}_")), "{created}");
    let second = json(d, &["apikey", "create", "erp-cli", "--name", "轮换"]);

    // The key works against the server; the listing never shows the token.
    let server = Server::start(d);
    let (status, me) = http_json(&server.addr, "GET", "/api/v1/me", Some(&token), "");
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "erp-cli");
    server.stop();
    let listed = ok(d, &["apikey", "list", "erp-cli"]);
    assert!(
        listed.contains(&prefix) && !listed.contains(&token),
        "{listed}"
    );

    // Revoke by prefix; the other key stays.
    let out = ok(d, &["apikey", "revoke", "erp-cli", &prefix]);
    assert!(out.contains("revoked"), "{out}");
    let keys = json(d, &["apikey", "list", "erp-cli"]);
    assert_eq!(keys[0]["status"], "revoked");
    assert_eq!(keys[1]["status"], "active");
    assert_eq!(keys[1]["id"], second["key"]["id"]);
    let accounts = json(d, &["service-account", "list"]);
    assert_eq!(accounts[0]["active_keys"], 1);
    ok(d, &["service-account", "disable", "erp-cli"]);
    assert_eq!(json(d, &["service-account", "list"])[0]["disabled"], true);

    // People are not service accounts, and service accounts do not log in.
    let reason = fails(d, &["apikey", "create", "admin", "--name", "x"]);
    assert!(reason.contains("admin"), "{reason}");
}
