//! What the benchmarks share: the machine they ran on, a fresh database with an
//! administrator, and the timing of exports (`custos bench import` and `bench lookup`).

use crate::output::outln;
use std::path::Path;
use std::time::Instant;

use custos_app::bench_support::open_fresh_app;
use custos_app::export::job::ExportRequest;
use custos_app::export::{ExportFormat, ExportOptions};
use custos_app::search::CustomerQuery;
use custos_app::{App, AppConfig, Backend, Context, Source};

/// The password of the benchmarks' users (it must pass the password policy).
/// Milliseconds each of `n` calls takes (`$i` is the call's number); the first error
/// stops the benchmark.
macro_rules! timed {
    ($n:expr, $i:ident, $body:expr) => {{
        let mut ms = Vec::with_capacity($n);
        for $i in 0..$n {
            let t = std::time::Instant::now();
            $body.await.map_err(|e| e.to_string())?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms
    }};
}
pub(crate) use timed;

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
pub(crate) struct BenchDb {
    pub(crate) app: App,
    pub(crate) admin: custos_app::Actor,
    /// Keeps the SQLite directory alive for the run.
    pub(crate) _dir: Option<tempfile::TempDir>,
}

pub(crate) async fn fresh_app(backend: Backend, pg_url: Option<&str>) -> Result<BenchDb, String> {
    // The benchmarks time duplicate checks back to back, not their per-user limit.
    // Statistics are reused per scope as `serve` reuses them by default.
    let config = AppConfig {
        duplicate_check_limit: None,
        stats_cache_ttl: std::time::Duration::from_secs(60),
        ..AppConfig::default()
    };
    let (app, dir) = open_fresh_app(backend, pg_url, config).await?;
    app.auth()
        .ensure_admin(Some(BENCH_PASSWORD.into()))
        .await
        .map_err(|e| e.to_string())?;
    let admin = app
        .auth()
        .actor_for_username("admin", Context::new(Source::System))
        .await
        .map_err(|e| e.to_string())?;
    Ok(BenchDb {
        app,
        admin,
        _dir: dir,
    })
}

pub(crate) fn backend_name(backend: Backend) -> &'static str {
    if backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    }
}

/// The process's peak resident memory (VmHWM) in MiB; 0 where it cannot be read.
pub(crate) fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Export every customer to CSV and then XLSX as `actor`, printing rows/s and the peak
/// resident memory after each: to a plain file in `dir` as `custos export` does, then
/// as an export job (the file sealed in the exports directory, its plaintext digested
/// as it is written), then the job's download (the sealed file checked through, then
/// decrypted to the end).
pub(crate) async fn time_exports(
    app: &App,
    actor: &custos_app::Actor,
    dir: &Path,
) -> Result<(), String> {
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    for format in [ExportFormat::Csv, ExportFormat::Xlsx] {
        let ext = format.extension();
        let out = dir.join(format!("export.{ext}"));
        let t = Instant::now();
        let n = app
            .exports()
            .export_customers(
                actor,
                CustomerQuery::default(),
                ExportOptions { format, gbk: false },
                &out,
            )
            .await
            .map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        outln!(
            "export {ext}: {n} rows, {:.1} MiB in {secs:.1} s = {:.0} rows/s; peak RSS {:.0} MiB",
            mib(std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0)),
            n as f64 / secs,
            peak_rss_mib()
        );

        let t = Instant::now();
        let request = ExportRequest {
            format: Some(ext.to_string()),
            ..Default::default()
        };
        let (job, queued) = app
            .exports()
            .submit_export(actor, request)
            .await
            .map_err(|e| e.to_string())?;
        app.exports()
            .run_export_job(actor, queued)
            .await
            .map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        let done = app
            .exports()
            .export_job(actor, job.id)
            .await
            .map_err(|e| e.to_string())?;
        let rows = done.total_rows.unwrap_or(0);
        outln!(
            "export {ext} job (sealed): {rows} rows, {:.1} MiB in {secs:.1} s = {:.0} rows/s; peak RSS {:.0} MiB",
            mib(done.byte_size.unwrap_or(0) as u64),
            rows as f64 / secs,
            peak_rss_mib()
        );

        let t = Instant::now();
        let file = app
            .exports()
            .open_export_file(actor, job.id)
            .await
            .map_err(|e| e.to_string())?;
        let opened = t.elapsed().as_secs_f64();
        let size = file.byte_size;
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = file.reader;
            std::io::copy(&mut reader, &mut std::io::sink())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        outln!(
            "export {ext} job download: {:.1} MiB in {secs:.1} s ({opened:.1} s of it checking the file before the first byte); peak RSS {:.0} MiB",
            mib(read.max(size)),
            peak_rss_mib()
        );
        app.exports()
            .delete_export_job(actor, job.id)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
