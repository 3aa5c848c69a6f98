//! From the parsed command line to the code of each sub-command: what a command needs
//! opened (the database, the acting user, which lock) and its exit code.

use crate::output::outln;
use std::process::ExitCode;

use custos_app::{Actor, App};

use crate::args::{AuditCommand, Cli, Command, LifecycleCommand};
use crate::{
    actor, audit_cmd, backup_cmd, bench_cmd, customer_cmd, dedupe_cmd, import_cmd, open,
    open_locked, rule_cmd, serve, user_cmd, Failure,
};
use crate::{apikey_cmd, key_cmd};

pub(crate) async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::Doctor(args) => doctor(&cli, args).await,
        Command::Healthcheck(args) => healthcheck(&cli, args).await,
        Command::Serve { listen, demo } => serve::serve(&cli, listen.clone(), *demo).await,
        Command::Bench { command } => {
            bench_cmd::run_bench(command, cli.database_url.clone()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Customer { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            customer_cmd::run_customer(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Quality { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            crate::quality_cmd::run_quality(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Events { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            crate::events_cmd::run_events(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Webhook { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            crate::webhook_cmd::run_webhook(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            let (app, _, _lock) = open(&cli, None).await?;
            customer_cmd::ensure_admin(&app).await?;
            let actor = actor(&app, &cli).await?;
            customer_cmd::run_demo(&app, &actor, args, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            import_cmd::run_import(&app, &actor, args, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Template { file } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            import_cmd::run_template(&app, &actor, file).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(args) => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            import_cmd::run_export(&app, &actor, args, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rule { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            rule_cmd::run_rule(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Code { command } => run_code(&cli, command).await,
        Command::Dedupe(args) if args.database => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            dedupe_database(&app, &actor, args.threshold, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dedupe(args) => dedupe_files(&cli, args),
        Command::Openapi => {
            outln!(
                "{}",
                custos_web::openapi().to_pretty_json().unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            user_cmd::run_user(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ServiceAccount { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            apikey_cmd::run_service_account(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Notify { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            crate::notify_cmd::run_notify(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Apikey { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            apikey_cmd::run_apikey(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lifecycle {
            command: LifecycleCommand::Run { on },
        } => {
            let (app, _, _lock) = open(&cli, None).await?;
            lifecycle_run(&app, on.as_deref(), cli.json).await
        }
        Command::Audit { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            match command {
                AuditCommand::Verify => audit_cmd::audit_verify(&app, cli.json).await,
                AuditCommand::Checkpoint => audit_cmd::audit_checkpoint(&app, cli.json).await,
            }
        }
        Command::Ldap { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            crate::login_cmd::run_ldap(&app, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Key { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            key_cmd::run_key(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file, passphrase } => backup_cmd::backup(&cli, file, passphrase).await,
        Command::Restore {
            file,
            force,
            passphrase,
        } => backup_cmd::restore(&cli, file, *force, passphrase).await,
    }
}

/// `custos code …`: exit code 2 when a check finds something.
async fn run_code(cli: &Cli, command: &rule_cmd::CodeCommand) -> Result<ExitCode, Failure> {
    // After pg_restore nothing holds code issuing: no server may issue codes
    // while the counters are being raised.
    let pg_exclusive = matches!(command, rule_cmd::CodeCommand::ResumeAfterRestore(_));
    let (app, _, _lock) = open_locked(cli, None, pg_exclusive).await?;
    let actor = actor(&app, cli).await?;
    let ok = rule_cmd::run_code(&app, &actor, command, cli.json).await?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `custos dedupe` over files: the summary to stdout as JSON or to stderr as a line.
fn dedupe_files(cli: &Cli, args: &dedupe_cmd::DedupeArgs) -> Result<ExitCode, Failure> {
    let summary = dedupe_cmd::run(args)?;
    if cli.json {
        outln!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        eprintln!("{}", dedupe_cmd::render(&summary));
    }
    Ok(ExitCode::SUCCESS)
}

/// `custos dedupe --database`: duplicate groups among all customers, into the review
/// queue; the summary goes to stdout as JSON or to stderr as a line.
async fn dedupe_database(
    app: &App,
    actor: &Actor,
    threshold: Option<f64>,
    json: bool,
) -> Result<(), Failure> {
    let summary = app.customers().scan_duplicates(actor, threshold).await?;
    if json {
        outln!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        eprintln!(
            "{} customers, {} candidate pairs, {} pairs ≥ {}: {} duplicate groups ({} new in the review queue, {} earlier groups out of date); {:.1}s",
            summary.customers,
            summary.candidate_pairs,
            summary.matched_pairs,
            summary.threshold,
            summary.groups,
            summary.new_groups,
            summary.stale_groups,
            summary.seconds
        );
    }
    Ok(())
}

/// `custos lifecycle run [--on YYYY-MM-DD]`: the daily job for one day (a system job, as
/// the server runs it); the summary goes to stdout.
async fn lifecycle_run(app: &App, on: Option<&str>, json: bool) -> Result<ExitCode, Failure> {
    let day = match on {
        None => chrono::Utc::now()
            .with_timezone(&app.config.code_timezone)
            .date_naive(),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            Failure(format!(
                "--on 须为日期 YYYY-MM-DD / --on must be a date YYYY-MM-DD: {d}"
            ))
        })?,
    };
    let run = custos_app::lifecycle::run_daily_at(app, day).await?;
    if json {
        outln!("{}", serde_json::to_string(&run).unwrap_or_default());
    } else {
        let entered: Vec<String> = run
            .entered
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        outln!(
            "{}: {} customers evaluated, entered: {}; {} reminders; {} ms",
            run.on,
            run.evaluated,
            if entered.is_empty() {
                "none".to_string()
            } else {
                entered.join(", ")
            },
            run.reminders,
            run.millis
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn doctor(cli: &Cli, args: &crate::doctor::DoctorArgs) -> Result<ExitCode, Failure> {
    let (config, data_dir, url) = (
        cli.config.as_deref(),
        cli.data_dir.clone(),
        cli.database_url.clone(),
    );
    crate::doctor::run(config, data_dir, url, cli.json, args).await
}

async fn healthcheck(
    cli: &Cli,
    args: &crate::healthcheck::HealthcheckArgs,
) -> Result<ExitCode, Failure> {
    let (config, data_dir, url) = (
        cli.config.as_deref(),
        cli.data_dir.clone(),
        cli.database_url.clone(),
    );
    crate::healthcheck::run(config, data_dir, url, args).await
}
