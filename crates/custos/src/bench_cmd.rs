//! `custos bench issue|import|dupcheck|lookup|console|overview`: the backend and database of a benchmark,
//! then the benchmark itself (see `bench`, `bench_import`, `bench_lookup`).

use crate::args::BenchCommand;
use crate::{
    bench, bench_console, bench_import, bench_lookup, bench_overview, bench_quality, Failure,
};

/// Run one benchmark; `database_url` is the global `--database-url`.
pub(crate) async fn run_bench(
    command: &BenchCommand,
    database_url: Option<String>,
) -> Result<(), Failure> {
    if let BenchCommand::Import {
        rows,
        existing,
        chunk,
        dir,
        no_exports,
    } = command
    {
        let options = bench_import::Options {
            rows: *rows,
            existing: *existing,
            chunk: *chunk,
            dir: dir.clone(),
            exports: !*no_exports,
        };
        bench_import::import(&options).await?;
        return Ok(());
    }
    let backend_name = match command {
        BenchCommand::Issue { backend, .. }
        | BenchCommand::Dupcheck { backend, .. }
        | BenchCommand::Lookup { backend, .. }
        | BenchCommand::Console { backend, .. }
        | BenchCommand::Overview { backend, .. }
        | BenchCommand::Quality { backend, .. }
        | BenchCommand::Events { backend, .. }
        | BenchCommand::Webhooks { backend, .. } => backend.as_str(),
        BenchCommand::Import { .. } => "sqlite",
    };
    let backend = match backend_name {
        "sqlite" => custos_app::Backend::Sqlite,
        "postgres" => custos_app::Backend::Postgres,
        other => {
            return Err(Failure(format!(
                "unknown backend {other}: use sqlite or postgres"
            )))
        }
    };
    let url = database_url
        .or_else(|| std::env::var("CUSTOS_TEST_PG_URL").ok())
        .or_else(|| std::env::var("CUSTOS_DATABASE_URL").ok());
    if backend == custos_app::Backend::Postgres && url.is_none() {
        return Err(Failure("bench on postgres needs --database-url".into()));
    }
    match command {
        BenchCommand::Issue {
            callers,
            ops,
            rounds,
            ..
        } => bench::issue(backend, url.as_deref(), callers, *ops, *rounds).await?,
        BenchCommand::Dupcheck {
            customers, checks, ..
        } => bench::dupcheck(backend, url.as_deref(), *customers, *checks).await?,
        BenchCommand::Lookup {
            customers,
            queries,
            export,
            keep,
            ..
        } => {
            let run = bench_lookup::LookupRun {
                customers: *customers,
                queries: *queries,
                export: *export,
                keep: *keep,
            };
            bench_lookup::lookup(backend, url.as_deref(), run).await?
        }
        BenchCommand::Console {
            customers,
            queries,
            dashboards,
            ..
        } => {
            let run = bench_console::ConsoleRun {
                customers: *customers,
                queries: *queries,
                dashboards: *dashboards,
            };
            bench_console::console(backend, url.as_deref(), run).await?
        }
        BenchCommand::Overview {
            customers,
            activities,
            heavy,
            queries,
            ..
        } => {
            let run = bench_overview::OverviewRun {
                customers: *customers,
                activities: *activities,
                heavy: *heavy,
                queries: *queries,
            };
            bench_overview::overview(backend, url.as_deref(), run).await?
        }
        BenchCommand::Quality { customers, .. } => {
            bench_quality::quality(backend, url.as_deref(), *customers).await?
        }
        BenchCommand::Events {
            customers, events, ..
        } => crate::bench_events::events(backend, url.as_deref(), *customers, *events).await?,
        BenchCommand::Webhooks {
            customers,
            rate,
            subscribers,
            ..
        } => {
            crate::bench_webhooks::webhooks(backend, url.as_deref(), *customers, *rate, subscribers)
                .await?
        }
        BenchCommand::Import { .. } => {}
    }
    Ok(())
}
