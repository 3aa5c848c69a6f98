//! The `custos` command. Every subcommand opens the same database as `serve` and acts
//! through the use cases of `custos-app`, as a named user (`--as`, default `admin`).

// Standard output is written through `output::outln!` only (a closed pipe must not panic).
#![deny(clippy::print_stdout)]

mod bench;
mod bench_import;
mod config;
mod customer_cmd;
mod dedupe_cmd;
mod import_cmd;
mod output;
mod rule_cmd;

/// mimalloc instead of glibc's malloc: see the workspace manifest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::output::outln;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use comfy_table::Table;

use custos_app::data_lock::{self, DataLock};
use custos_app::org::{NewUser, RoleAssignment, UserPatch};
use custos_app::ChainReport;
use custos_app::{Actor, App, AppError, Context, Source};

#[derive(Parser)]
#[command(
    name = "custos",
    version,
    about = "custos — 客户主数据与编码管理系统 (customer master data and codes)"
)]
struct Cli {
    /// TOML configuration file (also CUSTOS_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory of the embedded SQLite database (default ./custos-data; also CUSTOS_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL, postgres://… (also CUSTOS_DATABASE_URL); SQLite when absent.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Act as this user (commands that change data).
    #[arg(long = "as", global = true, default_value = "admin")]
    as_user: String,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080; also CUSTOS_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Add demo departments and users on first start.
        #[arg(long)]
        demo: bool,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a consistent online backup of the SQLite database to FILE.
    Backup {
        file: PathBuf,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Restore a backup FILE into the data directory (stop the server first).
    Restore {
        file: PathBuf,
        /// Replace a database that already holds data, or a PII key that differs from
        /// the backup's.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Print the OpenAPI document generated from the code.
    Openapi,
    /// Code rules (编码规则).
    Rule {
        #[command(subcommand)]
        command: rule_cmd::RuleCommand,
    },
    /// Codes (客户编码).
    Code {
        #[command(subcommand)]
        command: rule_cmd::CodeCommand,
    },
    /// Duplicate groups (查重): in a CSV file (writes record_id,cluster_id for every row), or
    /// with --database among all customers, into the review queue.
    Dedupe(dedupe_cmd::DedupeArgs),
    /// Benchmarks (see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Customers (客户): get, search.
    Customer {
        #[command(subcommand)]
        command: customer_cmd::CustomerCommand,
    },
    /// Add synthetic Chinese customers (valid USCC/ID numbers, real regions) for trials.
    Demo(customer_cmd::DemoArgs),
    /// Import customers from CSV/XLSX (批量导入); see docs/import-export.md.
    Import(Box<import_cmd::ImportArgs>),
    /// Write the empty import template (XLSX) to FILE.
    Template { file: PathBuf },
    /// Export customers (数据导出) with search filters, within your data scope.
    Export(Box<import_cmd::ExportArgs>),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Code-issuing throughput vs a raw one-row counter baseline, on a fresh database.
    Issue {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Concurrent callers, comma-separated.
        #[arg(long, default_value = "1,8,64", value_delimiter = ',')]
        callers: Vec<usize>,
        /// Operations per run (split across callers).
        #[arg(long, default_value_t = 3000)]
        ops: usize,
        /// Rounds per caller count, each a custos run then a raw run on a fresh database;
        /// the median ratio is reported (fsync times on shared machines vary a lot).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Import a generated CSV into a fresh SQLite database, then export it (rows/s, peak memory).
    Import {
        /// Rows of the imported file.
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Customers imported first (already in the database).
        #[arg(long, default_value_t = 0)]
        existing: u64,
        /// Rows per transaction (as `custos import --chunk`).
        #[arg(long, default_value_t = custos_app::import::BULK_CHUNK_ROWS)]
        chunk: usize,
        /// Work in DIR and keep it (database and generated files) instead of a temporary
        /// directory; a database already there is imported into, so one built once can
        /// be copied and measured against again.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Skip the exports at the end.
        #[arg(long)]
        no_exports: bool,
    },
    /// Online duplicate-check latency (p50/p95/p99) with N customers in a fresh database.
    Dupcheck {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Customers loaded before measuring.
        #[arg(long, default_value_t = 100_000)]
        customers: u64,
        /// Checks measured.
        #[arg(long, default_value_t = 2000)]
        checks: usize,
    },
    /// Read-path latencies (get by code, filtered list, fuzzy search, duplicate check) on
    /// N bulk-loaded customers in a fresh database.
    Lookup {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Queries measured per kind.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Also time exporting every customer to CSV and XLSX (as the administrator).
        #[arg(long)]
        export: bool,
        /// Keep the loaded database afterwards (its directory or PostgreSQL schema is
        /// printed), to study query plans or rerun queries by hand.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password comes from --password or, if absent, one line on stdin.
    Create {
        username: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        department: Option<i64>,
        /// ROLE or ROLE:SCOPE (scope own|department|all); repeatable.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Set a user's password (from --password or stdin).
    Passwd {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
    Disable {
        username: String,
    },
    Enable {
        username: String,
    },
    /// Clear a user's failed-login throttling, from every address (audited).
    Unlock {
        username: String,
    },
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the keyed hash chain and every checkpoint; exits 2 when either is broken.
    Verify,
    /// Write a signed checkpoint of the chain's head to the checkpoint file (after
    /// verifying the entries since the last one); exits 2 when the chain is broken.
    Checkpoint,
}

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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("custos: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Where a backup passphrase comes from. Never a plain argument: those show in `ps`.
#[derive(clap::Args, Debug)]
struct PassphraseArgs {
    /// Encrypt (backup) or decrypt (restore) with the passphrase in this environment
    /// variable; an encrypted backup also carries the PII key.
    #[arg(long, value_name = "VAR", conflicts_with = "passphrase_file")]
    passphrase_env: Option<String>,
    /// As --passphrase-env, reading the passphrase from the first line of this file.
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
}

impl PassphraseArgs {
    fn read(&self) -> Result<Option<custos_app::backup::Passphrase>, Failure> {
        let text = match (&self.passphrase_env, &self.passphrase_file) {
            (Some(var), _) => std::env::var(var).map_err(|_| {
                Failure(format!(
                    "环境变量 {var} 未设置 / the environment variable {var} is not set"
                ))
            })?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    Failure(format!(
                        "无法读取口令文件 / cannot read the passphrase file {}: {e}",
                        path.display()
                    ))
                })?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            (None, None) => return Ok(None),
        };
        Ok(Some(custos_app::backup::Passphrase::new(text)?))
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
        .actor_for_username(&cli.as_user, Context::new(Source::Cli))
        .await?)
}

fn read_password(given: Option<String>) -> Result<String, Failure> {
    if let Some(p) = given {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure(format!("cannot read the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn parse_role(s: &str) -> RoleAssignment {
    let (role, scope) = s.split_once(':').unwrap_or((s, "own"));
    RoleAssignment {
        role: role.to_string(),
        scope: scope.to_string(),
        expires_at: None,
    }
}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::Serve { listen, demo } => serve(&cli, listen.clone(), *demo).await,
        Command::Bench {
            command:
                BenchCommand::Import {
                    rows,
                    existing,
                    chunk,
                    dir,
                    no_exports,
                },
        } => {
            let options = bench_import::Options {
                rows: *rows,
                existing: *existing,
                chunk: *chunk,
                dir: dir.clone(),
                exports: !*no_exports,
            };
            bench_import::import(&options).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command } => {
            let backend_name = match command {
                BenchCommand::Issue { backend, .. }
                | BenchCommand::Dupcheck { backend, .. }
                | BenchCommand::Lookup { backend, .. } => backend.as_str(),
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
            let url = cli
                .database_url
                .clone()
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
                    let run = bench::LookupRun {
                        customers: *customers,
                        queries: *queries,
                        export: *export,
                        keep: *keep,
                    };
                    bench::lookup(backend, url.as_deref(), run).await?
                }
                BenchCommand::Import { .. } => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Customer { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            customer_cmd::run_customer(&app, &actor, command, cli.json).await?;
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
        Command::Code { command } => {
            // After pg_restore nothing holds code issuing: no server may issue codes
            // while the counters are being raised.
            let pg_exclusive = matches!(command, rule_cmd::CodeCommand::ResumeAfterRestore(_));
            let (app, _, _lock) = open_locked(&cli, None, pg_exclusive).await?;
            let actor = actor(&app, &cli).await?;
            let ok = rule_cmd::run_code(&app, &actor, command, cli.json).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Dedupe(args) if args.database => {
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            let summary = app.scan_duplicates(&actor, args.threshold).await?;
            if cli.json {
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Dedupe(args) => {
            let summary = dedupe_cmd::run(args)?;
            if cli.json {
                outln!("{}", serde_json::to_string(&summary).unwrap_or_default());
            } else {
                eprintln!("{}", dedupe_cmd::render(&summary));
            }
            Ok(ExitCode::SUCCESS)
        }
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
            user_command(&app, &actor, command, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command } => {
            let (app, _, _lock) = open(&cli, None).await?;
            match command {
                AuditCommand::Verify => audit_verify(&app, cli.json).await,
                AuditCommand::Checkpoint => audit_checkpoint(&app, cli.json).await,
            }
        }
        Command::Backup { file, passphrase } => {
            let passphrase = passphrase.read()?;
            let (app, _, _lock) = open(&cli, None).await?;
            let actor = actor(&app, &cli).await?;
            let header = app.backup(&actor, file, passphrase.as_ref()).await?;
            if cli.json {
                print_json(&header);
            } else {
                outln!(
                    "backup written to {} ({} bytes, sha256 {}{})",
                    file.display(),
                    header.size,
                    header.sha256,
                    if header.encryption.is_some() {
                        ", encrypted, carries the PII key"
                    } else {
                        ""
                    }
                );
                if header.encryption.is_none() {
                    eprintln!(
                        "注意：未加密的备份不含 PII 密钥 {id}，请另行保管 pii.key / \
                         note: an unencrypted backup does not carry PII key {id}; keep pii.key safe separately",
                        id = header.pii_key_id().unwrap_or("?")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore {
            file,
            force,
            passphrase,
        } => {
            // Not config::load: that would create a fresh pii.key in an empty directory
            // before the backup's key can be put there.
            let location = config::locate(
                cli.config.as_deref(),
                cli.data_dir.clone(),
                cli.database_url.clone(),
            )?;
            if location.database_url.is_some() {
                return Err(Failure(
                    "restore works on the embedded SQLite database; for PostgreSQL stop every server, \
                     use pg_restore, then run custos code resume-after-restore before starting them \
                     again (docs/backup.md)"
                        .into(),
                ));
            }
            let opts = custos_app::backup::RestoreOptions {
                force: *force,
                passphrase: passphrase.read()?,
                env_key: config::env_pii_key()?,
            };
            let report = custos_app::backup::restore_backup(file, &location.data_dir, opts).await?;
            if cli.json {
                print_json(&report);
            } else {
                outln!(
                    "restored {} into {} ({} audit entries verified)",
                    file.display(),
                    report.target.display(),
                    report.audit_entries
                );
                if let Some(note) = pii_key_note(&report) {
                    eprintln!("{note}");
                }
                eprintln!("{}", rule_cmd::code_carry_note(&report.codes));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What the user should know about the PII key after a restore.
fn pii_key_note(report: &custos_app::backup::RestoreReport) -> Option<String> {
    use custos_app::backup::PiiKeyOutcome;
    let id = report.pii_key_id.as_deref().unwrap_or("?");
    Some(match report.pii_key {
        PiiKeyOutcome::Matches | PiiKeyOutcome::NotNeeded => return None,
        PiiKeyOutcome::Written => {
            format!("已从备份写入 PII 密钥 {id} 到 pii.key / wrote the backup's PII key {id} to pii.key")
        }
        PiiKeyOutcome::Replaced => format!(
            "已用备份的 PII 密钥 {id} 替换 pii.key（旧文件保留为 pii.key.replaced-*） / \
             replaced pii.key with the backup's PII key {id} (the old file is kept as pii.key.replaced-*)"
        ),
        PiiKeyOutcome::Missing => format!(
            "注意：数据目录中没有 PII 密钥；启动前请放入备份时的 pii.key（密钥 {id}） / \
             note: no PII key is in place; put the backup's pii.key (key {id}) in the data directory before starting"
        ),
        PiiKeyOutcome::Mismatch => format!(
            "警告：当前 PII 密钥不是备份的密钥 {id}，加密的个人信息将无法读取 / \
             warning: the PII key in effect is not the backup's key {id}; encrypted personal data cannot be read"
        ),
    })
}

async fn user_command(
    app: &App,
    actor: &Actor,
    cmd: &UserCommand,
    json: bool,
) -> Result<(), Failure> {
    match cmd {
        UserCommand::Create {
            username,
            password,
            display_name,
            department,
            roles,
        } => {
            let password = read_password(password.clone())?;
            let v = app
                .create_user(
                    actor,
                    NewUser {
                        username: username.clone(),
                        password,
                        display_name: display_name.clone(),
                        department_id: *department,
                        email: None,
                        roles: roles.iter().map(|r| parse_role(r)).collect(),
                    },
                )
                .await?;
            if json {
                print_json(&v);
            } else {
                outln!("created user {} (id {})", v.username, v.id);
            }
        }
        UserCommand::Passwd { username, password } => {
            let id = app.user_id_by_name(actor, username).await?;
            let password = read_password(password.clone())?;
            app.update_user(
                actor,
                id,
                UserPatch {
                    password: Some(password),
                    ..Default::default()
                },
            )
            .await?;
            outln!("password of {username} changed; its sessions were revoked");
        }
        UserCommand::Disable { username } | UserCommand::Enable { username } => {
            let disable = matches!(cmd, UserCommand::Disable { .. });
            let id = app.user_id_by_name(actor, username).await?;
            app.update_user(
                actor,
                id,
                UserPatch {
                    disabled: Some(disable),
                    ..Default::default()
                },
            )
            .await?;
            outln!(
                "user {username} {}",
                if disable { "disabled" } else { "enabled" }
            );
        }
        UserCommand::Unlock { username } => {
            let id = app.user_id_by_name(actor, username).await?;
            let v = app.unlock_user(actor, id).await?;
            if json {
                print_json(&v);
            } else {
                outln!("failed-login throttling of {} cleared", v.username);
            }
        }
        UserCommand::List => {
            let mut all = Vec::new();
            let mut after = 0;
            loop {
                let page = app.list_users(actor, after, 500).await?;
                let n = page.len();
                after = page.last().map(|u| u.id).unwrap_or(after);
                all.extend(page);
                if n < 500 {
                    break;
                }
            }
            if json {
                print_json(&all);
            } else {
                let mut t = Table::new();
                t.set_header(["id", "username", "name", "department", "roles", "status"]);
                for u in all {
                    let roles: Vec<String> = u
                        .roles
                        .iter()
                        .map(|r| format!("{}:{}", r.role, r.scope))
                        .collect();
                    t.add_row([
                        u.id.to_string(),
                        u.username,
                        u.display_name,
                        u.department_id.map(|d| d.to_string()).unwrap_or_default(),
                        roles.join(", "),
                        match (u.disabled, &u.locked_until) {
                            (true, _) => "disabled".into(),
                            (false, Some(t)) => format!("throttled until {t}"),
                            (false, None) => "active".into(),
                        },
                    ]);
                }
                outln!("{t}");
            }
        }
    }
    Ok(())
}

async fn serve(cli: &Cli, listen: Option<String>, demo: bool) -> Result<ExitCode, Failure> {
    let started = std::time::Instant::now();
    let (app, settings, lock) = open(cli, listen).await?;
    if let Some(hold) = app.issue_hold().await? {
        tracing::warn!(
            "code issuing is on hold since the restore of a backup of {} ({}): creations fail until an administrator runs custos code resume-after-restore (see docs/backup.md)",
            hold.backup_created_at,
            hold.reason
        );
    }
    let admin_password = config::secret_env("CUSTOS_ADMIN_PASSWORD")?;
    if let Some(generated) = app.ensure_admin(admin_password).await? {
        // Shown once: it is not stored anywhere in plaintext.
        eprintln!("==> created user 'admin' with password: {generated}");
        eprintln!("==> store it now; it will not be shown again");
    }
    if demo {
        let n = app.seed_demo().await?;
        if n > 0 {
            eprintln!(
                "==> demo data added: {n} users (password: {})",
                custos_app::demo::DEMO_PASSWORD
            );
        }
    }
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", settings.listen)))?;
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| settings.listen.clone());
    let backend = match app.db.backend() {
        custos_app::Backend::Sqlite => format!(
            "SQLite {}",
            app.db
                .sqlite_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        custos_app::Backend::Postgres => "PostgreSQL".to_string(),
    };
    let shutdown = shutdown_signal();
    let tls = match &settings.tls {
        Some((cert, key)) => Some(std::sync::Arc::new(
            custos_web::tls::Tls::load(cert, key)
                .map_err(|e| Failure(format!("cannot load the TLS certificate: {e}")))?,
        )),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "custos listening on {scheme}://{addr} ({backend}); API docs at {scheme}://{addr}/docs; ready in {} ms",
        started.elapsed().as_millis()
    );
    let worker = tokio::spawn(
        app.clone()
            .run_notification_worker(settings.smtp.clone(), settings.reminder_after),
    );
    let checkpoints = tokio::spawn(
        app.clone()
            .run_audit_checkpoints(settings.audit_checkpoint_due),
    );
    let served = match tls {
        Some(tls) => {
            let reloader = tokio::spawn(reload_tls_on_hangup(std::sync::Arc::clone(&tls)));
            let served =
                custos_web::serve_tls(app.clone(), settings.web.clone(), listener, tls, shutdown)
                    .await;
            reloader.abort();
            served
        }
        None => custos_web::serve_with(app.clone(), settings.web.clone(), listener, shutdown).await,
    };
    worker.abort();
    checkpoints.abort();
    served.map_err(|e| Failure(format!("server error: {e}")))?;
    lock.release().await;
    app.db.close().await;
    tracing::info!("custos stopped");
    Ok(ExitCode::SUCCESS)
}

async fn audit_verify(app: &App, json: bool) -> Result<ExitCode, Failure> {
    match app.verify_audit().await? {
        ChainReport::Ok {
            entries,
            head_hash,
            checkpoints,
            ..
        } => {
            if json {
                print_json(&serde_json::json!({
                    "ok": true, "entries": entries, "head_hash": head_hash,
                    "checkpoints": checkpoints,
                }));
            } else {
                outln!("OK: {entries} entries, head {head_hash}, {checkpoints} checkpoints");
            }
            Ok(ExitCode::SUCCESS)
        }
        ChainReport::Broken { seq, reason } => {
            if json {
                print_json(&serde_json::json!({"ok": false, "seq": seq, "reason": reason}));
            } else {
                outln!("BROKEN at entry {seq}: {reason}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

async fn audit_checkpoint(app: &App, json: bool) -> Result<ExitCode, Failure> {
    use custos_app::audit::CheckpointOutcome;
    match app.write_audit_checkpoint().await? {
        CheckpointOutcome::Written { checkpoint, file } => {
            if json {
                print_json(&serde_json::json!({
                    "ok": true, "file": file.display().to_string(), "checkpoint": checkpoint,
                }));
            } else {
                outln!(
                    "checkpoint written: entry {}, hash {}, at {} ({})",
                    checkpoint.seq,
                    checkpoint.hash,
                    checkpoint.at,
                    file.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CheckpointOutcome::NotDue => {
            if json {
                print_json(&serde_json::json!({"ok": true, "checkpoint": null}));
            } else {
                outln!("no checkpoint written: nothing new to anchor");
            }
            Ok(ExitCode::SUCCESS)
        }
        CheckpointOutcome::NotConfigured => {
            Err(Failure("no audit checkpoint file is configured".into()))
        }
        CheckpointOutcome::Broken { seq, reason } => {
            if json {
                print_json(&serde_json::json!({"ok": false, "seq": seq, "reason": reason}));
            } else {
                outln!("BROKEN at entry {seq}: {reason}; no checkpoint written");
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// Reload the certificate and key on every SIGHUP (a renewed certificate needs no restart);
/// a failed reload keeps the loaded one and says why.
async fn reload_tls_on_hangup(tls: std::sync::Arc<custos_web::tls::Tls>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "TLS reload failed; the loaded certificate stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: a SIGTERM that arrives right after "listening" is logged
/// must shut down gracefully, not kill the process.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            async fn recv(s: Option<&mut tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = recv(term.as_mut()) => {},
                _ = recv(int.as_mut()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
