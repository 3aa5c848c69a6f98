//! `custos bench overview`: server time of the 360° view — a customer's overview (概览) and
//! the first page of its timeline (时间线) — for customers with a handful of business
//! records and for one with many, and of the reports, on N bulk-loaded customers with M
//! synthetic records, called in-process as the page and API handlers call them.

use std::time::Instant;

use custos_app::overview::timeline::TimelineQuery;
use custos_app::reports::MonthsQuery;
use custos_app::Backend;

use crate::bench_common::{backend_name, fresh_app, machine, timed, BenchDb};
use crate::bench_lookup::{bulk_load, percentiles};
use crate::output::outln;

/// Sizes of `custos bench overview`.
pub struct OverviewRun {
    pub customers: u64,
    pub activities: u64,
    pub heavy: u64,
    pub queries: usize,
}

pub async fn overview(
    backend: Backend,
    pg_url: Option<&str>,
    run: OverviewRun,
) -> Result<(), String> {
    let OverviewRun {
        customers,
        activities,
        heavy,
        queries,
    } = run;
    outln!(
        "custos bench overview — {} — backend {backend:?}",
        machine()
    );
    outln!(
        "command: custos bench overview --backend {} --customers {customers} --activities {activities} --heavy {heavy} --queries {queries}",
        backend_name(backend)
    );
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    let codes = bulk_load(&app, &admin, customers).await?;
    let heavy_code = codes.first().cloned().ok_or("no customers loaded")?;
    let start = Instant::now();
    let written = app
        .activities()
        .add_synthetic_activities(
            &admin,
            &codes,
            activities,
            Some((&heavy_code, heavy)),
            2026,
            |done| {
                if done % 1_000_000 == 0 {
                    eprintln!("  {done} records, {:.0}s", start.elapsed().as_secs_f64());
                }
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let load = start.elapsed().as_secs_f64();
    outln!(
        "loaded {written} business records in {load:.1}s ({:.0}/s); customer {heavy_code} holds {} of them",
        written as f64 / load,
        heavy + activities / codes.len().max(1) as u64
    );
    // The administrator sees every part of the overview (records, credit) and reads
    // personal data masked, as the page shows it.
    let pick = |i: usize| &codes[(i * 1_000_003 + 17) % codes.len()];
    let ms = timed!(
        queries,
        i,
        app.overview().customer_overview(&admin, pick(i))
    );
    outln!("overview, typical customer        {}", percentiles(ms));
    let ms = timed!(
        queries,
        _i,
        app.overview().customer_overview(&admin, &heavy_code)
    );
    outln!("overview, customer of many records {}", percentiles(ms));
    let ms = timed!(
        queries,
        i,
        app.overview()
            .customer_timeline(&admin, pick(i), TimelineQuery::default())
    );
    outln!("timeline first page, typical      {}", percentiles(ms));
    let ms = timed!(
        queries,
        _i,
        app.overview()
            .customer_timeline(&admin, &heavy_code, TimelineQuery::default())
    );
    outln!("timeline first page, many records {}", percentiles(ms));
    let reports = (queries / 50).max(5);
    let ms = timed!(
        reports,
        _i,
        app.reports()
            .code_usage_report(&admin, &MonthsQuery::default())
    );
    outln!("report: code usage per rule/month {}", percentiles(ms));
    let _ = app.db.drop_schema().await;
    app.db.close().await;
    Ok(())
}
