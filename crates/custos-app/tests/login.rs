//! Company login (issue 33): LDAP against a real slapd, OpenID Connect against a test
//! provider, DingTalk, WeCom and Feishu against a fake of each in this suite; each test on
//! SQLite and PostgreSQL.

#[macro_use]
#[allow(unused_macros)]
#[path = "support/app.rs"]
mod support;

#[path = "login/slapd.rs"]
mod slapd;

#[path = "login/ldap.rs"]
mod ldap;

#[path = "login/oidc_provider.rs"]
mod oidc_provider;

#[path = "login/oidc.rs"]
mod oidc;

#[path = "login/platform_fake.rs"]
mod platform_fake;

#[path = "login/platforms.rs"]
mod platforms;
