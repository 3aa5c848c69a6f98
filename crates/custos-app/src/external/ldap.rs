//! Login against an LDAP directory or Active Directory: search the user's entry with the
//! service account, read its groups, then bind as the user with the given password.
//!
//! The username is escaped per RFC 4515 before it enters a filter, so `*)(uid=*` is a
//! name like any other (and matches nobody). An empty password is refused before the
//! directory is asked: a simple bind with a DN and no password is an anonymous bind,
//! which many servers accept (RFC 4513 §5.1.2).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{ldap_escape, LdapConnAsync, LdapConnSettings, Scope as LdapScope, SearchEntry};

use super::{ExternalCheck, ExternalIdentity, GroupMapping};

/// The provider name of directory logins (audit entries, `users.auth_source`).
pub const LDAP_PROVIDER: &str = "ldap";

/// LDAP result code of a bind refused for its credentials.
const INVALID_CREDENTIALS: u32 = 49;

/// Groups read per login at most (a user in thousands of groups is cut there).
const MAX_GROUPS: usize = 1000;

/// `[ldap]` of the configuration.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// Extra CA certificates (PEM) to check the directory's certificate with.
    pub ca_file: Option<PathBuf>,
    /// The service account that searches; `None`: search anonymously.
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    /// Where users are searched (subtree).
    pub user_base: String,
    /// The search filter with `{username}`, e.g. `(&(objectClass=person)(uid={username}))`
    /// or `(&(objectCategory=person)(sAMAccountName={username}))`.
    pub user_filter: String,
    /// The attribute holding the login name (`uid`, `sAMAccountName`).
    pub username_attr: String,
    pub display_name_attr: String,
    pub mail_attr: String,
    /// An attribute of the user's entry naming its groups (`memberOf`); `None`: none.
    pub group_attr: Option<String>,
    /// Where groups are searched; with `group_filter`, a search for the user's groups.
    pub group_base: Option<String>,
    /// The group filter with `{dn}` (the user's DN) and/or `{username}`, e.g.
    /// `(&(objectClass=groupOfNames)(member={dn}))`.
    pub group_filter: Option<String>,
    /// Which groups give which roles; a user in none of them cannot log in.
    pub mappings: Vec<GroupMapping>,
    /// Time to connect, and for each operation.
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            url: String::new(),
            starttls: false,
            ca_file: None,
            bind_dn: None,
            bind_password: None,
            user_base: String::new(),
            user_filter: "(&(objectClass=person)(uid={username}))".into(),
            username_attr: "uid".into(),
            display_name_attr: "cn".into(),
            mail_attr: "mail".into(),
            group_attr: None,
            group_base: None,
            group_filter: None,
            mappings: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        }
    }
}

/// A filter template with `{username}` and `{dn}` replaced by escaped values.
pub fn render_filter(template: &str, username: &str, dn: &str) -> String {
    template
        .replace("{username}", &ldap_escape(username))
        .replace("{dn}", &ldap_escape(dn))
}

/// The value of an RDN-first DN's first component (`cn=stewards,ou=groups` →
/// `stewards`), so mappings may name a group by its name or its DN.
fn first_rdn_value(dn: &str) -> Option<&str> {
    let first = dn.split(',').next()?;
    let (_, value) = first.split_once('=')?;
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

fn first_value(entry: &SearchEntry, attr: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first().cloned())
}

fn values(entry: &SearchEntry, attr: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

impl LdapConfig {
    /// Check a username and password against the directory. `Err` when the directory
    /// cannot be asked (unreachable, timeout, the service bind refused).
    pub async fn check(&self, username: &str, password: &str) -> Result<ExternalCheck, String> {
        if password.is_empty() {
            return Ok(ExternalCheck::WrongPassword);
        }
        let budget = self.connect_timeout + self.timeout * 4;
        match tokio::time::timeout(budget, self.check_inner(username, password)).await {
            Ok(r) => r,
            Err(_) => Err("the directory did not answer in time".into()),
        }
    }

    async fn check_inner(&self, username: &str, password: &str) -> Result<ExternalCheck, String> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.connect_timeout)
            .set_starttls(self.starttls);
        if self.url.starts_with("ldaps://") || self.starttls {
            let config = crate::mail::tls_client_config(self.ca_file.as_deref())?;
            settings = settings.set_config(Arc::clone(&config));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        ldap3::drive!(conn);
        let result = self.search_and_bind(&mut ldap, username, password).await;
        let _ = ldap.unbind().await;
        result
    }

    async fn search_and_bind(
        &self,
        ldap: &mut ldap3::Ldap,
        username: &str,
        password: &str,
    ) -> Result<ExternalCheck, String> {
        let t = self.timeout;
        if let Some(dn) = &self.bind_dn {
            let pw = self.bind_password.as_deref().unwrap_or_default();
            ldap.with_timeout(t)
                .simple_bind(dn, pw)
                .await
                .and_then(|r| r.success())
                .map_err(|e| format!("service bind: {e}"))?;
        }
        let filter = render_filter(&self.user_filter, username, "");
        let mut attrs = vec![
            self.username_attr.as_str(),
            self.display_name_attr.as_str(),
            self.mail_attr.as_str(),
        ];
        if let Some(a) = &self.group_attr {
            attrs.push(a);
        }
        let found = ldap
            .with_timeout(t)
            .with_search_options(ldap3::SearchOptions::new().sizelimit(2))
            .search(&self.user_base, LdapScope::Subtree, &filter, attrs)
            .await
            .map_err(|e| format!("user search: {e}"))?;
        let ldap3::SearchResult(entries, res) = found;
        // More than one entry (size limit hit, or two returned) is a filter that does not
        // single a user out: nobody logs in through it.
        if entries.len() != 1 || !(res.rc == 0 || res.rc == 4) {
            if entries.len() > 1 || res.rc == 4 {
                tracing::warn!("the LDAP user filter matches several entries for one name");
            }
            return Ok(ExternalCheck::Unknown);
        }
        let entry = SearchEntry::construct(entries.into_iter().next().ok_or("no entry")?);
        let groups = self.groups_of(ldap, &entry, username).await?;
        let bind = ldap
            .with_timeout(t)
            .simple_bind(&entry.dn, password)
            .await
            .map_err(|e| format!("user bind: {e}"))?;
        if bind.rc == INVALID_CREDENTIALS {
            return Ok(ExternalCheck::WrongPassword);
        }
        if bind.rc != 0 {
            // Refused for another reason (an AD account locked or expired answers 49 too;
            // anything else is also no login).
            tracing::info!(rc = bind.rc, "LDAP bind refused");
            return Ok(ExternalCheck::WrongPassword);
        }
        Ok(ExternalCheck::Verified(ExternalIdentity {
            provider: LDAP_PROVIDER.into(),
            subject: entry.dn.clone(),
            username: first_value(&entry, &self.username_attr)
                .unwrap_or_else(|| username.to_string()),
            display_name: first_value(&entry, &self.display_name_attr),
            email: first_value(&entry, &self.mail_attr),
            groups,
        }))
    }

    /// The user's groups: the group attribute of its entry and/or a group search, each
    /// group by its DN and by the value of its first RDN.
    async fn groups_of(
        &self,
        ldap: &mut ldap3::Ldap,
        entry: &SearchEntry,
        username: &str,
    ) -> Result<Vec<String>, String> {
        let mut dns = Vec::new();
        if let Some(attr) = &self.group_attr {
            dns.extend(values(entry, attr));
        }
        if let (Some(base), Some(template)) = (&self.group_base, &self.group_filter) {
            let filter = render_filter(template, username, &entry.dn);
            let found = ldap
                .with_timeout(self.timeout)
                .with_search_options(ldap3::SearchOptions::new().sizelimit(MAX_GROUPS as i32))
                .search(base, LdapScope::Subtree, &filter, vec!["1.1"])
                .await
                .map_err(|e| format!("group search: {e}"))?;
            for e in found.0 {
                dns.push(SearchEntry::construct(e).dn);
            }
        }
        dns.truncate(MAX_GROUPS);
        let mut groups = Vec::with_capacity(dns.len() * 2);
        for dn in dns {
            if let Some(v) = first_rdn_value(&dn) {
                groups.push(v.to_string());
            }
            groups.push(dn);
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(
            render_filter("(&(objectClass=person)(uid={username}))", "*)(uid=*", ""),
            "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))"
        );
        assert_eq!(
            render_filter("(member={dn})", "", "cn=a\\,b,dc=x"),
            "(member=cn=a\\5c,b,dc=x)"
        );
    }

    #[test]
    fn groups_are_named_by_their_first_rdn_too() {
        assert_eq!(
            first_rdn_value("cn=Stewards,ou=groups,dc=example"),
            Some("Stewards")
        );
        assert_eq!(first_rdn_value("nonsense"), None);
    }
}
