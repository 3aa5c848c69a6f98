//! `custos ldap test USERNAME`: check the `[ldap]` configuration with one account — the
//! search, the user's bind with the password given on stdin, the groups found and the
//! roles they map to. Nothing is written to the database.

use clap::Subcommand;
use serde_json::json;

use custos_app::external::{map_groups, ExternalCheck};
use custos_app::App;

use crate::output::outln;
use crate::{print_json, Failure};

/// LDAP / Active Directory login (企业目录登录).
#[derive(Subcommand, Debug)]
pub(crate) enum LdapCommand {
    /// 检查目录配置 (check the `[ldap]` settings)：用一个账号试登录，口令从标准输入读一行；
    /// 显示 DN、所在组和映射到的角色，不写入任何数据。
    Test {
        /// 登录名 (login name)，与用户登录时输入的相同。
        username: String,
    },
}

pub(crate) async fn run_ldap(app: &App, command: &LdapCommand, json: bool) -> Result<(), Failure> {
    let LdapCommand::Test { username } = command;
    let cfg =
        app.config.ldap.as_ref().ok_or_else(|| {
            Failure("没有配置 [ldap] / no [ldap] section is configured".to_string())
        })?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure(format!("cannot read the password from stdin: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']);
    let check = cfg
        .check(username, password)
        .await
        .map_err(|e| Failure(format!("目录无法访问 / the directory cannot be asked: {e}")))?;
    let (outcome, identity) = match check {
        ExternalCheck::Verified(identity) => ("verified", Some(identity)),
        ExternalCheck::Unknown => ("unknown user", None),
        ExternalCheck::WrongPassword => ("wrong password", None),
    };
    let mapped = identity
        .as_ref()
        .and_then(|i| map_groups(&cfg.mappings, &i.groups));
    let roles: Vec<String> = mapped
        .iter()
        .flat_map(|(roles, _)| roles.iter().map(|(r, s)| format!("{r}:{}", s.as_str())))
        .collect();
    if json {
        print_json(&json!({
            "outcome": outcome,
            "dn": identity.as_ref().map(|i| &i.subject),
            "username": identity.as_ref().map(|i| &i.username),
            "display_name": identity.as_ref().and_then(|i| i.display_name.as_ref()),
            "groups": identity.as_ref().map(|i| &i.groups),
            "roles": roles,
            "department_id": mapped.as_ref().and_then(|(_, d)| *d),
        }));
    } else {
        outln!("outcome: {outcome}");
        if let Some(i) = &identity {
            outln!("dn: {}", i.subject);
            outln!("username: {}", i.username);
            outln!("groups: {}", i.groups.join("; "));
            if roles.is_empty() {
                outln!("roles: (none: in no mapped group, this user cannot log in)");
            } else {
                outln!("roles: {}", roles.join(", "));
            }
        }
    }
    if mapped.is_none() {
        return Err(Failure(format!("{username}: no login ({outcome})")));
    }
    Ok(())
}
