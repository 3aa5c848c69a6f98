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
    /// TOML 配置文件 (configuration file)；也可用 CUSTOS_CONFIG；都不给时，存在则读 /etc/custos/custos.toml。
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    /// 数据目录 (data directory)：内嵌 SQLite 数据库所在目录，默认 ./custos-data；也可用 CUSTOS_DATA_DIR。
    #[arg(long, global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// PostgreSQL 数据库地址 postgres://…（也可用 CUSTOS_DATABASE_URL）；不给时用 SQLite。
    #[arg(long, global = true)]
    pub(crate) database_url: Option<String>,
    /// 以此用户身份执行 (act as)：修改数据的命令按其权限执行并记入操作日志 (audit log)。
    #[arg(long = "as", global = true, default_value = "admin")]
    pub(crate) as_user: String,
    /// 输出 JSON，供脚本读取 (machine-readable output)。
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// 运行服务 (serve)：HTTP 接口、管理控制台和后台任务。
    Serve {
        /// 监听地址 (listen address)，默认 127.0.0.1:8080；也可用 CUSTOS_LISTEN。
        #[arg(long)]
        listen: Option<String>,
        /// 首次启动时加入演示部门和各角色的演示用户 (demo users)。
        #[arg(long)]
        demo: bool,
    },
    /// 用户 (users)：新建、改密码、停用、启用、解除登录限制、列表。
    User {
        #[command(subcommand)]
        command: crate::user_cmd::UserCommand,
    },
    /// 企业目录登录 (directory login)：检查 `[ldap]` 设置。
    Ldap {
        #[command(subcommand)]
        command: crate::login_cmd::LdapCommand,
    },
    /// 服务账号 (service accounts)：其他系统的账号，以 API 密钥调用接口。
    ServiceAccount {
        #[command(subcommand)]
        command: crate::apikey_cmd::ServiceAccountCommand,
    },
    /// 服务账号的 API 密钥 (API keys)：创建（只显示一次）、列表、吊销。
    Apikey {
        #[command(subcommand)]
        command: crate::apikey_cmd::ApiKeyCommand,
    },
    /// 通知渠道 (notification channels)：钉钉、企业微信群机器人 (group robots)，Webhook。
    Notify {
        #[command(subcommand)]
        command: crate::notify_cmd::NotifyCommand,
    },
    /// 操作日志 (audit log)：校验哈希链、写检查点 (checkpoint)。
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// 个人信息密钥 (PII key) 的密钥环：轮换、重新加密、退役（权限 system.keys）。
    ///
    /// 密钥环就是密钥文件（数据目录中的 `pii.key` 或 CUSTOS_PII_KEY_FILE）：每行一把 base64
    /// 密钥。数据库记录哪把密钥在用，共用数据库的服务器都据此一致；运行中的服务器几秒内
    /// 就会知道轮换 (rotation)。
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// 备份 (backup)：把 SQLite 数据库的一致副本写到 FILE，服务运行时也可以（PostgreSQL 用 pg_dump）。
    Backup {
        /// 备份文件写到哪里（一个新文件）。
        file: PathBuf,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// 恢复 (restore)：把备份文件 FILE 恢复到数据目录（先停止服务）。
    Restore {
        /// 要恢复的备份文件。
        file: PathBuf,
        /// 强制 (force)：替换已有数据的数据库，或与备份不同的个人信息密钥 (PII key)。
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// 输出由代码生成的 OpenAPI 文档。
    Openapi,
    /// 编码规则 (code rules)：添加、列表、发布、停用、预览、容量。
    Rule {
        #[command(subcommand)]
        command: rule_cmd::RuleCommand,
    },
    /// 客户编码 (codes)：校验编码；恢复后恢复发号。
    Code {
        #[command(subcommand)]
        command: rule_cmd::CodeCommand,
    },
    /// 查重 (duplicate check)：找出 CSV 文件中的重复组（每行写出 record_id,cluster_id），
    /// 或加 --database 在全部客户中查找，放入查重审核队列 (review queue)。
    Dedupe(dedupe_cmd::DedupeArgs),
    /// 性能测试 (benchmarks)，见 docs/benchmarks.md。
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// 客户 (customers)：按编码查看、查询。
    Customer {
        #[command(subcommand)]
        command: customer_cmd::CustomerCommand,
    },
    /// 数据质量 (data quality)：重新计算得分、生成每日质量快照 (quality snapshot)。
    Quality {
        #[command(subcommand)]
        command: crate::quality_cmd::QualityCommand,
    },
    /// 变更流 (change feed)：输出有序事件日志中的事件 (events)。
    Events {
        #[command(subcommand)]
        command: crate::events_cmd::EventsCommand,
    },
    /// Webhook 订阅 (webhook subscriptions)：以签名的 HTTP 请求投递事件。
    Webhook {
        #[command(subcommand)]
        command: crate::webhook_cmd::WebhookCommand,
    },
    /// 演示数据 (demo)：加入合成的中国客户（有效的统一社会信用代码 USCC / 身份证号、真实地区），供试用。
    Demo(customer_cmd::DemoArgs),
    /// 批量导入 (import)：从 CSV/XLSX 导入客户，见 docs/import-export.md。
    Import(Box<import_cmd::ImportArgs>),
    /// 导入模板 (template)：把空白的导入模板（XLSX）写到 FILE。
    Template {
        /// 模板写到哪里（.xlsx）。
        file: PathBuf,
    },
    /// 数据导出 (export)：按查询条件导出客户，限于本人的数据范围 (data scope)。
    Export(Box<import_cmd::ExportArgs>),
    /// 部署检查 (deployment check)：数据目录、密钥文件、数据库与迁移、磁盘空间、时钟、TLS 文件；
    /// 逐项说明如何修复；有检查失败时退出码为 1。
    Doctor(crate::doctor::DoctorArgs),
    /// 就绪检查 (readiness check)：询问运行中服务的 /readyz；就绪时退出码为 0。
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// 客户生命周期 (life cycle)：客户状态 (life-cycle stage) 的每日任务。
    Lifecycle {
        #[command(subcommand)]
        command: LifecycleCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum LifecycleCommand {
    /// 运行每日任务：计算每个客户当天的状态 (stage) 和当天的提醒 (reminders)。
    Run {
        /// 计算哪一天，YYYY-MM-DD（默认业务时区的今天）。
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
pub(crate) enum AuditCommand {
    /// 校验 (verify) 带密钥的哈希链和每个检查点 (checkpoint)；有损坏时退出码为 2。
    Verify,
    /// 写检查点 (checkpoint)：先校验上一个检查点之后的记录，再把链头的签名检查点写入检查点
    /// 文件；链已损坏时退出码为 2。
    Checkpoint,
}

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// 状态 (status)：在用的密钥、密钥环、仍用旧密钥加密的行数、重新加密 (re-keying) 的进度。
    Status,
    /// 轮换 (rotate)：向密钥文件（权限 0600）加入一把新的随机密钥并启用：新值立即用它加密，
    /// 已存数据开始重新加密（运行中的 `custos serve` 在后台进行；或运行 `custos key rekey`）。
    Rotate {
        /// 只加入密钥环、暂不启用 (stage)：把密钥文件复制到共用该数据库的每台服务器后，再运行
        /// `custos key activate <id>`。
        #[arg(long)]
        stage: bool,
    },
    /// 启用 (activate) 密钥环中的一把密钥（由 `rotate --stage` 加入）。
    Activate {
        /// 密钥编号 (key id)，即 `custos key status` 显示的编号。
        id: String,
    },
    /// 重新加密 (rekey)：立即把仍用旧密钥加密的数据重新加密，每批 500 行；中断后从停下的地方
    /// 继续。服务运行时也可以执行。
    Rekey,
    /// 退役 (retire)：不再需要时从密钥环中移除旧密钥（仍有数据行或加密文件用它时拒绝）；
    /// 它的审计密钥保留，旧的操作日志仍可校验。
    Retire {
        /// 密钥编号 (key id)，即 `custos key status` 显示的编号。
        id: String,
    },
}

/// Where a backup passphrase comes from. Never a plain argument: those show in `ps`.
#[derive(clap::Args, Debug)]
pub(crate) struct PassphraseArgs {
    /// 备份口令 (passphrase) 所在的环境变量：备份时加密、恢复时解密；加密的备份同时携带
    /// 个人信息密钥 (PII key)。
    #[arg(long, value_name = "VAR", conflicts_with = "passphrase_file")]
    pub(crate) passphrase_env: Option<String>,
    /// 同 --passphrase-env，但从这个文件的第一行读取口令 (passphrase)。
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

    /// `--help` speaks Chinese (with the English terms of docs/glossary.md beside): every
    /// description outside the developers' `bench` commands holds Chinese text.
    #[test]
    fn every_description_is_in_chinese() {
        fn chinese(text: Option<&clap::builder::StyledStr>) -> bool {
            text.is_some_and(|t| {
                t.to_string()
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
            })
        }
        fn walk(cmd: &clap::Command, path: &str, english: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") || arg.is_global_set() && !path.is_empty() {
                    continue;
                }
                if !chinese(arg.get_help()) && !chinese(arg.get_long_help()) {
                    english.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "bench" || sub.get_name() == "help" {
                    continue;
                }
                let name = format!("{path} {}", sub.get_name());
                if !chinese(sub.get_about()) && !chinese(sub.get_long_about()) {
                    english.push(format!("{name} (command)"));
                }
                walk(sub, &name, english);
            }
        }
        let mut english = Vec::new();
        walk(&super::Cli::command(), "custos", &mut english);
        assert!(
            english.is_empty(),
            "described in English only: {english:#?}"
        );
    }
}
