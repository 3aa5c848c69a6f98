//! `custos bench lookup`: read-path latencies at scale — get by code, a filtered list,
//! a fuzzy name search and the online duplicate check — measured over HTTP on loopback
//! against the benchmark's own server.

use crate::output::outln;
use std::time::Instant;

use chrono::NaiveDate;

use custos_app::customers::NewCustomer;
use custos_app::demo_data::DemoCustomers;
use custos_app::{Actor, App, Backend};

use crate::bench_common::{
    backend_name, fresh_app, machine, time_exports, BenchDb, BENCH_PASSWORD,
};

/// The seed of the stored customers; drafts of new ones use the next.
const SEED: u64 = 2026;

/// `custos bench lookup`: read-path latencies at scale — get by code, a filtered list,
/// a fuzzy name search and the online duplicate check — on `customers` synthetic
/// customers stored by the benchmark bulk loader (same rows and indexes as a creation,
/// no history or audit entries, so a million load in minutes).
pub async fn lookup(backend: Backend, pg_url: Option<&str>, run: LookupRun) -> Result<(), String> {
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
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    if keep {
        match (&_dir, app.db.pg_schema()) {
            (Some(dir), _) => outln!("database kept in {}", dir.path().display()),
            (None, Some(schema)) => outln!("database kept in PostgreSQL schema {schema}"),
            (None, None) => {}
        }
    }
    let codes = bulk_load(&app, &admin, customers).await?;
    create_reader(&app, &admin).await?;
    let today = chrono::Utc::now().date_naive();
    let samples = sample_customers(customers, queries, today);
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
    time_get_by_code(&http, &codes, queries).await?;
    time_filtered_list(&http, &samples).await?;
    time_name_contains(&http, &samples).await?;
    time_fuzzy_search(&http, &samples).await?;
    time_duplicate_check(&http, &samples, today).await?;
    let _ = stop.send(());
    let _ = server.await;
    if export {
        let out = tempfile::tempdir().map_err(|e| e.to_string())?;
        time_exports(&app, &admin, out.path()).await?;
    }
    if keep {
        if let Some(dir) = _dir {
            let _ = dir.keep();
        }
    } else {
        let _ = app.db.drop_schema().await;
    }
    app.db.close().await;
    Ok(())
}

/// Store `customers` synthetic customers with the benchmark bulk loader, printing the
/// rate; returns their codes.
pub(crate) async fn bulk_load(
    app: &App,
    admin: &Actor,
    customers: u64,
) -> Result<Vec<String>, String> {
    let start = Instant::now();
    let codes = app
        .customers()
        .bench_bulk_load(admin, customers, SEED, |done| {
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
    Ok(codes)
}

/// The user the reads run as.
pub(crate) async fn create_reader(app: &App, admin: &Actor) -> Result<(), String> {
    // Reads run as a query-role user (no clear-text personal data, so no audited reveal
    // per read — the common case for sales and service staff).
    let new_user: custos_app::org::NewUser = serde_json::from_value(serde_json::json!({
        "username": "reader", "password": BENCH_PASSWORD,
        "roles": [{"role": "query", "scope": "all"}]
    }))
    .map_err(|e| e.to_string())?;
    app.org()
        .create_user(admin, new_user)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Up to `queries` stored customers spread evenly over the table (the generator replays
/// them, as generated on `today`), for names and regions.
pub(crate) fn sample_customers(
    customers: u64,
    queries: usize,
    today: NaiveDate,
) -> Vec<NewCustomer> {
    let stride = (customers as usize / queries.max(1)).max(1);
    let mut gen = DemoCustomers::new(SEED, today);
    let mut samples = Vec::with_capacity(queries);
    for i in 0..customers as usize {
        let c = gen.next_customer();
        if i % stride == 0 && samples.len() < queries {
            samples.push(c);
        }
    }
    samples
}

/// Milliseconds since `t`.
fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

async fn time_get_by_code(http: &Http, codes: &[String], queries: usize) -> Result<(), String> {
    let mut ms = Vec::new();
    for i in 0..queries {
        // Spread over the whole table (a large prime stride).
        let code = &codes[(i * 1_000_003 + 17) % codes.len()];
        let t = Instant::now();
        http.get(&format!("customers/{code}"), &[]).await?;
        ms.push(ms_since(t));
    }
    outln!("get by code          {}", percentiles(ms));
    Ok(())
}

async fn time_filtered_list(http: &Http, samples: &[NewCustomer]) -> Result<(), String> {
    let mut ms = Vec::new();
    for s in samples {
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
        ms.push(ms_since(t));
    }
    outln!("filtered list (50)   {}", percentiles(ms));
    Ok(())
}

async fn time_name_contains(http: &Http, samples: &[NewCustomer]) -> Result<(), String> {
    let mut ms = Vec::new();
    let mut found = 0;
    for s in samples {
        // Four characters from inside the name (past a city prefix): what a person
        // remembers of it.
        let part: String = s.name.chars().skip(2).take(4).collect();
        let t = Instant::now();
        let page = http
            .get("customers", &[("name", part), ("limit", "20".into())])
            .await?;
        ms.push(ms_since(t));
        if page["items"].as_array().is_some_and(|a| !a.is_empty()) {
            found += 1;
        }
    }
    outln!(
        "name contains (20)   {}   {found} of {} found something",
        percentiles(ms),
        samples.len()
    );
    Ok(())
}

async fn time_fuzzy_search(http: &Http, samples: &[NewCustomer]) -> Result<(), String> {
    let mut ms = Vec::new();
    for s in samples {
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
        ms.push(ms_since(t));
    }
    outln!("fuzzy name search    {}", percentiles(ms));
    Ok(())
}

/// Half the drafts are stored customers typed again (no USCC, another legal-form
/// suffix), half are new (generated on `today`).
async fn time_duplicate_check(
    http: &Http,
    samples: &[NewCustomer],
    today: NaiveDate,
) -> Result<(), String> {
    let mut ms = Vec::new();
    let mut fresh = DemoCustomers::new(SEED + 1, today);
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
        ms.push(ms_since(t));
        if r["verdict"] == "definite" {
            definite += 1;
        }
    }
    outln!(
        "duplicate check      {}   {definite} definite of {} stored variants",
        percentiles(ms),
        samples.len().div_ceil(2)
    );
    Ok(())
}

pub(crate) fn percentiles(mut ms: Vec<f64>) -> String {
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
