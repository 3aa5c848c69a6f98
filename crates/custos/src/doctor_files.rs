//! The file-system checks of `custos doctor`: who the service user is, the
//! configuration file, the data directory, the PII key file, free disk space and the TLS
//! certificate and key.

use std::path::{Path, PathBuf};

use crate::doctor_report::{existing_ancestor, mode_of, owner_of, Report, Status};
use crate::Failure;

/// The account that runs `custos serve`, whose files these are.
pub(crate) struct ServiceUser {
    pub(crate) name: String,
    pub(crate) uid: u32,
    /// Doctor runs as this account (so it can try to read what the service reads).
    pub(crate) is_self: bool,
}

/// `--user NAME`, else the account running doctor, or for root the data directory's owner.
pub(crate) fn service_user(given: Option<&str>, data_dir: &Path) -> Result<ServiceUser, Failure> {
    let me = rustix::process::geteuid().as_raw();
    let uid = match given {
        Some(name) => uid_of(name).ok_or_else(|| {
            Failure(format!(
                "没有名为 {name} 的系统用户 / no system user named {name}"
            ))
        })?,
        None if me == 0 => std::fs::metadata(data_dir)
            .map(|m| owner_of(&m))
            .unwrap_or(0),
        None => me,
    };
    Ok(ServiceUser {
        name: name_of(uid).unwrap_or_else(|| uid.to_string()),
        uid,
        is_self: uid == me,
    })
}

/// The `/etc/passwd` entries as (name, uid).
fn passwd() -> Vec<(String, u32)> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(':');
            let name = parts.next()?;
            let uid = parts.nth(1)?.parse().ok()?;
            Some((name.to_string(), uid))
        })
        .collect()
}

fn uid_of(name: &str) -> Option<u32> {
    if let Ok(uid) = name.parse() {
        return Some(uid);
    }
    passwd()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, u)| u)
}

fn name_of(uid: u32) -> Option<String> {
    passwd()
        .into_iter()
        .find(|(_, u)| *u == uid)
        .map(|(n, _)| n)
}

/// The configuration file, when one is used: readable, and not readable by everyone
/// (it may hold the database password or tokens).
pub(crate) fn check_config_file(report: &mut Report, flag: Option<&Path>, user: &ServiceUser) {
    let lang = report.lang;
    let path = flag
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var("CUSTOS_CONFIG")
                .ok()
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| {
            let installed = PathBuf::from(crate::config::INSTALLED_CONFIG);
            installed.is_file().then_some(installed)
        });
    let Some(path) = path else {
        report.add(
            "config",
            Status::Ok,
            lang.t(
                "未使用配置文件（默认值与 CUSTOS_* 环境变量）",
                "no configuration file (defaults and CUSTOS_* variables)",
            ),
        );
        return;
    };
    let shown = path.display();
    let Ok(meta) = std::fs::metadata(&path) else {
        return; // locate() failed on it already and said so
    };
    let mode = mode_of(&meta);
    if mode & 0o002 != 0 {
        report.add_fix(
            "config",
            Status::Fail,
            lang.t(
                format!("{shown} 任何人可写（权限 {mode:04o}）"),
                format!("{shown} is writable by anyone (mode {mode:04o})"),
            ),
            format!("chmod 0640 {shown}"),
        );
    } else if mode & 0o004 != 0 {
        report.add_fix(
            "config",
            Status::Warn,
            lang.t(
                format!("{shown} 任何人可读（权限 {mode:04o}），其中的口令与令牌会泄露"),
                format!("{shown} is readable by anyone (mode {mode:04o}); passwords and tokens in it leak"),
            ),
            format!("chown root:{} {shown} && chmod 0640 {shown}", user.name),
        );
    } else {
        report.add(
            "config",
            Status::Ok,
            lang.t(
                format!("{shown}（权限 {mode:04o}）"),
                format!("{shown} (mode {mode:04o})"),
            ),
        );
    }
}

/// The data directory: there, a directory, the service user's, not writable by others.
pub(crate) fn check_data_dir(report: &mut Report, dir: &Path, user: &ServiceUser) {
    let lang = report.lang;
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.add_fix(
                "data_dir",
                Status::Warn,
                lang.t(
                    format!("数据目录 {shown} 尚不存在；custos serve 首次启动时创建"),
                    format!("data directory {shown} does not exist yet; the first custos serve creates it"),
                ),
                format!("install -d -m 0700 -o {} {shown}", user.name),
            );
            return;
        }
        Err(e) => {
            report.add_fix(
                "data_dir",
                Status::Fail,
                lang.t(
                    format!("数据目录 {shown} 无法访问：{e}"),
                    format!("data directory {shown} unusable: {e}"),
                ),
                format!("install -d -m 0700 -o {} {shown}", user.name),
            );
            return;
        }
    };
    let mode = mode_of(&meta);
    let owner = owner_of(&meta);
    let fix = format!("chown {} {shown} && chmod 0700 {shown}", user.name);
    if !meta.is_dir() {
        report.add(
            "data_dir",
            Status::Fail,
            lang.t(
                format!("{shown} 不是目录"),
                format!("{shown} is not a directory"),
            ),
        );
    } else if owner != user.uid {
        report.add_fix(
            "data_dir",
            Status::Fail,
            lang.t(
                format!(
                    "数据目录 {shown} 的属主是 uid {owner}，不是服务账号 {}",
                    user.name
                ),
                format!(
                    "data directory {shown} is owned by uid {owner}, not the service user {}",
                    user.name
                ),
            ),
            fix,
        );
    } else if mode & 0o002 != 0 {
        report.add_fix(
            "data_dir",
            Status::Fail,
            lang.t(
                format!("数据目录 {shown} 任何人可写（权限 {mode:04o}）"),
                format!("data directory {shown} is writable by anyone (mode {mode:04o})"),
            ),
            fix,
        );
    } else if mode & 0o077 != 0 {
        report.add_fix(
            "data_dir",
            Status::Warn,
            lang.t(
                format!("数据目录 {shown} 其他账号可访问（权限 {mode:04o}）"),
                format!("data directory {shown} is open to other accounts (mode {mode:04o})"),
            ),
            format!("chmod 0700 {shown}"),
        );
    } else {
        report.add(
            "data_dir",
            Status::Ok,
            lang.t(
                format!("{shown}：属主 {}，权限 {mode:04o}", user.name),
                format!("{shown}: owner {}, mode {mode:04o}", user.name),
            ),
        );
    }
}

/// The PII key file: present (unless the key comes from the environment), the service
/// user's, readable by it alone.
pub(crate) fn check_pii_key(report: &mut Report, data_dir: &Path, user: &ServiceUser, fresh: bool) {
    let lang = report.lang;
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    if env("CUSTOS_PII_KEY").is_some() {
        report.add(
            "pii_key",
            Status::Ok,
            lang.t(
                "PII 密钥来自环境变量 CUSTOS_PII_KEY",
                "the PII key comes from CUSTOS_PII_KEY",
            ),
        );
        return;
    }
    let path = env("CUSTOS_PII_KEY_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.join("pii.key"));
    let shown = path.display();
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(_) if fresh => {
            report.add(
                "pii_key",
                Status::Warn,
                lang.t(
                    format!("{shown} 尚不存在；首次启动时生成（权限 0600），请随后另行备份"),
                    format!("{shown} does not exist yet; the first start creates it (mode 0600): keep a copy apart afterwards"),
                ),
            );
            return;
        }
        Err(e) => {
            report.add_fix(
                "pii_key",
                Status::Fail,
                lang.t(
                    format!("PII 密钥文件 {shown} 无法访问：{e}；加密的个人信息将无法读取"),
                    format!("PII key file {shown} unusable: {e}; encrypted personal data cannot be read"),
                ),
                lang.t(
                    "放回原来的 pii.key（备份中或另行保管的副本），属主为服务账号，权限 0600",
                    "put the original pii.key back (from the encrypted backup or the copy kept apart), owned by the service user, mode 0600",
                ),
            );
            return;
        }
    };
    let mode = mode_of(&meta);
    let owner = owner_of(&meta);
    let fix = format!("chown {} {shown} && chmod 0600 {shown}", user.name);
    if mode & 0o077 != 0 {
        report.add_fix(
            "pii_key",
            Status::Fail,
            lang.t(
                format!("PII 密钥文件 {shown} 其他账号可访问（权限 {mode:04o}）"),
                format!("PII key file {shown} is open to other accounts (mode {mode:04o})"),
            ),
            fix,
        );
    } else if owner != user.uid {
        report.add_fix(
            "pii_key",
            Status::Fail,
            lang.t(
                format!(
                    "PII 密钥文件 {shown} 的属主是 uid {owner}，不是服务账号 {}",
                    user.name
                ),
                format!(
                    "PII key file {shown} is owned by uid {owner}, not the service user {}",
                    user.name
                ),
            ),
            fix,
        );
    } else if user.is_self && std::fs::File::open(&path).is_err() {
        report.add_fix(
            "pii_key",
            Status::Fail,
            lang.t(
                format!("服务账号无法读取 {shown}（权限 {mode:04o}）"),
                format!("the service user cannot read {shown} (mode {mode:04o})"),
            ),
            fix,
        );
    } else {
        report.add(
            "pii_key",
            Status::Ok,
            lang.t(
                format!("{shown}：属主 {}，权限 {mode:04o}", user.name),
                format!("{shown}: owner {}, mode {mode:04o}", user.name),
            ),
        );
    }
}

const GIB: u64 = 1 << 30;

/// Free space on the data directory's file system: a warning under 10 %, a failure
/// under 2 % or 1 GiB.
pub(crate) fn check_disk(report: &mut Report, data_dir: &Path) {
    let lang = report.lang;
    let Some(at) = existing_ancestor(data_dir) else {
        return;
    };
    let stat = match rustix::fs::statvfs(&at) {
        Ok(s) => s,
        Err(e) => {
            report.add(
                "disk",
                Status::Warn,
                lang.t(
                    format!("无法读取 {} 的磁盘空间：{e}", at.display()),
                    format!("cannot read the free space of {}: {e}", at.display()),
                ),
            );
            return;
        }
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let total = stat.f_blocks.saturating_mul(stat.f_frsize).max(1);
    let pct = free as f64 * 100.0 / total as f64;
    let text = lang.t(
        format!(
            "{} 所在文件系统可用 {:.1} GiB（{pct:.1} %）",
            at.display(),
            free as f64 / GIB as f64
        ),
        format!(
            "{} has {:.1} GiB free ({pct:.1} %)",
            at.display(),
            free as f64 / GIB as f64
        ),
    );
    let fix = lang.t(
        "清理旧备份与导出文件，或扩容数据盘",
        "remove old backups and export files, or enlarge the data disk",
    );
    if pct < 2.0 || free < GIB {
        report.add_fix("disk", Status::Fail, text, fix);
    } else if pct < 10.0 {
        report.add_fix("disk", Status::Warn, text, fix);
    } else {
        report.add("disk", Status::Ok, text);
    }
}

/// The TLS certificate and key, when configured: the server can load them, the key is
/// private, the certificate not expired (a warning 14 days before).
pub(crate) fn check_tls(
    report: &mut Report,
    files: Option<(PathBuf, PathBuf)>,
    user: &ServiceUser,
) {
    let lang = report.lang;
    let Some((cert, key)) = files else {
        report.add(
            "tls",
            Status::Ok,
            lang.t(
                "未配置 TLS：以 HTTP 提供服务（应在 TLS 反向代理之后）",
                "no TLS configured: plain HTTP (put it behind a TLS proxy)",
            ),
        );
        return;
    };
    if let Err(e) = custos_web::tls::Tls::load(&cert, &key) {
        report.add_fix(
            "tls",
            Status::Fail,
            lang.t(
                format!("TLS 证书或私钥无法加载：{e}"),
                format!("the TLS certificate or key cannot be loaded: {e}"),
            ),
            lang.t(
                "给出 PEM 格式的证书链（叶证书在前）与匹配的私钥，服务账号可读",
                "give a PEM certificate chain (leaf first) and its matching key, readable by the service user",
            ),
        );
        return;
    }
    let key_meta = std::fs::metadata(&key).ok();
    let key_open = key_meta.as_ref().is_some_and(|m| mode_of(m) & 0o077 != 0);
    let not_after = std::fs::read(&cert).ok().and_then(|pem| expiry_of(&pem));
    let now = chrono::Utc::now().timestamp();
    let shown = cert.display();
    match not_after {
        Some(t) if t < now => report.add_fix(
            "tls",
            Status::Fail,
            lang.t(
                format!("证书 {shown} 已于 {} 过期", date(t)),
                format!("certificate {shown} expired on {}", date(t)),
            ),
            lang.t(
                "更换证书后执行 systemctl reload custos（SIGHUP 重新加载）",
                "replace the certificate, then systemctl reload custos (SIGHUP reloads it)",
            ),
        ),
        Some(t) if t < now + 14 * 86_400 => report.add_fix(
            "tls",
            Status::Warn,
            lang.t(
                format!("证书 {shown} 将于 {} 过期", date(t)),
                format!("certificate {shown} expires on {}", date(t)),
            ),
            lang.t(
                "尽快续期；替换文件后 systemctl reload custos",
                "renew it soon; after replacing the file, systemctl reload custos",
            ),
        ),
        _ if key_open => {
            let shown_key = key.display();
            report.add_fix(
                "tls",
                Status::Warn,
                lang.t(
                    format!("私钥 {shown_key} 其他账号可读"),
                    format!("the key {shown_key} is readable by other accounts"),
                ),
                format!("chown {} {shown_key} && chmod 0600 {shown_key}", user.name),
            );
        }
        Some(t) => report.add(
            "tls",
            Status::Ok,
            lang.t(
                format!("证书 {shown} 有效至 {}", date(t)),
                format!("certificate {shown} valid until {}", date(t)),
            ),
        ),
        None => report.add(
            "tls",
            Status::Warn,
            lang.t(
                format!("证书 {shown} 可加载，但未能读出有效期"),
                format!("certificate {shown} loads, but its validity could not be read"),
            ),
        ),
    }
}

/// The leaf certificate's notAfter, seconds since the epoch.
fn expiry_of(pem: &[u8]) -> Option<i64> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.validity().not_after.timestamp())
}

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}
