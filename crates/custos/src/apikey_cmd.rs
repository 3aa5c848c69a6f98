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
    /// Create a service account (no password; it calls the API with keys).
    Create {
        /// The account's name (letters, digits, . _ -), e.g. erp.
        name: String,
        /// Name shown in the console and the audit log (default: the name).
        #[arg(long)]
        display_name: Option<String>,
        /// Department id its `department` data scope counts from.
        #[arg(long)]
        department: Option<i64>,
        /// ROLE or ROLE:SCOPE (scope own|department|all); repeatable.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Every service account with its roles and count of active keys.
    List,
    /// Disable an account: none of its keys works from the next request on.
    Disable {
        /// The service account.
        name: String,
    },
    /// Enable a disabled account again.
    Enable {
        /// The service account.
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Make a key for a service account; the token is printed once, here only.
    Create {
        /// The service account.
        account: String,
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// RFC 3339 end of validity, within two years (default: one year).
        #[arg(long)]
        expires_at: Option<String>,
        /// This key's own rate limit (requests a second) instead of `[api_keys]`.
        #[arg(long)]
        rate_per_second: Option<u32>,
        /// This key's own burst (requests at once) instead of `[api_keys]`.
        #[arg(long)]
        burst: Option<u32>,
    },
    /// The keys of a service account (prefixes, status, last use), never secrets.
    List {
        /// The service account.
        account: String,
    },
    /// Revoke a key, named by its id or its prefix.
    Revoke {
        /// The service account.
        account: String,
        /// The key's id or prefix (as `apikey list` shows them).
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
            let v = app.create_service_account(actor, input).await?;
            if json {
                print_json(&v);
            } else {
                outln!("created service account {} (id {})", v.name, v.id);
            }
        }
        ServiceAccountCommand::List => {
            let all = app.list_service_accounts(actor, 0, 500).await?;
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
            let id = app.service_account_id(actor, name).await?;
            let v = app.set_service_account_disabled(actor, id, disable).await?;
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
            let id = app.service_account_id(actor, account).await?;
            let input = NewApiKey {
                name: name.clone(),
                expires_at: expires_at.clone(),
                rate_per_second: *rate_per_second,
                burst: *burst,
            };
            let created = app.create_api_key(actor, id, input).await?;
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
            let id = app.service_account_id(actor, account).await?;
            let keys = app.list_api_keys(actor, id).await?;
            if json {
                print_json(&keys);
            } else {
                print_keys(keys);
            }
        }
        ApiKeyCommand::Revoke { account, key } => {
            let id = app.service_account_id(actor, account).await?;
            let key_id = match key.parse::<i64>() {
                Ok(n) => n,
                Err(_) => app
                    .list_api_keys(actor, id)
                    .await?
                    .into_iter()
                    .find(|k| k.prefix == *key)
                    .map(|k| k.id)
                    .ok_or_else(|| Failure(format!("{account} has no key {key}")))?,
            };
            let v = app.revoke_api_key(actor, id, key_id).await?;
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
