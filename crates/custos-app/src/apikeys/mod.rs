//! Service accounts and API keys (服务账号与 API 密钥): how other systems (CRM, ERP, OA,
//! BI) call the API without a person's login.
//!
//! A service account is a user of kind `service`: it holds roles and a department, and so
//! permissions and a data scope, exactly like a person, but it can never log in with a
//! password. Its API keys (`custos_<prefix>_<secret>`) are shown once, stored as a hash,
//! may expire, are revoked one by one (several per account, so rotation overlaps), and
//! each has a token-bucket rate limit. Every request is checked against the database —
//! revocation, expiry and disabling take effect on the next request on every server.

mod accounts;
mod authenticate;
mod bucket;
mod keys;
mod service;
mod token;
pub use service::ApiKeys;

use serde::{Deserialize, Serialize};

use crate::org::RoleAssignment;

pub use bucket::KeyRate;
pub use token::looks_like_api_key;

pub(crate) use bucket::Buckets;

/// `[api_keys]`: the rate every key gets unless it has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyConfig {
    /// Requests a second per key on average; 0: no limit.
    pub rate_per_second: u32,
    /// Requests one key may make at once after a pause.
    pub burst: u32,
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        ApiKeyConfig {
            rate_per_second: 20,
            burst: 40,
        }
    }
}

/// A new service account.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    /// Account name (3–32 letters, digits, `_ . -`); shares the namespace of usernames.
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The department its `department` data scope is counted from.
    #[serde(default)]
    pub department_id: Option<i64>,
    #[serde(default)]
    pub roles: Vec<RoleAssignment>,
}

/// A service account as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceAccountView {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub department_id: Option<i64>,
    pub disabled: bool,
    pub roles: Vec<RoleAssignment>,
    pub permissions: Vec<String>,
    /// Keys neither revoked nor expired.
    pub active_keys: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A new API key of a service account.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for (`ERP 生产环境`), 1–64 characters.
    pub name: String,
    /// RFC 3339, within two years; absent: one year from now.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// This key's rate, overriding `[api_keys] rate_per_second` (1–10000).
    #[serde(default)]
    pub rate_per_second: Option<u32>,
    /// This key's burst, overriding `[api_keys] burst` (1–10000).
    #[serde(default)]
    pub burst: Option<u32>,
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    /// The public part of the token (`custos_<prefix>_…`).
    pub prefix: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub created_at: String,
    pub created_by: Option<i64>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    pub rate_per_second: Option<i64>,
    pub burst: Option<i64>,
}

/// A key just made: the token is in this answer and nowhere else, ever.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    pub token: String,
    pub key: ApiKeyView,
}
