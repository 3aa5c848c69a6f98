//! The `custos` command. Every subcommand opens the same database as `serve` and acts
//! through the use cases of `custos-app`, as a named user (`--as`, default `admin`).

// Standard output is written through `output::outln!` only (a closed pipe must not panic).
#![deny(clippy::print_stdout)]

mod apikey_cmd;
mod args;
mod audit_cmd;
mod backup_cmd;
mod bench;
mod bench_cmd;
mod bench_common;
mod bench_console;
mod bench_events;
mod bench_import;
mod bench_lookup;
mod bench_overview;
mod bench_quality;
mod bench_webhooks;
mod config;
mod config_sections;
mod customer_cmd;
mod dedupe_cmd;
mod dispatch;
mod doctor;
mod doctor_files;
mod doctor_report;
mod events_cmd;
mod healthcheck;
mod import_cmd;
mod key_cmd;
mod login_cmd;
mod login_config;
mod mail_config;
mod nats;
mod notify_cmd;
mod output;
mod quality_cmd;
mod quality_config;
mod rule_cmd;
mod secret_env;
mod serve;
mod sources_config;
mod user_cmd;
mod webhook_cmd;
mod webhooks_config;

/// mimalloc instead of glibc's malloc: see the workspace manifest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::output::outln;
use std::process::ExitCode;

use clap::Parser;

use custos_app::data_lock::{self, DataLock};
use custos_app::{Actor, App, AppError, Context, Source};

use crate::args::Cli;

/// A one-line failure for the terminal.
pub(crate) struct Failure(pub(crate) String);

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        let mut msg = e.detail(custos_core::violation::Lang::Zh);
        if let AppError::Validation(fields) = &e {
            let list: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.violation.zh))
                .collect();
            msg = format!("{msg}：{}", list.join("；"));
        }
        if let AppError::Internal(inner) = &e {
            msg = inner.clone();
        }
        Failure(format!("{msg} [{}]", e.code()))
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure(s)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("custos: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch::run(cli)) {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("custos: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Open the database as a process that uses it: with the shared lock a restore waits
/// for (see `custos_app::data_lock`), kept as long as the returned lock lives.
async fn open(
    cli: &Cli,
    listen: Option<String>,
) -> Result<(App, config::Settings, DataLock), Failure> {
    open_locked(cli, listen, false).await
}

/// [`open`], or with `pg_exclusive` on PostgreSQL the exclusive lock instead: for
/// maintenance no server or command may run beside.
async fn open_locked(
    cli: &Cli,
    listen: Option<String>,
    pg_exclusive: bool,
) -> Result<(App, config::Settings, DataLock), Failure> {
    let settings = config::load(
        cli.config.as_deref(),
        cli.data_dir.clone(),
        cli.database_url.clone(),
        listen,
    )?;
    // SQLite: locked before the database is opened (and migrated) at all.
    let file_lock = match data_lock::sqlite_dir(&settings.db) {
        Some(dir) => Some(data_lock::lock_dir_shared(&dir)?),
        None => None,
    };
    let app = App::open(&settings.db, settings.app.clone()).await?;
    let lock = match file_lock {
        Some(lock) => lock,
        None if pg_exclusive => data_lock::lock_pg_exclusive(&app.db).await?,
        None => data_lock::lock_for_use(&app.db, &settings.db).await?,
    };
    Ok((app, settings, lock))
}

async fn actor(app: &App, cli: &Cli) -> Result<Actor, Failure> {
    Ok(app
        .auth()
        .actor_for_username(&cli.as_user, Context::new(Source::Cli))
        .await?)
}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}
