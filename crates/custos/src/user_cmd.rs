//! `custos user create|passwd|disable|enable|unlock|list`.

use crate::output::outln;

use comfy_table::Table;

use custos_app::org::{NewUser, RoleAssignment, UserPatch};
use custos_app::{Actor, App};

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

#[derive(clap::Subcommand)]
pub(crate) enum UserCommand {
    /// 新建用户 (create)。密码来自 --password，没有时从标准输入读一行。
    Create {
        /// 用户名 (username)：字母、数字、. _ -，3–32 个字符。
        username: String,
        /// 密码 (password)；最好不写在这里而从标准输入给出，以免留在命令历史中。
        #[arg(long)]
        password: Option<String>,
        /// 显示名称 (display name)：控制台和操作日志中显示的名字，默认同用户名。
        #[arg(long)]
        display_name: Option<String>,
        /// 部门编号 (department id)：`department` 数据范围从这个部门算起。
        #[arg(long)]
        department: Option<i64>,
        /// 角色 (role)：ROLE 或 ROLE:SCOPE，数据范围 (scope) 为 own|department|all；可重复。
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// 设置用户的密码 (passwd)，来自 --password 或标准输入。
    Passwd {
        /// 谁的密码（用户名）。
        username: String,
        /// 新密码；最好不写在这里而从标准输入给出。
        #[arg(long)]
        password: Option<String>,
    },
    /// 停用用户 (disable)：不能登录，会话随即结束（记入操作日志）。
    Disable {
        /// 要停用的用户名。
        username: String,
    },
    /// 重新启用 (enable) 已停用的用户（记入操作日志）。
    Enable {
        /// 要启用的用户名。
        username: String,
    },
    /// 解除登录限制 (unlock)：清除该用户在所有地址的登录失败计数（记入操作日志）。
    Unlock {
        /// 要解除限制的用户名。
        username: String,
    },
    /// 列出全部用户 (list)：部门、角色和状态。
    List,
}
