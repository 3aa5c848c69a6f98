//! `custos import` killed with SIGKILL mid-run, then `custos import --resume JOB`: the
//! result is exactly the customers (codes included) of an uninterrupted run, no row
//! imported twice, no code issued twice, the audit chain intact.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use custos_core::ident::Uscc;

const BIN: &str = env!("CARGO_BIN_EXE_custos");
const ROWS: u32 = 1200;

fn command(data_dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(data_dir);
    for var in [
        "CUSTOS_CONFIG",
        "CUSTOS_DATA_DIR",
        "CUSTOS_DATABASE_URL",
        "CUSTOS_LOG",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null());
    c
}

fn ok(data_dir: &Path, args: &[&str]) -> String {
    let o: Output = command(data_dir).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "custos {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write_csv(path: &Path) {
    let mut s = String::from("客户类型,客户名称,统一社会信用代码,地区\n");
    for i in 0..ROWS {
        let u = Uscc::with_check(&format!("91440300{:09}", 300_000_000 + i)).unwrap();
        s.push_str(&format!(
            "企业客户,深圳测试{i}号科技有限公司,{},440305\n",
            u.as_str()
        ));
    }
    std::fs::write(path, s).unwrap();
}

async fn rows_done(data_dir: &Path, job: i64) -> i64 {
    let db = custos_store::Db::open(&custos_store::DbOptions::sqlite(data_dir))
        .await
        .unwrap();
    let mut tx = db.begin_read().await.unwrap();
    let n = tx
        .import_job(job)
        .await
        .unwrap()
        .map(|j| j.rows_done)
        .unwrap_or(0);
    tx.rollback().await.unwrap();
    db.close().await;
    n
}

/// Customers as (code, name, uscc), from an export.
fn customers(data_dir: &Path) -> Vec<(String, String, String)> {
    let out = data_dir.join("export.jsonl");
    ok(
        data_dir,
        &[
            "export",
            "--format",
            "jsonl",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let mut v: Vec<(String, String, String)> = std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                j["code"].as_str().unwrap().to_string(),
                j["name"].as_str().unwrap().to_string(),
                j["uscc"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn kill_9_mid_import_then_resume_equals_an_uninterrupted_run() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let files = tempfile::tempdir().unwrap();
    let csv = files.path().join("big.csv");
    write_csv(&csv);
    let csv = csv.to_str().unwrap();

    // The reference: an uninterrupted run.
    let reference = tempfile::tempdir().unwrap();
    ok(reference.path(), &["demo", "--customers", "0"]);
    ok(
        reference.path(),
        &["--json", "import", csv, "--chunk", "25"],
    );
    let expected = customers(reference.path());
    assert_eq!(expected.len(), ROWS as usize);

    // Killed mid-run.
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["demo", "--customers", "0"]);
    let mut child = command(dir.path())
        .args(["--json", "import", csv, "--chunk", "25"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let job: i64 = first
        .split('#')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no job id in {first:?}"));
    let start = Instant::now();
    loop {
        let done = rt.block_on(rows_done(dir.path(), job));
        if done >= 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "import too slow"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = rt.block_on(rows_done(dir.path(), job));
    assert!(at_kill < ROWS as i64, "killed after the end ({at_kill})");

    let out = ok(
        dir.path(),
        &["--json", "import", "--resume", &job.to_string()],
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["report"]["status"], "done");
    assert_eq!(report["report"]["read"], ROWS);
    assert_eq!(report["report"]["created"], ROWS);
    assert_eq!(customers(dir.path()), expected);
    ok(dir.path(), &["audit", "verify"]);
    // A finished job cannot be resumed again.
    let o = command(dir.path())
        .args(["import", "--resume", &job.to_string()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("import.not_resumable"));
}
