//! `custos notify channel add|list|remove|test`: group notification channels (DingTalk,
//! WeCom, webhooks), as the `--as` user (who needs `notifications.manage`).

use std::path::PathBuf;

use clap::Subcommand;
use comfy_table::Table;

use custos_app::channels::{NewChannel, NotificationKind, Provider};
use custos_app::{Actor, App};

use crate::output::outln;
use crate::{print_json, Failure};

#[derive(Subcommand)]
pub(crate) enum NotifyCommand {
    /// Group channels: DingTalk and WeCom group robots, generic webhooks.
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
}

fn parse_provider(s: &str) -> Result<Provider, String> {
    Provider::parse(s).ok_or_else(|| "provider: dingtalk | wecom | webhook".to_string())
}

fn parse_kind(s: &str) -> Result<NotificationKind, String> {
    NotificationKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("kind: one of {}", all.join(", "))
    })
}

#[derive(Subcommand)]
pub(crate) enum ChannelCommand {
    /// Add a channel.
    Add {
        /// Unique name, e.g. 华东销售群.
        #[arg(long)]
        name: String,
        /// dingtalk | wecom | webhook.
        #[arg(long, value_parser = parse_provider)]
        provider: Provider,
        /// The robot's or receiver's URL (stored encrypted).
        #[arg(long)]
        url: String,
        /// A file holding the signing secret (DingTalk 加签 or the webhook's HMAC secret);
        /// read from a file so it stays out of the shell history.
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// A notification kind it receives; repeatable (task_pending, task_overdue,
        /// application_decided, application_progress, quality_assigned, followup_due,
        /// duplicates_found 重复客户待处理, code_capacity 编码容量预警).
        #[arg(long = "kind", required = true, value_parser = parse_kind)]
        kinds: Vec<NotificationKind>,
        /// A department id whose members' notifications it receives (sub-departments
        /// included); repeatable; none: every department.
        #[arg(long = "department")]
        departments: Vec<i64>,
    },
    /// Every channel, URLs masked.
    List,
    /// Remove a channel (by id) with its pending deliveries.
    Remove {
        /// The channel's id (as `custos notify channel list` shows it).
        id: i64,
    },
    /// Send a test message to a channel (by id) now.
    Test {
        /// The channel's id (as `custos notify channel list` shows it).
        id: i64,
    },
}

pub(crate) async fn run_notify(
    app: &App,
    actor: &Actor,
    cmd: &NotifyCommand,
    json: bool,
) -> Result<(), Failure> {
    let NotifyCommand::Channel { command } = cmd;
    match command {
        ChannelCommand::Add {
            name,
            provider,
            url,
            secret_file,
            kinds,
            departments,
        } => {
            let secret = match secret_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?
                        .trim()
                        .to_string(),
                ),
                None => None,
            };
            let input = NewChannel {
                name: name.clone(),
                provider: *provider,
                url: url.clone(),
                secret,
                kinds: kinds.clone(),
                departments: departments.clone(),
            };
            let v = app.create_notification_channel(actor, input).await?;
            if json {
                print_json(&v);
            } else {
                outln!("added channel {} (id {}, {})", v.name, v.id, v.url_masked);
            }
        }
        ChannelCommand::List => {
            let all = app.list_notification_channels(actor).await?;
            if json {
                print_json(&all);
                return Ok(());
            }
            let mut t = Table::new();
            t.set_header([
                "id",
                "name",
                "provider",
                "url",
                "kinds",
                "departments",
                "pending/sent/failed",
            ]);
            for c in all {
                let kinds: Vec<&str> = c.kinds.iter().map(|k| k.as_str()).collect();
                let depts: Vec<String> = c.departments.iter().map(i64::to_string).collect();
                t.add_row([
                    c.id.to_string(),
                    c.name,
                    c.provider.as_str().to_string(),
                    c.url_masked,
                    kinds.join(","),
                    if depts.is_empty() {
                        "all".to_string()
                    } else {
                        depts.join(",")
                    },
                    format!(
                        "{}/{}/{}",
                        c.deliveries.pending, c.deliveries.sent, c.deliveries.failed
                    ),
                ]);
            }
            outln!("{t}");
        }
        ChannelCommand::Remove { id } => {
            app.remove_notification_channel(actor, *id).await?;
            outln!("removed channel {id}");
        }
        ChannelCommand::Test { id } => {
            let out = app.outbound_client()?;
            let r = app.test_notification_channel(actor, *id, &out).await?;
            if json {
                print_json(&r);
            } else if r.ok {
                outln!("channel {id}: delivered ({} ms)", r.elapsed_ms);
            } else {
                return Err(Failure(format!(
                    "channel {id}: not delivered: {}",
                    r.error.unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}
