//! The NATS JetStream publisher of `custos serve` against the local NATS server
//! (127.0.0.1:4222, or CUSTOS_TEST_NATS_URL; skipped with a message when none listens):
//! every event of the log reaches the stream once, in order, on its subject, with its id
//! as `Nats-Msg-Id`; after `kill -9` of the server in the middle of writes and a restart
//! nothing is lost or doubled; and two servers on one PostgreSQL database publish each
//! event once between them while one of them is killed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/server.rs"]
mod server;
use server::{login, start};

fn nats_url() -> String {
    std::env::var("CUSTOS_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Whether a NATS server answers; says why the test is skipped when none does.
async fn nats_here() -> Option<async_nats::jetstream::Context> {
    let url = nats_url();
    match tokio::time::timeout(Duration::from_secs(3), async_nats::connect(url.as_str())).await {
        Ok(Ok(client)) => Some(async_nats::jetstream::new(client)),
        _ => {
            eprintln!("NATS test skipped: no NATS server answers at {url}");
            None
        }
    }
}

/// A unique subject prefix and stream name for one test.
fn unique(tag: &str) -> (String, String) {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = format!("{tag}{}x{n}", std::process::id());
    (format!("custostest.{id}"), format!("CUSTOSTEST_{id}"))
}

fn write_config(dir: &Path, prefix: &str, stream: &str) -> std::path::PathBuf {
    let path = dir.join("nats-test.toml");
    std::fs::write(
        &path,
        format!(
            "[nats]\nurl = \"{}\"\nsubject_prefix = \"{prefix}\"\nstream = \"{stream}\"\n\
             start = \"oldest\"\nlease_seconds = 2\n",
            nats_url()
        ),
    )
    .unwrap();
    path
}

/// A published code rule, so that customers can be created.
async fn rule(c: &reqwest::Client, base: &str, token: &str) {
    let r = c
        .post(format!("{base}/api/v1/code-rules"))
        .bearer_auth(token)
        .json(&json!({"key":"nats","name":"事件发布","segments":[{"kind":"constant","value":"N"},{"kind":"sequence","width":6}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .post(format!("{base}/api/v1/code-rules/nats/publish"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Create an enterprise whose name and district differ from every other's.
async fn create(c: &reqwest::Client, base: &str, token: &str, n: usize) -> bool {
    const A: [&str; 10] = [
        "瑞丰", "博远", "嘉禾", "金鼎", "宏图", "致远", "青松", "海潮", "星河", "松柏",
    ];
    const B: [&str; 10] = [
        "纺织", "物流", "食品", "建材", "电子", "医药", "化工", "印刷", "农业", "酒店",
    ];
    const C: [&str; 4] = ["贸易", "实业", "科技", "发展"];
    let name = format!("{}{}{}有限公司", A[n % 10], B[n / 10 % 10], C[n / 100 % 4]);
    match c
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(token)
        .json(&json!({"customer_type":"enterprise","name":name}))
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status();
            assert!(
                status == 201 || status.is_server_error(),
                "{status}: {}",
                r.text().await.unwrap_or_default()
            );
            status == 201
        }
        Err(_) => false,
    }
}

/// Every event of the log as (seq, id, type), read through the change feed.
async fn event_log(c: &reqwest::Client, base: &str, token: &str) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = c
            .get(format!("{base}/api/v1/events?after={after}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        for e in events {
            out.push((
                e["seq"].as_i64().unwrap(),
                e["id"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
            ));
        }
        let next = page["next"].as_i64().unwrap();
        if events.is_empty() || next == after {
            return out;
        }
        after = next;
    }
}

/// Wait until the stream holds `n` messages (or a minute passes), then read them all as
/// (subject, Nats-Msg-Id, Custos-Seq).
async fn stream_messages(
    js: &async_nats::jetstream::Context,
    stream: &str,
    n: u64,
) -> Vec<(String, String, i64)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut s = loop {
        if let Ok(mut s) = js.get_stream(stream).await {
            let held = s.info().await.unwrap().state.messages;
            if held >= n || Instant::now() > deadline {
                break s;
            }
        } else if Instant::now() > deadline {
            panic!("stream {stream} was never created");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let state = s.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let m = s.get_raw_message(seq).await.unwrap();
        let header = |name: &str| {
            m.headers
                .get(name)
                .map(|v| v.as_str().to_string())
                .unwrap_or_default()
        };
        out.push((
            m.subject.to_string(),
            header("Nats-Msg-Id"),
            header("Custos-Seq").parse().unwrap(),
        ));
    }
    out
}

/// The stream holds exactly the log's events, each once, in order, on `<prefix>.<type>`.
fn assert_same(log: &[(i64, String, String)], got: &[(String, String, i64)], prefix: &str) {
    let want: Vec<(String, String, i64)> = log
        .iter()
        .map(|(seq, id, kind)| (format!("{prefix}.{kind}"), id.clone(), *seq))
        .collect();
    let ids: BTreeSet<&String> = got.iter().map(|(_, id, _)| id).collect();
    assert_eq!(ids.len(), got.len(), "a message id twice in the stream");
    assert_eq!(got, want.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_jetstream_in_order_and_survive_kill_9() {
    let Some(js) = nats_here().await else {
        return;
    };
    let (prefix, stream) = unique("k");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &prefix, &stream);
    let c = reqwest::Client::new();

    let server = start(dir.path(), None, Some(&config));
    let token = login(&c, &server.base).await;
    rule(&c, &server.base, &token).await;
    for n in 0..15 {
        assert!(create(&c, &server.base, &token, n).await);
    }
    let log = event_log(&c, &server.base, &token).await;
    let got = stream_messages(&js, &stream, log.len() as u64).await;
    assert_same(&log, &got, &prefix);

    // Writes go on while the server is killed with SIGKILL in the middle of them.
    let writer = {
        let (c, base, token) = (c.clone(), server.base.clone(), token.clone());
        tokio::spawn(async move {
            for n in 15..200 {
                if !create(&c, &base, &token, n).await {
                    return;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    drop(server);
    writer.await.unwrap();

    let server = start(dir.path(), None, Some(&config));
    let token = login(&c, &server.base).await;
    for n in 200..205 {
        assert!(create(&c, &server.base, &token, n).await);
    }
    let log = event_log(&c, &server.base, &token).await;
    let got = stream_messages(&js, &stream, log.len() as u64).await;
    assert_same(&log, &got, &prefix);
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_servers_publish_each_event_once() {
    let Ok(url) = std::env::var("CUSTOS_TEST_PG_URL") else {
        eprintln!("postgres test skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let Some(js) = nats_here().await else {
        return;
    };
    let (prefix, stream) = unique("p");
    let name = format!("custos_nats_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.expect("connect");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    let base_url = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let db_url = format!("{base_url}/{name}");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &prefix, &stream);
    let c = reqwest::Client::new();
    let a = start(dir.path(), Some(&db_url), Some(&config));
    let b = start(dir.path(), Some(&db_url), Some(&config));
    let ta = login(&c, &a.base).await;
    let tb = login(&c, &b.base).await;
    rule(&c, &a.base, &ta).await;
    for n in 0..20 {
        let (base, token) = if n % 2 == 0 {
            (&a.base, &ta)
        } else {
            (&b.base, &tb)
        };
        assert!(create(&c, base, token, n).await);
    }
    // One of them is killed; the other takes the publisher over when the lease ends.
    drop(a);
    for n in 20..30 {
        assert!(create(&c, &b.base, &tb, n).await);
    }
    let log = event_log(&c, &b.base, &tb).await;
    let got = stream_messages(&js, &stream, log.len() as u64).await;
    assert_same(&log, &got, &prefix);
    js.delete_stream(&stream).await.unwrap();
    drop(b);
    admin.close().await;
    let admin = sqlx::PgPool::connect(&url).await.expect("connect");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
}
