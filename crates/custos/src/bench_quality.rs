//! `custos bench quality`: time the full data-quality recompute (`custos quality
//! recompute`) over N bulk-loaded customers in a fresh database, then the summary and
//! the worklist's first page read over them.

use std::time::Instant;

use custos_app::quality::WorklistQuery;
use custos_app::Backend;

use crate::bench_common::{backend_name, fresh_app, machine, peak_rss_mib, BenchDb};
use crate::bench_lookup::bulk_load;
use crate::output::outln;

pub async fn quality(backend: Backend, pg_url: Option<&str>, customers: u64) -> Result<(), String> {
    outln!(
        "custos bench quality — {} — backend {:?}",
        machine(),
        backend
    );
    outln!(
        "command: custos bench quality --backend {} --customers {customers}",
        backend_name(backend)
    );
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    bulk_load(&app, &admin, customers).await?;
    let t = Instant::now();
    let report = app
        .quality()
        .recompute_quality(&admin, 0, |_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    outln!(
        "recompute: {} customers in {secs:.1} s ({:.0}/s), peak RSS {:.0} MiB",
        report.scored,
        report.scored as f64 / secs.max(1e-9),
        peak_rss_mib()
    );
    let t = Instant::now();
    let s = app
        .quality()
        .quality_summary(&admin, None)
        .await
        .map_err(|e| e.to_string())?;
    outln!(
        "summary, scope all: {:.0} ms ({} customers, average {})",
        t.elapsed().as_secs_f64() * 1000.0,
        s.customers,
        s.average_score
    );
    let t = Instant::now();
    let w = app
        .quality()
        .quality_worklist(&admin, &WorklistQuery::default())
        .await
        .map_err(|e| e.to_string())?;
    outln!(
        "worklist first page: {:.0} ms ({} items)",
        t.elapsed().as_secs_f64() * 1000.0,
        w.items.len()
    );
    Ok(())
}
