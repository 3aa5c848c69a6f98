//! Two `custos serve` processes share one PostgreSQL database and issue codes from one
//! sequence scope concurrently: every code is distinct and the sequence has no gap.
//! Runs only when CUSTOS_TEST_PG_URL is set.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str, dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .arg("--data-dir")
        .arg(dir)
        .env("CUSTOS_ADMIN_PASSWORD", "Quokka-Saffron-Lattice-19")
        .env("CUSTOS_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start custos serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server did not report its address");
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

async fn login(c: &reqwest::Client, base: &str) -> String {
    let r: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username":"admin","password":"Quokka-Saffron-Lattice-19"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().expect("token").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_servers_issue_gapless_codes() {
    let Ok(url) = std::env::var("CUSTOS_TEST_PG_URL") else {
        eprintln!("postgres test skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    // A fresh database for the two servers.
    let name = format!(
        "custos_mp_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let admin = sqlx::PgPool::connect(&url).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    let base_url = url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&url)
        .to_string();
    let db_url = format!("{base_url}/{name}");
    let dir = tempfile::tempdir().unwrap();
    let a = start(&db_url, dir.path());
    let b = start(&db_url, dir.path());
    let client = reqwest::Client::new();
    let ta = login(&client, &a.base).await;
    let tb = login(&client, &b.base).await;
    let r = client
        .post(format!("{}/api/v1/code-rules", a.base))
        .bearer_auth(&ta)
        .json(&json!({"key":"mp","name":"多进程","segments":[{"kind":"constant","value":"M"},{"kind":"sequence","width":6}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{}/api/v1/code-rules/mp/publish", b.base))
        .bearer_auth(&tb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let light = std::env::var("CUSTOS_TEST_LIGHT").is_ok();
    let (tasks, per) = if light { (8, 25) } else { (64, 200) };
    let mut handles = Vec::new();
    for w in 0..tasks {
        let (base, token) = if w % 2 == 0 {
            (a.base.clone(), ta.clone())
        } else {
            (b.base.clone(), tb.clone())
        };
        let client = client.clone();
        handles.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for i in 0..per {
                let r = client
                    .post(format!("{base}/api/v1/customers"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"customer_type":"enterprise","name":format!("多进程客户{w:03}{i:05}")}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
                let v: Value = r.json().await.unwrap();
                codes.push(v["code"].as_str().unwrap().to_string());
            }
            codes
        }));
    }
    let mut all = std::collections::BTreeSet::new();
    for h in handles {
        for c in h.await.unwrap() {
            assert!(all.insert(c.clone()), "code {c} issued twice");
        }
    }
    let expected: std::collections::BTreeSet<String> =
        (1..=tasks * per).map(|n| format!("M{n:06}")).collect();
    assert_eq!(all, expected, "codes are not exactly M000001..");

    // Both processes asked at once to create the same new customer (same USCC): the
    // duplicate check runs under the audit-head lock in the database, so exactly one
    // creation succeeds whichever process serves it.
    let uscc = custos_core::ident::Uscc::with_check("91330106MA2MP0001")
        .unwrap()
        .as_str()
        .to_string();
    let mut racers = Vec::new();
    for w in 0..16 {
        let (base, token) = if w % 2 == 0 {
            (a.base.clone(), ta.clone())
        } else {
            (b.base.clone(), tb.clone())
        };
        let client = client.clone();
        let body = json!({"customer_type": "enterprise", "name": "杭州多进程查重测试有限公司",
                          "uscc": uscc, "region_code": "330106"});
        racers.push(tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/customers"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for r in racers {
        statuses.push(r.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    drop(a);
    drop(b);
    admin.close().await;
    let admin = sqlx::PgPool::connect(&url).await.expect("connect");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
}
