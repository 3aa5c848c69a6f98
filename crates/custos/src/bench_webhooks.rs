//! `custos bench webhooks`: change-to-delivery latency with two subscribers on loopback.
//!
//! A fresh database, two subscriptions to two small HTTP receivers on 127.0.0.1 (each
//! answers 204 at once), the webhook worker of `custos serve` running with its default
//! settings, and customers created one by one through the real use case at a steady
//! rate (two events each). The latency of a `customer.created` event is the time from
//! the creation's commit (its call returning) to the receiver reading the request; the
//! figures cover both receivers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custos_app::customers::NewCustomer;
use custos_app::webhooks::NewWebhook;
use custos_app::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bench_common::{backend_name, fresh_app, machine, BenchDb};
use crate::output::outln;

/// Arrival time of each (receiver, customer code) `customer.created` event.
type Arrivals = Arc<Mutex<HashMap<(usize, String), Instant>>>;

/// A receiver answering 204 to every request; notes when each creation event arrived.
async fn receiver(n: usize, arrivals: Arrivals) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    let Ok(got) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if got == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..got]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let body: serde_json::Value =
                        serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or_default();
                    if body["type"] == "customer.created" {
                        if let Some(code) = body["customer_code"].as_str() {
                            if let Ok(mut a) = arrivals.lock() {
                                a.insert((n, code.to_string()), Instant::now());
                            }
                        }
                    }
                    buf.drain(..end + 4 + len);
                    let answer = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("http://{addr}/hook"))
}

/// A loopback URL whose port refuses connections (bound, then let go).
async fn closed_port() -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    drop(listener);
    Ok(format!("http://{addr}/hook"))
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted
        .get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

pub async fn webhooks(
    backend: Backend,
    pg_url: Option<&str>,
    customers: usize,
    rate: u32,
    subscribers: &str,
) -> Result<(), String> {
    outln!(
        "custos bench webhooks — {} — backend {:?}",
        machine(),
        backend
    );
    outln!(
        "command: custos bench webhooks --backend {} --customers {customers} --rate {rate} --subscribers {subscribers}",
        backend_name(backend)
    );
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    app.demo()
        .ensure_default_code_rules(&admin)
        .await
        .map_err(|e| e.to_string())?;
    let arrivals: Arrivals = Default::default();
    let subscriptions = if subscribers == "none" { 0 } else { 2 };
    for n in 0..subscriptions {
        let url = if subscribers == "down" {
            closed_port().await?
        } else {
            receiver(n, arrivals.clone()).await?
        };
        app.webhooks()
            .create_webhook(
                &admin,
                NewWebhook {
                    name: format!("bench-{n}"),
                    url,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    let worker = tokio::spawn(app.clone().run_webhook_worker());
    let every = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut committed: HashMap<String, Instant> = HashMap::with_capacity(customers);
    let started = Instant::now();
    for i in 0..customers {
        let due = started + every.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let code = app
            .customers()
            .create_customer(
                &admin,
                NewCustomer {
                    customer_type: "enterprise".into(),
                    name: format!("推送基准客户{i:07}有限公司"),
                    region_code: Some("310104".into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?
            .code;
        committed.insert(code, Instant::now());
    }
    let writing = started.elapsed().as_secs_f64();
    outln!(
        "writes: {customers} creations (2 events each) in {writing:.1} s = {:.0}/s",
        customers as f64 / writing.max(1e-9)
    );
    if subscribers != "up" {
        worker.abort();
        return Ok(());
    }
    let want = customers * 2;
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrivals.lock().map(|a| a.len()).unwrap_or(0) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut ms: Vec<f64> = arrivals
        .iter()
        .filter_map(|((_, code), at)| {
            committed
                .get(code)
                .map(|c| at.saturating_duration_since(*c).as_secs_f64() * 1000.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    outln!(
        "change → delivery, 2 subscribers: {} of {want} delivered; p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ms.len(),
        percentile(&ms, 50),
        percentile(&ms, 99),
        ms.last().copied().unwrap_or(0.0)
    );
    Ok(())
}
