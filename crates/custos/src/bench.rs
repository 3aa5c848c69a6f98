//! `custos bench issue`: code-issuing throughput through the real use case
//! (`Customers::create_customer`: validation, code draw, customer row, registry, audit entry — one
//! transaction each) against a raw baseline of one-row counter `UPDATE … RETURNING` + commit
//! on the same database with the same durability settings.

use crate::output::outln;
use std::time::Instant;

use custos_app::codes::{AppliesTo, NewCodeRule};
use custos_app::customers::NewCustomer;
use custos_app::{App, Backend};

use crate::bench_common::{backend_name, fresh_app, machine, BenchDb};

async fn issue_run(
    app: &App,
    admin: &custos_app::Actor,
    callers: usize,
    per: usize,
) -> Result<f64, String> {
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..callers {
        let app = app.clone();
        let admin = admin.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per {
                app.customers()
                    .create_customer(
                        &admin,
                        NewCustomer {
                            customer_type: "enterprise".into(),
                            name: format!("基准测试客户{w:03}{i:06}有限公司"),
                            region_code: Some("310104".into()),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }));
    }
    for h in handles {
        h.await.map_err(|e| e.to_string())??;
    }
    Ok((callers * per) as f64 / start.elapsed().as_secs_f64())
}

pub async fn issue(
    backend: Backend,
    pg_url: Option<&str>,
    callers: &[usize],
    ops: usize,
    rounds: usize,
) -> Result<(), String> {
    let rounds = rounds.max(1);
    outln!("custos bench issue — {} — backend {:?}", machine(), backend);
    outln!(
        "command: custos bench issue --backend {} --callers {} --ops {ops} --rounds {rounds}",
        backend_name(backend),
        callers
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    for &n in callers {
        let per = (ops / n).max(1);
        let mut ratios = Vec::with_capacity(rounds);
        for round in 1..=rounds {
            let (custos, raw) = issue_round(backend, pg_url, n, per).await?;
            outln!(
                "callers {n:>3} round {round}: custos {custos:>8.0} codes/s   raw baseline {raw:>8.0} commits/s   ratio {:>5.1}%   ({} ops each)",
                custos * 100.0 / raw,
                n * per
            );
            ratios.push(custos / raw);
        }
        ratios.sort_by(f64::total_cmp);
        outln!(
            "callers {n:>3}: median ratio {:>5.1}% over {rounds} rounds (lowest {:.1}%, highest {:.1}%)",
            ratios[ratios.len() / 2] * 100.0,
            ratios[0] * 100.0,
            ratios[ratios.len() - 1] * 100.0
        );
    }
    Ok(())
}

/// One round: custos with `n` callers on a fresh database, then the raw baseline with as
/// many callers on the same database. Returns (codes/s, commits/s).
async fn issue_round(
    backend: Backend,
    pg_url: Option<&str>,
    n: usize,
    per: usize,
) -> Result<(f64, f64), String> {
    // Fresh database per run so earlier runs do not slow later ones.
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    app.codes()
        .create_code_rule(
            &admin,
            NewCodeRule {
                key: "bench".into(),
                name: "基准".into(),
                applies_to: AppliesTo::default(),
                segments: serde_json::from_value(serde_json::json!([
                    {"kind":"constant","value":"B"},
                    {"kind":"region","level":"province"},
                    {"kind":"sequence","width":8},
                    {"kind":"check","algorithm":"mod37-2"}
                ]))
                .map_err(|e| e.to_string())?,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    app.codes()
        .publish_code_rule(&admin, "bench")
        .await
        .map_err(|e| e.to_string())?;
    let custos = issue_run(&app, &admin, n, per).await?;
    let start = Instant::now();
    let done = app.demo().bench_raw_counter_baseline(n, per).await?;
    let raw = done as f64 / start.elapsed().as_secs_f64();
    let _ = app.db.drop_schema().await;
    app.db.close().await;
    Ok((custos, raw))
}

/// `custos bench dupcheck`: latency of the online duplicate check
/// (`Customers::check_duplicates`, what `POST /api/v1/duplicates/check` runs) with `customers`
/// synthetic customers in a fresh database. Half of the drafts are variants of stored
/// customers (same generator and seed), half are new.
pub async fn dupcheck(
    backend: Backend,
    pg_url: Option<&str>,
    customers: u64,
    checks: usize,
) -> Result<(), String> {
    use custos_app::demo_data::DemoCustomers;

    outln!(
        "custos bench dupcheck — {} — backend {:?}",
        machine(),
        backend
    );
    outln!(
        "command: custos bench dupcheck --backend {} --customers {customers} --checks {checks}",
        backend_name(backend)
    );
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    let seed = 2026;
    let start = Instant::now();
    app.demo()
        .add_demo_customers(&admin, customers, seed, &[], |done| {
            if done % 50_000 == 0 {
                eprintln!("  {done} customers, {:.0}s", start.elapsed().as_secs_f64());
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    let load_secs = start.elapsed().as_secs_f64();
    outln!(
        "loaded {customers} customers in {load_secs:.1}s ({:.0}/s, duplicate check included)",
        customers as f64 / load_secs
    );

    let today = chrono::Utc::now().date_naive();
    let mut known = DemoCustomers::new(seed, today);
    let mut fresh = DemoCustomers::new(seed + 1, today);
    let stride = (customers as usize / checks.max(1)).max(1);
    let mut latencies = Vec::with_capacity(checks);
    let mut definite = 0;
    for i in 0..checks {
        let draft = if i % 2 == 0 {
            // A stored customer typed again without its USCC and with another legal-form
            // suffix: the matcher must find it from the name, region and phones.
            let mut c = known.next_customer();
            for _ in 1..stride {
                known.next_customer();
            }
            c.uscc = None;
            c.name = c.name.replace("有限责任公司", "有限公司");
            c
        } else {
            fresh.next_customer()
        };
        let t = Instant::now();
        let report = app
            .customers()
            .check_duplicates(&admin, draft)
            .await
            .map_err(|e| e.to_string())?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        if report.is_definite() {
            definite += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    outln!(
        "{checks} checks: p50 {:.2} ms   p95 {:.2} ms   p99 {:.2} ms   max {:.2} ms   ({definite} definite)",
        pct(0.5),
        pct(0.95),
        pct(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    let _ = app.db.drop_schema().await;
    app.db.close().await;
    Ok(())
}
