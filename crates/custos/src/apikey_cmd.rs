//! `custos service-account create|list|disable|enable` and
//! `custos apikey create|list|revoke`: service accounts and their API keys, as the
//! `--as` user (who needs `user.manage` over everyone).

use clap::Subcommand;
use comfy_table::Table;

use custos_app::apikeys::{ApiKeyView, NewApiKey, NewServiceAccount};
use custos_app::{Actor, App};

use crate::output::outln;
use crate::user_cmd::parse_role;
use crate::{print_json, Failure};

#[derive(Subcommand)]
pub(crate) enum ServiceAccountCommand {
    /// 新建服务账号 (service account)：没有密码，以 API 密钥调用接口。
    Create {
        /// 账号名称（字母、数字、. _ -），例如 erp。
        name: String,
        /// 显示名称 (display name)：控制台和操作日志中显示的名字，默认同账号名称。
        #[arg(long)]
        display_name: Option<String>,
        /// 部门编号 (department id)：`department` 数据范围从这个部门算起。
        #[arg(long)]
        department: Option<i64>,
        /// 角色 (role)：ROLE 或 ROLE:SCOPE，数据范围 (scope) 为 own|department|all；可重复。
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// 列出全部服务账号及其角色和有效密钥数。
    List,
    /// 停用账号 (disable)：从下一个请求起它的所有密钥都失效。
    Disable {
        /// 服务账号 (service account) 名称。
        name: String,
    },
    /// 重新启用 (enable) 已停用的账号。
    Enable {
        /// 服务账号 (service account) 名称。
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// 为服务账号创建 API 密钥 (API key)；令牌只在这里显示一次。
    Create {
        /// 服务账号 (service account) 名称。
        account: String,
        /// 密钥的用途 (name)。
        #[arg(long)]
        name: String,
        /// 到期时间 (expires at)，RFC 3339，不超过两年（默认一年）。
        #[arg(long)]
        expires_at: Option<String>,
        /// 此密钥自己的限速 (rate limit，每秒请求数)，代替 `[api_keys]` 的设置。
        #[arg(long)]
        rate_per_second: Option<u32>,
        /// 此密钥自己的突发请求数 (burst)，代替 `[api_keys]` 的设置。
        #[arg(long)]
        burst: Option<u32>,
    },
    /// 列出服务账号的密钥（前缀、状态、最近使用），从不显示密钥本身。
    List {
        /// 服务账号 (service account) 名称。
        account: String,
    },
    /// 吊销 (revoke) 一个密钥，按编号或前缀指定。
    Revoke {
        /// 服务账号 (service account) 名称。
        account: String,
        /// 密钥编号或前缀，即 `custos apikey list` 显示的。
        key: String,
    },
}

pub(crate) async fn run_service_account(
    app: &App,
    actor: &Actor,
    cmd: &ServiceAccountCommand,
    json: bool,
) -> Result<(), Failure> {
    match cmd {
        ServiceAccountCommand::Create {
            name,
            display_name,
            department,
            roles,
        } => {
            let input = NewServiceAccount {
                name: name.clone(),
                display_name: display_name.clone(),
                department_id: *department,
                roles: roles.iter().map(|r| parse_role(r)).collect(),
            };
            let v = app.api_keys().create_service_account(actor, input).await?;
            if json {
                print_json(&v);
            } else {
                outln!("created service account {} (id {})", v.name, v.id);
            }
        }
        ServiceAccountCommand::List => {
            let all = app.api_keys().list_service_accounts(actor, 0, 500).await?;
            if json {
                print_json(&all);
                return Ok(());
            }
            let mut t = Table::new();
            t.set_header(["id", "name", "department", "roles", "active keys", "status"]);
            for a in all {
                let roles: Vec<String> = a
                    .roles
                    .iter()
                    .map(|r| format!("{}:{}", r.role, r.scope))
                    .collect();
                t.add_row([
                    a.id.to_string(),
                    a.name,
                    a.department_id.map(|d| d.to_string()).unwrap_or_default(),
                    roles.join(", "),
                    a.active_keys.to_string(),
                    if a.disabled { "disabled" } else { "active" }.into(),
                ]);
            }
            outln!("{t}");
        }
        ServiceAccountCommand::Disable { name } | ServiceAccountCommand::Enable { name } => {
            let disable = matches!(cmd, ServiceAccountCommand::Disable { .. });
            let id = app.api_keys().service_account_id(actor, name).await?;
            let v = app
                .api_keys()
                .set_service_account_disabled(actor, id, disable)
                .await?;
            if json {
                print_json(&v);
            } else {
                let state = if disable { "disabled" } else { "enabled" };
                outln!("service account {name} {state}");
            }
        }
    }
    Ok(())
}

pub(crate) async fn run_apikey(
    app: &App,
    actor: &Actor,
    cmd: &ApiKeyCommand,
    json: bool,
) -> Result<(), Failure> {
    match cmd {
        ApiKeyCommand::Create {
            account,
            name,
            expires_at,
            rate_per_second,
            burst,
        } => {
            let id = app.api_keys().service_account_id(actor, account).await?;
            let input = NewApiKey {
                name: name.clone(),
                expires_at: expires_at.clone(),
                rate_per_second: *rate_per_second,
                burst: *burst,
            };
            let created = app.api_keys().create_api_key(actor, id, input).await?;
            if json {
                print_json(&created);
            } else {
                outln!(
                    "key {} (id {}) of {account}, expires {}",
                    created.key.prefix,
                    created.key.id,
                    created.key.expires_at.as_deref().unwrap_or("never")
                );
                outln!("{}", created.token);
                outln!("the token is shown this once: store it now");
            }
        }
        ApiKeyCommand::List { account } => {
            let id = app.api_keys().service_account_id(actor, account).await?;
            let keys = app.api_keys().list_api_keys(actor, id).await?;
            if json {
                print_json(&keys);
            } else {
                print_keys(keys);
            }
        }
        ApiKeyCommand::Revoke { account, key } => {
            let id = app.api_keys().service_account_id(actor, account).await?;
            let key_id = match key.parse::<i64>() {
                Ok(n) => n,
                Err(_) => app
                    .api_keys()
                    .list_api_keys(actor, id)
                    .await?
                    .into_iter()
                    .find(|k| k.prefix == *key)
                    .map(|k| k.id)
                    .ok_or_else(|| Failure(format!("{account} has no key {key}")))?,
            };
            let v = app.api_keys().revoke_api_key(actor, id, key_id).await?;
            if json {
                print_json(&v);
            } else {
                outln!("key {} (id {}) of {account} revoked", v.prefix, v.id);
            }
        }
    }
    Ok(())
}

fn print_keys(keys: Vec<ApiKeyView>) {
    let mut t = Table::new();
    t.set_header([
        "id",
        "prefix",
        "name",
        "status",
        "expires",
        "last used",
        "from",
    ]);
    for k in keys {
        t.add_row([
            k.id.to_string(),
            k.prefix,
            k.name,
            k.status,
            k.expires_at.unwrap_or_else(|| "never".into()),
            k.last_used_at.unwrap_or_default(),
            k.last_used_ip.unwrap_or_default(),
        ]);
    }
    outln!("{t}");
}
