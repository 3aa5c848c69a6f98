//! Layered configuration: built-in defaults, then a TOML file (`--config` or
//! `CUSTOS_CONFIG`), then `CUSTOS_*` environment variables, then command-line flags.
//! Secrets may also come from files named by `*_FILE` variables.

use crate::secret_env::env;
pub use crate::secret_env::secret_env;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use custos_app::{AppConfig, DbOptions};

use crate::config_sections::{
    ActivitiesSection, ApiKeysSection, AuditSection, CodesSection, EventsSection, ImportsSection,
    LifecycleSection, StatsSection,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    /// The console's address as people reach it (`https://custos.example.com`, behind a
    /// proxy too); notifications sent outside custos link to their page under it.
    pub public_url: Option<String>,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub codes: CodesSection,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub mail: crate::mail_config::MailSection,
    #[serde(default)]
    pub applications: ApplicationsSection,
    #[serde(default)]
    pub duplicates: DuplicatesSection,
    #[serde(default)]
    pub exports: ExportsSection,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub imports: ImportsSection,
    #[serde(default)]
    pub tls: TlsSection,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub stats: StatsSection,
    #[serde(default)]
    pub activities: ActivitiesSection,
    #[serde(default)]
    pub lifecycle: LifecycleSection,
    #[serde(default)]
    pub quality: crate::quality_config::QualitySection,
    #[serde(default)]
    pub sources: crate::sources_config::SourcesSection,
    #[serde(default)]
    pub api_keys: ApiKeysSection,
    #[serde(default)]
    pub events: EventsSection,
    #[serde(default)]
    pub nats: crate::nats::NatsSection,
    #[serde(default)]
    pub outbound: crate::webhooks_config::OutboundSection,
    #[serde(default)]
    pub webhooks: crate::webhooks_config::WebhooksSection,
    #[serde(default)]
    pub notification_channels: crate::webhooks_config::ChannelsSection,
    #[serde(default)]
    pub ldap: crate::login_config::LdapSection,
    #[serde(default)]
    pub oidc: Vec<crate::login_config::OidcSection>,
}

/// `[tls]`: serve HTTPS with this PEM certificate chain and key (also `CUSTOS_TLS_CERT`,
/// `CUSTOS_TLS_KEY`); both or neither. SIGHUP reloads the files.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// `[metrics]`: who may read `/metrics`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Peer addresses or networks allowed without a token (default loopback only:
    /// `["127.0.0.0/8", "::1"]`; `[]` allows none). Also `CUSTOS_METRICS_ALLOW`,
    /// comma-separated.
    pub allow: Option<Vec<String>>,
    /// Bearer token that admits any peer. Better from `CUSTOS_METRICS_TOKEN` or
    /// `CUSTOS_METRICS_TOKEN_FILE`, which take precedence.
    pub token: Option<String>,
}

/// `[exports]`: files of export jobs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportsSection {
    /// Where job files are written (default `<data_dir>/exports`; also
    /// `CUSTOS_EXPORTS_DIR`). Servers sharing one PostgreSQL database need a shared
    /// directory here, or a download may reach a server without the file.
    pub dir: Option<PathBuf>,
    /// How long a finished export's file is kept, in hours (default 24).
    pub keep_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationsSection {
    /// Remind approvers of tasks pending longer than this many hours (off when absent).
    pub reminder_after_hours: Option<u64>,
}

/// `[duplicates]`: score cuts of the duplicate check.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicatesSection {
    /// At or above: a creation is blocked (default 0.9).
    pub definite: Option<f64>,
    /// At or above: a warning (default 0.5).
    pub possible: Option<f64>,
    /// Duplicate checks a user may run a minute (default 30; 0: no limit).
    pub checks_per_minute: Option<u32>,
    /// How many of them at once (default 20).
    pub check_burst: Option<u32>,
}

/// `[auth]`: sessions, throttling of failed logins, the client address behind proxies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    pub session_ttl_minutes: Option<u64>,
    /// A console session ends after this many minutes without a request (default 30).
    pub session_idle_minutes: Option<u64>,
    /// Mark console cookies `Secure` although custos itself serves plain HTTP (behind a
    /// TLS-terminating proxy). Always on when `[tls]` is set.
    pub secure_cookies: Option<bool>,
    /// Failures from one address for one username before the pair waits (default 5;
    /// `lockout_threshold` before accounts stopped being locked).
    #[serde(alias = "lockout_threshold")]
    pub throttle_failures: Option<i64>,
    /// Failures for one username from all addresses before every address that failed for
    /// it waits too (default 50).
    pub throttle_user_failures: Option<i64>,
    /// The first wait in seconds, doubled with each further failure (default 60).
    pub throttle_first_seconds: Option<u64>,
    /// The longest wait in minutes (default 15; `lockout_minutes` before).
    #[serde(alias = "lockout_minutes")]
    pub throttle_max_minutes: Option<u64>,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` names the
    /// client; from other peers the header is ignored (default: none).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    pub max_connections: Option<u32>,
}

fn apply_auth_section(app: &mut AppConfig, auth: &AuthSection) -> Result<(), String> {
    let t = &mut app.login_throttle;
    if let Some(n) = auth.throttle_failures {
        t.pair_failures = n.max(1);
    }
    if let Some(n) = auth.throttle_user_failures {
        t.user_failures = n.max(1);
    }
    if let Some(s) = auth.throttle_first_seconds {
        t.first_delay = Duration::from_secs(s.max(1));
    }
    if let Some(m) = auth.throttle_max_minutes {
        t.max_delay = Duration::from_secs(m.max(1) * 60);
    }
    if t.pair_failures > t.user_failures {
        return Err(format!(
            "[auth] throttle_user_failures ({}) 不能小于 throttle_failures ({}) / must not be \
             below throttle_failures",
            t.user_failures, t.pair_failures
        ));
    }
    app.trusted_proxies = auth
        .trusted_proxies
        .iter()
        .map(|p| parse_proxy(p))
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// An address (`10.0.0.1`) or a network (`10.0.0.0/8`).
fn parse_proxy(text: &str) -> Result<custos_app::ipnet::IpNet, String> {
    let t = text.trim();
    t.parse::<custos_app::ipnet::IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(Into::into))
        .map_err(|_| {
            format!(
                "[auth] trusted_proxies: “{text}” 不是 IP 地址或网段 / is not an IP address or \
                 network (e.g. 10.0.0.1 or 10.0.0.0/8)"
            )
        })
}

/// The effective settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub db: DbOptions,
    pub listen: String,
    pub app: AppConfig,
    /// SMTP for notification e-mail, when configured.
    pub smtp: Option<custos_app::mail::SmtpConfig>,
    pub reminder_after: Option<Duration>,
    /// When `custos serve` writes periodic audit checkpoints.
    pub audit_checkpoint_due: custos_app::audit::Due,
    /// Certificate chain and key files when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// HTTP settings that are not business rules (`/metrics` access).
    pub web: custos_web::WebConfig,
    /// The NATS JetStream publisher of the event log, when configured.
    pub nats: Option<crate::nats::NatsSettings>,
}

/// Where the data lives: the data directory and, for PostgreSQL, the database URL.
pub struct Location {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    file: FileConfig,
}

/// The listen address `serve` would use without a `--listen` flag.
pub fn listen_of(location: &Location) -> String {
    env("CUSTOS_LISTEN")
        .or_else(|| location.file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string())
}

/// The TLS certificate and key files `serve` would use, if any.
pub fn tls_files(location: &Location) -> Result<Option<(PathBuf, PathBuf)>, String> {
    tls_pair(
        location.file.tls.cert.clone(),
        location.file.tls.key.clone(),
    )
}

fn tls_pair(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<(PathBuf, PathBuf)>, String> {
    match (
        env("CUSTOS_TLS_CERT").map(PathBuf::from).or(cert),
        env("CUSTOS_TLS_KEY").map(PathBuf::from).or(key),
    ) {
        (Some(cert), Some(key)) => Ok(Some((cert, key))),
        (None, None) => Ok(None),
        _ => Err("[tls] cert 与 key 须同时给出 / cert and key must be given together".to_string()),
    }
}

/// The configuration file the Debian package installs, used when neither `--config` nor
/// `CUSTOS_CONFIG` names one, so that `sudo -u custos custos …` on an installed system
/// works on the service's data.
pub const INSTALLED_CONFIG: &str = "/etc/custos/custos.toml";

fn installed_config() -> Option<PathBuf> {
    let path = PathBuf::from(INSTALLED_CONFIG);
    path.is_file().then_some(path)
}

/// Resolve the data location only: touches no key and creates nothing (restore uses it
/// before the directory holds anything).
pub fn locate(
    config_path: Option<&Path>,
    data_dir_flag: Option<PathBuf>,
    database_url_flag: Option<String>,
) -> Result<Location, String> {
    let path = config_path
        .map(Path::to_path_buf)
        .or_else(|| env("CUSTOS_CONFIG").map(PathBuf::from))
        .or_else(installed_config);
    let file: FileConfig = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read config file {}: {e}", p.display()))?;
            toml::from_str(&text)
                .map_err(|e| format!("config file {} is invalid: {e}", p.display()))?
        }
        None => FileConfig::default(),
    };
    let data_dir = data_dir_flag
        .or_else(|| env("CUSTOS_DATA_DIR").map(PathBuf::from))
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./custos-data"));
    let database_url = match database_url_flag {
        Some(u) => Some(u),
        None => secret_env("CUSTOS_DATABASE_URL")?.or_else(|| file.database_url.clone()),
    };
    Ok(Location {
        data_dir,
        database_url,
        file,
    })
}

/// The PII key ring given by `CUSTOS_PII_KEY` (one or several keys) or
/// `CUSTOS_PII_KEY_FILE` (the key file, which `custos key rotate` and `retire` rewrite),
/// if any.
pub fn env_pii_key() -> Result<Option<custos_app::pii::PiiKey>, String> {
    if env("CUSTOS_PII_KEY").is_none() {
        if let Some(path) = env("CUSTOS_PII_KEY_FILE") {
            return custos_app::pii::PiiKey::load_file(Path::new(&path))?
                .map(Some)
                .ok_or_else(|| format!("CUSTOS_PII_KEY_FILE ({path}) does not exist"));
        }
    }
    secret_env("CUSTOS_PII_KEY")?
        .map(|k| custos_app::pii::PiiKey::from_base64(&k))
        .transpose()
}

/// The personal data key ring of the database in `data_dir`: `CUSTOS_PII_KEY(_FILE)`,
/// else `pii.key` in the directory (created with a new key when absent).
pub fn pii_key_of(data_dir: &Path) -> Result<custos_app::pii::PiiKey, String> {
    match env_pii_key()? {
        Some(k) => Ok(k),
        None => custos_app::pii::PiiKey::load_or_create_file(&data_dir.join("pii.key")),
    }
}

pub fn load(
    config_path: Option<&Path>,
    data_dir_flag: Option<PathBuf>,
    database_url_flag: Option<String>,
    listen_flag: Option<String>,
) -> Result<Settings, String> {
    let Location {
        data_dir,
        database_url,
        file,
    } = locate(config_path, data_dir_flag, database_url_flag)?;
    let listen = listen_flag
        .or_else(|| env("CUSTOS_LISTEN"))
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let pii_key = pii_key_of(&data_dir)?;
    let mut app = AppConfig {
        pii_key,
        ..AppConfig::default()
    };
    if let Some(m) = file.auth.session_ttl_minutes {
        app.session_ttl = Duration::from_secs(m * 60);
    }
    app.stats_cache_ttl = Duration::from_secs(file.stats.cache_seconds.unwrap_or(60));
    if let Some(m) = file.auth.session_idle_minutes {
        app.session_idle = Duration::from_secs(m.max(1) * 60);
    }
    apply_auth_section(&mut app, &file.auth)?;
    if file.duplicates.definite.is_some() || file.duplicates.possible.is_some() {
        let d = app.duplicate_thresholds;
        let definite = file.duplicates.definite.unwrap_or(d.definite);
        let possible = file.duplicates.possible.unwrap_or(d.possible);
        app.duplicate_thresholds = custos_core::matching::Thresholds::new(definite, possible)
            .ok_or_else(|| {
                format!(
                    "[duplicates] 阈值须在 0 到 1 之间且 possible ≤ definite / thresholds must be \
                     in [0, 1] with possible <= definite (definite {definite}, possible {possible})"
                )
            })?;
    }
    let d = custos_app::apikeys::ApiKeyConfig::default();
    app.api_keys = custos_app::apikeys::ApiKeyConfig {
        rate_per_second: file.api_keys.rate_per_second.unwrap_or(d.rate_per_second),
        burst: file.api_keys.burst.unwrap_or(d.burst).max(1),
    };
    if file.duplicates.checks_per_minute.is_some() || file.duplicates.check_burst.is_some() {
        let d = custos_app::rate_limit::RateLimit::DUPLICATE_CHECKS;
        app.duplicate_check_limit = custos_app::rate_limit::RateLimit::new(
            file.duplicates.checks_per_minute.unwrap_or(d.per_minute),
            file.duplicates.check_burst.unwrap_or(d.burst),
        );
    }
    app.exports_dir = Some(
        env("CUSTOS_EXPORTS_DIR")
            .map(PathBuf::from)
            .or(file.exports.dir)
            .unwrap_or_else(|| data_dir.join("exports")),
    );
    app.audit_checkpoints = Some(
        env("CUSTOS_AUDIT_CHECKPOINT_FILE")
            .map(PathBuf::from)
            .or(file.audit.checkpoint_file)
            .unwrap_or_else(|| data_dir.join(custos_app::audit_anchor::CHECKPOINT_FILE)),
    );
    let audit_checkpoint_due = custos_app::audit::Due {
        interval: match file.audit.checkpoint_interval_minutes.unwrap_or(60) {
            0 => Duration::MAX,
            m => Duration::from_secs(m.saturating_mul(60)),
        },
        entries: match file.audit.checkpoint_every_entries.unwrap_or(10_000) {
            n if n < 1 => {
                return Err(
                    "[audit] checkpoint_every_entries 须大于 0 / must be greater than 0"
                        .to_string(),
                )
            }
            n => n,
        },
    };
    if let Some(h) = file.exports.keep_hours {
        if h == 0 {
            return Err("[exports] keep_hours 须大于 0 / must be greater than 0".to_string());
        }
        app.export_ttl = Duration::from_secs(h * 3600);
    }
    file.imports.apply(&mut app.import_limits)?;
    file.activities.apply(&mut app.activities)?;
    file.lifecycle.apply(&mut app.lifecycle)?;
    file.events.apply(&mut app.events)?;
    file.outbound.apply(&mut app.outbound)?;
    file.webhooks.apply(&mut app.webhooks)?;
    file.notification_channels.apply(&mut app.channels)?;
    file.quality.apply(&mut app.quality)?;
    file.sources.apply(&mut app.sources)?;
    app.ldap = file
        .ldap
        .settings(secret_env("CUSTOS_LDAP_BIND_PASSWORD")?)?;
    app.oidc = crate::login_config::oidc_providers(file.oidc, secret_env)?;
    file.codes.apply(&mut app.code_capacity_warning)?;
    app.public_url = env("CUSTOS_PUBLIC_URL")
        .or(file.public_url)
        .filter(|u| !u.trim().is_empty())
        .map(|u| custos_app::notify::check_public_url(&u))
        .transpose()?;
    let nats = file.nats.settings()?;
    let mut db = DbOptions::sqlite(data_dir);
    db.database_url = database_url;
    if let Some(n) = file.database.max_connections {
        db.pg_max_connections = n;
    }
    let smtp = file.mail.settings(env("CUSTOS_SMTP_HOST"))?;
    app.smtp = smtp.clone();
    let reminder_after = file
        .applications
        .reminder_after_hours
        .filter(|h| *h > 0)
        .map(|h| Duration::from_secs(h * 3600));
    let tls = tls_pair(file.tls.cert, file.tls.key)?;
    let web = custos_web::WebConfig {
        metrics: metrics_access(file.metrics)?,
        secure_cookies: file.auth.secure_cookies.unwrap_or(false),
    };
    Ok(Settings {
        db,
        listen,
        app,
        smtp,
        reminder_after,
        audit_checkpoint_due,
        tls,
        web,
        nats,
    })
}

fn metrics_access(section: MetricsSection) -> Result<custos_web::MetricsAccess, String> {
    let mut access = custos_web::MetricsAccess::default();
    let allow = match env("CUSTOS_METRICS_ALLOW") {
        Some(list) => Some(
            list.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        None => section.allow,
    };
    if let Some(entries) = allow {
        access.allow = entries
            .iter()
            .map(|e| custos_web::MetricsAccess::parse_allowed(e))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("[metrics] allow: {e}"))?;
    }
    access.token = secret_env("CUSTOS_METRICS_TOKEN")?.or(section.token);
    if access.token.as_deref().is_some_and(|t| t.trim().len() < 16) {
        return Err(
            "[metrics] token 须至少 16 个字符 / the metrics token must be at least 16 characters"
                .to_string(),
        );
    }
    Ok(access)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn load_toml(dir: &Path, toml: &str) -> Result<Settings, String> {
        let file = dir.join("custos.toml");
        std::fs::write(&file, toml).unwrap();
        load(Some(&file), None, None, None)
    }

    #[test]
    fn exports_section_sets_directory_and_retention() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let toml = format!("data_dir = {:?}\n", data.to_string_lossy());
        let s = load_toml(tmp.path(), &toml).unwrap();
        if std::env::var_os("CUSTOS_EXPORTS_DIR").is_none() {
            assert_eq!(s.app.exports_dir, Some(data.join("exports")));
        }
        assert_eq!(s.app.export_ttl, Duration::from_secs(24 * 3600));
        let s = load_toml(
            tmp.path(),
            &format!("{toml}[exports]\ndir = \"/srv/exports\"\nkeep_hours = 2\n"),
        )
        .unwrap();
        if std::env::var_os("CUSTOS_EXPORTS_DIR").is_none() {
            assert_eq!(s.app.exports_dir, Some(PathBuf::from("/srv/exports")));
        }
        assert_eq!(s.app.export_ttl, Duration::from_secs(2 * 3600));
        let e = load_toml(tmp.path(), &format!("{toml}[exports]\nkeep_hours = 0\n"))
            .err()
            .unwrap();
        assert!(e.contains("keep_hours"), "{e}");
        let e = load_toml(tmp.path(), &format!("{toml}[exports]\nkeep = 3\n"))
            .err()
            .unwrap();
        assert!(e.contains("keep"), "{e}");
    }

    #[test]
    fn activities_section_sets_results_and_cooperation_rule() {
        let tmp = tempfile::tempdir().unwrap();
        let toml = format!("data_dir = {:?}\n", tmp.path().join("d").to_string_lossy());
        let s = load_toml(tmp.path(), &toml).unwrap();
        assert_eq!(s.app.activities.cooperation.to, "成交客户");
        let s = load_toml(
            tmp.path(),
            &format!(
                "{toml}[activities]\nfollowup_results = [\"初访\", \"报价\"]\n\
                 cooperation_from = [\"潜在\"]\ncooperation_to = \"老客户\"\n"
            ),
        )
        .unwrap();
        assert_eq!(s.app.activities.followup_results, ["初访", "报价"]);
        assert_eq!(
            s.app.activities.cooperation.next(Some("潜在")).as_deref(),
            Some("老客户")
        );
        assert_eq!(s.app.activities.cooperation.next(None), None);
        let e = load_toml(
            tmp.path(),
            &format!("{toml}[activities]\nfollowup_results = []\n"),
        )
        .err()
        .unwrap();
        assert!(e.contains("followup_results"), "{e}");
    }

    #[test]
    fn public_url_and_codes_section_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let toml = format!("data_dir = {:?}\n", tmp.path().join("d").to_string_lossy());
        let s = load_toml(tmp.path(), &toml).unwrap();
        assert_eq!(s.app.code_capacity_warning.percent, 10);
        if std::env::var_os("CUSTOS_PUBLIC_URL").is_some() {
            return;
        }
        assert_eq!(s.app.public_url, None);
        let s = load_toml(
            tmp.path(),
            &format!(
                "public_url = \"https://custos.example.com/\"\n{toml}[codes]\n\
                 capacity_warning_remaining = 500\n"
            ),
        )
        .unwrap();
        assert_eq!(
            s.app.public_url.as_deref(),
            Some("https://custos.example.com")
        );
        assert_eq!(s.app.code_capacity_warning.remaining, Some(500));
        for bad in [
            "public_url = \"ftp://custos.example.com\"",
            "public_url = \"https://u:p@custos.example.com\"",
            "public_url = \"https://custos.example.com/\\u0007\"",
        ] {
            let e = load_toml(tmp.path(), &format!("{bad}\n{toml}"))
                .err()
                .unwrap();
            assert!(e.contains("public_url"), "{e}");
        }
        for bad in [
            "capacity_warning_percent = 101",
            "capacity_warning_remaining = 0",
        ] {
            assert!(load_toml(tmp.path(), &format!("{toml}[codes]\n{bad}\n")).is_err());
        }
    }

    #[test]
    fn events_section_sets_retention() {
        let tmp = tempfile::tempdir().unwrap();
        let toml = format!("data_dir = {:?}\n", tmp.path().join("d").to_string_lossy());
        let s = load_toml(tmp.path(), &toml).unwrap();
        assert_eq!(s.app.events.retention_days, 90);
        let s = load_toml(tmp.path(), &format!("{toml}[events]\nretention_days = 7\n")).unwrap();
        assert_eq!(s.app.events.retention_days, 7);
        for bad in ["retention_days = 0", "retention_days = 4000", "keep = 1"] {
            assert!(load_toml(tmp.path(), &format!("{toml}[events]\n{bad}\n")).is_err());
        }
    }

    #[test]
    fn lifecycle_section_sets_rules_hour_and_notice() {
        let tmp = tempfile::tempdir().unwrap();
        let toml = format!("data_dir = {:?}\n", tmp.path().join("d").to_string_lossy());
        let s = load_toml(tmp.path(), &toml).unwrap();
        assert_eq!(s.app.lifecycle.rules.lost_months, 12);
        assert_eq!(s.app.lifecycle.daily_hour, 2);
        let s = load_toml(
            tmp.path(),
            &format!(
                "{toml}[lifecycle]\nnew_months = 6\ndormant_months = 3\nlost_months = 9\n\
                 daily_hour = 5\nexpiry_notice_days = 14\n"
            ),
        )
        .unwrap();
        let l = &s.app.lifecycle;
        assert_eq!(
            (
                l.rules.new_months,
                l.rules.dormant_months,
                l.rules.lost_months
            ),
            (6, 3, 9)
        );
        assert_eq!((l.daily_hour, l.expiry_notice_days), (5, 14));
        for bad in ["dormant_months = 12", "daily_hour = 24", "new_months = 0"] {
            let e = load_toml(tmp.path(), &format!("{toml}[lifecycle]\n{bad}\n"))
                .err()
                .unwrap();
            assert!(e.contains("[lifecycle]"), "{e}");
        }
    }

    #[test]
    fn imports_section_sets_limits() {
        let tmp = tempfile::tempdir().unwrap();
        let toml = format!("data_dir = {:?}\n", tmp.path().join("d").to_string_lossy());
        let s = load_toml(tmp.path(), &toml).unwrap();
        assert_eq!(
            s.app.import_limits,
            custos_app::import::ImportLimits::default()
        );
        let s = load_toml(
            tmp.path(),
            &format!("{toml}[imports]\nxlsx_cell_bytes = 65_536\nrow_bytes = 1_000_000\n"),
        )
        .unwrap();
        assert_eq!(s.app.import_limits.xlsx_cell_bytes, 65_536);
        assert_eq!(s.app.import_limits.row_bytes, 1_000_000);
        assert_eq!(
            s.app.import_limits.xlsx_total_bytes,
            custos_app::import::ImportLimits::default().xlsx_total_bytes
        );
        let e = load_toml(
            tmp.path(),
            &format!("{toml}[imports]\nxlsx_part_bytes = 0\n"),
        )
        .err()
        .unwrap();
        assert!(e.contains("xlsx_part_bytes"), "{e}");
    }

    #[test]
    fn auth_section_sets_throttling_and_trusted_proxies() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let toml = format!("data_dir = {:?}\n", data.to_string_lossy());
        let s = load_toml(
            tmp.path(),
            &format!(
                "{toml}[auth]\nthrottle_failures = 3\nthrottle_max_minutes = 5\n\
                 trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\", \"::1\"]\n"
            ),
        )
        .unwrap();
        assert_eq!(s.app.login_throttle.pair_failures, 3);
        assert_eq!(s.app.login_throttle.max_delay, Duration::from_secs(300));
        let nets: Vec<String> = s
            .app
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
        // The names of before the throttling still read.
        let s = load_toml(
            tmp.path(),
            &format!("{toml}[auth]\nlockout_threshold = 4\n"),
        )
        .unwrap();
        assert_eq!(s.app.login_throttle.pair_failures, 4);
        let e = load_toml(
            tmp.path(),
            &format!("{toml}[auth]\ntrusted_proxies = [\"proxy.local\"]\n"),
        )
        .err()
        .unwrap();
        assert!(e.contains("trusted_proxies"), "{e}");
    }

    #[test]
    fn metrics_section_sets_allowed_networks_and_token() {
        if std::env::var_os("CUSTOS_METRICS_ALLOW").is_some()
            || std::env::var_os("CUSTOS_METRICS_TOKEN").is_some()
            || std::env::var_os("CUSTOS_METRICS_TOKEN_FILE").is_some()
        {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let toml = format!("data_dir = {:?}\n", data.to_string_lossy());
        let loopback = Some("127.0.0.1".parse().unwrap());
        let other = Some("10.2.3.4".parse().unwrap());
        let s = load_toml(tmp.path(), &toml).unwrap();
        assert!(s.web.metrics.permits(loopback, None));
        assert!(!s.web.metrics.permits(other, None));
        let s = load_toml(
            tmp.path(),
            &format!("{toml}[metrics]\nallow = [\"10.0.0.0/8\"]\ntoken = \"0123456789abcdef\"\n"),
        )
        .unwrap();
        assert!(!s.web.metrics.permits(loopback, None));
        assert!(s.web.metrics.permits(other, None));
        assert!(s
            .web
            .metrics
            .permits(loopback, Some(b"Bearer 0123456789abcdef")));
        let e = load_toml(
            tmp.path(),
            &format!("{toml}[metrics]\nallow = [\"nowhere\"]\n"),
        )
        .err()
        .unwrap();
        assert!(e.contains("nowhere"), "{e}");
        let e = load_toml(tmp.path(), &format!("{toml}[metrics]\ntoken = \"short\"\n"))
            .err()
            .unwrap();
        assert!(e.contains("16"), "{e}");
    }
}
