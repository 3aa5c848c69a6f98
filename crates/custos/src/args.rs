//! The command line of `custos`: the global options, the sub-commands, and the arguments
//! of the user, audit, backup and bench commands (the other commands define theirs beside
//! their code).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{customer_cmd, dedupe_cmd, import_cmd, rule_cmd, Failure};

#[derive(Parser)]
#[command(
    name = "custos",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("CUSTOS_COMMIT"),
        ", built ",
        env!("CUSTOS_BUILD_DATE"),
        ")"
    ),
    about = "custos — 客户主数据与编码管理系统 (customer master data and codes)"
)]
pub(crate) struct Cli {
    /// TOML configuration file (also CUSTOS_CONFIG).
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Directory of the embedded SQLite database (default ./custos-data; also CUSTOS_DATA_DIR).
    #[arg(long, global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// PostgreSQL URL, postgres://… (also CUSTOS_DATABASE_URL); SQLite when absent.
    #[arg(long, global = true)]
    pub(crate) database_url: Option<String>,
    /// Act as this user (commands that change data).
    #[arg(long = "as", global = true, default_value = "admin")]
    pub(crate) as_user: String,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Company directory login (企业目录登录): check the `[ldap]` settings.
    Ldap {
        #[command(subcommand)]
        command: crate::login_cmd::LdapCommand,
    },
    /// Service accounts (服务账号): accounts of other systems, which call the API with keys.
    ServiceAccount {
        #[command(subcommand)]
        command: crate::apikey_cmd::ServiceAccountCommand,
    },
    /// API keys (API 密钥) of service accounts: create (shown once), list, revoke.
    Apikey {
        #[command(subcommand)]
        command: crate::apikey_cmd::ApiKeyCommand,
    },
    /// Notification channels (通知渠道): DingTalk and WeCom group robots, webhooks.
    Notify {
        #[command(subcommand)]
        command: crate::notify_cmd::NotifyCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The PII master key ring: rotation, re-keying, retirement (permission system.keys).
    ///
    /// The ring is the key file (`pii.key` in the data directory or CUSTOS_PII_KEY_FILE):
    /// one base64 key a line. The database records which key is active, so every server
    /// on it agrees; a running server learns of a rotation within seconds.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Write a consistent online backup of the SQLite database to FILE.
    Backup {
        /// Where to write the backup (a new file).
        file: PathBuf,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Restore a backup FILE into the data directory (stop the server first).
    Restore {
        /// The backup file to restore.
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
    /// Data quality (数据质量): recompute scores, take the daily snapshot.
    Quality {
        #[command(subcommand)]
        command: crate::quality_cmd::QualityCommand,
    },
    /// The change feed (变更事件流): print events of the ordered event log.
    Events {
        #[command(subcommand)]
        command: crate::events_cmd::EventsCommand,
    },
    /// Webhook subscriptions (Webhook 订阅): signed HTTP deliveries of events.
    Webhook {
        #[command(subcommand)]
        command: crate::webhook_cmd::WebhookCommand,
    },
    /// Add synthetic Chinese customers (valid USCC/ID numbers, real regions) for trials.
    Demo(customer_cmd::DemoArgs),
    /// Import customers from CSV/XLSX (批量导入); see docs/import-export.md.
    Import(Box<import_cmd::ImportArgs>),
    /// Write the empty import template (XLSX) to FILE.
    Template {
        /// Where to write the template (.xlsx).
        file: PathBuf,
    },
    /// Export customers (数据导出) with search filters, within your data scope.
    Export(Box<import_cmd::ExportArgs>),
    /// The customer life cycle (客户状态).
    Lifecycle {
        #[command(subcommand)]
        command: LifecycleCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum LifecycleCommand {
    /// Run the daily job: every customer's stage on the day, and the day's reminders.
    Run {
        /// The day to evaluate, YYYY-MM-DD (default today in the business time zone).
        #[arg(long)]
        on: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
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
        /// Customers bulk-loaded before measuring.
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
    /// Server time of the console's dashboard (scope all and own), filtered list, customer
    /// detail and rule designer preview use cases on N bulk-loaded customers in a fresh
    /// database.
    Console {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Customers bulk-loaded before measuring.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Timed list pages and detail reads.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Timed dashboards per viewer.
        #[arg(long, default_value_t = 50)]
        dashboards: usize,
    },
    /// Server time of the 360° view: a customer's overview and the first page of its
    /// timeline, for customers with a few records and for one with many, and the reports,
    /// on N bulk-loaded customers with M synthetic business records.
    Overview {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Customers bulk-loaded before measuring.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Business records spread over the customers.
        #[arg(long, default_value_t = 10_000_000)]
        activities: u64,
        /// Records more on one customer (its timeline is the long one).
        #[arg(long, default_value_t = 10_000)]
        heavy: u64,
        /// Timed calls of each kind.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
    },
    /// Time of the full data-quality recompute over N bulk-loaded customers in a fresh
    /// database, and of the summary and worklist over them.
    Quality {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Customers bulk-loaded before measuring.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
    },
    /// What the event log adds to a customer creation, and change-feed read throughput
    /// over N events.
    Events {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Customers created one by one (and one-row commits timed with and without events).
        #[arg(long, default_value_t = 2_000)]
        customers: usize,
        /// Events in the log when the feed is read.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
    },
    /// Change-to-delivery latency of webhooks: customers created at a steady rate, two
    /// subscribers on loopback.
    Webhooks {
        /// sqlite or postgres (postgres uses --database-url or CUSTOS_TEST_PG_URL, in a fresh schema).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Customers created (two events each).
        #[arg(long, default_value_t = 2_000)]
        customers: usize,
        /// Creations a second (a rate above what the machine manages: back to back).
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// The two subscribers: `up` (answering), `down` (their port refuses connections,
        /// so every delivery fails and is retried), or `none` (no subscriptions).
        #[arg(long, default_value = "up", value_parser = ["up", "down", "none"])]
        subscribers: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user. The password comes from --password or, if absent, one line on stdin.
    Create {
        /// Login name (letters, digits, . _ -).
        username: String,
        /// The password (better: leave it out and give it on stdin, away from the shell history).
        #[arg(long)]
        password: Option<String>,
        /// Name shown in the console and the audit log (default: the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// Department id (its `department` data scope counts from there).
        #[arg(long)]
        department: Option<i64>,
        /// ROLE or ROLE:SCOPE (scope own|department|all); repeatable.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Set a user's password (from --password or stdin).
    Passwd {
        /// Whose password.
        username: String,
        /// The new password (better: leave it out and give it on stdin).
        #[arg(long)]
        password: Option<String>,
    },
    /// Disable a user: no login, sessions end (audited).
    Disable {
        /// Whom to disable.
        username: String,
    },
    /// Enable a disabled user again (audited).
    Enable {
        /// Whom to enable.
        username: String,
    },
    /// Clear a user's failed-login throttling, from every address (audited).
    Unlock {
        /// Whose throttling to clear.
        username: String,
    },
    /// Every user with department, roles and status.
    List,
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the keyed hash chain and every checkpoint; exits 2 when either is broken.
    Verify,
    /// Write a signed checkpoint of the chain's head to the checkpoint file (after
    /// verifying the entries since the last one); exits 2 when the chain is broken.
    Checkpoint,
}

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Show the active key, the ring, the rows still under older keys, the re-keying.
    Status,
    /// Add a new random key to the key file (mode 0600) and make it active: new values
    /// are encrypted under it at once, and the re-keying of stored data starts (a running
    /// `custos serve` does it in the background; or run `custos key rekey`).
    Rotate {
        /// Only add the key to the ring, not active yet: copy the key file to every other
        /// server sharing the database, then run `custos key activate <id>`.
        #[arg(long)]
        stage: bool,
    },
    /// Make a key of the ring (added with `rotate --stage`) the active one.
    Activate {
        /// The key's id (as `key list` shows it).
        id: String,
    },
    /// Re-key everything stored under older keys now, in batches of 500 rows; resumes
    /// where a stopped run left off. Safe while servers run.
    Rekey,
    /// Remove an older key from the ring once nothing needs it (refused while any row
    /// or sealed file is under it); its audit keys stay so old audit entries verify.
    Retire {
        /// The key's id (as `key list` shows it).
        id: String,
    },
}

/// Where a backup passphrase comes from. Never a plain argument: those show in `ps`.
#[derive(clap::Args, Debug)]
pub(crate) struct PassphraseArgs {
    /// Encrypt (backup) or decrypt (restore) with the passphrase in this environment
    /// variable; an encrypted backup also carries the PII key.
    #[arg(long, value_name = "VAR", conflicts_with = "passphrase_file")]
    pub(crate) passphrase_env: Option<String>,
    /// As --passphrase-env, reading the passphrase from the first line of this file.
    #[arg(long, value_name = "PATH")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

impl PassphraseArgs {
    pub(crate) fn read(&self) -> Result<Option<custos_app::backup::Passphrase>, Failure> {
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command, subcommand, argument and flag says what it is in `--help`.
    #[test]
    fn every_command_and_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") || arg.is_global_set() && !path.is_empty() {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{name} (command)"));
                }
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "custos", &mut missing);
        assert!(missing.is_empty(), "without a description: {missing:#?}");
    }
}
