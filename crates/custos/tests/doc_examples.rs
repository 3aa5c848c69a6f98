//! The examples in the guides run, so the guides cannot drift from the code.
//!
//! A fenced block is an example when the line before its opening fence is the HTML comment
//! `<!-- doctest -->` (invisible on GitHub and Gitea). The comment may name lines the
//! block's standard output must contain: `<!-- doctest expect="ready" expect="C0" -->`.
//! Blocks of `sh`/`bash` run with `bash -euo pipefail`, `python` blocks with `python3`,
//! `java` blocks with `java File.java` (skipped, with a message, when Java is missing).
//!
//! Every Markdown file with examples (README.md and everything under docs/) gets a fresh
//! `custos serve` on SQLite in a temporary directory; its blocks run in order, in one
//! working directory (holding a copy of the repository's `examples/`), with this
//! environment:
//!
//! | variable | value |
//! | --- | --- |
//! | `CUSTOS_URL` | the server, `http://127.0.0.1:<port>` |
//! | `TOKEN` | a bearer token of `admin` |
//! | `CUSTOS_ADMIN_PASSWORD` | `admin`'s password |
//! | `CUSTOS_DATA_DIR` | the server's data directory (the CLI works on the same database) |
//! | `PATH` | the `custos` binary first |
//!
//! A marker that says `postgres` (`<!-- doctest postgres -->`) needs PostgreSQL: a file's
//! examples so marked run against a server on a fresh database of the server at
//! `CUSTOS_TEST_PG_URL` (dropped afterwards) and also get `CUSTOS_DATABASE_URL`, its URL.
//! They run in `postgres_documented_examples_run`, only when `CUSTOS_TEST_PG_URL` is set
//! (so in the PostgreSQL half of CI); the others in `documented_examples_run`.
//!
//! `CUSTOS_DOCTEST_FILE=docs/zh/api.md` runs the examples of one file only.

#![allow(clippy::unwrap_used)]

#[path = "support/server.rs"]
mod server;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MARKER: &str = "<!-- doctest";
/// One example may take this long (a server-side job included).
const BLOCK_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Example {
    file: PathBuf,
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    code: String,
    expect: Vec<String>,
    /// Runs only on PostgreSQL.
    postgres: bool,
}

fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// README.md and every Markdown file under docs/, sorted.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    if let Ok(only) = std::env::var("CUSTOS_DOCTEST_FILE") {
        files.retain(|f| f.ends_with(&only));
    }
    files
}

/// The `expect="…"` values of a marker comment.
fn expectations(marker: &str) -> Vec<String> {
    marker
        .split("expect=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The marked examples of one Markdown text; a marker not followed by a fence is an error.
fn examples(file: &Path, text: &str) -> Result<Vec<Example>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let marker = lines[i].trim();
        if !(marker.starts_with(MARKER) && marker.ends_with("-->")) {
            i += 1;
            continue;
        }
        let fence = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        let Some(lang) = fence.strip_prefix("```").filter(|l| !l.is_empty()) else {
            return Err(format!(
                "{}:{}: a doctest marker must be followed by an opening fence with a language",
                file.display(),
                i + 1
            ));
        };
        let start = i + 2;
        let Some(len) = lines[start..].iter().position(|l| l.trim() == "```") else {
            return Err(format!("{}:{}: unclosed fence", file.display(), i + 2));
        };
        out.push(Example {
            file: file.to_path_buf(),
            line: i + 2,
            lang: lang.split_whitespace().next().unwrap_or("").to_string(),
            code: lines[start..start + len].join("\n") + "\n",
            expect: expectations(marker),
            postgres: marker
                .trim_start_matches(MARKER)
                .split_whitespace()
                .any(|w| w == "postgres"),
        });
        i = start + len + 1;
    }
    Ok(out)
}

struct Env {
    base: String,
    token: String,
    data_dir: PathBuf,
    work: PathBuf,
    /// The server's PostgreSQL database, when it runs on one.
    database_url: Option<String>,
}

/// Copy a directory tree (the repository's `examples/`, which the guides refer to).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The command that runs one example, or None (with the reason) when it cannot run here.
fn command(ex: &Example, work: &Path) -> Result<Command, String> {
    match ex.lang.as_str() {
        "sh" | "bash" | "shell" => {
            let script = work.join("example.sh");
            std::fs::write(&script, &ex.code).unwrap();
            let mut c = Command::new("bash");
            c.arg("-euo").arg("pipefail").arg(script);
            Ok(c)
        }
        "python" | "python3" => {
            let script = work.join("example.py");
            std::fs::write(&script, &ex.code).unwrap();
            let mut c = Command::new("python3");
            c.arg(script);
            Ok(c)
        }
        "java" => {
            if Command::new("java").arg("-version").output().is_err() {
                return Err("java is not installed".into());
            }
            // Single-file source launch (Java 11+): compiled in memory and run.
            let source = work.join("Example.java");
            std::fs::write(&source, &ex.code).unwrap();
            let mut c = Command::new("java");
            c.arg(source);
            Ok(c)
        }
        other => Err(format!("no runner for language {other:?}")),
    }
}

/// Run one example; Err with everything needed to see why it failed.
fn run(ex: &Example, env: &Env) -> Result<(), String> {
    let here = format!("{}:{} ({})", ex.file.display(), ex.line, ex.lang);
    let mut cmd = match command(ex, &env.work) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped {here}: {why}");
            return Ok(());
        }
    };
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_custos")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for var in [
        "CUSTOS_CONFIG",
        "CUSTOS_DATABASE_URL",
        "CUSTOS_DATABASE_URL_FILE",
        "CUSTOS_LISTEN",
        "CUSTOS_PII_KEY",
        "CUSTOS_PII_KEY_FILE",
        "CUSTOS_AUDIT_CHECKPOINT_FILE",
        "CUSTOS_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(&env.work)
        .env("PATH", path)
        .env("CUSTOS_URL", &env.base)
        .env("TOKEN", &env.token)
        .env("CUSTOS_ADMIN_PASSWORD", server::ADMIN_PASSWORD)
        .env("CUSTOS_DATA_DIR", &env.data_dir)
        .env("NO_COLOR", "1");
    if let Some(url) = &env.database_url {
        cmd.env("CUSTOS_DATABASE_URL", url);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{here}: cannot start: {e}"))?;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    // Bytes, shown lossily: an example may print part of a file.
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        String::from_utf8_lossy(&b).into_owned()
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        String::from_utf8_lossy(&b).into_owned()
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BLOCK_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let show = || {
        format!(
            "--- code\n{}--- stdout\n{stdout}--- stderr\n{stderr}",
            ex.code
        )
    };
    match status {
        None => {
            return Err(format!(
                "{here}: still running after {BLOCK_LIMIT:?}\n{}",
                show()
            ))
        }
        Some(s) if !s.success() => return Err(format!("{here}: exited with {s}\n{}", show())),
        Some(_) => {}
    }
    for want in &ex.expect {
        if !stdout.contains(want.as_str()) {
            return Err(format!("{here}: output lacks {want:?}\n{}", show()));
        }
    }
    eprintln!("ok {here} in {:.1?}", started.elapsed());
    Ok(())
}

/// A new database on the PostgreSQL server of `CUSTOS_TEST_PG_URL`, for one file's server.
struct FreshDatabase {
    admin: sqlx::PgPool,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(server_url: &str) -> FreshDatabase {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("custos_doc_{}_{nanos}", std::process::id());
        let admin = sqlx::PgPool::connect(server_url).await.expect("connect");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create database");
        let base = server_url.rsplit_once('/').map_or(server_url, |(b, _)| b);
        FreshDatabase {
            admin,
            url: format!("{base}/{name}"),
            name,
        }
    }

    async fn drop(self) {
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&self.admin)
        .await;
    }
}

/// The tools the examples call; None when all are there, else why the test is skipped
/// (a failure under CI, which installs them).
fn tools_missing() -> Option<String> {
    let missing: Vec<&str> = ["curl", "jq", "python3"]
        .into_iter()
        .filter(|tool| Command::new(tool).arg("--version").output().is_err())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let why = format!("the guides' examples need {missing:?} (apt-get install curl jq python3)");
    assert!(std::env::var_os("CI").is_none(), "{why}");
    Some(why)
}

/// Run the marked examples of every file (those marked `postgres` when `pg_url` is given,
/// the others when not), each file against its own fresh server; the failures, and how
/// many examples ran.
async fn run_files(pg_url: Option<&str>) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let list = match examples(&file, &text) {
            Ok(list) => list,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let list: Vec<&Example> = list
            .iter()
            .filter(|ex| ex.postgres == pg_url.is_some())
            .collect();
        if list.is_empty() {
            continue;
        }
        let pg = match pg_url {
            Some(url) => Some(FreshDatabase::create(url).await),
            None => None,
        };
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        copy_dir(&root().join("examples"), &work.join("examples"));
        let database_url = pg.as_ref().map(|db| db.url.clone());
        let srv = server::start(&data_dir, database_url.as_deref(), None);
        let token = server::login(&reqwest::Client::new(), &srv.base).await;
        let env = Env {
            base: srv.base.clone(),
            token,
            data_dir,
            work,
            database_url,
        };
        for ex in list {
            count += 1;
            let result = tokio::task::block_in_place(|| run(ex, &env));
            if let Err(e) = result {
                failures.push(e);
            }
        }
        drop(srv);
        if let Some(db) = pg {
            db.drop().await;
        }
    }
    (failures, count)
}

fn assert_all_ran(failures: &[String], count: usize) {
    assert!(
        failures.is_empty(),
        "{} of {count} documented examples failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(count > 0 || std::env::var("CUSTOS_DOCTEST_FILE").is_ok());
}

/// Every marked example of every file on SQLite, each file against its own fresh server.
#[tokio::test(flavor = "multi_thread")]
async fn documented_examples_run() {
    if let Some(why) = tools_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let (failures, count) = run_files(None).await;
    assert_all_ran(&failures, count);
}

/// The examples marked `postgres`, each file against a server on a fresh database.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_documented_examples_run() {
    let Ok(url) = std::env::var("CUSTOS_TEST_PG_URL") else {
        eprintln!("postgres examples skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    if let Some(why) = tools_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let (failures, count) = run_files(Some(&url)).await;
    assert_all_ran(&failures, count);
}

#[test]
fn markers_are_found_with_their_expectations() {
    let text = "x\n<!-- doctest expect=\"a b\" expect=\"c\" -->\n```sh\necho a b c\n```\n\
                ```sh\nnot marked\n```\n<!-- doctest -->\n```python\nprint(1)\n```\n";
    let list = examples(Path::new("t.md"), text).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].expect, vec!["a b".to_string(), "c".to_string()]);
    assert_eq!(list[0].line, 3);
    assert_eq!(list[0].code, "echo a b c\n");
    assert_eq!(list[1].lang, "python");
    assert!(!list[0].postgres);
    let pg = examples(
        Path::new("t.md"),
        "<!-- doctest postgres -->\n```sh\ntrue\n```\n",
    )
    .unwrap();
    assert!(pg[0].postgres);
    assert!(examples(Path::new("t.md"), "<!-- doctest -->\ntext\n").is_err());
}
