//! `custos user create|passwd|disable|enable|unlock|list`.

use crate::output::outln;

use comfy_table::Table;

use custos_app::org::{NewUser, RoleAssignment, UserPatch};
use custos_app::{Actor, App};

use crate::args::UserCommand;
use crate::{print_json, Failure};

fn read_password(given: Option<String>) -> Result<String, Failure> {
    if let Some(p) = given {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure(format!("cannot read the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub(crate) fn parse_role(s: &str) -> RoleAssignment {
    let (role, scope) = s.split_once(':').unwrap_or((s, "own"));
    RoleAssignment {
        role: role.to_string(),
        scope: scope.to_string(),
        expires_at: None,
    }
}

pub(crate) async fn run_user(
    app: &App,
    actor: &Actor,
    cmd: &UserCommand,
    json: bool,
) -> Result<(), Failure> {
    match cmd {
        UserCommand::Create {
            username,
            password,
            display_name,
            department,
            roles,
        } => {
            let password = read_password(password.clone())?;
            let v = app
                .org()
                .create_user(
                    actor,
                    NewUser {
                        username: username.clone(),
                        password,
                        display_name: display_name.clone(),
                        department_id: *department,
                        email: None,
                        roles: roles.iter().map(|r| parse_role(r)).collect(),
                    },
                )
                .await?;
            if json {
                print_json(&v);
            } else {
                outln!("created user {} (id {})", v.username, v.id);
            }
        }
        UserCommand::Passwd { username, password } => {
            let id = app.org().user_id_by_name(actor, username).await?;
            let password = read_password(password.clone())?;
            app.org()
                .update_user(
                    actor,
                    id,
                    UserPatch {
                        password: Some(password),
                        ..Default::default()
                    },
                )
                .await?;
            outln!("password of {username} changed; its sessions were revoked");
        }
        UserCommand::Disable { username } | UserCommand::Enable { username } => {
            let disable = matches!(cmd, UserCommand::Disable { .. });
            let id = app.org().user_id_by_name(actor, username).await?;
            app.org()
                .update_user(
                    actor,
                    id,
                    UserPatch {
                        disabled: Some(disable),
                        ..Default::default()
                    },
                )
                .await?;
            outln!(
                "user {username} {}",
                if disable { "disabled" } else { "enabled" }
            );
        }
        UserCommand::Unlock { username } => {
            let id = app.org().user_id_by_name(actor, username).await?;
            let v = app.org().unlock_user(actor, id).await?;
            if json {
                print_json(&v);
            } else {
                outln!("failed-login throttling of {} cleared", v.username);
            }
        }
        UserCommand::List => list_users(app, actor, json).await?,
    }
    Ok(())
}

/// `custos user list`: every user, fetched page by page, as JSON or a table.
async fn list_users(app: &App, actor: &Actor, json: bool) -> Result<(), Failure> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = app.org().list_users(actor, after, 500).await?;
        let n = page.len();
        after = page.last().map(|u| u.id).unwrap_or(after);
        all.extend(page);
        if n < 500 {
            break;
        }
    }
    if json {
        print_json(&all);
        return Ok(());
    }
    let mut t = Table::new();
    t.set_header([
        "id",
        "username",
        "name",
        "department",
        "roles",
        "source",
        "status",
    ]);
    for u in all {
        let roles: Vec<String> = u
            .roles
            .iter()
            .map(|r| format!("{}:{}", r.role, r.scope))
            .collect();
        t.add_row([
            u.id.to_string(),
            u.username,
            u.display_name,
            u.department_id.map(|d| d.to_string()).unwrap_or_default(),
            roles.join(", "),
            u.auth_source,
            match (u.disabled, &u.locked_until) {
                (true, _) => "disabled".into(),
                (false, Some(t)) => format!("throttled until {t}"),
                (false, None) => "active".into(),
            },
        ]);
    }
    outln!("{t}");
    Ok(())
}
