//! Use cases of custos. Each public method takes an [`Actor`] (or credentials), decides
//! authorisation here — never in a handler — validates, and does its writes and the
//! audit entry in one transaction.

pub mod activities;
pub mod actor;
pub mod apikeys;
pub mod applications;
pub mod audit;
pub mod audit_anchor;
mod audit_seal;
pub mod auth;
pub mod backup;
mod batch;
pub mod bench_support;
pub mod browser_session;
pub mod channels;
pub mod clock;
pub mod codes;
pub mod data_lock;
#[macro_use]
pub mod customers;
pub mod customer_assign;
pub mod customer_page;
pub mod dashboard;
pub mod demo;
pub mod deployment;
pub mod error;
pub mod events;
pub mod external;
pub mod flows;
pub mod hierarchy;
pub mod keyring;
pub mod lifecycle;
pub mod login_throttle;
pub mod mail;
pub mod notify;
pub mod org;
pub mod outbound;
pub mod overview;
pub mod password_policy;
pub mod quality;
pub mod rate_limit;
pub mod reminders;
pub mod reports;
pub mod restore_guard;
pub mod resume_issuing;
pub mod sources;
mod stats_cache;
pub mod terms;
pub mod webhooks;

use std::time::Duration;

pub use actor::{Actor, Context, Scope, Source};
pub use customers::{duplicates, merge};
pub use custos_store::{AuditFilter, Backend, ChainReport, Db, DbOptions};
pub use error::{AppError, AppResult};
pub use input::Input;
pub use ipnet;

/// Tunables of the use cases; defaults are the documented behaviour.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub session_ttl: Duration,
    /// A console (browser) session ends after this long without a request.
    pub session_idle: Duration,
    /// How long customer statistics of one data scope are reused (dashboard, `/stats`);
    /// zero: counted on every request. The `custos` command sets 60 s by default.
    pub stats_cache_ttl: Duration,
    /// Throttling of failed logins (see `login_throttle`).
    pub login_throttle: login_throttle::LoginThrottleConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the client; from any other peer the
    /// header is ignored and the TCP peer is the client (see `custos-web`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Fewest characters of a new password; never below `password_policy::MIN_CHARS`.
    pub min_password_len: usize,
    /// Time zone of code dates and resets (default Asia/Shanghai).
    pub code_timezone: chrono_tz::Tz,
    /// Test-only fault injection after a code is drawn (see `customers::FaultHook`).
    pub fault_after_code_draw: Option<FaultAfterDraw>,
    /// Key ring of personal data at rest (see `pii`); the default is random, for tests.
    pub pii_key: pii::PiiKey,
    /// How often a server reads which PII key is active (another server or `custos key`
    /// may have rotated it) and moves the re-keying on (see `keyring`).
    pub pii_key_refresh: Duration,
    /// Duplicate-check score cuts: `definite` blocks a creation, `possible` warns.
    pub duplicate_thresholds: custos_core::matching::Thresholds,
    /// Duplicate checks (`POST /duplicates/check`) per user; `None`: unlimited. Counted
    /// in the database, so shared by every server on it.
    pub duplicate_check_limit: Option<rate_limit::RateLimit>,
    /// Where export jobs write their files. `None`: `exports/` beside the SQLite
    /// database, or `custos-exports` in the system temporary directory on PostgreSQL
    /// (the `custos` command always sets it: `[exports] dir`, default `<data_dir>/exports`).
    pub exports_dir: Option<std::path::PathBuf>,
    /// How long the file of a finished export job is kept (default 24 h).
    pub export_ttl: Duration,
    /// The append-only file of signed audit checkpoints (see `audit_anchor`); `None`:
    /// no checkpoints are written or checked (the `custos` command always sets one).
    pub audit_checkpoints: Option<std::path::PathBuf>,
    /// Bounds on what one import file may cost to read (`[imports]`).
    pub import_limits: import::ImportLimits,
    /// The mail relay of notifications (`[mail]`); `None`: no e-mail is sent. Kept here
    /// too so the system page can show it and send a test message.
    pub smtp: Option<mail::SmtpConfig>,
    /// Follow-up results and the cooperation-status rule of contracts (`[activities]`).
    pub activities: activities::ActivityConfig,
    /// Life-cycle rules, the daily job's hour and reminder notice (`[lifecycle]`).
    pub lifecycle: lifecycle::LifecycleConfig,
    /// Rules, weights and KPI targets of data quality (`[quality]`).
    pub quality: quality::QualityConfig,
    /// How each source system's unknown customers are placed by upserts (`[sources]`).
    pub sources: sources::SourcesConfig,
    /// The default rate limit of API keys (`[api_keys]`).
    pub api_keys: apikeys::ApiKeyConfig,
    /// Retention of the event log (`[events]`).
    pub events: events::EventsConfig,
    /// Timeouts and extra CA of outbound HTTP (`[outbound]`).
    pub outbound: outbound::OutboundConfig,
    /// Retries, dead letters and leases of webhook deliveries (`[webhooks]`).
    pub webhooks: webhooks::WebhooksConfig,
    /// Retention of notification channels' deliveries (`[notification_channels]`).
    pub channels: channels::ChannelsConfig,
    /// Login through an LDAP directory or Active Directory (`[ldap]`); `None`: off.
    pub ldap: Option<external::ldap::LdapConfig>,
    /// OpenID Connect single sign-on providers (`[[oidc]]`).
    pub oidc: Vec<external::oidc::OidcProvider>,
    /// When a code rule's sequence scope warns that it runs out (`[codes]`).
    pub code_capacity_warning: codes::CapacityWarning,
    /// The console's address as people reach it (`public_url`), checked; notifications
    /// sent outside custos link to their page under it. `None`: they carry no link.
    pub public_url: Option<String>,
}

/// Wrapper so the config stays `Debug`.
#[derive(Clone)]
pub struct FaultAfterDraw(pub customers::FaultHook);

impl std::fmt::Debug for FaultAfterDraw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultAfterDraw")
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            session_ttl: Duration::from_secs(8 * 3600),
            session_idle: Duration::from_secs(30 * 60),
            stats_cache_ttl: Duration::ZERO,
            login_throttle: Default::default(),
            trusted_proxies: Vec::new(),
            min_password_len: password_policy::MIN_CHARS,
            code_timezone: chrono_tz::Asia::Shanghai,
            fault_after_code_draw: None,
            pii_key: pii::PiiKey::random(),
            pii_key_refresh: Duration::from_secs(5),
            duplicate_thresholds: Default::default(),
            duplicate_check_limit: Some(rate_limit::RateLimit::DUPLICATE_CHECKS),
            exports_dir: None,
            export_ttl: Duration::from_secs(24 * 3600),
            audit_checkpoints: None,
            import_limits: Default::default(),
            smtp: None,
            activities: Default::default(),
            lifecycle: Default::default(),
            quality: Default::default(),
            sources: Default::default(),
            api_keys: Default::default(),
            events: Default::default(),
            outbound: Default::default(),
            webhooks: Default::default(),
            channels: Default::default(),
            ldap: None,
            oidc: Vec::new(),
            code_capacity_warning: Default::default(),
            public_url: None,
        }
    }
}

/// The application: a database handle plus configuration. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub config: std::sync::Arc<AppConfig>,
    pub(crate) batcher: std::sync::Arc<batch::Batcher>,
    /// Matching features of customers met recently (see `customers::duplicates`).
    pub(crate) match_cache: std::sync::Arc<customers::duplicates::MatchCache>,
    /// The reference data a write transaction saw last (see `customers::Checked`).
    pub(crate) reference_seen: std::sync::Arc<customers::ReferenceSeen>,
    /// Recent customer statistics per data scope (see `stats_cache`).
    pub(crate) stats_cache: std::sync::Arc<stats_cache::StatsCache>,
    /// Import jobs this process runs (see `import::running`).
    pub(crate) running_imports: std::sync::Arc<import::running::RunningImports>,
    /// Rate-limit buckets of API keys, and of client addresses that sent bad keys.
    pub(crate) key_buckets: std::sync::Arc<apikeys::Buckets>,
    pub(crate) key_failures: std::sync::Arc<apikeys::Buckets>,
    /// The outbound HTTP client, made on first use (see `webhooks`).
    pub(crate) outbound: std::sync::Arc<std::sync::OnceLock<Result<outbound::Outbound, String>>>,
}

impl App {
    /// Open the database (migrating it) and make sure built-in roles exist.
    pub async fn open(opts: &DbOptions, config: AppConfig) -> AppResult<App> {
        let db = Db::open(opts).await.map_err(AppError::from_open)?;
        let app = App::from_db(db, config);
        app.org().ensure_builtin_roles().await?;
        app.keyring().check_pii_key().await?;
        app.audit().seal_unkeyed_audit_chain().await?;
        app.imports().seal_import_rows().await?;
        app.imports().tidy_import_uploads().await?;
        app.customers().ensure_match_index().await?;
        Ok(app)
    }

    pub fn from_db(db: Db, config: AppConfig) -> App {
        db.set_audit_keys(config.pii_key.audit_keys());
        App {
            db,
            config: std::sync::Arc::new(config),
            batcher: Default::default(),
            match_cache: Default::default(),
            reference_seen: Default::default(),
            stats_cache: Default::default(),
            running_imports: Default::default(),
            key_buckets: Default::default(),
            key_failures: Default::default(),
            outbound: Default::default(),
        }
    }
}

/// `App` hands out one service per capability; each holds the use cases of its module.
impl App {
    pub fn customers(&self) -> customers::Customers<'_> {
        customers::Customers { app: self }
    }

    pub fn codes(&self) -> codes::Codes<'_> {
        codes::Codes { app: self }
    }

    pub fn applications(&self) -> applications::Applications<'_> {
        applications::Applications { app: self }
    }

    pub fn flows(&self) -> flows::Flows<'_> {
        flows::Flows { app: self }
    }

    pub fn org(&self) -> org::Org<'_> {
        org::Org { app: self }
    }

    pub fn auth(&self) -> auth::Auth<'_> {
        auth::Auth { app: self }
    }

    pub fn fields(&self) -> fields::Fields<'_> {
        fields::Fields { app: self }
    }

    pub fn audit(&self) -> audit::Audit<'_> {
        audit::Audit { app: self }
    }

    pub fn imports(&self) -> import::Imports<'_> {
        import::Imports { app: self }
    }

    pub fn exports(&self) -> export::Exports<'_> {
        export::Exports { app: self }
    }

    pub fn backups(&self) -> backup::Backups<'_> {
        backup::Backups { app: self }
    }

    pub fn activities(&self) -> activities::Activities<'_> {
        activities::Activities { app: self }
    }

    pub fn quality(&self) -> quality::Quality<'_> {
        quality::Quality { app: self }
    }

    pub fn overview(&self) -> overview::Overview<'_> {
        overview::Overview { app: self }
    }

    pub fn lifecycle(&self) -> lifecycle::Lifecycle<'_> {
        lifecycle::Lifecycle { app: self }
    }

    pub fn reports(&self) -> reports::Reports<'_> {
        reports::Reports { app: self }
    }

    pub fn webhooks(&self) -> webhooks::Webhooks<'_> {
        webhooks::Webhooks { app: self }
    }

    pub fn channels(&self) -> channels::Channels<'_> {
        channels::Channels { app: self }
    }

    pub fn api_keys(&self) -> apikeys::ApiKeys<'_> {
        apikeys::ApiKeys { app: self }
    }

    pub fn events(&self) -> events::Events<'_> {
        events::Events { app: self }
    }

    pub fn sources(&self) -> sources::Sources<'_> {
        sources::Sources { app: self }
    }

    pub fn keyring(&self) -> keyring::Keyring<'_> {
        keyring::Keyring { app: self }
    }

    pub fn system(&self) -> system::System<'_> {
        system::System { app: self }
    }

    pub fn demo(&self) -> demo::Demo<'_> {
        demo::Demo { app: self }
    }
}

impl AppError {
    fn from_open(e: custos_store::StoreError) -> AppError {
        AppError::Internal(format!("cannot open database: {e}"))
    }
}

/// Render any value as the JSON text audit entries carry.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}

pub mod pii;

pub mod audit_list;
pub mod csv_cell;
pub mod customer_list;
pub mod demo_data;
pub mod field_effect;
pub mod fields;
pub mod input;
pub mod paging;
pub mod sealed;
pub mod search;
pub mod standard_fields;
pub mod system;
mod text_input;
pub mod xref;

pub mod export;
pub mod import;
#[cfg(test)]
mod tally_tests;
#[cfg(test)]
pub(crate) mod test_support;
