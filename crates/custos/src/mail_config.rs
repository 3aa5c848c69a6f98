//! `[mail]` of the server's TOML: the SMTP relay of notification e-mail (off unless
//! `smtp_host` is set).
//!
//! ```toml
//! [mail]
//! smtp_host = "smtp.example.cn"
//! smtp_port = 587                 # default 25, or 465 with smtp_tls = "tls"
//! from = "custos@example.cn"
//! smtp_tls = "starttls"           # none (default) | starttls | tls
//! smtp_user = "custos@example.cn"
//! smtp_password_file = "/etc/custos/smtp-password"   # or smtp_password, CUSTOS_SMTP_PASSWORD
//! # smtp_ca_file = "/etc/custos/company-ca.pem"      # trusted beside the system's CAs
//! # smtp_allow_plaintext_auth = true                 # AUTH without TLS: refused unless set
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use custos_app::mail::{SmtpAuth, SmtpConfig, SmtpTls};

use crate::secret_env::secret_env;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub from: Option<String>,
    /// `none` | `starttls` | `tls`.
    pub smtp_tls: Option<String>,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub smtp_ca_file: Option<PathBuf>,
    pub smtp_allow_plaintext_auth: Option<bool>,
}

impl MailSection {
    /// The relay's settings (`CUSTOS_SMTP_HOST` and `CUSTOS_SMTP_PASSWORD[_FILE]` win
    /// over the file); `None` when no host is set.
    pub fn settings(self, env_host: Option<String>) -> Result<Option<SmtpConfig>, String> {
        let Some(host) = env_host.or(self.smtp_host) else {
            return Ok(None);
        };
        let Some(from) = self.from else {
            return Err("[mail] needs `from` when smtp_host is set".to_string());
        };
        let tls = match self.smtp_tls.as_deref() {
            None => SmtpTls::None,
            Some(s) => SmtpTls::parse(s).ok_or_else(|| {
                format!("[mail] smtp_tls must be \"none\", \"starttls\" or \"tls\", not \"{s}\"")
            })?,
        };
        let default_port = if tls == SmtpTls::Tls { 465 } else { 25 };
        let mut cfg = SmtpConfig::new(host, self.smtp_port.unwrap_or(default_port), from);
        cfg.tls = tls;
        cfg.ca_file = self.smtp_ca_file;
        cfg.allow_plaintext_auth = self.smtp_allow_plaintext_auth.unwrap_or(false);
        let password = match (secret_env("CUSTOS_SMTP_PASSWORD")?, self.smtp_password_file) {
            (Some(p), _) => Some(p),
            (None, Some(path)) => Some(
                std::fs::read_to_string(&path)
                    .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                    .map_err(|e| {
                        format!(
                            "[mail] cannot read smtp_password_file {}: {e}",
                            path.display()
                        )
                    })?,
            ),
            (None, None) => self.smtp_password,
        };
        cfg.auth = match (self.smtp_user, password) {
            (Some(user), Some(password)) => Some(SmtpAuth { user, password }),
            (Some(_), None) => {
                return Err("[mail] smtp_user needs smtp_password or smtp_password_file".into())
            }
            (None, Some(_)) => return Err("[mail] smtp_password needs smtp_user".into()),
            (None, None) => None,
        };
        cfg.check()?;
        Ok(Some(cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> MailSection {
        toml::from_str(toml_text).expect("section")
    }

    #[test]
    fn auth_needs_tls_unless_allowed() {
        let base =
            "smtp_host = \"h\"\nfrom = \"a@b.cn\"\nsmtp_user = \"u\"\nsmtp_password = \"p\"\n";
        let err = section(base).settings(None).expect_err("plain auth");
        assert!(err.contains("smtp_tls"), "{err}");
        let ok = section(&format!("{base}smtp_allow_plaintext_auth = true\n"))
            .settings(None)
            .expect("allowed")
            .expect("configured");
        assert_eq!(ok.port, 25);
        assert!(ok.auth.is_some());
        assert!(!format!("{ok:?}").contains("\"p\""), "password printed");
        let tls = section(&format!("{base}smtp_tls = \"tls\"\n"))
            .settings(None)
            .expect("tls")
            .expect("configured");
        assert_eq!((tls.tls, tls.port), (SmtpTls::Tls, 465));
        assert!(section(&format!("{base}smtp_tls = \"ssl\"\n"))
            .settings(None)
            .is_err());
        assert!(
            section("smtp_host = \"h\"\nfrom = \"a@b.cn\"\nsmtp_user = \"u\"\n")
                .settings(None)
                .is_err()
        );
        assert!(section("").settings(None).expect("off").is_none());
    }
}
