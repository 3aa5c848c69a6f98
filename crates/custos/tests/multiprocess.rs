//! Two `custos serve` processes share one PostgreSQL database and issue codes from one
//! sequence scope concurrently: every code is distinct and the sequence has no gap.
//! Runs only when CUSTOS_TEST_PG_URL is set.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

#[path = "support/server.rs"]
mod server;
use server::{login, start};

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
    let a = start(dir.path(), Some(&db_url), None);
    let b = start(dir.path(), Some(&db_url), None);
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
