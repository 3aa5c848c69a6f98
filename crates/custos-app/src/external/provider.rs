//! One `[[oidc]]` provider as configured — OpenID Connect, or DingTalk, WeCom or Feishu
//! spoken to directly — with what the flows share: its kind and platform settings, the
//! cache of what was fetched from it, the bound on an answer, and why an exchange failed.
//! The flows are in `oidc` (the OpenID Connect code flow) and `platforms` (the three
//! platforms' own token and user calls).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use sha2::{Digest, Sha256};

use super::GroupMapping;

/// Largest answer read from a provider (discovery, keys, tokens, userinfo).
pub(super) const MAX_ANSWER: usize = 256 * 1024;

/// One `[[oidc]]` provider: OpenID Connect, or (by `kind`) DingTalk, WeCom or Feishu.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// `oidc`, or one of the platforms spoken to directly (see `platforms`).
    pub kind: ProviderKind,
    /// The key in URLs (`/console/auth/oidc/{name}`) and audit entries (`<kind>:<name>`).
    pub name: String,
    /// The button's label (钉钉, 企业微信, 飞书, Keycloak).
    pub label: String,
    /// The issuer; endpoints not given are discovered from
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// This server's callback URL as registered with the provider.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// `false` for an OAuth 2.0 provider without ID tokens (claims from userinfo).
    pub id_token: bool,
    pub subject_claim: String,
    pub username_claim: String,
    pub display_name_claim: String,
    pub email_claim: String,
    pub groups_claim: String,
    pub mappings: Vec<GroupMapping>,
    /// The settings of a platform kind (unused by `oidc`).
    pub platform: Platform,
    /// Discovery and keys, fetched on first use and reused for a while (see `oidc`).
    pub cache: Arc<Mutex<Cache>>,
}

/// What was fetched from a provider.
#[derive(Debug, Default)]
pub struct Cache {
    pub(super) endpoints: Option<(Instant, Endpoints)>,
    pub(super) keys: Option<(Instant, JwkSet)>,
    /// A platform's application access token and when to stop using it (WeCom).
    pub(super) app_token: Option<(Instant, String)>,
}

#[derive(Debug, Clone)]
pub(super) struct Endpoints {
    pub(super) issuer: Option<String>,
    pub(super) authorization: String,
    pub(super) token: String,
    pub(super) userinfo: Option<String>,
    pub(super) jwks: Option<String>,
}

impl OidcProvider {
    /// A provider with the usual defaults; the caller fills in the rest.
    pub fn new(name: &str, client_id: &str, redirect_uri: &str) -> OidcProvider {
        OidcProvider {
            kind: ProviderKind::Oidc,
            name: name.into(),
            label: name.into(),
            issuer: None,
            authorization_endpoint: None,
            token_endpoint: None,
            userinfo_endpoint: None,
            jwks_uri: None,
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: redirect_uri.into(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            id_token: true,
            subject_claim: "sub".into(),
            username_claim: "preferred_username".into(),
            display_name_claim: "name".into(),
            email_claim: "email".into(),
            groups_claim: "groups".into(),
            mappings: Vec::new(),
            platform: Platform::default(),
            cache: Arc::default(),
        }
    }

    /// A DingTalk, WeCom or Feishu provider with the platform's real addresses; the
    /// caller fills in the rest.
    pub fn platform(
        kind: ProviderKind,
        name: &str,
        client_id: &str,
        redirect_uri: &str,
    ) -> OidcProvider {
        let mut p = OidcProvider::new(name, client_id, redirect_uri);
        p.kind = kind;
        p.platform = Platform::defaults(kind);
        p.id_token = false;
        p
    }

    /// `<kind>:<name>` (`oidc:keycloak`, `dingtalk:corp`): the provider of its users'
    /// identities.
    pub fn provider_key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.name)
    }
}

/// Which protocol an `[[oidc]]` entry speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProviderKind {
    #[default]
    Oidc,
    DingTalk,
    WeCom,
    Feishu,
}

impl ProviderKind {
    pub fn parse(text: &str) -> Option<ProviderKind> {
        match text {
            "oidc" => Some(ProviderKind::Oidc),
            "dingtalk" => Some(ProviderKind::DingTalk),
            "wecom" => Some(ProviderKind::WeCom),
            "feishu" => Some(ProviderKind::Feishu),
            _ => None,
        }
    }

    /// The prefix of its identities' provider (`dingtalk:<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Oidc => "oidc",
            ProviderKind::DingTalk => "dingtalk",
            ProviderKind::WeCom => "wecom",
            ProviderKind::Feishu => "feishu",
        }
    }
}

/// The settings of a platform provider.
#[derive(Debug, Clone, Default)]
pub struct Platform {
    /// DingTalk: the organisation (corpId) whose members may sign in. WeCom: the corp id
    /// (the login page's `appid`, and `gettoken`'s `corpid`).
    pub corp_id: Option<String>,
    /// WeCom: the application's AgentId.
    pub agent_id: Option<String>,
    /// Feishu: the tenant whose members may sign in.
    pub tenant_key: Option<String>,
    /// Where the browser signs in (`https://login.dingtalk.com`).
    pub login_base: String,
    /// Where custos asks the platform (`https://api.dingtalk.com`).
    pub api_base: String,
}

impl Platform {
    /// The platform's real addresses.
    pub fn defaults(kind: ProviderKind) -> Platform {
        let (login, api) = match kind {
            ProviderKind::Oidc => ("", ""),
            ProviderKind::DingTalk => ("https://login.dingtalk.com", "https://api.dingtalk.com"),
            ProviderKind::WeCom => (
                "https://login.work.weixin.qq.com",
                "https://qyapi.weixin.qq.com",
            ),
            ProviderKind::Feishu => ("https://accounts.feishu.cn", "https://open.feishu.cn"),
        };
        Platform {
            login_base: login.into(),
            api_base: api.into(),
            ..Platform::default()
        }
    }
}

/// Why a provider exchange failed, for the log and the audit entry (never shown).
pub(super) type Why = String;

pub(super) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The S256 code challenge of a PKCE verifier (RFC 7636 §4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Why an exchange with the provider failed.
pub(super) enum Fault {
    /// The provider could not be asked (HTTP 503; a platform's is audited, an OIDC
    /// provider's not).
    Unavailable(Why),
    /// The provider's answer does not let anyone in.
    Refused(Why),
    /// A platform answered with an error (an error code, HTTP 4xx/5xx, garbled or
    /// oversized JSON): audited, shown as the platform's failure.
    Platform(Why),
}

impl Fault {
    pub(super) fn why(self) -> Why {
        match self {
            Fault::Unavailable(w) | Fault::Refused(w) | Fault::Platform(w) => w,
        }
    }
}
