//! `[ldap]` of `custos.toml`: company login through an LDAP directory or Active
//! Directory (see docs/login.md). The service account's password comes from the
//! environment (`CUSTOS_LDAP_BIND_PASSWORD` or the file named by
//! `CUSTOS_LDAP_BIND_PASSWORD_FILE`), never from the file.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use custos_app::actor::Scope;
use custos_app::external::ldap::LdapConfig;
use custos_app::external::oidc::{valid_provider_name, OidcProvider};
use custos_app::external::platforms::{ProviderKind, MEMBER_GROUP};
use custos_app::external::GroupMapping;

/// One `[[ldap.groups]]` (or `[[oidc.groups]]`) entry: a group and the role it gives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSection {
    /// The group's DN or name (LDAP), or a value of the groups claim (OIDC).
    pub group: String,
    /// A role key, e.g. `steward`.
    pub role: String,
    /// `own`, `department` or `all` (default `own`).
    pub scope: Option<String>,
    /// The department users created through this group are put in.
    pub department_id: Option<i64>,
}

/// The mappings of a provider, checked.
pub(crate) fn group_mappings(
    section: &str,
    groups: Vec<GroupSection>,
) -> Result<Vec<GroupMapping>, String> {
    groups
        .into_iter()
        .map(|g| {
            let scope = match g.scope.as_deref() {
                None => Scope::Own,
                Some(s) => Scope::parse(s).ok_or_else(|| {
                    format!(
                        "[{section}] groups: scope “{s}” 须为 own、department 或 all / \
                         must be own, department or all"
                    )
                })?,
            };
            if g.group.trim().is_empty() || g.role.trim().is_empty() {
                return Err(format!(
                    "[{section}] groups: group 与 role 不能为空 / group and role are required"
                ));
            }
            Ok(GroupMapping {
                group: g.group,
                role: g.role,
                scope,
                department_id: g.department_id,
            })
        })
        .collect()
}

/// `[ldap]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSection {
    /// `ldap://host:389` or `ldaps://host:636`; no URL: LDAP login is off.
    pub url: Option<String>,
    /// Upgrade `ldap://` with StartTLS.
    #[serde(default)]
    pub starttls: bool,
    /// Extra CA certificates (PEM) for the directory's certificate.
    pub ca_file: Option<PathBuf>,
    /// The service account that searches users (password from the environment).
    pub bind_dn: Option<String>,
    /// Where users are searched (subtree).
    pub user_base: Option<String>,
    /// With `{username}`, e.g. `(&(objectClass=person)(uid={username}))`.
    pub user_filter: Option<String>,
    /// The login-name attribute (default `uid`; AD: `sAMAccountName`).
    pub username_attr: Option<String>,
    /// Display name attribute (default `cn`; AD: `displayName`).
    pub display_name_attr: Option<String>,
    /// E-mail attribute (default `mail`).
    pub mail_attr: Option<String>,
    /// An attribute of the user naming its groups (AD, OpenLDAP memberof: `memberOf`).
    pub group_attr: Option<String>,
    /// Where groups are searched, with `group_filter` (`{dn}`, `{username}`).
    pub group_base: Option<String>,
    pub group_filter: Option<String>,
    /// Seconds to connect (default 5, 1–60) and per operation (default 10, 1–60).
    pub connect_timeout_seconds: Option<u64>,
    pub timeout_seconds: Option<u64>,
    /// Which groups give which roles.
    #[serde(default)]
    pub groups: Vec<GroupSection>,
}

impl LdapSection {
    /// The settings, `None` when no URL is given; `bind_password` from the environment.
    pub(crate) fn settings(
        self,
        bind_password: Option<String>,
    ) -> Result<Option<LdapConfig>, String> {
        let Some(url) = self.url.filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            return Err(
                "[ldap] url 须以 ldap:// 或 ldaps:// 开头 / must start with ldap:// or ldaps://"
                    .into(),
            );
        }
        if self.starttls && url.starts_with("ldaps://") {
            return Err("[ldap] starttls 只用于 ldap:// / starttls is for ldap:// only".into());
        }
        let user_base = self
            .user_base
            .filter(|b| !b.trim().is_empty())
            .ok_or("[ldap] user_base 必填 / user_base is required")?;
        let d = LdapConfig::default();
        let user_filter = self.user_filter.unwrap_or(d.user_filter);
        if !user_filter.contains("{username}") {
            return Err("[ldap] user_filter 须含 {username} / must contain {username}".into());
        }
        if self.group_base.is_some() != self.group_filter.is_some() {
            return Err(
                "[ldap] group_base 与 group_filter 须同时给出 / give group_base and group_filter together"
                    .into(),
            );
        }
        let seconds = |v: Option<u64>, default: Duration, name: &str| match v {
            None => Ok(default),
            Some(s) if (1..=60).contains(&s) => Ok(Duration::from_secs(s)),
            Some(_) => Err(format!("[ldap] {name} 须为 1–60 / must be 1–60")),
        };
        let mappings = group_mappings("ldap", self.groups)?;
        if mappings.is_empty() {
            return Err(
                "[ldap] 至少需要一条 [[ldap.groups]] 映射 / at least one [[ldap.groups]] mapping is required"
                    .into(),
            );
        }
        Ok(Some(LdapConfig {
            url,
            starttls: self.starttls,
            ca_file: self.ca_file,
            bind_password: self.bind_dn.as_ref().and(bind_password),
            bind_dn: self.bind_dn,
            user_base,
            user_filter,
            username_attr: self.username_attr.unwrap_or(d.username_attr),
            display_name_attr: self.display_name_attr.unwrap_or(d.display_name_attr),
            mail_attr: self.mail_attr.unwrap_or(d.mail_attr),
            group_attr: self.group_attr,
            group_base: self.group_base,
            group_filter: self.group_filter,
            mappings,
            connect_timeout: seconds(
                self.connect_timeout_seconds,
                d.connect_timeout,
                "connect_timeout_seconds",
            )?,
            timeout: seconds(self.timeout_seconds, d.timeout, "timeout_seconds")?,
        }))
    }
}

/// An id written as text or as a number (`agent_id = 1000002`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum IdValue {
    Text(String),
    Number(i64),
}

impl IdValue {
    fn text(self) -> String {
        match self {
            IdValue::Text(t) => t,
            IdValue::Number(n) => n.to_string(),
        }
    }
}

/// One `[[oidc]]`: an OpenID Connect (or OAuth 2.0) single sign-on provider, or DingTalk,
/// WeCom or Feishu spoken to directly (`kind`). Its client secret comes from
/// `CUSTOS_OIDC_<NAME>_CLIENT_SECRET` (name upper-cased, `-` as `_`) or the file named by
/// `…_FILE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    /// `oidc` (the default), `dingtalk`, `wecom` or `feishu`.
    pub kind: Option<String>,
    /// The key in URLs and audit entries: 1–32 of `a-z 0-9 _ -`.
    pub name: String,
    /// The button's label on the login page (钉钉, 企业微信, 飞书, Keycloak).
    pub label: Option<String>,
    /// The issuer (`https://sso.example.com/realms/corp`); endpoints not given are
    /// discovered from its `/.well-known/openid-configuration`.
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    /// OIDC: the client id; DingTalk: the AppKey (Client ID); Feishu: the App ID. WeCom has
    /// none (its `corp_id` and `agent_id` name the application).
    pub client_id: Option<String>,
    /// This server's callback as registered with the provider:
    /// `https://<host>/console/auth/oidc/<name>/callback`.
    pub redirect_uri: String,
    /// Default `["openid", "profile", "email"]`.
    pub scopes: Option<Vec<String>>,
    /// `false` for an OAuth 2.0 provider that issues no ID token (default `true`).
    pub id_token: Option<bool>,
    /// Claim names, dotted paths allowed (defaults `sub`, `preferred_username`, `name`,
    /// `email`, `groups`).
    pub subject_claim: Option<String>,
    pub username_claim: Option<String>,
    pub display_name_claim: Option<String>,
    pub email_claim: Option<String>,
    pub groups_claim: Option<String>,
    /// DingTalk: the organisation (CorpId) whose members may sign in; WeCom: the CorpID.
    pub corp_id: Option<String>,
    /// WeCom: the application's AgentId.
    pub agent_id: Option<IdValue>,
    /// Feishu: the tenant whose members may sign in.
    pub tenant_key: Option<String>,
    /// The platform's login page and API (default: the real ones).
    pub login_base_url: Option<String>,
    pub api_base_url: Option<String>,
    /// The role every member of the platform's organisation gets (group `*`), with
    /// `default_scope` (default `own`) and `default_department_id`.
    pub default_role: Option<String>,
    pub default_scope: Option<String>,
    pub default_department_id: Option<i64>,
    #[serde(default)]
    pub groups: Vec<GroupSection>,
}

/// An endpoint must be HTTPS; plain HTTP only to this machine (a provider beside it).
fn check_endpoint(name: &str, what: &str, url: &Option<String>) -> Result<(), String> {
    let Some(url) = url else { return Ok(()) };
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("[[oidc]] {name}: {what} “{url}”: {e}"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "[[oidc]] {name}: {what} 须为 https 地址 / must be an https URL"
        )),
    }
}

fn secret_variable(name: &str) -> String {
    format!(
        "CUSTOS_OIDC_{}_CLIENT_SECRET",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

impl OidcSection {
    /// The provider; `secret` reads `CUSTOS_OIDC_<NAME>_CLIENT_SECRET`.
    pub(crate) fn settings(
        self,
        secret: impl Fn(&str) -> Result<Option<String>, String>,
    ) -> Result<OidcProvider, String> {
        let name = self.name.clone();
        if !valid_provider_name(&name) {
            return Err(format!(
                "[[oidc]] name “{name}” 须为 1–32 个 a-z 0-9 _ - / must be 1–32 of a-z 0-9 _ -"
            ));
        }
        let kind = match self.kind.as_deref() {
            None => ProviderKind::Oidc,
            Some(k) => ProviderKind::parse(k).ok_or_else(|| {
                format!(
                    "[[oidc]] {name}: kind “{k}” 须为 oidc、dingtalk、wecom 或 feishu / \
                     must be oidc, dingtalk, wecom or feishu"
                )
            })?,
        };
        if kind != ProviderKind::Oidc {
            return self.platform_settings(kind, secret);
        }
        let platform_keys = [
            self.corp_id.is_some(),
            self.agent_id.is_some(),
            self.tenant_key.is_some(),
            self.login_base_url.is_some(),
            self.api_base_url.is_some(),
            self.default_role.is_some(),
            self.default_scope.is_some(),
            self.default_department_id.is_some(),
        ];
        if platform_keys.contains(&true) {
            return Err(format!(
                "[[oidc]] {name}: corp_id、agent_id、tenant_key、*_base_url、default_* 只用于 \
                 kind = dingtalk、wecom、feishu / are for kind dingtalk, wecom or feishu only"
            ));
        }
        let client_id = self
            .client_id
            .ok_or_else(|| format!("[[oidc]] {name}: client_id 必填 / client_id is required"))?;
        for (what, url) in [
            ("issuer", &self.issuer),
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("userinfo_endpoint", &self.userinfo_endpoint),
            ("jwks_uri", &self.jwks_uri),
        ] {
            check_endpoint(&name, what, url)?;
        }
        let id_token = self.id_token.unwrap_or(true);
        if id_token && self.issuer.is_none() {
            return Err(format!(
                "[[oidc]] {name}: 校验 ID token 需要 issuer / issuer is required to check ID tokens"
            ));
        }
        if !id_token && self.userinfo_endpoint.is_none() && self.issuer.is_none() {
            return Err(format!(
                "[[oidc]] {name}: id_token = false 时需要 userinfo_endpoint / userinfo_endpoint is required"
            ));
        }
        if self.issuer.is_none()
            && (self.authorization_endpoint.is_none() || self.token_endpoint.is_none())
        {
            return Err(format!(
                "[[oidc]] {name}: 需要 issuer 或 authorization_endpoint 与 token_endpoint / \
                 give issuer or both endpoints"
            ));
        }
        let mappings = group_mappings("oidc", self.groups)?;
        if mappings.is_empty() {
            return Err(format!(
                "[[oidc]] {name}: 至少需要一条 groups 映射 / at least one groups mapping is required"
            ));
        }
        let env_name = secret_variable(&name);
        let mut p = OidcProvider::new(&name, &client_id, &self.redirect_uri);
        p.label = self.label.unwrap_or_else(|| name.clone());
        p.issuer = self.issuer;
        p.authorization_endpoint = self.authorization_endpoint;
        p.token_endpoint = self.token_endpoint;
        p.userinfo_endpoint = self.userinfo_endpoint;
        p.jwks_uri = self.jwks_uri;
        p.client_secret = secret(&env_name)?;
        if let Some(s) = self.scopes {
            p.scopes = s;
        }
        p.id_token = id_token;
        let claims = [
            (self.subject_claim, &mut p.subject_claim),
            (self.username_claim, &mut p.username_claim),
            (self.display_name_claim, &mut p.display_name_claim),
            (self.email_claim, &mut p.email_claim),
            (self.groups_claim, &mut p.groups_claim),
        ];
        for (given, into) in claims {
            if let Some(c) = given {
                *into = c;
            }
        }
        p.mappings = mappings;
        Ok(p)
    }

    /// A DingTalk, WeCom or Feishu provider.
    fn platform_settings(
        self,
        kind: ProviderKind,
        secret: impl Fn(&str) -> Result<Option<String>, String>,
    ) -> Result<OidcProvider, String> {
        let name = self.name;
        let k = kind.as_str();
        let oidc_keys = [
            self.issuer.is_some(),
            self.authorization_endpoint.is_some(),
            self.token_endpoint.is_some(),
            self.userinfo_endpoint.is_some(),
            self.jwks_uri.is_some(),
            self.scopes.is_some(),
            self.id_token.is_some(),
            self.subject_claim.is_some(),
            self.username_claim.is_some(),
            self.display_name_claim.is_some(),
            self.email_claim.is_some(),
            self.groups_claim.is_some(),
        ];
        if oidc_keys.contains(&true) {
            return Err(format!(
                "[[oidc]] {name}: issuer、*_endpoint、jwks_uri、scopes、id_token、*_claim \
                 不适用于 kind = {k} / do not apply to kind {k}"
            ));
        }
        for (what, url) in [
            ("login_base_url", &self.login_base_url),
            ("api_base_url", &self.api_base_url),
        ] {
            check_endpoint(&name, what, url)?;
        }
        let required = |value: Option<String>, key: &str| {
            value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                format!("[[oidc]] {name}: kind = {k} 时 {key} 必填 / {key} is required")
            })
        };
        let agent_id = self.agent_id.map(IdValue::text);
        let client_id = match kind {
            ProviderKind::WeCom if self.client_id.is_some() => {
                return Err(format!(
                    "[[oidc]] {name}: 企业微信不用 client_id，请填 corp_id 与 agent_id / \
                     WeCom takes corp_id and agent_id, not client_id"
                ))
            }
            ProviderKind::WeCom => String::new(),
            _ => required(self.client_id, "client_id")?,
        };
        let mut p = OidcProvider::platform(kind, &name, &client_id, &self.redirect_uri);
        match kind {
            // Without the organisation, anyone with an account on the platform would get
            // the default role.
            ProviderKind::DingTalk => p.platform.corp_id = Some(required(self.corp_id, "corp_id")?),
            ProviderKind::WeCom => {
                p.platform.corp_id = Some(required(self.corp_id, "corp_id")?);
                p.platform.agent_id = Some(required(agent_id, "agent_id")?);
            }
            ProviderKind::Feishu => {
                p.platform.tenant_key = Some(required(self.tenant_key, "tenant_key")?)
            }
            ProviderKind::Oidc => {}
        }
        if let Some(base) = self.login_base_url {
            p.platform.login_base = base;
        }
        if let Some(base) = self.api_base_url {
            p.platform.api_base = base;
        }
        let mut mappings = group_mappings("oidc", self.groups)?;
        if let Some(role) = self.default_role {
            let defaults = GroupSection {
                group: MEMBER_GROUP.into(),
                role,
                scope: self.default_scope,
                department_id: self.default_department_id,
            };
            mappings.extend(group_mappings("oidc", vec![defaults])?);
        }
        if mappings.is_empty() {
            return Err(format!(
                "[[oidc]] {name}: 需要 default_role 或至少一条 groups 映射 / \
                 give default_role or at least one groups mapping"
            ));
        }
        p.mappings = mappings;
        let variable = secret_variable(&name);
        p.client_secret = Some(secret(&variable)?.filter(|s| !s.is_empty()).ok_or_else(|| {
            format!("[[oidc]] {name}: 需要应用密钥 {variable} / the application secret {variable} is required")
        })?);
        p.label = self.label.unwrap_or_else(|| {
            match kind {
                ProviderKind::DingTalk => "钉钉",
                ProviderKind::WeCom => "企业微信",
                _ => "飞书",
            }
            .into()
        });
        Ok(p)
    }
}

/// Every `[[oidc]]`, checked; names must differ.
pub(crate) fn oidc_providers(
    sections: Vec<OidcSection>,
    secret: impl Fn(&str) -> Result<Option<String>, String>,
) -> Result<Vec<OidcProvider>, String> {
    let mut out: Vec<OidcProvider> = Vec::new();
    for s in sections {
        let p = s.settings(&secret)?;
        if out.iter().any(|o| o.name == p.name) {
            return Err(format!("[[oidc]] name “{}” 重复 / is used twice", p.name));
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Option<LdapConfig>, String> {
        toml::from_str::<LdapSection>(text)
            .map_err(|e| e.to_string())?
            .settings(Some("pw".into()))
    }

    #[test]
    fn a_minimal_section_takes_the_defaults() {
        let c = parse(
            "url = \"ldap://127.0.0.1:389\"\nuser_base = \"ou=people,dc=example,dc=org\"\n\
             bind_dn = \"cn=svc,dc=example,dc=org\"\n\
             [[groups]]\ngroup = \"stewards\"\nrole = \"steward\"\nscope = \"department\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.username_attr, "uid");
        assert_eq!(c.bind_password.as_deref(), Some("pw"));
        assert_eq!(c.mappings[0].scope, Scope::Department);
        assert_eq!(parse("").unwrap().map(|c| c.url), None);
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("url = \"http://x\"\nuser_base = \"dc=x\"").unwrap_err();
        assert!(e.contains("ldap://"), "{e}");
        let e = parse("url = \"ldap://x\"\nuser_base = \"dc=x\"\nuser_filter = \"(uid=*)\"\n")
            .unwrap_err();
        assert!(e.contains("{username}"), "{e}");
        let e = parse("url = \"ldap://x\"\nuser_base = \"dc=x\"\n").unwrap_err();
        assert!(e.contains("[[ldap.groups]]"), "{e}");
    }

    fn oidc(text: &str) -> Result<Vec<OidcProvider>, String> {
        #[derive(Deserialize)]
        struct F {
            oidc: Vec<OidcSection>,
        }
        let f: F = toml::from_str(text).map_err(|e| e.to_string())?;
        oidc_providers(f.oidc, |name| Ok(Some(format!("secret of {name}"))))
    }

    #[test]
    fn an_oidc_provider_is_read_and_checked() {
        let base = "[[oidc]]\nname = \"keycloak\"\nlabel = \"Keycloak\"\n\
                    issuer = \"https://sso.example.com/realms/corp\"\nclient_id = \"custos\"\n\
                    redirect_uri = \"https://custos.example.com/console/auth/oidc/keycloak/callback\"\n";
        let groups = "[[oidc.groups]]\ngroup = \"/custos/stewards\"\nrole = \"steward\"\n";
        let p = oidc(&format!("{base}{groups}")).unwrap();
        assert_eq!(
            p[0].client_secret.as_deref(),
            Some("secret of CUSTOS_OIDC_KEYCLOAK_CLIENT_SECRET")
        );
        assert_eq!(p[0].username_claim, "preferred_username");
        let e = oidc(base).unwrap_err();
        assert!(e.contains("groups"), "{e}");
        let e = oidc(&format!("{base}{groups}").replace("https://sso", "http://sso")).unwrap_err();
        assert!(e.contains("https"), "{e}");
        let e = oidc(&format!("{base}{groups}{base}{groups}")).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = oidc(&format!("{base}corp_id = \"x\"\n{groups}")).unwrap_err();
        assert!(e.contains("dingtalk, wecom or feishu"), "{e}");
    }

    #[test]
    fn platform_providers_are_read_and_checked() {
        let redirect = "redirect_uri = \"https://custos.example.com/auth/oidc/x/callback\"\n";
        let ding = format!(
            "[[oidc]]\nkind = \"dingtalk\"\nname = \"ding\"\nclient_id = \"dingkey\"\n\
             corp_id = \"dingcorp\"\n{redirect}default_role = \"clerk\"\n"
        );
        let p = oidc(&ding).unwrap();
        assert_eq!(p[0].kind, ProviderKind::DingTalk);
        assert_eq!(p[0].label, "钉钉");
        assert_eq!(p[0].provider_key(), "dingtalk:ding");
        assert_eq!(p[0].platform.api_base, "https://api.dingtalk.com");
        assert_eq!(p[0].mappings[0].group, MEMBER_GROUP);
        assert_eq!(p[0].mappings[0].scope, Scope::Own);
        let e = oidc(&ding.replace("corp_id = \"dingcorp\"\n", "")).unwrap_err();
        assert!(e.contains("corp_id"), "{e}");
        let e = oidc(&ding.replace("default_role = \"clerk\"\n", "")).unwrap_err();
        assert!(e.contains("default_role"), "{e}");
        let e = oidc(&format!("{ding}issuer = \"https://x\"\n")).unwrap_err();
        assert!(e.contains("do not apply"), "{e}");
        let e = oidc(&format!(
            "{ding}api_base_url = \"http://api.example.com\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("https"), "{e}");

        let wecom = format!(
            "[[oidc]]\nkind = \"wecom\"\nname = \"wx\"\ncorp_id = \"ww1\"\nagent_id = 1000002\n\
             {redirect}[[oidc.groups]]\ngroup = \"2\"\nrole = \"steward\"\n"
        );
        let p = oidc(&wecom).unwrap();
        assert_eq!(p[0].platform.agent_id.as_deref(), Some("1000002"));
        assert_eq!(
            p[0].client_secret.as_deref(),
            Some("secret of CUSTOS_OIDC_WX_CLIENT_SECRET")
        );
        let e = oidc(&wecom.replace("agent_id = 1000002\n", "")).unwrap_err();
        assert!(e.contains("agent_id"), "{e}");
        let e = oidc(
            &format!("{wecom}client_id = \"x\"\n")
                .replace("[[oidc.groups]]", "client_id = \"x\"\n[[oidc.groups]]"),
        )
        .unwrap_err();
        assert!(e.contains("client_id"), "{e}");

        let feishu = format!(
            "[[oidc]]\nkind = \"feishu\"\nname = \"fs\"\nclient_id = \"cli_1\"\n\
             {redirect}default_role = \"clerk\"\n"
        );
        let e = oidc(&feishu).unwrap_err();
        assert!(e.contains("tenant_key"), "{e}");
        let e = oidc(&feishu.replace("feishu", "lark")).unwrap_err();
        assert!(e.contains("kind"), "{e}");
        let f: Result<Vec<OidcProvider>, String> = {
            #[derive(Deserialize)]
            struct F {
                oidc: Vec<OidcSection>,
            }
            let text = format!("{feishu}tenant_key = \"t1\"\n");
            let f: F = toml::from_str(&text).unwrap();
            oidc_providers(f.oidc, |_| Ok(None))
        };
        assert!(f.unwrap_err().contains("CUSTOS_OIDC_FS_CLIENT_SECRET"));
    }
}
