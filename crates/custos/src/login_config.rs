//! `[ldap]` of `custos.toml`: company login through an LDAP directory or Active
//! Directory (see docs/login.md). The service account's password comes from the
//! environment (`CUSTOS_LDAP_BIND_PASSWORD` or the file named by
//! `CUSTOS_LDAP_BIND_PASSWORD_FILE`), never from the file.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use custos_app::actor::Scope;
use custos_app::external::ldap::LdapConfig;
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
    pub(crate) fn settings(self, bind_password: Option<String>) -> Result<Option<LdapConfig>, String> {
        let Some(url) = self.url.filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            return Err("[ldap] url 须以 ldap:// 或 ldaps:// 开头 / must start with ldap:// or ldaps://".into());
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
}
