//! `custos bench issue`: code-issuing throughput through the real use case
//! (`App::create_customer`: validation, code draw, customer row, registry, audit entry — one
//! transaction each) against a raw baseline of one-row counter `UPDATE … RETURNING` + commit
//! on the same database with the same durability settings.

use crate::output::outln;
use std::time::Instant;

use custos_app::codes::{AppliesTo, NewCodeRule};
use custos_app::customers::NewCustomer;
use custos_app::{App, AppConfig, Backend, Context, Source};
use custos_store::testing::fresh_options;
use custos_store::Db;

/// The password of the benchmarks' users (it must pass the password policy).
pub(crate) const BENCH_PASSWORD: &str = "Quokka-Bench-Saffron-19";

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

/// A benchmark database: fresh, with built-in roles and an `admin`.
struct BenchDb {
    app: App,
    db: Db,
    admin: custos_app::Actor,
    /// Keeps the SQLite directory alive for the run.
    _dir: Option<tempfile::TempDir>,
}

async fn fresh_app(backend: Backend, pg_url: Option<&str>) -> Result<BenchDb, String> {
    if backend == Backend::Postgres {
        std::env::set_var("CUSTOS_TEST_PG_URL", pg_url.unwrap_or_default());
    }
    let (opts, dir) = fresh_options(backend).ok_or("no database configured")?;
    let db = Db::open(&opts).await.map_err(|e| e.to_string())?;
    // The benchmarks time duplicate checks back to back, not their per-user limit.
    let config = AppConfig {
        duplicate_check_limit: None,
        ..AppConfig::default()
    };
    let app = App::from_db(db.clone(), config);
    app.ensure_builtin_roles()
        .await
        .map_err(|e| e.to_string())?;
    app.ensure_admin(Some(BENCH_PASSWORD.into()))
        .await
        .map_err(|e| e.to_string())?;
    let admin = app
        .actor_for_username("admin", Context::new(Source::System))
        .await
        .map_err(|e| e.to_string())?;
    Ok(BenchDb {
        app,
        db,
        admin,
        _dir: dir,
    })
}

fn backend_name(backend: Backend) -> &'static str {
    if backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    }
}

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
                app.create_customer(
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
    let BenchDb {
        app,
        db,
        admin,
        _dir,
    } = fresh_app(backend, pg_url).await?;
    app.create_code_rule(
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
    app.publish_code_rule(&admin, "bench")
        .await
        .map_err(|e| e.to_string())?;
    let custos = issue_run(&app, &admin, n, per).await?;
    let start = Instant::now();
    let done = db
        .raw_counter_baseline(n, per)
        .await
        .map_err(|e| e.to_string())?;
    let raw = done as f64 / start.elapsed().as_secs_f64();
    let _ = db.drop_schema().await;
    db.close().await;
    Ok((custos, raw))
}

/// `custos bench dupcheck`: latency of the online duplicate check
/// (`App::check_duplicates`, what `POST /api/v1/duplicates/check` runs) with `customers`
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
    let BenchDb {
        app,
        db,
        admin,
        _dir,
    } = fresh_app(backend, pg_url).await?;
    let seed = 2026;
    let start = Instant::now();
    app.add_demo_customers(&admin, customers, seed, &[], |done| {
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
    let _ = db.drop_schema().await;
    db.close().await;
    Ok(())
}

fn percentiles(mut ms: Vec<f64>) -> String {
    if ms.is_empty() {
        return "no samples".into();
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "p50 {:>6.2} ms   p95 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   ({} queries)",
        pct(0.5),
        pct(0.95),
        pct(0.99),
        ms[ms.len() - 1],
        ms.len()
    )
}

/// `custos bench lookup`: read-path latencies at scale — get by code, a filtered list,
/// a fuzzy name search and the online duplicate check — on `customers` synthetic
/// customers stored by the benchmark bulk loader (same rows and indexes as a creation,
/// no history or audit entries, so a million load in minutes).
pub async fn lookup(backend: Backend, pg_url: Option<&str>, run: LookupRun) -> Result<(), String> {
    use custos_app::demo_data::DemoCustomers;
    let LookupRun {
        customers,
        queries,
        export,
        keep,
    } = run;

    outln!(
        "custos bench lookup — {} — backend {:?}",
        machine(),
        backend
    );
    outln!(
        "command: custos bench lookup --backend {} --customers {customers} --queries {queries}{}",
        backend_name(backend),
        if export { " --export" } else { "" }
    );
    let BenchDb {
        app,
        db,
        admin,
        _dir,
    } = fresh_app(backend, pg_url).await?;
    if keep {
        match (&_dir, db.pg_schema()) {
            (Some(dir), _) => outln!("database kept in {}", dir.path().display()),
            (None, Some(schema)) => outln!("database kept in PostgreSQL schema {schema}"),
            (None, None) => {}
        }
    }
    let seed = 2026;
    let start = Instant::now();
    let codes = app
        .bench_bulk_load(&admin, customers, seed, |done| {
            if done % 100_000 == 0 {
                eprintln!("  {done} customers, {:.0}s", start.elapsed().as_secs_f64());
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    let load = start.elapsed().as_secs_f64();
    outln!(
        "bulk-loaded {customers} customers in {load:.1}s ({:.0}/s)",
        customers as f64 / load
    );

    // Reads run as a query-role user (no clear-text personal data, so no audited reveal
    // per read — the common case for sales and service staff).
    let new_user: custos_app::org::NewUser = serde_json::from_value(serde_json::json!({
        "username": "reader", "password": BENCH_PASSWORD,
        "roles": [{"role": "query", "scope": "all"}]
    }))
    .map_err(|e| e.to_string())?;
    app.create_user(&admin, new_user)
        .await
        .map_err(|e| e.to_string())?;
    let today = chrono::Utc::now().date_naive();
    // Sample stored customers (the generator replays them) for names and regions.
    let stride = (customers as usize / queries.max(1)).max(1);
    let mut gen = DemoCustomers::new(seed, today);
    let mut samples = Vec::with_capacity(queries);
    for i in 0..customers as usize {
        let c = gen.next_customer();
        if i % stride == 0 && samples.len() < queries {
            samples.push(c);
        }
    }
    // Every query goes over HTTP on loopback, through the whole server stack
    // (routing, authentication, JSON), as a client would send it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}/api/v1",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(custos_web::serve(app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let http = Http::login(&base, "reader", BENCH_PASSWORD).await?;
    let time = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;

    let mut ms = Vec::new();
    for i in 0..queries {
        // Spread over the whole table (a large prime stride).
        let code = &codes[(i * 1_000_003 + 17) % codes.len()];
        let t = Instant::now();
        http.get(&format!("customers/{code}"), &[]).await?;
        ms.push(time(t));
    }
    outln!("get by code          {}", percentiles(ms));

    let mut ms = Vec::new();
    for s in &samples {
        let region = s.region_code.clone().unwrap_or_default();
        let mut q = vec![
            ("customer_type", s.customer_type.clone()),
            ("region", region[..4.min(region.len())].to_string()),
            ("status", "active".to_string()),
            ("limit", "50".to_string()),
        ];
        if let Some(l) = &s.level {
            q.push(("level", l.clone()));
        }
        let t = Instant::now();
        http.get("customers", &q).await?;
        ms.push(time(t));
    }
    outln!("filtered list (50)   {}", percentiles(ms));

    let mut ms = Vec::new();
    let mut found = 0;
    for s in &samples {
        // Four characters from inside the name (past a city prefix): what a person
        // remembers of it.
        let part: String = s.name.chars().skip(2).take(4).collect();
        let t = Instant::now();
        let page = http
            .get("customers", &[("name", part), ("limit", "20".into())])
            .await?;
        ms.push(time(t));
        if page["items"].as_array().is_some_and(|a| !a.is_empty()) {
            found += 1;
        }
    }
    outln!(
        "name contains (20)   {}   {found} of {} found something",
        percentiles(ms),
        samples.len()
    );

    let mut ms = Vec::new();
    for s in &samples {
        // A name typed with another legal-form suffix and without its city.
        let name: String = s.name.replace("有限责任公司", "有限公司");
        let t = Instant::now();
        http.get(
            "customers",
            &[
                ("name", name),
                ("fuzzy", "true".into()),
                ("limit", "20".into()),
            ],
        )
        .await?;
        ms.push(time(t));
    }
    outln!("fuzzy name search    {}", percentiles(ms));

    let mut ms = Vec::new();
    let mut fresh = DemoCustomers::new(seed + 1, today);
    let mut definite = 0;
    for (i, s) in samples.iter().enumerate() {
        let draft = if i % 2 == 0 {
            let mut c = s.clone();
            c.uscc = None;
            c.name = c.name.replace("有限责任公司", "有限公司");
            c
        } else {
            fresh.next_customer()
        };
        let t = Instant::now();
        let r = http.post("duplicates/check", &draft).await?;
        ms.push(time(t));
        if r["verdict"] == "definite" {
            definite += 1;
        }
    }
    outln!(
        "duplicate check      {}   {definite} definite of {} stored variants",
        percentiles(ms),
        samples.len().div_ceil(2)
    );
    let _ = stop.send(());
    let _ = server.await;
    if export {
        let out = tempfile::tempdir().map_err(|e| e.to_string())?;
        crate::bench_import::time_exports(&app, &admin, out.path()).await?;
    }
    if keep {
        if let Some(dir) = _dir {
            let _ = dir.keep();
        }
    } else {
        let _ = db.drop_schema().await;
    }
    db.close().await;
    Ok(())
}

/// Sizes and switches of `custos bench lookup`.
pub struct LookupRun {
    pub customers: u64,
    pub queries: usize,
    pub export: bool,
    pub keep: bool,
}

/// A logged-in HTTP client of the benchmark's own server.
struct Http {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Http {
    async fn login(base: &str, username: &str, password: &str) -> Result<Http, String> {
        let client = reqwest::Client::new();
        let r: serde_json::Value = client
            .post(format!("{base}/auth/login"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let token = r["token"]
            .as_str()
            .ok_or_else(|| format!("login failed: {r}"))?
            .to_string();
        Ok(Http {
            client,
            base: base.to_string(),
            token,
        })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<serde_json::Value, String> {
        let req = self
            .client
            .get(format!("{}/{path}", self.base))
            .query(query);
        self.send(req).await
    }

    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<serde_json::Value, String> {
        let req = self.client.post(format!("{}/{path}", self.base)).json(body);
        self.send(req).await
    }

    /// The response's JSON; an error unless the status is a success.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
        let r = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let body = r.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| e.to_string())
    }
}
