//! `custos doctor`: checks a deployment — configuration file, data directory, PII key
//! file, database and migrations, disk space, clock, TLS files — and says what to fix.
//! It only reads: no key, directory or database is created, nothing is migrated.

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::doctor_files as files;
pub(crate) use crate::doctor_report::{Finding, Lang, Report, Status};
use crate::output::outln;
use crate::{config, print_json, Failure};

/// Arguments of `custos doctor`.
#[derive(clap::Args, Debug)]
pub(crate) struct DoctorArgs {
    /// 服务账号 (service user) that runs `custos serve`: files must be its own (default:
    /// the user running doctor; as root, the owner of the data directory).
    #[arg(long, value_name = "NAME")]
    pub(crate) user: Option<String>,
    /// 输出语言 (language of the messages): zh or en.
    #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
    pub(crate) lang: String,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    service_user: &'a str,
    findings: &'a [Finding],
}

/// `custos doctor`: the global options it needs are passed in (`--config`, `--data-dir`,
/// `--database-url`, `--json`).
pub(crate) async fn run(
    config_path: Option<&std::path::Path>,
    data_dir: Option<std::path::PathBuf>,
    database_url: Option<String>,
    json: bool,
    args: &DoctorArgs,
) -> Result<ExitCode, Failure> {
    let lang = Lang(args.lang == "en");
    let mut report = Report {
        lang,
        findings: Vec::new(),
    };
    let location = match config::locate(config_path, data_dir, database_url) {
        Ok(l) => l,
        Err(e) => {
            report.add_fix(
                "config",
                Status::Fail,
                lang.t(
                    format!("配置无法读取：{e}"),
                    format!("configuration unusable: {e}"),
                ),
                lang.t(
                    "修正配置文件或 CUSTOS_* 环境变量后重试",
                    "correct the configuration file or the CUSTOS_* variables and retry",
                ),
            );
            return finish(json, &report, "?");
        }
    };
    let user = files::service_user(args.user.as_deref(), &location.data_dir)?;
    files::check_config_file(&mut report, config_path, &user);
    files::check_data_dir(&mut report, &location.data_dir, &user);
    let db = check_database(&mut report, &location).await;
    let sqlite_missing = db.as_ref().is_some_and(|d| d.missing);
    files::check_pii_key(&mut report, &location.data_dir, &user, sqlite_missing);
    files::check_disk(&mut report, &location.data_dir);
    check_clock(&mut report, db.as_ref().and_then(|d| d.last_audit_us));
    files::check_tls(&mut report, config::tls_files(&location)?, &user);
    finish(json, &report, &user.name)
}

fn finish(json: bool, report: &Report, user: &str) -> Result<ExitCode, Failure> {
    let failed = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .count();
    let warned = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Warn)
        .count();
    if json {
        print_json(&JsonReport {
            ok: failed == 0,
            service_user: user,
            findings: &report.findings,
        });
    } else {
        let lang = report.lang;
        outln!(
            "{}",
            lang.t(
                format!("custos doctor — 部署检查（服务账号 {user}）"),
                format!("custos doctor — deployment check (service user {user})"),
            )
        );
        for f in &report.findings {
            let tag = match f.status {
                Status::Ok => "[OK]  ",
                Status::Warn => "[WARN]",
                Status::Fail => "[FAIL]",
            };
            outln!("{tag} {:<8} {}", f.check, f.message);
            if let Some(fix) = &f.fix {
                outln!("       {}{fix}", lang.t("修复：", "fix: "));
            }
        }
        outln!(
            "{}",
            lang.t(
                format!("结果：{failed} 项失败，{warned} 项警告"),
                format!("result: {failed} failed, {warned} warnings"),
            )
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reachable, migrated by this build, not by a newer one.
async fn check_database(
    report: &mut Report,
    location: &config::Location,
) -> Option<custos_app::deployment::DatabaseState> {
    let lang = report.lang;
    let mut opts = custos_app::DbOptions::sqlite(location.data_dir.clone());
    opts.database_url = location.database_url.clone();
    let state = match custos_app::deployment::inspect_database(&opts, Duration::from_secs(10)).await
    {
        Ok(s) => s,
        Err(e) => {
            report.add_fix(
                    "database",
                    Status::Fail,
                    lang.t(format!("数据库无法访问：{e}"), format!("database unreachable: {e}")),
                    lang.t(
                        "检查 database_url（主机、端口、用户、口令）、数据库服务是否运行，及数据文件的权限",
                        "check database_url (host, port, user, password), that the database server runs, and the data file's permissions",
                    ),
                );
            return None;
        }
    };
    let what = if state.backend == "sqlite" {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    if state.missing {
        report.add(
            "database",
            Status::Warn,
            lang.t(
                format!("{what} 数据库尚未创建；首次运行 custos serve 时创建"),
                format!(
                    "the {what} database does not exist yet; the first custos serve creates it"
                ),
            ),
        );
    } else if !state.failed.is_empty() {
        report.add_fix(
            "database",
            Status::Fail,
            lang.t(
                format!("迁移失败未完成：{:?}", state.failed),
                format!("migrations failed part way: {:?}", state.failed),
            ),
            lang.t(
                "从备份恢复，或按日志修复后删除 _sqlx_migrations 中失败的行再启动",
                "restore a backup, or repair as the log says and remove the failed rows of _sqlx_migrations before starting",
            ),
        );
    } else if !state.unknown.is_empty() {
        report.add_fix(
            "database",
            Status::Fail,
            lang.t(
                format!(
                    "数据库由更新的版本迁移（本程序不认识的迁移 {:?}）",
                    state.unknown
                ),
                format!(
                    "the database was migrated by a newer build (migrations {:?} unknown here)",
                    state.unknown
                ),
            ),
            lang.t(
                "安装与数据库相同或更新的 custos 版本；不支持降级",
                "install the same or a newer custos version; downgrades are not supported",
            ),
        );
    } else if !state.pending.is_empty() {
        report.add_fix(
            "database",
            Status::Warn,
            lang.t(
                format!(
                    "{what} 可访问；{} 个迁移待执行 {:?}，custos serve 启动时执行",
                    state.pending.len(),
                    state.pending
                ),
                format!(
                    "{what} reachable; {} migrations pending {:?}, applied when custos serve starts",
                    state.pending.len(),
                    state.pending
                ),
            ),
            lang.t(
                "升级前先备份（custos backup 或 pg_dump）",
                "take a backup before the upgrade (custos backup or pg_dump)",
            ),
        );
    } else {
        report.add(
            "database",
            Status::Ok,
            lang.t(
                format!(
                    "{what} 可访问，{}/{} 个迁移已执行",
                    state.applied_migrations, state.known_migrations
                ),
                format!(
                    "{what} reachable, {}/{} migrations applied",
                    state.applied_migrations, state.known_migrations
                ),
            ),
        );
    }
    Some(state)
}

/// The system clock is not behind the build date nor behind the newest audit entry.
fn check_clock(report: &mut Report, last_audit_us: Option<i64>) {
    let lang = report.lang;
    let now = chrono::Utc::now();
    let built = chrono::NaiveDate::parse_from_str(env!("CUSTOS_BUILD_DATE"), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc());
    let fix = lang.t(
        "校正系统时间（timedatectl set-ntp true，或配置 chrony/NTP）",
        "correct the system time (timedatectl set-ntp true, or configure chrony/NTP)",
    );
    if let Some(built) = built.filter(|b| now < *b - chrono::Duration::days(1)) {
        report.add_fix(
            "clock",
            Status::Fail,
            lang.t(
                format!("系统时间 {now} 早于本程序构建日期 {built}"),
                format!("the system time {now} is before this build's date {built}"),
            ),
            fix,
        );
        return;
    }
    let last = last_audit_us.and_then(chrono::DateTime::from_timestamp_micros);
    if let Some(last) = last.filter(|l| now + chrono::Duration::seconds(60) < *l) {
        report.add_fix(
            "clock",
            Status::Fail,
            lang.t(
                format!("系统时间 {now} 早于最新的操作日志 {last}：时钟被回拨"),
                format!("the system time {now} is before the newest audit entry {last}: the clock went back"),
            ),
            fix,
        );
        return;
    }
    report.add(
        "clock",
        Status::Ok,
        lang.t(
            format!("系统时间 {} UTC", now.format("%Y-%m-%d %H:%M:%S")),
            format!("system time {} UTC", now.format("%Y-%m-%d %H:%M:%S")),
        ),
    );
}
